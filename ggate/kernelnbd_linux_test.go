package ggate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestKernelNBDHandshake(t *testing.T) {
	dev := NewMemDevice(4 << 20)
	dev.WriteAt([]byte("kernel"), 8192)
	srv := newTestServer(t, NBDConfig{Device: dev})
	client, server := net.Pipe()
	defer client.Close()
	go srv.ServeConn(server)
	client.SetDeadline(time.Now().Add(testTimeout))

	size, flags, err := kernelNBDHandshake(client)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if size != 4<<20 {
		t.Errorf("size %d, want %d", size, 4<<20)
	}
	want := nbdFlagHasFlags | nbdFlagSendFlush | nbdFlagSendFUA | nbdFlagSendTrim | nbdFlagSendWriteZeroes
	if flags&want != want || flags&nbdFlagReadOnly != 0 {
		t.Errorf("transmission flags %#x, want %#x set and read-only clear", flags, want)
	}

	// The connection is in transmission with simple replies, as the
	// kernel's client expects.
	req := binary.BigEndian.AppendUint32(nil, nbdRequestMagic)
	req = binary.BigEndian.AppendUint16(req, 0)
	req = binary.BigEndian.AppendUint16(req, nbdCmdRead)
	req = binary.BigEndian.AppendUint64(req, 77)
	req = binary.BigEndian.AppendUint64(req, 8192)
	req = binary.BigEndian.AppendUint32(req, 6)
	if _, err := client.Write(req); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 16+6)
	if _, err := io.ReadFull(client, reply); err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(reply) != nbdSimpleReplyMagic || binary.BigEndian.Uint32(reply[4:]) != 0 ||
		binary.BigEndian.Uint64(reply[8:]) != 77 || string(reply[16:]) != "kernel" {
		t.Errorf("read reply %x, want a simple reply for handle 77 with %q", reply, "kernel")
	}
}

func TestKernelNBDHandshakeRefusesOtherServers(t *testing.T) {
	for name, greeting := range map[string][]byte{
		"oldstyle":       append(binary.BigEndian.AppendUint64(nil, nbdMagic), bytes.Repeat([]byte{0}, 10)...),
		"not fixed":      append(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, nbdMagic), nbdOptMagic), 0, 0),
		"short":          binary.BigEndian.AppendUint64(nil, nbdMagic),
		"not nbd at all": []byte("SSH-2.0-OpenSSH_9.2p1\r\n"),
	} {
		rw := &struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(greeting), io.Discard}
		if _, _, err := kernelNBDHandshake(rw); err == nil {
			t.Errorf("%s: handshake succeeded", name)
		}
	}
}

func TestKernelNBDAttach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/sys/module/nbd"); err != nil {
		t.Skip("the nbd kernel module is not loaded (/sys/module/nbd missing)")
	}
	dev := NewMemDevice(64 << 20)
	srv := newTestServer(t, NBDConfig{Device: dev})
	sock, _ := serveUnix(t, srv)
	dir := t.TempDir()
	f, err := Attach(FrontendConfig{
		Kind: FrontendKernelNBD, Name: "k0", Device: dev, SectorSize: 4096,
		DevDir: dir, NBDSocket: sock, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	defer f.Detach(true)
	if target, err := os.Readlink(f.Path()); err != nil || target != f.Device() {
		t.Fatalf("link %s -> %q, %v; want %s", f.Path(), target, err, f.Device())
	}
	fh, err := os.OpenFile(f.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("via /dev/nbd "), 315)
	if _, err := fh.WriteAt(msg, 1<<20); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	fh.Close()
	got := make([]byte, len(msg))
	dev.ReadAt(got, 1<<20)
	if !bytes.Equal(got, msg) {
		t.Error("write through /dev/nbd did not reach the device")
	}
	if dev.Flushes() == 0 {
		t.Error("sync did not reach Device.Flush")
	}
	if err := f.Detach(false); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	if _, err := os.Lstat(f.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link still there: %v", err)
	}
}
