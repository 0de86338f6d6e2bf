package hastconf

import (
	"errors"
	"fmt"
)

var (
	// ErrAddress is wrapped by every error ParseAddr returns.
	ErrAddress = errors.New("invalid address")
)

// Error is a syntax or semantic error in a configuration file. Parse and Load
// return every problem with the file's content as an *Error; the commands map
// it to EX_CONFIG (78).
type Error struct {
	// File is the file name given to Parse or Load.
	File string
	// Line is the 1-based line of the offending token.
	Line int
	// Near is the offending token as written. It is empty when the error was
	// found at the end of the file.
	Near string
	// Msg says what is wrong, in HAST's words where HAST has a message for it
	// (without HAST's trailing period).
	Msg string
}

// Error formats the error as FILE:LINE: MSG near 'TOKEN', or
// FILE:LINE: MSG near end of file.
func (e *Error) Error() string {
	if e.Near == "" {
		return fmt.Sprintf("%s:%d: %s near end of file", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s near '%s'", e.File, e.Line, e.Msg, e.Near)
}
