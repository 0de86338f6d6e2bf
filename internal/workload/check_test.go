package workload

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// base is the time synthetic histories start at.
var base = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// at returns base plus ms milliseconds.
func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

// write returns a write by client 0 to block on node a, from start to end
// in milliseconds.
func write(block int, value uint64, start, end int, outcome Outcome) Op {
	return Op{Kind: Write, Block: block, Value: value, Start: at(start), End: at(end), Node: "a", Outcome: outcome}
}

// read returns an OK read by client 0 of block on node a that found value.
func read(block int, value uint64, start, end int) Op {
	return Op{Kind: Read, Block: block, Value: value, Start: at(start), End: at(end), Node: "a", Outcome: OK}
}

// contents returns a read function for CheckFinal over blocks given as
// raw bytes.
func contents(blocks map[int][]byte) func(int) ([]byte, error) {
	return func(b int) ([]byte, error) {
		data, ok := blocks[b]
		if !ok {
			return make([]byte, BlockSize), nil
		}
		return data, nil
	}
}

// encoded returns the block that writes value to block index.
func encoded(index int, value uint64) []byte {
	b := make([]byte, BlockSize)
	encodeBlock(b, index, value)
	return b
}

// wantViolation fails unless err is a check error containing every want.
func wantViolation(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("check passed, want a violation containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("check error %q does not contain %q", err, w)
		}
	}
}

func TestBlockEncoding(t *testing.T) {
	b := encoded(17, 0x1000000000005)
	if v, err := decodeBlock(b, 17); err != nil || v != 0x1000000000005 {
		t.Fatalf("decode = %#x, %v; want 0x1000000000005", v, err)
	}
	if v, err := decodeBlock(make([]byte, BlockSize), 17); err != nil || v != 0 {
		t.Fatalf("decode of zeroes = %#x, %v; want 0", v, err)
	}
	if other := encoded(17, 0x1000000000006); string(other[blockFillOff:blockChecksumOff]) == string(b[blockFillOff:blockChecksumOff]) {
		t.Fatal("two values share their filler")
	}
	torn := append(encoded(17, 1)[:BlockSize/2], encoded(17, 2)[BlockSize/2:]...)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"torn":      {torn, "checksum"},
		"misplaced": {encoded(18, 1), "holds the data of block 18"},
		"foreign":   {[]byte(strings.Repeat("x", BlockSize)), "magic"},
		"short":     {b[:512], "512 bytes"},
	} {
		if _, err := decodeBlock(tc.data, 17); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: decode error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestCheckFinal(t *testing.T) {
	h := &History{Ops: []Op{
		write(7, 1, 0, 10, OK),
		write(7, 2, 20, 30, OK),
		write(7, 3, 40, 50, Unknown),
		write(7, 4, 60, 70, Failed),
		write(8, 5, 0, 10, Unknown),
	}}
	for _, tc := range []struct {
		name   string
		blocks map[int][]byte
		want   []string // nil: the check passes
	}{
		{"last acknowledged", map[int][]byte{7: encoded(7, 2)}, nil},
		{"later unknown landed", map[int][]byte{7: encoded(7, 3), 8: encoded(8, 5)}, nil},
		{"later failed landed", map[int][]byte{7: encoded(7, 4)}, nil},
		{"lost acknowledged write", map[int][]byte{7: encoded(7, 1)},
			[]string{"block 7: acknowledged write of value 0x2 (client 0, acked by node a at 12:00:00.030000) lost; found value 0x1 of the write"}},
		{"lost to zeroes", map[int][]byte{7: make([]byte, BlockSize)},
			[]string{"acknowledged write of value 0x2", "lost; found zeroes"}},
		{"value never written", map[int][]byte{7: encoded(7, 99)},
			[]string{"lost; found value 0x63, which no write in the history wrote"}},
		{"torn", map[int][]byte{7: append(encoded(7, 2)[:100], encoded(7, 3)[100:]...)},
			[]string{"block 7: final contents corrupt", "checksum"}},
		{"misplaced", map[int][]byte{7: encoded(8, 5)},
			[]string{"block 7: final contents corrupt", "holds the data of block 8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.CheckFinal(contents(tc.blocks))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckFinal: %v", err)
				}
				return
			}
			wantViolation(t, err, tc.want...)
		})
	}
}

// TestCheckFinalEarlierUnknownMayNotResurface: an unknown write issued
// before the last acknowledged one must not be what the block ends with.
func TestCheckFinalEarlierUnknownMayNotResurface(t *testing.T) {
	h := &History{Ops: []Op{
		write(3, 1, 0, 10, Unknown),
		write(3, 2, 20, 30, OK),
	}}
	wantViolation(t, h.CheckFinal(contents(map[int][]byte{3: encoded(3, 1)})), "acknowledged write of value 0x2", "lost")
	// Without an acknowledged write, zeroes and the unknown write are fine.
	h = &History{Ops: []Op{write(3, 1, 0, 10, Unknown)}}
	for _, data := range [][]byte{encoded(3, 1), make([]byte, BlockSize)} {
		if err := h.CheckFinal(contents(map[int][]byte{3: data})); err != nil {
			t.Fatalf("CheckFinal: %v", err)
		}
	}
}

func TestCheckFinalReadError(t *testing.T) {
	h := &History{Ops: []Op{write(3, 1, 0, 10, OK)}}
	err := h.CheckFinal(func(int) ([]byte, error) { return nil, syscall.EIO })
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "block 3") {
		t.Fatalf("CheckFinal = %v, want the read error for block 3", err)
	}
}

func TestCheckReads(t *testing.T) {
	writes := []Op{
		write(5, 1, 0, 10, OK),
		write(5, 2, 20, 30, OK),
		write(5, 3, 40, 50, Unknown),
	}
	for _, tc := range []struct {
		name string
		read Op
		want []string // nil: the check passes
	}{
		{"last acknowledged", read(5, 2, 31, 35), nil},
		{"zeroes during the first write", read(5, 0, 5, 8), nil},
		{"overlapping write", read(5, 1, 5, 8), nil},
		{"overlapping second write", read(5, 2, 12, 25), nil},
		{"unknown write while reading", read(5, 3, 45, 60), nil},
		{"unknown write after it ended", read(5, 3, 55, 60), nil},
		{"unknown write not landed", read(5, 2, 55, 60), nil},
		{"stale value", read(5, 1, 31, 35),
			[]string{"stale read: read of block 5 by client 0 via node a [12:00:00.031000, 12:00:00.035000] ok returned value 0x1", "older than the write of 0x2 acknowledged by node a at 12:00:00.030000"}},
		{"stale zeroes", read(5, 0, 12, 15), []string{"stale read", "returned zeroes"}},
		{"stale under an unknown write", read(5, 1, 55, 60), []string{"stale read"}},
		{"future write", read(5, 2, 12, 15), []string{"returned value 0x2 of the write", "which no write could have left there"}},
		{"never written", read(5, 9, 31, 35), []string{"value 0x9, which no write in the history wrote"}},
		{"corrupt", Op{Kind: Read, Block: 5, Start: at(31), End: at(35), Node: "a", Outcome: OK, Corrupt: errors.New("checksum mismatch")},
			[]string{"returned corrupt data: checksum mismatch"}},
		{"failed read is not checked", Op{Kind: Read, Block: 5, Value: 77, Start: at(31), End: at(35), Node: "a", Outcome: Failed}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &History{Ops: append(append([]Op(nil), writes...), tc.read)}
			err := h.CheckReads()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckReads: %v", err)
				}
				return
			}
			wantViolation(t, err, tc.want...)
		})
	}
}

func TestCheckSingleHandover(t *testing.T) {
	on := func(node string, kind Kind, end int, outcome Outcome) Op {
		return Op{Kind: kind, Block: end, Value: uint64(end), Start: at(end - 1), End: at(end), Node: node, Outcome: outcome}
	}
	good := &History{Ops: []Op{
		on("a", Write, 1, OK), on("a", Read, 2, OK), on("a", Write, 3, OK),
		on("a", Write, 20, Failed), on("a", Write, 21, Unknown), // not acknowledged
		on("b", Write, 10, OK), on("b", Read, 11, OK), on("b", Write, 30, OK),
	}}
	if err := good.CheckSingleHandover(); err != nil {
		t.Fatalf("CheckSingleHandover: %v", err)
	}

	// An operation sent to a before b's first acknowledgement may have been
	// acknowledged before it and read late.
	late := &History{Ops: append(good.Ops, Op{Kind: Write, Block: 9, Value: 9, Start: at(9), End: at(12), Node: "a", Outcome: OK})}
	if err := late.CheckSingleHandover(); err != nil {
		t.Fatalf("CheckSingleHandover with a late reply: %v", err)
	}

	bad := &History{Ops: append(good.Ops, on("a", Write, 12, OK))}
	wantViolation(t, bad.CheckSingleHandover(),
		"acknowledgements after a handover (1):",
		"node a acknowledged write of 0xc to block 12",
		"at 12:00:00.012000 after node b acknowledged at 12:00:00.010000")

	back := &History{Ops: append(good.Ops, on("a", Read, 40, OK))}
	wantViolation(t, back.CheckSingleHandover(), "node a acknowledged read of block 40")
}

func TestViolationsListTheFirstTen(t *testing.T) {
	h := &History{}
	blocks := make(map[int][]byte)
	for b := range 15 {
		h.Ops = append(h.Ops, write(b, uint64(b+1), 0, 10, OK))
		blocks[b] = make([]byte, BlockSize)
	}
	err := h.CheckFinal(contents(blocks))
	wantViolation(t, err, "lost or corrupted writes (15):", "\t... and 5 more")
	if n := strings.Count(err.Error(), "\n\tblock "); n != 10 {
		t.Fatalf("error lists %d violations, want 10:\n%v", n, err)
	}
}

func TestSummary(t *testing.T) {
	h := &History{Ops: []Op{
		write(1, 1, 0, 10, OK),
		write(1, 2, 10, 20, OK),
		write(1, 3, 20, 30, Unknown),
		{Kind: Write, Block: 1, Value: 4, Start: at(400), End: at(520), Node: "b", Outcome: OK},
		{Kind: Read, Block: 1, Value: 4, Start: at(520), End: at(530), Node: "b", Outcome: OK},
		{Kind: Read, Block: 1, Start: at(530), End: at(540), Node: "b", Outcome: Failed},
	}}
	if got := h.Acked("a"); got != 2 {
		t.Errorf("Acked(a) = %d, want 2", got)
	}
	if got := h.Acked("b"); got != 2 {
		t.Errorf("Acked(b) = %d, want 2", got)
	}
	from, gap := h.LongestGap()
	if !from.Equal(at(20)) || gap != 500*time.Millisecond {
		t.Errorf("LongestGap = %v from %v, want 500ms from %v", gap, from, at(20))
	}
	sum := h.Summary()
	for _, want := range []string{
		"6 ops: 4 writes, 2 reads; 4 ok, 1 failed, 1 unknown",
		"node a: 2 ok, 0 failed, 1 unknown; acks from 12:00:00.010000 to 12:00:00.020000",
		"node b: 2 ok, 1 failed, 0 unknown; acks from 12:00:00.520000 to 12:00:00.530000",
		"longest gap between acks: 500ms from 12:00:00.020000",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary lacks %q:\n%s", want, sum)
		}
	}
}
