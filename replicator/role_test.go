package replicator

import (
	"errors"
	"testing"
)

func TestRoleStringParse(t *testing.T) {
	for _, tc := range []struct {
		r    Role
		name string
	}{
		{RoleUndef, "undef"}, {RoleInit, "init"}, {RolePrimary, "primary"}, {RoleSecondary, "secondary"},
	} {
		if got := tc.r.String(); got != tc.name {
			t.Errorf("Role(%d).String() = %q, want %q", tc.r, got, tc.name)
		}
		if tc.r == RoleUndef {
			continue
		}
		if got, err := ParseRole(tc.name); err != nil || got != tc.r {
			t.Errorf("ParseRole(%q) = %v, %v; want %v", tc.name, got, err, tc.r)
		}
	}
	if got := Role(9).String(); got != "role(9)" {
		t.Errorf("Role(9).String() = %q", got)
	}
	for _, s := range []string{"undef", "", "Primary", "master"} {
		if _, err := ParseRole(s); !errors.Is(err, ErrBadRole) {
			t.Errorf("ParseRole(%q) error = %v, want ErrBadRole", s, err)
		}
	}
	if uint8(RoleInit) != 1 || uint8(RolePrimary) != 2 || uint8(RoleSecondary) != 3 {
		t.Error("role numbers differ from hast.h")
	}
}
