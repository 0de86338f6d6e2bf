// Package wire is the binary codec of the replication protocol between a
// primary and a secondary hastd: message types, framing, checksums and
// compression. It owns bytes only; the primary and secondary engines own
// connections, goroutines, timeouts and what the messages mean.
//
// # Connection
//
// One TCP connection per resource, full duplex. The primary writes a Hello,
// the secondary answers with a Welcome; then the primary writes requests
// and the secondary writes replies, each direction a stream of frames. Both
// sides compute the session's Params with Agree(hello, welcome) and pin
// them with SetParams on their Encoder and Decoder: from then on a Decoder
// accepts only the agreed version and payloads up to the agreed MaxIO
// (1 MiB by default, at most HardMaxIO, 32 MiB).
//
// Versions number this protocol (1 today), not FreeBSD HAST's. The Hello
// carries the primary's range, the Welcome the chosen version (see
// NegotiateVersion; no overlap is ErrVersion naming both ranges). Hello and
// Welcome are always encoded in handshake layout 1, which every version
// reads: they only ever grow by appending fields, and decoders ignore bytes
// after the fields they know. Requests and replies carry the session's
// version; any other layout change means a new version.
//
// # Frames
//
// Integers are little-endian. Every frame is a header, then a payload:
//
//	header  = prefix (20 bytes) + body (by frame type) + digest (0, 4 or 32 bytes)
//	payload = wire length bytes: the data after compression
//
// Prefix, every frame:
//
//	offset size field
//	0      4    magic "HAST" (48 41 53 54)
//	4      1    version: the session's version; 1 (the layout) for Hello and Welcome
//	5      1    frame type: 1 Hello, 2 Welcome, 3 Request, 4 Reply
//	6      1    checksum of the payload: 0 none, 1 crc32 (CRC-32C), 2 sha256
//	7      1    compression of the payload: 0 none, 1 hole, 2 lzf (S2)
//	8      2    flags, by frame type
//	10     2    header length: prefix + body + digest, at most 4096
//	12     4    wire length: payload bytes that follow the header
//	16     4    payload length: payload bytes after decompression
//
// Request (header 56 bytes + digest; flags: 1 memsync, 2 sync, 4 FUA):
//
//	20     2    command: 1 read, 2 write, 3 trim, 4 flush, 5 keepalive, others unknown
//	22     2    reserved, zero
//	24     8    request id, never 0
//	32     8    generation
//	40     8    offset
//	48     8    length (a write's payload length)
//	56     d    digest
//
// Reply (header 40 bytes + digest; flags: exactly one of 1 received, 2 done):
//
//	20     2    status (Status: Linux errno numbers, 0 success)
//	22     2    reserved, zero
//	24     8    request id
//	32     8    generation of the secondary
//	40     d    digest
//
// Hello (header 76 bytes + names; no payload; flags: 1 virgin, 2 nudge: a
// secondary asking the primary to connect now, answered by closing):
//
//	20     1    min version
//	21     1    max version
//	22     1    replication: 1 fullsync, 2 memsync, 3 async
//	23     1    checksum for the session
//	24     1    compression for the session
//	25     1    resource name length r (1..255)
//	26     1    node name length n (1..255)
//	27     1    reserved, zero
//	28     4    extent size
//	32     4    max I/O size
//	36     8    generation (0 in classic mode)
//	44     8    resuid
//	52     8    localcnt
//	60     8    remotecnt
//	68     8    data size
//	76     r    resource name, then n bytes of node name
//
// Welcome (header 74 bytes + message + digest; payload: the dirty bitmap;
// flags: 1 virgin, 2 wait):
//
//	20     1    chosen version
//	21     1    sync source: 1 primary, 2 secondary (0 in a refusal)
//	22     2    code: 0 accepted, else a WelcomeCode refusal
//	24     4    extent size
//	28     4    max I/O size agreed
//	32     8    generation
//	40     8    resuid
//	48     8    localcnt
//	56     8    remotecnt
//	64     8    data size
//	72     2    message length m (at most 1024)
//	74     m    message
//	74+m   d    digest
//
// The bitmap is empty or exactly BitmapLen(data size, extent size) bytes, at
// most MaxBitmapLen, with the bits past the last extent zero.
//
// # Payload pipeline
//
// As in HAST, the sender compresses, then checksums the bytes it sends; the
// receiver verifies, then decompresses. Compression hole sends an all-zero
// payload as its length alone (wire length 0). Compression lzf tries hole
// first, then S2 on payloads of at least 1 KiB, keeping the result only if
// it saves an eighth; hast.conf's word lzf maps to S2 because both nodes run
// this code. The digest covers the wire bytes and is present only when the
// wire length is not 0. A mismatch is ErrChecksum naming the request id.
//
// # Concurrency and ordering
//
// An Encoder and a Decoder each belong to one goroutine at a time; one of
// each may work on the same connection at once. Frames arrive in the order
// they were written. Replies may answer requests in any order; the request
// id pairs them. A memsync write is answered twice: Received, then Done.
//
// Encoders buffer small frames until Flush, so the connection's writer
// goroutine sends a burst in one system call:
//
//	for req := range queue {
//		if err := enc.WriteRequest(req.hdr, req.data); err != nil { ... }
//		if len(queue) == 0 {
//			if err := enc.Flush(); err != nil { ... }
//		}
//	}
//
// Payloads above 16 KiB are written at once, together with the buffered
// bytes, in one net.Buffers write (writev on a TCP connection). A Decoder
// reads a request or reply header with ReadRequest or ReadReply, then its
// payload into a buffer of the caller's with ReadPayload; neither allocates.
//
// # Errors
//
// Decoding errors wrap ErrBadMagic, ErrVersion, ErrFrameTooLarge,
// ErrTruncated, ErrChecksum or ErrMalformed; a stream that ends cleanly
// between frames returns io.EOF. Outcomes of requests travel as Status
// codes; StatusOf and Status.Err convert them from and to local errors.
package wire
