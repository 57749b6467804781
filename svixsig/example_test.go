package svixsig_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/clerksync/clerksync/svixsig"
)

func ExampleVerifier_Verify() {
	// The delivery of the Standard Webhooks specification's example, verified with a
	// clock set to when it was sent.
	sent := time.Unix(1614265330, 0)
	v, err := svixsig.NewVerifier(
		[]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		svixsig.WithClock(func() time.Time { return sent.Add(time.Minute) }),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	h := http.Header{}
	h.Set("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("svix-timestamp", "1614265330")
	h.Set("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	msg, err := v.Verify(h, []byte(`{"test": 2432232314}`))
	fmt.Println(msg.ID, msg.Timestamp.Format(time.RFC3339), err)

	_, err = v.Verify(h, []byte(`{"test": 2432232315}`))
	fmt.Println(err, svixsig.IsBadRequest(err))

	h.Del("svix-timestamp")
	_, err = v.Verify(h, nil)
	fmt.Println(svixsig.IsBadRequest(err))
	// Output:
	// msg_p5jXN8AQM9LWM0D4loKWxJek 2021-02-25T15:02:10Z <nil>
	// svixsig: no matching signature false
	// true
}

func ExampleSign() {
	key, err := svixsig.DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(svixsig.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`)))
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleNewVerifier_invalidSecret() {
	_, err := svixsig.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64"})
	fmt.Println(err)
	// Output: new verifier: webhook signing secret #2 is not valid base64 after the whsec_ prefix: copy the Signing Secret from the Clerk Dashboard → Webhooks → your endpoint → Signing Secret; it starts with whsec_
}
