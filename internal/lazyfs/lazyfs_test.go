package lazyfs_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite"

	"github.com/clerksync/clerksync/internal/lazyfs"
)

// disk is a backing directory and a mount of it that the test can cut and remount.
type disk struct {
	tb           testing.TB
	backing, mnt string
	fs           *lazyfs.FS
}

func newDisk(tb testing.TB) *disk {
	tb.Helper()
	d := &disk{tb: tb, backing: tb.TempDir(), mnt: tb.TempDir()}
	d.fs = lazyfs.MountOrSkip(tb, d.mnt, d.backing)
	return d
}

// path returns the path of name on the mount.
func (d *disk) path(name string) string { return filepath.Join(d.mnt, name) }

// cut cuts the power, unmounts and mounts the backing directory again.
func (d *disk) cut() {
	d.tb.Helper()
	d.fs.Cut()
	if err := d.fs.Unmount(); err != nil {
		d.tb.Fatal(err)
	}
	d.fs = lazyfs.MountOrSkip(d.tb, d.mnt, d.backing)
}

func writeFile(tb testing.TB, path string, data []byte, sync bool) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		tb.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCut_LosesUnsyncedWritesKeepsSyncedOnes(t *testing.T) {
	d := newDisk(t)
	synced := bytes.Repeat([]byte("synced "), 3000) // spans several pages
	writeFile(t, d.path("synced"), synced, true)
	writeFile(t, d.path("unsynced"), []byte("lost at the cut"), false)
	if got := readFile(t, d.path("unsynced")); string(got) != "lost at the cut" {
		t.Fatalf("before the cut, unsynced reads %q", got)
	}
	if st, err := os.Stat(d.path("unsynced")); err != nil || st.Size() != int64(len("lost at the cut")) {
		t.Fatalf("before the cut, stat of unsynced: %v (%v), want its unsynced length", st, err)
	}
	if got, err := os.ReadFile(filepath.Join(d.backing, "unsynced")); err != nil || len(got) != 0 {
		t.Fatalf("the backing file holds %q (%v) before any fsync, want nothing", got, err)
	}

	d.fs.Cut()
	if _, err := os.ReadFile(d.path("synced")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read after the cut: %v, want EIO", err)
	}
	if err := os.WriteFile(d.path("new"), []byte("x"), 0o644); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write after the cut: %v, want EIO", err)
	}
	d.cut()

	if got := readFile(t, d.path("synced")); !bytes.Equal(got, synced) {
		t.Fatalf("synced file after the cut: %d bytes, want %d", len(got), len(synced))
	}
	if got := readFile(t, d.path("unsynced")); len(got) != 0 {
		t.Fatalf("unsynced file after the cut reads %q, want it empty (the name survives, the data does not)", got)
	}
	if _, err := os.Stat(d.path("new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file created after the cut exists: %v", err)
	}
}

func TestCut_OverwriteAndTruncate(t *testing.T) {
	d := newDisk(t)
	base := bytes.Repeat([]byte{'a'}, 10000)
	writeFile(t, d.path("f"), base, true)

	f, err := os.OpenFile(d.path("f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("bbbb"), 4094); err != nil { // across a page boundary
		t.Fatal(err)
	}
	if err := f.Truncate(5000); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(9000); err != nil { // grown again: zeros from 5000
		t.Fatal(err)
	}
	want := append(bytes.Repeat([]byte{'a'}, 4094), "bbbb"...)
	want = append(want, bytes.Repeat([]byte{'a'}, 5000-len(want))...)
	want = append(want, make([]byte, 4000)...)
	if got := readFile(t, d.path("f")); !bytes.Equal(got, want) {
		t.Fatalf("before the cut: read %d bytes, not the overwritten and truncated file", len(got))
	}
	f.Close()

	d.cut()
	if got := readFile(t, d.path("f")); !bytes.Equal(got, base) {
		t.Fatalf("after the cut: %d bytes, want the synced 10000 a's", len(got))
	}

	// The same changes, fsynced, survive.
	f, err = os.OpenFile(d.path("f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("bbbb"), 4094); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(5000); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(9000); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d.cut()
	if got := readFile(t, d.path("f")); !bytes.Equal(got, want) {
		t.Fatalf("after fdatasync and a cut: %d bytes, not the overwritten and truncated file", len(got))
	}
	if st := d.fs.Stats(); st.Syncs != 0 {
		t.Fatalf("a fresh mount counts %d syncs", st.Syncs)
	}
}

func TestCut_RenameAndUnlinkKeepNames(t *testing.T) {
	d := newDisk(t)
	writeFile(t, d.path("old"), []byte("moved"), true)
	if err := os.Rename(d.path("old"), d.path("new")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("target"), []byte("replaced"), true)
	writeFile(t, d.path("source"), []byte("replacement"), true)
	if err := os.Rename(d.path("source"), d.path("target")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("gone"), []byte("removed"), true)
	if err := os.Remove(d.path("gone")); err != nil {
		t.Fatal(err)
	}
	// A file unlinked with unsynced data, then a new file of the same name: the new
	// one must not see the old one's pages, even if it gets its inode number.
	writeFile(t, d.path("reused"), []byte("old unsynced data"), false)
	if err := os.Remove(d.path("reused")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, d.path("reused"), nil, false)
	if got := readFile(t, d.path("reused")); len(got) != 0 {
		t.Fatalf("a new file reads %q left by an unlinked one", got)
	}

	d.cut()
	for name, want := range map[string]string{"new": "moved", "target": "replacement", "reused": ""} {
		if got := readFile(t, d.path(name)); string(got) != want {
			t.Errorf("%s after the cut: %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"old", "source", "gone"} {
		if _, err := os.Stat(d.path(name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the cut: %v, want it gone", name, err)
		}
	}
}

// TestLocks checks that POSIX advisory locks, which SQLite relies on, are enforced on
// the mount: open file description locks conflict between two opens of one file.
func TestLocks(t *testing.T) {
	d := newDisk(t)
	writeFile(t, d.path("locked"), []byte("x"), true)
	open := func() *os.File {
		f, err := os.OpenFile(d.path("locked"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Start: 0, Len: 1}
	if err := unix.FcntlFlock(a.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatalf("first lock: %v", err)
	}
	if err := unix.FcntlFlock(b.Fd(), unix.F_OFD_SETLK, &lk); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("a second write lock on a locked byte: %v, want EAGAIN", err)
	}
	lk.Type = unix.F_UNLCK
	if err := unix.FcntlFlock(a.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	lk.Type = unix.F_WRLCK
	if err := unix.FcntlFlock(b.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatalf("lock after the unlock: %v", err)
	}
}

// sqliteChildEnv runs the test binary as a SQLite program on the mount (see
// sqliteChild): SQLite maps its -shm file into memory, and a process must not touch a
// FUSE mapping it serves itself (a page fault waits for the FUSE server, whose
// goroutines may wait for the faulting one to stop for the garbage collector).
const sqliteChildEnv = "LAZYFS_TEST_SQLITE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(sqliteChildEnv); spec != "" {
		os.Exit(sqliteChild(spec))
	}
	os.Exit(m.Run())
}

// sqliteChild runs "write:PATH" or "check:PATH". write creates a table in WAL mode,
// commits 100 rows with synchronous=FULL and 100 more with synchronous=OFF, says
// "ready" and waits, its files open, until its standard input closes. check prints
// PRAGMA integrity_check and the number of rows.
func sqliteChild(spec string) int {
	mode, path, _ := strings.Cut(spec, ":")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(1000)")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection, so that the PRAGMAs apply to every statement
	ctx := context.Background()
	switch mode {
	case "write":
		stmts := []string{"CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)", "PRAGMA synchronous = FULL"}
		for i := range 100 {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO t VALUES (%d, '%s')", i, strings.Repeat("v", 500)))
		}
		stmts = append(stmts, "PRAGMA synchronous = OFF")
		for i := 100; i < 200; i++ {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO t VALUES (%d, 'unsynced')", i))
		}
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", q, err)
				return 1
			}
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "check":
		var check string
		var n int
		if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(check, n)
	}
	return 0
}

// TestSQLite runs SQLite in WAL mode on the mount, in another process: commits made
// with synchronous=FULL survive a cut, later ones made with synchronous=OFF do not,
// and the database is intact and opens again on the new mount.
func TestSQLite(t *testing.T) {
	d := newDisk(t)
	path := d.path("t.db")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), sqliteChildEnv+"=write:"+path)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		child.Process.Kill()
		child.Wait()
		t.Fatalf("the SQLite writer said %q\n%s", line, stderr.String())
	}
	if st := d.fs.Stats(); st.Syncs == 0 || st.Writes == 0 {
		t.Fatalf("SQLite's writes and fsyncs did not reach the file system: %+v", st)
	}
	d.fs.Cut()
	child.Process.Kill()
	child.Wait()
	stdin.Close()
	d.cut()

	check := exec.Command(os.Args[0], "-test.run=^$")
	check.Env = append(os.Environ(), sqliteChildEnv+"=check:"+path)
	got, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, got)
	}
	if string(got) != "ok 100\n" {
		t.Fatalf("after the cut, integrity_check and rows: %q, want \"ok 100\" (the rows committed with synchronous=FULL)", got)
	}
}
