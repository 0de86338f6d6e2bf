// Package ggate turns a replicated device into a block device that
// filesystems, virtual machines and applications can use.
//
// The replicator's primary implements [Device]; ggate exposes it through a
// frontend. The frontend in this package today is an NBD (Network Block
// Device) server, [NBDServer], the universal one: qemu, fio, nbdcopy, nbdfuse
// and the kernel's nbd-client all speak it. It listens on a unix socket by
// default ([ListenUnix], mode 0600) or on TCP (net.Listen("tcp", addr); Go
// enables TCP_NODELAY on accepted connections, as the protocol recommends),
// and [UnixURI] and [TCPURI] print the URIs clients take. Other frontends
// (attaching the kernel's /dev/nbdN, a FUSE file behind a loop device where
// the nbd module is missing, and FreeBSD's GEOM Gate) live in their own files
// and build on the same [Device].
//
// # Protocol
//
// The NBD server speaks the fixed newstyle handshake only (oldstyle and plain
// newstyle clients are refused) and serves one export, which the empty name
// also selects. It negotiates NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_EXPORT_NAME,
// NBD_OPT_LIST, NBD_OPT_ABORT and structured replies, refuses STARTTLS by
// policy and answers every other option with NBD_REP_ERR_UNSUP. In the
// transmission phase it serves READ, WRITE (FUA flushes the device after the
// write), FLUSH, TRIM, WRITE_ZEROES (through [ZeroWriter] when the device has
// it, else by writing zero buffers in bounded chunks), CACHE and DISC; every
// other command is answered with EINVAL and the connection stays up. Errors
// returned by the device are mapped to NBD error values through a wrapped
// syscall.Errno (see [Device]); anything else is reported as EIO.
//
// # Ordering and concurrency
//
// Each connection has one goroutine reading requests in order and up to
// NBDConfig.MaxInFlight requests executing concurrently, each on its own
// goroutine, so replies may leave out of order, as the protocol allows.
// Replies are written whole under a per-connection mutex and flushed by the
// last writer in line. A reply is sent only after the device call returned,
// and Device.Flush is device-global, so a FLUSH covers every write already
// acknowledged on any connection (the server advertises
// NBD_FLAG_CAN_MULTI_CONN). The device must therefore be safe for concurrent
// use; the server adds no ordering between overlapping in-flight requests, as
// the protocol requires none.
//
// Memory is bounded: request payloads are at most NBDConfig.MaxRequest bytes,
// the bytes held by one connection's in-flight requests are capped, and data
// buffers come from size-classed pools so the steady state allocates nothing
// per request.
//
// [NBDServer] methods are safe for concurrent use. Shutdown stops accepting,
// interrupts idle readers, lets executing requests finish, answers queued
// ones with ESHUTDOWN (as do device errors while stopping) and then closes
// every connection; after it returns nil no device call is in progress.
//
// [MemDevice] is the in-memory [Device] for tests and for other packages'
// tests.
package ggate
