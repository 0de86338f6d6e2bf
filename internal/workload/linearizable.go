package workload

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/anishathalye/porcupine"
)

// ErrNotLinearizable is returned by CheckLinearizable for a history no
// sequential order of the operations explains.
var ErrNotLinearizable = errors.New("history is not linearizable")

// regInput is an operation on one block's register: a write of value, or
// a read.
type regInput struct {
	block int
	write bool
	value uint64
}

// regOutput is what an operation returned: the value a read found.
type regOutput struct {
	value uint64
}

// registerModel is porcupine's model of the device for this workload:
// every block is an independent register holding the last value written
// (0 before any write), so the history is partitioned by block.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byBlock := map[int][]porcupine.Operation{}
		var order []int
		for _, op := range history {
			b := op.Input.(regInput).block
			if _, ok := byBlock[b]; !ok {
				order = append(order, b)
			}
			byBlock[b] = append(byBlock[b], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, b := range order {
			out = append(out, byBlock[b])
		}
		return out
	},
	Init: func() any { return uint64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(regOutput).value == state.(uint64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("block %d: write %#x", in.block, in.value)
		}
		return fmt.Sprintf("block %d: read %#x", in.block, output.(regOutput).value)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%#x", state.(uint64)) },
}

// CheckLinearizable checks with porcupine that one sequential order of the
// operations explains every result, each block a read/write register: the
// history's acknowledged reads and writes, its writes whose outcome is
// unknown or failed (each may take effect at any time after it was sent,
// or never), and a final read of every written block through read, taken
// after the workload stopped. It returns nil when the history is
// linearizable, an error wrapping ErrNotLinearizable when it is not, and
// another error when a final read fails or porcupine runs out of timeout.
// When htmlPath is not empty and the check fails, porcupine's
// visualization of the history is written there.
func (h *History) CheckLinearizable(read func(block int) ([]byte, error), timeout time.Duration, htmlPath string) error {
	if len(h.Ops) == 0 {
		return nil
	}
	base := h.Ops[0].Start
	for _, op := range h.Ops {
		if op.Start.Before(base) {
			base = op.Start
		}
	}
	at := func(t time.Time) int64 { return int64(t.Sub(base)) }
	var ops []porcupine.Operation
	var end int64
	written := map[int]bool{}
	for _, op := range h.Ops {
		end = max(end, at(op.End))
		switch {
		case op.Kind == Write && op.Outcome == OK:
			written[op.Block] = true
			ops = append(ops, porcupine.Operation{ClientId: op.Client, Input: regInput{op.Block, true, op.Value},
				Call: at(op.Start), Output: regOutput{}, Return: at(op.End)})
		case op.Kind == Write:
			// It may land at any later time, or never: porcupine may then
			// order it after everything else.
			written[op.Block] = true
			ops = append(ops, porcupine.Operation{ClientId: op.Client, Input: regInput{op.Block, true, op.Value},
				Call: at(op.Start), Output: regOutput{}, Return: math.MaxInt64})
		case op.Outcome == OK && op.Corrupt == nil:
			ops = append(ops, porcupine.Operation{ClientId: op.Client, Input: regInput{block: op.Block},
				Call: at(op.Start), Output: regOutput{op.Value}, Return: at(op.End)})
		case op.Outcome == OK:
			return fmt.Errorf("%w: read %v returned corrupt data: %v", ErrNotLinearizable, op, op.Corrupt)
		}
	}
	if read != nil {
		final := end + 1
		for block := range written {
			b, err := read(block)
			if err != nil {
				return fmt.Errorf("final read of block %d: %w", block, err)
			}
			v, err := decodeBlock(b, block)
			if err != nil {
				return fmt.Errorf("%w: block %d after the run: %v", ErrNotLinearizable, block, err)
			}
			ops = append(ops, porcupine.Operation{ClientId: 0, Input: regInput{block: block},
				Call: final, Output: regOutput{v}, Return: final})
		}
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, ops, timeout)
	if res == porcupine.Ok {
		return nil
	}
	var vis string
	if htmlPath != "" {
		if err := porcupine.VisualizePath(registerModel, info, htmlPath); err != nil {
			vis = fmt.Sprintf(" (visualization failed: %v)", err)
		} else {
			vis = " (visualization: " + htmlPath + ")"
		}
	}
	if res == porcupine.Unknown {
		return fmt.Errorf("linearizability check of %d operations timed out after %v%s", len(ops), timeout, vis)
	}
	return fmt.Errorf("%w: %d operations%s", ErrNotLinearizable, len(ops), vis)
}
