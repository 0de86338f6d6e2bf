package replicator

// unsafeSkipOutdate, set only by the hast_unsafe_nooutdate build tag,
// makes the primary acknowledge a write its secondary did not take
// without waiting for the cluster to record the secondary outdated. It
// exists to show that the fault-injection suite catches the loss of
// acknowledged writes this allows; never build hastd with it.
var unsafeSkipOutdate bool
