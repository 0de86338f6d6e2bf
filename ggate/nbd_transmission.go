package ggate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// failureLogEvery is how often repeated request failures on one connection
// are logged at warning level.
const failureLogEvery = 1024

// zeroChunk is the source of zeroes for WRITE_ZEROES on devices without
// ZeroWriter; it is never written.
var zeroChunk [256 << 10]byte

// nbdRequest is one transmission request on its way from the reader loop to
// a worker and back to requestPool.
type nbdRequest struct {
	flags  uint16
	typ    uint16
	handle uint64
	offset uint64
	length uint32
	cost   int64   // payload bytes held in c.inflight
	buf    *[]byte // WRITE payload or READ data, from buffers
}

var requestPool = sync.Pool{New: func() any { return new(nbdRequest) }}

// transmit reads requests until the client disconnects, breaks the protocol
// or the connection fails, handing each valid one to a worker goroutine. It
// returns nil on NBD_CMD_DISC or when the client closes between requests;
// the caller waits for the workers.
func (c *nbdConn) transmit() error {
	var h [nbdRequestHeaderLen]byte
	for {
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read nbd request header: %w", err)
		}
		if magic := binary.BigEndian.Uint32(h[0:]); magic != nbdRequestMagic {
			return fmt.Errorf("%w: request magic %#x", ErrProtocol, magic)
		}
		req := requestPool.Get().(*nbdRequest)
		*req = nbdRequest{
			flags:  binary.BigEndian.Uint16(h[4:]),
			typ:    binary.BigEndian.Uint16(h[6:]),
			handle: binary.BigEndian.Uint64(h[8:]),
			offset: binary.BigEndian.Uint64(h[16:]),
			length: binary.BigEndian.Uint32(h[24:]),
		}
		if req.typ == nbdCmdDisc {
			requestPool.Put(req)
			return nil
		}
		if err := c.admit(req); err != nil {
			return err
		}
	}
}

// admit validates a request, reads or discards a WRITE's payload, and either
// answers it at once (invalid, or the server is stopping) or starts a worker.
func (c *nbdConn) admit(req *nbdRequest) error {
	errno, msg := c.validate(req)
	if errno != 0 {
		if req.typ == nbdCmdWrite {
			if err := c.discardPayload(req); err != nil {
				requestPool.Put(req)
				return err
			}
		}
		err := c.replyError(req.handle, errno, msg)
		requestPool.Put(req)
		return err
	}
	if req.typ == nbdCmdRead || req.typ == nbdCmdWrite {
		req.cost = int64(req.length)
	}
	c.inflight.acquire(req.cost)
	if req.typ == nbdCmdWrite && req.length > 0 {
		req.buf = buffers.get(int(req.length))
		if _, err := io.ReadFull(c.br, *req.buf); err != nil {
			c.finish(req)
			return fmt.Errorf("read %d-byte nbd write payload for offset %d: %w", req.length, req.offset, err)
		}
	}
	if c.srv.closing.Load() {
		handle := req.handle
		c.finish(req)
		return c.replyError(handle, nbdESHUTDOWN, "server is shutting down")
	}
	c.workers.Add(1)
	go c.execute(req)
	return nil
}

// discardPayload skips the payload of a rejected WRITE so the stream stays
// in step, or ends the connection if the payload is too large to skip.
func (c *nbdConn) discardPayload(req *nbdRequest) error {
	if limit := max(int64(c.srv.blocks.maximum), minDoSWrite); int64(req.length) > limit {
		return fmt.Errorf("%w: write payload of %d bytes exceeds %d", ErrProtocol, req.length, limit)
	}
	if _, err := io.CopyN(io.Discard, c.br, int64(req.length)); err != nil {
		return fmt.Errorf("discard %d-byte nbd write payload: %w", req.length, err)
	}
	return nil
}

// finish returns a request's buffer, in-flight share and struct.
func (c *nbdConn) finish(req *nbdRequest) {
	if req.buf != nil {
		buffers.put(req.buf)
	}
	c.inflight.release(req.cost)
	*req = nbdRequest{}
	requestPool.Put(req)
}

// validate checks a request against the negotiated flags, the export's mode,
// size and block constraints. It returns the NBD error and a message for
// the client, or 0.
func (c *nbdConn) validate(req *nbdRequest) (uint32, string) {
	allowed := nbdCmdFlagFUA
	switch req.typ {
	case nbdCmdRead:
		if c.structured {
			allowed |= nbdCmdFlagDF
		}
	case nbdCmdWriteZeroes:
		allowed |= nbdCmdFlagNoHole
	case nbdCmdWrite, nbdCmdFlush, nbdCmdTrim, nbdCmdCache:
	default:
		return nbdEINVAL, "unknown command"
	}
	if req.flags&^allowed != 0 {
		return nbdEINVAL, "unknown or inapplicable command flags"
	}
	if req.typ == nbdCmdFlush {
		if req.offset != 0 || req.length != 0 {
			return nbdEINVAL, "flush with nonzero offset or length"
		}
		return 0, ""
	}
	writes := req.typ == nbdCmdWrite || req.typ == nbdCmdWriteZeroes
	if (writes || req.typ == nbdCmdTrim) && c.srv.cfg.ReadOnly {
		return nbdEPERM, "export is read-only"
	}
	bs := c.srv.blocks
	if req.typ != nbdCmdTrim && req.length > bs.maximum {
		return nbdEINVAL, "length exceeds the maximum block size"
	}
	if m := uint64(bs.minimum); m > 1 && (req.offset%m != 0 || uint64(req.length)%m != 0) {
		return nbdEINVAL, "offset or length not aligned to the minimum block size"
	}
	if req.offset > c.size || uint64(req.length) > c.size-req.offset {
		if writes {
			return nbdENOSPC, "write beyond the end of the export"
		}
		return nbdEINVAL, "request beyond the end of the export"
	}
	return 0, ""
}

// execute runs one valid request against the device and answers it.
func (c *nbdConn) execute(req *nbdRequest) {
	defer c.workers.Done()
	dev := c.srv.cfg.Device
	off, n := int64(req.offset), int64(req.length)
	// FUA matters only for commands that write; on others it is ignored.
	fua := req.flags&nbdCmdFlagFUA != 0 && req.typ != nbdCmdRead && req.typ != nbdCmdCache
	var err error
	switch req.typ {
	case nbdCmdRead:
		if n > 0 {
			req.buf = buffers.get(int(n))
			err = readFull(dev, *req.buf, off)
		}
	case nbdCmdWrite:
		if n > 0 {
			err = writeFull(dev, *req.buf, off)
		}
	case nbdCmdTrim:
		if n > 0 {
			if err = dev.Trim(off, n); err != nil {
				err = fmt.Errorf("trim %d bytes at offset %d: %w", n, off, err)
			}
		}
	case nbdCmdWriteZeroes:
		if n > 0 {
			err = writeZeroes(dev, off, n, req.flags&nbdCmdFlagNoHole != 0)
		}
	case nbdCmdFlush:
		fua = true
	case nbdCmdCache:
		// A hint only; the device keeps no cache the server could fill.
	}
	if err == nil && fua {
		if err = dev.Flush(); err != nil {
			err = fmt.Errorf("flush: %w", err)
		}
	}

	switch {
	case err != nil:
		errno := nbdErrno(err)
		if c.srv.closing.Load() {
			errno = nbdESHUTDOWN
		}
		c.logFailure(req, errno, err)
		c.replyError(req.handle, errno, err.Error())
	case req.typ != nbdCmdRead:
		c.replySimple(req.handle, 0, nil)
	case !c.structured:
		c.replySimple(req.handle, 0, bufBytes(req.buf))
	case n == 0:
		c.replyNone(req.handle)
	default:
		c.replyData(req.handle, req.offset, *req.buf)
	}
	c.finish(req)
}

// logFailure logs a failed request: at warning level for the first failure
// of the connection and every failureLogEvery-th after it, at debug level
// otherwise, so a failing device cannot flood the log.
func (c *nbdConn) logFailure(req *nbdRequest, errno uint32, err error) {
	n := c.failures.Add(1)
	level := slog.LevelDebug
	if n == 1 || n%failureLogEvery == 0 {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, "nbd request failed",
		"cmd", cmdName(req.typ), "offset", req.offset, "length", req.length,
		"errno", errno, "failures", n, "err", err)
}

// bufBytes returns the bytes of a pooled buffer, or nil for none (a
// zero-length request has no buffer).
func bufBytes(b *[]byte) []byte {
	if b == nil {
		return nil
	}
	return *b
}

// readFull reads all of p at off, accepting io.EOF together with a full
// read as io.ReaderAt allows.
func readFull(dev Device, p []byte, off int64) error {
	n, err := dev.ReadAt(p, off)
	if n == len(p) && (err == nil || err == io.EOF) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at offset %d: %w", len(p), off, err)
}

// writeFull writes all of p at off.
func writeFull(dev Device, p []byte, off int64) error {
	n, err := dev.WriteAt(p, off)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write %d bytes at offset %d: %w", len(p), off, err)
	}
	return nil
}

// writeZeroes zeroes length bytes at off through ZeroWriter, or by writing
// zeroChunk repeatedly when the device lacks it (which never punches holes,
// so noHole holds either way).
func writeZeroes(dev Device, off, length int64, noHole bool) error {
	if zw, ok := dev.(ZeroWriter); ok {
		if err := zw.WriteZeroes(off, length, noHole); err != nil {
			return fmt.Errorf("write zeroes over %d bytes at offset %d: %w", length, off, err)
		}
		return nil
	}
	for length > 0 {
		chunk := zeroChunk[:min(length, int64(len(zeroChunk)))]
		if err := writeFull(dev, chunk, off); err != nil {
			return err
		}
		off += int64(len(chunk))
		length -= int64(len(chunk))
	}
	return nil
}

// cmdName names a command for logs.
func cmdName(typ uint16) string {
	switch typ {
	case nbdCmdRead:
		return "read"
	case nbdCmdWrite:
		return "write"
	case nbdCmdFlush:
		return "flush"
	case nbdCmdTrim:
		return "trim"
	case nbdCmdCache:
		return "cache"
	case nbdCmdWriteZeroes:
		return "write-zeroes"
	}
	return fmt.Sprintf("command %d", typ)
}
