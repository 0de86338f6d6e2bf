// Package cluster is the Raft group of hast's clustered mode: the two data
// nodes and the witness, three voters that commit every role change, the
// generation of each resource and the split-brain counters, so that no
// node decides alone who is primary.
//
// # What it owns
//
// The FSM (FSM, ClusterState) holds, per resource, the generation (+1 each
// time a node becomes primary), the primary, each data node's role, the
// freshness of its copy (DataState: up to date, outdated or syncing since
// a generation), the mirrored HAST counters and the primary's lease
// renewals. It changes only through Commands, each a compare-and-set on
// the generation or on who is primary:
//
//	AddResource    make a resource and its two data nodes known
//	SetRole        hastctl role; Force skips the data and other-primary checks
//	Promote        controller and switchover: an up-to-date node becomes primary
//	Demote         the primary becomes secondary
//	RenewLease     the primary at generation G renews; refused once deposed
//	Outdate        the primary at G marks its peer outdated before acking
//	MarkSyncing    the primary at G starts resyncing its peer
//	MarkUpToDate   the primary at G finished resyncing its peer
//	SetCounters    mirror a node's localcnt and remotecnt
//
// A refusal (stale generation, outdated node, other primary, not primary,
// unknown resource or node, ...) is the command's Result, the same on
// every voter, and reaches the caller as a *RefusedError that errors.Is
// matches against ErrStaleGeneration and the other sentinels, on any node.
//
// Node runs one voter: Raft on hashicorp/raft with raft-boltdb (raft.db
// and snapshots/ in the state directory), one TCP port for Raft and
// forwarded commands, memberlist gossip for fast health, and the leader
// loop hook where the failover controller lives.
//
// # The log
//
// An entry is an envelope: a type byte whose high bit marks a type that
// unknowing nodes may skip, a version byte, a 16-byte request id and the
// command in JSON. The FSM panics on an entry it cannot decode rather
// than diverge. Apply reads no clock and does no I/O: the lease is timed
// by the primary and the controller on their own clocks, the FSM only
// counts renewals and records their log index. The FSM remembers the
// results of the last 1024 request ids and answers a repeated id with the
// first result, which makes every command idempotent.
//
// # Applying a command
//
// Node.Apply works on any node. On the leader it proposes the entry and
// waits, bounded by the context, for the FSM's answer (checking both the
// future's error and its response). Elsewhere it sends the entry to the
// leader's Raft address, on the same port, over a connection whose first
// byte is 'F' (Raft's connections start with 'R'). The leader validates
// the entry before proposing it, so a faulty sender cannot crash the
// FSMs, and never forwards further. While there is no leader, or the
// leader is changing, unreachable or transferring leadership, Apply
// retries with jittered, growing waits until the context ends; an attempt
// whose outcome is unknown (the leader lost leadership after accepting
// it, or stopped answering) is retried only with the same request id.
// If the context ends first, the error wraps ErrNoQuorum, plus
// ErrOutcomeUnknown when an attempt may still commit.
//
// # Network
//
// Every outgoing connection, Raft's, forwarding's and gossip's, binds the
// node's own IP as its source, so nodes on 127.0.0.11, .12 and .13 are
// seen, and filtered, as themselves. With TLSCert, TLSKey and TLSCA set,
// connections use mutual TLS 1.3: a peer's certificate must chain to the
// cluster CA and name a cluster node (its name, or the host of its
// address, as common name, DNS or IP name); other peers are refused and
// logged. Gossip is encrypted with GossipKey.
//
// # Leadership
//
// Raft's NotifyCh is buffered and read by one goroutine that starts
// exactly one leader loop per term and, on loss, stops it and waits for
// it to exit. The leader loop first applies a barrier, so the FSM holds
// every earlier entry, then runs Config.LeaderLoop with a context
// cancelled when leadership ends. Decisions taken there are committed as
// compare-and-set commands, so the log, not a check made beforehand,
// decides.
//
// # Ordering and concurrency
//
// Commands take effect in log order on every voter. State returns a copy
// of the state as this node applied it, which on a follower may lag the
// leader; Watch notifies the newest applied index without blocking Apply
// (a slow reader sees the latest index, not every one). Members and
// WatchMembers report gossip health the same way. All Node and FSM
// methods are safe for concurrent use; Shutdown is idempotent.
//
// # The agent's decisions
//
// agent.go holds the pure decisions each data node's agent (in hastd)
// takes from committed state: Plan gives this node's role per resource,
// Steps the local role changes that reach it, Follow the SetRole that
// makes an init peer secondary after a promotion, Reports the data-state
// and counter commands an engine's observations call for, and
// PlanSwitchover the demotion and promotion of a switchover.
//
// # Timing
//
// LANTiming (profile "lan", the default) and FastTiming (profile "fast",
// one fifth of it) set Raft's, forwarding's and memberlist's timeouts;
// see their documentation for the numbers.
//
// # Testing
//
// MakeCluster builds an in-process cluster on in-memory stores,
// transports and gossip, with helpers to cut links, stop and restart
// nodes and wait for a leader or for replication, for this package's
// tests and those of the agent and the failover controller.
package cluster
