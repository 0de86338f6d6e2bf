package replicator

import (
	"bytes"
	"errors"
	"testing"
)

func TestFlushLoadActiveMap(t *testing.T) {
	b := NewMemBackend(64<<20, 512)
	md, err := Create(b, CreateParams{Resource: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewActiveMapFromMetadata(md, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Extents() != 32 || m.MapSize() != 512 {
		t.Fatalf("Extents %d MapSize %d, want 32 and 512", m.Extents(), m.MapSize())
	}
	m.WriteStart(0, 1)           // extent 0
	m.NeedSync(31*(2<<20), 4096) // extent 31, byte 3 bit 7

	var writes [][2]int64
	b.SetFault(func(op Op, off, length int64) error {
		if op == OpWrite {
			writes = append(writes, [2]int64{off, length})
		}
		return nil
	})
	flushes := b.Flushes()
	if err := FlushActiveMap(b, m, false); err != nil {
		t.Fatal(err)
	}
	if b.Flushes() != flushes {
		t.Error("FlushActiveMap flushed with metaflush off")
	}
	if err := FlushActiveMap(b, m, true); err != nil {
		t.Fatal(err)
	}
	if b.Flushes() != flushes+1 {
		t.Error("FlushActiveMap did not flush with metaflush on")
	}
	if len(writes) != 2 || writes[0] != [2]int64{MetadataSize, 512} {
		t.Errorf("writes %v, want two of 512 bytes at %d", writes, MetadataSize)
	}
	ondisk := make([]byte, 512)
	b.ReadAt(ondisk, MetadataSize)
	want := make([]byte, 512)
	want[0], want[3] = 0x01, 0x80
	if !bytes.Equal(ondisk, want) {
		t.Errorf("on-disk map starts %x, want %x", ondisk[:4], want[:4])
	}

	// After a restart every marked extent needs synchronization.
	restarted, _ := NewActiveMapFromMetadata(md, 0)
	if err := LoadActiveMap(b, restarted); err != nil {
		t.Fatal(err)
	}
	if restarted.Unsynced() != 2 || !restarted.NeedsSync(0) || !restarted.NeedsSync(31) {
		t.Errorf("after load: Unsynced %d", restarted.Unsynced())
	}
	if !bytes.Equal(restarted.Image(), ondisk) {
		t.Error("loaded image differs from the disk")
	}

	boom := errors.New("boom")
	b.SetFault(func(op Op, off, length int64) error {
		if op == OpFlush {
			return boom
		}
		return nil
	})
	if err := FlushActiveMap(b, m, true); !errors.Is(err, boom) {
		t.Errorf("FlushActiveMap with a failing flush = %v", err)
	}
}
