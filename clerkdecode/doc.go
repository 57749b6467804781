// Package clerkdecode turns what Clerk sends into clerksync's domain values: the body
// of a verified webhook into a clerksync.Change, a Clerk user object (from a webhook or
// from the Backend API) into a clerksync.Profile.
//
// Decoding is lenient where Clerk's payloads vary (unknown members, null or {}
// metadata, missing arrays, verification without object, legacy keys, timestamps in
// seconds or milliseconds) and strict where a change would otherwise go wrong (a body
// that is not JSON, a user without id or updated_at, a member of the wrong type). It
// runs on every delivery, so it reads only the members a profile needs, in one pass,
// and keeps what it stores (the event body, the user object) as sub-slices of the
// payload rather than decoding and encoding it again.
//
// Private metadata is stored only when the operator opts in (Options): otherwise the
// private_metadata member is cut out of the bytes that are kept, dead letters included.
//
// No user can be frozen by what the user controls. Whatever an authentic event
// carries that one store cannot keep as given is changed here, the same way for every
// store, so that the user is applied, and every later update of theirs too: a
// metadata document nested deeper than MaxMetadataDepth (100) levels is kept as {}, in
// its column and in the user object alike, and the NUL character, which PostgreSQL
// refuses, becomes U+FFFD. What no store can take (a body that is not JSON, or nested
// deeper than 10,000 levels) is a dead letter on every store.
package clerkdecode
