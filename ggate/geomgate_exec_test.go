package ggate

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
)

func TestGGExecute(t *testing.T) {
	dev := newRecDevice(1 << 20)
	var gate deviceGate
	log := testLogger(t)
	run := func(cmd uint32, off, length int64, buf []byte) syscall.Errno {
		return ggExecute(dev, &gate, log, cmd, off, length, buf)
	}

	if e := run(bioWrite, 4096, 5, []byte("hello")); e != 0 {
		t.Fatalf("BIO_WRITE: %v", e)
	}
	buf := make([]byte, 16)
	if e := run(bioRead, 4096, 5, buf); e != 0 || string(buf[:5]) != "hello" {
		t.Fatalf("BIO_READ = %q, %v", buf[:5], e)
	}
	if e := run(bioDelete, 8192, 4096, nil); e != 0 || dev.lastTrim() != [2]int64{8192, 4096} {
		t.Errorf("BIO_DELETE = %v, last trim %v", e, dev.lastTrim())
	}
	if e := run(bioFlush, 0, 0, nil); e != 0 || dev.flushes.Load() != 1 {
		t.Errorf("BIO_FLUSH = %v, %d flushes", e, dev.flushes.Load())
	}

	calls := dev.calls()
	for _, c := range []struct {
		name string
		cmd  uint32
		off  int64
		n    int64
		want syscall.Errno
	}{
		{"BIO_SPEEDUP", bioSpeedup, 0, 1 << 20, 0},
		{"BIO_GETATTR", 0x04, 0, 0, syscall.EOPNOTSUPP},
		{"BIO_ZONE", 0x09, 0, 0, syscall.EOPNOTSUPP},
		{"unknown", 0x7f, 0, 4096, syscall.EOPNOTSUPP},
		{"read past the end", bioRead, 1<<20 - 8, 16, syscall.EINVAL},
		{"write at a negative offset", bioWrite, -512, 4, syscall.EINVAL},
		{"read larger than the buffer", bioRead, 0, 17, syscall.EINVAL},
		{"delete past the end", bioDelete, 1 << 20, 512, syscall.EINVAL},
	} {
		if e := run(c.cmd, c.off, c.n, buf); e != c.want {
			t.Errorf("%s = %v, want %v", c.name, e, c.want)
		}
	}
	if dev.calls() != calls {
		t.Error("a refused or answered-only request reached the device")
	}

	failing := errDevice{size: 1 << 20, err: syscall.ENOSPC}
	if e := ggExecute(failing, &gate, log, bioWrite, 0, 4, buf); e != syscall.ENOSPC {
		t.Errorf("write on a full device = %v, want ENOSPC", e)
	}
	failing.err = errors.New("cable cut")
	if e := ggExecute(failing, &gate, log, bioFlush, 0, 0, nil); e != syscall.EIO {
		t.Errorf("flush with a plain error = %v, want EIO", e)
	}

	gate.close()
	if e := run(bioWrite, 0, 4, []byte("late")); e != syscall.ENXIO {
		t.Errorf("write after the gate closed = %v, want ENXIO", e)
	}
	if e := run(bioSpeedup, 0, 0, nil); e != 0 {
		t.Errorf("BIO_SPEEDUP after the gate closed = %v, want success", e)
	}
	got := make([]byte, 4)
	dev.mem.ReadAt(got, 0)
	if !bytes.Equal(got, make([]byte, 4)) || dev.calls() != calls {
		t.Error("a request reached the device after the gate closed")
	}
}
