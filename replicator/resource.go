package replicator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/hastio/hast/replicator/wire"
)

// Event is a change a resource reports to hastd, which runs the exec hook
// for it. The names are HAST's hook events.
type Event string

// Events, in the words HAST's exec hooks receive.
const (
	EventConnect    Event = "connect"
	EventDisconnect Event = "disconnect"
	EventSyncStart  Event = "syncstart"
	EventSyncDone   Event = "syncdone"
	EventSyncIntr   Event = "syncintr"
	EventSplitBrain Event = "split-brain"
)

// Config describes one resource to its primary or secondary engine.
type Config struct {
	// Name is the resource name, checked against the metadata and sent in
	// the handshake.
	Name string
	// Node is this node's name, sent in the handshake for the peer's logs.
	Node string
	// Backend is the local provider, opened and locked by the caller, who
	// closes it after the engine's Close.
	Backend Backend
	// Dial connects to the peer's replication address (binding the source
	// address); nil means the resource has no remote ("remote none"). The
	// primary connects with it, a secondary sends its Nudge.
	Dial func(ctx context.Context) (net.Conn, error)
	// Replication is the replication mode: fullsync, memsync or async.
	Replication wire.Replication
	// Checksum and Compression protect and shrink payloads on the wire.
	Checksum    wire.Checksum
	Compression wire.Compression
	// Timeout bounds connecting, the handshake and each request's reply
	// (hast.conf timeout); 0 means 20 s.
	Timeout time.Duration
	// MetaFlush flushes the provider after every activemap update
	// (hast.conf metaflush).
	MetaFlush bool
	// MaxIO is the largest request this node sends or accepts on the wire;
	// 0 means wire.DefaultMaxIO. The handshake agrees on the smaller of the
	// two nodes' values.
	MaxIO int
	// SyncRate limits synchronization to this many bytes per second;
	// 0 means no limit.
	SyncRate int64
	// SyncWindow is how many extents are synchronized at once; 0 means 4.
	SyncWindow int
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
	// OnEvent is called for each Event, in order, from one goroutine; it
	// may block (hastd runs the hook there). Nil ignores events.
	OnEvent func(Event)

	// Generation is, in clustered mode, the generation the cluster made
	// this node primary in: the Hello and every request carry it, and the
	// secondary refuses older ones. 0 in classic mode. Primary only.
	Generation uint64
	// MinGeneration, when set, returns the newest generation this node
	// knows of; the secondary refuses a Hello or request from an older
	// one (a deposed primary). It is asked on every request, as the
	// cluster's commits raise it. Secondary only.
	MinGeneration func() uint64
	// Fence, when set, guards a clustered primary's I/O. Primary only.
	// A fenced primary in memsync waits for the secondary's write, as in
	// fullsync, before it acknowledges (see earlyAck).
	Fence Fence

	// retryWait, when set (by tests), replaces the reconnection backoff
	// with a fixed wait between connection attempts.
	retryWait time.Duration
}

// earlyAck reports whether a write is acknowledged once the secondary has
// received it rather than written it: memsync without a fence, as in
// HAST. A clustered primary does not: a write the secondary received but
// had not written when its hastd died would be lost if the primary were
// cut off from the cluster at the same moment (it could not commit the
// outdating) and the secondary, still up to date in Raft, were promoted.
func (c *Config) earlyAck() bool {
	return c.Replication == wire.ReplicationMemsync && c.Fence == nil
}

// Fence is what a clustered primary asks before it serves or
// acknowledges I/O; package fence implements it.
type Fence interface {
	// Admit returns nil when the primary may serve a request now (its
	// lease holds); it may wait for a renewal until ctx ends.
	Admit(ctx context.Context) error
	// PeerMissed returns nil once the cluster records the peer's copy as
	// outdated: a write the secondary did not take is acknowledged only
	// then, in fullsync and memsync.
	PeerMissed(ctx context.Context) error
}

// keepaliveInterval is how often an idle primary sends a keepalive, and half
// the time an idle secondary waits before it drops the connection (HAST's
// HAST_KEEPALIVE).
const keepaliveInterval = 10 * time.Second

func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 20 * time.Second
	}
	return c.Timeout
}

func (c *Config) maxIO() int {
	if c.MaxIO <= 0 {
		return wire.DefaultMaxIO
	}
	return min(c.MaxIO, wire.HardMaxIO)
}

// hello returns the Hello announcing this node's copy, described by md,
// in generation gen.
func (c *Config) hello(md *Metadata, gen uint64) *wire.Hello {
	return &wire.Hello{
		MinVersion: wire.MinVersion, MaxVersion: wire.MaxVersion,
		Resource: c.Name, Node: c.Node,
		ResUID: md.ResUID, LocalCnt: md.LocalCnt, RemoteCnt: md.RemoteCnt,
		DataSize: md.DataSize, ExtentSize: md.ExtentSize, MaxIO: uint32(c.maxIO()),
		Replication: c.Replication, Checksum: c.Checksum, Compression: c.Compression,
		Generation: gen,
	}
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Config) validate() error {
	if c.Name == "" {
		return errors.New("resource config: no name")
	}
	if c.Backend == nil {
		return fmt.Errorf("resource %s: no backend", c.Name)
	}
	return nil
}

// readMetadata validates c and reads its provider's metadata, which must
// be fresh or belong to this resource.
func (c *Config) readMetadata() (*Metadata, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	md, err := ReadMetadata(c.Backend)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", c.Name, err)
	}
	if md.Resource != "" && md.Resource != c.Name {
		return nil, fmt.Errorf("resource %s: provider belongs to resource %s: %w", c.Name, md.Resource, ErrBadMetadata)
	}
	return md, nil
}

var (
	// ErrClosed is returned by I/O on an engine that is closing.
	ErrClosed = errors.New("resource is shutting down")
	// ErrNotConnected fails a remote request when the peer is gone.
	ErrNotConnected = errors.New("not connected to the peer")
)

// Stats are a resource's I/O counters, as hastctl list prints them, plus
// the bytes of the requests that succeeded.
type Stats struct {
	Reads, Writes, Deletes, Flushes                    uint64
	ActivemapUpdates                                   uint64
	ReadErrors, WriteErrors, DeleteErrors, FlushErrors uint64
	// ReadBytes, WriteBytes and DeleteBytes add up the lengths of the
	// reads, writes and trims that succeeded.
	ReadBytes, WriteBytes, DeleteBytes uint64
}

// stats is the live, atomically updated form of Stats.
type stats struct {
	reads, writes, deletes, flushes                    atomic.Uint64
	activemapUpdates                                   atomic.Uint64
	readErrors, writeErrors, deleteErrors, flushErrors atomic.Uint64
	readBytes, writeBytes, deleteBytes                 atomic.Uint64
}

func (s *stats) snapshot() Stats {
	return Stats{
		Reads: s.reads.Load(), Writes: s.writes.Load(), Deletes: s.deletes.Load(), Flushes: s.flushes.Load(),
		ActivemapUpdates: s.activemapUpdates.Load(),
		ReadErrors:       s.readErrors.Load(), WriteErrors: s.writeErrors.Load(),
		DeleteErrors: s.deleteErrors.Load(), FlushErrors: s.flushErrors.Load(),
		ReadBytes: s.readBytes.Load(), WriteBytes: s.writeBytes.Load(), DeleteBytes: s.deleteBytes.Load(),
	}
}

// SyncStatus describes a synchronization in progress.
type SyncStatus struct {
	// Source is the node whose data is copied.
	Source wire.SyncSource
	// BytesLeft is the size of the extents still to copy.
	BytesLeft uint64
	// BytesDone is what this synchronization copied so far.
	BytesDone uint64
	// Rate is the average copy rate so far, in bytes per second.
	Rate uint64
	// ETA estimates the time left; zero when unknown.
	ETA time.Duration
}

// Status is a snapshot of a resource's engine.
type Status struct {
	Role      Role
	Connected bool
	// Dirty is the size of the dirty extents, in bytes.
	Dirty      uint64
	ExtentSize uint32
	KeepDirty  uint32
	DataSize   uint64
	ResUID     uint64
	LocalCnt   uint64
	RemoteCnt  uint64
	Stats      Stats
	// Latency holds a primary's request latency histograms, read before
	// Stats so that no histogram counts more requests than its counter;
	// zero on a secondary.
	Latency Latency
	// Pending is the number of requests waiting for the peer.
	Pending int
	// Sync is set while a synchronization runs.
	Sync *SyncStatus
	// LocalState and PeerState describe each node's data: "uptodate",
	// "syncing", "outdated" or "unknown".
	LocalState, PeerState string
}

// events delivers Events to a callback in order, from one goroutine, so a
// slow hook never blocks the data path.
type events struct {
	ch   chan Event
	done chan struct{}
}

func newEvents(fn func(Event)) *events {
	e := &events{ch: make(chan Event, 64), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		for ev := range e.ch {
			if fn != nil {
				fn(ev)
			}
		}
	}()
	return e
}

// emit queues ev, blocking while 64 events wait for the callback: events
// are never dropped.
func (e *events) emit(ev Event) { e.ch <- ev }

// close delivers the queued events and stops.
func (e *events) close() {
	close(e.ch)
	<-e.done
}
