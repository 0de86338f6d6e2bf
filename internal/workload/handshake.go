package workload

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
)

// handshake runs the client side of the fixed newstyle negotiation on conn,
// whose incoming bytes are read through br, and selects export. It returns
// the export size and transmission flags once the connection is in the
// transmission phase.
func handshake(conn net.Conn, br *bufio.Reader, export string) (size int64, flags uint16, err error) {
	var g [nbdGreetingLen]byte
	if _, err := io.ReadFull(br, g[:]); err != nil {
		return 0, 0, fmt.Errorf("read greeting: %w", err)
	}
	if magic := binary.BigEndian.Uint64(g[0:]); magic != nbdMagic {
		return 0, 0, fmt.Errorf("%w: greeting magic %#x, not an nbd server", ErrProtocol, magic)
	}
	switch magic := binary.BigEndian.Uint64(g[8:]); magic {
	case nbdOptMagic:
	case nbdOldstyleMagic:
		return 0, 0, fmt.Errorf("%w: server speaks only the oldstyle handshake", ErrProtocol)
	default:
		return 0, 0, fmt.Errorf("%w: greeting magic %#x after NBDMAGIC", ErrProtocol, magic)
	}
	serverFlags := binary.BigEndian.Uint16(g[16:])
	if serverFlags&nbdFlagFixedNewstyle == 0 {
		return 0, 0, fmt.Errorf("%w: server does not speak the fixed newstyle handshake", ErrProtocol)
	}
	clientFlags := nbdFlagCFixedNewstyle
	noZeroes := serverFlags&nbdFlagNoZeroes != 0
	if noZeroes {
		clientFlags |= nbdFlagCNoZeroes
	}

	// NBD_OPT_GO data: the name, then no information requests; the server
	// sends NBD_INFO_EXPORT regardless.
	data := binary.BigEndian.AppendUint32(nil, uint32(len(export)))
	data = append(data, export...)
	data = binary.BigEndian.AppendUint16(data, 0)
	msg := binary.BigEndian.AppendUint32(nil, clientFlags)
	msg = appendOption(msg, nbdOptGo, data)
	if _, err := conn.Write(msg); err != nil {
		return 0, 0, fmt.Errorf("send NBD_OPT_GO: %w", err)
	}

	var haveExport bool
	for {
		typ, reply, err := readOptReply(br, nbdOptGo)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case typ == nbdRepInfo:
			if len(reply) < 2 {
				return 0, 0, fmt.Errorf("%w: NBD_REP_INFO of %d bytes", ErrProtocol, len(reply))
			}
			// Information the client did not ask for is ignored.
			if binary.BigEndian.Uint16(reply) != nbdInfoExport {
				continue
			}
			if len(reply) != 12 {
				return 0, 0, fmt.Errorf("%w: NBD_INFO_EXPORT of %d bytes", ErrProtocol, len(reply))
			}
			if size, err = exportSize(binary.BigEndian.Uint64(reply[2:])); err != nil {
				return 0, 0, err
			}
			flags = binary.BigEndian.Uint16(reply[10:])
			haveExport = true
		case typ == nbdRepAck:
			if !haveExport {
				return 0, 0, fmt.Errorf("%w: NBD_OPT_GO acknowledged without NBD_INFO_EXPORT", ErrProtocol)
			}
			return size, flags, nil
		case typ == nbdRepErrUnsup:
			return exportName(conn, br, export, noZeroes)
		case typ&nbdRepFlagError != 0:
			// The reply is final; abort politely, the connection is closed
			// either way.
			conn.Write(appendOption(nil, nbdOptAbort, nil))
			why := fmt.Sprintf("%s (reply type %#x)", optReplyName(typ), typ)
			if len(reply) > 0 {
				why += fmt.Sprintf(": %q", reply)
			}
			return 0, 0, fmt.Errorf("server refused export %q: %s", export, why)
		default:
			return 0, 0, fmt.Errorf("%w: reply type %#x to NBD_OPT_GO", ErrProtocol, typ)
		}
	}
}

// exportName selects export with NBD_OPT_EXPORT_NAME, for servers without
// NBD_OPT_GO. That option has no error reply: a server that does not know
// the export closes the connection.
func exportName(conn net.Conn, br *bufio.Reader, export string, noZeroes bool) (int64, uint16, error) {
	if _, err := conn.Write(appendOption(nil, nbdOptExportName, []byte(export))); err != nil {
		return 0, 0, fmt.Errorf("send NBD_OPT_EXPORT_NAME: %w", err)
	}
	n := 10
	if !noZeroes {
		n += nbdZeroPadLen
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, 0, fmt.Errorf("server closed the connection on NBD_OPT_EXPORT_NAME, export %q unknown to it: %w", export, err)
		}
		return 0, 0, fmt.Errorf("read reply to NBD_OPT_EXPORT_NAME: %w", err)
	}
	size, err := exportSize(binary.BigEndian.Uint64(b))
	if err != nil {
		return 0, 0, err
	}
	return size, binary.BigEndian.Uint16(b[8:]), nil
}

// exportSize checks that an announced size fits an int64.
func exportSize(v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: export size %d", ErrProtocol, v)
	}
	return int64(v), nil
}

// appendOption appends an option request to b.
func appendOption(b []byte, opt uint32, data []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, nbdOptMagic)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// readOptReply reads one reply to option opt and returns its type and data.
func readOptReply(br *bufio.Reader, opt uint32) (uint32, []byte, error) {
	var h [nbdOptReplyHeaderLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, fmt.Errorf("read option reply: %w", err)
	}
	if magic := binary.BigEndian.Uint64(h[0:]); magic != nbdOptReplyMagic {
		return 0, nil, fmt.Errorf("%w: option reply magic %#x", ErrProtocol, magic)
	}
	if got := binary.BigEndian.Uint32(h[8:]); got != opt {
		return 0, nil, fmt.Errorf("%w: reply to option %d while option %d was sent", ErrProtocol, got, opt)
	}
	typ := binary.BigEndian.Uint32(h[12:])
	n := binary.BigEndian.Uint32(h[16:])
	if n > maxOptReply {
		return 0, nil, fmt.Errorf("%w: option reply of %d bytes", ErrProtocol, n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(br, data); err != nil {
		return 0, nil, fmt.Errorf("read %d bytes of option reply: %w", n, err)
	}
	return typ, data, nil
}
