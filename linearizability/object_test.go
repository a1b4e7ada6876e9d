package linearizability

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/sim"
)

// stackOp is an operation on a stack of integers: a push of V, or a pop
// that returns V (OK false: it found the stack empty).
type stackOp struct {
	Push bool
	V    int
}

type stackOut struct {
	V  int
	OK bool
}

// stackModel is a user's sequential stack. Its state is a string so that
// states compare with ==; a slice state works too (Equal falls back to
// reflect.DeepEqual).
func stackModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return []int(nil) },
		Step: func(state, input, output any) (bool, any) {
			st, in := state.([]int), input.(stackOp)
			out, _ := output.(stackOut) // a push returns nothing
			if in.Push {
				return true, append(slices.Clone(st), in.V)
			}
			if len(st) == 0 {
				return !out.OK, st
			}
			return out.OK && out.V == st[len(st)-1], st[:len(st)-1]
		},
		DescribeOperation: func(input, output any) string {
			if in := input.(stackOp); in.Push {
				return fmt.Sprintf("push(%d)", in.V)
			}
			if out, _ := output.(stackOut); out.OK {
				return fmt.Sprintf("pop() -> %d", out.V)
			}
			return "pop() -> empty"
		},
	}
}

// registerModel is a read/write register of integers.
func registerModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return 0 },
		Step: func(state, input, output any) (bool, any) {
			in := input.([2]int) // {0, v}: write v; {1, 0}: read
			if in[0] == 0 {
				return true, in[1]
			}
			return output.(int) == state.(int), state
		},
	}
}

func op(client int, in, out any, call, ret int64) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
}

func push(v int) stackOp { return stackOp{Push: true, V: v} }
func pop() stackOp       { return stackOp{} }
func got(v int) stackOut { return stackOut{V: v, OK: true} }
func check(ops ...porcupine.Operation) Result {
	h := ObjectHistory{Ops: ops}
	return h.Check(ObjectCheck{Model: stackModel()})
}

func TestObjectCheckStack(t *testing.T) {
	// Two overlapping pushes; a later pop may see either on top.
	ok := check(op(0, push(1), nil, 1, 10), op(1, push(2), nil, 3, 8), op(0, pop(), got(1), 11, 14), op(1, pop(), got(2), 12, 16))
	assert.Equal(t, Ok, ok.Verdict)
	// LIFO order broken: 1 pushed, then 2, both returned before the pops.
	bad := check(op(0, push(1), nil, 1, 2), op(0, push(2), nil, 3, 4), op(1, pop(), got(1), 5, 6))
	require.Equal(t, Illegal, bad.Verdict)
	assert.Equal(t, []int{2}, bad.Ops, "the pop is the operation no order can place")
	assert.Contains(t, bad.Reason, "pop() -> 1 by client 1")
	// A value popped twice.
	twice := check(op(0, push(7), nil, 1, 2), op(1, pop(), got(7), 3, 4), op(2, pop(), got(7), 5, 6))
	assert.Equal(t, Illegal, twice.Verdict)
	// An empty pop while the stack cannot be empty.
	empty := check(op(0, push(7), nil, 1, 2), op(1, pop(), stackOut{}, 3, 4))
	assert.Equal(t, Illegal, empty.Verdict)
}

// Operations marked free need no justification: a try-pop that may fail
// spuriously makes this history linearizable, which it is not otherwise.
func TestObjectCheckFreeOperations(t *testing.T) {
	h := ObjectHistory{Ops: []porcupine.Operation{op(0, push(7), nil, 1, 2), op(1, pop(), stackOut{}, 3, 4), op(1, pop(), got(7), 5, 6)}}
	assert.Equal(t, Illegal, h.Check(ObjectCheck{Model: stackModel()}).Verdict)
	spurious := func(input, output any) bool { return !input.(stackOp).Push && !output.(stackOut).OK }
	r := h.Check(ObjectCheck{Model: stackModel(), Free: spurious})
	assert.Equal(t, Ok, r.Verdict)
}

// A budget too small to decide gives Undecided, never a pass, and the
// failure an end-of-run check returns says so.
func TestObjectCheckBudget(t *testing.T) {
	var ops []porcupine.Operation
	for i := range 6 { // six concurrent pushes: many orders
		ops = append(ops, op(i, push(i), nil, 1+2*int64(i), 100))
	}
	ops = append(ops, op(0, pop(), got(99), 101, 102))
	h := ObjectHistory{Ops: ops}
	r := h.Check(ObjectCheck{Model: stackModel(), Budget: 10})
	assert.Equal(t, Undecided, r.Verdict)
	f := r.Failure("the stack")
	require.NotNil(t, f)
	assert.Equal(t, KindUndecided, f.Kind)
	assert.Equal(t, Illegal, h.Check(ObjectCheck{Model: stackModel()}).Verdict, "with the default budget it decides")
	assert.Nil(t, Result{Verdict: Ok}.Failure("x"))
	f = check(op(0, push(1), nil, 1, 2), op(1, pop(), got(2), 3, 4)).Failure("the stack")
	require.NotNil(t, f)
	assert.Equal(t, KindNotLinearizable, f.Kind)
	assert.NotNil(t, f.Attach, "an illegal history can be drawn")
}

// Recording on the machine: two CPUs push and pop a stack guarded by a
// spinlock; the recorded history passes the user's model.
func TestObjectHistoryRecordsOnTheMachine(t *testing.T) {
	for seed := range uint64(50) {
		m, err := sim.New(sim.Config{CPUs: 2})
		require.NoError(t, err)
		var h ObjectHistory
		lock := m.NewSpinlock("lock")
		var stack []int
		for cpu := range 2 {
			m.Go(fmt.Sprintf("t%d", cpu), cpu, func(c *sim.Ctx) {
				h.Record(c, cpu, push(cpu+1), func() any {
					c.SpinLock(lock)
					stack = append(stack, cpu+1)
					c.SpinUnlock(lock)
					return nil
				})
				h.Record(c, cpu, pop(), func() any {
					c.SpinLock(lock)
					defer c.SpinUnlock(lock)
					v := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					return got(v)
				})
			})
		}
		r := m.Run(sim.NewRandom(seed))
		require.Nil(t, r.Failure)
		require.Len(t, h.Ops, 4)
		assert.Equal(t, Ok, h.Check(ObjectCheck{Model: stackModel()}).Verdict)
	}
}

// On random small histories of a register and of a stack, the object
// check and porcupine agree.
func TestObjectCheckAgreesWithPorcupine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 7).Draw(t, "n")
		stack := rapid.Bool().Draw(t, "stack")
		var ops []porcupine.Operation
		for i := range n {
			call := rapid.Int64Range(0, 40).Draw(t, "call")*2 + 1
			ret := call + 1 + 2*rapid.Int64Range(0, 10).Draw(t, "len")
			var in, out any
			v := rapid.IntRange(0, 2).Draw(t, "v")
			switch {
			case stack && rapid.Bool().Draw(t, "push"):
				in = push(v)
			case stack:
				in, out = pop(), stackOut{V: v, OK: rapid.Bool().Draw(t, "ok")}
				if !out.(stackOut).OK {
					out = stackOut{}
				}
			case rapid.Bool().Draw(t, "write"):
				in = [2]int{0, v}
			default:
				in, out = [2]int{1, 0}, v
			}
			ops = append(ops, op(i%3, in, out, call, ret))
		}
		m := registerModel()
		if stack {
			m = stackModel()
			m.Equal = func(a, b any) bool { return slices.Equal(a.([]int), b.([]int)) }
		}
		h := ObjectHistory{Ops: ops}
		ours := h.Check(ObjectCheck{Model: m})
		theirs := porcupine.CheckOperationsTimeout(m, ops, 10*time.Second)
		require.NotEqual(t, porcupine.Unknown, theirs)
		require.NotEqual(t, Undecided, ours.Verdict)
		assert.Equal(t, theirs == porcupine.Ok, ours.Verdict == Ok, "%v", ops)
	})
}
