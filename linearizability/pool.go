package linearizability

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/sim"
)

// PoolOp is one recorded alloc or free. Holder numbers who holds the
// object (a packet, say), from 1; it need not be the context that calls.
type PoolOp struct {
	Alloc        bool
	Holder       int
	Obj          uint64 // 0: the allocation failed
	Call, Return int64
}

func (o PoolOp) String() string {
	if o.Alloc {
		return fmt.Sprintf("alloc for %d -> #%d", o.Holder, o.Obj)
	}
	return fmt.Sprintf("free #%d by %d", o.Obj, o.Holder)
}

// PoolHistory collects pool operations as simulated code makes them.
type PoolHistory struct {
	Ops []PoolOp
}

// Alloc records an allocation for holder made by do.
func (h *PoolHistory) Alloc(c *sim.Ctx, holder int, do func() uint64) uint64 {
	call := callTime(c)
	obj := do()
	h.Ops = append(h.Ops, PoolOp{Alloc: true, Holder: holder, Obj: obj, Call: call, Return: returnTime(c)})
	return obj
}

// Free records holder's free of obj made by do.
func (h *PoolHistory) Free(c *sim.Ctx, holder int, obj uint64, do func()) {
	call := callTime(c)
	do()
	h.Ops = append(h.Ops, PoolOp{Holder: holder, Obj: obj, Call: call, Return: returnTime(c)})
}

// PoolModel is the porcupine model of the pool specification (package
// model), partitioned by object.
func PoolModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			var parts [][]porcupine.Operation
			index := map[uint64]int{}
			for _, op := range history {
				obj := op.Input.(PoolOp).Obj
				i, ok := index[obj]
				if !ok {
					i = len(parts)
					index[obj] = i
					parts = append(parts, nil)
				}
				parts[i] = append(parts[i], op)
			}
			return parts
		},
		Init: func() any { return model.Nobody },
		Step: func(state, in, _ any) (bool, any) {
			op := in.(PoolOp)
			if op.Alloc {
				return model.StepAlloc(state.(int), op.Holder)
			}
			return model.StepFree(state.(int), op.Holder)
		},
		Hash:              func(state any) uint64 { return uint64(state.(int)) },
		DescribeOperation: func(in, _ any) string { return in.(PoolOp).String() },
		DescribeState:     func(state any) string { return fmt.Sprintf("held by %d", state.(int)) },
	}
}

// Check checks the history against the pool specification. Failed
// allocations take no object and are left out.
func (h *PoolHistory) Check(timeout time.Duration) Result {
	var ops []porcupine.Operation
	for _, o := range h.Ops {
		if o.Obj != 0 {
			ops = append(ops, porcupine.Operation{ClientId: o.Holder, Input: o, Call: o.Call, Return: o.Return})
		}
	}
	return check(PoolModel(), ops, timeout)
}
