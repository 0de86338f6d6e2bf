//go:build !linux && !freebsd

package ggate

import "fmt"

// availableBlockFrontends returns none: this system has no block-device
// frontend, only the NBD server.
func availableBlockFrontends() []FrontendKind { return nil }

// attachBlockFrontend is never reached, since no kind is available.
func attachBlockFrontend(cfg FrontendConfig) (*Frontend, error) {
	return nil, fmt.Errorf("%w: frontend %q on this system", ErrFrontendUnavailable, cfg.Kind)
}
