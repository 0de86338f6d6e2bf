package replicator

import "fmt"

// Role is the role of a resource on this node, numbered as FreeBSD HAST
// numbers them (hast.h).
type Role uint8

// The roles. RoleUndef is the zero value and never a role a resource is
// given; RoleInit is the role of a resource that does not replicate.
const (
	RoleUndef     Role = 0
	RoleInit      Role = 1
	RolePrimary   Role = 2
	RoleSecondary Role = 3
)

// String returns the name hastctl and the metadata use: "undef", "init",
// "primary" or "secondary".
func (r Role) String() string {
	switch r {
	case RoleUndef:
		return "undef"
	case RoleInit:
		return "init"
	case RolePrimary:
		return "primary"
	case RoleSecondary:
		return "secondary"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole parses "init", "primary" or "secondary", the roles hastctl sets
// and the metadata records. Anything else, "undef" included, is an error
// wrapping ErrBadRole.
func ParseRole(s string) (Role, error) {
	switch s {
	case "init":
		return RoleInit, nil
	case "primary":
		return RolePrimary, nil
	case "secondary":
		return RoleSecondary, nil
	}
	return RoleUndef, fmt.Errorf("%w: %q", ErrBadRole, s)
}
