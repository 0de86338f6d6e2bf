package replicator

import "fmt"

// FlushActiveMap writes m's image at offset MetadataSize of b and, with
// metaflush (hast.conf metaflush on), flushes b, which is fdatasync for a
// file (FreeBSD's DIOCGFLUSH fails on files, reference 9.12).
func FlushActiveMap(b Backend, m *ActiveMap, metaflush bool) error {
	if _, err := b.WriteAt(m.Image(), MetadataSize); err != nil {
		return fmt.Errorf("write activemap: %w", err)
	}
	if metaflush {
		if err := b.Flush(); err != nil {
			return fmt.Errorf("flush activemap: %w", err)
		}
	}
	return nil
}

// LoadActiveMap reads the on-disk bitmap of m's size from b and loads it
// into m (ActiveMap.Load): every extent dirty at the last shutdown or crash
// then needs synchronization.
func LoadActiveMap(b Backend, m *ActiveMap) error {
	buf := make([]byte, m.MapSize())
	if _, err := b.ReadAt(buf, MetadataSize); err != nil {
		return fmt.Errorf("read activemap: %w", err)
	}
	return m.Load(buf)
}
