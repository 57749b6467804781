package clerkfake

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"time"
)

// Clerk ids are a prefix (user_, idn_, ins_, ...) followed by a KSUID: 4 bytes of
// seconds since the KSUID epoch and 16 random bytes, written as 27 base62 digits.
// They sort by creation time, which the fake relies on to break created_at ties the
// way Clerk's own ordering does.
const (
	ksuidEpoch  = 1400000000 // 2014-05-13T16:53:20Z
	ksuidLength = 27
	base62      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// newID returns prefix followed by a KSUID for time t with a payload drawn from rng.
func newID(prefix string, t time.Time, rng *rand.Rand) string {
	var raw [20]byte
	secs := t.Unix() - ksuidEpoch
	if secs < 0 {
		secs = 0
	}
	binary.BigEndian.PutUint32(raw[:4], uint32(secs))
	binary.BigEndian.PutUint64(raw[4:12], rng.Uint64())
	binary.BigEndian.PutUint64(raw[12:20], rng.Uint64())
	return prefix + encodeBase62(raw)
}

// encodeBase62 writes the 160-bit big-endian number raw as 27 base62 digits.
func encodeBase62(raw [20]byte) string {
	// Long division by 62 of the number held as five 32-bit limbs, one base62
	// digit at a time, least significant digit first.
	var limbs [5]uint32
	for i := range limbs {
		limbs[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	var out [ksuidLength]byte
	for i := ksuidLength - 1; i >= 0; i-- {
		var rem uint64
		for j := range limbs {
			acc := rem<<32 | uint64(limbs[j])
			limbs[j] = uint32(acc / 62)
			rem = acc % 62
		}
		out[i] = base62[rem]
	}
	return string(out[:])
}

// NewUserID returns a new random Clerk user id of the form user_ followed by 27
// base62 characters, sortable by creation time like Clerk's own.
func NewUserID() string {
	return newID("user_", time.Now(), newRand(0))
}

// newRand returns a generator seeded with seed, or a randomly seeded one when seed
// is 0.
func newRand(seed uint64) *rand.Rand {
	if seed == 0 {
		seed = rand.Uint64()
	}
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// NewID returns a new random Clerk id of the form prefix (org_, orgmem_, orginv_,
// role_, perm_, sess_, …) followed by 27 base62 characters, for time t.
func NewID(prefix string, t time.Time) string {
	return newID(prefix, t, newRand(0))
}

// SeededID returns the Clerk id with prefix for time t whose random part is fixed by
// seed: the same seed gives the same id.
func SeededID(prefix string, t time.Time, seed uint64) string {
	return newID(prefix, t, newRand(seed|1))
}

// IDTime returns the creation time a Clerk id carries (its KSUID's seconds), or false
// when id is not a prefix and 27 base62 characters.
func IDTime(id string) (time.Time, bool) {
	i := len(id) - ksuidLength
	if i < 1 || id[i-1] != '_' {
		return time.Time{}, false
	}
	var limbs [5]uint32 // the 160-bit number, most significant limb first
	for _, c := range []byte(id[i:]) {
		d := strings.IndexByte(base62, c)
		if d < 0 {
			return time.Time{}, false
		}
		carry := uint64(d)
		for j := len(limbs) - 1; j >= 0; j-- {
			acc := uint64(limbs[j])*62 + carry
			limbs[j], carry = uint32(acc), acc>>32
		}
		if carry != 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(int64(limbs[0])+ksuidEpoch, 0).UTC(), true
}
