package linearizability

import (
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/kernelsim/lfsim/sim"
)

// Failure kinds of a linearizability check.
const (
	KindNotLinearizable = "not-linearizable"
	// KindUndecided: the check spent its work budget, neither a pass
	// nor a failure.
	KindUndecided = "linearizability-undecided"
)

// ObjectHistory records the operations of a user's own object (a stack, a
// set, a register) as simulated code makes them, for a check against the
// user's sequential model. Inputs and outputs are whatever the model's
// Step takes.
type ObjectHistory struct {
	Ops []porcupine.Operation
	// About heads the visualisation of a history that fails its check.
	About About
}

// Record runs do as one operation of client with the given input, records
// its call before and its return after, and returns do's output.
func (h *ObjectHistory) Record(c *sim.Ctx, client int, input any, do func() any) any {
	call := callTime(c)
	out := do()
	h.Ops = append(h.Ops, porcupine.Operation{ClientId: client, Input: input, Call: call, Output: out, Return: returnTime(c)})
	return out
}

// ObjectWorkPerOp is the default budget of an object check, in states
// visited per operation.
const ObjectWorkPerOp = 4096

// ObjectCheck is a check of an object history against a sequential model.
type ObjectCheck struct {
	// Model is the sequential specification, as porcupine states it:
	// Init, Step, and Equal (when nil, states whose %#v representations
	// are equal are equal) with Hash to speed it up; Partition when
	// set splits the history into independent parts; DescribeOperation
	// names operations in reports.
	Model porcupine.Model
	// Free, when set, marks the operations whose result needs no
	// justification: an operation the specification allows to fail
	// whatever the state (a try-pop that may fail spuriously, a refused
	// push). Such an operation must change no state; it is left out of
	// the search, which loses nothing: being legal in every state and
	// changing none, it fits at any point of its call in any order of
	// the others.
	Free func(input, output any) bool
	// Budget bounds the states the search visits; past it the verdict is
	// Undecided. Zero means ObjectWorkPerOp per operation.
	Budget int64
}

// Check decides whether the history is linearizable against c's model.
// The search is exact: it looks for an order of the operations that
// respects real time (an operation that returned before another was
// called comes first) and in which every output is the model's, visiting
// each pair (operations placed, model state) once. The same history and
// budget always give the same result.
func (h *ObjectHistory) Check(c ObjectCheck) Result {
	if c.Model.Init == nil || c.Model.Step == nil {
		return Result{Verdict: Undecided, Reason: "the model has no Init or Step function"}
	}
	budget := c.Budget
	if budget == 0 {
		budget = ObjectWorkPerOp * int64(len(h.Ops)+16)
	}
	var ops []porcupine.Operation
	for _, op := range h.Ops {
		if c.Free == nil || !c.Free(op.Input, op.Output) {
			ops = append(ops, op)
		}
	}
	parts := [][]porcupine.Operation{ops}
	if c.Model.Partition != nil {
		parts = c.Model.Partition(ops)
	}
	var work int64
	for _, part := range parts {
		s := objectSearch{m: c.Model, ops: slices.Clone(part), budget: budget - work}
		r := s.run()
		work += r.Work
		r.Work = work
		if r.Verdict == Ok {
			continue
		}
		// Name the operations by their place in the whole history.
		for k, i := range r.Ops {
			r.Ops[k] = slices.IndexFunc(h.Ops, func(o porcupine.Operation) bool { return sameOp(o, s.ops[i]) })
		}
		if r.Verdict == Illegal {
			r.visual = func(path string) error { return visualize(c.Model, ops, path, h.About) }
		}
		return r
	}
	return Result{Verdict: Ok, Work: work}
}

func sameOp(a, b porcupine.Operation) bool {
	return a.ClientId == b.ClientId && a.Call == b.Call && a.Return == b.Return
}

// Failure is the verdict as the failure an end-of-run check returns: nil
// for a linearizable history, a not-linearizable failure naming the
// operation no order can place, or an undecided one (never a pass). what
// names the object in the message.
func (r Result) Failure(what string) *sim.Failure {
	switch r.Verdict {
	case Ok:
		return nil
	case Illegal:
		f := sim.Failf(KindNotLinearizable, "the history of %s is not linearizable: %s", what, r.Reason)
		if r.visual != nil {
			f.Attach = r.WriteHTML
		}
		return f
	}
	return sim.Failf(KindUndecided, "%s: %s", what, r.Reason)
}

// objectSearch is a depth-first search over the orders of ops.
type objectSearch struct {
	m      porcupine.Model
	ops    []porcupine.Operation
	budget int64
	work   int64
	seen   map[string][]any // operations placed -> model states reached
	// deepest is the most operations placed in any order tried, and
	// blocked the operation that stopped that order: the report's subject.
	deepest int
	blocked int
	state   any
}

func (s *objectSearch) run() Result {
	n := len(s.ops)
	// In call order, so the search tries operations as they began.
	slices.SortStableFunc(s.ops, func(a, b porcupine.Operation) int { return cmpInt64(a.Call, b.Call) })
	s.seen = map[string][]any{}
	s.blocked = -1
	placed := make([]uint64, (n+63)/64)
	ok, out := s.place(placed, 0, s.m.Init())
	switch {
	case ok:
		return Result{Verdict: Ok, Work: s.work}
	case out:
		return Result{Verdict: Undecided, Work: s.work,
			Reason: fmt.Sprintf("the search spent its budget of %d states on %d operations without deciding", s.budget, n)}
	}
	i := s.blocked
	op := s.ops[i]
	return Result{Verdict: Illegal, Work: s.work, Ops: []int{i},
		Reason: fmt.Sprintf("%s by client %d (steps %d-%d): no order of the operations that must come before it lets it return that (one state possible just before it: %s)",
			s.describeOp(op), op.ClientId, (op.Call-1)/2, op.Return/2, s.describeState(s.state))}
}

// place extends an order of the operations marked in placed, which left
// the model in state, by every operation that may come next; it reports
// whether some order places them all, and whether the budget ran out.
func (s *objectSearch) place(placed []uint64, count int, state any) (ok, out bool) {
	n := len(s.ops)
	if count == n {
		return true, false
	}
	key := bitsKey(placed) + s.stateKey(state)
	for _, old := range s.seen[key] {
		if s.m.Equal == nil || s.m.Equal(old, state) {
			return false, false
		}
	}
	s.seen[key] = append(s.seen[key], state)
	s.work++
	if s.work > s.budget {
		return false, true
	}
	// An operation may come next when no operation still to place
	// returned before it was called.
	first := int64(-1)
	firstOp := -1
	for i := range n {
		if placed[i/64]&(1<<(i%64)) == 0 && (first < 0 || s.ops[i].Return < first) {
			first, firstOp = s.ops[i].Return, i
		}
	}
	if count >= s.deepest {
		s.deepest, s.blocked, s.state = count, firstOp, state
	}
	for i := range n {
		if placed[i/64]&(1<<(i%64)) != 0 || s.ops[i].Call > first {
			continue
		}
		legal, next := s.m.Step(state, s.ops[i].Input, s.ops[i].Output)
		if !legal {
			continue
		}
		placed[i/64] |= 1 << (i % 64)
		ok, out := s.place(placed, count+1, next)
		placed[i/64] &^= 1 << (i % 64)
		if ok || out {
			return ok, out
		}
	}
	return false, false
}

// stateKey files a state for the memo: without Equal, states are equal
// when their Go syntax representation is (fmt prints map keys sorted, so
// it is deterministic); with Equal, states are filed by Hash, when given,
// and compared with Equal within.
func (s *objectSearch) stateKey(state any) string {
	switch {
	case s.m.Equal == nil:
		return fmt.Sprintf("|%#v", state)
	case s.m.Hash != nil:
		return fmt.Sprintf("|%x", s.m.Hash(state))
	}
	return ""
}

func (s *objectSearch) describeOp(op porcupine.Operation) string {
	if s.m.DescribeOperation != nil {
		return s.m.DescribeOperation(op.Input, op.Output)
	}
	return fmt.Sprintf("%v -> %v", op.Input, op.Output)
}

func (s *objectSearch) describeState(state any) string {
	if s.m.DescribeState != nil {
		return s.m.DescribeState(state)
	}
	return fmt.Sprintf("%v", state)
}

func bitsKey(bits []uint64) string {
	var b strings.Builder
	for _, w := range bits {
		for k := range 8 {
			b.WriteByte(byte(w >> (8 * k)))
		}
	}
	return b.String()
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
