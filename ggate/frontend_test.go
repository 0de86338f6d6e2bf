package ggate

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFrontendConfigValidate(t *testing.T) {
	dev := NewMemDevice(1 << 20)
	bad := map[string]FrontendConfig{
		"empty name":         {Device: dev},
		"dot":                {Name: ".", Device: dev},
		"dot dot":            {Name: "..", Device: dev},
		"slash":              {Name: "a/b", Device: dev},
		"NUL":                {Name: "a\x00b", Device: dev},
		"long name":          {Name: strings.Repeat("n", maxProviderName+1), Device: dev},
		"nil device":         {Name: "r0"},
		"sector too small":   {Name: "r0", Device: dev, SectorSize: 256},
		"sector not pow2":    {Name: "r0", Device: dev, SectorSize: 1536},
		"sector too large":   {Name: "r0", Device: dev, SectorSize: 128 << 10},
		"size not multiple":  {Name: "r0", Device: NewMemDevice(1<<20 + 512), SectorSize: 4096},
		"empty device":       {Name: "r0", Device: NewMemDevice(0)},
		"size below sector":  {Name: "r0", Device: NewMemDevice(512), SectorSize: 4096},
		"sector at most 64K": {Name: "r0", Device: NewMemDevice(1 << 20), SectorSize: 1 << 17},
	}
	for name, cfg := range bad {
		if err := cfg.validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: validate = %v, want ErrInvalidConfig", name, err)
		}
	}

	cfg := FrontendConfig{Name: "r0", Device: dev}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if cfg.SectorSize != DefaultSectorSize || cfg.DevDir != DefaultDevDir ||
		cfg.StateDir != filepath.Join(DefaultFUSEStateRoot, "r0") || cfg.Logger == nil {
		t.Errorf("defaults not applied: sector %d, dev dir %q, state dir %q, logger %v",
			cfg.SectorSize, cfg.DevDir, cfg.StateDir, cfg.Logger)
	}
	kept := FrontendConfig{Name: "r1", Device: dev, SectorSize: 4096, DevDir: "/tmp/d", StateDir: "/tmp/s"}
	if err := kept.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if kept.SectorSize != 4096 || kept.DevDir != "/tmp/d" || kept.StateDir != "/tmp/s" {
		t.Errorf("explicit fields changed: %+v", kept)
	}
}

func TestAvailableFrontends(t *testing.T) {
	kinds := AvailableFrontends()
	if len(kinds) == 0 || kinds[len(kinds)-1] != FrontendNBD {
		t.Fatalf("AvailableFrontends = %v, want FrontendNBD last", kinds)
	}
	if slices.Index(kinds, FrontendNBD) != len(kinds)-1 {
		t.Errorf("AvailableFrontends = %v lists nbd twice", kinds)
	}
	if BestFrontend() != kinds[0] {
		t.Errorf("BestFrontend = %q, want %q", BestFrontend(), kinds[0])
	}
	for _, k := range kinds {
		switch k {
		case FrontendKernelNBD, FrontendFUSE, FrontendGEOMGate, FrontendNBD:
		default:
			t.Errorf("unknown kind %q", k)
		}
	}
}

func TestAttachRefuses(t *testing.T) {
	base := FrontendConfig{Name: "r0", Device: NewMemDevice(1 << 20), DevDir: t.TempDir(), StateDir: t.TempDir()}
	cases := []struct {
		kind FrontendKind
		want error
	}{
		{FrontendNBD, ErrFrontendUnavailable},
		{"ublk", ErrInvalidConfig},
	}
	for _, k := range []FrontendKind{FrontendKernelNBD, FrontendFUSE, FrontendGEOMGate} {
		if !slices.Contains(AvailableFrontends(), k) {
			cases = append(cases, struct {
				kind FrontendKind
				want error
			}{k, ErrFrontendUnavailable})
		}
	}
	for _, c := range cases {
		cfg := base
		cfg.Kind = c.kind
		f, err := Attach(cfg)
		if !errors.Is(err, c.want) {
			t.Errorf("Attach(kind %q) = %v, %v; want %v", c.kind, f, err, c.want)
		}
	}
	cfg := base
	cfg.Name = ""
	if _, err := Attach(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Attach without a name = %v, want ErrInvalidConfig", err)
	}
}
