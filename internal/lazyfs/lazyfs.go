// Package lazyfs is a FUSE file system for power-cut tests: it mirrors a backing
// directory, but keeps what is written to a file in memory until the file is fsynced,
// and Cut throws away everything not yet fsynced, as a power cut takes what the disk
// was not told to keep. After a Cut every operation fails with EIO; Unmount, then
// Mount again over the same backing directory, shows what survived.
//
// It follows SQLite's crash-test VFS and Jepsen's LazyFS: file data (writes, truncations,
// fallocate) waits for fsync or fdatasync of that file; closing a file does not sync it.
// Namespace operations (create, unlink, rename, mkdir) reach the backing directory at
// once, so they survive a Cut as if every directory were fsynced right after them:
// the file system loses data, never names. File locks are left to the kernel, which
// serves POSIX advisory locks between the processes of this machine.
//
// Hard links, symbolic links, device nodes and O_TMPFILE are not supported.
//
// Mounting needs /dev/fuse and either root (the mount system call) or fusermount3.
// The process that mounts must not map a file of the mount into memory (SQLite maps
// its -shm file): a page fault then waits for the FUSE server, which runs in the same
// process and may be waiting for the faulting goroutine to stop for the garbage
// collector. Run SQLite on the mount in another process, or read the backing files.
package lazyfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Stats counts what a mounted FS has seen.
type Stats struct {
	Writes       int64 // write requests
	Syncs        int64 // fsync and fdatasync requests on files
	DataSyncs    int64 // of Syncs, those that were fdatasync
	DroppedPages int64 // pages of unsynced writes that Cut threw away
}

// FS is a mounted lazy file system.
type FS struct {
	mountpoint, backing string
	server              *fuse.Server

	// life is held for reading by every operation that reads or changes files, and
	// for writing by Cut, so that an operation happens wholly before a Cut or fails.
	life sync.RWMutex
	dead bool

	filesMu sync.Mutex
	files   map[fileID]*lazyFile // by backing file, while it has a name
	all     []*lazyFile          // every lazyFile of the mount, closed by Unmount

	writes, syncs, dataSyncs, dropped atomic.Int64
}

// fileID names a backing file.
type fileID struct{ dev, ino uint64 }

// Mount mounts a lazy view of the directory backing on mountpoint, which must exist.
// It returns an error when FUSE is not available or the mount fails.
func Mount(mountpoint, backing string) (*FS, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("lazyfs: FUSE is not available: %w", err)
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory: %w", err)
	}
	lfs := &FS{mountpoint: mountpoint, backing: backing, files: map[fileID]*lazyFile{}}
	data := &fs.LoopbackRoot{Path: backing, Dev: st.Dev}
	root := &node{LoopbackNode: &fs.LoopbackNode{RootData: data}, fs: lfs}
	data.RootNode = root
	// The kernel asks again for every lookup and stat rather than cache answers for a
	// second: a file's length is the FS's to say (it includes unsynced writes), and a
	// test should see each of its answers.
	var never time.Duration
	server, err := fs.Mount(mountpoint, root, &fs.Options{
		EntryTimeout:    &never,
		AttrTimeout:     &never,
		NegativeTimeout: &never,
		MountOptions: fuse.MountOptions{
			FsName: backing,
			Name:   "lazyfs",
			// Mount with the system call when root, else through fusermount3.
			DirectMount: true,
			// Without extended attributes the kernel stops asking for
			// security.capability before every write.
			DisableXAttrs: true,
			// Let the kernel check permissions: the FS opens every backing file
			// for reading and writing.
			Options: []string{"default_permissions"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("lazyfs: mount %s: %w", mountpoint, err)
	}
	lfs.server = server
	return lfs, nil
}

// Mountpoint returns the directory the FS is mounted on.
func (lfs *FS) Mountpoint() string { return lfs.mountpoint }

// Stats returns what the FS has seen so far.
func (lfs *FS) Stats() Stats {
	return Stats{
		Writes: lfs.writes.Load(), Syncs: lfs.syncs.Load(), DataSyncs: lfs.dataSyncs.Load(),
		DroppedPages: lfs.dropped.Load(),
	}
}

// Cut cuts the power: every write not yet fsynced is thrown away, and every later
// operation on the FS fails with EIO. An operation under way finishes first, so an
// fsync either completed before the Cut or fails.
func (lfs *FS) Cut() {
	lfs.life.Lock()
	defer lfs.life.Unlock()
	if lfs.dead {
		return
	}
	lfs.dead = true
	lfs.filesMu.Lock()
	defer lfs.filesMu.Unlock()
	for _, lf := range lfs.all {
		lfs.dropped.Add(int64(lf.Drop()))
	}
}

// Unmount unmounts the FS; writes not yet fsynced are lost as by a Cut. It fails while
// a process still has a file of the FS open.
func (lfs *FS) Unmount() error {
	lfs.Cut()
	if err := lfs.server.Unmount(); err != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w", lfs.mountpoint, err)
	}
	lfs.filesMu.Lock()
	defer lfs.filesMu.Unlock()
	var err error
	for _, lf := range lfs.all {
		err = errors.Join(err, lf.Close())
	}
	lfs.all, lfs.files = nil, nil
	return err
}

// begin starts an operation; it returns EIO after a Cut. Call the returned function
// when the operation is done.
func (lfs *FS) begin() (done func(), errno syscall.Errno) {
	lfs.life.RLock()
	if lfs.dead {
		lfs.life.RUnlock()
		return nil, syscall.EIO
	}
	return lfs.life.RUnlock, 0
}

// file returns the lazyFile of the backing file at path, opening it on first use.
func (lfs *FS) file(path string) (*lazyFile, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, err
	}
	id := fileID{uint64(st.Dev), st.Ino}
	lfs.filesMu.Lock()
	defer lfs.filesMu.Unlock()
	if lf := lfs.files[id]; lf != nil {
		return lf, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || (fileID{uint64(st.Dev), st.Ino}) != id {
		f.Close()
		return nil, syscall.ESTALE // replaced meanwhile
	}
	lf, err := openLazyFile(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	lfs.files[id] = lf
	lfs.all = append(lfs.all, lf)
	return lf, nil
}

// known returns the lazyFile of the backing file at path if it has one, else nil.
func (lfs *FS) known(path string) *lazyFile {
	id, ok := idOf(path)
	if !ok {
		return nil
	}
	lfs.filesMu.Lock()
	defer lfs.filesMu.Unlock()
	return lfs.files[id]
}

// idOf returns the id of the backing file at path, or false when there is none.
func idOf(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

// unlinked forgets the lazyFile of a backing file that lost a name, when that was its
// last name: its inode number may then be given to a new file. Its writes stay
// readable through the handles still open on it.
func (lfs *FS) unlinked(id fileID) {
	lfs.filesMu.Lock()
	defer lfs.filesMu.Unlock()
	lf := lfs.files[id]
	if lf == nil {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(lf.f.Fd()), &st); err == nil && st.Nlink == 0 {
		delete(lfs.files, id)
	}
}
