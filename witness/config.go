package witness

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/hastio/hast/cluster"
	"github.com/hastio/hast/internal/hastconf"
)

// nodeConfig returns the cluster node configuration of the witness cfg
// makes this host, and the witness's section of the file. It fails with
// ErrNoCluster or ErrNotWitness when cfg does not make this host a
// witness.
func nodeConfig(cfg *hastconf.Config) (cluster.Config, *hastconf.ClusterNode, error) {
	switch {
	case cfg == nil:
		return cluster.Config{}, nil, errors.New("no configuration")
	case cfg.Cluster == nil:
		return cluster.Config{}, nil, fmt.Errorf("%s: %w", cfg.File, ErrNoCluster)
	case !cfg.Witness:
		return cluster.Config{}, nil, fmt.Errorf("%s: %w: it is data node %s, the witness is %s",
			cfg.File, ErrNotWitness, cfg.Node, cfg.Cluster.Witness.Name)
	}
	cc, err := cluster.ConfigFromHast(cfg.Cluster, cfg.Node)
	if err != nil {
		return cluster.Config{}, nil, fmt.Errorf("%s: witness %s: %w", cfg.File, cfg.Node, err)
	}
	return cc, cfg.Cluster.Witness, nil
}

// CheckConfig reports whether cfg makes this host the cluster's witness
// with a usable cluster section; hast-witness -t runs it. The error
// wraps ErrNoCluster or ErrNotWitness when this host is no witness.
func CheckConfig(cfg *hastconf.Config) error {
	_, _, err := nodeConfig(cfg)
	return err
}

// sameCluster reports whether a node running with a needs no restart to
// run with b: same name, peers, state directory, timing and security.
func sameCluster(a, b cluster.Config) bool {
	return a.Name == b.Name && slices.Equal(a.Peers, b.Peers) && a.StateDir == b.StateDir &&
		a.Timing == b.Timing && a.TLSCert == b.TLSCert && a.TLSKey == b.TLSKey && a.TLSCA == b.TLSCA &&
		bytes.Equal(a.GossipKey, b.GossipKey)
}

// resourceNames lists cfg's resources in file order.
func resourceNames(cfg *hastconf.Config) []string {
	names := make([]string, 0, len(cfg.Resources))
	for _, r := range cfg.Resources {
		names = append(names, r.Name)
	}
	return names
}
