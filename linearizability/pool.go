package linearizability

import (
	"fmt"
	"slices"

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
	// About heads the visualisation of a history that fails its check.
	About About
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

// PoolWorkPerOp is the pool check's work budget per operation: CheckWork
// with PoolWorkPerOp x (operations + 1024) candidate states.
const PoolWorkPerOp = 1024

// Check checks the history against the pool specification with the
// default work budget. Failed allocations take no object and are left out.
func (h *PoolHistory) Check() Result {
	return h.CheckWork(PoolWorkPerOp * int64(len(h.Ops)+1024))
}

// CheckWork checks the history one object at a time. For each object it
// walks the calls and returns in time order, keeping every distinct state
// (which of the object's pending operations have taken effect, and who
// holds it) some order of its operations so far can reach: exact, and
// small, since an object has few operations in flight at once. Past budget
// candidate states the verdict is Undecided.
func (h *PoolHistory) CheckWork(budget int64) Result {
	var objs []uint64
	byObj := map[uint64][]int{}
	for i, o := range h.Ops {
		if o.Obj == 0 {
			continue
		}
		if _, seen := byObj[o.Obj]; !seen {
			objs = append(objs, o.Obj)
		}
		byObj[o.Obj] = append(byObj[o.Obj], i)
	}
	p := &poolChecker{h: h, budget: budget}
	for _, obj := range objs {
		if r, ok := p.object(byObj[obj]); !ok {
			if r.Verdict == Illegal {
				r.visual = h.visualize
			}
			r.Work = p.work
			return r
		}
	}
	return Result{Verdict: Ok, Work: p.work}
}

func (h *PoolHistory) visualize(path string) error {
	var ops []porcupine.Operation
	for _, o := range h.Ops {
		if o.Obj != 0 {
			ops = append(ops, porcupine.Operation{ClientId: o.Holder, Input: o, Call: o.Call, Return: o.Return})
		}
	}
	return visualize(PoolModel(), ops, path, h.About)
}

type poolConf struct {
	mask   [maskWords]uint64
	holder int
}

type poolChecker struct {
	h            *PoolHistory
	work, budget int64
}

func (p *poolChecker) describe(i int) string {
	o := p.h.Ops[i]
	return fmt.Sprintf("%s (%s)", o, steps(o.Call, o.Return))
}

// object checks the operations (indices into the history) of one object.
func (p *poolChecker) object(ops []int) (Result, bool) {
	calls, rets := make([]int64, len(ops)), make([]int64, len(ops))
	for k, i := range ops {
		o := p.h.Ops[i]
		if o.Return < o.Call {
			return Result{Verdict: Undecided, Reason: fmt.Sprintf("%s returns before it is called", p.describe(i))}, false
		}
		calls[k], rets[k] = o.Call, o.Return
	}
	evs := timeOrder(calls, rets)
	slot := map[int]int{}
	var free []int
	for i := maskWords*64 - 1; i >= 0; i-- {
		free = append(free, i)
	}
	var pend []int
	gen := []poolConf{{holder: model.Nobody}}
	seen := map[poolConf]bool{}
	done := func(c poolConf, i int) bool { s := slot[i]; return c.mask[s/64]&(1<<(s%64)) != 0 }
	for _, e := range evs {
		op := ops[e.op]
		if !e.ret {
			if len(free) == 0 {
				return Result{Verdict: Undecided, Reason: fmt.Sprintf("more than %d operations on one object in flight at once", maskWords*64)}, false
			}
			slot[op] = free[len(free)-1]
			free = free[:len(free)-1]
			pend = append(pend, op)
		}
		clear(seen)
		for _, c := range gen {
			seen[c] = true
		}
		for k := 0; k < len(gen); k++ {
			c := gen[k]
			for _, i := range pend {
				if done(c, i) {
					continue
				}
				o := p.h.Ops[i]
				step := model.StepFree
				if o.Alloc {
					step = model.StepAlloc
				}
				ok, next := step(c.holder, o.Holder)
				if !ok {
					continue
				}
				p.work++
				if p.work > p.budget {
					return Result{Verdict: Undecided, Reason: fmt.Sprintf("the pool check spent its budget of %d candidate states (%d operations)", p.budget, len(p.h.Ops))}, false
				}
				nc := poolConf{mask: c.mask, holder: next}
				s := slot[i]
				nc.mask[s/64] |= 1 << (s % 64)
				if !seen[nc] {
					seen[nc] = true
					gen = append(gen, nc)
				}
			}
		}
		if !e.ret {
			continue
		}
		before := gen[0]
		s := slot[op]
		kept := gen[:0]
		clear(seen)
		for _, c := range gen {
			if !done(c, op) {
				continue
			}
			c.mask[s/64] &^= 1 << (s % 64)
			if !seen[c] {
				seen[c] = true
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			held := "nobody"
			if before.holder != model.Nobody {
				held = fmt.Sprintf("holder %d", before.holder)
			}
			return illegal([]int{op}, "%s cannot take effect in any order of the object's operations (one state possible just before it returned: held by %s): an object held by two holders, or freed by one that does not hold it",
				p.describe(op), held), false
		}
		gen = kept
		free = append(free, s)
		pend = slices.DeleteFunc(pend, func(i int) bool { return i == op })
	}
	return Result{}, true
}
