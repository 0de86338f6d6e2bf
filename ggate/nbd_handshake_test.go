package ggate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestHandshakeGreeting(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	if got, want := rc.greet(), nbdFlagFixedNewstyle|nbdFlagNoZeroes; got != want {
		t.Fatalf("handshake flags %#x, want %#x", got, want)
	}
}

func TestHandshakeRefusesClientFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint32
	}{
		{"plain newstyle", 0},
		{"no zeroes without fixed newstyle", nbdFlagCNoZeroes},
		{"unknown flag", nbdFlagCFixedNewstyle | 1<<2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServer(t, NBDConfig{})
			rc := dialPipe(t, srv)
			rc.handshake(tc.flags)
			rc.expectClosed()
			if err := rc.serverErr(); !errors.Is(err, ErrProtocol) {
				t.Fatalf("ServeConn = %v, want ErrProtocol", err)
			}
		})
	}
}

func TestHandshakeBadOptionMagic(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	rc.send(be64(0x1122334455667788), be32(nbdOptList), be32(0))
	rc.expectClosed()
	if err := rc.serverErr(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ServeConn = %v, want ErrProtocol", err)
	}
}

func TestHandshakeTruncatedKeepsServerUp(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	for _, cut := range [][]byte{
		nil,
		{0, 0},
		be32(nbdFlagCFixedNewstyle),
		append(be32(nbdFlagCFixedNewstyle), be64(nbdOptMagic)[:5]...),
		append(be32(nbdFlagCFixedNewstyle), optionBytes(nbdOptGo, infoRequest("disk"))[:20]...),
	} {
		rc := dialPipe(t, srv)
		rc.greet()
		if len(cut) > 0 {
			rc.send(cut)
		}
		rc.conn.Close()
		if err := rc.serverErr(); err == nil {
			t.Fatalf("ServeConn after %d handshake bytes = nil, want an error", len(cut))
		}
	}
	rc := dialPipe(t, srv)
	rc.negotiate(false)
	rc.write(1, 0, []byte("still serving"))
	if got := rc.read(2, 0, 13); string(got) != "still serving" {
		t.Fatalf("read %q", got)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srv := newTestServer(t, NBDConfig{HandshakeTimeout: 50 * time.Millisecond})
	rc := dialPipe(t, srv)
	rc.greet()
	start := time.Now()
	rc.expectClosed()
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("idle handshake lasted %v", waited)
	}
	if err := rc.serverErr(); err == nil {
		t.Fatal("ServeConn = nil after handshake timeout")
	}
}

func TestOptExportName(t *testing.T) {
	dev := NewMemDevice(3 << 20)
	srv := newTestServer(t, NBDConfig{Device: dev})
	wantFlags := nbdFlagHasFlags | nbdFlagSendFlush | nbdFlagSendFUA | nbdFlagSendTrim |
		nbdFlagSendWriteZeroes | nbdFlagCanMultiConn | nbdFlagSendCache
	for _, tc := range []struct {
		name     string
		export   string
		noZeroes bool
	}{
		{"named with zeroes", "disk", false},
		{"default without zeroes", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialPipe(t, srv)
			flags := nbdFlagCFixedNewstyle
			if tc.noZeroes {
				flags |= nbdFlagCNoZeroes
			}
			rc.handshake(flags)
			rc.sendOption(nbdOptExportName, []byte(tc.export))
			b := rc.readN(10)
			if size := binary.BigEndian.Uint64(b); size != 3<<20 {
				t.Fatalf("export size %d, want %d", size, 3<<20)
			}
			if got := binary.BigEndian.Uint16(b[8:]); got != wantFlags {
				t.Fatalf("transmission flags %#x, want %#x", got, wantFlags)
			}
			if !tc.noZeroes {
				if pad := rc.readN(124); !bytes.Equal(pad, make([]byte, 124)) {
					t.Fatal("padding is not 124 zero bytes")
				}
			}
			// Without padding the next bytes are the reply itself.
			rc.write(7, 4096, []byte("abc"))
			if got := rc.read(8, 4096, 3); string(got) != "abc" {
				t.Fatalf("read %q", got)
			}
		})
	}
}

func TestOptExportNameUnknownCloses(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	rc.sendOption(nbdOptExportName, []byte("other"))
	rc.expectClosed()
	if err := rc.serverErr(); err == nil || !strings.Contains(err.Error(), "unknown export") {
		t.Fatalf("ServeConn = %v, want unknown export", err)
	}
}

func TestOptAbort(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	rc.sendOption(nbdOptAbort, nil)
	rc.expectOptReply(nbdOptAbort, nbdRepAck)
	rc.expectClosed()
	if err := rc.serverErr(); err != nil {
		t.Fatalf("ServeConn after abort = %v, want nil", err)
	}
}

func TestOptList(t *testing.T) {
	srv := newTestServer(t, NBDConfig{Export: "vol0", Description: "hast resource vol0"})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	rc.sendOption(nbdOptList, nil)
	r := rc.expectOptReply(nbdOptList, nbdRepServer)
	n := binary.BigEndian.Uint32(r.data)
	if name, rest := string(r.data[4:4+n]), string(r.data[4+n:]); name != "vol0" || rest != "hast resource vol0" {
		t.Fatalf("NBD_REP_SERVER (%q, %q)", name, rest)
	}
	rc.expectOptReply(nbdOptList, nbdRepAck)

	rc.sendOption(nbdOptList, []byte("x"))
	rc.expectOptReply(nbdOptList, nbdRepErrInvalid)
	// Negotiation goes on.
	rc.sendOption(nbdOptList, nil)
	rc.expectOptReply(nbdOptList, nbdRepServer)
	rc.expectOptReply(nbdOptList, nbdRepAck)
}

func TestOptInfo(t *testing.T) {
	dev := NewMemDevice(5 << 20)
	srv := newTestServer(t, NBDConfig{Export: "vol0", Description: "desc", Device: dev, MaxRequest: 1 << 20})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	infos, final := rc.info(nbdOptInfo, "", nbdInfoName, nbdInfoDescription, nbdInfoBlockSize, 77)
	if final.typ != nbdRepAck {
		t.Fatalf("NBD_OPT_INFO ended with %#x", final.typ)
	}
	export := infos[nbdInfoExport]
	if len(export) != 10 || binary.BigEndian.Uint64(export) != 5<<20 {
		t.Fatalf("NBD_INFO_EXPORT %x", export)
	}
	if flags := binary.BigEndian.Uint16(export[8:]); flags&nbdFlagSendDF != 0 {
		t.Fatalf("DF advertised without structured replies: %#x", flags)
	}
	if got := string(infos[nbdInfoName]); got != "vol0" {
		t.Fatalf("NBD_INFO_NAME %q", got)
	}
	if got := string(infos[nbdInfoDescription]); got != "desc" {
		t.Fatalf("NBD_INFO_DESCRIPTION %q", got)
	}
	bs := infos[nbdInfoBlockSize]
	if len(bs) != 12 {
		t.Fatalf("NBD_INFO_BLOCK_SIZE of %d bytes", len(bs))
	}
	if minimum, pref, maximum := binary.BigEndian.Uint32(bs), binary.BigEndian.Uint32(bs[4:]), binary.BigEndian.Uint32(bs[8:]); minimum != 1 || pref != 4096 || maximum != 1<<20 {
		t.Fatalf("block sizes %d/%d/%d, want 1/4096/%d", minimum, pref, maximum, 1<<20)
	}
	if len(infos) != 4 {
		t.Fatalf("got %d information types, want 4", len(infos))
	}
	// INFO does not leave negotiation: structured replies can still be asked.
	rc.sendOption(nbdOptStructuredReply, nil)
	rc.expectOptReply(nbdOptStructuredReply, nbdRepAck)
	infos, final = rc.info(nbdOptGo, "vol0")
	if final.typ != nbdRepAck {
		t.Fatalf("NBD_OPT_GO ended with %#x", final.typ)
	}
	if _, ok := infos[nbdInfoName]; ok {
		t.Fatal("NBD_INFO_NAME sent though not requested")
	}
	if flags := binary.BigEndian.Uint16(infos[nbdInfoExport][8:]); flags&nbdFlagSendDF == 0 {
		t.Fatalf("DF not advertised with structured replies: %#x", flags)
	}
	if got := rc.read(1, 0, 512); !bytes.Equal(got, make([]byte, 512)) {
		t.Fatal("read of a fresh device is not zero")
	}
}

func TestOptGoUnknownExportThenRetry(t *testing.T) {
	srv := newTestServer(t, NBDConfig{Export: "vol0"})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	infos, final := rc.info(nbdOptGo, "vol1")
	if final.typ != nbdRepErrUnknown || len(infos) != 0 {
		t.Fatalf("GO on unknown export: %d infos, final %#x", len(infos), final.typ)
	}
	if _, final = rc.info(nbdOptGo, "vol0"); final.typ != nbdRepAck {
		t.Fatalf("GO retry ended with %#x", final.typ)
	}
	rc.write(1, 0, []byte{1, 2, 3})
}

func TestOptGoMalformed(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	for _, data := range [][]byte{
		{},
		{0, 0, 0, 0, 0},
		append(be32(100), 0, 0),        // name longer than data
		append(infoRequest("disk"), 0), // trailing byte
		append(be32(0), be16(2)...),    // two requests announced, none sent
		append(append(be32(0), be16(1)...), 0, 3, 9), // odd length
	} {
		rc.sendOption(nbdOptGo, data)
		rc.expectOptReply(nbdOptGo, nbdRepErrInvalid)
	}
	if _, final := rc.info(nbdOptGo, "disk"); final.typ != nbdRepAck {
		t.Fatalf("valid GO ended with %#x", final.typ)
	}
}

func TestOptStructuredReply(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	rc.sendOption(nbdOptStructuredReply, []byte{1})
	rc.expectOptReply(nbdOptStructuredReply, nbdRepErrInvalid)
	rc.sendOption(nbdOptStructuredReply, nil)
	rc.expectOptReply(nbdOptStructuredReply, nbdRepAck)
	rc.sendOption(nbdOptStructuredReply, nil)
	rc.expectOptReply(nbdOptStructuredReply, nbdRepErrInvalid)
}

func TestOptStartTLSRefused(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	rc.sendOption(nbdOptStartTLS, nil)
	rc.expectOptReply(nbdOptStartTLS, nbdRepErrPolicy)
}

func TestOptUnknownUnsupported(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	// 4 is the withdrawn PEEK_EXPORT, 9 and 10 meta contexts, 11 extended
	// headers: none is implemented.
	for _, opt := range []uint32{0, 4, 9, 10, 11, 1 << 20} {
		rc.sendOption(opt, []byte("some data"))
		rc.expectOptReply(opt, nbdRepErrUnsup)
	}
	if _, final := rc.info(nbdOptGo, ""); final.typ != nbdRepAck {
		t.Fatalf("GO after unsupported options ended with %#x", final.typ)
	}
}

func TestOptOversized(t *testing.T) {
	srv := newTestServer(t, NBDConfig{})
	rc := dialPipe(t, srv)
	rc.handshake(nbdFlagCFixedNewstyle)
	big := make([]byte, maxOptionData+1)
	rc.sendOption(nbdOptGo, big)
	rc.expectOptReply(nbdOptGo, nbdRepErrTooBig)
	rc.sendOption(99, big)
	rc.expectOptReply(99, nbdRepErrUnsup)
	// Past the discard limit the server hangs up without reading.
	rc.send(be64(nbdOptMagic), be32(99), be32(maxOptionDiscard+1))
	rc.expectClosed()
	if err := rc.serverErr(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ServeConn = %v, want ErrProtocol", err)
	}
}
