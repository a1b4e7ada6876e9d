package litmus

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Unsupported is the error of a test that parses but uses something the
// engine cannot judge exactly; such a test gets no verdict.
type Unsupported struct {
	Line int
	What string
}

func (u *Unsupported) Error() string { return fmt.Sprintf("line %d: unsupported: %s", u.Line, u.What) }

// maxPaths bounds the paths of one thread: a test past it is refused, not
// judged on part of its paths.
const maxPaths = 1 << 16

// rv is a register's value and the reads it came from.
type rv struct {
	v    Value
	deps []int
}

type tstate struct {
	regs   map[string]rv
	events []Event
	ctrl   []int
}

func (s *tstate) clone() *tstate {
	return &tstate{regs: maps.Clone(s.regs), events: slices.Clone(s.events), ctrl: s.ctrl}
}

// interp enumerates one thread's paths, each read returning each value
// it may read in a coherent execution (see read); the executions keep only
// the paths whose reads a write can justify.
type interp struct {
	p      *program
	thread int
	dom    [][]Value // by variable: the values other threads write to it
	paths  []path
	err    error
}

func (p *program) threadPaths(thread int, dom [][]Value) ([]path, error) {
	in := &interp{p: p, thread: thread, dom: dom}
	st := &tstate{regs: map[string]rv{}}
	for _, prm := range p.test.Procs[thread].Params {
		st.regs[prm.Name] = rv{v: address(p.varIdx[prm.Name])}
	}
	for name, v := range p.regInit[thread] {
		st.regs[name] = rv{v: v}
	}
	in.stmts(st, p.test.Procs[thread].Body, func(st *tstate) {
		regs := map[string]Value{}
		for name, r := range st.regs {
			regs[name] = r.v
		}
		for i := range st.events {
			st.events[i].Index = i
		}
		in.paths = append(in.paths, path{events: st.events, regs: regs})
		if len(in.paths) > maxPaths && in.err == nil {
			in.err = &Unsupported{Line: p.test.Procs[thread].Line, What: fmt.Sprintf("P%d has more than %d paths", thread, maxPaths)}
		}
	})
	return in.paths, in.err
}

func (in *interp) fail(line int, format string, args ...any) {
	if in.err == nil {
		in.err = &Unsupported{Line: line, What: fmt.Sprintf(format, args...)}
	}
}

func (in *interp) stmts(st *tstate, ss []Stmt, k func(*tstate)) {
	if in.err != nil {
		return
	}
	if len(ss) == 0 {
		k(st)
		return
	}
	in.stmt(st, ss[0], func(st *tstate) { in.stmts(st, ss[1:], k) })
}

func (in *interp) stmt(st *tstate, s Stmt, k func(*tstate)) {
	switch s := s.(type) {
	case *Decl:
		if s.Init == nil {
			st.regs[s.Name] = rv{}
			k(st)
			return
		}
		in.expr(st, s.Init, func(st *tstate, v Value, deps []int) {
			st.regs[s.Name] = rv{v, deps}
			k(st)
		})
	case *ExprStmt:
		in.expr(st, s.X, func(st *tstate, _ Value, _ []int) { k(st) })
	case *Assign:
		in.expr(st, s.RHS, func(st *tstate, v Value, deps []int) {
			switch l := s.LHS.(type) {
			case *Ident:
				st.regs[l.Name] = rv{v, deps}
				k(st)
			case *Deref:
				in.pointer(st, l.X, func(st *tstate, loc int, addr []int) {
					in.write(st, loc, v, addr, deps, "*p = v", "plain", s.Line)
					k(st)
				})
			}
		})
	case *If:
		in.expr(st, s.Cond, func(st *tstate, v Value, deps []int) {
			// A control dependency reaches every event after the branch,
			// inside it and after it, as herd's C semantics has it.
			st.ctrl = unionDeps(st.ctrl, deps)
			body := s.Else
			if v != 0 {
				body = s.Then
			}
			in.stmts(st, body, k)
		})
	default:
		in.fail(s.stmtLine(), "statement %T", s)
	}
}

// expr evaluates x and passes its value and the reads it depends on.
func (in *interp) expr(st *tstate, x Expr, k func(st *tstate, v Value, deps []int)) {
	if in.err != nil {
		return
	}
	switch x := x.(type) {
	case *Int:
		k(st, Value(x.Value), nil)
	case *Ident:
		if r, ok := st.regs[x.Name]; ok {
			k(st, r.v, r.deps)
			return
		}
		if i, ok := in.p.varIdx[x.Name]; ok {
			k(st, address(i), nil)
			return
		}
		in.fail(x.Line, "%s is neither a register nor a variable", x.Name)
	case *AddrOf:
		id, ok := x.X.(*Ident)
		if !ok {
			in.fail(x.Line, "& of something other than a shared variable")
			return
		}
		i, known := in.p.varIdx[id.Name]
		if !known {
			in.fail(x.Line, "& of something other than a shared variable")
			return
		}
		k(st, address(i), nil)
	case *Deref: // a plain load
		in.pointer(st, x.X, func(st *tstate, loc int, addr []int) {
			in.read(st, loc, addr, "*p", "plain", x.Line, k)
		})
	case *Unary:
		in.expr(st, x.X, func(st *tstate, v Value, deps []int) {
			switch x.Op {
			case "-":
				v = -v
			case "!":
				v = boolValue(v == 0)
			case "~":
				v = ^v
			}
			k(st, v, deps)
		})
	case *Binary:
		in.expr(st, x.X, func(st *tstate, a Value, da []int) {
			in.expr(st, x.Y, func(st *tstate, b Value, db []int) {
				v, ok := binary(x.Op, a, b)
				if !ok {
					in.fail(x.Line, "division by zero")
					return
				}
				k(st, v, unionDeps(da, db))
			})
		})
	case *Call:
		in.call(st, x, k)
	default:
		in.fail(x.exprLine(), "expression %T", x)
	}
}

func boolValue(b bool) Value {
	if b {
		return 1
	}
	return 0
}

func binary(op string, a, b Value) (Value, bool) {
	switch op {
	case "+":
		return a + b, true
	case "-":
		return a - b, true
	case "*":
		return a * b, true
	case "/", "%":
		if b == 0 {
			return 0, false
		}
		if op == "/" {
			return a / b, true
		}
		return a % b, true
	case "&":
		return a & b, true
	case "|":
		return a | b, true
	case "^":
		return a ^ b, true
	case "==":
		return boolValue(a == b), true
	case "!=":
		return boolValue(a != b), true
	case "<":
		return boolValue(a < b), true
	case "<=":
		return boolValue(a <= b), true
	case ">":
		return boolValue(a > b), true
	case ">=":
		return boolValue(a >= b), true
	case "&&":
		return boolValue(a != 0 && b != 0), true
	case "||":
		return boolValue(a != 0 || b != 0), true
	}
	return 0, false
}

// pointer evaluates x to the shared variable it points to, with the reads
// the address depends on. A path whose pointer holds no address is not an
// execution (no write could have made it one), so it ends there.
func (in *interp) pointer(st *tstate, x Expr, k func(st *tstate, loc int, addr []int)) {
	in.expr(st, x, func(st *tstate, v Value, deps []int) {
		if v < addressBase || int(v-addressBase) >= len(in.p.vars) {
			return
		}
		k(st, int(v-addressBase), deps)
	})
}

// read appends a read of loc and continues once for each value it may
// return in a coherent execution: the thread's own latest write to loc
// before it (a write of its own before that one, or the initial value,
// would be co-before it: po-loc ; fr a cycle), else the initial value;
// or a value another thread writes to loc.
func (in *interp) read(st *tstate, loc int, addr []int, op, ann string, line int, k func(st *tstate, v Value, deps []int)) {
	own := in.p.init[loc]
	for i := len(st.events) - 1; i >= 0; i-- {
		if e := st.events[i]; e.Kind == Write && e.Loc == loc {
			own = e.Val
			break
		}
	}
	vals := []Value{own}
	for _, v := range in.dom[loc] {
		if v != own {
			vals = append(vals, v)
		}
	}
	for _, v := range vals {
		s := st.clone()
		i := len(s.events)
		s.events = append(s.events, Event{Thread: in.thread, Kind: Read, Loc: loc, Val: v, Op: op, Ann: ann, RMW: -1, Addr: addr, Ctrl: s.ctrl, Line: line})
		k(s, v, []int{i})
		if in.err != nil {
			return
		}
	}
}

func (in *interp) write(st *tstate, loc int, v Value, addr, data []int, op, ann string, line int) {
	st.events = append(st.events, Event{Thread: in.thread, Kind: Write, Loc: loc, Val: v, Op: op, Ann: ann, RMW: -1, Addr: addr, Data: data, Ctrl: st.ctrl, Line: line})
}

func (in *interp) fence(st *tstate, op, ann string, line int) {
	st.events = append(st.events, Event{Thread: in.thread, Kind: Fence, Op: op, Ann: ann, RMW: -1, Ctrl: st.ctrl, Line: line})
}

// rmw reads loc, and when keep says so writes f(old) paired with the read;
// the call's value is result(old, new).
func (in *interp) rmw(st *tstate, x *Call, loc int, addr, data []int, rAnn, wAnn string,
	keep func(old Value) bool, f func(old Value) Value, result func(old, new Value) Value, k func(*tstate, Value, []int)) {
	in.read(st, loc, addr, x.Fun, rAnn, x.Line, func(st *tstate, old Value, deps []int) {
		r := len(st.events) - 1
		if !keep(old) {
			// A failed cmpxchg or trylock orders nothing: a lone read.
			st.events[r].Failed = true
			st.events[r].Ann = map[string]string{"lock": "lock-failed"}[rAnn]
			if st.events[r].Ann == "" {
				st.events[r].Ann = "once"
			}
			k(st, result(old, old), deps)
			return
		}
		full := rAnn == "mb"
		if full {
			// A fully ordered RMW is a relaxed one between two smp_mb()s,
			// as herd's C semantics makes it.
			st.events = slices.Insert(st.events, r, Event{Thread: in.thread, Kind: Fence, Op: x.Fun, Ann: "mb", RMW: -1, Ctrl: st.ctrl, Line: x.Line})
			r++
			st.events[r].Ann, wAnn = "once", "once"
			deps = []int{r}
		}
		nv := f(old)
		in.write(st, loc, nv, addr, unionDeps(data, deps), x.Fun, wAnn, x.Line)
		st.events[r].RMW, st.events[r+1].RMW = r+1, r
		if full {
			in.fence(st, x.Fun, "mb", x.Line)
		}
		k(st, result(old, nv), deps)
	})
}

// call runs a kernel primitive.
func (in *interp) call(st *tstate, x *Call, k func(*tstate, Value, []int)) {
	name, line := x.Fun, x.Line
	args := x.Args
	// The read and write annotations of an ordered RMW: the plain form is
	// fully ordered, _relaxed not at all.
	rAnn, wAnn := "mb", "mb"
	switch Ordering(name) {
	case "relaxed":
		rAnn, wAnn = "once", "once"
	case "acquire":
		rAnn, wAnn = "acquire", "once"
	case "release":
		rAnn, wAnn = "once", "release"
	}
	base := name
	for _, suffix := range []string{"_relaxed", "_acquire", "_release"} {
		// An ordering variant of a value-returning read-modify-write.
		if b, ok := strings.CutSuffix(name, suffix); ok && Known(b+"_relaxed") {
			base = b
		}
	}
	keepAll := func(Value) bool { return true }
	old := func(o, _ Value) Value { return o }
	nw := func(_, n Value) Value { return n }
	// ptrArg is an argument that must be a pointer to a variable:
	// READ_ONCE(*x) passes *x, smp_load_acquire(x) passes x.
	ptrArg := func(a Expr, deref bool, k2 func(st *tstate, loc int, addr []int)) {
		if d, ok := a.(*Deref); ok && deref {
			in.pointer(st, d.X, k2)
			return
		}
		if deref {
			in.fail(line, "%s wants *p", name)
			return
		}
		in.pointer(st, a, k2)
	}
	withValue := func(st *tstate, a Expr, k2 func(st *tstate, v Value, deps []int)) { in.expr(st, a, k2) }
	switch base {
	case "READ_ONCE", "rcu_dereference":
		ptrArg(args[0], true, func(st *tstate, loc int, addr []int) { in.read(st, loc, addr, name, "once", line, k) })
	case "WRITE_ONCE", "rcu_assign_pointer":
		ann := "once"
		if base == "rcu_assign_pointer" {
			ann = "release"
		}
		ptrArg(args[0], true, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, v Value, deps []int) {
				in.write(st, loc, v, addr, deps, name, ann, line)
				k(st, 0, nil)
			})
		})
	case "smp_load_acquire", "atomic_read", "atomic_read_acquire":
		ann := "once"
		if base != "atomic_read" {
			ann = "acquire"
		}
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) { in.read(st, loc, addr, name, ann, line, k) })
	case "smp_store_release", "atomic_set", "atomic_set_release":
		ann := "release"
		if base == "atomic_set" {
			ann = "once"
		}
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, v Value, deps []int) {
				in.write(st, loc, v, addr, deps, name, ann, line)
				k(st, 0, nil)
			})
		})
	case "smp_mb", "smp_wmb", "smp_rmb", "smp_mb__before_atomic", "smp_mb__after_atomic", "smp_mb__after_spinlock",
		"smp_mb__after_unlock_lock", "rcu_read_lock", "rcu_read_unlock", "synchronize_rcu", "synchronize_rcu_expedited":
		ann := map[string]string{"smp_mb": "mb", "smp_wmb": "wmb", "smp_rmb": "rmb", "smp_mb__before_atomic": "before-atomic",
			"smp_mb__after_atomic": "after-atomic", "smp_mb__after_spinlock": "after-spinlock", "smp_mb__after_unlock_lock": "after-unlock-lock",
			"rcu_read_lock": "rcu-lock", "rcu_read_unlock": "rcu-unlock", "synchronize_rcu": "sync-rcu", "synchronize_rcu_expedited": "sync-rcu"}[name]
		in.fence(st, name, ann, line)
		k(st, 0, nil)
	case "srcu_read_lock", "srcu_down_read":
		// A load of the srcu_struct: its value (an index) goes to the
		// unlock that ends the section, which is how the LKMM pairs them.
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) { in.read(st, loc, addr, name, "srcu-lock", line, k) })
	case "srcu_read_unlock", "srcu_up_read":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, v Value, deps []int) {
				in.write(st, loc, v, addr, deps, name, "srcu-unlock", line)
				k(st, 0, nil)
			})
		})
	case "synchronize_srcu", "synchronize_srcu_expedited":
		// A grace period of one srcu_struct: a fence with a location.
		ptrArg(args[0], false, func(st *tstate, loc int, _ []int) {
			in.fence(st, name, "sync-srcu", line)
			st.events[len(st.events)-1].Loc = loc
			k(st, 0, nil)
		})
	case "smp_mb__after_srcu_read_unlock":
		in.fence(st, name, "after-srcu-read-unlock", line)
		k(st, 0, nil)
	case "barrier":
		// A compiler barrier: no CPU ordering, but the LKMM's barrier
		// relation counts it when it judges mixed plain and marked accesses.
		in.fence(st, name, "barrier", line)
		k(st, 0, nil)
	case "xchg", "atomic_xchg":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, v Value, deps []int) {
				in.rmw(st, x, loc, addr, deps, rAnn, wAnn, keepAll, func(Value) Value { return v }, old, k)
			})
		})
	case "cmpxchg", "atomic_cmpxchg":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, want Value, _ []int) {
				withValue(st, args[2], func(st *tstate, v Value, deps []int) {
					// A failed cmpxchg orders nothing: its read is a once.
					in.rmw(st, x, loc, addr, deps, rAnn, wAnn, func(o Value) bool { return o == want }, func(Value) Value { return v }, old, k)
				})
			})
		})
	case "atomic_inc", "atomic_dec", "atomic_add", "atomic_sub", "atomic_and", "atomic_or", "atomic_xor", "atomic_andnot":
		delta, ptr := Expr(&Int{Value: 1}), args[0]
		if len(args) == 2 {
			delta, ptr = args[0], args[1]
		}
		withValue(st, delta, func(st *tstate, d Value, deps []int) {
			ptrArg(ptr, false, func(st *tstate, loc int, addr []int) {
				in.rmw(st, x, loc, addr, deps, "noreturn", "noreturn", keepAll, func(o Value) Value { return atomicOp(base, o, d) }, old,
					func(st *tstate, _ Value, _ []int) { k(st, 0, nil) })
			})
		})
	case "atomic_add_return", "atomic_sub_return", "atomic_inc_return", "atomic_dec_return",
		"atomic_fetch_add", "atomic_fetch_sub", "atomic_fetch_inc", "atomic_fetch_dec",
		"atomic_fetch_and", "atomic_fetch_or", "atomic_fetch_xor", "atomic_fetch_andnot",
		"atomic_inc_and_test", "atomic_dec_and_test", "atomic_sub_and_test", "atomic_add_negative":
		delta, ptr := Expr(&Int{Value: 1}), args[0]
		if len(args) == 2 {
			delta, ptr = args[0], args[1]
		}
		res := nw
		switch {
		case strings.HasPrefix(base, "atomic_fetch"):
			res = old
		case strings.HasSuffix(base, "_and_test"): // the new value == 0
			res = func(_, n Value) Value { return boolValue(n == 0) }
		case base == "atomic_add_negative": // the new value < 0
			res = func(_, n Value) Value { return boolValue(n < 0) }
		}
		withValue(st, delta, func(st *tstate, d Value, deps []int) {
			ptrArg(ptr, false, func(st *tstate, loc int, addr []int) {
				in.rmw(st, x, loc, addr, deps, rAnn, wAnn, keepAll, func(o Value) Value { return atomicOp(base, o, d) }, res, k)
			})
		})
	case "atomic_add_unless":
		// Adds a unless the value is u; fully ordered when it adds, a lone
		// unordered read when it does not (atomic_t.txt: conditional RMWs
		// are unordered on failure). It returns whether it added.
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, a Value, deps []int) {
				withValue(st, args[2], func(st *tstate, u Value, _ []int) {
					in.rmw(st, x, loc, addr, deps, "mb", "mb", func(o Value) bool { return o != u }, func(o Value) Value { return o + a },
						func(o, _ Value) Value { return boolValue(o != u) }, constant(k))
				})
			})
		})
	case "smp_store_mb":
		// WRITE_ONCE() then smp_mb(), as the kernel defines it.
		ptrArg(args[0], true, func(st *tstate, loc int, addr []int) {
			withValue(st, args[1], func(st *tstate, v Value, deps []int) {
				in.write(st, loc, v, addr, deps, name, "once", line)
				in.fence(st, name, "mb", line)
				k(st, 0, nil)
			})
		})
	case "spin_lock":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			// Only the attempt that finds the lock free completes: the
			// spinning before it changes nothing.
			in.rmw(st, x, loc, addr, nil, "lock", "lock", func(o Value) bool { return o == 0 }, func(Value) Value { return 1 }, nw,
				func(st *tstate, _ Value, _ []int) {
					if st.events[len(st.events)-1].Failed {
						return // the lock is not free: this attempt spins
					}
					k(st, 0, nil)
				})
		})
	case "spin_trylock":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			in.rmw(st, x, loc, addr, nil, "lock", "lock", func(o Value) bool { return o == 0 }, func(Value) Value { return 1 },
				func(o, _ Value) Value { return boolValue(o == 0) }, constant(k))
		})
	case "spin_unlock":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			in.write(st, loc, 0, addr, nil, name, "unlock", line)
			k(st, 0, nil)
		})
	case "spin_is_locked":
		ptrArg(args[0], false, func(st *tstate, loc int, addr []int) {
			in.read(st, loc, addr, name, "islocked", line, func(st *tstate, v Value, _ []int) { k(st, boolValue(v != 0), nil) })
		})
	default:
		in.fail(line, "%s()", name)
	}
}

// atomicOp is the arithmetic of the atomic_*() operation base on old with
// operand d (1 for inc and dec).
func atomicOp(base string, old, d Value) Value {
	switch {
	case strings.Contains(base, "andnot"):
		return old &^ d
	case strings.Contains(base, "_and") && !strings.HasSuffix(base, "_and_test"):
		return old & d
	case strings.Contains(base, "_or"):
		return old | d
	case strings.Contains(base, "_xor"):
		return old ^ d
	case strings.Contains(base, "sub"), strings.Contains(base, "dec"):
		return old - d
	}
	return old + d
}

// constant passes on a result that carries no dependency: spin_trylock(),
// spin_is_locked() and atomic_add_unless() return 1 or 0 as herd7 makes
// them (a constant after the events), so a branch on it is no control
// dependency on the lock or the counter.
func constant(k func(*tstate, Value, []int)) func(*tstate, Value, []int) {
	return func(st *tstate, v Value, _ []int) { k(st, v, nil) }
}
