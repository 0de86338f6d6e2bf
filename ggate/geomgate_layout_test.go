package ggate

import (
	"testing"
	"unsafe"
)

// TestGEOMGateLayout checks the mirrored structures and ioctl numbers
// against the LP64 values of FreeBSD's g_gate.h (HAST-REFERENCE.md, 8).
func TestGEOMGateLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("reference values are for 64-bit FreeBSD")
	}
	sizes := []struct {
		name      string
		got, want uintptr
	}{
		{"g_gate_ctl_create", unsafe.Sizeof(ggCtlCreate{}), 2608},
		{"g_gate_ctl_modify", unsafe.Sizeof(ggCtlModify{}), 2336},
		{"g_gate_ctl_destroy", unsafe.Sizeof(ggCtlDestroy{}), 268},
		{"g_gate_ctl_cancel", unsafe.Sizeof(ggCtlCancel{}), 272},
		{"g_gate_ctl_io", unsafe.Sizeof(ggCtlIO{}), 56},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("sizeof(struct %s) = %d, want %d", s.name, s.got, s.want)
		}
	}
	offsets := []struct {
		name      string
		got, want uintptr
	}{
		{"create.gctl_mediasize", unsafe.Offsetof(ggCtlCreate{}.mediasize), 8},
		{"create.gctl_name", unsafe.Offsetof(ggCtlCreate{}.name), 32},
		{"create.gctl_readoffset", unsafe.Offsetof(ggCtlCreate{}.readoffset), 2592},
		{"create.gctl_unit", unsafe.Offsetof(ggCtlCreate{}.unit), 2600},
		{"modify.gctl_mediasize", unsafe.Offsetof(ggCtlModify{}.mediasize), 16},
		{"cancel.gctl_seq", unsafe.Offsetof(ggCtlCancel{}.seq), 8},
		{"io.gctl_cmd", unsafe.Offsetof(ggCtlIO{}.cmd), 16},
		{"io.gctl_offset", unsafe.Offsetof(ggCtlIO{}.offset), 24},
		{"io.gctl_data", unsafe.Offsetof(ggCtlIO{}.data), 40},
		{"io.gctl_error", unsafe.Offsetof(ggCtlIO{}.error), 48},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("offsetof(%s) = %d, want %d", o.name, o.got, o.want)
		}
	}
	ioctls := []struct {
		name      string
		got, want uintptr
	}{
		{"G_GATE_CMD_CREATE", ggCmdCreate, 0xCA306D00},
		{"G_GATE_CMD_MODIFY", ggCmdModify, 0xC9206D01},
		{"G_GATE_CMD_DESTROY", ggCmdDestroy, 0xC10C6D02},
		{"G_GATE_CMD_CANCEL", ggCmdCancel, 0xC1106D03},
		{"G_GATE_CMD_START", ggCmdStart, 0xC0386D04},
		{"G_GATE_CMD_DONE", ggCmdDone, 0xC0386D05},
	}
	for _, c := range ioctls {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}
