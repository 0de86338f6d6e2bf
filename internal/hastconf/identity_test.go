package hastconf

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestIdentityMatches(t *testing.T) {
	full := Identity{
		Hostname:  "hasta.example.org",
		HostUUID:  "4c4c4544-0042-3510-8044-b4c04f4e3332",
		HostID:    1234567,
		HasHostID: true,
	}
	tests := []struct {
		id   Identity
		name string
		want bool
	}{
		{full, "hasta.example.org", true},
		{full, "hasta", true},
		{full, "HASTA", false}, // host names compare case-sensitively
		{full, "hasta.example", false},
		{full, "example", false},
		{full, "4c4c4544-0042-3510-8044-b4c04f4e3332", true},
		{full, "4C4C4544-0042-3510-8044-B4C04F4E3332", true},
		{full, "hostid1234567", true},
		{full, "hostid123456", false},
		{full, "hastb", false},
		{full, "", false},
		{Identity{Hostname: "hasta", HostID: 0}, "hostid0", false}, // HasHostID false
		{Identity{Hostname: "hasta", HasHostID: true}, "hostid0", true},
		{Identity{Hostname: "hasta"}, "hasta", true},
		{Identity{Hostname: ".odd"}, "", false},
		{Identity{Name: "forced", Hostname: "hasta"}, "forced", true},
		{Identity{Name: "forced", Hostname: "hasta"}, "hasta", false}, // -n: only that name
		{Identity{Name: "forced", HostUUID: "u"}, "u", false},
	}
	for _, tt := range tests {
		if got := tt.id.Matches(tt.name); got != tt.want {
			t.Errorf("%+v.Matches(%q) = %v, want %v", tt.id, tt.name, got, tt.want)
		}
	}
}

func TestIdentityAcceptableNames(t *testing.T) {
	tests := []struct {
		id   Identity
		want string
	}{
		{Identity{Hostname: "hasta.example.org", HostUUID: "u-u", HostID: 7, HasHostID: true}, "hasta, hasta.example.org, u-u, hostid7"},
		{Identity{Hostname: "hasta"}, "hasta"},
		{Identity{Hostname: "hasta", HostUUID: "u"}, "hasta, u"},
		{Identity{Name: "n", Hostname: "hasta"}, "n"},
		{Identity{}, ""},
	}
	for _, tt := range tests {
		if got := tt.id.AcceptableNames(); got != tt.want {
			t.Errorf("%+v.AcceptableNames() = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestLocalIdentity(t *testing.T) {
	hostname := func() (string, error) { return "hasta.example.org", nil }
	noHostname := func() (string, error) { return "", errors.New("no name") }
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if s, ok := m[name]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	tests := []struct {
		name     string
		forced   string
		hostname func() (string, error)
		files    map[string]string
		want     Identity
	}{
		{
			name:     "dmi uuid and hostid",
			hostname: hostname,
			files: map[string]string{
				productUUIDFile: "4C4C4544-0042-3510-8044-B4C04F4E3332\n",
				machineIDFile:   "0123456789abcdef0123456789abcdef\n",
				hostIDFile:      "\x87\xd6\x12\x00",
			},
			want: Identity{Hostname: "hasta.example.org", HostUUID: "4c4c4544-0042-3510-8044-b4c04f4e3332", HostID: 1234567, HasHostID: true},
		},
		{
			name:     "machine-id fallback",
			forced:   "nodeA",
			hostname: hostname,
			files:    map[string]string{machineIDFile: "0123456789ABCDEF0123456789abcdef\n"},
			want:     Identity{Name: "nodeA", Hostname: "hasta.example.org", HostUUID: "01234567-89ab-cdef-0123-456789abcdef"},
		},
		{
			name:     "unusable dmi uuid falls back",
			hostname: hostname,
			files: map[string]string{
				productUUIDFile: "Not Settable",
				machineIDFile:   "0123456789abcdef0123456789abcdef",
			},
			want: Identity{Hostname: "hasta.example.org", HostUUID: "01234567-89ab-cdef-0123-456789abcdef"},
		},
		{
			name:     "nothing readable",
			hostname: noHostname,
			files: map[string]string{
				productUUIDFile: "4c4c4544-0042-3510-8044-b4c04f4e333-",
				machineIDFile:   "short",
				hostIDFile:      "\x01\x02\x03",
			},
			want: Identity{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := localIdentity(tt.forced, tt.hostname, files(tt.files))
			if got != tt.want {
				t.Errorf("localIdentity = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCanonicalUUID(t *testing.T) {
	for in, want := range map[string]string{
		"4C4C4544-0042-3510-8044-B4C04F4E3332":  "4c4c4544-0042-3510-8044-b4c04f4e3332",
		"4c4c4544-0042-3510-8044-b4c04f4e333g":  "",
		"4c4c4544-0042-3510-8044b-4c04f4e3332":  "",
		"4c4c4544-00423510-8044-b4c04f4e33-32":  "",
		"a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s": "",
		"":                                      "",
	} {
		if got := canonicalUUID(in); got != want {
			t.Errorf("canonicalUUID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLocalIdentityReadsHostname(t *testing.T) {
	want, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	id := LocalIdentity("forced")
	if id.Name != "forced" || id.Hostname != want {
		t.Errorf("LocalIdentity = %+v, want Name forced and Hostname %q", id, want)
	}
	if id.HostUUID != "" && canonicalUUID(id.HostUUID) != id.HostUUID {
		t.Errorf("HostUUID %q is not a canonical UUID", id.HostUUID)
	}
}
