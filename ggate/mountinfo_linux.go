package ggate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountinfoPath lists the mounts of this process's mount namespace.
const mountinfoPath = "/proc/self/mountinfo"

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	major, minor uint32 // st_dev of the mounted filesystem
	mountPoint   string
	fsType       string
	source       string
}

// readMounts returns the mounts of this process's mount namespace.
func readMounts() ([]mountEntry, error) {
	f, err := os.Open(mountinfoPath)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("read mounts from %s: %w", mountinfoPath, err)
	}
	return mounts, nil
}

// parseMountinfo parses the proc(5) mountinfo format:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// (mount id, parent id, major:minor, root, mount point, options, optional
// fields, a "-", filesystem type, source, super options).
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var mounts []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 6 || sep < 0 || sep+2 >= len(fields) {
			return nil, fmt.Errorf("line %d: malformed entry %q", line, sc.Text())
		}
		majStr, minStr, ok := strings.Cut(fields[2], ":")
		major, err1 := strconv.ParseUint(majStr, 10, 32)
		minor, err2 := strconv.ParseUint(minStr, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: malformed device number %q", line, fields[2])
		}
		mounts = append(mounts, mountEntry{
			major:      uint32(major),
			minor:      uint32(minor),
			mountPoint: unescapeMountField(fields[4]),
			fsType:     fields[sep+1],
			source:     unescapeMountField(fields[sep+2]),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return mounts, nil
}

// unescapeMountField undoes the octal escapes (\040 for a space, \011,
// \012, \134) the kernel writes in mountinfo paths.
func unescapeMountField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountPointOf returns where the filesystem on device number rdev is
// mounted in this namespace, or "" when it is not.
func mountPointOf(rdev uint64) (string, error) {
	mounts, err := readMounts()
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		if m.major == unix.Major(rdev) && m.minor == unix.Minor(rdev) {
			return m.mountPoint, nil
		}
	}
	return "", nil
}

// isMountPoint reports whether dir (an absolute path without symbolic
// links) is a mount point in this namespace.
func isMountPoint(dir string) (bool, error) {
	mounts, err := readMounts()
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if m.mountPoint == dir {
			return true, nil
		}
	}
	return false, nil
}

// checkNotBusy returns an error wrapping ErrDeviceBusy when the block device
// at devPath is mounted in this namespace (naming the mount point) or held
// exclusively: by a filesystem mounted in another namespace, device mapper,
// md or swap, which an exclusive open detects.
func checkNotBusy(devPath string) error {
	var st unix.Stat_t
	if err := unix.Stat(devPath, &st); err != nil {
		return fmt.Errorf("stat %s: %w", devPath, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return fmt.Errorf("%s is not a block device: %w", devPath, unix.ENOTBLK)
	}
	mp, err := mountPointOf(st.Rdev)
	if err != nil {
		return err
	}
	if mp != "" {
		return fmt.Errorf("%w: %s is mounted on %s", ErrDeviceBusy, devPath, mp)
	}
	fd, err := unix.Open(devPath, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%w: %s is held exclusively (a mount in another namespace, device mapper, md or swap)",
			ErrDeviceBusy, devPath)
	}
	if err != nil {
		return fmt.Errorf("open %s exclusively: %w", devPath, err)
	}
	unix.Close(fd)
	return nil
}
