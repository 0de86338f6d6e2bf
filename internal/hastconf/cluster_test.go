package hastconf

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// exampleCluster is the cluster section of testdata/cluster.conf.
var exampleCluster = Cluster{
	Failover:   true,
	Lease:      3 * time.Second,
	OnNoQuorum: OnNoQuorumSuspend,
	Profile:    "lan",
	TLSCert:    "/etc/hast/tls/node.crt",
	TLSKey:     "/etc/hast/tls/node.key",
	TLSCA:      "/etc/hast/tls/ca.crt",
	GossipKey:  []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	Nodes: []*ClusterNode{
		{Name: "hasta", Raft: "127.0.0.11:8458", Gossip: "127.0.0.11:8459", StateDir: "/var/db/hast", Line: 37},
		{Name: "hastb", Raft: "127.0.0.12:8458", Gossip: "127.0.0.12:8459", StateDir: "/var/db/hast", Line: 42},
	},
	Witness: &ClusterNode{Name: "hastw", Raft: "127.0.0.13:8458", Gossip: "127.0.0.13:8459",
		StateDir: "/var/db/hast-witness", Control: "/var/run/hast-witness.sock", Line: 47},
	Line:      28,
	closeLine: 53,
}

func TestClusterExample(t *testing.T) {
	path := filepath.Join("testdata", "cluster.conf")
	tests := []struct {
		host    string
		node    string
		witness bool
		shared  resourceWant
	}{
		{"hasta", "hasta", false, resourceWant{Name: "shared", Provider: "shared", Local: "/dev/ada0p4",
			Remote: "127.0.0.12", RemoteAddr: Addr{"tcp", "127.0.0.12:8457"}, Source: "127.0.0.11",
			SourceAddr: Addr{"tcp", "127.0.0.11:0"}, Replication: Memsync, Compression: Hole,
			Timeout: 20 * time.Second, MetaFlush: true, Line: 4}},
		{"hastb.example.org", "hastb", false, resourceWant{Name: "shared", Provider: "shared", Local: "/dev/ada0p4",
			Remote: "127.0.0.11", RemoteAddr: Addr{"tcp", "127.0.0.11:8457"}, Source: "127.0.0.12",
			SourceAddr: Addr{"tcp", "127.0.0.12:0"}, Replication: Memsync, Compression: Hole,
			Timeout: 20 * time.Second, MetaFlush: true, Line: 4}},
		// The witness gets the resource-level values only.
		{"hastw", "hastw", true, resourceWant{Name: "shared", Provider: "shared", Local: "/dev/ada0p4",
			Replication: Memsync, Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			cfg, err := bothFamilies.Load(path, Identity{Hostname: tt.host})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Node != tt.node || cfg.Witness != tt.witness {
				t.Errorf("Node, Witness = %q, %v; want %q, %v", cfg.Node, cfg.Witness, tt.node, tt.witness)
			}
			if !reflect.DeepEqual(*cfg.Cluster, exampleCluster) {
				t.Errorf("Cluster =\n%+v\nwant\n%+v", *cfg.Cluster, exampleCluster)
			}
			if got := resolved(cfg.Resource("shared")); got != tt.shared {
				t.Errorf("shared =\n%+v\nwant\n%+v", got, tt.shared)
			}
			if w := cfg.Resource("witness"); w == nil || w.Replication != Fullsync || len(w.Nodes) != 2 {
				t.Errorf("resource witness = %+v", w)
			}
		})
	}
}

func TestClusterDefaults(t *testing.T) {
	src := `cluster {
	on a { raft a:1 gossip a:2 statedir /s }
	on b { raft b:1 gossip b:2 statedir /s }
	witness w { raft [::1]:1 gossip [::1]:2 statedir /s }
}
`
	cfg := parseAs(t, "a", src)
	want := Cluster{
		Failover: true, Lease: DefaultLease, OnNoQuorum: OnNoQuorumSuspend, Profile: DefaultProfile,
		Nodes: []*ClusterNode{
			{Name: "a", Raft: "a:1", Gossip: "a:2", StateDir: "/s", Line: 2},
			{Name: "b", Raft: "b:1", Gossip: "b:2", StateDir: "/s", Line: 3},
		},
		Witness: &ClusterNode{Name: "w", Raft: "[::1]:1", Gossip: "[::1]:2", StateDir: "/s", Control: DefaultWitnessControl, Line: 4},
		Line:    1, closeLine: 5,
	}
	if !reflect.DeepEqual(*cfg.Cluster, want) {
		t.Errorf("Cluster =\n%+v\nwant\n%+v", *cfg.Cluster, want)
	}
	if cfg.Node != "a" || cfg.Witness || len(cfg.Resources) != 0 {
		t.Errorf("Node %q Witness %v Resources %d", cfg.Node, cfg.Witness, len(cfg.Resources))
	}
}

func TestClusterSettings(t *testing.T) {
	nodes := "\ton a { raft a:1 gossip a:2 statedir /s }\n\ton b { raft b:1 gossip b:2 statedir /s }\n" +
		"\twitness w { raft w:1 gossip w:2 statedir /s control uds:///run/w.sock }\n"
	tests := []struct {
		name, settings string
		check          func(c *Cluster) bool
	}{
		{"failover off", "failover off", func(c *Cluster) bool { return !c.Failover }},
		{"lease ms", "lease 1500ms", func(c *Cluster) bool { return c.Lease == 1500*time.Millisecond }},
		{"lease compound", "lease 1m30s", func(c *Cluster) bool { return c.Lease == 90*time.Second }},
		{"fast lease", "profile fast", func(c *Cluster) bool { return c.Lease == DefaultFastLease }},
		{"fast profile, lease given", "profile fast\n\tlease 2s", func(c *Cluster) bool { return c.Lease == 2*time.Second }},
		{"fence agent", "fence-agent /usr/local/sbin/ipmi-off", func(c *Cluster) bool { return c.FenceAgent == "/usr/local/sbin/ipmi-off" }},
		{"on-no-quorum error", "on-no-quorum error", func(c *Cluster) bool { return c.OnNoQuorum == OnNoQuorumError }},
		{"profile fast", "profile fast", func(c *Cluster) bool { return c.Profile == "fast" }},
		{"numeric 24-byte key", "gossip-key 012345678901234567890123456789012345678901234567", func(c *Cluster) bool {
			return len(c.GossipKey) == 24 && c.GossipKey[0] == 0x01 && c.GossipKey[23] == 0x67
		}},
		{"32-byte key", "gossip-key " + string(bytes.Repeat([]byte("aB"), 32)), func(c *Cluster) bool {
			return bytes.Equal(c.GossipKey, bytes.Repeat([]byte{0xab}, 32))
		}},
		{"witness control", "", func(c *Cluster) bool { return c.Witness.Control == "/run/w.sock" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseAs(t, "w", "cluster {\n\t"+tt.settings+"\n"+nodes+"}\n")
			if !cfg.Witness || cfg.Node != "w" {
				t.Errorf("Witness, Node = %v, %q; want true, w", cfg.Witness, cfg.Node)
			}
			if !tt.check(cfg.Cluster) {
				t.Errorf("Cluster = %+v", *cfg.Cluster)
			}
		})
	}
}

func TestWitnessSkipsResolution(t *testing.T) {
	// The witness has no `on` section in any resource: that is fine for
	// it, while each resource is still checked for both data nodes.
	src := `resource r {
	local /dev/r
	on a { remote b }
	on b { remote a }
}
cluster {
	on a { raft a:1 gossip a:2 statedir /s }
	on b { raft b:1 gossip b:2 statedir /s }
	witness w { raft w:1 gossip w:2 statedir /s }
}
`
	cfg := parseAs(t, "w.example.org", src)
	r := cfg.Resource("r")
	if !cfg.Witness || r.Local != "/dev/r" || r.Remote != "" || r.Provider != "r" {
		t.Errorf("Witness %v, Local %q, Remote %q, Provider %q", cfg.Witness, r.Local, r.Remote, r.Provider)
	}
	// Without the cluster section the witness host is just a host that is
	// not in the resource: HAST's error.
	classic := src[:len(src)-len("cluster {\n\ton a { raft a:1 gossip a:2 statedir /s }\n\ton b { raft b:1 gossip b:2 statedir /s }\n\twitness w { raft w:1 gossip w:2 statedir /s }\n}\n")]
	_, err := bothFamilies.Parse("test.conf", []byte(classic), Identity{Hostname: "w.example.org"})
	want := "test.conf:5: No resource r configuration for this node (acceptable node names: w, w.example.org) near '}'"
	if err == nil || err.Error() != want {
		t.Errorf("classic witness: error = %v, want %s", err, want)
	}
}
