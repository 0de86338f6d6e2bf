package hastconf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestNBDResolution(t *testing.T) {
	src := `
resource r {
	nbd /run/r.sock
	on hasta {
		local /dev/a
		remote 10.0.0.2
		nbd tcp://127.0.0.11:7000
	}
	on hastb {
		local /dev/b
		remote 10.0.0.1
	}
}
resource s {
	name prov_s
	on hasta {
		local /dev/s
		remote none
	}
	on hastb {
		local /dev/s
		remote 10.0.0.1
		nbd unix:///run/s-b.sock
	}
}
resource t {
	on hasta { local /dev/t remote none nbd uds:///run/t.sock nbd [::1] }
}
`
	tests := []struct {
		host, res string
		want      Addr
	}{
		{"hasta", "r", Addr{"tcp", "127.0.0.11:7000"}},
		{"hastb", "r", Addr{"unix", "/run/r.sock"}},
		{"hasta", "s", Addr{"unix", "/var/run/hast/prov_s.nbd"}},
		{"hastb", "s", Addr{"unix", "/run/s-b.sock"}},
		// The last nbd of a section wins; a bare address is TCP.
		{"hasta", "t", Addr{"tcp", "[::1]:10809"}},
	}
	for _, tt := range tests {
		src := src
		if tt.host == "hastb" {
			src = src[:strings.Index(src, "resource t")]
		}
		cfg := parseAs(t, tt.host, src)
		if got := cfg.Resource(tt.res).NBD; got != tt.want {
			t.Errorf("%s on %s: NBD = %+v, want %+v", tt.res, tt.host, got, tt.want)
		}
	}
	cfg := parseAs(t, "hasta", src)
	if n := cfg.Resource("r").Nodes; n[0].NBD != (Addr{"tcp", "127.0.0.11:7000"}) || n[1].NBD != (Addr{}) {
		t.Errorf("node sections of r: NBD %+v and %+v, want the hasta address and zero", n[0].NBD, n[1].NBD)
	}
}

func TestNBDIsContextSensitive(t *testing.T) {
	src := `
resource nbd {
	name nbd
	local /dev/nbd
	on nbd {
		remote none
	}
}
`
	cfg := parseAs(t, "nbd", src)
	var names []string
	for _, r := range cfg.Resources {
		names = append(names, r.Name, r.Provider, r.Local, cfg.Node)
	}
	if want := []string{"nbd", "nbd", "/dev/nbd", "nbd"}; !reflect.DeepEqual(names, want) {
		t.Errorf("name, provider, local, node = %q, want %q", names, want)
	}
	if got := cfg.Resources[0].NBD; got != (Addr{"unix", "/var/run/hast/nbd.nbd"}) {
		t.Errorf("NBD = %+v", got)
	}
}

func TestNBDErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"global section", "nbd /run/x.sock\n",
			"test.conf:1: syntax error: unknown keyword in the global section near 'nbd'"},
		{"node section", "on hasta {\n\tnbd /run/x.sock\n}\n",
			"test.conf:2: syntax error: unknown keyword in node section hasta near 'nbd'"},
		{"bad address", "resource r {\n\tnbd ftp://x\n\ton hasta { local /l remote none }\n}\n",
			"test.conf:2: invalid nbd address: unknown protocol \"ftp\" near 'ftp://x'"},
		{"missing address", "resource r {\n\ton hasta { local /l remote none nbd }\n}\n",
			"test.conf:2: syntax error: expected an NBD address near '}'"},
		{"reserved word", "resource r {\n\tnbd none\n\ton hasta { local /l remote none }\n}\n",
			"test.conf:2: syntax error: 'none' is a reserved word and cannot be used as an NBD address near 'none'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bothFamilies.Parse("test.conf", []byte(tt.src), Identity{Hostname: "hasta"})
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestFrontendResolution(t *testing.T) {
	src := `
resource frontend {
	frontend nbd
	on hasta { local /dev/a remote 10.0.0.2 frontend fuse }
	on hastb { local /dev/b remote 10.0.0.1 }
}
resource plain {
	on hasta { local /dev/c remote 10.0.0.2 }
	on hastb { local /dev/c remote 10.0.0.1 }
}
`
	for _, tt := range []struct{ host, res, want string }{
		{"hasta", "frontend", "fuse"},
		{"hastb", "frontend", "nbd"},
		{"hasta", "plain", "auto"},
	} {
		if got := parseAs(t, tt.host, src).Resource(tt.res).Frontend; got != tt.want {
			t.Errorf("%s on %s: frontend %q, want %q", tt.res, tt.host, got, tt.want)
		}
	}
	_, err := Parse("test.conf", []byte("resource r {\n\tfrontend ublk\n\ton hasta { local /x remote 10.0.0.2 }\n}\n"), Identity{Name: "hasta"})
	var perr *Error
	if !errors.As(err, &perr) || perr.Line != 2 || perr.Near != "ublk" || !strings.Contains(perr.Msg, "Invalid frontend") {
		t.Fatalf("bad frontend: %v", err)
	}
}

func TestSyncRate(t *testing.T) {
	src := "resource r {\n\tsyncrate 100M\n\ton hasta { local /a remote 10.0.0.2 }\n}\nresource syncrate {\n\ton hasta { local /b remote 10.0.0.2 }\n}\n"
	cfg := parseAs(t, "hasta", src)
	if got := cfg.Resource("r").SyncRate; got != 100<<20 {
		t.Fatalf("syncrate 100M = %d", got)
	}
	if got := cfg.Resource("syncrate").SyncRate; got != 0 {
		t.Fatalf("default syncrate = %d, want 0 (no limit)", got)
	}
	_, err := Parse("test.conf", []byte("resource r {\n\tsyncrate fast\n\ton hasta { local /a remote 10.0.0.2 }\n}\n"), Identity{Name: "hasta"})
	var perr *Error
	if !errors.As(err, &perr) || perr.Line != 2 || !strings.Contains(perr.Msg, "Invalid syncrate") {
		t.Fatalf("bad syncrate: %v", err)
	}
}
