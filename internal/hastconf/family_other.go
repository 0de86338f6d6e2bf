//go:build !unix

package hastconf

// kernelSupports reports every network as supported where sockets cannot
// be probed the unix way.
func kernelSupports(network string) bool { return true }
