package ggate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bothModes runs f with simple and with structured replies.
func bothModes(t *testing.T, f func(t *testing.T, structured bool)) {
	for _, structured := range []bool{false, true} {
		name := "simple"
		if structured {
			name = "structured"
		}
		t.Run(name, func(t *testing.T) { f(t, structured) })
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func TestReadWrite(t *testing.T) {
	bothModes(t, func(t *testing.T, structured bool) {
		dev := NewMemDevice(1 << 20)
		srv := newTestServer(t, NBDConfig{Device: dev})
		rc := dialPipe(t, srv)
		rc.negotiate(structured)
		data := pattern(12345, 3)
		rc.write(1, 1000, data)
		got := make([]byte, len(data))
		if _, err := dev.ReadAt(got, 1000); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("device does not hold the written data (err %v)", err)
		}
		if got := rc.read(2, 1000, uint32(len(data))); !bytes.Equal(got, data) {
			t.Fatal("read back differs from write")
		}
		// The last byte of the export is reachable.
		rc.write(3, 1<<20-1, []byte{0xee})
		if got := rc.read(4, 1<<20-1, 1); got[0] != 0xee {
			t.Fatalf("last byte %#x", got[0])
		}
		rc.request(0, nbdCmdDisc, 5, 0, 0, nil)
		rc.expectClosed()
		if err := rc.serverErr(); err != nil {
			t.Fatalf("ServeConn after DISC = %v", err)
		}
	})
}

func TestZeroLengthRequests(t *testing.T) {
	bothModes(t, func(t *testing.T, structured bool) {
		srv := newTestServer(t, NBDConfig{})
		rc := dialPipe(t, srv)
		rc.negotiate(structured)
		rc.request(0, nbdCmdRead, 1, 0, 0, nil)
		r := rc.expectErrno(1, 0)
		if structured && r.typ != nbdReplyTypeNone {
			t.Fatalf("zero-length read answered with chunk type %d, want NONE", r.typ)
		}
		for i, cmd := range []uint16{nbdCmdWrite, nbdCmdTrim, nbdCmdWriteZeroes, nbdCmdCache} {
			rc.request(0, cmd, uint64(10+i), 4096, 0, nil)
			rc.expectErrno(uint64(10+i), 0)
		}
	})
}

func TestFlushAndFUA(t *testing.T) {
	dev := NewMemDevice(1 << 20)
	srv := newTestServer(t, NBDConfig{Device: dev})
	rc := dialPipe(t, srv)
	rc.negotiate(true)
	rc.write(1, 0, []byte("no fua"))
	if n := dev.Flushes(); n != 0 {
		t.Fatalf("%d flushes after a plain write", n)
	}
	rc.request(nbdCmdFlagFUA, nbdCmdWrite, 2, 0, 3, []byte("fua"))
	rc.expectErrno(2, 0)
	rc.request(0, nbdCmdFlush, 3, 0, 0, nil)
	rc.expectErrno(3, 0)
	rc.request(nbdCmdFlagFUA, nbdCmdTrim, 4, 0, 512, nil)
	rc.expectErrno(4, 0)
	rc.request(nbdCmdFlagFUA, nbdCmdWriteZeroes, 5, 0, 512, nil)
	rc.expectErrno(5, 0)
	// FUA on a read is accepted and ignored.
	rc.request(nbdCmdFlagFUA, nbdCmdRead, 6, 0, 1, nil)
	rc.expectErrno(6, 0)
	if n := dev.Flushes(); n != 4 {
		t.Fatalf("%d flushes, want 4 (FUA write, FLUSH, FUA trim, FUA write zeroes)", n)
	}
	rc.request(0, nbdCmdFlush, 7, 1, 0, nil)
	rc.expectErrno(7, nbdEINVAL)
}

func TestTrimAndWriteZeroes(t *testing.T) {
	rec := &zeroRecorder{MemDevice: NewMemDevice(1 << 20)}
	for _, tc := range []struct {
		name string
		dev  Device
		mem  *MemDevice
	}{
		{"zero writer", rec, rec.MemDevice},
		{"fallback", plainDevice{NewMemDevice(1 << 20)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServer(t, NBDConfig{Device: tc.dev})
			rc := dialPipe(t, srv)
			rc.negotiate(true)
			ones := bytes.Repeat([]byte{0xff}, 1<<20)
			rc.write(1, 0, ones)
			// Larger than zeroChunk, so the fallback needs several writes.
			rc.request(nbdCmdFlagNoHole, nbdCmdWriteZeroes, 2, 4096, 600<<10, nil)
			rc.expectErrno(2, 0)
			got := rc.read(3, 0, 1<<20)
			for i, b := range got {
				inZero := i >= 4096 && i < 4096+600<<10
				if (b == 0) != inZero {
					t.Fatalf("byte %d is %#x after write zeroes over [4096, %d)", i, b, 4096+600<<10)
				}
			}
			rc.request(0, nbdCmdTrim, 4, 0, 100, nil)
			rc.expectErrno(4, 0)
			if tc.mem != nil {
				if got := rc.read(5, 0, 100); !bytes.Equal(got, make([]byte, 100)) {
					t.Fatal("trimmed range of a MemDevice is not zero")
				}
			}
		})
	}
	want := []zeroCall{{4096, 600 << 10, true}}
	if fmt.Sprint(rec.calls) != fmt.Sprint(want) {
		t.Fatalf("WriteZeroes calls %v, want %v", rec.calls, want)
	}
}

func TestCache(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	rc.request(0, nbdCmdCache, 1, 0, 65536, nil)
	rc.expectErrno(1, 0)
	rc.request(0, nbdCmdCache, 2, 1<<20-10, 11, nil)
	rc.expectErrno(2, nbdEINVAL)
	rc.request(nbdCmdFlagNoHole, nbdCmdCache, 3, 0, 1, nil)
	rc.expectErrno(3, nbdEINVAL)
}

func TestUnknownCommandAndFlags(t *testing.T) {
	bothModes(t, func(t *testing.T, structured bool) {
		srv := newTestServer(t, NBDConfig{})
		rc := dialPipe(t, srv)
		rc.negotiate(structured)
		// 7 is BLOCK_STATUS, never negotiated; 8 RESIZE; 0xffff nothing.
		for i, cmd := range []uint16{7, 8, 0xffff} {
			rc.request(0, cmd, uint64(i), 0, 512, nil)
			r := rc.expectErrno(uint64(i), nbdEINVAL)
			if structured && r.msg != "unknown command" {
				t.Fatalf("error message %q", r.msg)
			}
		}
		// A WRITE with a bad flag is refused and its payload skipped.
		rc.request(nbdCmdFlagDF, nbdCmdWrite, 10, 0, 4, []byte("junk"))
		rc.expectErrno(10, nbdEINVAL)
		rc.request(1<<15, nbdCmdRead, 11, 0, 4, nil)
		rc.expectErrno(11, nbdEINVAL)
		// DF is valid on reads only once structured replies are on.
		rc.request(nbdCmdFlagDF, nbdCmdRead, 12, 0, 4, nil)
		if structured {
			r := rc.readReply(0)
			if r.errno != 0 || r.typ != nbdReplyTypeOffsetData || len(r.data) != 4 {
				t.Fatalf("DF read: %+v", r)
			}
		} else {
			rc.expectErrno(12, nbdEINVAL)
		}
		rc.write(13, 0, []byte("good"))
		if got := rc.read(14, 0, 4); string(got) != "good" {
			t.Fatalf("read %q", got)
		}
	})
}

func TestPastEnd(t *testing.T) {
	bothModes(t, func(t *testing.T, structured bool) {
		dev := NewMemDevice(1 << 20)
		srv := newTestServer(t, NBDConfig{Device: dev})
		rc := dialPipe(t, srv)
		rc.negotiate(structured)
		end := uint64(1 << 20)
		for _, tc := range []struct {
			cmd    uint16
			off    uint64
			length uint32
			errno  uint32
		}{
			{nbdCmdRead, end - 1, 2, nbdEINVAL},
			{nbdCmdRead, end, 1, nbdEINVAL},
			{nbdCmdRead, 1<<64 - 1, 2, nbdEINVAL}, // offset + length overflows
			{nbdCmdWrite, end - 2, 4, nbdENOSPC},
			{nbdCmdWrite, 1<<64 - 4, 8, nbdENOSPC},
			{nbdCmdTrim, end - 1, 2, nbdEINVAL},
			{nbdCmdWriteZeroes, end, 1, nbdENOSPC},
			{nbdCmdCache, end + 4096, 1, nbdEINVAL},
		} {
			var payload []byte
			if tc.cmd == nbdCmdWrite {
				payload = bytes.Repeat([]byte{0xaa}, int(tc.length))
			}
			rc.request(0, tc.cmd, 42, tc.off, tc.length, payload)
			r := rc.expectErrno(42, tc.errno)
			if structured && r.msg == "" {
				t.Fatalf("%s past end: error chunk without a message", cmdName(tc.cmd))
			}
		}
		got := make([]byte, 4)
		dev.ReadAt(got, int64(end-4))
		if !bytes.Equal(got, make([]byte, 4)) {
			t.Fatalf("refused write changed the device: %x", got)
		}
		rc.write(43, end-4, []byte("tail"))
	})
}

func TestOversizeRequests(t *testing.T) {
	const maxReq = 64 << 10
	srv := newTestServer(t, NBDConfig{Device: NewMemDevice(1 << 20), MaxRequest: maxReq})
	rc := dialPipe(t, srv)
	rc.negotiate(true)
	rc.request(0, nbdCmdRead, 1, 0, maxReq+1, nil)
	rc.expectErrno(1, nbdEINVAL)
	rc.request(0, nbdCmdWriteZeroes, 2, 0, maxReq+1, nil)
	rc.expectErrno(2, nbdEINVAL)
	rc.request(0, nbdCmdCache, 3, 0, maxReq+1, nil)
	rc.expectErrno(3, nbdEINVAL)
	// TRIM has no maximum block size.
	rc.request(0, nbdCmdTrim, 4, 0, 1<<20, nil)
	rc.expectErrno(4, 0)
	// An oversized WRITE the protocol calls acceptable is read and skipped.
	rc.request(0, nbdCmdWrite, 5, 0, 1<<20, make([]byte, 1<<20))
	rc.expectErrno(5, nbdEINVAL)
	rc.write(6, 0, pattern(maxReq, 1))
	if got := rc.read(7, 0, maxReq); !bytes.Equal(got, pattern(maxReq, 1)) {
		t.Fatal("read after skipped payload differs")
	}
	// Beyond 32 MiB the server hangs up rather than read the payload.
	rc.request(0, nbdCmdWrite, 8, 0, minDoSWrite+1, nil)
	rc.expectClosed()
	if err := rc.serverErr(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ServeConn = %v, want ErrProtocol", err)
	}
}

func TestReadOnly(t *testing.T) {
	dev := NewMemDevice(1 << 20)
	srv := newTestServer(t, NBDConfig{Device: dev, ReadOnly: true})
	rc := dialPipe(t, srv)
	flags := rc.negotiate(true)
	if flags&nbdFlagReadOnly == 0 || flags&(nbdFlagSendTrim|nbdFlagSendWriteZeroes) != 0 {
		t.Fatalf("read-only transmission flags %#x", flags)
	}
	rc.request(0, nbdCmdWrite, 1, 0, 3, []byte("abc"))
	rc.expectErrno(1, nbdEPERM)
	rc.request(0, nbdCmdTrim, 2, 0, 512, nil)
	rc.expectErrno(2, nbdEPERM)
	rc.request(0, nbdCmdWriteZeroes, 3, 0, 512, nil)
	rc.expectErrno(3, nbdEPERM)
	if got := rc.read(4, 0, 3); !bytes.Equal(got, []byte{0, 0, 0}) {
		t.Fatalf("read-only export was written: %x", got)
	}
}

func TestBlockSizeAlignment(t *testing.T) {
	dev := sizedDevice{MemDevice: NewMemDevice(1 << 20), minimum: 512, preferred: 4096, maximum: 128 << 10}
	srv := newTestServer(t, NBDConfig{Device: dev})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	infos, _ := rc.info(nbdOptGo, "", nbdInfoBlockSize)
	bs := infos[nbdInfoBlockSize]
	if minimum, pref, maximum := binary.BigEndian.Uint32(bs), binary.BigEndian.Uint32(bs[4:]), binary.BigEndian.Uint32(bs[8:]); minimum != 512 || pref != 4096 || maximum != 128<<10 {
		t.Fatalf("block sizes %d/%d/%d, want 512/4096/%d", minimum, pref, maximum, 128<<10)
	}
	rc.request(0, nbdCmdRead, 1, 100, 512, nil)
	rc.expectErrno(1, nbdEINVAL)
	rc.request(0, nbdCmdWrite, 2, 512, 100, make([]byte, 100))
	rc.expectErrno(2, nbdEINVAL)
	rc.request(0, nbdCmdRead, 3, 0, 256<<10, nil)
	rc.expectErrno(3, nbdEINVAL)
	rc.write(4, 1024, make([]byte, 512))
}

func TestDeviceErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		err   error
		errno uint32
	}{
		{fmt.Errorf("disk: %w", syscall.EIO), nbdEIO},
		{fmt.Errorf("quota: %w", syscall.EDQUOT), nbdENOSPC},
		{syscall.EFBIG, nbdENOSPC},
		{syscall.EROFS, nbdEPERM},
		{syscall.EACCES, nbdEPERM},
		{syscall.ENOTSUP, nbdENOTSUP},
		{errors.ErrUnsupported, nbdENOTSUP},
		{syscall.ESHUTDOWN, nbdESHUTDOWN},
		{syscall.EOVERFLOW, nbdEINVAL},
		{syscall.ENOMEM, nbdENOMEM},
		{syscall.ENOENT, nbdEIO},
		{errors.New("fenced"), nbdEIO},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			srv := newTestServer(t, NBDConfig{Device: errDevice{size: 1 << 20, err: tc.err}})
			rc := dialPipe(t, srv)
			rc.negotiate(true)
			rc.request(0, nbdCmdRead, 1, 0, 512, nil)
			r := rc.expectErrno(1, tc.errno)
			if !bytes.Contains([]byte(r.msg), []byte(tc.err.Error())) {
				t.Fatalf("error message %q does not carry %q", r.msg, tc.err)
			}
			rc.request(0, nbdCmdWrite, 2, 0, 3, []byte("abc"))
			rc.expectErrno(2, tc.errno)
			rc.request(0, nbdCmdFlush, 3, 0, 0, nil)
			rc.expectErrno(3, tc.errno)
			rc.request(0, nbdCmdTrim, 4, 0, 512, nil)
			rc.expectErrno(4, tc.errno)
			rc.request(0, nbdCmdWriteZeroes, 5, 0, 512, nil)
			rc.expectErrno(5, tc.errno)
		})
	}
}

func TestSimpleReadErrorHasNoPayload(t *testing.T) {
	srv := newTestServer(t, NBDConfig{Device: errDevice{size: 1 << 20, err: syscall.EIO}})
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	rc.request(0, nbdCmdRead, 1, 0, 512, nil)
	rc.expectErrno(1, nbdEIO)
	// The next bytes are the next reply, not 512 bytes of data.
	rc.request(0, nbdCmdRead, 2, 0, 512, nil)
	rc.expectErrno(2, nbdEIO)
}

func TestBadRequestMagicDisconnects(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	b := requestBytes(0, nbdCmdRead, 1, 0, 1, nil)
	b[0] ^= 0xff
	rc.send(b)
	rc.expectClosed()
	if err := rc.serverErr(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ServeConn = %v, want ErrProtocol", err)
	}
}

func TestRepliesOutOfOrder(t *testing.T) {
	gate := make(chan struct{})
	dev := &gatedDevice{
		MemDevice: NewMemDevice(1 << 20),
		gates:     map[int64]chan struct{}{0: gate},
		entered:   make(chan int64, 2),
	}
	srv := newTestServer(t, NBDConfig{Device: dev})
	rc := dialPipe(t, srv)
	rc.negotiate(true)
	rc.request(0, nbdCmdRead, 1, 0, 512, nil)
	if off := <-dev.entered; off != 0 {
		t.Fatalf("first read at %d", off)
	}
	// The first read is stuck in the device; the second overtakes it.
	rc.request(0, nbdCmdRead, 2, 4096, 512, nil)
	if r := rc.readReply(0); r.handle != 2 {
		t.Fatalf("first reply for handle %d, want 2", r.handle)
	}
	close(gate)
	if r := rc.readReply(0); r.handle != 1 {
		t.Fatalf("second reply for handle %d, want 1", r.handle)
	}
}

func TestManyConcurrentRequests(t *testing.T) {
	bothModes(t, func(t *testing.T, structured bool) {
		const blocks, bs = 256, 4096
		dev := NewMemDevice(blocks * bs)
		srv := newTestServer(t, NBDConfig{Device: dev, MaxInFlight: 8})
		rc := dialPipe(t, srv)
		rc.negotiate(structured)

		// Write every block in a random order with pipelined requests,
		// reading replies concurrently, then read every block back the same
		// way. Handles map to blocks.
		for _, cmd := range []uint16{nbdCmdWrite, nbdCmdRead} {
			order := rand.Perm(blocks)
			var wg sync.WaitGroup
			wg.Add(1)
			seen := make(map[uint64]reply)
			go func() {
				defer wg.Done()
				for range blocks {
					// Simple read replies carry bs bytes; writes none.
					n := 0
					if cmd == nbdCmdRead {
						n = bs
					}
					r := rc.readReply(n)
					seen[r.handle] = r
				}
			}()
			var buf []byte
			for _, blk := range order {
				var payload []byte
				if cmd == nbdCmdWrite {
					payload = pattern(bs, byte(blk))
				}
				buf = append(buf, requestBytes(0, cmd, uint64(blk), uint64(blk*bs), bs, payload)...)
			}
			rc.send(buf)
			wg.Wait()
			if len(seen) != blocks {
				t.Fatalf("%d distinct handles answered, want %d", len(seen), blocks)
			}
			for blk := range blocks {
				r := seen[uint64(blk)]
				if r.errno != 0 {
					t.Fatalf("%s of block %d failed with %d", cmdName(cmd), blk, r.errno)
				}
				if cmd == nbdCmdRead && !bytes.Equal(r.data, pattern(bs, byte(blk))) {
					t.Fatalf("block %d read back wrong", blk)
				}
			}
		}
	})
}

func TestDiscWaitsForInFlight(t *testing.T) {
	dev := &blockingWriteDevice{MemDevice: NewMemDevice(1 << 20), started: make(chan struct{}), release: make(chan struct{})}
	srv := newTestServer(t, NBDConfig{Device: dev})
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	rc.request(0, nbdCmdWrite, 1, 0, 4, []byte("last"))
	<-dev.started
	rc.request(0, nbdCmdDisc, 2, 0, 0, nil)
	close(dev.release)
	rc.expectErrno(1, 0)
	rc.expectClosed()
	if err := rc.serverErr(); err != nil {
		t.Fatalf("ServeConn = %v", err)
	}
	got := make([]byte, 4)
	dev.ReadAt(got, 0)
	if string(got) != "last" {
		t.Fatalf("device holds %q", got)
	}
}

func TestMaxInFlightBound(t *testing.T) {
	gate := make(chan struct{})
	dev := &gatedDevice{
		MemDevice: NewMemDevice(1 << 20),
		gates:     map[int64]chan struct{}{0: gate, 4096: gate, 8192: gate},
		entered:   make(chan int64, 3),
	}
	srv := newTestServer(t, NBDConfig{Device: dev, MaxInFlight: 2})
	rc := dialPipe(t, srv)
	rc.negotiate(true)
	for i := range 3 {
		rc.request(0, nbdCmdRead, uint64(i), uint64(i*4096), 512, nil)
	}
	<-dev.entered
	<-dev.entered
	select {
	case off := <-dev.entered:
		t.Fatalf("third read (offset %d) entered the device with MaxInFlight 2", off)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	seen := map[uint64]bool{}
	for range 3 {
		r := rc.readReply(0)
		if r.errno != 0 {
			t.Fatalf("read %d failed with %d", r.handle, r.errno)
		}
		seen[r.handle] = true
	}
	if len(seen) != 3 {
		t.Fatalf("answered handles %v", seen)
	}
}

// levelCounter counts log records by level.
type levelCounter struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelCounter) WithGroup(string) slog.Handler            { return h }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "nbd request failed" {
		h.mu.Lock()
		h.counts[r.Level]++
		h.mu.Unlock()
	}
	return nil
}

func TestRequestFailureLogThrottled(t *testing.T) {
	h := &levelCounter{counts: map[slog.Level]int{}}
	srv := newTestServer(t, NBDConfig{Device: errDevice{size: 1 << 20, err: syscall.EIO}, Logger: slog.New(h)})
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	for i := range 5 {
		rc.request(0, nbdCmdFlush, uint64(i), 0, 0, nil)
		rc.expectErrno(uint64(i), nbdEIO)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts[slog.LevelWarn] != 1 || h.counts[slog.LevelDebug] != 4 {
		t.Fatalf("failure logs by level %v, want 1 warning and 4 debug", h.counts)
	}
}
