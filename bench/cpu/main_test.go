package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The loop is built at another commit with its own package and the internal packages
// it imports copied over that commit's tree: whatever internal package one of them
// imports must be in the overlay too. (The stores' own internal packages come with
// the stores.)
func TestOverlayHoldsWhatTheLoopImports(t *testing.T) {
	const module = "github.com/clerksync/clerksync/"
	for _, dir := range overlay {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, module+dir).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", dir, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			imp, ok := strings.CutPrefix(pkg, module)
			if ok && (strings.HasPrefix(imp, "internal/") || strings.HasPrefix(imp, "bench/")) && !slices.Contains(overlay, imp) {
				t.Errorf("%s imports %s, which is not in the overlay", dir, imp)
			}
		}
	}
}
