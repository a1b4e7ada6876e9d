package litmus

import (
	"fmt"
	"slices"
	"strings"
)

// Value is what a register or a shared variable holds: an integer, or the
// address of a shared variable (see address).
type Value int64

// addressBase marks addresses: the address of shared variable i is
// addressBase+i, out of the way of the integers tests use.
const addressBase Value = 1 << 40

func address(loc int) Value { return addressBase + Value(loc) }

// EventKind is what an event does to memory.
type EventKind uint8

const (
	Read EventKind = iota
	Write
	Fence
)

// Event is one memory access or fence of a thread's path.
type Event struct {
	Thread int
	Index  int // position in the thread's program order
	Kind   EventKind
	Loc    int // shared variable (reads and writes)
	Val    Value
	// Op names what made the event, as the kernel API spells it
	// (READ_ONCE, smp_store_release, xchg_acquire, spin_lock, smp_mb, ...);
	// Ann is its ordering annotation: once, acquire, release, plain, mb,
	// wmb, rmb, before-atomic, after-atomic, after-spinlock, rcu-lock,
	// rcu-unlock, sync-rcu, lock, lock-failed (a failed trylock), unlock,
	// islocked (spin_is_locked), noreturn (a void atomic), srcu-lock,
	// srcu-unlock, sync-srcu, after-srcu-read-unlock, barrier.
	Op, Ann string
	// RMW pairs the read and the write of one atomic read-modify-write
	// (the index of the other, or -1); Failed marks the lone read of a
	// failed cmpxchg.
	RMW    int
	Failed bool
	// Addr, Data and Ctrl are the reads of the same thread this event
	// depends on, by index: through the address it accesses, the value it
	// writes, or a branch taken before it.
	Addr, Data, Ctrl []int
	Line             int
}

// path is one way a thread can run: its events in program order and its
// registers at the end.
type path struct {
	events []Event
	regs   map[string]Value
}

// program is a test ready to run: its shared variables by number.
type program struct {
	test   *Test
	vars   []string // shared variables, by number
	varIdx map[string]int
	init   []Value // each variable's initial value
	// regInit are the threads' registers given in the init block.
	regInit []map[string]Value
}

func newProgram(t *Test) (*program, error) {
	p := &program{test: t, varIdx: map[string]int{}, regInit: make([]map[string]Value, len(t.Procs))}
	addVar := func(name string) int {
		if i, ok := p.varIdx[name]; ok {
			return i
		}
		p.varIdx[name] = len(p.vars)
		p.vars = append(p.vars, name)
		p.init = append(p.init, 0)
		return len(p.vars) - 1
	}
	for _, pr := range t.Procs {
		for _, prm := range pr.Params {
			addVar(prm.Name)
		}
	}
	for _, in := range t.Init {
		if in.Proc < 0 {
			addVar(in.Name)
		}
	}
	for _, in := range t.Init {
		var v Value
		switch x := in.Value.(type) {
		case nil:
		case *Int:
			v = Value(x.Value)
		case *AddrOf:
			v = address(addVar(x.X.(*Ident).Name))
		}
		if in.Proc >= 0 {
			if in.Proc >= len(t.Procs) {
				return nil, errorf(in.Line, "register of thread %d, which the test does not have", in.Proc)
			}
			if p.regInit[in.Proc] == nil {
				p.regInit[in.Proc] = map[string]Value{}
			}
			p.regInit[in.Proc][in.Name] = v
			continue
		}
		p.init[p.varIdx[in.Name]] = v
	}
	// A spinlock starts unlocked whatever the init block gives it, as
	// herd7's lock.cat has it (its lock events ignore the lock's value).
	for _, pr := range t.Procs {
		walkCalls(pr.Body, func(c *Call) {
			if !strings.HasPrefix(c.Fun, "spin_") || len(c.Args) == 0 {
				return
			}
			if id, ok := c.Args[0].(*Ident); ok {
				if v, ok := p.varIdx[id.Name]; ok {
					p.init[v] = 0
				}
			}
		})
	}
	return p, nil
}

// show writes a value as a test's author would: an integer, or the name of
// the variable an address points to.
func (p *program) show(v Value) string {
	if v >= addressBase && int(v-addressBase) < len(p.vars) {
		return p.vars[v-addressBase]
	}
	return fmt.Sprint(int64(v))
}

// describe is an event in a cycle's explanation: "P0:W x=1".
func (p *program) describe(e *Event) string {
	if e.Thread < 0 {
		return fmt.Sprintf("init:W %s=%s", p.vars[e.Loc], p.show(e.Val))
	}
	switch e.Kind {
	case Read:
		return fmt.Sprintf("P%d:R %s=%s (%s)", e.Thread, p.vars[e.Loc], p.show(e.Val), e.Op)
	case Write:
		return fmt.Sprintf("P%d:W %s=%s (%s)", e.Thread, p.vars[e.Loc], p.show(e.Val), e.Op)
	}
	return fmt.Sprintf("P%d:F %s", e.Thread, e.Op)
}

func unionDeps(a, b []int) []int {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
