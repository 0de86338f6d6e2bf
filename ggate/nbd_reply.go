package ggate

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// maxErrorMessage bounds the human-readable text of an error chunk (the
// protocol allows 4096 bytes).
const maxErrorMessage = 512

// lockWriter takes the reply writer.
func (c *nbdConn) lockWriter() {
	c.writeWaiters.Add(1)
	c.wmu.Lock()
	c.writeWaiters.Add(-1)
}

// write appends p to the reply being written; the first error sticks.
func (c *nbdConn) write(p []byte) {
	if c.werr == nil && len(p) > 0 {
		_, c.werr = c.bw.Write(p)
	}
}

// unlockWriter flushes if no other reply is waiting to be written (the last
// writer in line flushes for all) and releases the writer. A write error
// closes the connection, which ends the reader loop.
func (c *nbdConn) unlockWriter() error {
	if c.werr == nil && c.writeWaiters.Load() == 0 {
		c.werr = c.bw.Flush()
	}
	err := c.werr
	c.wmu.Unlock()
	if err != nil {
		c.nc.Close()
	}
	return err
}

// replySimple sends a simple reply; data is a READ's payload or nil.
func (c *nbdConn) replySimple(handle uint64, errno uint32, data []byte) error {
	c.lockWriter()
	h := c.whdr[:16]
	binary.BigEndian.PutUint32(h[0:], nbdSimpleReplyMagic)
	binary.BigEndian.PutUint32(h[4:], errno)
	binary.BigEndian.PutUint64(h[8:], handle)
	c.write(h)
	c.write(data)
	return c.unlockWriter()
}

// putChunkHeader fills the 20-byte structured chunk header at the start of
// c.whdr. The caller holds the writer.
func (c *nbdConn) putChunkHeader(flags, typ uint16, handle uint64, length uint32) {
	h := c.whdr[:20]
	binary.BigEndian.PutUint32(h[0:], nbdStructuredReplyMagic)
	binary.BigEndian.PutUint16(h[4:], flags)
	binary.BigEndian.PutUint16(h[6:], typ)
	binary.BigEndian.PutUint64(h[8:], handle)
	binary.BigEndian.PutUint32(h[16:], length)
}

// replyData sends a READ's payload as one final NBD_REPLY_TYPE_OFFSET_DATA
// chunk. The data is already in memory, so no error can follow it.
func (c *nbdConn) replyData(handle, offset uint64, data []byte) error {
	c.lockWriter()
	c.putChunkHeader(nbdReplyFlagDone, nbdReplyTypeOffsetData, handle, uint32(8+len(data)))
	binary.BigEndian.PutUint64(c.whdr[20:], offset)
	c.write(c.whdr[:28])
	c.write(data)
	return c.unlockWriter()
}

// replyNone sends a final NBD_REPLY_TYPE_NONE chunk: success without data.
func (c *nbdConn) replyNone(handle uint64) error {
	c.lockWriter()
	c.putChunkHeader(nbdReplyFlagDone, nbdReplyTypeNone, handle, 0)
	c.write(c.whdr[:20])
	return c.unlockWriter()
}

// replyError reports errno for a request: a final NBD_REPLY_TYPE_ERROR chunk
// carrying msg when structured replies were negotiated, else a simple reply.
func (c *nbdConn) replyError(handle uint64, errno uint32, msg string) error {
	if !c.structured {
		return c.replySimple(handle, errno, nil)
	}
	msg = truncateUTF8(msg, maxErrorMessage)
	c.lockWriter()
	c.putChunkHeader(nbdReplyFlagDone, nbdReplyTypeError, handle, uint32(6+len(msg)))
	binary.BigEndian.PutUint32(c.whdr[20:], errno)
	binary.BigEndian.PutUint16(c.whdr[24:], uint16(len(msg)))
	c.write(c.whdr[:26])
	if c.werr == nil {
		_, c.werr = c.bw.WriteString(msg)
	}
	return c.unlockWriter()
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune and
// replaces invalid UTF-8, as protocol strings must be valid UTF-8.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
