package ggate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNBDConfigValidate(t *testing.T) {
	dev := NewMemDevice(1 << 20)
	valid := NBDConfig{Export: "vol0", Device: dev}
	if err := valid.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	full := DefaultNBDConfig()
	full.Export, full.Device = "vol0", dev
	if err := full.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(c *NBDConfig)
	}{
		{"Device", func(c *NBDConfig) { c.Device = nil }},
		{"Export", func(c *NBDConfig) { c.Export = strings.Repeat("x", 4097) }},
		{"Export", func(c *NBDConfig) { c.Export = "a\x00b" }},
		{"Description", func(c *NBDConfig) { c.Description = "\xff\xfe" }},
		{"MaxRequest", func(c *NBDConfig) { c.MaxRequest = 4095 }},
		{"MaxRequest", func(c *NBDConfig) { c.MaxRequest = 1<<30 + 1 }},
		{"MaxInFlight", func(c *NBDConfig) { c.MaxInFlight = -1 }},
		{"MaxInFlight", func(c *NBDConfig) { c.MaxInFlight = 4097 }},
		{"HandshakeTimeout", func(c *NBDConfig) { c.HandshakeTimeout = -time.Second }},
		{"size", func(c *NBDConfig) { c.Device = errDevice{size: -1} }},
		{"minimum block size", func(c *NBDConfig) { c.Device = sizedDevice{dev, 3, 4096, 0} }},
		{"minimum block size", func(c *NBDConfig) { c.Device = sizedDevice{dev, 128 << 10, 128 << 10, 0} }},
		{"preferred block size", func(c *NBDConfig) { c.Device = sizedDevice{dev, 1, 256, 0} }},
		{"preferred block size", func(c *NBDConfig) { c.Device = sizedDevice{dev, 4096, 2048, 0} }},
		{"exceeds MaxRequest", func(c *NBDConfig) { c.Device = sizedDevice{dev, 512, 64 << 10, 0}; c.MaxRequest = 32 << 10 }},
		{"maximum block size", func(c *NBDConfig) { c.Device = sizedDevice{dev, 512, 4096, 2048} }},
		{"maximum block size", func(c *NBDConfig) { c.Device = sizedDevice{dev, 512, 4096, 4096 + 100} }},
	} {
		c := valid
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("config with bad %s: Validate = %v", tc.field, err)
		}
		if _, err := NewNBDServer(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewNBDServer with bad %s = %v", tc.field, err)
		}
	}
}

func TestBlockSizesFor(t *testing.T) {
	dev := NewMemDevice(1 << 20)
	for _, tc := range []struct {
		name string
		cfg  NBDConfig
		want blockSizes
	}{
		{"defaults", NBDConfig{Device: dev}, blockSizes{1, 4096, DefaultMaxRequest}},
		{"max request", NBDConfig{Device: dev, MaxRequest: 1 << 20}, blockSizes{1, 4096, 1 << 20}},
		{"odd max request rounded to minimum", NBDConfig{Device: sizedDevice{dev, 4096, 4096, 0}, MaxRequest: 10000}, blockSizes{4096, 4096, 8192}},
		{"device maximum below max request", NBDConfig{Device: sizedDevice{dev, 512, 4096, 64 << 10}}, blockSizes{512, 4096, 64 << 10}},
		{"device maximum above max request", NBDConfig{Device: sizedDevice{dev, 512, 4096, 1 << 30}, MaxRequest: 1 << 20}, blockSizes{512, 4096, 1 << 20}},
	} {
		if err := tc.cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := blockSizesFor(tc.cfg.withDefaults()); got != tc.want {
			t.Errorf("%s: block sizes %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
