package buildref_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clerksync/clerksync/internal/buildref"
)

// git runs git in the current directory, skipping t when this is not a git checkout
// with its history.
func git(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		t.Skipf("not a git checkout with its history (git %s: %v)", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// A program that did not exist at an old commit is built against that commit's tree
// with the overlay, and the temporary worktree is gone afterwards.
func TestBuildAtAnOldCommitWithOverlay(t *testing.T) {
	first := strings.Fields(git(t, "rev-list", "--max-parents=0", "HEAD"))[0]
	out := filepath.Join(t.TempDir(), "hello")
	commit, err := buildref.Build(context.Background(), first, "./internal/buildref/testdata/hello", out, "internal/buildref/testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, commit) {
		t.Errorf("Build returned commit %s, want an abbreviation of %s", commit, first)
	}
	got, err := exec.Command(out).Output()
	if err != nil {
		t.Fatalf("run the built program: %v", err)
	}
	if strings.TrimSpace(string(got)) != "hello from the overlay" {
		t.Errorf("the built program printed %q", got)
	}
	if list := git(t, "worktree", "list", "--porcelain"); strings.Contains(list, filepath.Join(os.TempDir(), "clerksync-ref-")) {
		t.Errorf("a temporary worktree is left:\n%s", list)
	}
}

func TestBuildFailsForAnUnknownRef(t *testing.T) {
	git(t, "rev-parse", "HEAD")
	_, err := buildref.Build(context.Background(), "no-such-branch-anywhere", "./cmd/clerksync", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "no-such-branch-anywhere") {
		t.Errorf("Build of an unknown ref: %v, want an error naming it", err)
	}
}
