package cluster

// Result is the FSM's answer to one command. It is the same on every
// node, because it is computed by the deterministic FSM, and a retried
// command with the same request id gets back the first one unchanged.
type Result struct {
	// Index is the Raft log index at which the command was applied (for a
	// retried request, the index of its first application).
	Index uint64 `json:"index"`
	// Code is CodeOK or the reason of the refusal.
	Code Code `json:"code"`
	// Message explains a refusal; empty on success.
	Message string `json:"message,omitempty"`
	// Generation is the resource's generation after the command; 0 for an
	// unknown resource.
	Generation uint64 `json:"generation"`
	// Changed reports whether the command changed the state; a command
	// asking for what already holds succeeds without change.
	Changed bool `json:"changed,omitempty"`
	// Forced lists the checks a forced SetRole skipped, one sentence
	// each; empty when nothing was skipped.
	Forced []string `json:"forced,omitempty"`
}

// Err returns nil on success, else a *RefusedError carrying the code and
// message, which errors.Is matches against the code's sentinel.
func (r Result) Err() error {
	if r.Code == CodeOK {
		return nil
	}
	return &RefusedError{Code: r.Code, Message: r.Message}
}

// clone returns a copy of r sharing nothing with it.
func (r Result) clone() Result {
	if r.Forced != nil {
		r.Forced = append([]string(nil), r.Forced...)
	}
	return r
}
