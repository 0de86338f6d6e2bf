package daemon

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

func TestReplicationBetweenDaemons(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	b := e.startNode("hastb", baseConf)
	b.mustRole("secondary", "r0")
	if st := b.status("r0"); st.Status != "" || st.Role != "secondary" {
		t.Fatalf("secondary without its primary: %+v", st)
	}
	a.mustRole("primary", "r0")
	waitFor(t, "both nodes complete", func() bool {
		return a.status("r0").Status == "complete" && b.status("r0").Status == "complete"
	})
	if st := b.status("r0"); st.WorkerPID == 0 || st.ExtentSize != testExtentSize {
		t.Fatalf("connected secondary: %+v", st)
	}

	c := dialNBD(t, e.path("a-r0.nbd"), "r0")
	if c.size != testProviderSize-4096-512 {
		t.Fatalf("export size %d", c.size)
	}
	data := make([]byte, 256<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	c.write(1<<20, data)
	c.write(3<<20, bytes.Repeat([]byte{0xab}, 64<<10))
	c.flush()
	waitFor(t, "the primary's requests to be answered", func() bool {
		st := a.status("r0")
		return st.Queues.Recv == 0 && st.Dirty == 0
	})
	if st := b.status("r0"); st.Stats.Writes < 2 {
		t.Fatalf("secondary statistics %+v", st.Stats)
	}

	a.mustRole("init", "r0")
	waitFor(t, "the secondary to notice", func() bool { return b.status("r0").Status == "" })
	b.mustRole("init", "r0")
	da, db := dataArea(t, e.path("a-r0.img")), dataArea(t, e.path("b-r0.img"))
	if !bytes.Equal(da[1<<20:][:len(data)], data) {
		t.Fatal("primary's provider lacks the data")
	}
	if !bytes.Equal(da, db) {
		t.Fatal("the providers' data areas differ")
	}
	a.waitHooks("role r0 init primary", "connect r0", "disconnect r0", "role r0 primary init")
	b.waitHooks("role r0 init secondary", "connect r0", "disconnect r0", "role r0 secondary init")
}

// hello is a valid Hello from hastb for res.
func hello(res string) *wire.Hello {
	return &wire.Hello{MinVersion: wire.MinVersion, MaxVersion: wire.MaxVersion, Resource: res, Node: "hastb",
		DataSize: 1 << 20, ExtentSize: testExtentSize, MaxIO: 1 << 20, Replication: wire.ReplicationMemsync}
}

// knock connects to addr from the IP from, sends h and returns the
// Welcome.
func knock(t *testing.T, from, addr string, h *wire.Hello) *wire.Welcome {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	enc, err := wire.NewEncoder(c, wire.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.WriteHello(h); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	dec, err := wire.NewDecoder(c, wire.Params{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := dec.ReadWelcome()
	if err != nil {
		t.Fatalf("welcome for %s from %s: %v", h.Resource, from, err)
	}
	return w
}

func TestIncomingRefusals(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	addr := net.JoinHostPort("127.0.0.11", strconv.Itoa(e.port))
	check := func(what, from, res string, code wire.WelcomeCode, wait bool) {
		t.Helper()
		w := knock(t, from, addr, hello(res))
		if w.Code != code || w.Wait != wait {
			t.Errorf("%s: welcome code %v wait %v (%q), want %v wait %v", what, w.Code, w.Wait, w.Message, code, wait)
		}
	}
	check("unknown resource", "127.0.0.12", "nosuch", wire.WelcomeUnknownResource, false)
	check("stranger", "127.0.0.13", "r0", wire.WelcomeAccessDenied, false)
	check("remote none", "127.0.0.12", "r1", wire.WelcomeAccessDenied, false)
	check("init", "127.0.0.12", "r0", wire.WelcomeRoleMismatch, false)
	a.mustRole("primary", "r0")
	check("primary", "127.0.0.12", "r0", wire.WelcomeRoleMismatch, true)
	a.mustRole("secondary", "r0")
	check("stranger to a secondary", "127.0.0.13", "r0", wire.WelcomeAccessDenied, false)
	if !bytes.Contains([]byte(a.logs.String()), []byte("Client 127.0.0.13 isn't known.")) {
		t.Error("refused stranger not logged as HAST logs it")
	}
}

// TestSecondaryNudgesPrimary: a secondary that comes back asks the primary
// to connect, and the primary does so at once instead of waiting out its
// backoff; a nudge from an address other than the remote node's is
// ignored.
func TestSecondaryNudgesPrimary(t *testing.T) {
	e := newEnv(t)
	a := e.startNode("hasta", baseConf)
	b := e.startNode("hastb", baseConf)
	b.mustRole("secondary", "r0")
	a.mustRole("primary", "r0")
	waitFor(t, "both nodes complete", func() bool {
		return a.status("r0").Status == "complete" && b.status("r0").Status == "complete"
	})
	b.mustRole("init", "r0")
	// The attempt after the drop is refused (hastb is in init); the
	// primary's next one waits at least two seconds.
	waitFor(t, "a refused connection attempt", func() bool {
		return strings.Contains(a.logs.String(), "not as secondary")
	})
	// hastb's first start may have nudged hasta too: count from here.
	const nudged = "the secondary is back: connecting now"
	before := strings.Count(a.logs.String(), nudged)
	b.mustRole("secondary", "r0")
	waitFor(t, "the nudge", func() bool {
		return strings.Count(a.logs.String(), nudged) > before
	})
	waitFor(t, "both nodes complete again", func() bool {
		return a.status("r0").Status == "complete" && b.status("r0").Status == "complete"
	})

	// A nudge from 127.0.0.13, not r0's remote node, changes nothing.
	b.mustRole("init", "r0")
	waitFor(t, "the primary to notice", func() bool { return a.status("r0").Status == "degraded" })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.13")}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", "127.0.0.11:"+strconv.Itoa(e.port))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := wire.NewEncoder(conn, wire.Params{})
	if err != nil {
		t.Fatal(err)
	}
	hello := &wire.Hello{MinVersion: wire.MinVersion, MaxVersion: wire.MaxVersion, Resource: "r0", Node: "intruder",
		DataSize: testProviderSize, ExtentSize: testExtentSize, MaxIO: 1 << 20, Replication: wire.ReplicationMemsync, Nudge: true}
	if err := enc.WriteHello(hello); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitFor(t, "the ignored nudge", func() bool {
		return strings.Contains(a.logs.String(), "nudge from 127.0.0.13, which isn't the remote node, ignored")
	})
}
