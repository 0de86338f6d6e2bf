package replicator

import "fmt"

// FlushActiveMap writes m's image at offset MetadataSize of b and, with
// metaflush (hast.conf metaflush on), makes it durable (FreeBSD's
// DIOCGFLUSH fails on files, reference 9.12; we sync the file instead).
func FlushActiveMap(b Backend, m *ActiveMap, metaflush bool) error {
	return writeMapImage(b, m.Image(), metaflush)
}

// durableWriter is a Backend that can make one write durable by itself,
// cheaper than a write and a Flush of everything (Disk).
type durableWriter interface {
	WriteAtDurable(p []byte, off int64) error
}

// writeMapImage writes an activemap image and, with metaflush, makes it
// durable.
func writeMapImage(b Backend, img []byte, metaflush bool) error {
	if dw, ok := b.(durableWriter); ok && metaflush {
		if err := dw.WriteAtDurable(img, MetadataSize); err != nil {
			return fmt.Errorf("write activemap: %w", err)
		}
		return nil
	}
	if _, err := b.WriteAt(img, MetadataSize); err != nil {
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
