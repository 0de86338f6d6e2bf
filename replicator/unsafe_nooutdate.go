//go:build hast_unsafe_nooutdate

package replicator

func init() { unsafeSkipOutdate = true }
