package replicator

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FaultyBackend injects disk faults into a Backend, for fault-injection
// tests only: hastd wraps its providers in one when the HASTD_FAULTS
// environment variable names a directory, and never otherwise. The faults
// are read from a file the test rewrites while hastd runs, looked at again
// at most every faultRecheck:
//
//	write-error 0.2    fail 20% of writes and trims with EIO
//	read-error 0.1     fail 10% of reads with EIO
//	flush-error 1      fail every flush with EIO
//	delay 50ms         delay every operation
//
// A missing or empty file injects nothing; lines it does not understand
// are skipped.
type FaultyBackend struct {
	Backend
	path string

	mu      sync.Mutex
	checked time.Time
	modTime time.Time
	spec    FaultSpec
}

// FaultSpec is what a FaultyBackend injects.
type FaultSpec struct {
	// WriteError, ReadError and FlushError are probabilities in [0, 1].
	WriteError, ReadError, FlushError float64
	// Delay is added before every operation.
	Delay time.Duration
}

// faultRecheck is how often the fault file is looked at again.
const faultRecheck = 50 * time.Millisecond

// NewFaultyBackend wraps b with the faults of the file at path.
func NewFaultyBackend(b Backend, path string) *FaultyBackend {
	return &FaultyBackend{Backend: b, path: path}
}

// Spec returns the faults in force now, re-reading the file if it changed.
func (f *FaultyBackend) Spec() FaultSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if now.Sub(f.checked) < faultRecheck {
		return f.spec
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil {
		f.spec, f.modTime = FaultSpec{}, time.Time{}
		return f.spec
	}
	if fi.ModTime().Equal(f.modTime) {
		return f.spec
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return f.spec
	}
	f.spec, f.modTime = ParseFaultSpec(data), fi.ModTime()
	return f.spec
}

// ParseFaultSpec parses a fault file; lines it does not understand are
// skipped.
func ParseFaultSpec(data []byte) FaultSpec {
	var s FaultSpec
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		if fields[0] == "delay" {
			if d, err := time.ParseDuration(fields[1]); err == nil && d >= 0 {
				s.Delay = d
			}
			continue
		}
		p, err := strconv.ParseFloat(fields[1], 64)
		if err != nil || p < 0 || p > 1 {
			continue
		}
		switch fields[0] {
		case "write-error":
			s.WriteError = p
		case "read-error":
			s.ReadError = p
		case "flush-error":
			s.FlushError = p
		}
	}
	return s
}

// inject delays and decides whether an operation fails with probability p.
func (f *FaultyBackend) inject(op string, p func(FaultSpec) float64) error {
	s := f.Spec()
	if s.Delay > 0 {
		time.Sleep(s.Delay)
	}
	if q := p(s); q > 0 && rand.Float64() < q {
		return fmt.Errorf("injected %s fault (%s): %w", op, f.path, syscall.EIO)
	}
	return nil
}

// ReadAt reads, or fails as the fault file says.
func (f *FaultyBackend) ReadAt(p []byte, off int64) (int, error) {
	if err := f.inject("read", func(s FaultSpec) float64 { return s.ReadError }); err != nil {
		return 0, err
	}
	return f.Backend.ReadAt(p, off)
}

// WriteAt writes, or fails as the fault file says.
func (f *FaultyBackend) WriteAt(p []byte, off int64) (int, error) {
	if err := f.inject("write", func(s FaultSpec) float64 { return s.WriteError }); err != nil {
		return 0, err
	}
	return f.Backend.WriteAt(p, off)
}

// Trim trims, or fails as a write would.
func (f *FaultyBackend) Trim(off, length int64) error {
	if err := f.inject("trim", func(s FaultSpec) float64 { return s.WriteError }); err != nil {
		return err
	}
	return f.Backend.Trim(off, length)
}

// Flush flushes, or fails as the fault file says.
func (f *FaultyBackend) Flush() error {
	if err := f.inject("flush", func(s FaultSpec) float64 { return s.FlushError }); err != nil {
		return err
	}
	return f.Backend.Flush()
}
