package ggate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// removeStaleLink removes the symbolic link at link, left by an earlier
// run. Anything else at that path is not ours and is reported instead.
func removeStaleLink(link string) error {
	fi, err := os.Lstat(link)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", link, err)
	}
	if fi.Mode().Type() != fs.ModeSymlink {
		return fmt.Errorf("%s holds a %v, not a symbolic link to a device: %w", link, fi.Mode().Type(), fs.ErrExist)
	}
	if err := os.Remove(link); err != nil {
		return fmt.Errorf("remove stale link %s: %w", link, err)
	}
	return nil
}

// placeLink makes link a symbolic link to target, creating its directory
// with mode 0755. The link is made under a temporary name and renamed into
// place, so it never points anywhere else.
func placeLink(link, target string) error {
	dir := filepath.Dir(link)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create device directory: %w", err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(link)+".tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove leftover %s: %w", tmp, err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s to %s: %w", tmp, target, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("move link into place at %s: %w", link, err)
	}
	return nil
}

// removeLink removes link if it still points to target, leaving a link
// someone has since pointed elsewhere alone.
func removeLink(link, target string) error {
	got, err := os.Readlink(link)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read link %s: %w", link, err)
	}
	if got != target {
		return nil
	}
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove link %s: %w", link, err)
	}
	return nil
}
