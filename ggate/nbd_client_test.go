package ggate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// This file holds a raw NBD client written from the protocol text, used by
// the unit tests to drive the server byte by byte.

const testTimeout = 10 * time.Second

// testLogger routes server logs to t.Log, so passing tests stay quiet.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// newTestServer builds a server over cfg, defaulting the export to "disk"
// and the device to a 1 MiB MemDevice, and shuts it down when the test ends.
func newTestServer(t testing.TB, cfg NBDConfig) *NBDServer {
	t.Helper()
	if cfg.Export == "" {
		cfg.Export = "disk"
	}
	if cfg.Device == nil {
		cfg.Device = NewMemDevice(1 << 20)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv, err := NewNBDServer(cfg)
	if err != nil {
		t.Fatalf("NewNBDServer: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

// rawClient is one client connection.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	// done receives ServeConn's result for pipe connections.
	done chan error
}

// dialPipe connects a client to srv over net.Pipe, serving it with
// ServeConn.
func dialPipe(t testing.TB, srv *NBDServer) *rawClient {
	t.Helper()
	client, server := net.Pipe()
	rc := &rawClient{t: t, conn: client, br: bufio.NewReader(client), done: make(chan error, 1)}
	go func() { rc.done <- srv.ServeConn(server) }()
	client.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { client.Close() })
	return rc
}

// dialUnix connects a client to a unix socket.
func dialUnix(t testing.TB, path string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("unix", path, testTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	conn.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// serverErr waits for ServeConn to return and gives its error.
func (rc *rawClient) serverErr() error {
	rc.t.Helper()
	select {
	case err := <-rc.done:
		return err
	case <-time.After(testTimeout):
		rc.t.Fatal("server did not end the connection")
		return nil
	}
}

func (rc *rawClient) send(parts ...[]byte) {
	rc.t.Helper()
	if _, err := rc.conn.Write(bytes.Join(parts, nil)); err != nil {
		rc.t.Fatalf("client write: %v", err)
	}
}

func (rc *rawClient) readN(n int) []byte {
	rc.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc.br, b); err != nil {
		rc.t.Fatalf("client read of %d bytes: %v", n, err)
	}
	return b
}

// expectClosed checks that the server closed the connection.
func (rc *rawClient) expectClosed() {
	rc.t.Helper()
	b, err := rc.br.ReadByte()
	var ne net.Error
	switch {
	case err == nil:
		rc.t.Fatalf("connection still open: read byte %#x", b)
	case errors.As(err, &ne) && ne.Timeout():
		rc.t.Fatalf("connection still open: %v", err)
	}
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// greet reads the server greeting and returns the handshake flags.
func (rc *rawClient) greet() uint16 {
	rc.t.Helper()
	b := rc.readN(18)
	if got := binary.BigEndian.Uint64(b); got != nbdMagic {
		rc.t.Fatalf("greeting magic %#x, want NBDMAGIC", got)
	}
	if got := binary.BigEndian.Uint64(b[8:]); got != nbdOptMagic {
		rc.t.Fatalf("greeting second magic %#x, want IHAVEOPT", got)
	}
	return binary.BigEndian.Uint16(b[16:])
}

// handshake reads the greeting and answers with clientFlags.
func (rc *rawClient) handshake(clientFlags uint32) {
	rc.t.Helper()
	rc.greet()
	rc.send(be32(clientFlags))
}

func optionBytes(opt uint32, data []byte) []byte {
	return bytes.Join([][]byte{be64(nbdOptMagic), be32(opt), be32(uint32(len(data))), data}, nil)
}

func (rc *rawClient) sendOption(opt uint32, data []byte) {
	rc.t.Helper()
	rc.send(optionBytes(opt, data))
}

type optReply struct {
	opt, typ uint32
	data     []byte
}

func (rc *rawClient) readOptReply() optReply {
	rc.t.Helper()
	h := rc.readN(20)
	if got := binary.BigEndian.Uint64(h); got != nbdOptReplyMagic {
		rc.t.Fatalf("option reply magic %#x", got)
	}
	r := optReply{opt: binary.BigEndian.Uint32(h[8:]), typ: binary.BigEndian.Uint32(h[12:])}
	r.data = rc.readN(int(binary.BigEndian.Uint32(h[16:])))
	return r
}

// expectOptReply reads one reply and checks its option and type.
func (rc *rawClient) expectOptReply(opt, typ uint32) optReply {
	rc.t.Helper()
	r := rc.readOptReply()
	if r.opt != opt || r.typ != typ {
		rc.t.Fatalf("option reply (opt %d, type %#x, %q), want (opt %d, type %#x)", r.opt, r.typ, r.data, opt, typ)
	}
	return r
}

func infoRequest(name string, infos ...uint16) []byte {
	b := be32(uint32(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(infos)))
	for _, i := range infos {
		b = binary.BigEndian.AppendUint16(b, i)
	}
	return b
}

// info sends NBD_OPT_INFO or NBD_OPT_GO and collects NBD_REP_INFO payloads
// by information type until the final reply.
func (rc *rawClient) info(opt uint32, name string, infos ...uint16) (map[uint16][]byte, optReply) {
	rc.t.Helper()
	rc.sendOption(opt, infoRequest(name, infos...))
	got := make(map[uint16][]byte)
	for {
		r := rc.readOptReply()
		if r.opt != opt {
			rc.t.Fatalf("reply for option %d, want %d", r.opt, opt)
		}
		if r.typ != nbdRepInfo {
			return got, r
		}
		if len(r.data) < 2 {
			rc.t.Fatalf("NBD_REP_INFO of %d bytes", len(r.data))
		}
		typ := binary.BigEndian.Uint16(r.data)
		if _, dup := got[typ]; dup {
			rc.t.Fatalf("information type %d sent twice", typ)
		}
		got[typ] = r.data[2:]
	}
}

// negotiate runs a handshake with NO_ZEROES, optionally structured replies,
// and NBD_OPT_GO on the default export; it returns the transmission flags.
func (rc *rawClient) negotiate(structured bool) uint16 {
	rc.t.Helper()
	rc.handshake(nbdFlagCFixedNewstyle | nbdFlagCNoZeroes)
	if structured {
		rc.sendOption(nbdOptStructuredReply, nil)
		rc.expectOptReply(nbdOptStructuredReply, nbdRepAck)
	}
	infos, final := rc.info(nbdOptGo, "", nbdInfoBlockSize)
	if final.typ != nbdRepAck {
		rc.t.Fatalf("NBD_OPT_GO ended with %#x %q", final.typ, final.data)
	}
	return binary.BigEndian.Uint16(infos[nbdInfoExport][8:])
}

func requestBytes(flags, typ uint16, handle, offset uint64, length uint32, payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	binary.BigEndian.PutUint32(b[0:], nbdRequestMagic)
	binary.BigEndian.PutUint16(b[4:], flags)
	binary.BigEndian.PutUint16(b[6:], typ)
	binary.BigEndian.PutUint64(b[8:], handle)
	binary.BigEndian.PutUint64(b[16:], offset)
	binary.BigEndian.PutUint32(b[24:], length)
	return append(b, payload...)
}

func (rc *rawClient) request(flags, typ uint16, handle, offset uint64, length uint32, payload []byte) {
	rc.t.Helper()
	rc.send(requestBytes(flags, typ, handle, offset, length, payload))
}

// reply is a simple reply or one structured chunk, decoded.
type reply struct {
	structured bool
	handle     uint64
	errno      uint32 // simple reply error, or an error chunk's error
	flags      uint16 // structured only
	typ        uint16 // structured only
	offset     uint64 // OFFSET_DATA only
	data       []byte
	msg        string // error chunk only
}

// readReply reads one reply. A successful simple reply is followed by
// simpleData bytes of read data, which the caller must know.
func (rc *rawClient) readReply(simpleData int) reply {
	rc.t.Helper()
	magic := binary.BigEndian.Uint32(rc.readN(4))
	switch magic {
	case nbdSimpleReplyMagic:
		h := rc.readN(12)
		r := reply{errno: binary.BigEndian.Uint32(h), handle: binary.BigEndian.Uint64(h[4:])}
		if r.errno == 0 && simpleData > 0 {
			r.data = rc.readN(simpleData)
		}
		return r
	case nbdStructuredReplyMagic:
		h := rc.readN(16)
		r := reply{
			structured: true,
			flags:      binary.BigEndian.Uint16(h),
			typ:        binary.BigEndian.Uint16(h[2:]),
			handle:     binary.BigEndian.Uint64(h[4:]),
		}
		payload := rc.readN(int(binary.BigEndian.Uint32(h[12:])))
		switch r.typ {
		case nbdReplyTypeNone:
			if len(payload) != 0 {
				rc.t.Fatalf("NBD_REPLY_TYPE_NONE with %d bytes", len(payload))
			}
		case nbdReplyTypeOffsetData:
			if len(payload) < 9 {
				rc.t.Fatalf("OFFSET_DATA chunk of %d bytes", len(payload))
			}
			r.offset = binary.BigEndian.Uint64(payload)
			r.data = payload[8:]
		case nbdReplyTypeError:
			if len(payload) < 6 {
				rc.t.Fatalf("error chunk of %d bytes", len(payload))
			}
			r.errno = binary.BigEndian.Uint32(payload)
			n := int(binary.BigEndian.Uint16(payload[4:]))
			if 6+n != len(payload) {
				rc.t.Fatalf("error chunk message length %d in %d-byte payload", n, len(payload))
			}
			r.msg = string(payload[6:])
		default:
			rc.t.Fatalf("unexpected chunk type %#x", r.typ)
		}
		return r
	}
	rc.t.Fatalf("reply magic %#x", magic)
	return reply{}
}

// expectErrno reads a reply for handle and checks its error value.
func (rc *rawClient) expectErrno(handle uint64, errno uint32) reply {
	rc.t.Helper()
	r := rc.readReply(0)
	if r.handle != handle || r.errno != errno {
		rc.t.Fatalf("reply (handle %d, errno %d, %q), want (handle %d, errno %d)", r.handle, r.errno, r.msg, handle, errno)
	}
	if r.structured && r.flags&nbdReplyFlagDone == 0 {
		rc.t.Fatalf("final chunk without NBD_REPLY_FLAG_DONE")
	}
	return r
}

// write sends a WRITE and expects success.
func (rc *rawClient) write(handle, offset uint64, data []byte) {
	rc.t.Helper()
	rc.request(0, nbdCmdWrite, handle, offset, uint32(len(data)), data)
	rc.expectErrno(handle, 0)
}

// read sends a READ and returns the data, in either reply mode.
func (rc *rawClient) read(handle, offset uint64, length uint32) []byte {
	rc.t.Helper()
	rc.request(0, nbdCmdRead, handle, offset, length, nil)
	r := rc.readReply(int(length))
	if r.handle != handle || r.errno != 0 {
		rc.t.Fatalf("read reply (handle %d, errno %d, %q), want (handle %d, errno 0)", r.handle, r.errno, r.msg, handle)
	}
	if r.structured {
		if r.flags&nbdReplyFlagDone == 0 || r.typ != nbdReplyTypeOffsetData || r.offset != offset {
			rc.t.Fatalf("read chunk (flags %#x, type %d, offset %d), want final OFFSET_DATA at %d", r.flags, r.typ, r.offset, offset)
		}
	}
	if len(r.data) != int(length) {
		rc.t.Fatalf("read returned %d bytes, want %d", len(r.data), length)
	}
	return r.data
}

// Test devices.

// errDevice fails every call with err.
type errDevice struct {
	size int64
	err  error
}

func (d errDevice) ReadAt(p []byte, off int64) (int, error)  { return 0, d.err }
func (d errDevice) WriteAt(p []byte, off int64) (int, error) { return 0, d.err }
func (d errDevice) Flush() error                             { return d.err }
func (d errDevice) Trim(off, length int64) error             { return d.err }
func (d errDevice) Size() int64                              { return d.size }

// plainDevice hides every optional interface of the device it wraps.
type plainDevice struct{ Device }

// zeroRecorder is a MemDevice that records WriteZeroes calls.
type zeroRecorder struct {
	*MemDevice
	mu    sync.Mutex
	calls []zeroCall
}

type zeroCall struct {
	off, length int64
	noHole      bool
}

func (d *zeroRecorder) WriteZeroes(off, length int64, noHole bool) error {
	d.mu.Lock()
	d.calls = append(d.calls, zeroCall{off, length, noHole})
	d.mu.Unlock()
	return d.MemDevice.WriteZeroes(off, length, noHole)
}

// sizedDevice is a MemDevice with block size constraints.
type sizedDevice struct {
	*MemDevice
	minimum, preferred, maximum uint32
}

func (d sizedDevice) BlockSizes() (uint32, uint32, uint32) { return d.minimum, d.preferred, d.maximum }

// gatedDevice is a MemDevice whose reads at offsets listed in gates block
// until the gate channel is closed; entered receives the offset of every
// read as it starts.
type gatedDevice struct {
	*MemDevice
	gates   map[int64]chan struct{}
	entered chan int64
}

func (d *gatedDevice) ReadAt(p []byte, off int64) (int, error) {
	d.entered <- off
	if g, ok := d.gates[off]; ok {
		<-g
	}
	return d.MemDevice.ReadAt(p, off)
}

// blockingWriteDevice is a MemDevice whose writes signal started and then
// wait for release.
type blockingWriteDevice struct {
	*MemDevice
	started chan struct{}
	release chan struct{}
}

func (d *blockingWriteDevice) WriteAt(p []byte, off int64) (int, error) {
	d.started <- struct{}{}
	<-d.release
	return d.MemDevice.WriteAt(p, off)
}
