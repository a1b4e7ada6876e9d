// Package linearizability records histories of queue and pool operations
// made on the simulated machine and checks them: conservation (no value
// lost, duplicated or invented) on every history, and linearizability
// against a specification from package model.
//
// Call and return times are the machine's step numbers: an operation that
// calls after decision s gets time 2s+1, one that returns after decision s
// gets 2s, so an operation that returns strictly precedes every operation
// called after it, and two operations are concurrent exactly when their
// steps interleave. Equal times count as overlapping, as in porcupine.
//
// # A user's own object
//
// ObjectHistory records the operations of any object (a stack, a set, a
// register) with inputs and outputs of the user's choice, and
// ObjectHistory.Check decides it against the user's sequential model, given
// as a porcupine.Model, with an exact depth-first search over the orders
// real time allows that visits each (operations placed, model state) pair
// once, within a budget of states counted (Undecided past it, never a
// pass). ObjectCheck.Free marks the operations whose results need no
// justification. Result.Failure turns any verdict into the failure an
// end-of-run check returns.
//
// # The queue checker
//
// Check decides whether a history of the bounded bulk FIFO (model.FIFO,
// capacity cap) is linearizable under model.Strict or model.ALF. It needs
// the values of successful enqueues to be distinct (every workload here
// makes them so); a history that repeats one is Undecided, not judged.
//
// With distinct values every dequeued value names the enqueue that put it
// in, and a state reached by linearizing a set of operations is the set
// plus the order of the queued values. The checker walks the calls and
// returns once, in time order, keeping every distinct state (which pending
// operations have taken effect, and the queue's contents in order) some
// order of the operations seen so far can reach: at a call the operation
// becomes pending; at a return every state that cannot have linearized it
// by then is dropped, and if none is left the history is not linearizable.
// Equal states are merged, which is where the search over orders becomes a
// sweep: the number of states alive at a time is bounded by what the
// pending operations can do, not by the history's length. Every state kept
// is reached by legal steps in an order that respects real time, so a
// history the sweep finishes is linearizable; it is exact because the
// only moves it does not explore are shown below to lose nothing.
//
// Moves it makes at once, without keeping the alternative (each is safe:
// if any linearization completes the current prefix, one completes it
// starting with that move):
//
//   - An operation that changes no state and is legal now (a refused
//     enqueue with the queue full enough or, under ALF, overlapping another
//     operation; a dequeue that finds the queue empty or exactly as short
//     as its result; an enqueue of nothing). Moving it forward in any
//     completion changes no other operation's state, and nothing that must
//     precede it is still pending.
//   - A dequeue whose values are at the front now, when no refused enqueue
//     that needs justifying (Strict, or ALF without overlap) is pending or
//     called before the dequeue returns. In any completion nothing can
//     dequeue before it (its values are at the front), so only enqueues
//     come between: successful ones still fit with less in the queue and
//     append behind, and the refused ones that would need more in the
//     queue are excluded by the condition. Under ALF it always holds: a
//     refused enqueue linearized after now and before the dequeue overlaps
//     the dequeue and so needs no justification.
//   - The same dequeue made legal by first letting in the pending enqueues
//     of its values, in its result's order, when it takes all of the last
//     block (nothing left behind): moved forward together, the enqueues
//     only shrink what later operations see in the queue, and since the
//     queue is as it was minus the dequeued values, empty and short
//     dequeues and the order of what follows are unchanged.
//
// Moves it defers: an enqueue takes effect only when something needs it,
// namely its own return, a dequeue of its values (the combined move
// above, explored even when not forced), its place before another enqueue
// that is taking effect (all pending enqueues may go before the returning
// one), or a refused enqueue that needs the queue fuller (while one is
// pending, any pending enqueue may go). Delaying an enqueue past what does
// not need it is safe: dequeues that do not take its values see less in
// the queue but the same front, and an empty or short dequeue cannot sit
// between (its result would have to include the values).
//
// Two more cuts are sound for every order. A block cannot stand behind a
// block whose last value is dequeued by a call that begins after the
// dequeue of its own first value returned (FIFO order): a state records
// the largest such call among the blocks it has enqueued (blocks already
// gone can only have smaller ones) and refuses a block that would break
// it. And when a dequeue's result has one block's last value followed by
// another's first, the second must enter right after the first: a state
// refuses it anywhere else, and refuses anything else there. These two
// are what keep the number of states small in practice, since they settle
// the order of concurrent enqueues as soon as it is settled at all.
//
// Before the sweep, patterns of two or three operations that are never
// linearizable are looked for, in O(n log n), so that most violations are
// reported by the operations that make them: a value dequeued before its
// enqueue began, twice, or never enqueued; values of one enqueue leaving
// out of order; a dequeue returning values in an order their enqueues
// contradict; a value enqueued entirely before another and dequeued
// entirely after it (or never, while the other is); a dequeue returning
// empty or short while a value enqueued before it began stays in the
// queue until after it returned. Otherwise the report names the operation
// that no order explains and one state the queue could have been in.
//
// Cost. The sweep does O(w) work per call or return, where w is the number
// of states alive, each step O(log n) for the persistent queue contents
// (which share memory between states); memory is linear in the history.
// The checker first tries two guided sweeps, each keeping essentially one
// state: enqueues take effect only in one guessed order (a topological
// order of real time in which blocks go in the order their values were
// dequeued; or, second, at each return the pending enqueues whose values
// left earlier go first), and a dequeue that would leave part of a block
// behind is made only when it returns. A guided sweep that completes
// proves linearizability (every state it keeps is legal); histories from
// simulated runs are decided there in one pass. If neither completes, the
// full sweep decides; w then depends on how many operations overlap and
// how long their order stays open, and is exponential in the worst case
// (deciding linearizability in general is NP-complete). All passes count
// the states they build; past the budget (WorkPerOp per operation) the
// verdict is Undecided: a failure of its own kind, never a pass, and the
// same for the same history on any machine.
//
// # The pool checker
//
// PoolHistory.Check decides the pool specification one object at a time
// with the same sweep over (pending operations taken effect, holder),
// exhaustively: an object has few operations in flight. It counts states
// the same way.
//
// # Porcupine
//
// Porcupine (Model, Operations) stays as the second opinion: the tests
// compare both checkers on random and mutated histories, and an illegal
// history short enough is drawn with porcupine's visualisation (WriteHTML).
package linearizability

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"math"
	"os"
	"slices"
	"strings"
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
	// About heads the visualisation of a history that fails its check.
	About About
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
	kind, msg, _ = h.Violation()
	return kind, msg
}

// Violation is Conservation with the value the violation is about.
func (h *History) Violation() (kind, msg string, value uint64) {
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
				return DuplicatedValue, fmt.Sprintf("value %d dequeued twice: by client %d's %v and by client %d's %v", v, h.Ops[j].Client, h.Ops[j], o.Client, o), v
			}
			if _, ok := in[v]; !ok {
				return UnknownValue, fmt.Sprintf("value %d dequeued by client %d's %v was never enqueued", v, o.Client, o), v
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
				return LostValue, fmt.Sprintf("value %d enqueued by client %d's %v was lost: never dequeued, not in the queue at the end", v, o.Client, h.Ops[i]), v
			}
		}
	}
	return "", "", 0
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
		about := h.About
		if about.Spec == "" {
			about.Spec = spec.String()
		}
		if about.Results == "" {
			about.Results = "enqueue(v...) -> n enqueued n of its values, 0 when the queue was full; dequeue(n) -> [v...] took those values, [] when it found the queue empty."
		}
		r.visual = func(path string) error { return visualize(Model(spec, cap), h.Operations(), path, about) }
	}
	return r
}

// VisualMaxOps is the longest history WriteHTML draws: porcupine has to
// search the history again to draw it, and its search grows exponentially.
const VisualMaxOps = 200

// visualTimeout bounds porcupine's search for the drawing only; the
// verdict it illustrates is already decided.
const visualTimeout = 10 * time.Second

func visualize(m porcupine.Model, ops []porcupine.Operation, path string, about About) error {
	if len(ops) > VisualMaxOps {
		return fmt.Errorf("no visualisation: %d operations, more than porcupine draws (%d)", len(ops), VisualMaxOps)
	}
	res, info := porcupine.CheckOperationsVerbose(m, ops, visualTimeout)
	if res != porcupine.Illegal {
		return fmt.Errorf("no visualisation: porcupine's search did not finish")
	}
	var b bytes.Buffer
	if err := porcupine.Visualize(m, info, &b); err != nil {
		return err
	}
	page, err := about.head(b.String())
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(page), 0o644)
}

// About is what the head of a visualisation says of the history it
// draws, so that the page reads without the trace beside it.
type About struct {
	Title   string   // what ran: the scenario
	Spec    string   // the specification the history was checked against
	Clients []string // by client number: who made the calls ("task mpmc/0 on CPU0")
	Results string   // what an operation's result means
}

// Porcupine's page says a call's and a return's time; here times are
// steps (see callTime), and the page says the step instead.
const (
	porcupineTimes = "return '<br><br>Call: ' + callTime + '<br><br>Return: ' + returnTime"
	stepTimes      = "return '<br><br>Called after step ' + Math.floor(callTime / 2) + '<br><br>Returned at step ' + Math.floor(returnTime / 2)"
)

// head puts a's header on porcupine's page and makes its times steps.
func (a About) head(page string) (string, error) {
	if !strings.Contains(page, porcupineTimes) || !strings.Contains(page, "<body>") {
		return "", errors.New("no visualisation: porcupine's page is not the one this version knows")
	}
	page = strings.Replace(page, porcupineTimes, stepTimes, 1)
	title := "lfsim: a history that is not linearizable"
	if a.Title != "" {
		title = "lfsim: " + a.Title + ": a history that is not linearizable"
	}
	page = strings.Replace(page, "<title>Porcupine</title>", "<title>"+html.EscapeString(title)+"</title>", 1)
	var h strings.Builder
	h.WriteString(`<div style="font: 14px/1.4 sans-serif; padding: 48px 16px 8px; border-bottom: 1px solid #ccc">`)
	fmt.Fprintf(&h, "<h2 style=\"margin: 4px 0\">%s</h2>", html.EscapeString(strings.TrimPrefix(title, "lfsim: ")))
	if a.Spec != "" {
		fmt.Fprintf(&h, "<p>Checked against the <b>%s</b> specification: no order of these operations, each taking effect at one moment within its call, gives every result shown. The red line shows how far the longest partial order got.</p>", html.EscapeString(a.Spec))
	}
	if a.Results != "" {
		fmt.Fprintf(&h, "<p>%s</p>", html.EscapeString(a.Results))
	}
	if len(a.Clients) > 0 {
		h.WriteString("<p>Rows are clients:")
		for i, c := range a.Clients {
			fmt.Fprintf(&h, " %d = %s;", i, html.EscapeString(c))
		}
		h.WriteString(" hover over an operation for the steps of the trace between which it ran (simrun replay --trace=columns).</p>")
	}
	h.WriteString("</div>")
	return strings.Replace(page, "<body>", "<body>"+h.String(), 1), nil
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
	order := orderBy(len(calls), func(i int) int64 { return calls[i] })
	out := make([]bool, len(calls))
	maxRet := int64(math.MinInt64)
	for k, i := range order {
		out[i] = maxRet >= calls[i] || (k+1 < len(order) && calls[order[k+1]] <= rets[i])
		maxRet = max(maxRet, rets[i])
	}
	return out
}

// event is a call or a return of operation op (an index into the slices
// given to timeOrder).
type event struct {
	at  int64
	ret bool
	op  int32
}

// timeOrder lists the calls and returns of operations with the given
// intervals in time order; at equal times calls come first (they
// overlap), then by operation.
func timeOrder(calls, rets []int64) []event {
	n := len(calls)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range calls {
		lo, hi = min(lo, calls[i]), max(hi, rets[i])
	}
	evs := make([]event, 0, 2*n)
	if n < 1<<23 && hi-lo >= 0 && hi-lo < 1<<40 {
		// Packed into one word each, the sort needs no comparison calls.
		keys := make([]uint64, 0, 2*n)
		for i := range calls {
			keys = append(keys, uint64(calls[i]-lo)<<24|uint64(i), uint64(rets[i]-lo)<<24|1<<23|uint64(i))
		}
		slices.Sort(keys)
		for _, k := range keys {
			evs = append(evs, event{at: int64(k>>24) + lo, ret: k&(1<<23) != 0, op: int32(k & (1<<23 - 1))})
		}
		return evs
	}
	for i := range calls {
		evs = append(evs, event{at: calls[i], op: int32(i)}, event{at: rets[i], ret: true, op: int32(i)})
	}
	slices.SortFunc(evs, func(a, b event) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		if a.ret != b.ret {
			if a.ret {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.op, b.op)
	})
	return evs
}

// orderBy returns 0..n-1 sorted by key, then by index. Keys within 2^40 of
// each other are packed with the index into one word, so the sort needs
// no comparison calls.
func orderBy(n int, key func(i int) int64) []int {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range n {
		lo, hi = min(lo, key(i)), max(hi, key(i))
	}
	order := make([]int, n)
	if n < 1<<24 && hi-lo >= 0 && hi-lo < 1<<40 {
		packed := make([]uint64, n)
		for i := range n {
			packed[i] = uint64(key(i)-lo)<<24 | uint64(i)
		}
		slices.Sort(packed)
		for k, w := range packed {
			order[k] = int(w & (1<<24 - 1))
		}
		return order
	}
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a, b)) })
	return order
}
