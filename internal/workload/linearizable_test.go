package workload

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckLinearizable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []Op
		final map[int][]byte
		ok    bool
	}{
		{name: "sequential", ok: true,
			ops:   []Op{write(1, 10, 0, 1, OK), read(1, 10, 2, 3), write(1, 11, 4, 5, OK), read(1, 11, 6, 7)},
			final: map[int][]byte{1: encoded(1, 11)}},
		{name: "read overlapping a write sees either", ok: true,
			ops:   []Op{write(1, 10, 0, 1, OK), write(1, 11, 2, 6, OK), read(1, 10, 3, 4), read(1, 11, 5, 7)},
			final: map[int][]byte{1: encoded(1, 11)}},
		{name: "unknown write may land late", ok: true,
			ops:   []Op{write(1, 10, 0, 1, OK), write(1, 11, 2, 3, Unknown), read(1, 10, 4, 5), read(1, 11, 6, 7)},
			final: map[int][]byte{1: encoded(1, 11)}},
		{name: "unknown write may never land", ok: true,
			ops:   []Op{write(1, 10, 0, 1, OK), write(1, 11, 2, 3, Failed), read(1, 10, 4, 5)},
			final: map[int][]byte{1: encoded(1, 10)}},
		{name: "stale read",
			ops:   []Op{write(1, 10, 0, 1, OK), write(1, 11, 2, 3, OK), read(1, 10, 4, 5)},
			final: map[int][]byte{1: encoded(1, 11)}},
		{name: "read goes back in time",
			ops:   []Op{write(1, 10, 0, 1, OK), write(1, 11, 2, 3, Unknown), read(1, 11, 4, 5), read(1, 10, 6, 7)},
			final: map[int][]byte{1: encoded(1, 11)}},
		{name: "acknowledged write lost",
			ops:   []Op{write(1, 10, 0, 1, OK), write(1, 11, 2, 3, OK)},
			final: map[int][]byte{1: encoded(1, 10)}},
		{name: "acknowledged write lost to zeroes",
			ops:   []Op{write(2, 10, 0, 1, OK)},
			final: map[int][]byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &History{Ops: tc.ops}
			html := filepath.Join(t.TempDir(), "history.html")
			err := h.CheckLinearizable(contents(tc.final), 10*time.Second, html)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("linearizable history refused: %v", err)
			case !tc.ok && !errors.Is(err, ErrNotLinearizable):
				t.Fatalf("got %v, want a violation", err)
			case !tc.ok:
				if fi, err := os.Stat(html); err != nil || fi.Size() == 0 {
					t.Fatalf("no visualization written: %v", err)
				}
			}
		})
	}
}

func TestCheckLinearizableCorruptBlock(t *testing.T) {
	h := &History{Ops: []Op{write(1, 10, 0, 1, OK)}}
	torn := encoded(1, 10)
	torn[100] ^= 1
	if err := h.CheckLinearizable(contents(map[int][]byte{1: torn}), time.Second, ""); !errors.Is(err, ErrNotLinearizable) {
		t.Fatalf("torn block: %v", err)
	}
}
