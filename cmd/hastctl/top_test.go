package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hastio/hast/internal/control"
)

func TestTopLine(t *testing.T) {
	now := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	syncing := control.ResourceStatus{Name: "shared", Role: "primary", Status: "complete", Dirty: 3 << 30,
		Sync: &control.SyncProgress{BytesLeft: 3 << 30, BytesDone: 1 << 30, Rate: 200 << 20, ETASeconds: 15, Source: "primary"}}
	for _, tc := range []struct {
		name string
		r    control.ResourceStatus
		term bool
		want string
	}{
		{"idle, plain", control.ResourceStatus{Name: "shared", Role: "secondary", Status: "complete"}, false,
			"2026-11-23T16:00:00Z shared\tsecondary complete\tdirty 0B\n"},
		{"syncing, plain", syncing, false,
			"2026-11-23T16:00:00Z shared\tprimary complete\tdirty 3.0GB\tsync from primary 25.0% 3.0GB left, 200MB/s, eta 15s\n"},
		{"syncing, terminal", syncing, true,
			"shared\tprimary complete\tdirty 3.0GB\n\tsync from primary [#######.......................]  25.0% 3.0GB left, 200MB/s, eta 15s\n"},
		{"init", control.ResourceStatus{Name: "r1", Role: "init"}, true, "r1\tinit -\tdirty 0B\n"},
		{"error", control.ResourceStatus{Name: "nope", Error: control.ErrNoEntry, Message: "unknown resource"}, false,
			"nope\terror 1: unknown resource\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := topLine(tc.r, now, tc.term); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if isTerminal(&strings.Builder{}) {
		t.Error("a strings.Builder taken for a terminal")
	}
}
