package ggate

import "unsafe"

// FreeBSD's GEOM Gate interface (sys/geom/gate/g_gate.h). The structures
// mirror the C ones field for field, so Go lays them out as the C compiler
// does on every FreeBSD architecture: fixed-size integers where C has them,
// uintptr for uintptr_t and a pointer for void *. They build on every
// system, so the layout test runs wherever the tests do; only the
// freebsd-tagged frontend issues the ioctls.

// GEOM Gate constants.
const (
	ggVersion    = 3    // G_GATE_VERSION: every structure carries it
	ggNameMax    = 255  // NAME_MAX, the size of the name buffers
	ggInfoSize   = 2048 // size of gctl_info
	ggNameGiven  = -2   // G_GATE_NAME_GIVEN: create or find by gctl_name
	ggModifySize = 0x1  // G_GATE_MODIFY_MEDIASIZE
	ggCtlPath    = "/dev/ggctl"
)

// BIO commands as g_gate hands them to userland (sys/bio.h).
const (
	bioRead    = 0x01
	bioWrite   = 0x02
	bioDelete  = 0x03
	bioFlush   = 0x05
	bioSpeedup = 0x0a
)

// ggCtlCreate is struct g_gate_ctl_create.
type ggCtlCreate struct {
	version    uint32
	mediasize  int64
	sectorsize uint32
	flags      uint32
	maxcount   uint32
	timeout    uint32
	name       [ggNameMax]byte
	info       [ggInfoSize]byte
	readprov   [ggNameMax]byte
	readoffset int64
	unit       int32
}

// ggCtlModify is struct g_gate_ctl_modify.
type ggCtlModify struct {
	version    uint32
	unit       int32
	modify     uint32
	mediasize  int64
	info       [ggInfoSize]byte
	readprov   [ggNameMax]byte
	readoffset int64
}

// ggCtlDestroy is struct g_gate_ctl_destroy.
type ggCtlDestroy struct {
	version uint32
	unit    int32
	force   int32
	name    [ggNameMax]byte
}

// ggCtlCancel is struct g_gate_ctl_cancel.
type ggCtlCancel struct {
	version uint32
	unit    int32
	seq     uintptr
	name    [ggNameMax]byte
}

// ggCtlIO is struct g_gate_ctl_io, the request START returns and DONE
// completes.
type ggCtlIO struct {
	version uint32
	unit    int32
	seq     uintptr
	cmd     uint32
	offset  int64
	length  int64
	data    *byte
	error   int32
}

// The GEOM Gate ioctls on /dev/ggctl: FreeBSD's _IOWR('m', n, struct)
// (sys/sys/ioccom.h), which puts the structure size in bits 16 to 28.
const (
	ggCmdCreate  = iocInOut | unsafe.Sizeof(ggCtlCreate{})&iocParmMask<<16 | 'm'<<8 | 0
	ggCmdModify  = iocInOut | unsafe.Sizeof(ggCtlModify{})&iocParmMask<<16 | 'm'<<8 | 1
	ggCmdDestroy = iocInOut | unsafe.Sizeof(ggCtlDestroy{})&iocParmMask<<16 | 'm'<<8 | 2
	ggCmdCancel  = iocInOut | unsafe.Sizeof(ggCtlCancel{})&iocParmMask<<16 | 'm'<<8 | 3
	ggCmdStart   = iocInOut | unsafe.Sizeof(ggCtlIO{})&iocParmMask<<16 | 'm'<<8 | 4
	ggCmdDone    = iocInOut | unsafe.Sizeof(ggCtlIO{})&iocParmMask<<16 | 'm'<<8 | 5

	iocInOut    = 0xc0000000
	iocParmMask = 0x1fff
)
