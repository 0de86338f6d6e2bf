// Package hastconf parses hast.conf(5), the configuration file of hastd and
// hastctl, exactly as FreeBSD HAST does, plus an optional `cluster` section
// that turns the two HAST nodes and a witness into a Raft group.
//
// # What it owns
//
// The file's syntax and its resolution for one host. The lexer follows
// HAST's token.l: the reserved words (control, pidfile, listen,
// replication, checksum, compression, timeout, exec, metaflush, resource,
// name, local, remote, source, on, off, fullsync, memsync, async, none,
// crc32, sha256, hole, lzf) can never be names or values; a run of
// [a-zA-Z0-9.-_/:[]] is a number when all digits and a word otherwise; '#'
// starts a comment anywhere. There is no quoting and no ';'. Two
// deliberate differences: a carriage return counts as whitespace, and any
// other character outside the set is an error where HAST's scanner echoes
// and skips it.
//
// Addresses are checked when parsed (see ParseAddr), in every section,
// including the sections for other nodes, and an error names the line.
// Host names are not resolved.
//
// Resolution follows HAST's parse.y. A node name refers to this host when
// Identity.Matches says so (full host name, its first component, host UUID
// or hostidN). control and pidfile come from a node section naming this
// host, else the global section, else the default. listen lines of the
// global section and of this host's node sections add up; the defaults
// apply only when there are none. replication, checksum, compression,
// timeout and exec come from the resource, else the global section
// wherever it appears in the file, else the default. name, local and
// metaflush come from the resource's `on` section naming this host, else
// the resource, else (metaflush only) the global section, else the
// default. remote and source come only from the `on` section naming this
// host. Each resource must have such a section, with remote and local.
//
// # The nbd keyword
//
// One word is ours: `nbd ADDR`, in a resource or in a resource's `on`
// section, says where hastd serves the resource's NBD export while it is
// primary: a unix socket (a path, uds://PATH or unix://PATH) or a TCP
// address (tcp://HOST:PORT, default port 10809). The `on` section naming
// this host wins over the resource; the default is the unix socket
// /var/run/hast/<provider>.nbd. Like the cluster words, nbd is a keyword
// only where an entry of those sections starts, so a resource or node may
// still be called nbd.
//
// # The metrics keyword
//
// `metrics ADDR`, in the global section or a global `on NODE` section,
// says where hastd serves its Prometheus metrics (Config.Metrics): a TCP
// address in listen's syntax, default port 9457; a unix socket is an
// error. It resolves like control, the node section naming this host
// winning over the global section, and may appear only once in each
// section. It is a keyword only at the start of an entry there, like nbd.
//
// # The cluster section
//
//	cluster {
//		failover on
//		lease 3s
//		on-no-quorum suspend
//		profile lan
//		tls-cert /etc/hast/node.crt
//		tls-key /etc/hast/node.key
//		tls-ca /etc/hast/ca.crt
//		gossip-key 00112233445566778899aabbccddeeff
//		on hasta { raft 10.0.0.1:8458 gossip 10.0.0.1:8459 statedir /var/db/hast }
//		on hastb { raft 10.0.0.2:8458 gossip 10.0.0.2:8459 statedir /var/db/hast }
//		witness hastw { raft 10.0.0.3:8458 gossip 10.0.0.3:8459 statedir /var/db/hast }
//	}
//
// Its words are keywords only inside it, so they remain usable as names
// elsewhere. With a cluster section every resource must have `on` sections
// for exactly the two data nodes, and it must resolve for both. When this
// host is the witness, Config.Witness is set and resources are checked but
// not resolved for it.
//
// # Errors
//
// Every problem with the content of the file is an *Error carrying the
// file name, the 1-based line and the token it was found at, with HAST's
// message where HAST has one. Parsing stops at the first error. Load
// returns the error of reading the file wrapped, so errors.Is(err,
// fs.ErrNotExist) tells a missing file.
//
// # Concurrency
//
// Parse and Load may be called from any number of goroutines. A Config is
// never modified after it is returned and may be shared.
package hastconf
