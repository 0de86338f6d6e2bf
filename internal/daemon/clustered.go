package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/fence"
	"github.com/hastio/hast/internal/hastconf"
	"github.com/hastio/hast/replicator"
)

// clusterMode is what a daemon runs in clustered mode besides its
// resources: its voter of the cluster, the agent that runs the roles the
// cluster commits for this node, and the reporter that commits what this
// node knows of its resources.
type clusterMode struct {
	d        *Daemon
	node     *cluster.Node
	ownsNode bool // the daemon started the node and shuts it down
	self     string
	nodes    [2]string // the cluster's data nodes, in the section's order
	section  *hastconf.Cluster
	log      *slog.Logger
	// tls secures the replication links; nil when the cluster section
	// configures no TLS. Like the section, it changes only on restart.
	tls *replicationTLS

	agent    *agent
	reporter *reporter
	started  bool // start ran: the agent and the reporter run

	// ctx ends when the daemon stops; clustered control requests and
	// commits are bounded by it.
	ctx    context.Context
	cancel context.CancelFunc
}

// newClusterMode joins the cluster of cfg's cluster section: it starts
// this node's voter, unless Options.Cluster provides one. Nothing else
// runs until start.
func newClusterMode(d *Daemon, cfg *hastconf.Config) (*clusterMode, error) {
	c := &clusterMode{
		d:       d,
		self:    cfg.Node,
		nodes:   [2]string{cfg.Cluster.Nodes[0].Name, cfg.Cluster.Nodes[1].Name},
		section: cfg.Cluster,
		log:     d.log.With("component", "cluster"),
		node:    d.opts.Cluster,
	}
	if c.node != nil && c.node.Name() != cfg.Node {
		return nil, fmt.Errorf("%w: the cluster node given is %s, not this node %s", ErrCluster, c.node.Name(), cfg.Node)
	}
	var err error
	if c.tls, err = newReplicationTLS(cfg.Cluster, cfg.Node); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCluster, err)
	}
	if c.node == nil {
		ccfg, err := cluster.ConfigFromHast(cfg.Cluster, cfg.Node)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCluster, err)
		}
		ccfg.Logger = c.log
		ccfg.Failover = fence.FailoverConfig(cfg, c.log)
		if c.node, err = cluster.NewNode(ccfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCluster, err)
		}
		c.ownsNode = true
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.agent = newAgent(c)
	c.reporter = newReporter(c)
	c.log.Info("joined the cluster", "node", c.self, "data nodes", c.nodes[0]+", "+c.nodes[1])
	return c, nil
}

// start runs the agent and the reporter; the resources must exist.
func (c *clusterMode) start() {
	c.started = true
	go c.agent.run()
	go c.reporter.run()
}

// stop ends the agent, the reporter and the clustered requests in
// progress; the node keeps running until closeNode. It is called once,
// from Start's failure or the daemon's shutdown.
func (c *clusterMode) stop() {
	c.cancel()
	if c.started {
		c.agent.close()
		c.reporter.close()
	}
}

// closeNode shuts the cluster node down if the daemon started it.
func (c *clusterMode) closeNode() {
	if !c.ownsNode {
		return
	}
	if err := c.node.Shutdown(); err != nil {
		c.log.Warn("cluster node shut down with errors", "err", err)
	}
}

// poke makes the agent and the reporter look at every resource again, as
// after a reload.
func (c *clusterMode) poke() {
	c.agent.poke()
	c.reporter.poke()
}

// reconfigure notes a reloaded configuration: a changed cluster section
// takes effect only when hastd restarts, as the Raft group's membership
// does not change by reload.
func (c *clusterMode) reconfigure(cfg *hastconf.Config) {
	old, errOld := cluster.ConfigFromHast(c.section, c.self)
	cur, errCur := cluster.ConfigFromHast(cfg.Cluster, cfg.Node)
	if errOld != nil || errCur != nil || !reflect.DeepEqual(old, cur) || cfg.Node != c.self {
		c.log.Warn("the cluster section changed: the change takes effect when hastd restarts")
	}
	c.poke()
}

// waitIndex waits until this node has applied log index index, so that
// its state holds a command the leader committed.
func (c *clusterMode) waitIndex(ctx context.Context, index uint64) error {
	watch, unwatch := c.node.Watch()
	defer unwatch()
	for c.node.State().Index < index {
		select {
		case <-watch:
		case <-ctx.Done():
			return fmt.Errorf("wait for this node to apply log index %d: %w", index, ctx.Err())
		}
	}
	return nil
}

// clusterRole converts a local role to the cluster's.
func clusterRole(r replicator.Role) cluster.Role {
	switch r {
	case replicator.RolePrimary:
		return cluster.RolePrimary
	case replicator.RoleSecondary:
		return cluster.RoleSecondary
	}
	return cluster.RoleInit
}

// localRole converts a cluster role to the local one.
func localRole(r cluster.Role) replicator.Role {
	switch r {
	case cluster.RolePrimary:
		return replicator.RolePrimary
	case cluster.RoleSecondary:
		return replicator.RoleSecondary
	}
	return replicator.RoleInit
}

// startGate starts the fence of r's primary engine in generation gen:
// its lease, renewed through the cluster, and its outdate-before-ack.
// Its events run the exec hook: `fence NAME GENERATION` when it learns the
// primary was deposed (unless the agent did first), `outdate NAME PEER
// GENERATION` when it commits its peer outdated.
func (c *clusterMode) startGate(r *resource, gen uint64) (*fence.Gate, error) {
	peer := c.nodes[0]
	if peer == c.self {
		peer = c.nodes[1]
	}
	g := strconv.FormatUint(gen, 10)
	return fence.Start(fence.Config{
		Res: r.name, Node: c.self, Peer: peer, Generation: gen,
		Lease: c.section.Lease, OnNoQuorum: fence.PolicyOf(c.section.OnNoQuorum),
		Cluster: c.node, Logger: r.log,
		OnEvent: func(ev fence.Event) {
			switch ev {
			case fence.EventOutdate:
				c.d.hooks.enqueue(r.exec(), string(ev), r.name, peer, g)
			case fence.EventFence:
				r.fenced(gen)
			}
			c.reporter.poke()
		},
	})
}

// failover describes whether a resource with the given replication mode
// fails over by itself: hast.conf's failover setting, and never for
// async, whose secondary may lack acknowledged writes.
func (c *clusterMode) failover(replication string) string {
	switch {
	case !c.section.Failover:
		return "off (failover off in the cluster section: promotion is left to the admin)"
	case replication == hastconf.Async.String():
		return "off (replication async: the secondary may lack acknowledged writes)"
	}
	return "automatic"
}
