package hastconf

// The built-in default addresses, parsed (a test checks them against
// DefaultControl, DefaultListenTCP4 and DefaultListenTCP6).
var (
	defaultControlAddr = Addr{Network: "unix", Address: "/var/run/hastctl"}
	defaultListenTCP4  = Addr{Network: "tcp4", Address: "0.0.0.0:8457"}
	defaultListenTCP6  = Addr{Network: "tcp6", Address: "[::]:8457"}
)

// finish resolves the parsed file for this host, as HAST does after
// parsing: globals and defaults fill what resources leave unset, and
// every resource is checked.
func (p *fileParser) finish() *Config {
	cfg := &Config{
		File:      p.file,
		Control:   p.nodeControl.or(p.global.control.or(defaultControlAddr)),
		Pidfile:   p.nodePidfile.or(p.global.pidfile.or(DefaultPidfile)),
		Metrics:   p.nodeMetrics.or(p.global.metrics.or(Addr{})),
		Listen:    p.listen,
		Resources: p.resources,
		Cluster:   p.cluster,
	}
	if cfg.Control.Network == "unix" {
		cfg.ControlPath = cfg.Control.Address
	}
	if len(cfg.Listen) == 0 {
		if p.family("tcp4") {
			cfg.Listen = append(cfg.Listen, defaultListenTCP4)
		}
		if p.family("tcp6") {
			cfg.Listen = append(cfg.Listen, defaultListenTCP6)
		}
		if len(cfg.Listen) == 0 {
			eof := p.toks[len(p.toks)-1]
			panic(p.errorf(eof, "No address to listen on (the kernel supports neither IPv4 nor IPv6)"))
		}
	}
	if c := p.cluster; c != nil {
		p.placeInCluster(cfg, c)
	} else {
		cfg.Node = p.firstMatch
	}
	for _, r := range p.resources {
		p.applyGlobals(r)
		if p.cluster != nil {
			p.checkClusterResource(r, p.cluster)
		}
		if cfg.Witness {
			r.useView(r.view(func(string) bool { return false }), p.global.metaFlush)
			continue
		}
		v := r.view(p.id.Matches)
		if p.cluster == nil {
			p.checkView(r, v, "")
		}
		r.useView(v, p.global.metaFlush)
	}
	return cfg
}

// placeInCluster finds this host among the cluster's data nodes and
// witness.
func (p *fileParser) placeInCluster(cfg *Config, c *Cluster) {
	var mine []*ClusterNode
	for _, n := range append(c.Nodes[:len(c.Nodes):len(c.Nodes)], c.Witness) {
		if p.id.Matches(n.Name) {
			mine = append(mine, n)
		}
	}
	switch len(mine) {
	case 0:
		panic(p.errorAt(c.closeLine, "}", "No cluster configuration for this node (acceptable node names: %s)", p.id.AcceptableNames()))
	case 1:
		cfg.Node = mine[0].Name
		cfg.Witness = mine[0] == c.Witness
	default:
		panic(p.errorAt(mine[1].Line, mine[1].Name, "cluster nodes %s and %s both name this host", mine[0].Name, mine[1].Name))
	}
}

// applyGlobals fills the settings HAST takes from the resource, else the
// global section, else the defaults, wherever they appear in the file.
func (p *fileParser) applyGlobals(r *Resource) {
	g := &p.global
	r.Replication = r.level.replication.or(g.replication.or(DefaultReplication))
	r.Checksum = r.level.checksum.or(g.checksum.or(DefaultChecksum))
	r.Compression = r.level.compression.or(g.compression.or(DefaultCompression))
	r.Timeout = r.level.timeout.or(g.timeout.or(DefaultTimeout))
	r.Exec = r.level.exec
	if r.Exec == "" {
		r.Exec = g.exec.or("")
	}
}

// checkClusterResource checks that resource r has exactly one `on` section
// for each data node of cluster c and nothing else, and that it resolves
// for both.
func (p *fileParser) checkClusterResource(r *Resource, c *Cluster) {
	seen := map[string]bool{}
	for _, n := range r.Nodes {
		if !c.isDataNode(n.Name) {
			panic(p.errorAt(n.Line, n.Name, "Resource %s: %s is not a data node of the cluster (data nodes: %s, %s)", r.Name, n.Name, c.Nodes[0].Name, c.Nodes[1].Name))
		}
		if seen[n.Name] {
			panic(p.errorAt(n.Line, n.Name, "Resource %s: node %s configured more than once", r.Name, n.Name))
		}
		seen[n.Name] = true
	}
	for _, dn := range c.Nodes {
		if !seen[dn.Name] {
			panic(p.errorAt(r.closeLine, "}", "Resource %s has no configuration for cluster node %s", r.Name, dn.Name))
		}
		p.checkView(r, r.view(func(name string) bool { return name == dn.Name }), dn.Name)
	}
}

// checkView checks that v, resource r resolved for one node, is complete,
// with HAST's messages. node names the node in clustered mode and is empty
// for this host in classic mode.
func (p *fileParser) checkView(r *Resource, v nodeView, node string) {
	on := ""
	if node != "" {
		on = " on node " + node
	}
	switch {
	case !v.found:
		panic(p.errorAt(r.closeLine, "}", "No resource %s configuration for this node (acceptable node names: %s)", r.Name, p.id.AcceptableNames()))
	case v.remote == "":
		panic(p.errorAt(r.closeLine, "}", "Remote address not configured for resource %s%s", r.Name, on))
	case v.local == "":
		panic(p.errorAt(r.closeLine, "}", "Path to local component not configured for resource %s%s", r.Name, on))
	}
}

// nodeView is a resource's node-specific settings resolved for one node.
type nodeView struct {
	found                  bool // some `on` section names the node
	provider, local        string
	remote, source         string
	remoteNone             bool
	remoteAddr, sourceAddr Addr
	metaFlush              opt[bool]
	nbd                    opt[Addr]
	frontend               string
}

// view resolves r for the node whose names match accepts: the matching `on`
// sections in file order (a later one overrides an earlier one), then the
// resource-level name, local, metaflush and nbd, then the resource name as
// provider.
func (r *Resource) view(match func(string) bool) nodeView {
	var v nodeView
	for _, n := range r.Nodes {
		if !match(n.Name) {
			continue
		}
		v.found = true
		if n.Provider != "" {
			v.provider = n.Provider
		}
		if n.Local != "" {
			v.local = n.Local
		}
		if n.Remote != "" {
			v.remote, v.remoteNone, v.remoteAddr = n.Remote, n.RemoteNone, n.RemoteAddr
		}
		if n.Source != "" {
			v.source, v.sourceAddr = n.Source, n.SourceAddr
		}
		if n.MetaFlushSet {
			v.metaFlush.put(n.MetaFlush)
		}
		if n.NBD.Network != "" {
			v.nbd.put(n.NBD)
		}
		if n.Frontend != "" {
			v.frontend = n.Frontend
		}
	}
	if v.provider == "" {
		v.provider = r.level.provider
	}
	if v.provider == "" {
		v.provider = r.Name
	}
	if v.local == "" {
		v.local = r.level.local
	}
	if !v.metaFlush.set {
		v.metaFlush = r.level.metaFlush
	}
	if !v.nbd.set {
		v.nbd = r.level.nbd
	}
	if v.frontend == "" {
		v.frontend = r.level.frontend
	}
	if v.frontend == "" {
		v.frontend = "auto"
	}
	return v
}

// useView stores v in r's node-specific fields, metaflush falling back to
// the global setting and then to on, the NBD address to a unix socket named
// after the provider.
func (r *Resource) useView(v nodeView, globalMetaFlush opt[bool]) {
	r.Provider, r.Local = v.provider, v.local
	r.Remote, r.RemoteNone, r.RemoteAddr = v.remote, v.remoteNone, v.remoteAddr
	r.Source, r.SourceAddr = v.source, v.sourceAddr
	r.MetaFlush = v.metaFlush.or(globalMetaFlush.or(true))
	r.NBD = v.nbd.or(Addr{Network: "unix", Address: DefaultNBDDir + "/" + v.provider + ".nbd"})
	r.Frontend = v.frontend
	r.SyncRate = r.level.syncRate
}
