package cluster

import (
	"context"
	"sync"
	"time"
)

// monitorLeadership reads Raft's leadership notifications and runs
// exactly one leader loop per term: it starts one when this node becomes
// leader and, when leadership is lost, stops it and waits for it to exit
// before reading the next notification. The notification channel is
// buffered and this goroutine never calls into Raft, so Raft never
// blocks on it for long.
func (n *Node) monitorLeadership() {
	defer n.wg.Done()
	var (
		stop   chan struct{}
		loopWG sync.WaitGroup
	)
	stopLoop := func() {
		if stop != nil {
			close(stop)
			loopWG.Wait()
			stop = nil
		}
	}
	defer stopLoop()
	for {
		select {
		case isLeader := <-n.notifyCh:
			switch {
			case isLeader && stop == nil:
				stop = make(chan struct{})
				loopWG.Add(1)
				go func(stop <-chan struct{}) {
					defer loopWG.Done()
					n.leaderLoop(stop)
				}(stop)
				n.log.Info("cluster leadership acquired")
			case !isLeader && stop != nil:
				stopLoop()
				n.log.Info("cluster leadership lost")
			}
		case <-n.shutdownCh:
			return
		}
	}
}

// leaderLoop runs while this node leads, until stop is closed. It first
// issues a barrier, retried until it succeeds, so that the FSM holds
// every entry of earlier terms; then it runs the failover controller and
// Config.LeaderLoop until stop.
func (n *Node) leaderLoop(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		done, err := waitFuture(ctx, n.raft.Barrier(n.timing.RPCTimeout))
		if done && err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("leader barrier failed, retrying", "err", err)
		select {
		case <-time.After(n.timing.RetryInterval):
		case <-ctx.Done():
			return
		}
	}
	n.leaderReady.Store(true)
	defer n.leaderReady.Store(false)
	n.log.Info("cluster leadership established", "applied", n.raft.AppliedIndex())
	var loops sync.WaitGroup
	if n.cfg.Failover != nil {
		loops.Go(func() { n.runController(ctx) })
	}
	if n.cfg.LeaderLoop != nil {
		loops.Go(func() { n.cfg.LeaderLoop(ctx) })
	}
	<-ctx.Done()
	loops.Wait()
}
