package wire

import (
	"errors"
	"testing"
)

func TestNegotiateVersion(t *testing.T) {
	cases := []struct {
		min, max uint8
		want     uint8
		err      error
	}{
		{1, 1, 1, nil},
		{1, 9, MaxVersion, nil},
		{0, 1, 1, nil},
		{2, 5, 0, ErrVersion},
		{0, 0, 0, ErrVersion},
		{3, 1, 0, ErrVersion},
	}
	for _, c := range cases {
		got, err := NegotiateVersion(c.min, c.max)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("NegotiateVersion(%d, %d) = %d, %v; want %d, %v", c.min, c.max, got, err, c.want, c.err)
		}
	}
	_, err := NegotiateVersion(2, 5)
	if want := "wire: unsupported protocol version: peer speaks 2..5, we speak 1..1"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestAgree(t *testing.T) {
	h := sampleHello()
	w := sampleWelcome()
	w.MaxIO = 128 << 10
	p, err := Agree(h, w)
	want := Params{Version: 1, MaxIO: 128 << 10, Checksum: ChecksumCRC32, Compression: CompressionLZF}
	if err != nil || p != want {
		t.Fatalf("Agree = %+v, %v; want %+v", p, err, want)
	}

	refused := &Welcome{Code: WelcomeSplitBrain, Message: "Split-brain condition!"}
	_, err = Agree(h, refused)
	var re *RefusedError
	if !errors.As(err, &re) || re.Code != WelcomeSplitBrain || re.Wait {
		t.Fatalf("Agree with a refusal: %v, want a split-brain RefusedError", err)
	}
	if want := "wire: secondary refused: split-brain: Split-brain condition!"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	bad := *w
	bad.Version = 2
	if _, err := Agree(h, &bad); !errors.Is(err, ErrVersion) {
		t.Errorf("welcome version outside the hello's range: %v, want ErrVersion", err)
	}
	bad = *w
	bad.MaxIO = h.MaxIO + 1
	if _, err := Agree(h, &bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("welcome max I/O above the hello's: %v, want ErrMalformed", err)
	}
}

func TestRefusedErrorWait(t *testing.T) {
	w := &Welcome{Code: WelcomeRoleMismatch, Wait: true}
	var re *RefusedError
	if !errors.As(w.Err(), &re) || !re.Wait {
		t.Fatalf("Err() = %v, want a RefusedError with Wait", w.Err())
	}
	if want := "wire: secondary refused: role mismatch"; re.Error() != want {
		t.Errorf("error %q, want %q", re, want)
	}
}

func TestBitmapLen(t *testing.T) {
	cases := []struct {
		data   uint64
		extent uint32
		want   int
		ok     bool
	}{
		{0, 2 << 20, 0, true},
		{1, 2 << 20, 1, true},
		{8 << 21, 2 << 20, 1, true},
		{8<<21 + 1, 2 << 20, 2, true},
		{10 << 30, 2 << 20, 640, true},
		{512 << 40, 2 << 20, MaxBitmapLen, true},
		{512<<40 + 1, 2 << 20, 0, false},
		{1<<64 - 1, 1, 0, false},
		{4096, 0, 0, false},
	}
	for _, c := range cases {
		got, ok := BitmapLen(c.data, c.extent)
		if got != c.want || ok != c.ok {
			t.Errorf("BitmapLen(%d, %d) = %d, %t; want %d, %t", c.data, c.extent, got, ok, c.want, c.ok)
		}
	}
}
