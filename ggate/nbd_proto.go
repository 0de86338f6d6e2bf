package ggate

// Wire constants of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md).
// Every field is big-endian.

// Magic numbers.
const (
	nbdMagic                = 0x4e42444d41474943 // "NBDMAGIC", first server word
	nbdOptMagic             = 0x49484156454f5054 // "IHAVEOPT", newstyle and every option
	nbdOptReplyMagic        = 0x0003e889045565a9 // option replies
	nbdRequestMagic         = 0x25609513         // transmission requests
	nbdSimpleReplyMagic     = 0x67446698         // simple replies
	nbdStructuredReplyMagic = 0x668e33ef         // structured reply chunks
)

// Handshake flags (server) and client flags.
const (
	nbdFlagFixedNewstyle  uint16 = 1 << 0
	nbdFlagNoZeroes       uint16 = 1 << 1
	nbdFlagCFixedNewstyle uint32 = 1 << 0
	nbdFlagCNoZeroes      uint32 = 1 << 1
)

// Transmission flags.
const (
	nbdFlagHasFlags        uint16 = 1 << 0
	nbdFlagReadOnly        uint16 = 1 << 1
	nbdFlagSendFlush       uint16 = 1 << 2
	nbdFlagSendFUA         uint16 = 1 << 3
	nbdFlagSendTrim        uint16 = 1 << 5
	nbdFlagSendWriteZeroes uint16 = 1 << 6
	nbdFlagSendDF          uint16 = 1 << 7
	nbdFlagCanMultiConn    uint16 = 1 << 8
	nbdFlagSendCache       uint16 = 1 << 10
)

// Options.
const (
	nbdOptExportName      uint32 = 1
	nbdOptAbort           uint32 = 2
	nbdOptList            uint32 = 3
	nbdOptStartTLS        uint32 = 5
	nbdOptInfo            uint32 = 6
	nbdOptGo              uint32 = 7
	nbdOptStructuredReply uint32 = 8
)

// Option reply types.
const (
	nbdRepAck        uint32 = 1
	nbdRepServer     uint32 = 2
	nbdRepInfo       uint32 = 3
	nbdRepErrUnsup   uint32 = 1<<31 + 1
	nbdRepErrPolicy  uint32 = 1<<31 + 2
	nbdRepErrInvalid uint32 = 1<<31 + 3
	nbdRepErrUnknown uint32 = 1<<31 + 6
	nbdRepErrTooBig  uint32 = 1<<31 + 9
)

// Information types of NBD_REP_INFO.
const (
	nbdInfoExport      uint16 = 0
	nbdInfoName        uint16 = 1
	nbdInfoDescription uint16 = 2
	nbdInfoBlockSize   uint16 = 3
)

// Commands.
const (
	nbdCmdRead        uint16 = 0
	nbdCmdWrite       uint16 = 1
	nbdCmdDisc        uint16 = 2
	nbdCmdFlush       uint16 = 3
	nbdCmdTrim        uint16 = 4
	nbdCmdCache       uint16 = 5
	nbdCmdWriteZeroes uint16 = 6
)

// Command flags.
const (
	nbdCmdFlagFUA    uint16 = 1 << 0
	nbdCmdFlagNoHole uint16 = 1 << 1
	nbdCmdFlagDF     uint16 = 1 << 2
)

// Structured reply flags and chunk types.
const (
	nbdReplyFlagDone       uint16 = 1 << 0
	nbdReplyTypeNone       uint16 = 0
	nbdReplyTypeOffsetData uint16 = 1
	nbdReplyTypeError      uint16 = 1<<15 + 1
)

// Sizes and limits.
const (
	nbdRequestHeaderLen = 28  // magic, flags, type, handle, offset, length
	nbdOptionHeaderLen  = 16  // magic, option, length
	nbdZeroPadLen       = 124 // reserved zeroes after NBD_OPT_EXPORT_NAME
	nbdMaxString        = 4096

	// maxOptionData is the largest option payload read into memory; every
	// legitimate option is far smaller. Larger ones are discarded up to
	// maxOptionDiscard and answered with an error, beyond that the
	// connection is dropped as a denial of service.
	maxOptionData    = 64 << 10
	maxOptionDiscard = 1 << 20

	// minDoSWrite is the write payload the protocol says must never be
	// treated as a denial of service, whatever the advertised maximum: an
	// oversized WRITE up to this length is read, discarded and answered
	// with EINVAL; a longer one drops the connection.
	minDoSWrite = 32 << 20
)
