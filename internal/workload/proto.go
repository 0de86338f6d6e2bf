package workload

import "syscall"

// Wire constants of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md)
// that the client uses. Every field is big-endian.

// Magic numbers.
const (
	nbdMagic                = 0x4e42444d41474943 // "NBDMAGIC", first server word
	nbdOptMagic             = 0x49484156454f5054 // "IHAVEOPT", newstyle and every option
	nbdOldstyleMagic        = 0x0000420281861253 // second server word of oldstyle servers
	nbdOptReplyMagic        = 0x0003e889045565a9 // option replies
	nbdRequestMagic         = 0x25609513         // transmission requests
	nbdSimpleReplyMagic     = 0x67446698         // simple replies
	nbdStructuredReplyMagic = 0x668e33ef         // structured reply chunks, never negotiated
)

// Handshake flags sent by the server, and the client flags.
const (
	nbdFlagFixedNewstyle  uint16 = 1 << 0
	nbdFlagNoZeroes       uint16 = 1 << 1
	nbdFlagCFixedNewstyle uint32 = 1 << 0
	nbdFlagCNoZeroes      uint32 = 1 << 1
)

// Transmission flags.
const (
	nbdFlagSendFlush uint16 = 1 << 2
)

// Options.
const (
	nbdOptExportName uint32 = 1
	nbdOptAbort      uint32 = 2
	nbdOptGo         uint32 = 7
)

// Option reply types. Error replies have the top bit set.
const (
	nbdRepAck              uint32 = 1
	nbdRepInfo             uint32 = 3
	nbdRepFlagError        uint32 = 1 << 31
	nbdRepErrUnsup         uint32 = nbdRepFlagError + 1
	nbdRepErrPolicy        uint32 = nbdRepFlagError + 2
	nbdRepErrInvalid       uint32 = nbdRepFlagError + 3
	nbdRepErrPlatform      uint32 = nbdRepFlagError + 4
	nbdRepErrTLSReqd       uint32 = nbdRepFlagError + 5
	nbdRepErrUnknown       uint32 = nbdRepFlagError + 6
	nbdRepErrShutdown      uint32 = nbdRepFlagError + 7
	nbdRepErrBlockSizeReqd uint32 = nbdRepFlagError + 8
	nbdRepErrTooBig        uint32 = nbdRepFlagError + 9
)

// nbdInfoExport is the information type of NBD_REP_INFO carrying the export
// size and transmission flags.
const nbdInfoExport uint16 = 0

// Commands.
const (
	nbdCmdRead  uint16 = 0
	nbdCmdWrite uint16 = 1
	nbdCmdDisc  uint16 = 2
	nbdCmdFlush uint16 = 3
)

// Sizes and limits.
const (
	nbdGreetingLen       = 18  // magic, IHAVEOPT, handshake flags
	nbdOptReplyHeaderLen = 20  // magic, option, reply type, length
	nbdRequestHeaderLen  = 28  // magic, flags, type, handle, offset, length
	nbdReplyHeaderLen    = 16  // magic, error, handle
	nbdZeroPadLen        = 124 // reserved zeroes after NBD_OPT_EXPORT_NAME

	// maxOptReply bounds the payload of one option reply read into memory;
	// protocol strings are at most 4096 bytes and information replies a few
	// bytes.
	maxOptReply = 64 << 10
)

// errnoFromNBD maps an NBD error value, which uses the protocol's own
// numbering, to the host's errno. The protocol tells clients to treat an
// unexpected value as EINVAL.
func errnoFromNBD(v uint32) syscall.Errno {
	switch v {
	case 1:
		return syscall.EPERM
	case 5:
		return syscall.EIO
	case 12:
		return syscall.ENOMEM
	case 28:
		return syscall.ENOSPC
	case 75:
		return syscall.EOVERFLOW
	case 95:
		return syscall.ENOTSUP
	case 108:
		return syscall.ESHUTDOWN
	}
	return syscall.EINVAL
}

// optReplyName names an option error reply type for messages.
func optReplyName(typ uint32) string {
	switch typ {
	case nbdRepErrUnsup:
		return "unsupported"
	case nbdRepErrPolicy:
		return "denied by policy"
	case nbdRepErrInvalid:
		return "invalid"
	case nbdRepErrPlatform:
		return "not available on this platform"
	case nbdRepErrTLSReqd:
		return "TLS required"
	case nbdRepErrUnknown:
		return "unknown export"
	case nbdRepErrShutdown:
		return "server shutting down"
	case nbdRepErrBlockSizeReqd:
		return "block size negotiation required"
	case nbdRepErrTooBig:
		return "request too big"
	}
	return "error"
}
