package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultOpTimeout is the OpTimeout used when Config leaves it zero.
const DefaultOpTimeout = 5 * time.Second

// reconnectPause is how long a client waits after every endpoint refused it
// before trying them all again.
const reconnectPause = 20 * time.Millisecond

// maxClients is the number of clients whose values fit the 16 bits above a
// client's 48-bit counter.
const maxClients = 1 << 16

// Endpoint is the NBD export of one data node. Only the current primary
// serves; the other node refuses connections or the export.
type Endpoint struct {
	// Node names the node in the history.
	Node string
	// Network and Addr are passed to Dial: "unix" and a socket path, or
	// "tcp" and host:port.
	Network, Addr string
	// Export is the name of the NBD export.
	Export string
}

// Config configures Run.
type Config struct {
	// Endpoints are the exports of the data nodes, tried in turn. At least
	// one.
	Endpoints []Endpoint
	// Blocks is the number of BlockSize-byte blocks used, from offset 0.
	// The export must be at least Blocks*BlockSize bytes.
	Blocks int
	// Clients is the number of concurrent clients, each on its own
	// connection, 1 to min(Blocks, 65536). Client c owns the blocks b with
	// b%Clients == c and is their only writer, so writes to a block never
	// overlap in time.
	Clients int
	// ReadEvery makes every ReadEvery-th operation of a client a read of
	// one of its blocks; 0 means writes only.
	ReadEvery int
	// MaxOps bounds the operations of each client; 0 means no bound.
	MaxOps int
	// OpTimeout bounds each operation and each connection attempt. 0 means
	// DefaultOpTimeout.
	OpTimeout time.Duration
	// Seed seeds the clients' choice of blocks.
	Seed int64
	// Logf, if set, receives connection events and failed operations.
	Logf func(format string, args ...any)
}

// validate reports the first invalid field.
func (c *Config) validate() error {
	switch {
	case len(c.Endpoints) == 0:
		return errors.New("workload config: no endpoints")
	case c.Blocks < 1:
		return fmt.Errorf("workload config: Blocks %d is below 1", c.Blocks)
	case c.Clients < 1 || c.Clients > min(c.Blocks, maxClients):
		return fmt.Errorf("workload config: Clients %d outside [1, %d]", c.Clients, min(c.Blocks, maxClients))
	case c.ReadEvery < 0:
		return fmt.Errorf("workload config: ReadEvery %d is negative", c.ReadEvery)
	case c.MaxOps < 0:
		return fmt.Errorf("workload config: MaxOps %d is negative", c.MaxOps)
	case c.OpTimeout < 0:
		return fmt.Errorf("workload config: OpTimeout %v is negative", c.OpTimeout)
	}
	for i, ep := range c.Endpoints {
		if ep.Node == "" {
			return fmt.Errorf("workload config: endpoint %d has no Node name", i)
		}
	}
	return nil
}

// Run runs the verified-write workload until ctx ends or every client has
// done MaxOps operations, and returns the history of every operation
// issued. Failed and timed-out operations are outcomes recorded in the
// history, not errors; Run fails only for an invalid config.
//
// Each client loops: it picks one of its blocks at random and writes a
// value unique to the run (client<<48 | counter, never 0) as a
// self-describing block, or every ReadEvery-th time reads one back. It
// stays connected to one endpoint until an operation fails or times out,
// then reconnects, trying the endpoints in turn, starting with the next
// one, and pausing briefly after each round in which all refused.
func Run(ctx context.Context, cfg Config) (*History, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = DefaultOpTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	var (
		mu sync.Mutex
		h  History
		wg sync.WaitGroup
	)
	record := func(op Op) {
		mu.Lock()
		h.Ops = append(h.Ops, op)
		mu.Unlock()
	}
	for id := range cfg.Clients {
		w := &worker{
			cfg:    &cfg,
			id:     id,
			rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(id))),
			record: record,
			buf:    make([]byte, BlockSize),
		}
		for b := id; b < cfg.Blocks; b += cfg.Clients {
			w.blocks = append(w.blocks, b)
		}
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return &h, nil
}

// worker is one workload client.
type worker struct {
	cfg    *Config
	id     int
	blocks []int // the blocks it owns
	rng    *rand.Rand
	record func(Op)
	buf    []byte // one block
	seq    uint64 // counter of its writes

	conn *Client // nil while disconnected
	ep   int     // index of the endpoint conn is connected to, or to try next
}

// run issues operations until ctx ends or MaxOps is reached.
func (w *worker) run(ctx context.Context) {
	defer w.disconnect()
	for n := 1; w.cfg.MaxOps == 0 || n <= w.cfg.MaxOps; n++ {
		if !w.connect(ctx) {
			return
		}
		op := Op{
			Client: w.id,
			Block:  w.blocks[w.rng.IntN(len(w.blocks))],
			Node:   w.cfg.Endpoints[w.ep].Node,
		}
		if w.cfg.ReadEvery > 0 && n%w.cfg.ReadEvery == 0 {
			w.read(ctx, &op)
		} else {
			w.write(ctx, &op)
		}
		w.record(op)
		if op.Outcome != OK {
			w.cfg.Logf("client %d: %v; reconnecting", w.id, op.Err)
			w.disconnect()
			w.ep = (w.ep + 1) % len(w.cfg.Endpoints)
		}
	}
}

// write writes the next value of the worker to op.Block.
func (w *worker) write(ctx context.Context, op *Op) {
	w.seq++
	op.Kind = Write
	op.Value = uint64(w.id)<<48 | w.seq
	encodeBlock(w.buf, op.Block, op.Value)
	opCtx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	op.Start = time.Now()
	err := w.conn.WriteAt(opCtx, w.buf, int64(op.Block)*BlockSize)
	op.End = time.Now()
	op.Outcome, op.Err = outcome(err)
}

// read reads op.Block and decodes it.
func (w *worker) read(ctx context.Context, op *Op) {
	op.Kind = Read
	opCtx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	op.Start = time.Now()
	err := w.conn.ReadAt(opCtx, w.buf, int64(op.Block)*BlockSize)
	op.End = time.Now()
	op.Outcome, op.Err = outcome(err)
	if op.Outcome == OK {
		op.Value, op.Corrupt = decodeBlock(w.buf, op.Block)
	}
}

// outcome classifies a request's error. An error that is neither success
// nor an NBD error reply is Unknown, even for the few requests that were
// never sent: counting them as possibly landed is safe.
func outcome(err error) (Outcome, error) {
	switch {
	case err == nil:
		return OK, nil
	case errors.Is(err, ErrRequestFailed):
		return Failed, err
	}
	return Unknown, err
}

// connect makes sure the worker is connected, trying the endpoints in turn
// from w.ep until one accepts. It returns false once ctx has ended.
func (w *worker) connect(ctx context.Context) bool {
	if w.conn != nil {
		return ctx.Err() == nil
	}
	eps := w.cfg.Endpoints
	need := int64(w.cfg.Blocks) * BlockSize
	began := time.Now()
	for attempts := 1; ; attempts++ {
		if ctx.Err() != nil {
			return false
		}
		ep := eps[w.ep]
		dialCtx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		c, err := Dial(dialCtx, ep.Network, ep.Addr, ep.Export)
		cancel()
		if err == nil && c.Size() < need {
			c.Close()
			err = fmt.Errorf("nbd export %q at %s has %d bytes, fewer than the %d the workload uses", ep.Export, ep.Addr, c.Size(), need)
		}
		if err == nil {
			w.conn = c
			w.cfg.Logf("client %d: connected to node %s (attempt %d, after %v)", w.id, ep.Node, attempts, time.Since(began).Round(time.Millisecond))
			return true
		}
		if attempts == 1 {
			w.cfg.Logf("client %d: node %s: %v; trying the endpoints in turn", w.id, ep.Node, err)
		}
		w.ep = (w.ep + 1) % len(eps)
		if attempts%len(eps) == 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(reconnectPause):
			}
		}
	}
}

// disconnect closes the worker's connection, if any.
func (w *worker) disconnect() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}
