package ggate

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountinfo(t *testing.T) {
	const sample = `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
36 35 98:0 /mnt1 /mnt\040two rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue
40 22 0:52 / /run/hast/fuse/r0 rw,nosuid,nodev - fuse.hast hast/r0 rw,user_id=0,group_id=0
41 22 7:3 / /srv/back\134slash rw - ext4 /dev/loop3 rw
`
	got, err := parseMountinfo(strings.NewReader(sample))
	if err != nil {
		t.Fatalf("parseMountinfo: %v", err)
	}
	want := []mountEntry{
		{253, 1, "/", "ext4", "/dev/vda1"},
		{98, 0, "/mnt two", "ext3", "/dev/root"},
		{0, 52, "/run/hast/fuse/r0", "fuse.hast", "hast/r0"},
		{7, 3, `/srv/back\slash`, "ext4", "/dev/loop3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseMountinfo =\n%+v\nwant\n%+v", got, want)
	}
	for _, bad := range []string{
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw\n",   // no separator
		"36 35 98-0 /mnt1 /mnt2 rw,noatime - ext3 /dev/root rw\n",          // bad device
		"36 35 98:0 /mnt1 /mnt2 rw -\n",                                    // nothing after separator
		"36 35 98:x /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw\n", // bad minor
	} {
		if _, err := parseMountinfo(strings.NewReader(bad)); err == nil {
			t.Errorf("parseMountinfo(%q) accepted a malformed line", bad)
		}
	}
}

func TestUnescapeMountField(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:        "/plain",
		`/a\040b`:       "/a b",
		`/tab\011x`:     "/tab\tx",
		`/nl\012`:       "/nl\n",
		`/trailing\04`:  `/trailing\04`,
		`/notoctal\9xx`: `/notoctal\9xx`,
	} {
		if got := unescapeMountField(in); got != want {
			t.Errorf("unescapeMountField(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMountsOfThisProcess(t *testing.T) {
	mounts, err := readMounts()
	if err != nil {
		t.Fatalf("readMounts: %v", err)
	}
	root, err := isMountPoint("/")
	if err != nil || !root {
		t.Fatalf("isMountPoint(/) = %v, %v; want true (mounts %+v)", root, err, mounts)
	}
	dir := t.TempDir()
	if mp, err := isMountPoint(dir); err != nil || mp {
		t.Errorf("isMountPoint(%s) = %v, %v; want false", dir, mp, err)
	}
}

func TestCheckNotBusyRejectsNonDevices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkNotBusy(path); !errors.Is(err, unix.ENOTBLK) {
		t.Errorf("checkNotBusy(regular file) = %v, want ENOTBLK", err)
	}
	if err := checkNotBusy(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("checkNotBusy(missing) = %v, want ENOENT", err)
	}
}
