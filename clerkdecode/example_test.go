package clerkdecode_test

import (
	"fmt"

	"github.com/clerksync/clerksync/clerkdecode"
)

func ExampleChangeFromEvent() {
	body := []byte(`{"type":"user.updated","timestamp":1716883500,"data":{"object":"user","id":"user_123",` +
		`"first_name":"Test","last_name":"User","private_metadata":{"plan":"secret"},"updated_at":1716883500000}}`)

	c := clerkdecode.ChangeFromEvent("msg_1", body, clerkdecode.Options{})
	fmt.Println(c.Op, c.UserID, c.EventTime, c.Profile().Name())
	fmt.Println(string(c.Profile().Raw))
	fmt.Println(string(c.Profile().PublicMetadata))
	// Output:
	// upsert user_123 1716883500000 Test User
	// {"object":"user","id":"user_123","first_name":"Test","last_name":"User","updated_at":1716883500000}
	// {}
}

func ExampleCutKey() {
	out, err := clerkdecode.CutKey([]byte(`{"id":"user_123", "private_metadata": {"a": "}"}, "banned":false}`), "private_metadata")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"id":"user_123", "banned":false}
}
