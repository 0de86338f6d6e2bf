package ggate

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// These tests call the FUSE node directly, without mounting anything.

func newTestFuseDisk(t *testing.T, dev Device) *fuseDisk {
	return &fuseDisk{dev: dev, size: dev.Size(), blksize: 4096, gate: &deviceGate{}, log: testLogger(t)}
}

func TestFuseDiskAttributes(t *testing.T) {
	d := newTestFuseDisk(t, NewMemDevice(1<<20))
	ctx := context.Background()
	var out fuse.AttrOut
	if errno := d.Getattr(ctx, nil, &out); errno != 0 {
		t.Fatalf("Getattr: %v", errno)
	}
	if out.Mode != syscall.S_IFREG|0o600 || out.Size != 1<<20 || out.Blksize != 4096 || out.Blocks != 2048 {
		t.Errorf("Getattr = mode %o size %d blksize %d blocks %d", out.Mode, out.Size, out.Blksize, out.Blocks)
	}
	in := &fuse.SetAttrIn{}
	in.Valid = fuse.FATTR_SIZE
	in.Size = 4096
	if errno := d.Setattr(ctx, nil, in, &out); errno != syscall.EPERM {
		t.Errorf("Setattr(size 4096) = %v, want EPERM", errno)
	}
	in.Size = 1 << 20
	if errno := d.Setattr(ctx, nil, in, &out); errno != 0 || out.Size != 1<<20 {
		t.Errorf("Setattr(same size) = %v, size %d", errno, out.Size)
	}
	if _, flags, errno := d.Open(ctx, syscall.O_RDWR); errno != 0 || flags&fuse.FOPEN_DIRECT_IO == 0 {
		t.Errorf("Open = flags %#x, %v; want FOPEN_DIRECT_IO", flags, errno)
	}
}

func TestFuseDiskReadWrite(t *testing.T) {
	dev := newRecDevice(1 << 20)
	d := newTestFuseDisk(t, dev)
	ctx := context.Background()
	if n, errno := d.Write(ctx, nil, []byte("hello"), 4096); errno != 0 || n != 5 {
		t.Fatalf("Write = %d, %v", n, errno)
	}
	res, errno := d.Read(ctx, nil, make([]byte, 5), 4096)
	if errno != 0 {
		t.Fatalf("Read: %v", errno)
	}
	if got, _ := res.Bytes(nil); string(got) != "hello" {
		t.Errorf("Read = %q, want hello", got)
	}
	dev.mem.WriteAt([]byte("zz"), 1<<20-2)
	res, errno = d.Read(ctx, nil, make([]byte, 10), 1<<20-2)
	if got, _ := res.Bytes(nil); errno != 0 || string(got) != "zz" {
		t.Errorf("Read across the end = %q, %v; want zz", got, errno)
	}
	res, errno = d.Read(ctx, nil, make([]byte, 10), 1<<20)
	if got, _ := res.Bytes(nil); errno != 0 || len(got) != 0 {
		t.Errorf("Read at the end = %q, %v; want nothing", got, errno)
	}
	writes := dev.writes.Load()
	if _, errno := d.Write(ctx, nil, []byte("abc"), 1<<20-2); errno != syscall.ENOSPC {
		t.Errorf("Write across the end = %v, want ENOSPC", errno)
	}
	if dev.writes.Load() != writes {
		t.Error("a write across the end reached the device")
	}
	if d.Fsync(ctx, nil, 0) != 0 || d.Flush(ctx, nil) != 0 || dev.flushes.Load() != 2 {
		t.Errorf("Fsync and Flush made %d device flushes, want 2", dev.flushes.Load())
	}
}

func TestFuseDiskErrors(t *testing.T) {
	ctx := context.Background()
	d := newTestFuseDisk(t, errDevice{size: 1 << 20, err: syscall.EROFS})
	if _, errno := d.Write(ctx, nil, []byte("x"), 0); errno != syscall.EROFS {
		t.Errorf("Write on a read-only device = %v, want EROFS", errno)
	}
	d = newTestFuseDisk(t, errDevice{size: 1 << 20, err: errors.New("disk on fire")})
	if _, errno := d.Read(ctx, nil, make([]byte, 1), 0); errno != syscall.EIO {
		t.Errorf("Read with a plain error = %v, want EIO", errno)
	}
	if errno := d.Fsync(ctx, nil, 0); errno != syscall.EIO {
		t.Errorf("Fsync with a plain error = %v, want EIO", errno)
	}

	dev := newRecDevice(1 << 20)
	d = newTestFuseDisk(t, dev)
	d.gate.close()
	if _, errno := d.Read(ctx, nil, make([]byte, 1), 0); errno != syscall.EIO {
		t.Errorf("Read after the gate closed = %v, want EIO", errno)
	}
	if _, errno := d.Write(ctx, nil, []byte("x"), 0); errno != syscall.EIO {
		t.Errorf("Write after the gate closed = %v, want EIO", errno)
	}
	if errno := d.Allocate(ctx, nil, 0, 4096, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE); errno != syscall.EIO {
		t.Errorf("Allocate after the gate closed = %v, want EIO", errno)
	}
	if n := dev.calls(); n != 0 {
		t.Errorf("%d device calls after the gate closed", n)
	}
}

func TestFuseDiskAllocate(t *testing.T) {
	const size = 1 << 20
	const keep, punch, zero = unix.FALLOC_FL_KEEP_SIZE, unix.FALLOC_FL_PUNCH_HOLE, unix.FALLOC_FL_ZERO_RANGE
	ctx := context.Background()
	dev := newRecDevice(size)
	d := newTestFuseDisk(t, dev)
	fill := func() { dev.mem.WriteAt(bytes.Repeat([]byte{0xaa}, size), 0) }
	isZero := func(off, n int64) bool {
		b := make([]byte, n)
		dev.mem.ReadAt(b, off)
		return bytes.Count(b, []byte{0}) == int(n)
	}

	fill()
	if errno := d.Allocate(ctx, nil, 8192, 8192, punch|keep); errno != 0 {
		t.Fatalf("punch hole: %v", errno)
	}
	if dev.trims.Load() != 1 || dev.lastTrim() != [2]int64{8192, 8192} {
		t.Errorf("punch hole trimmed %d times, last %v; want once at 8192+8192", dev.trims.Load(), dev.lastTrim())
	}
	if !isZero(8192, 8192) || isZero(8192-1, 1) || isZero(16384, 1) {
		t.Error("punch hole did not zero exactly its range")
	}

	// Beyond the end with KEEP_SIZE: cut at the end.
	if errno := d.Allocate(ctx, nil, size-4096, 8192, punch|keep); errno != 0 || dev.lastTrim() != [2]int64{size - 4096, 4096} {
		t.Errorf("punch hole across the end = %v, last trim %v; want it cut at the end", errno, dev.lastTrim())
	}

	fill()
	trims := dev.trims.Load()
	if errno := d.Allocate(ctx, nil, 0, 4096, zero|keep); errno != 0 || !isZero(0, 4096) || isZero(4096, 1) {
		t.Errorf("zero range = %v, or wrong bytes zeroed", errno)
	}
	if errno := d.Allocate(ctx, nil, 4096, 4096, unix.FALLOC_FL_WRITE_ZEROES); errno != 0 || !isZero(4096, 4096) {
		t.Errorf("write zeroes = %v, or range not zeroed", errno)
	}
	if dev.trims.Load() != trims {
		t.Error("zeroing without holes trimmed")
	}

	calls := dev.calls()
	if errno := d.Allocate(ctx, nil, 0, size, 0); errno != 0 {
		t.Errorf("plain allocation = %v, want success", errno)
	}
	if errno := d.Allocate(ctx, nil, 0, size+1, 0); errno != syscall.EFBIG {
		t.Errorf("allocation growing the file = %v, want EFBIG", errno)
	}
	if errno := d.Allocate(ctx, nil, 0, 4096, unix.FALLOC_FL_COLLAPSE_RANGE); errno != syscall.EOPNOTSUPP {
		t.Errorf("collapse range = %v, want EOPNOTSUPP", errno)
	}
	if dev.calls() != calls {
		t.Error("allocation without zeroing reached the device")
	}

	// A ZeroWriter gets one call, holes allowed only for a punched hole.
	zw := &zeroRecorder{MemDevice: NewMemDevice(size)}
	d = newTestFuseDisk(t, zw)
	if d.Allocate(ctx, nil, 0, 4096, punch|keep) != 0 || d.Allocate(ctx, nil, 4096, 4096, zero) != 0 {
		t.Fatal("allocate on a ZeroWriter failed")
	}
	want := []zeroCall{{0, 4096, false}, {4096, 4096, true}}
	if len(zw.calls) != 2 || zw.calls[0] != want[0] || zw.calls[1] != want[1] {
		t.Errorf("WriteZeroes calls = %+v, want %+v", zw.calls, want)
	}
}
