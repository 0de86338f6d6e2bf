package ggate

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// benchConn negotiates a structured-reply connection over a unix socket
// without the test client's allocations.
func benchConn(b *testing.B, dev Device) net.Conn {
	b.Helper()
	srv := newTestServer(b, NBDConfig{Device: dev, Logger: slog.New(slog.DiscardHandler)})
	path := filepath.Join(shortTempDir(b), "b.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	rc := dialUnix(b, path)
	rc.negotiate(true)
	rc.conn.SetDeadline(time.Time{})
	return rc.conn
}

// benchRequests pipelines b.N requests of size bytes, depth at a time, and
// reads the replies on another goroutine.
func benchRequests(b *testing.B, cmd uint16, size, depth int) {
	const span = 64 << 20
	conn := benchConn(b, NewMemDevice(span))
	req := requestBytes(0, cmd, 0, 0, uint32(size), nil)
	if cmd == nbdCmdWrite {
		req = append(req, make([]byte, size)...)
	}
	credits := make(chan struct{}, depth)
	for range depth {
		credits <- struct{}{}
	}
	done := make(chan error, 1)
	go func() {
		done <- readBenchReplies(conn, b.N, size, credits)
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		<-credits
		binary.BigEndian.PutUint64(req[16:], uint64(i*size)%span)
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkNBDRead4KQD32(b *testing.B)  { benchRequests(b, nbdCmdRead, 4096, 32) }
func BenchmarkNBDWrite4KQD32(b *testing.B) { benchRequests(b, nbdCmdWrite, 4096, 32) }
func BenchmarkNBDRead1MQD8(b *testing.B)   { benchRequests(b, nbdCmdRead, 1<<20, 8) }
func BenchmarkNBDWrite1MQD8(b *testing.B)  { benchRequests(b, nbdCmdWrite, 1<<20, 8) }

// readBenchReplies reads n replies (simple, or structured with payload) and
// returns a credit for each.
func readBenchReplies(conn net.Conn, n, size int, credits chan<- struct{}) error {
	hdr := make([]byte, 20)
	data := make([]byte, 8+size)
	for range n {
		if _, err := io.ReadFull(conn, hdr[:4]); err != nil {
			return err
		}
		switch binary.BigEndian.Uint32(hdr) {
		case nbdSimpleReplyMagic:
			if _, err := io.ReadFull(conn, hdr[4:16]); err != nil {
				return err
			}
		case nbdStructuredReplyMagic:
			if _, err := io.ReadFull(conn, hdr[4:20]); err != nil {
				return err
			}
			if _, err := io.ReadFull(conn, data[:binary.BigEndian.Uint32(hdr[16:])]); err != nil {
				return err
			}
		default:
			return fmt.Errorf("reply magic %#x", hdr[:4])
		}
		credits <- struct{}{}
	}
	return nil
}
