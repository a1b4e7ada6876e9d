package litmus

import (
	"fmt"
	"slices"
	"strings"
)

// rel is a relation over an execution's events, as an adjacency matrix.
type rel [][]bool

func newRel(n int) rel {
	r := make(rel, n)
	for i := range r {
		r[i] = make([]bool, n)
	}
	return r
}

func (r rel) union(o rel) rel {
	for i := range r {
		for j := range r[i] {
			r[i][j] = r[i][j] || o[i][j]
		}
	}
	return r
}

// cycle returns a cycle of r as event indices, or nil.
func (r rel) cycle() []int {
	n := len(r)
	state := make([]uint8, n) // 0 new, 1 on the stack, 2 done
	var stack []int
	var found []int
	var visit func(int) bool
	visit = func(i int) bool {
		state[i] = 1
		stack = append(stack, i)
		for j := range n {
			if !r[i][j] {
				continue
			}
			if state[j] == 1 {
				for k := len(stack) - 1; k >= 0; k-- {
					if stack[k] == j {
						found = append([]int(nil), stack[k:]...)
						return true
					}
				}
			}
			if state[j] == 0 && visit(j) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = 2
		return false
	}
	for i := range n {
		if state[i] == 0 && visit(i) {
			return found
		}
	}
	return nil
}

// Base relations of an execution.

func (x *Execution) memory(i int) bool { return x.Events[i].Kind != Fence }

// po is program order: same thread, earlier index.
func (x *Execution) po() rel {
	r := newRel(len(x.Events))
	for i, a := range x.Events {
		for j, b := range x.Events {
			r[i][j] = a.Thread >= 0 && a.Thread == b.Thread && a.Index < b.Index
		}
	}
	return r
}

func (x *Execution) rf() rel {
	r := newRel(len(x.Events))
	for i, w := range x.RF {
		if w >= 0 {
			r[w][i] = true
		}
	}
	return r
}

func (x *Execution) co() rel {
	r := newRel(len(x.Events))
	for _, ws := range x.CO {
		for a := range ws {
			for b := a + 1; b < len(ws); b++ {
				r[ws[a]][ws[b]] = true
			}
		}
	}
	return r
}

// fr is from-reads: a read is before every write co-after the one it read.
func (x *Execution) fr() rel {
	r := newRel(len(x.Events))
	for i, w := range x.RF {
		if w < 0 {
			continue
		}
		for _, later := range x.CO[x.Events[w].Loc][x.coPos[w]+1:] {
			r[i][later] = true
		}
	}
	return r
}

// external keeps the pairs of r between different threads.
func (x *Execution) external(r rel) rel {
	out := newRel(len(r))
	for i := range r {
		for j := range r[i] {
			out[i][j] = r[i][j] && x.Events[i].Thread != x.Events[j].Thread
		}
	}
	return out
}

// atomicity: an RMW's write comes right after, in co, the write its read
// read from (nothing slips between them).
func (x *Execution) atomicity() string {
	for i, e := range x.Events {
		if e.Kind != Read || e.RMW < 0 {
			continue
		}
		w, src := e.RMW, x.RF[i]
		if x.Events[src].Loc != x.Events[w].Loc || x.coPos[w] != x.coPos[src]+1 {
			return fmt.Sprintf("atomicity: a write comes between %s and %s", x.p.describe(x.Events[src]), x.p.describe(x.Events[w]))
		}
	}
	return ""
}

// coherence: each variable's accesses are sequentially consistent
// (acyclic po-loc | rf | co | fr), which every model here keeps.
func (x *Execution) coherence() string {
	po, n := x.po(), len(x.Events)
	r := newRel(n)
	for i := range n {
		for j := range n {
			r[i][j] = po[i][j] && x.memory(i) && x.memory(j) && x.Events[i].Loc == x.Events[j].Loc
		}
	}
	r.union(x.rf()).union(x.co()).union(x.fr())
	if c := r.cycle(); c != nil {
		return "coherence cycle: " + x.describeCycle(c)
	}
	return ""
}

// describeCycle writes a cycle as its events joined by the relation that
// links each to the next: "P0:W x=1 -po-> P0:W y=1 -rfe-> P1:R y=1 ...".
func (x *Execution) describeCycle(c []int) string { return x.describeCycleOf(c, "prop") }

// describeCycleOf is describeCycle for a cycle of a derived relation,
// named derived where no base relation links two events.
func (x *Execution) describeCycleOf(c []int, derived string) string {
	var b strings.Builder
	for k, i := range c {
		j := c[(k+1)%len(c)]
		rel := x.edge(i, j)
		if rel == "prop" {
			rel = derived
		}
		fmt.Fprintf(&b, "%s -%s-> ", x.p.describe(x.Events[i]), rel)
	}
	b.WriteString(x.p.describe(x.Events[c[0]]))
	return b.String()
}

// edge names the base relation from event i to event j: rf, co or fr
// (with e for between threads, i within one), po with what orders it (a
// dependency, a fence, an acquire or a release), or, for a link that only
// a model's derived relation makes, "prop".
func (x *Execution) edge(i, j int) string {
	a, b := x.Events[i], x.Events[j]
	side := "i"
	if a.Thread != b.Thread {
		side = "e"
	}
	switch {
	case x.RF[j] == i:
		return "rf" + side
	case a.Kind == Write && b.Kind == Write && a.Loc == b.Loc && x.coPos[i] < x.coPos[j]:
		return "co" + side
	case a.Kind == Read && b.Kind == Write && a.Loc == b.Loc && x.RF[i] >= 0 && x.coPos[x.RF[i]] < x.coPos[j]:
		return "fr" + side
	case a.Thread < 0 || a.Thread != b.Thread || a.Index >= b.Index:
		return "prop"
	}
	for _, d := range []struct {
		name string
		deps []int
	}{{"addr", b.Addr}, {"data", b.Data}, {"ctrl", b.Ctrl}} {
		if slices.Contains(d.deps, a.Index) {
			return "po:" + d.name
		}
	}
	for _, e := range x.Events {
		// barrier() orders nothing at the CPU.
		if e.Kind == Fence && e.Ann != "barrier" && e.Thread == a.Thread && e.Index > a.Index && e.Index < b.Index {
			return "po:" + e.Op
		}
	}
	switch {
	case a.Ann == "acquire" || a.Ann == "lock":
		return "po:" + a.Op
	case b.Ann == "release" || b.Ann == "unlock":
		return "po:" + b.Op
	}
	return "po"
}

// SC is sequential consistency: one order of every access, each read
// returning the latest write before it.
type SC struct{}

func (SC) Name() string { return "sc" }

// Check implements Model: acyclic(po | rf | co | fr), and atomicity.
func (SC) Check(x *Execution) string {
	if why := x.atomicity(); why != "" {
		return why
	}
	po, n := x.po(), len(x.Events)
	r := newRel(n)
	for i := range n {
		for j := range n {
			r[i][j] = po[i][j] && x.memory(i) && x.memory(j)
		}
	}
	r.union(x.rf()).union(x.co()).union(x.fr())
	if c := r.cycle(); c != nil {
		return "sc cycle: " + x.describeCycle(c)
	}
	return ""
}

// TSO is x86-TSO under the kernel's x86 mapping: READ_ONCE, WRITE_ONCE,
// acquire loads and release stores are plain moves; smp_rmb, smp_wmb and
// the smp_mb__*() helpers compile to nothing; smp_mb is MFENCE; every
// atomic read-modify-write (failed cmpxchg and void atomics included) and
// spin_lock is a LOCK-prefixed instruction, a full fence; spin_unlock is a
// plain store. A failed spin_trylock or atomic_add_unless is a plain load:
// x86 reads the value first and gives up without a locked instruction when
// it sees the lock held or the value excluded (queued_spin_trylock, the
// try_cmpxchg loop of atomic_fetch_add_unless).
type TSO struct{}

func (TSO) Name() string { return "tso" }

// locked reports whether event i belongs to a LOCK-prefixed instruction.
func (x *Execution) locked(i int) bool {
	e := x.Events[i]
	if e.Thread < 0 {
		return false
	}
	if e.Failed {
		return strings.Contains(e.Op, "cmpxchg")
	}
	return e.RMW >= 0
}

// Check implements Model: per-variable coherence, atomicity, and
// acyclic(ppo | rfe | co | fr), where ppo is program order between
// accesses except a store before a load with no full fence between.
func (TSO) Check(x *Execution) string {
	if why := x.atomicity(); why != "" {
		return why
	}
	if why := x.coherence(); why != "" {
		return why
	}
	n := len(x.Events)
	po := x.po()
	ghb := newRel(n)
	for i := range n {
		for j := range n {
			if !po[i][j] || !x.memory(i) || !x.memory(j) {
				continue
			}
			if x.Events[i].Kind == Write && x.Events[j].Kind == Read && !x.locked(i) && !x.locked(j) && !x.fencedBetween(i, j) {
				continue // the store may wait in the store buffer
			}
			ghb[i][j] = true
		}
	}
	ghb.union(x.external(x.rf())).union(x.co()).union(x.fr())
	if c := ghb.cycle(); c != nil {
		return "tso cycle: " + x.describeCycle(c)
	}
	return ""
}

// fencedBetween reports whether a full fence (smp_mb, or a locked
// instruction) comes between events i and j of one thread.
func (x *Execution) fencedBetween(i, j int) bool {
	a, b := x.Events[i], x.Events[j]
	for k, e := range x.Events {
		if e.Thread != a.Thread || e.Index <= a.Index || e.Index >= b.Index {
			continue
		}
		if (e.Kind == Fence && e.Ann == "mb") || x.locked(k) {
			return true
		}
	}
	return false
}
