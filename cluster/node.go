package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// boltOpenTimeout bounds the wait for raft.db's file lock, held by
// another process using the same state directory.
const boltOpenTimeout = time.Second

// retainSnapshots is how many snapshots the state directory keeps.
const retainSnapshots = 2

// Node is one voter of the cluster: Raft with the FSM, forwarding and
// gossip. Its methods are safe for concurrent use.
type Node struct {
	name   string
	cfg    Config
	timing Timing
	log    *slog.Logger

	fsm    *FSM
	raft   *raft.Raft
	trans  transport
	store  *raftboltdb.BoltStore // nil in memory
	gossip *gossip               // nil when gossip is off

	notifyCh    chan bool
	leaderReady atomic.Bool
	shutdownCh  chan struct{}
	shutdown    sync.Once
	shutdownErr error
	wg          sync.WaitGroup
}

// NewNode opens the node's state, bootstraps the cluster with cfg.Peers
// if the state is empty, and starts Raft, forwarding and gossip.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	self, _ := cfg.self()
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		name:       cfg.Name,
		cfg:        cfg,
		timing:     cfg.timing(),
		log:        logger,
		fsm:        NewFSM(),
		notifyCh:   make(chan bool, 16),
		shutdownCh: make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			n.cleanup()
		}
	}()

	logs, stable, snaps, err := n.openStores()
	if err != nil {
		return nil, err
	}
	if err := n.openTransport(self); err != nil {
		return nil, err
	}
	rc := n.raftConfig()
	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return nil, fmt.Errorf("node %s: read raft state: %w", n.name, err)
	}
	if !existing {
		if err := raft.BootstrapCluster(rc, logs, stable, snaps, n.trans.raftTransport(), n.bootstrapConfiguration()); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("node %s: bootstrap the cluster: %w", n.name, err)
		}
		n.log.Info("bootstrapped the cluster", "voters", len(cfg.Peers))
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, logs, stable, snaps, n.trans.raftTransport())
	if err != nil {
		return nil, fmt.Errorf("node %s: start raft: %w", n.name, err)
	}
	n.trans.start(n.handleForward)
	n.wg.Add(1)
	go n.monitorLeadership()
	if self.GossipAddr != "" {
		var t memberlist.Transport
		if cfg.inmem != nil {
			if t, err = cfg.inmem.net.newInmemGossip(n.name, self.GossipAddr); err != nil {
				return nil, err
			}
		}
		if n.gossip, err = startGossip(&n.cfg, self, n.timing, t, n.log); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	ok = true
	return n, nil
}

// openStores opens the log, stable and snapshot stores: in the state
// directory, or the in-memory ones of the test harness.
func (n *Node) openStores() (raft.LogStore, raft.StableStore, raft.SnapshotStore, error) {
	if in := n.cfg.inmem; in != nil {
		return in.store, in.store, in.snaps, nil
	}
	dir := n.cfg.StateDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("node %s: state directory: %w", n.name, err)
	}
	path := filepath.Join(dir, "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: boltOpenTimeout}})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %s: open %s (is another process using it?): %w", n.name, path, err)
	}
	n.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, retainSnapshots, newHCLogger(n.log, "raft-snapshot", hclog.Info))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %s: snapshot store in %s: %w", n.name, dir, err)
	}
	return store, store, snaps, nil
}

// openTransport creates the TCP transport, with TLS if configured, or
// the harness's in-memory one.
func (n *Node) openTransport(self Peer) error {
	if in := n.cfg.inmem; in != nil {
		n.trans = &inmemTransport{net: in.net, name: n.name, rt: in.raft}
		return nil
	}
	var ti *tlsIdentity
	if n.cfg.TLSCert != "" {
		var err error
		if ti, err = loadTLS(&n.cfg); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	t, err := newTCPTransport(&n.cfg, self, n.timing, ti, n.log)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.name, err)
	}
	n.trans = t
	return nil
}

// raftConfig returns the Raft configuration of the node.
func (n *Node) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.name)
	rc.HeartbeatTimeout = n.timing.HeartbeatTimeout
	rc.ElectionTimeout = n.timing.ElectionTimeout
	rc.LeaderLeaseTimeout = n.timing.LeaderLeaseTimeout
	rc.CommitTimeout = n.timing.CommitTimeout
	rc.NotifyCh = n.notifyCh
	rc.Logger = newHCLogger(n.log, "raft", hclog.Info)
	if n.cfg.tuneRaft != nil {
		n.cfg.tuneRaft(rc)
	}
	return rc
}

// bootstrapConfiguration lists every peer as a voter.
func (n *Node) bootstrapConfiguration() raft.Configuration {
	var c raft.Configuration
	for _, p := range n.cfg.Peers {
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.Name), Address: raft.ServerAddress(p.RaftAddr)})
	}
	return c
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// State returns a copy of the committed state as this node has applied
// it. A follower may lag the leader by a few entries.
func (n *Node) State() ClusterState { return n.fsm.State() }

// Watch notifies the log index after each change of the node's FSM; see
// FSM.Watch. Call the returned function to stop.
func (n *Node) Watch() (<-chan uint64, func()) { return n.fsm.Watch() }

// IsLeader reports whether this node is the Raft leader and has applied
// every entry of earlier terms (its leader loop is running).
func (n *Node) IsLeader() bool { return n.leaderReady.Load() }

// Leader returns the name and Raft address of the leader this node
// knows, or empty strings.
func (n *Node) Leader() (name, addr string) {
	a, id := n.raft.LeaderWithID()
	return string(id), string(a)
}

// Members returns every cluster node with its health as gossip sees it;
// nil when gossip is off.
func (n *Node) Members() []Member {
	if n.gossip == nil {
		return nil
	}
	return n.gossip.members()
}

// WatchMembers returns a channel notified (1-buffered, non-blocking)
// after each change of a member's health, and a function that stops the
// notifications. Read Members after a notification. With gossip off the
// channel never fires.
func (n *Node) WatchMembers() (<-chan struct{}, func()) {
	if n.gossip == nil {
		return make(chan struct{}), func() {}
	}
	return n.gossip.watch()
}

// Shutdown leaves gossip, stops the leader loop and Raft, closes the
// transport and then the stores. It is idempotent and returns the first
// call's error.
func (n *Node) Shutdown() error {
	n.shutdown.Do(func() { n.shutdownErr = n.cleanup() })
	return n.shutdownErr
}

// cleanup stops whatever NewNode started, in order: first the leader
// loop and pending Applies, then gossip, Raft, the transport and the
// stores. It runs once.
func (n *Node) cleanup() error {
	close(n.shutdownCh)
	var errs []error
	if n.gossip != nil {
		errs = append(errs, n.gossip.shutdown())
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	n.wg.Wait()
	if n.trans != nil {
		errs = append(errs, n.trans.close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node %s: shut down: %w", n.name, err)
	}
	return nil
}
