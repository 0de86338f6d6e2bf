package ggate

import (
	"fmt"
	"os"
)

// availableBlockFrontends returns the block-device frontends this machine
// supports, best first.
func availableBlockFrontends() []FrontendKind {
	if os.Geteuid() != 0 {
		return nil
	}
	var kinds []FrontendKind
	if exists("/sys/module/nbd") {
		kinds = append(kinds, FrontendKernelNBD)
	}
	if exists("/dev/fuse") && exists(loopControlPath) {
		kinds = append(kinds, FrontendFUSE)
	}
	return kinds
}

// attachBlockFrontend attaches an available Linux frontend.
func attachBlockFrontend(cfg FrontendConfig) (*Frontend, error) {
	switch cfg.Kind {
	case FrontendKernelNBD:
		return attachKernelNBD(cfg)
	case FrontendFUSE:
		return attachFUSELoop(cfg)
	}
	return nil, fmt.Errorf("%w: frontend %q on Linux", ErrFrontendUnavailable, cfg.Kind)
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
