package lazyfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or directory of the mount. It inherits the namespace operations of
// go-fuse's loopback node and serves file data from a lazyFile instead of the
// backing file. Files are opened without a handle of their own: a loopback handle
// would let the kernel pass reads and writes straight to the backing file.
type node struct {
	*fs.LoopbackNode
	fs *FS
	lf atomic.Pointer[lazyFile] // the file's data, once resolved
}

var (
	_ fs.NodeWrapChilder = (*node)(nil)
	_ fs.NodeLookuper    = (*node)(nil)
	_ fs.NodeOpener      = (*node)(nil)
	_ fs.NodeCreater     = (*node)(nil)
	_ fs.NodeTmpfiler    = (*node)(nil)
	_ fs.NodeGetattrer   = (*node)(nil)
	_ fs.NodeStatxer     = (*node)(nil)
	_ fs.NodeSetattrer   = (*node)(nil)
	_ fs.NodeReader      = (*node)(nil)
	_ fs.NodeWriter      = (*node)(nil)
	_ fs.NodeWritever    = (*node)(nil)
	_ fs.NodeFsyncer     = (*node)(nil)
	_ fs.NodeAllocater   = (*node)(nil)
	_ fs.NodeLseeker     = (*node)(nil)
	_ fs.NodeUnlinker    = (*node)(nil)
	_ fs.NodeRenamer     = (*node)(nil)
)

// WrapChild makes every node of the tree a lazy one.
func (n *node) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), fs: n.fs}
}

func (n *node) backingPath() string { return filepath.Join(n.fs.backing, n.Path(nil)) }

func (n *node) regular() bool { return n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFREG }

// lazy returns the data of the file.
func (n *node) lazy() (*lazyFile, syscall.Errno) {
	if lf := n.lf.Load(); lf != nil {
		return lf, 0
	}
	lf, err := n.fs.file(n.backingPath())
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	n.lf.Store(lf)
	return lf, 0
}

// Lookup finds a name in the backing directory and reports the file's unsynced
// length: the kernel takes a file's size from the lookup too.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno != 0 || out.Attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return ch, errno
	}
	if lf := n.fs.known(filepath.Join(n.backingPath(), name)); lf != nil {
		out.Attr.Size = uint64(lf.Size())
	}
	return ch, 0
}

// Open opens a file; O_TRUNC truncates the file's data, not the backing file.
func (n *node) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	done, errno := n.fs.begin()
	if errno != 0 {
		return nil, 0, errno
	}
	defer done()
	if !n.regular() {
		return nil, 0, syscall.EINVAL
	}
	lf, errno := n.lazy()
	if errno != 0 {
		return nil, 0, errno
	}
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		lf.Truncate(0)
	}
	return nil, 0, 0
}

// Create creates an empty backing file at once (names are never lost) and opens it.
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	done, errno := n.fs.begin()
	if errno != 0 {
		return nil, nil, 0, errno
	}
	defer done()
	ch, fh, _, errno := n.LoopbackNode.Create(ctx, name, flags&^syscall.O_TRUNC, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if r, ok := fh.(fs.FileReleaser); ok {
		_ = r.Release(ctx)
	}
	// The child is not in the tree yet, so it has no path of its own.
	lf, err := n.fs.file(filepath.Join(n.backingPath(), name))
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	ch.Operations().(*node).lf.Store(lf)
	if flags&syscall.O_TRUNC != 0 {
		lf.Truncate(0)
	}
	out.Size = uint64(lf.Size())
	return ch, nil, 0, 0
}

// Tmpfile is not supported: an unnamed file has no backing path to resolve.
func (n *node) Tmpfile(context.Context, uint32, uint32, *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// Getattr reports the backing file's attributes with the file's unsynced length.
func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return n.unsyncedSize(n.LoopbackNode.Getattr(ctx, f, out), &out.Size)
}

// Statx is Getattr for statx(2).
func (n *node) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	return n.unsyncedSize(n.LoopbackNode.Statx(ctx, f, flags, mask, out), &out.Size)
}

// unsyncedSize sets *size, read from the backing file with errno, to the file's
// unsynced length when the node is a regular file.
func (n *node) unsyncedSize(errno syscall.Errno, size *uint64) syscall.Errno {
	if errno != 0 || !n.regular() {
		return errno
	}
	lf, errno := n.lazy()
	if errno != 0 {
		return errno
	}
	*size = uint64(lf.Size())
	return 0
}

// Setattr truncates the file's data, not the backing file; modes, owners and times
// reach the backing file at once.
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	done, errno := n.fs.begin()
	if errno != 0 {
		return errno
	}
	defer done()
	if size, ok := in.GetSize(); ok && n.regular() {
		lf, errno := n.lazy()
		if errno != 0 {
			return errno
		}
		lf.Truncate(int64(size))
		in.Valid &^= fuse.FATTR_SIZE
	}
	if errno := n.LoopbackNode.Setattr(ctx, f, in, out); errno != 0 || !n.regular() {
		return errno
	}
	lf, errno := n.lazy()
	if errno != 0 {
		return errno
	}
	out.Size = uint64(lf.Size())
	return 0
}

// Read reads the file's data, unsynced writes included.
func (n *node) Read(_ context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	done, errno := n.fs.begin()
	if errno != 0 {
		return nil, errno
	}
	defer done()
	lf, errno := n.lazy()
	if errno != 0 {
		return nil, errno
	}
	k, err := lf.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// Write keeps data in memory until the file is fsynced.
func (n *node) Write(_ context.Context, _ fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	done, errno := n.fs.begin()
	if errno != 0 {
		return 0, errno
	}
	defer done()
	lf, errno := n.lazy()
	if errno != 0 {
		return 0, errno
	}
	n.fs.writes.Add(1)
	if err := lf.WriteAt(data, off); err != nil {
		return 0, syscall.EIO
	}
	return uint32(len(data)), 0
}

// Writev is Write for data in pieces.
func (n *node) Writev(ctx context.Context, f fs.FileHandle, data [][]byte, off int64) (uint32, syscall.Errno) {
	var total uint32
	for _, d := range data {
		k, errno := n.Write(ctx, f, d, off+int64(total))
		total += k
		if errno != 0 {
			return total, errno
		}
	}
	return total, 0
}

// Fsync writes the file's unsynced data to the backing file and fsyncs it; on a
// directory it fsyncs the backing directory.
func (n *node) Fsync(_ context.Context, _ fs.FileHandle, flags uint32) syscall.Errno {
	done, errno := n.fs.begin()
	if errno != 0 {
		return errno
	}
	defer done()
	if !n.regular() {
		d, err := os.Open(n.backingPath())
		if err != nil {
			return fs.ToErrno(err)
		}
		defer d.Close()
		return fs.ToErrno(d.Sync())
	}
	lf, errno := n.lazy()
	if errno != 0 {
		return errno
	}
	n.fs.syncs.Add(1)
	const fdatasync = 1 // FUSE_FSYNC_FDATASYNC
	if flags&fdatasync != 0 {
		n.fs.dataSyncs.Add(1)
	}
	if err := lf.Sync(); err != nil {
		return syscall.EIO
	}
	return 0
}

// Allocate grows the file (mode 0) or does nothing (FALLOC_FL_KEEP_SIZE): its data is
// in memory. Punching holes is not supported.
func (n *node) Allocate(_ context.Context, _ fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	done, errno := n.fs.begin()
	if errno != 0 {
		return errno
	}
	defer done()
	lf, errno := n.lazy()
	if errno != 0 {
		return errno
	}
	switch mode {
	case 0:
		if end := int64(off + size); end > lf.Size() {
			lf.Truncate(end)
		}
		return 0
	case 1: // FALLOC_FL_KEEP_SIZE
		return 0
	}
	return syscall.EOPNOTSUPP
}

// Lseek answers SEEK_DATA and SEEK_HOLE as for a file without holes.
func (n *node) Lseek(_ context.Context, _ fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	lf, errno := n.lazy()
	if errno != 0 {
		return 0, errno
	}
	size := uint64(lf.Size())
	if off >= size {
		return 0, syscall.ENXIO
	}
	const seekData, seekHole = 3, 4
	switch whence {
	case seekData:
		return off, 0
	case seekHole:
		return size, 0
	}
	return 0, syscall.EINVAL
}

// CopyFileRange is not supported, so that the kernel copies through Read and Write.
func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

// Unlink removes a name from the backing directory at once.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	done, errno := n.fs.begin()
	if errno != 0 {
		return errno
	}
	defer done()
	id, ok := idOf(filepath.Join(n.backingPath(), name))
	errno = n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 && ok {
		n.fs.unlinked(id)
	}
	return errno
}

// Rename renames in the backing directory at once.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	done, errno := n.fs.begin()
	if errno != 0 {
		return errno
	}
	defer done()
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	id, replaced := idOf(filepath.Join(np.backingPath(), newName))
	errno = n.LoopbackNode.Rename(ctx, name, np, newName, flags)
	if errno == 0 && replaced {
		n.fs.unlinked(id)
	}
	return errno
}

// Mkdir creates a directory in the backing directory at once.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	done, errno := n.fs.begin()
	if errno != 0 {
		return nil, errno
	}
	defer done()
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

// Rmdir removes a directory from the backing directory at once.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	done, errno := n.fs.begin()
	if errno != 0 {
		return errno
	}
	defer done()
	return n.LoopbackNode.Rmdir(ctx, name)
}

// Link, Symlink and Mknod are not supported: SQLite needs none of them, and each
// would need the care Unlink and Rename take.
func (n *node) Link(context.Context, fs.InodeEmbedder, string, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Symlink is not supported (see Link).
func (n *node) Symlink(context.Context, string, string, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Mknod is not supported (see Link).
func (n *node) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}
