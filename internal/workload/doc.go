// Package workload is the verified-write workload of hast's failover
// tests: it writes to a replicated device through its NBD export while
// faults are injected, records what every request returned, and checks
// afterwards that the device never lost an acknowledged write, never
// served a stale read and never had two primaries acknowledging at once.
//
// # The client
//
// [Client] is an NBD client: [Dial] runs the fixed newstyle handshake with
// NBD_OPT_GO (falling back to NBD_OPT_EXPORT_NAME for servers without it)
// and uses simple replies. It is safe for concurrent use: requests are
// written one at a time under a send slot, and one reader goroutine hands
// each reply to its request by handle. An NBD error reply becomes an error
// wrapping [ErrRequestFailed] and the syscall.Errno. Each request is
// bounded by its context; when the context ends after the request was
// sent, the reply can no longer be waited for, so the connection is closed
// and the request ends with [ErrUnknownOutcome], as do the others in flight.
//
// # The workload
//
// [Run] starts Config.Clients clients, each on its own connection. Client c
// owns the blocks b with b%Clients == c, so every block has one writer and
// its writes never overlap in time. A client writes a value unique to the
// run into one of its blocks, as a self-describing [BlockSize]-byte block
// (magic, block index, value, filler derived from both, and a CRC-64 over
// it all), so that torn, corrupted, misplaced or foreign data is detected;
// every Config.ReadEvery-th operation reads a block back instead. A client
// stays on one endpoint until an operation fails or times out, then tries
// the endpoints in turn until one accepts: only the current primary serves,
// so after a failover the clients find the new one by themselves.
//
// Every operation lands in the [History] with its start and end times, the
// node it was sent to and its [Outcome]: OK (acknowledged), Failed (an NBD
// error; a write may have landed anyway) or Unknown (no reply: the
// connection died or the operation timed out; a write may land at any later
// time).
//
// # The checks
//
// The History's checks are pure functions of it, returning an error that
// counts the violations and lists the first ten:
//
//   - [History.CheckFinal] reads every written block once the workload has
//     stopped: it must hold the last acknowledged write or a later Failed or
//     Unknown one. Anything older is a lost write.
//   - [History.CheckReads] checks every acknowledged read against the writes
//     that could have been visible while it ran; a value older than the last
//     write acknowledged before the read started is a stale read.
//   - [History.CheckSingleHandover], for runs where the primary moves at most
//     once, checks that no node acknowledged an operation sent after another
//     node began to acknowledge.
//
// The checks rely only on what the client's clocks prove: an operation took
// effect on the server between its Start and End, so a write counts as done
// before a read only if it ended before the read started. A slow client
// therefore never produces a false violation.
//
// The checks treat Failed and Unknown writes as possibly landed from the
// moment they were issued on, but assume a write cannot land after a later
// write to the same block was acknowledged: a request the client gave up on
// must not overwrite newer data, whichever node serves.
// [History.Summary] reports the counts per outcome and node and the longest
// gap between acknowledgements, which measures the failover.
package workload
