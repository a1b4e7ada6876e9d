// Package linearizability records histories of queue operations made on
// the simulated machine and checks them: conservation (no value lost,
// duplicated or invented) on every history, and linearizability against a
// specification from package model with porcupine.
//
// Call and return times are the machine's step numbers: an operation that
// calls after decision s gets time 2s+1, one that returns after decision s
// gets 2s, so an operation that returns strictly precedes every operation
// called after it, and two operations are concurrent exactly when their
// steps interleave.
//
// Limits. Porcupine searches linearization orders with a cache of (set of
// operations linearized, queue contents) pairs. For a FIFO queue that cache
// grows with queue depth times concurrency: about 4 clients x 50
// operations checks in milliseconds, a few hundred operations on a queue
// of capacity 64 has taken gigabytes and minutes. Check therefore refuses
// histories longer than MaxOps (the caller skips or shortens them), and
// always runs with a timeout. A timeout is reported as Unknown, never as a
// pass.
package linearizability

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/sim"
)

// Op is one recorded queue operation.
type Op struct {
	Client int
	// Enqueue is true for an enqueue of Vals, false for a dequeue of up to N.
	Enqueue bool
	Vals    []uint64
	N       int
	// Got is the enqueue's return value; Out is what a dequeue returned.
	Got          int
	Out          []uint64
	Call, Return int64
}

func (o Op) String() string {
	if o.Enqueue {
		return model.DescribeEnqueue(o.Vals, o.Got)
	}
	return model.DescribeDequeue(o.N, o.Out)
}

// History collects operations as simulated code makes them.
type History struct {
	Ops []Op
}

// Enqueue records an enqueue of vals made by do, which returns its result.
func (h *History) Enqueue(c *sim.Ctx, client int, vals []uint64, do func() int) int {
	call := callTime(c)
	got := do()
	h.Ops = append(h.Ops, Op{Client: client, Enqueue: true, Vals: slices.Clone(vals), Got: got, Call: call, Return: returnTime(c)})
	return got
}

// Dequeue records a dequeue of up to len(out) values made by do, which
// fills out and returns how many it took.
func (h *History) Dequeue(c *sim.Ctx, client int, out []uint64, do func() int) int {
	call := callTime(c)
	got := do()
	h.Ops = append(h.Ops, Op{Client: client, N: len(out), Out: slices.Clone(out[:got]), Call: call, Return: returnTime(c)})
	return got
}

func callTime(c *sim.Ctx) int64   { return 2*int64(c.Machine().Step()) + 1 }
func returnTime(c *sim.Ctx) int64 { return 2 * int64(c.Machine().Step()) }

// Drained appends a dequeue that takes what is left, after every other
// operation, so that the check covers the final contents too.
func (h *History) Drained(client int, left []uint64) {
	end := int64(0)
	for _, o := range h.Ops {
		end = max(end, o.Return)
	}
	h.Ops = append(h.Ops, Op{Client: client, N: len(left) + 1, Out: slices.Clone(left), Call: end + 1, Return: end + 2})
}

// Kinds of conservation violations.
const (
	LostValue       = "lost-value"       // enqueued, never dequeued nor left in the queue
	DuplicatedValue = "duplicated-value" // dequeued twice
	UnknownValue    = "unknown-value"    // dequeued but never enqueued
)

// Conservation checks that every value a dequeue returned had been
// enqueued successfully, that none came out twice, and that every value
// enqueued came out (the history must end with Drained). It returns the
// kind and a description of the first violation, or "", "".
func (h *History) Conservation() (kind, msg string) {
	in := map[uint64]int{} // value -> index of its enqueue
	for i, o := range h.Ops {
		if o.Enqueue && o.Got > 0 {
			for _, v := range o.Vals {
				in[v] = i
			}
		}
	}
	out := map[uint64]int{}
	for i, o := range h.Ops {
		for _, v := range o.Out {
			if j, seen := out[v]; seen {
				return DuplicatedValue, fmt.Sprintf("value %d dequeued twice: by client %d's %v and by client %d's %v", v, h.Ops[j].Client, h.Ops[j], o.Client, o)
			}
			if _, ok := in[v]; !ok {
				return UnknownValue, fmt.Sprintf("value %d dequeued by client %d's %v was never enqueued", v, o.Client, o)
			}
			out[v] = i
		}
	}
	for i, o := range h.Ops {
		if !o.Enqueue || o.Got == 0 {
			continue
		}
		for _, v := range o.Vals {
			if _, ok := out[v]; !ok {
				return LostValue, fmt.Sprintf("value %d enqueued by client %d's %v was lost: never dequeued, not in the queue at the end", v, o.Client, h.Ops[i])
			}
		}
	}
	return "", ""
}

// Verdict is a linearizability check's answer.
type Verdict string

const (
	Ok      Verdict = "ok"
	Illegal Verdict = "illegal"
	// Undecided: the check could not decide within its work budget, or
	// the history is outside what it decides (values enqueued twice).
	// Never a pass: callers report it as a failure of its own kind.
	Undecided Verdict = "undecided"
)

// Result is a linearizability check's outcome.
type Result struct {
	Verdict Verdict
	// Reason explains an Illegal or Undecided verdict; for Illegal it
	// names the operations that make the violation.
	Reason string
	// Ops are the indices of those operations in the history.
	Ops []int
	// Work is the number of candidate states the check built.
	Work int64

	visual func(path string) error
}

// Check decides whether the history is linearizable against spec for a
// queue of capacity cap, with the default work budget (WorkPerOp).
func (h *History) Check(spec model.Spec, cap int) Result {
	return h.CheckWork(spec, cap, WorkPerOp*int64(len(h.Ops)+1024))
}

// CheckWork is Check with an explicit budget of candidate states; past it
// the verdict is Undecided. The same history and budget always give the
// same result.
func (h *History) CheckWork(spec model.Spec, cap int, budget int64) Result {
	r := h.checkQueue(spec, cap, budget, true)
	if r.Verdict == Illegal {
		r.visual = func(path string) error { return visualize(Model(spec, cap), h.Operations(), path) }
	}
	return r
}

// VisualMaxOps is the longest history WriteHTML draws: porcupine has to
// search the history again to draw it, and its search grows exponentially.
const VisualMaxOps = 200

// visualTimeout bounds porcupine's search for the drawing only; the
// verdict it illustrates is already decided.
const visualTimeout = 10 * time.Second

func visualize(m porcupine.Model, ops []porcupine.Operation, path string) error {
	if len(ops) > VisualMaxOps {
		return fmt.Errorf("no visualisation: %d operations, more than porcupine draws (%d)", len(ops), VisualMaxOps)
	}
	res, info := porcupine.CheckOperationsVerbose(m, ops, visualTimeout)
	if res != porcupine.Illegal {
		return fmt.Errorf("no visualisation: porcupine's search did not finish")
	}
	return porcupine.VisualizePath(m, info, path)
}

// WriteHTML writes porcupine's visualisation of an illegal history, where
// porcupine can draw it.
func (r Result) WriteHTML(path string) error {
	if r.visual == nil {
		return fmt.Errorf("no visualisation: the verdict is %s", r.Verdict)
	}
	return r.visual(path)
}

// input is what the porcupine model sees of an operation.
type input struct {
	op         Op
	concurrent bool // overlaps another operation in time
}

// Model is the porcupine model of a bulk FIFO of capacity cap under spec,
// built from package model's step functions.
func Model(spec model.Spec, cap int) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return []uint64(nil) },
		Step: func(state, in, _ any) (bool, any) {
			s, i := state.([]uint64), in.(input)
			if i.op.Enqueue {
				return model.StepEnqueue(spec, cap, s, i.op.Vals, i.op.Got, i.concurrent)
			}
			return model.StepDequeue(s, i.op.N, i.op.Out)
		},
		Equal: func(a, b any) bool { return slices.Equal(a.([]uint64), b.([]uint64)) },
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			var b [8]byte
			for _, v := range state.([]uint64) {
				binary.LittleEndian.PutUint64(b[:], v)
				h.Write(b[:])
			}
			return h.Sum64()
		},
		DescribeOperation: func(in, _ any) string { return in.(input).op.String() },
		DescribeState:     func(state any) string { return fmt.Sprint(state.([]uint64)) },
	}
}

// Operations is the history as porcupine takes it, for Model: each input
// marks whether the operation overlaps another.
func (h *History) Operations() []porcupine.Operation {
	calls, rets := make([]int64, len(h.Ops)), make([]int64, len(h.Ops))
	for i, o := range h.Ops {
		calls[i], rets[i] = o.Call, o.Return
	}
	concurrent := overlapping(calls, rets)
	ops := make([]porcupine.Operation, len(h.Ops))
	for i, o := range h.Ops {
		ops[i] = porcupine.Operation{ClientId: o.Client, Input: input{op: o, concurrent: concurrent[i]}, Call: o.Call, Return: o.Return}
	}
	return ops
}

// overlapping reports for each interval whether it overlaps another one;
// intervals that meet at one time overlap, as in porcupine.
func overlapping(calls, rets []int64) []bool {
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(calls[a], calls[b]) })
	out := make([]bool, len(calls))
	maxRet := int64(math.MinInt64)
	for k, i := range order {
		out[i] = maxRet >= calls[i] || (k+1 < len(order) && calls[order[k+1]] <= rets[i])
		maxRet = max(maxRet, rets[i])
	}
	return out
}
