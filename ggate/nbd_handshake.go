package ggate

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// zeroPad is the reserved padding after an NBD_OPT_EXPORT_NAME reply.
var zeroPad [nbdZeroPadLen]byte

// handshake runs the fixed newstyle negotiation under the handshake timeout.
// It returns true once the client has entered transmission, false with a nil
// error when the client aborted, and an error when the connection must end.
func (c *nbdConn) handshake() (bool, error) {
	c.setDeadline(time.Now().Add(c.srv.cfg.HandshakeTimeout))

	var greeting [18]byte
	binary.BigEndian.PutUint64(greeting[0:], nbdMagic)
	binary.BigEndian.PutUint64(greeting[8:], nbdOptMagic)
	binary.BigEndian.PutUint16(greeting[16:], nbdFlagFixedNewstyle|nbdFlagNoZeroes)
	c.bw.Write(greeting[:])
	if err := c.bw.Flush(); err != nil {
		return false, fmt.Errorf("send nbd greeting: %w", err)
	}

	var cf [4]byte
	if _, err := io.ReadFull(c.br, cf[:]); err != nil {
		return false, fmt.Errorf("read nbd client flags: %w", err)
	}
	clientFlags := binary.BigEndian.Uint32(cf[:])
	if unknown := clientFlags &^ (nbdFlagCFixedNewstyle | nbdFlagCNoZeroes); unknown != 0 {
		return false, fmt.Errorf("%w: unknown client flags %#x", ErrProtocol, unknown)
	}
	if clientFlags&nbdFlagCFixedNewstyle == 0 {
		return false, fmt.Errorf("%w: client does not speak fixed newstyle", ErrProtocol)
	}
	noZeroes := clientFlags&nbdFlagCNoZeroes != 0

	for {
		opt, data, tooBig, err := c.readOption()
		if err != nil {
			return false, err
		}
		if tooBig && opt != nbdOptExportName && opt != nbdOptAbort {
			typ := nbdRepErrTooBig
			if !knownOption(opt) {
				typ = nbdRepErrUnsup
			}
			if err := c.optReply(opt, typ, []byte("option data too large")); err != nil {
				return false, err
			}
			continue
		}
		switch opt {
		case nbdOptExportName:
			return c.optExportName(data, tooBig, noZeroes)
		case nbdOptAbort:
			// The client may already have gone; the reply is a courtesy.
			c.optReply(opt, nbdRepAck, nil)
			return false, nil
		case nbdOptInfo, nbdOptGo:
			transmitting, err := c.optInfo(opt, data)
			if err != nil || transmitting {
				return transmitting, err
			}
		default:
			if err := c.optOther(opt, data); err != nil {
				return false, err
			}
		}
	}
}

// knownOption reports whether opt is an option this server implements.
func knownOption(opt uint32) bool {
	switch opt {
	case nbdOptExportName, nbdOptAbort, nbdOptList, nbdOptStartTLS, nbdOptInfo, nbdOptGo, nbdOptStructuredReply:
		return true
	}
	return false
}

// readOption reads one option. Data beyond maxOptionData is discarded and
// reported as tooBig; beyond maxOptionDiscard the connection is dropped.
func (c *nbdConn) readOption() (opt uint32, data []byte, tooBig bool, err error) {
	var h [nbdOptionHeaderLen]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, false, fmt.Errorf("read nbd option header: %w", err)
	}
	if magic := binary.BigEndian.Uint64(h[0:]); magic != nbdOptMagic {
		return 0, nil, false, fmt.Errorf("%w: option magic %#x", ErrProtocol, magic)
	}
	opt = binary.BigEndian.Uint32(h[8:])
	n := binary.BigEndian.Uint32(h[12:])
	switch {
	case n > maxOptionDiscard:
		return opt, nil, false, fmt.Errorf("%w: option %d carries %d bytes", ErrProtocol, opt, n)
	case n > maxOptionData:
		if _, err := io.CopyN(io.Discard, c.br, int64(n)); err != nil {
			return opt, nil, false, fmt.Errorf("discard %d bytes of nbd option %d: %w", n, opt, err)
		}
		return opt, nil, true, nil
	}
	data = make([]byte, n)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return opt, nil, false, fmt.Errorf("read %d bytes of nbd option %d: %w", n, opt, err)
	}
	return opt, data, false, nil
}

// optReply sends one option reply and flushes it.
func (c *nbdConn) optReply(opt, typ uint32, data []byte) error {
	var h [20]byte
	binary.BigEndian.PutUint64(h[0:], nbdOptReplyMagic)
	binary.BigEndian.PutUint32(h[8:], opt)
	binary.BigEndian.PutUint32(h[12:], typ)
	binary.BigEndian.PutUint32(h[16:], uint32(len(data)))
	c.bw.Write(h[:])
	c.bw.Write(data)
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("send reply to nbd option %d: %w", opt, err)
	}
	return nil
}

// exportMatches reports whether name selects the served export.
func (c *nbdConn) exportMatches(name []byte) bool {
	return len(name) == 0 || string(name) == c.srv.cfg.Export
}

// transmissionFlags are the flags advertised for the export; they depend on
// whether structured replies have been negotiated.
func (c *nbdConn) transmissionFlags() uint16 {
	f := nbdFlagHasFlags | nbdFlagSendFlush | nbdFlagSendFUA | nbdFlagCanMultiConn | nbdFlagSendCache
	if c.srv.cfg.ReadOnly {
		f |= nbdFlagReadOnly
	} else {
		f |= nbdFlagSendTrim | nbdFlagSendWriteZeroes
	}
	if c.structured {
		// Every read is answered with a single chunk, so "don't fragment"
		// costs nothing.
		f |= nbdFlagSendDF
	}
	return f
}

// enterTransmission records the export size and lifts the handshake
// deadline.
func (c *nbdConn) enterTransmission() {
	c.size = uint64(c.srv.cfg.Device.Size())
	c.setDeadline(time.Time{})
}

// optExportName answers NBD_OPT_EXPORT_NAME, which cannot report an error:
// an unknown export ends the connection.
func (c *nbdConn) optExportName(name []byte, tooBig, noZeroes bool) (bool, error) {
	if tooBig || !c.exportMatches(name) {
		return false, fmt.Errorf("nbd client asked for unknown export %q", truncateUTF8(string(name), 64))
	}
	c.enterTransmission()
	var b [10]byte
	binary.BigEndian.PutUint64(b[0:], c.size)
	binary.BigEndian.PutUint16(b[8:], c.transmissionFlags())
	c.bw.Write(b[:])
	if !noZeroes {
		c.bw.Write(zeroPad[:])
	}
	if err := c.bw.Flush(); err != nil {
		return false, fmt.Errorf("send nbd export info: %w", err)
	}
	return true, nil
}

// optInfo answers NBD_OPT_INFO and NBD_OPT_GO; it returns true when a GO
// succeeded and transmission begins.
func (c *nbdConn) optInfo(opt uint32, data []byte) (bool, error) {
	if len(data) < 6 {
		return false, c.optReply(opt, nbdRepErrInvalid, []byte("option data shorter than 6 bytes"))
	}
	nameLen := uint64(binary.BigEndian.Uint32(data[0:]))
	if nameLen > uint64(len(data)-6) {
		return false, c.optReply(opt, nbdRepErrInvalid, []byte("export name length exceeds option data"))
	}
	name := data[4 : 4+nameLen]
	rest := data[4+nameLen:]
	nInfo := int(binary.BigEndian.Uint16(rest))
	if len(rest) != 2+2*nInfo {
		return false, c.optReply(opt, nbdRepErrInvalid, []byte("information request count does not match option length"))
	}
	if !c.exportMatches(name) {
		return false, c.optReply(opt, nbdRepErrUnknown, []byte("no such export"))
	}
	var wantName, wantDescription bool
	for i := range nInfo {
		switch binary.BigEndian.Uint16(rest[2+2*i:]) {
		case nbdInfoName:
			wantName = true
		case nbdInfoDescription:
			wantDescription = true
		}
	}

	size := uint64(c.srv.cfg.Device.Size())
	export := make([]byte, 12)
	binary.BigEndian.PutUint16(export[0:], nbdInfoExport)
	binary.BigEndian.PutUint64(export[2:], size)
	binary.BigEndian.PutUint16(export[10:], c.transmissionFlags())
	if err := c.optReply(opt, nbdRepInfo, export); err != nil {
		return false, err
	}
	if wantName {
		if err := c.optReply(opt, nbdRepInfo, infoString(nbdInfoName, c.srv.cfg.Export)); err != nil {
			return false, err
		}
	}
	if wantDescription && c.srv.cfg.Description != "" {
		if err := c.optReply(opt, nbdRepInfo, infoString(nbdInfoDescription, c.srv.cfg.Description)); err != nil {
			return false, err
		}
	}
	// Block sizes are always sent: clients that did not ask may ignore them,
	// and the server enforces them either way.
	bs := make([]byte, 14)
	binary.BigEndian.PutUint16(bs[0:], nbdInfoBlockSize)
	binary.BigEndian.PutUint32(bs[2:], c.srv.blocks.minimum)
	binary.BigEndian.PutUint32(bs[6:], c.srv.blocks.preferred)
	binary.BigEndian.PutUint32(bs[10:], c.srv.blocks.maximum)
	if err := c.optReply(opt, nbdRepInfo, bs); err != nil {
		return false, err
	}
	if opt == nbdOptGo {
		c.enterTransmission()
	}
	if err := c.optReply(opt, nbdRepAck, nil); err != nil {
		return false, err
	}
	return opt == nbdOptGo, nil
}

// infoString encodes an NBD_REP_INFO payload carrying a string.
func infoString(typ uint16, s string) []byte {
	b := make([]byte, 2+len(s))
	binary.BigEndian.PutUint16(b, typ)
	copy(b[2:], s)
	return b
}

// optOther answers the options that neither end nor enter transmission.
func (c *nbdConn) optOther(opt uint32, data []byte) error {
	switch opt {
	case nbdOptList:
		if len(data) != 0 {
			return c.optReply(opt, nbdRepErrInvalid, []byte("NBD_OPT_LIST takes no data"))
		}
		name, desc := c.srv.cfg.Export, c.srv.cfg.Description
		server := make([]byte, 4+len(name)+len(desc))
		binary.BigEndian.PutUint32(server, uint32(len(name)))
		copy(server[4:], name)
		copy(server[4+len(name):], desc)
		if err := c.optReply(opt, nbdRepServer, server); err != nil {
			return err
		}
		return c.optReply(opt, nbdRepAck, nil)
	case nbdOptStartTLS:
		return c.optReply(opt, nbdRepErrPolicy, []byte("TLS is not offered on this socket"))
	case nbdOptStructuredReply:
		switch {
		case len(data) != 0:
			return c.optReply(opt, nbdRepErrInvalid, []byte("NBD_OPT_STRUCTURED_REPLY takes no data"))
		case c.structured:
			return c.optReply(opt, nbdRepErrInvalid, []byte("structured replies already negotiated"))
		}
		c.structured = true
		return c.optReply(opt, nbdRepAck, nil)
	}
	return c.optReply(opt, nbdRepErrUnsup, []byte("option not supported"))
}
