package daemon

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// nbdClient is the smallest NBD client the tests need: fixed newstyle
// handshake with NBD_OPT_EXPORT_NAME, then simple requests one at a time.
type nbdClient struct {
	t      *testing.T
	c      net.Conn
	size   uint64
	handle uint64
}

// dialNBD connects to the unix socket path and selects export.
func dialNBD(t *testing.T, path, export string) *nbdClient {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to NBD export: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	greeting := make([]byte, 18)
	if _, err := io.ReadFull(c, greeting); err != nil {
		t.Fatalf("NBD greeting: %v", err)
	}
	if string(greeting[:8]) != "NBDMAGIC" || string(greeting[8:16]) != "IHAVEOPT" {
		t.Fatalf("NBD greeting %q", greeting)
	}
	msg := binary.BigEndian.AppendUint32(nil, 3) // fixed newstyle, no zeroes
	msg = append(msg, "IHAVEOPT"...)
	msg = binary.BigEndian.AppendUint32(msg, 1) // NBD_OPT_EXPORT_NAME
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(export)))
	msg = append(msg, export...)
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("NBD option: %v", err)
	}
	info := make([]byte, 10)
	if _, err := io.ReadFull(c, info); err != nil {
		t.Fatalf("NBD export %q: %v", export, err)
	}
	c.SetDeadline(time.Time{})
	return &nbdClient{t: t, c: c, size: binary.BigEndian.Uint64(info)}
}

// do sends one request and returns the error value of its reply; a read
// fills data.
func (n *nbdClient) do(cmd uint16, off uint64, length uint32, data []byte) (uint32, error) {
	n.handle++
	n.c.SetDeadline(time.Now().Add(10 * time.Second))
	defer n.c.SetDeadline(time.Time{})
	req := binary.BigEndian.AppendUint32(nil, 0x25609513)
	req = binary.BigEndian.AppendUint16(req, 0)
	req = binary.BigEndian.AppendUint16(req, cmd)
	req = binary.BigEndian.AppendUint64(req, n.handle)
	req = binary.BigEndian.AppendUint64(req, off)
	req = binary.BigEndian.AppendUint32(req, length)
	if cmd == 1 {
		req = append(req, data...)
	}
	if _, err := n.c.Write(req); err != nil {
		return 0, err
	}
	rep := make([]byte, 16)
	if _, err := io.ReadFull(n.c, rep); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(rep) != 0x67446698 || binary.BigEndian.Uint64(rep[8:]) != n.handle {
		return 0, fmt.Errorf("bad NBD reply %x", rep)
	}
	errno := binary.BigEndian.Uint32(rep[4:])
	if cmd == 0 && errno == 0 {
		if _, err := io.ReadFull(n.c, data); err != nil {
			return 0, err
		}
	}
	return errno, nil
}

// write writes data at off and fails the test unless it succeeds.
func (n *nbdClient) write(off uint64, data []byte) {
	n.t.Helper()
	if errno, err := n.do(1, off, uint32(len(data)), data); err != nil || errno != 0 {
		n.t.Fatalf("NBD write %d bytes at %d: errno %d, %v", len(data), off, errno, err)
	}
}

// read reads len(data) bytes at off and fails the test unless it succeeds.
func (n *nbdClient) read(off uint64, data []byte) {
	n.t.Helper()
	if errno, err := n.do(0, off, uint32(len(data)), data); err != nil || errno != 0 {
		n.t.Fatalf("NBD read %d bytes at %d: errno %d, %v", len(data), off, errno, err)
	}
}

// flush flushes and fails the test unless it succeeds.
func (n *nbdClient) flush() {
	n.t.Helper()
	if errno, err := n.do(3, 0, 0, nil); err != nil || errno != 0 {
		n.t.Fatalf("NBD flush: errno %d, %v", errno, err)
	}
}
