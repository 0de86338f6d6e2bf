package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// secondary serves one connection: handshake, then requests against an
// in-memory disk of 4 KiB blocks until the primary closes.
func secondary(conn net.Conn, disk map[uint64][]byte) error {
	dec, err := NewDecoder(conn, Params{})
	if err != nil {
		return err
	}
	h, err := dec.ReadHello()
	if err != nil {
		return err
	}
	v, err := NegotiateVersion(h.MinVersion, h.MaxVersion)
	if err != nil {
		return err
	}
	enc, err := NewEncoder(conn, Params{Version: v, Checksum: h.Checksum, Compression: h.Compression})
	if err != nil {
		return err
	}
	w := &Welcome{Version: v, DataSize: h.DataSize, ExtentSize: h.ExtentSize, ResUID: h.ResUID,
		SyncSource: SyncFromPrimary, MaxIO: min(h.MaxIO, 256<<10)}
	if err := enc.WriteWelcome(w); err != nil {
		return err
	}
	p, err := Agree(h, w)
	if err != nil {
		return err
	}
	if err := dec.SetParams(p); err != nil {
		return err
	}
	if err := enc.SetParams(p); err != nil {
		return err
	}
	buf := make([]byte, p.MaxIO)
	for {
		req, err := dec.ReadRequest()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rep := Reply{ID: req.ID, Flags: ReplyDone}
		var data []byte
		switch req.Command {
		case CmdWrite:
			payload, err := dec.ReadPayload(buf)
			if err != nil {
				return err
			}
			if req.Flags&FlagMemsync != 0 {
				if err := enc.WriteReply(&Reply{ID: req.ID, Flags: ReplyReceived}, nil); err != nil {
					return err
				}
			}
			disk[req.Offset] = bytes.Clone(payload)
		case CmdRead:
			data = disk[req.Offset]
		default:
			rep.Status = StatusENOTSUP
		}
		if err := enc.WriteReply(&rep, data); err != nil {
			return err
		}
		if err := enc.Flush(); err != nil {
			return err
		}
	}
}

func TestLoopbackTCPFullDuplex(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	disk := map[uint64][]byte{}
	srvErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer conn.Close()
		srvErr <- secondary(conn, disk)
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hello := sampleHello()
	enc, err := NewEncoder(conn, Params{Checksum: hello.Checksum, Compression: hello.Compression})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(conn, Params{MaxIO: int(hello.MaxIO)})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.WriteHello(hello); err != nil {
		t.Fatal(err)
	}
	w, err := dec.ReadWelcome()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Agree(hello, w)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxIO != 256<<10 {
		t.Fatalf("agreed max I/O %d, want %d", p.MaxIO, 256<<10)
	}
	if err := enc.SetParams(p); err != nil {
		t.Fatal(err)
	}
	if err := dec.SetParams(p); err != nil {
		t.Fatal(err)
	}

	// Block i holds a payload of size 4 KiB << (i % 7), every other one text.
	const blocks = 100
	contents := make([][]byte, blocks)
	for i := range contents {
		contents[i] = randomPayload(4096<<(i%7), uint64(i))
		if i%2 == 0 {
			contents[i] = textPayload(4096 << (i % 7))
		}
	}
	block := func(i int) []byte { return contents[i] }
	var ids IDAllocator
	kind := map[uint64]string{}
	var mu sync.Mutex
	writerErr := make(chan error, 1)
	go func() {
		writerErr <- func() error {
			send := func(r Request, payload []byte, k string) error {
				mu.Lock()
				kind[r.ID] = k
				mu.Unlock()
				return enc.WriteRequest(&r, payload)
			}
			for i := range blocks {
				data := block(i)
				r := Request{ID: ids.Next(), Command: CmdWrite, Offset: uint64(i) << 20, Length: uint64(len(data))}
				if i%3 == 0 {
					r.Flags = FlagMemsync
				}
				if err := send(r, data, "write"); err != nil {
					return err
				}
			}
			for i := range blocks {
				r := Request{ID: ids.Next(), Command: CmdRead, Offset: uint64(i) << 20, Length: uint64(len(block(i)))}
				if err := send(r, nil, "read"); err != nil {
					return err
				}
			}
			if err := send(Request{ID: ids.Next(), Command: Command(300)}, nil, "future"); err != nil {
				return err
			}
			return enc.Flush()
		}()
	}()

	received := map[uint64]bool{}
	buf := make([]byte, p.MaxIO)
	for done := 0; done < 2*blocks+1; {
		rep, err := dec.ReadReply()
		if err != nil {
			t.Fatalf("ReadReply after %d replies: %v", done, err)
		}
		mu.Lock()
		k := kind[rep.ID]
		mu.Unlock()
		if rep.Flags == ReplyReceived {
			if received[rep.ID] {
				t.Fatalf("reply %d: received twice", rep.ID)
			}
			received[rep.ID] = true
			continue
		}
		done++
		switch k {
		case "write":
			i := int(rep.ID - 1)
			if i%3 == 0 && !received[rep.ID] {
				t.Errorf("memsync write %d: done before received", rep.ID)
			}
			if rep.Status != StatusOK {
				t.Errorf("write %d: %v", rep.ID, rep.Status)
			}
		case "read":
			i := int(rep.ID - 1 - blocks)
			data, err := dec.ReadPayload(buf)
			if err != nil {
				t.Fatalf("read %d payload: %v", rep.ID, err)
			}
			if !bytes.Equal(data, block(i)) {
				t.Errorf("read %d: block %d differs", rep.ID, i)
			}
		case "future":
			if !errors.Is(rep.Status.Err(), StatusENOTSUP.Errno()) {
				t.Errorf("unknown command answered %v, want ENOTSUP", rep.Status)
			}
		default:
			t.Fatalf("reply to unknown request %d", rep.ID)
		}
	}
	if err := <-writerErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	if err := <-srvErr; err != nil {
		t.Fatalf("secondary: %v", err)
	}
	if len(disk) != blocks {
		t.Errorf("secondary holds %d blocks, want %d", len(disk), blocks)
	}
}
