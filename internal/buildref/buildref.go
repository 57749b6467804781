// Package buildref builds a program of this repository as it was at another git
// commit, so that the benchmarks can measure two versions side by side in one run: the
// commit is checked out into a temporary git worktree, built, and the worktree removed.
package buildref

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build checks ref (a branch, tag or commit) out into a temporary worktree of the
// repository in the current directory, copies the directories in overlay (paths
// relative to the repository's root) from the current tree over the checkout, runs
// `go build -trimpath -o out pkg` there, and removes the worktree. overlay lets a
// measuring program that did not exist at ref be built against ref's code. Build
// returns ref's commit, abbreviated, for labels; it fails when ref is not a commit of
// the repository or the build fails.
func Build(ctx context.Context, ref, pkg, out string, overlay ...string) (string, error) {
	commit, err := git(ctx, "", "rev-parse", "--short", "--verify", ref+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%q is not a commit of this repository: %w", ref, err)
	}
	root, err := git(ctx, "", "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("find the repository's root: %w", err)
	}
	tmp, err := os.MkdirTemp("", "clerksync-ref-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	wt := filepath.Join(tmp, "tree")
	if _, err := git(ctx, "", "worktree", "add", "--detach", wt, commit); err != nil {
		return "", fmt.Errorf("check out %s: %w", ref, err)
	}
	defer func() {
		if _, err := git(context.WithoutCancel(ctx), "", "worktree", "remove", "--force", wt); err != nil {
			fmt.Fprintf(os.Stderr, "buildref: remove the worktree of %s (run git worktree prune): %v\n", ref, err)
		}
	}()
	for _, dir := range overlay {
		dst := filepath.Join(wt, dir)
		if err := os.RemoveAll(dst); err != nil {
			return "", err
		}
		if err := os.CopyFS(dst, os.DirFS(filepath.Join(root, dir))); err != nil {
			return "", fmt.Errorf("copy %s into the checkout of %s: %w", dir, ref, err)
		}
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", abs, pkg)
	cmd.Dir = wt
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s at %s: %w\n%s", pkg, ref, err, b)
	}
	return commit, nil
}

// git runs git in dir (the current directory when empty) and returns its output,
// trimmed.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", errors.New(msg)
		}
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
