package hastconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// bothFamilies pretends the kernel supports IPv4 and IPv6.
var bothFamilies = &Parser{FamilySupported: func(string) bool { return true }}

// defaultListen is the listen list for a kernel with IPv4 and IPv6.
var defaultListen = []Addr{{"tcp4", "0.0.0.0:8457"}, {"tcp6", "[::]:8457"}}

// parseAs parses src as test.conf for the host called host.
func parseAs(t *testing.T, host, src string) *Config {
	t.Helper()
	cfg, err := bothFamilies.Parse("test.conf", []byte(src), Identity{Hostname: host})
	if err != nil {
		t.Fatalf("Parse as %s: %v", host, err)
	}
	return cfg
}

// resourceWant is the resolved part of a Resource a test checks.
type resourceWant struct {
	Name, Provider, Local, Remote string
	RemoteNone                    bool
	RemoteAddr                    Addr
	Source                        string
	SourceAddr                    Addr
	Replication                   Replication
	Checksum                      Checksum
	Compression                   Compression
	Timeout                       time.Duration
	Exec                          string
	MetaFlush                     bool
	Line                          int
}

func resolved(r *Resource) resourceWant {
	return resourceWant{r.Name, r.Provider, r.Local, r.Remote, r.RemoteNone, r.RemoteAddr, r.Source, r.SourceAddr,
		r.Replication, r.Checksum, r.Compression, r.Timeout, r.Exec, r.MetaFlush, r.Line}
}

func TestSeedConfigs(t *testing.T) {
	tests := []struct {
		file, host string
		node       string
		listen     []Addr
		res        resourceWant
		nodes      []ResourceNode
	}{
		{
			file: "handbook.conf", host: "hasta", node: "hasta", listen: defaultListen,
			res: resourceWant{Name: "test", Provider: "test", Local: "/dev/ad6", Remote: "172.16.0.2",
				RemoteAddr: Addr{"tcp", "172.16.0.2:8457"}, Replication: Memsync, Checksum: ChecksumNone,
				Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 1},
			nodes: []ResourceNode{
				{Name: "hasta", Local: "/dev/ad6", Remote: "172.16.0.2", RemoteAddr: Addr{"tcp", "172.16.0.2:8457"}, Line: 2},
				{Name: "hastb", Local: "/dev/ad6", Remote: "172.16.0.1", RemoteAddr: Addr{"tcp", "172.16.0.1:8457"}, Line: 6},
			},
		},
		{
			file: "handbook.conf", host: "hastb.example.org", node: "hastb", listen: defaultListen,
			res: resourceWant{Name: "test", Provider: "test", Local: "/dev/ad6", Remote: "172.16.0.1",
				RemoteAddr: Addr{"tcp", "172.16.0.1:8457"}, Replication: Memsync, Checksum: ChecksumNone,
				Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 1},
		},
		{
			file: "two-hosts.conf", host: "fbsd_h1", node: "fbsd_h1", listen: []Addr{{"tcp", "0.0.0.0:8457"}},
			res: resourceWant{Name: "shared", Provider: "shared", Local: "/dev/ada0p4", Remote: "tcp://10.0.0.231",
				RemoteAddr: Addr{"tcp", "10.0.0.231:8457"}, Replication: Memsync, Checksum: ChecksumNone,
				Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 2},
			nodes: []ResourceNode{
				{Name: "fbsd_h1", Remote: "tcp://10.0.0.231", RemoteAddr: Addr{"tcp", "10.0.0.231:8457"}, Line: 4},
				{Name: "fbsd_h2", Remote: "tcp://10.0.0.233", RemoteAddr: Addr{"tcp", "10.0.0.233:8457"}, Line: 7},
			},
		},
		{
			file: "two-hosts.conf", host: "fbsd_h2", node: "fbsd_h2", listen: []Addr{{"tcp", "0.0.0.0:8457"}},
			res: resourceWant{Name: "shared", Provider: "shared", Local: "/dev/ada0p4", Remote: "tcp://10.0.0.233",
				RemoteAddr: Addr{"tcp", "10.0.0.233:8457"}, Replication: Memsync, Checksum: ChecksumNone,
				Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.host, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			cfg, err := bothFamilies.Load(path, Identity{Hostname: tt.host})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.File != path || cfg.Node != tt.node || cfg.Witness || cfg.Cluster != nil {
				t.Errorf("File, Node, Witness, Cluster = %q, %q, %v, %v; want %q, %q, false, nil",
					cfg.File, cfg.Node, cfg.Witness, cfg.Cluster, path, tt.node)
			}
			if cfg.Control != (Addr{"unix", "/var/run/hastctl"}) || cfg.ControlPath != "/var/run/hastctl" {
				t.Errorf("Control = %+v, ControlPath = %q", cfg.Control, cfg.ControlPath)
			}
			if cfg.Pidfile != "/var/run/hastd.pid" {
				t.Errorf("Pidfile = %q", cfg.Pidfile)
			}
			if !reflect.DeepEqual(cfg.Listen, tt.listen) {
				t.Errorf("Listen = %v, want %v", cfg.Listen, tt.listen)
			}
			if len(cfg.Resources) != 1 {
				t.Fatalf("%d resources, want 1", len(cfg.Resources))
			}
			r := cfg.Resources[0]
			if got := resolved(r); got != tt.res {
				t.Errorf("resource =\n%+v\nwant\n%+v", got, tt.res)
			}
			if cfg.Resource(tt.res.Name) != r || cfg.Resource("nope") != nil {
				t.Errorf("Config.Resource does not find %q alone", tt.res.Name)
			}
			for i, want := range tt.nodes {
				if *r.Nodes[i] != want {
					t.Errorf("Nodes[%d] = %+v, want %+v", i, *r.Nodes[i], want)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "hast.conf"), Identity{Hostname: "hasta"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load error = %v, want fs.ErrNotExist", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Fatalf("Load error %v is an *Error", err)
	}
}

func TestLoadPackageFunctions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hast.conf")
	src := "listen 127.0.0.1\nresource r {\n\ton hasta { local /l remote x }\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, Identity{Hostname: "hasta"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Resource("r").Remote != "x" || cfg.File != path {
		t.Errorf("Load: Remote %q, File %q", cfg.Resource("r").Remote, cfg.File)
	}
	if _, err := Parse("inline", []byte(src), Identity{Hostname: "hastb"}); err == nil {
		t.Error("Parse as hastb succeeded, want no configuration for this node")
	}
}

func TestDefaultListenFamilies(t *testing.T) {
	tests := []struct {
		name   string
		family func(string) bool
		want   []Addr
	}{
		{"both", func(string) bool { return true }, defaultListen},
		{"ipv4 only", func(n string) bool { return n == "tcp4" }, []Addr{{"tcp4", "0.0.0.0:8457"}}},
		{"ipv6 only", func(n string) bool { return n == "tcp6" }, []Addr{{"tcp6", "[::]:8457"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := (&Parser{FamilySupported: tt.family}).Parse("test.conf", nil, Identity{Hostname: "hasta"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Listen, tt.want) {
				t.Errorf("Listen = %v, want %v", cfg.Listen, tt.want)
			}
		})
	}
	_, err := (&Parser{FamilySupported: func(string) bool { return false }}).Parse("test.conf", []byte("# only\n"), Identity{})
	want := "test.conf:1: No address to listen on (the kernel supports neither IPv4 nor IPv6) near end of file"
	if err == nil || err.Error() != want {
		t.Errorf("no family: error = %v, want %s", err, want)
	}
}

func TestKernelFamilyProbe(t *testing.T) {
	cfg, err := Parse("test.conf", nil, Identity{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listen) == 0 {
		t.Fatal("no default listen address")
	}
	if cfg.Listen[0] != defaultListenTCP4 && cfg.Listen[0] != defaultListenTCP6 {
		t.Errorf("Listen = %v, want the defaults", cfg.Listen)
	}
}

func TestEmptyConfig(t *testing.T) {
	cfg := parseAs(t, "hasta", "# nothing but a comment\n")
	want := &Config{
		File: "test.conf", Control: Addr{"unix", "/var/run/hastctl"}, ControlPath: "/var/run/hastctl",
		Pidfile: "/var/run/hastd.pid", Listen: defaultListen,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse = %+v, want %+v", cfg, want)
	}
}

func TestControlAndPidfile(t *testing.T) {
	tests := []struct {
		name, src   string
		control     Addr
		controlPath string
		pidfile     string
	}{
		{"defaults", "", Addr{"unix", "/var/run/hastctl"}, "/var/run/hastctl", "/var/run/hastd.pid"},
		{"global", "control /tmp/ctl\npidfile /tmp/pid\n", Addr{"unix", "/tmp/ctl"}, "/tmp/ctl", "/tmp/pid"},
		{"global uds", "control uds:///tmp/ctl\n", Addr{"unix", "/tmp/ctl"}, "/tmp/ctl", "/var/run/hastd.pid"},
		{"global last wins", "control /a\ncontrol unix:///b\n", Addr{"unix", "/b"}, "/b", "/var/run/hastd.pid"},
		{"tcp control has no path", "control tcp://127.0.0.1:9000\n", Addr{"tcp", "127.0.0.1:9000"}, "", "/var/run/hastd.pid"},
		{
			"node wins over a later global",
			"on hasta {\n control /node/ctl\n pidfile /node/pid\n}\ncontrol /global/ctl\npidfile /global/pid\n",
			Addr{"unix", "/node/ctl"}, "/node/ctl", "/node/pid",
		},
		{
			"other node ignored",
			"control /global/ctl\non hastb {\n control /b/ctl\n pidfile /b/pid\n}\n",
			Addr{"unix", "/global/ctl"}, "/global/ctl", "/var/run/hastd.pid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseAs(t, "hasta", tt.src)
			if cfg.Control != tt.control || cfg.ControlPath != tt.controlPath || cfg.Pidfile != tt.pidfile {
				t.Errorf("Control, ControlPath, Pidfile = %+v, %q, %q; want %+v, %q, %q",
					cfg.Control, cfg.ControlPath, cfg.Pidfile, tt.control, tt.controlPath, tt.pidfile)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	tests := []struct {
		name, host, src string
		want            Addr
	}{
		{"none", "hasta", "", Addr{}},
		{"tcp4 with port", "hasta", "metrics tcp4://127.0.0.1:9457\n", Addr{"tcp4", "127.0.0.1:9457"}},
		{"host:port", "hasta", "metrics 127.0.0.1:9100\n", Addr{"tcp", "127.0.0.1:9100"}},
		{"default port", "hasta", "metrics 10.0.0.1\n", Addr{"tcp", "10.0.0.1:9457"}},
		{"all addresses", "hasta", "metrics tcp4://0.0.0.0:9457\n", Addr{"tcp4", "0.0.0.0:9457"}},
		{"tcp6 default port", "hasta", "metrics tcp6://[::1]\n", Addr{"tcp6", "[::1]:9457"}},
		{"ipv6 without port", "hasta", "metrics ::\n", Addr{"tcp", "[::]:9457"}},
		{"upper-case prefix and host name", "hasta", "metrics TCP://localhost:1\n", Addr{"tcp", "localhost:1"}},
		{
			"node wins over a later global", "hasta",
			"on hasta {\n metrics 127.0.0.11:9457\n}\nmetrics 0.0.0.0:9457\n",
			Addr{"tcp", "127.0.0.11:9457"},
		},
		{
			"other node's section ignored", "hastb",
			"on hasta {\n metrics 127.0.0.11:9457\n}\nmetrics 0.0.0.0:9457\n",
			Addr{"tcp", "0.0.0.0:9457"},
		},
		{
			"node section only", "hastb",
			"on hasta {\n metrics 127.0.0.11\n}\non hastb {\n metrics 127.0.0.12\n control /b.ctl\n}\n",
			Addr{"tcp", "127.0.0.12:9457"},
		},
		{"a name elsewhere", "hasta", resourceSrc("metrics 0.0.0.0:1\n", "local /metrics\n", ""), Addr{"tcp", "0.0.0.0:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseAs(t, tt.host, tt.src).Metrics; got != tt.want {
				t.Errorf("Metrics = %+v, want %+v", got, tt.want)
			}
		})
	}
	// Still a plain word where it is not a keyword: a resource, a node
	// and a provider may be called metrics.
	src := "resource metrics {\n\tname metrics\n\ton metrics {\n\t\tlocal /l\n\t\tremote x\n\t}\n}\n"
	cfg, err := bothFamilies.Parse("test.conf", []byte(src), Identity{Name: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Resource("metrics"); r == nil || r.Provider != "metrics" || cfg.Metrics != (Addr{}) {
		t.Fatalf("metrics as a name: %+v", cfg)
	}
}

func TestListenAppends(t *testing.T) {
	src := `
listen 10.0.0.1
on hastb {
	listen 10.0.0.2
}
on hasta {
	listen tcp6://[fe80::1]:9000
	listen /tmp/listen.sock
}
listen tcp4://10.0.0.3:1
`
	want := []Addr{{"tcp", "10.0.0.1:8457"}, {"tcp6", "[fe80::1]:9000"}, {"unix", "/tmp/listen.sock"}, {"tcp4", "10.0.0.3:1"}}
	if got := parseAs(t, "hasta", src).Listen; !reflect.DeepEqual(got, want) {
		t.Errorf("hasta: Listen = %v, want %v", got, want)
	}
	want = []Addr{{"tcp", "10.0.0.1:8457"}, {"tcp", "10.0.0.2:8457"}, {"tcp4", "10.0.0.3:1"}}
	if got := parseAs(t, "hastb", src).Listen; !reflect.DeepEqual(got, want) {
		t.Errorf("hastb: Listen = %v, want %v", got, want)
	}
	nodeOnly := "on hasta {\n listen 10.0.0.9\n}\n"
	if got := parseAs(t, "hasta", nodeOnly).Listen; !reflect.DeepEqual(got, []Addr{{"tcp", "10.0.0.9:8457"}}) {
		t.Errorf("node only: Listen = %v", got)
	}
	if got := parseAs(t, "hastb", nodeOnly).Listen; !reflect.DeepEqual(got, defaultListen) {
		t.Errorf("other node's listen only: Listen = %v, want the defaults", got)
	}
}

// resourceSrc wraps body in a resource r with nodes hasta and hastb.
func resourceSrc(before, body, after string) string {
	return before + "resource r {\n" + body + "\ton hasta {\n\t\tremote 10.0.0.2\n\t}\n\ton hastb {\n\t\tremote 10.0.0.1\n\t}\n}\n" + after
}

func TestGlobalInheritance(t *testing.T) {
	type want struct {
		rep  Replication
		sum  Checksum
		comp Compression
		tmo  time.Duration
		exec string
		mf   bool
	}
	tests := []struct {
		name                string
		before, body, after string
		want                want
	}{
		{"defaults", "", "local /l\n", "", want{Memsync, ChecksumNone, Hole, 20 * time.Second, "", true}},
		{
			"global before",
			"replication fullsync\nchecksum crc32\ncompression lzf\ntimeout 5\nexec /hook\nmetaflush off\n",
			"local /l\n", "",
			want{Fullsync, CRC32, LZF, 5 * time.Second, "/hook", false},
		},
		{
			"global after the resource still applies",
			"", "local /l\n",
			"replication async\nchecksum sha256\ncompression none\ntimeout 7\nexec /late\nmetaflush off\n",
			want{Async, SHA256, CompressionNone, 7 * time.Second, "/late", false},
		},
		{
			"resource wins over global on either side",
			"replication fullsync\nchecksum crc32\ncompression lzf\ntimeout 5\nexec /g\nmetaflush off\n",
			"local /l\nreplication async\nchecksum sha256\ncompression none\ntimeout 9\nexec /r\nmetaflush on\n",
			"replication memsync\nchecksum none\ncompression hole\ntimeout 11\nexec /g2\nmetaflush off\n",
			want{Async, SHA256, CompressionNone, 9 * time.Second, "/r", true},
		},
		{
			"resource last wins",
			"", "local /l\nreplication fullsync\nreplication async\ntimeout 1\ntimeout 2\n", "",
			want{Async, ChecksumNone, Hole, 2 * time.Second, "", true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseAs(t, "hasta", resourceSrc(tt.before, tt.body, tt.after)).Resource("r")
			got := want{r.Replication, r.Checksum, r.Compression, r.Timeout, r.Exec, r.MetaFlush}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNodeLevelResolution(t *testing.T) {
	src := `
metaflush off
resource r {
	on hasta {
		name prov_a
		local /dev/a
		remote tcp4://10.0.0.2:7000
		source 10.0.0.1
		metaflush on
	}
	on hastb {
		remote 10.0.0.1
		source tcp://10.0.0.2:55
	}
	name prov_r
	local /dev/r
}
resource s {
	on hasta {
		remote none
	}
	local /dev/s
	metaflush on
}
`
	a := parseAs(t, "hasta", src)
	wantA := resourceWant{Name: "r", Provider: "prov_a", Local: "/dev/a", Remote: "tcp4://10.0.0.2:7000",
		RemoteAddr: Addr{"tcp4", "10.0.0.2:7000"}, Source: "10.0.0.1", SourceAddr: Addr{"tcp", "10.0.0.1:0"},
		Replication: Memsync, Checksum: ChecksumNone, Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 3}
	if got := resolved(a.Resource("r")); got != wantA {
		t.Errorf("hasta r =\n%+v\nwant\n%+v", got, wantA)
	}
	wantS := resourceWant{Name: "s", Provider: "s", Local: "/dev/s", Remote: "none", RemoteNone: true,
		Replication: Memsync, Checksum: ChecksumNone, Compression: Hole, Timeout: 20 * time.Second, MetaFlush: true, Line: 18}
	if got := resolved(a.Resource("s")); got != wantS {
		t.Errorf("hasta s =\n%+v\nwant\n%+v", got, wantS)
	}

	// hastb takes name, local and metaflush from the resource and the
	// global section, written after its node section.
	src = src[:len(src)-len("resource s {\n\ton hasta {\n\t\tremote none\n\t}\n\tlocal /dev/s\n\tmetaflush on\n}\n")]
	b := parseAs(t, "hastb", src)
	wantB := resourceWant{Name: "r", Provider: "prov_r", Local: "/dev/r", Remote: "10.0.0.1",
		RemoteAddr: Addr{"tcp", "10.0.0.1:8457"}, Source: "tcp://10.0.0.2:55", SourceAddr: Addr{"tcp", "10.0.0.2:55"},
		Replication: Memsync, Checksum: ChecksumNone, Compression: Hole, Timeout: 20 * time.Second, MetaFlush: false, Line: 3}
	if got := resolved(b.Resource("r")); got != wantB {
		t.Errorf("hastb r =\n%+v\nwant\n%+v", got, wantB)
	}
	wantNodes := []ResourceNode{
		{Name: "hasta", Provider: "prov_a", Local: "/dev/a", Remote: "tcp4://10.0.0.2:7000", RemoteAddr: Addr{"tcp4", "10.0.0.2:7000"},
			Source: "10.0.0.1", SourceAddr: Addr{"tcp", "10.0.0.1:0"}, MetaFlush: true, MetaFlushSet: true, Line: 4},
		{Name: "hastb", Remote: "10.0.0.1", RemoteAddr: Addr{"tcp", "10.0.0.1:8457"}, Source: "tcp://10.0.0.2:55",
			SourceAddr: Addr{"tcp", "10.0.0.2:55"}, Line: 11},
	}
	for i, want := range wantNodes {
		if got := *b.Resource("r").Nodes[i]; got != want {
			t.Errorf("Nodes[%d] = %+v, want %+v", i, got, want)
		}
	}
}

func TestSeveralMatchingNodeSections(t *testing.T) {
	// Both the short and the full host name match; as in HAST every
	// matching section is applied in order, a later one overriding.
	src := `resource r {
	on hasta {
		local /dev/short
		remote 10.0.0.2
		metaflush off
	}
	on hasta.example.org {
		remote 10.0.0.3
	}
	on hastb {
		local /dev/b
		remote 10.0.0.1
	}
}
`
	cfg := parseAs(t, "hasta.example.org", src)
	r := cfg.Resource("r")
	if r.Local != "/dev/short" || r.Remote != "10.0.0.3" || r.MetaFlush || cfg.Node != "hasta" {
		t.Errorf("Local, Remote, MetaFlush, Node = %q, %q, %v, %q; want /dev/short, 10.0.0.3, false, hasta",
			r.Local, r.Remote, r.MetaFlush, cfg.Node)
	}
}

func TestNodeMatching(t *testing.T) {
	id := Identity{
		Hostname:  "hasta.example.org",
		HostUUID:  "4c4c4544-0042-3510-8044-b4c04f4e3332",
		HostID:    1234567,
		HasHostID: true,
	}
	tests := []struct {
		name string
		id   Identity
		on   string
	}{
		{"full host name", id, "hasta.example.org"},
		{"short host name", id, "hasta"},
		{"host uuid", id, "4C4C4544-0042-3510-8044-B4C04F4E3332"},
		{"hostid", id, "hostid1234567"},
		{"forced name", Identity{Name: "nodeA", Hostname: "hasta"}, "nodeA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "resource r {\n\ton " + tt.on + " {\n\t\tlocal /dev/mine\n\t\tremote 10.0.0.2\n\t}\n" +
				"\ton other {\n\t\tlocal /dev/other\n\t\tremote 10.0.0.1\n\t}\n}\n"
			cfg, err := bothFamilies.Parse("test.conf", []byte(src), tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if r := cfg.Resource("r"); r.Local != "/dev/mine" || r.Remote != "10.0.0.2" || cfg.Node != tt.on {
				t.Errorf("Local, Remote, Node = %q, %q, %q; want /dev/mine, 10.0.0.2, %s", r.Local, r.Remote, cfg.Node, tt.on)
			}
		})
	}
	// With -n only the forced name matches, even if the host name is listed.
	src := "resource r {\n\ton hasta {\n\t\tlocal /l\n\t\tremote x\n\t}\n}\n"
	_, err := bothFamilies.Parse("test.conf", []byte(src), Identity{Name: "nodeA", Hostname: "hasta"})
	want := "test.conf:6: No resource r configuration for this node (acceptable node names: nodeA) near '}'"
	if err == nil || err.Error() != want {
		t.Errorf("forced name: error = %v, want %s", err, want)
	}
}

func TestReservedLookingNamesAreFine(t *testing.T) {
	src := `resource localdisk {
	name none0
	on hasta {
		local /dev/on
		remote remote-host
	}
}
resource witness { on hasta { local /w remote r } }
resource raft { on hasta { local /r remote r } }
resource lease { on hasta { local /l remote r } }
resource gossip { on hasta { local /g remote r } }
resource failover { on hasta { local /f remote r } }
resource cluster { on hasta { local /c remote r } }
`
	cfg := parseAs(t, "hasta", src)
	var names []string
	for _, r := range cfg.Resources {
		names = append(names, r.Name)
	}
	want := []string{"localdisk", "witness", "raft", "lease", "gossip", "failover", "cluster"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("resources %v, want %v", names, want)
	}
	if r := cfg.Resource("localdisk"); r.Provider != "none0" || r.RemoteAddr != (Addr{"tcp", "remote-host:8457"}) {
		t.Errorf("localdisk: Provider %q, RemoteAddr %+v", r.Provider, r.RemoteAddr)
	}
}

func TestSizeLimits(t *testing.T) {
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	ok := "resource " + long(254) + " {\n\tname " + long(254) + "\n\ton hasta {\n\t\tlocal /" + long(4094) +
		"\n\t\tremote " + long(1023) + "\n\t}\n}\n"
	cfg := parseAs(t, "hasta", ok)
	if r := cfg.Resources[0]; len(r.Name) != 254 || len(r.Provider) != 254 || len(r.Local) != 4095 || len(r.Remote) != 1023 {
		t.Errorf("lengths %d %d %d %d", len(r.Name), len(r.Provider), len(r.Local), len(r.Remote))
	}
}
