package fence

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/hastconf"
)

// agentOutputLimit is how much of a fence agent's output is logged.
const agentOutputLimit = 2048

// Agent returns the fence agent of program path: a command the failover
// controller runs before each promotion as `path resource deposed
// promoted`, which must power off or isolate the deposed node and exit 0.
// Its output is logged; a non-zero exit, a failure to start or the end of
// ctx fails it, and the promotion waits.
func Agent(path string, log *slog.Logger) func(ctx context.Context, res, deposed, promoted string) error {
	return func(ctx context.Context, res, deposed, promoted string) error {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, path, res, deposed, promoted)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.WaitDelay = time.Second
		start := time.Now()
		err := cmd.Run()
		text := strings.TrimSpace(out.String())
		if len(text) > agentOutputLimit {
			text = text[:agentOutputLimit] + "..."
		}
		log.Info("fence agent ran", "agent", path, "resource", res, "deposed", deposed, "promoted", promoted,
			"elapsed", time.Since(start).Round(time.Millisecond), "err", err, "output", text)
		if err != nil {
			return fmt.Errorf("fence agent %s for resource %s (deposed %s): %w", path, res, deposed, err)
		}
		return nil
	}
}

// FailoverConfig returns the failover controller's configuration from
// hast.conf: the cluster section's lease, fence agent and witness, and
// automatic failover for every resource unless `failover off`, but never
// for a resource this file configures with replication async, whose
// secondary may lack acknowledged writes. A resource this file does not
// configure (a witness serving several clusters) fails over.
func FailoverConfig(cfg *hastconf.Config, log *slog.Logger) *cluster.FailoverConfig {
	c := cfg.Cluster
	async := map[string]bool{}
	for _, r := range cfg.Resources {
		async[r.Name] = r.Replication == hastconf.Async
	}
	fc := &cluster.FailoverConfig{
		Lease:   c.Lease,
		Witness: c.Witness.Name,
		Enabled: func(res string) bool { return c.Failover && !async[res] },
	}
	if c.FenceAgent != "" {
		fc.FenceAgent = Agent(c.FenceAgent, log)
	}
	return fc
}

// PolicyOf converts hast.conf's on-no-quorum.
func PolicyOf(p hastconf.OnNoQuorum) Policy {
	if p == hastconf.OnNoQuorumError {
		return Error
	}
	return Suspend
}
