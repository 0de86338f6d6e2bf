package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"
)

// maxForwardWait bounds how long a leader waits for a forwarded command
// to commit.
const maxForwardWait = 30 * time.Second

// errNoLeader is the attempt error while no leader is known.
var errNoLeader = errors.New("no leader known")

// outcome classifies one attempt to commit a command.
type outcome uint8

const (
	// committed: the FSM applied the entry; the Result is its answer.
	committed outcome = iota + 1
	// notApplied: the entry certainly did not commit; retry.
	notApplied
	// unknown: the entry may commit later; retry with the same request id.
	unknown
	// failed: give up.
	failed
)

// forwardRequest is a command sent to the leader.
type forwardRequest struct {
	// From is the sender's name, for the leader's logs.
	From string `json:"from"`
	// Entry is the command's log entry.
	Entry []byte `json:"entry"`
	// Wait is how long the leader may wait for the commit.
	Wait time.Duration `json:"wait"`
}

// forwardReply is the leader's answer: an outcome and, if committed, the
// Result.
type forwardReply struct {
	Outcome outcome `json:"outcome"`
	Result  Result  `json:"result"`
	Error   string  `json:"error,omitempty"`
}

// Apply commits cmd through the Raft leader, from any node, and returns
// the FSM's Result. It is ApplyRequest with a new request id.
func (n *Node) Apply(ctx context.Context, cmd Command) (Result, error) {
	return n.ApplyRequest(ctx, NewRequestID(), cmd)
}

// ApplyRequest commits cmd with request id id through the Raft leader:
// directly if this node leads, else forwarded to the leader's Raft
// address. While there is no leader, the leader changes or is
// unreachable, it retries with jittered, growing waits until ctx ends;
// every attempt carries id, so an attempt whose outcome was unknown is
// never applied twice. Callers retrying across restarts may pass the
// same id again.
//
// A refusal returns the Result and its *RefusedError. When ctx ends first
// the error wraps ErrNoQuorum and ctx's error, plus ErrOutcomeUnknown if
// an attempt may still commit. Invalid commands fail at once with
// ErrInvalidCommand; after Shutdown, Apply fails with ErrShutdown.
func (n *Node) ApplyRequest(ctx context.Context, id RequestID, cmd Command) (Result, error) {
	entry, err := encodeCommand(id, cmd)
	if err != nil {
		return Result{}, err
	}
	what := fmt.Sprintf("apply %s (request %s)", cmd.Type(), id)
	var (
		ambiguous bool
		last      error
		wait      = n.timing.RetryInterval
	)
	for {
		out, res, err := n.attempt(ctx, entry)
		switch out {
		case committed:
			return res, res.Err()
		case failed:
			return Result{}, fmt.Errorf("%s: %w", what, err)
		case unknown:
			ambiguous = true
		}
		last = err
		n.log.Debug("apply attempt failed, retrying", "command", cmd.Type().String(), "request", id.String(), "err", err)
		timer := time.NewTimer(wait + rand.N(wait))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			if ambiguous {
				return Result{}, fmt.Errorf("%s: %w, %w: %w (last attempt: %v)", what, ErrNoQuorum, ErrOutcomeUnknown, ctx.Err(), last)
			}
			return Result{}, fmt.Errorf("%s: %w: %w (last attempt: %v)", what, ErrNoQuorum, ctx.Err(), last)
		case <-n.shutdownCh:
			timer.Stop()
			return Result{}, fmt.Errorf("%s: %w", what, ErrShutdown)
		}
		wait = min(2*wait, n.timing.ElectionTimeout)
	}
}

// attempt tries once to commit entry: locally if this node leads, else
// through the leader.
func (n *Node) attempt(ctx context.Context, entry []byte) (outcome, Result, error) {
	if err := ctx.Err(); err != nil {
		return notApplied, Result{}, err
	}
	addr, id := n.raft.LeaderWithID()
	switch {
	case id == raft.ServerID(n.name):
		return n.applyLocal(ctx, entry)
	case addr == "":
		return notApplied, Result{}, errNoLeader
	}
	return n.forwardTo(ctx, addr, id, entry)
}

// applyLocal proposes entry to the local Raft and waits, until ctx ends,
// for the FSM's answer.
func (n *Node) applyLocal(ctx context.Context, entry []byte) (outcome, Result, error) {
	enqueue := n.timing.RPCTimeout
	if dl, ok := ctx.Deadline(); ok {
		enqueue = time.Until(dl)
	}
	if enqueue <= 0 {
		return notApplied, Result{}, context.DeadlineExceeded
	}
	f := n.raft.Apply(entry, enqueue)
	waited, err := waitFuture(ctx, f)
	switch {
	case !waited:
		return unknown, Result{}, fmt.Errorf("waiting for the commit: %w", err)
	case err == nil:
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrAbortedByRestore):
		return notApplied, Result{}, err
	case errors.Is(err, raft.ErrRaftShutdown):
		return failed, Result{}, fmt.Errorf("%w, %w", ErrShutdown, ErrOutcomeUnknown)
	default:
		return unknown, Result{}, err
	}
	res, ok := f.Response().(Result)
	if !ok {
		return failed, Result{}, fmt.Errorf("FSM answered %T, not a Result", f.Response())
	}
	return committed, res, nil
}

// waitFuture waits for f until ctx ends. It returns true and f's error,
// or false and ctx's error.
func waitFuture(ctx context.Context, f raft.Future) (bool, error) {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return true, err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// forwardTo sends entry to the leader id at addr.
func (n *Node) forwardTo(ctx context.Context, addr raft.ServerAddress, id raft.ServerID, entry []byte) (outcome, Result, error) {
	wait := maxForwardWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	req, err := json.Marshal(forwardRequest{From: n.name, Entry: entry, Wait: wait})
	if err != nil {
		return failed, Result{}, fmt.Errorf("encode forwarded request: %w", err)
	}
	raw, err := n.trans.forward(ctx, addr, req)
	switch {
	case errors.Is(err, ErrUnreachable):
		return notApplied, Result{}, fmt.Errorf("forward to leader %s: %w", id, err)
	case err != nil:
		return unknown, Result{}, fmt.Errorf("forward to leader %s: %w", id, err)
	}
	var rep forwardReply
	if err := json.Unmarshal(raw, &rep); err != nil {
		return unknown, Result{}, fmt.Errorf("reply of leader %s: %w", id, err)
	}
	switch rep.Outcome {
	case committed:
		return committed, rep.Result, nil
	case notApplied, unknown:
		return rep.Outcome, Result{}, fmt.Errorf("leader %s: %s", id, rep.Error)
	case failed:
		return failed, Result{}, fmt.Errorf("leader %s refused the request: %w: %s", id, ErrInvalidCommand, rep.Error)
	}
	return unknown, Result{}, fmt.Errorf("reply of leader %s: outcome %d", id, rep.Outcome)
}

// handleForward serves a request forwarded by another node: it validates
// the entry, so that a faulty sender cannot make every FSM panic, and
// applies it if this node leads. It never forwards further.
func (n *Node) handleForward(ctx context.Context, raw []byte) []byte {
	var req forwardRequest
	rep := forwardReply{Outcome: failed}
	if err := json.Unmarshal(raw, &req); err != nil {
		rep.Error = fmt.Sprintf("malformed request: %v", err)
		return encodeReply(rep)
	}
	e, err := decodeCommand(req.Entry)
	switch {
	case err != nil:
		rep.Error = err.Error()
	case e.cmd == nil:
		rep.Error = fmt.Sprintf("command type %d unknown to the leader", e.typ)
	default:
		err = e.cmd.validate()
		if err != nil {
			rep.Error = err.Error()
		}
	}
	if rep.Error != "" {
		n.log.Warn("refused forwarded command", "from", req.From, "err", rep.Error)
		return encodeReply(rep)
	}
	wait := min(max(req.Wait, 0), maxForwardWait)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	out, res, err := n.applyLocal(ctx, req.Entry)
	rep = forwardReply{Outcome: out, Result: res}
	if err != nil {
		rep.Error = err.Error()
	}
	if out == failed {
		// The leader's own trouble (shut down) is not the sender's fault.
		rep.Outcome = unknown
	}
	return encodeReply(rep)
}

// encodeReply encodes rep, which has nothing JSON cannot encode.
func encodeReply(rep forwardReply) []byte {
	b, err := json.Marshal(rep)
	if err != nil {
		panic(fmt.Sprintf("cluster: encode forward reply: %v", err))
	}
	return b
}
