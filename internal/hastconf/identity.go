package hastconf

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
)

// Identity is what this host answers to when a configuration names a node
// (HAST's isitme).
type Identity struct {
	// Name, when set (hastd -n), is the only name that matches.
	Name string
	// Hostname is the full host name; it and its first dot-separated
	// component match.
	Hostname string
	// HostUUID matches case-insensitively when not empty.
	HostUUID string
	// HostID is the host id; "hostid" followed by it in decimal matches
	// when HasHostID is true.
	HostID uint32
	// HasHostID is true when HostID is known.
	HasHostID bool
}

// Matches reports whether the node name name refers to this host.
func (id Identity) Matches(name string) bool {
	if id.Name != "" {
		return name == id.Name
	}
	if name == "" {
		return false
	}
	if name == id.Hostname {
		return true
	}
	if short, _, ok := strings.Cut(id.Hostname, "."); ok && short != "" && name == short {
		return true
	}
	if id.HostUUID != "" && strings.EqualFold(name, id.HostUUID) {
		return true
	}
	return id.HasHostID && name == id.hostIDName()
}

// AcceptableNames lists the names that match, comma separated, in HAST's
// order: short host name, full host name, host UUID, hostidN. With Name
// set it is just Name.
func (id Identity) AcceptableNames() string {
	if id.Name != "" {
		return id.Name
	}
	var names []string
	if short, _, ok := strings.Cut(id.Hostname, "."); ok && short != "" {
		names = append(names, short)
	}
	if id.Hostname != "" {
		names = append(names, id.Hostname)
	}
	if id.HostUUID != "" {
		names = append(names, id.HostUUID)
	}
	if id.HasHostID {
		names = append(names, id.hostIDName())
	}
	return strings.Join(names, ", ")
}

// hostIDName is the node name that refers to HostID.
func (id Identity) hostIDName() string { return fmt.Sprintf("hostid%d", id.HostID) }

// Files LocalIdentity reads.
const (
	productUUIDFile = "/sys/class/dmi/id/product_uuid"
	machineIDFile   = "/etc/machine-id"
	hostIDFile      = "/etc/hostid"
)

// LocalIdentity returns this host's identity: forced as Name (empty for
// none), the host name, the host UUID from the DMI product UUID or else
// /etc/machine-id written as 8-4-4-4-12, and the host id from /etc/hostid
// (4 bytes, little-endian) when the file exists. What cannot be read is
// left empty.
func LocalIdentity(forced string) Identity {
	return localIdentity(forced, os.Hostname, os.ReadFile)
}

// localIdentity is LocalIdentity with the system calls injected.
func localIdentity(forced string, hostname func() (string, error), readFile func(string) ([]byte, error)) Identity {
	id := Identity{Name: forced}
	if h, err := hostname(); err == nil {
		id.Hostname = h
	}
	if b, err := readFile(productUUIDFile); err == nil {
		id.HostUUID = canonicalUUID(strings.TrimSpace(string(b)))
	}
	if id.HostUUID == "" {
		if b, err := readFile(machineIDFile); err == nil {
			if m := strings.TrimSpace(string(b)); len(m) == 32 && isHex(m) {
				id.HostUUID = canonicalUUID(m[0:8] + "-" + m[8:12] + "-" + m[12:16] + "-" + m[16:20] + "-" + m[20:32])
			}
		}
	}
	if b, err := readFile(hostIDFile); err == nil && len(b) == 4 {
		id.HostID, id.HasHostID = binary.LittleEndian.Uint32(b), true
	}
	return id
}

// canonicalUUID returns s in lower case if it is a UUID written
// 8-4-4-4-12, else "".
func canonicalUUID(s string) string {
	groups := strings.Split(s, "-")
	if len(groups) != 5 {
		return ""
	}
	for i, size := range []int{8, 4, 4, 4, 12} {
		if len(groups[i]) != size || !isHex(groups[i]) {
			return ""
		}
	}
	return strings.ToLower(s)
}

// isHex reports whether s is made of hexadecimal digits only.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
