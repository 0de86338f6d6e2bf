package ggate

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// fuzzSession concatenates what a client would send, without waiting for
// replies: the server reads it in order either way.
func fuzzSession(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// FuzzNBDServer feeds arbitrary client bytes to one connection, then checks
// that the connection ended in bounded time and that the server still
// serves a well-behaved client. A panic anywhere fails the run.
//
// Coverage varies with goroutine scheduling, so the fuzzer keeps finding
// "new" inputs and by default spends up to a minute minimising each; run it
// with -fuzzminimizetime=20x to keep it fuzzing.
func FuzzNBDServer(f *testing.F) {
	flags := be32(nbdFlagCFixedNewstyle | nbdFlagCNoZeroes)
	goDefault := optionBytes(nbdOptGo, infoRequest("", nbdInfoBlockSize, nbdInfoName))
	requests := fuzzSession(
		requestBytes(0, nbdCmdWrite, 1, 0, 8, []byte("abcdefgh")),
		requestBytes(nbdCmdFlagFUA, nbdCmdWrite, 2, 4096, 4, []byte("wxyz")),
		requestBytes(0, nbdCmdRead, 3, 0, 16, nil),
		requestBytes(nbdCmdFlagDF, nbdCmdRead, 4, 4090, 10, nil),
		requestBytes(0, nbdCmdFlush, 5, 0, 0, nil),
		requestBytes(0, nbdCmdTrim, 6, 0, 512, nil),
		requestBytes(nbdCmdFlagNoHole, nbdCmdWriteZeroes, 7, 8192, 70000, nil),
		requestBytes(0, nbdCmdCache, 8, 0, 4096, nil),
		requestBytes(0, 7, 9, 0, 4096, nil),
		requestBytes(0, nbdCmdRead, 10, 1<<20-1, 2, nil),
		requestBytes(0, nbdCmdWrite, 11, 0, 70000, make([]byte, 70000)),
	)
	disc := requestBytes(0, nbdCmdDisc, 99, 0, 0, nil)
	f.Add(fuzzSession(flags, goDefault, requests, disc))
	f.Add(fuzzSession(flags,
		optionBytes(nbdOptStructuredReply, nil),
		optionBytes(nbdOptList, nil),
		optionBytes(nbdOptInfo, infoRequest("fuzz", nbdInfoDescription)),
		optionBytes(nbdOptStartTLS, nil),
		optionBytes(10, []byte("base:allocation")),
		goDefault, requests, disc))
	f.Add(fuzzSession(be32(nbdFlagCFixedNewstyle), optionBytes(nbdOptExportName, []byte("fuzz")), requests))
	f.Add(fuzzSession(flags, optionBytes(nbdOptGo, infoRequest("nope")), optionBytes(nbdOptAbort, nil)))
	f.Add(fuzzSession(flags, goDefault, requestBytes(0, nbdCmdWrite, 1, 0, 1<<20, nil)))
	f.Add([]byte("NBDMAGIC garbage \x00\xff"))

	dev := NewMemDevice(1 << 20)
	srv, err := NewNBDServer(NBDConfig{
		Export:           "fuzz",
		Device:           dev,
		MaxRequest:       64 << 10,
		MaxInFlight:      4,
		HandshakeTimeout: 2 * time.Second,
		Logger:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- srv.ServeConn(server) }()
		go io.Copy(io.Discard, client)
		client.SetDeadline(time.Now().Add(5 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("connection still served 5s after the client closed (%d input bytes)", len(data))
		}

		rc := dialPipe(t, srv)
		rc.negotiate(true)
		want := []byte("good client")
		rc.write(1, 512<<10, want)
		if got := rc.read(2, 512<<10, uint32(len(want))); !bytes.Equal(got, want) {
			t.Fatalf("good client read %q after fuzz input", got)
		}
		rc.request(0, nbdCmdDisc, 3, 0, 0, nil)
		if err := rc.serverErr(); err != nil {
			t.Fatalf("good client's connection ended with %v", err)
		}
	})
}
