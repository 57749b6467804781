package clerkdecode

import (
	"bytes"
	"slices"
)

// nulReplacement is what the NUL character becomes in what is kept of a user. NUL is
// valid JSON (\u0000), and SQLite keeps it, but PostgreSQL refuses it in text and in
// jsonb: a user whose unsafe_metadata (written from the browser) or name held one
// would be applied on one store and a dead letter on the other, every later update
// of theirs included. So, as for metadata nested too deeply (MaxMetadataDepth), the
// user is changed the same way for both stores: every \u0000 of the user object
// becomes \ufffd, of the same length, and every NUL of a column U+FFFD.
const nulReplacement = "\uFFFD"

// markNULs inserts into cuts, which are ordered, an empty span at each offset of nuls
// that no cut removes. An empty span cuts nothing, but a buffer with cuts is a copy of
// the payload, which replaceNULs may then write into.
func markNULs(cuts []span, nuls []int) []span {
	for _, off := range nuls {
		if inCut(cuts, off) {
			continue
		}
		i, _ := slices.BinarySearchFunc(cuts, off, func(c span, off int) int { return c.start - off })
		cuts = slices.Insert(cuts, i, span{off, off})
	}
	return cuts
}

// replaceNULs replaces, in buf (the payload with cuts cut out, a copy) and in the
// decoded fields, the NULs whose \u0000 escapes are at the payload offsets nuls.
func replaceNULs(buf []byte, cuts []span, nuls []int, fields [][]byte) {
	for _, off := range nuls {
		if inCut(cuts, off) {
			continue
		}
		p := remap(cuts, off)
		copy(buf[p+2:p+6], "fffd")
	}
	for i, f := range fields {
		if bytes.IndexByte(f, 0) >= 0 {
			fields[i] = bytes.ReplaceAll(f, []byte{0}, []byte(nulReplacement))
		}
	}
}

// inCut reports whether a non-empty cut removes the byte at off.
func inCut(cuts []span, off int) bool {
	for _, c := range cuts {
		if c.start <= off && off < c.end {
			return true
		}
	}
	return false
}
