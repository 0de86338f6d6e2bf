package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// A command travels in the Raft log as an envelope:
//
//	offset 0      type: bits 0-6 the CommandType, bit 7 (0x80) set when a
//	              node that does not know the type may skip the entry
//	offset 1      version of the body's encoding for that type
//	offset 2-17   request id (16 bytes; all zero: no deduplication)
//	offset 18-    body: the command struct in encoding/json
//
// A node panics on an entry it cannot decode: an unknown type without the
// ignorable bit, a known type at an unknown version, or a body that does
// not parse. Crashing beats diverging from the other voters.

// envelopeHeader is the size of the envelope before the body.
const envelopeHeader = 2 + len(RequestID{})

// ignorableFlag marks a command type that unknowing nodes may skip.
const ignorableFlag = 0x80

// CommandType identifies a command in the log.
type CommandType uint8

// Command types. Numbers are part of the log format: never reuse one.
const (
	TypeAddResource  CommandType = 1
	TypeSetRole      CommandType = 2
	TypePromote      CommandType = 3
	TypeDemote       CommandType = 4
	TypeRenewLease   CommandType = 5
	TypeOutdate      CommandType = 6
	TypeMarkSyncing  CommandType = 7
	TypeMarkUpToDate CommandType = 8
	TypeSetCounters  CommandType = 9
)

// commandSpec is one row of the command table.
type commandSpec struct {
	name      string
	version   uint8
	ignorable bool
	decode    func(body []byte) (Command, error)
}

// commands is the table of every command this version understands.
var commands = map[CommandType]commandSpec{
	TypeAddResource:  jsonCommand[AddResource]("AddResource"),
	TypeSetRole:      jsonCommand[SetRole]("SetRole"),
	TypePromote:      jsonCommand[Promote]("Promote"),
	TypeDemote:       jsonCommand[Demote]("Demote"),
	TypeRenewLease:   jsonCommand[RenewLease]("RenewLease"),
	TypeOutdate:      jsonCommand[Outdate]("Outdate"),
	TypeMarkSyncing:  jsonCommand[MarkSyncing]("MarkSyncing"),
	TypeMarkUpToDate: jsonCommand[MarkUpToDate]("MarkUpToDate"),
	TypeSetCounters:  jsonCommand[SetCounters]("SetCounters"),
}

// jsonCommand is the table row of command C, body version 1 in JSON,
// not ignorable.
func jsonCommand[C Command](name string) commandSpec {
	return commandSpec{name: name, version: 1, decode: func(body []byte) (Command, error) {
		var c C
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, err
		}
		if dec.More() {
			return nil, errors.New("data after the command")
		}
		return c, nil
	}}
}

// String returns the command's name, as in the table.
func (t CommandType) String() string {
	if s, ok := commands[t]; ok {
		return s.name
	}
	return fmt.Sprintf("command(%d)", uint8(t))
}

// Command is a change proposed to the FSM. Only this package's command
// types implement it.
type Command interface {
	// Type returns the command's type.
	Type() CommandType
	// validate checks the command's fields on their own.
	validate() error
	// apply runs the command against m as log entry index.
	apply(m *machine, index uint64) Result
}

// RequestID makes a command idempotent: the FSM remembers the result of
// the most recent requests by id and answers a repeated id with the first
// result without applying the command again.
type RequestID [16]byte

// NewRequestID returns a random request id.
func NewRequestID() RequestID {
	var id RequestID
	rand.Read(id[:])
	return id
}

// IsZero reports whether id is all zero, which disables deduplication.
func (id RequestID) IsZero() bool { return id == RequestID{} }

// String returns id in hexadecimal.
func (id RequestID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes id in hexadecimal.
func (id RequestID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hexadecimal id.
func (id *RequestID) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(id) {
		return fmt.Errorf("request id %q: want %d hexadecimal bytes", b, len(id))
	}
	_, err := hex.Decode(id[:], b)
	return err
}

// envelope is a decoded log entry.
type envelope struct {
	typ     CommandType
	version uint8
	id      RequestID
	// cmd is nil when the type is unknown and ignorable.
	cmd Command
}

// encodeCommand validates cmd and returns its log entry with request id id.
func encodeCommand(id RequestID, cmd Command) ([]byte, error) {
	spec, ok := commands[cmd.Type()]
	if !ok {
		return nil, fmt.Errorf("%w: unknown command type %d", ErrInvalidCommand, cmd.Type())
	}
	if err := cmd.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %w", ErrInvalidCommand, spec.name, err)
	}
	buf := make([]byte, envelopeHeader, envelopeHeader+len(body))
	buf[0] = byte(cmd.Type())
	if spec.ignorable {
		buf[0] |= ignorableFlag
	}
	buf[1] = spec.version
	copy(buf[2:], id[:])
	return append(buf, body...), nil
}

// decodeCommand decodes a log entry. An unknown type with the ignorable
// bit decodes to an envelope without a command; every other failure is an
// error.
func decodeCommand(buf []byte) (envelope, error) {
	if len(buf) < envelopeHeader {
		return envelope{}, fmt.Errorf("command entry of %d bytes is shorter than its %d-byte header", len(buf), envelopeHeader)
	}
	e := envelope{typ: CommandType(buf[0] &^ ignorableFlag), version: buf[1]}
	ignorable := buf[0]&ignorableFlag != 0
	copy(e.id[:], buf[2:envelopeHeader])
	spec, ok := commands[e.typ]
	switch {
	case !ok && ignorable:
		return e, nil
	case !ok:
		return e, fmt.Errorf("unknown command type %d", e.typ)
	case e.version != spec.version && ignorable:
		return e, nil
	case e.version != spec.version:
		return e, fmt.Errorf("%s version %d, want %d", spec.name, e.version, spec.version)
	}
	cmd, err := spec.decode(buf[envelopeHeader:])
	if err != nil {
		return e, fmt.Errorf("decode %s: %w", spec.name, err)
	}
	e.cmd = cmd
	return e, nil
}
