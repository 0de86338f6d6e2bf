package cluster

import "errors"

// Sentinel errors. The first group are refusals: the FSM declined a
// committed command for a business reason. Apply returns them wrapped in a
// *RefusedError, on every node and after crossing the forwarding RPC, so
// errors.Is works on the caller's side. The second group are outcomes of
// Apply other than a committed result.
var (
	// ErrStaleGeneration refuses a command whose expected generation is not
	// the resource's current one.
	ErrStaleGeneration = errors.New("stale generation")
	// ErrNodeOutdated refuses to make primary a node whose copy is not
	// known to be up to date.
	ErrNodeOutdated = errors.New("node outdated")
	// ErrOtherPrimary refuses to make a node primary while the other data
	// node is primary.
	ErrOtherPrimary = errors.New("other node is primary")
	// ErrNotPrimary refuses a command that only the primary, or a command
	// about the primary's peer, may issue.
	ErrNotPrimary = errors.New("not primary")
	// ErrUnknownResource refuses a command naming a resource the FSM does
	// not hold.
	ErrUnknownResource = errors.New("unknown resource")
	// ErrUnknownNode refuses a command naming a node that is not one of the
	// resource's two data nodes.
	ErrUnknownNode = errors.New("unknown node")
	// ErrNodeInit refuses to promote a node in role init: the
	// administrator took it out of service.
	ErrNodeInit = errors.New("node in role init")
	// ErrResourceConflict refuses to add a resource that already exists
	// with other data nodes.
	ErrResourceConflict = errors.New("resource exists with other nodes")
	// ErrInvalidCommand refuses a malformed command (an empty name, an
	// unknown role, the same node twice). Apply returns it before
	// proposing; the FSM answers it too, so a bad entry cannot diverge.
	ErrInvalidCommand = errors.New("invalid command")

	// ErrNoQuorum means the context ended before any leader committed the
	// command: no leader was elected or reachable, or the leader could not
	// reach a majority of the voters.
	ErrNoQuorum = errors.New("no quorum")
	// ErrOutcomeUnknown accompanies ErrNoQuorum when an attempt reached a
	// leader that then lost leadership or stopped answering: the command
	// may still commit. Retrying with the same request id is safe.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrUnreachable means a node could not be reached and the request was
	// certainly not delivered.
	ErrUnreachable = errors.New("node unreachable")
	// ErrShutdown means the node was shut down.
	ErrShutdown = errors.New("node shut down")
)

// Code is the machine-readable outcome of a command, carried in Result
// and across the forwarding RPC.
type Code uint8

// Codes of Result. CodeOK is success; every other code is a refusal with
// the sentinel error of the same name.
const (
	CodeOK Code = iota
	CodeStaleGeneration
	CodeNodeOutdated
	CodeOtherPrimary
	CodeNotPrimary
	CodeUnknownResource
	CodeUnknownNode
	CodeNodeInit
	CodeResourceConflict
	CodeInvalidCommand
)

// codeErrors maps each refusal code to its sentinel error.
var codeErrors = map[Code]error{
	CodeStaleGeneration:  ErrStaleGeneration,
	CodeNodeOutdated:     ErrNodeOutdated,
	CodeOtherPrimary:     ErrOtherPrimary,
	CodeNotPrimary:       ErrNotPrimary,
	CodeUnknownResource:  ErrUnknownResource,
	CodeUnknownNode:      ErrUnknownNode,
	CodeNodeInit:         ErrNodeInit,
	CodeResourceConflict: ErrResourceConflict,
	CodeInvalidCommand:   ErrInvalidCommand,
}

// String returns the code's name, "ok" for CodeOK.
func (c Code) String() string {
	if c == CodeOK {
		return "ok"
	}
	if err, ok := codeErrors[c]; ok {
		return err.Error()
	}
	return "unknown code"
}

// RefusedError is a refusal of the FSM. errors.Is matches it against the
// sentinel of its Code.
type RefusedError struct {
	// Code says why the command was refused; never CodeOK.
	Code Code
	// Message explains the refusal for humans, naming the resource, the
	// node and the generations involved.
	Message string
}

// Error returns the refusal's message.
func (e *RefusedError) Error() string { return e.Message }

// Unwrap returns the sentinel error of the refusal's code.
func (e *RefusedError) Unwrap() error { return codeErrors[e.Code] }
