package cluster

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTLSIdentityHandshake(t *testing.T) {
	dir := t.TempDir()
	ca := NewTestCA(t, "cluster CA")
	load := func(name, ip string) *TLSIdentity {
		t.Helper()
		id, err := LoadTLSIdentity(ca.Issue(t, dir, name, net.ParseIP(ip)))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b := load("hasta", "127.0.0.11"), load("hastb", "127.0.0.12")
	// handshake runs client against server over loopback TCP and returns
	// the errors of both sides.
	handshake := func(client, server *tls.Config) (cerr, serr error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			s := tls.Server(c, server)
			err = s.Handshake()
			if err == nil {
				// A TLS 1.3 client finishes before the server has checked
				// its certificate: read to learn the verdict.
				_, err = s.Read(make([]byte, 1))
			}
			done <- err
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Client(c, client)
		cerr = tc.Handshake()
		if cerr == nil {
			_, cerr = tc.Write([]byte{1})
		}
		if cerr != nil {
			c.Close()
		}
		return cerr, <-done
	}
	tests := []struct {
		name           string
		client, server *tls.Config
		clientErr      string
		serverErr      string
	}{
		{"mutual", a.ClientConfig([]Peer{{Name: "hastb"}}), b.ServerConfig([]Peer{{Name: "hasta"}}), "", ""},
		{"by IP", a.ClientConfig([]Peer{{Name: "127.0.0.12"}}), b.ServerConfig([]Peer{{Name: "x", RaftAddr: "127.0.0.11:1"}}), "", ""},
		{"server names another", a.ClientConfig([]Peer{{Name: "hastc"}}), b.ServerConfig([]Peer{{Name: "hasta"}}), "names none of hastc", "bad certificate"},
		{"client names another", a.ClientConfig([]Peer{{Name: "hastb"}}), b.ServerConfig([]Peer{{Name: "hastc"}}), "", "names none of hastc"},
		{"nobody expected", a.ClientConfig(nil), b.ServerConfig([]Peer{{Name: "hasta"}}), "no peer is expected", "bad certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cerr, serr := handshake(tt.client, tt.server)
			for _, side := range []struct {
				who  string
				err  error
				want string
			}{{"client", cerr, tt.clientErr}, {"server", serr, tt.serverErr}} {
				switch {
				case side.want == "" && side.err != nil:
					t.Errorf("%s: %v", side.who, side.err)
				case side.want != "" && (side.err == nil || !strings.Contains(side.err.Error(), side.want)):
					t.Errorf("%s: %v, want %q", side.who, side.err, side.want)
				}
			}
		})
	}
	if _, err := LoadTLSIdentity(dir+"/none.crt", dir+"/none.key", dir+"/none-ca.crt"); err == nil {
		t.Error("identity loaded from missing files")
	}
}
