package cluster

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/internal/hastconf"
)

const clusterConf = `
cluster {
	profile fast
	tls-cert /etc/hast/node.crt
	tls-key /etc/hast/node.key
	tls-ca /etc/hast/ca.crt
	gossip-key 000102030405060708090a0b0c0d0e0f
	on hasta { raft 127.0.0.11:8458 gossip 127.0.0.11:8459 statedir /var/db/hast }
	on hastb { raft 127.0.0.12:8458 gossip 127.0.0.12:8459 statedir /var/db/hastb }
	witness hastw { raft 127.0.0.13:8458 gossip 127.0.0.13:8459 statedir /var/db/hast-witness }
}
`

func TestConfigFromHast(t *testing.T) {
	conf, err := hastconf.Parse("test.conf", []byte(clusterConf), hastconf.Identity{Name: "hastw"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromHast(conf.Cluster, "hastw")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Name: "hastw",
		Peers: []Peer{
			{Name: "hasta", RaftAddr: "127.0.0.11:8458", GossipAddr: "127.0.0.11:8459"},
			{Name: "hastb", RaftAddr: "127.0.0.12:8458", GossipAddr: "127.0.0.12:8459"},
			{Name: "hastw", RaftAddr: "127.0.0.13:8458", GossipAddr: "127.0.0.13:8459"},
		},
		StateDir:  "/var/db/hast-witness",
		Timing:    FastTiming(),
		TLSCert:   "/etc/hast/node.crt",
		TLSKey:    "/etc/hast/node.key",
		TLSCA:     "/etc/hast/ca.crt",
		GossipKey: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if _, err := ConfigFromHast(conf.Cluster, "hastx"); err == nil || !strings.Contains(err.Error(), "hastx is not in the cluster section") {
		t.Errorf("unknown node: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		return Config{Name: "a", StateDir: "/var/db/hast", Peers: []Peer{
			{Name: "a", RaftAddr: "10.0.0.1:8458", GossipAddr: "10.0.0.1:8459"},
			{Name: "b", RaftAddr: "10.0.0.2:8458"},
			{Name: "w", RaftAddr: "10.0.0.3:8458"},
		}}
	}
	if c := good(); c.Validate() != nil || c.timing() != LANTiming() {
		t.Fatalf("good config: %v, timing %+v", c.Validate(), c.timing())
	}
	tests := []struct {
		name   string
		change func(*Config)
		msg    string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "Name is empty"},
		{"not a peer", func(c *Config) { c.Name = "x" }, "node x is not among the peers"},
		{"peer twice", func(c *Config) { c.Peers[2].Name = "b" }, "peer b listed twice"},
		{"shared address", func(c *Config) { c.Peers[2].RaftAddr = "10.0.0.2:8458" }, "peers b and w share address 10.0.0.2:8458"},
		{"bad address", func(c *Config) { c.Peers[1].RaftAddr = "10.0.0.2" }, "peer b: address \"10.0.0.2\""},
		{"no raft address", func(c *Config) { c.Peers[1].RaftAddr = "" }, "peer b has no Raft address"},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "StateDir is empty"},
		{"partial TLS", func(c *Config) { c.TLSCert, c.TLSKey = "c", "k" }, "must be set together"},
		{"gossip key", func(c *Config) { c.GossipKey = make([]byte, 15) }, "GossipKey has 15 bytes"},
		{"election below heartbeat", func(c *Config) { c.Timing = LANTiming(); c.Timing.ElectionTimeout = 100 * time.Millisecond },
			"ElectionTimeout 100ms is shorter than HeartbeatTimeout 500ms"},
		{"lease above heartbeat", func(c *Config) { c.Timing = FastTiming(); c.Timing.LeaderLeaseTimeout = time.Second },
			"LeaderLeaseTimeout 1s is longer than HeartbeatTimeout 100ms"},
		{"tiny heartbeat", func(c *Config) { c.Timing = FastTiming(); c.Timing.HeartbeatTimeout = time.Millisecond },
			"HeartbeatTimeout 1ms is shorter than 5ms"},
		{"probe timeout", func(c *Config) { c.Timing = LANTiming(); c.Timing.ProbeTimeout = 2 * time.Second },
			"ProbeTimeout 2s is not shorter than ProbeInterval 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Validate() = %v, want %q", err, tt.msg)
			}
		})
	}
	for _, p := range []string{"lan", "fast", ""} {
		if tm, err := ProfileTiming(p); err != nil || tm.Validate() != nil {
			t.Errorf("profile %q: %v %v", p, err, tm.Validate())
		}
	}
	if _, err := ProfileTiming("wan"); err == nil {
		t.Error("profile wan accepted")
	}
	if err := InmemTiming().Validate(); err != nil {
		t.Errorf("InmemTiming: %v", err)
	}
}
