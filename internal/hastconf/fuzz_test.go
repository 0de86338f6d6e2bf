package hastconf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, host := range []string{"hasta", "hastb.example.org", "fbsd_h1", "hastw"} {
			f.Add(data, host)
		}
	}
	for _, m := range malformed {
		f.Add([]byte(m.src), "hasta")
	}
	f.Add([]byte(clusterOK), "hastw")
	f.Fuzz(func(t *testing.T, data []byte, host string) {
		cfg, err := bothFamilies.Parse("fuzz.conf", data, Identity{Hostname: host, HostUUID: "u", HasHostID: true})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.File != "fuzz.conf" || e.Line < 1 || e.Msg == "" {
				t.Fatalf("malformed error %+v", *e)
			}
			return
		}
		if len(cfg.Listen) == 0 || cfg.Control.Network == "" || cfg.Pidfile == "" {
			t.Fatalf("incomplete config %+v", cfg)
		}
		for _, r := range cfg.Resources {
			if r.Timeout <= 0 || r.Provider == "" {
				t.Fatalf("resource %+v", r)
			}
			if !cfg.Witness && (r.Remote == "" || r.Local == "") {
				t.Fatalf("unresolved resource %+v", r)
			}
			if !r.RemoteNone && r.Remote != "" && r.RemoteAddr.Network == "" {
				t.Fatalf("remote %q not parsed", r.Remote)
			}
		}
		if c := cfg.Cluster; c != nil && (len(c.Nodes) != 2 || c.Witness == nil || c.Lease <= 0) {
			t.Fatalf("cluster %+v", c)
		}
	})
}
