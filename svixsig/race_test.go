//go:build race

package svixsig_test

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = true
