package litmus

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Execution is one candidate execution: every thread's path, which write
// each read reads from (rf) and the order of each variable's writes (co).
// Events 0..len(vars)-1 are the initial writes.
type Execution struct {
	p      *program
	Events []*Event
	RF     []int   // by event: the write a read reads from, -1 for others
	CO     [][]int // by variable: its writes in coherence order, initial first
	Regs   []map[string]Value
	// Flags are what a model reports of an execution it allows
	// (herd7's flags: "data-race").
	Flags []string
	// coPos is each write's place in its variable's co order.
	coPos []int
}

// Model decides which candidate executions are allowed.
type Model interface {
	Name() string
	// Check returns "" when x is allowed, else why not: the cycle or the
	// broken axiom, in events.
	Check(x *Execution) string
}

// maxCandidates bounds the executions one test may have: past it the test
// is refused, not judged on part of them.
const maxCandidates = 1 << 22

// Outcome is what running a test under a model found.
type Outcome struct {
	Test  *Test
	Model string
	// States are the final states of the allowed executions, each with
	// how many executions end in it, in a fixed order.
	States []State
	// Positive and Negative count the allowed executions whose final state
	// satisfies the condition, and the others; Observation is Never,
	// Sometimes or Always from them, as herd7 prints it.
	Positive, Negative int
	Observation        string
	// Forbidden, for an outcome the condition asks about that no allowed
	// execution reaches, is why the model forbids one candidate that
	// reaches it.
	Forbidden string
	// Flags are the flags of the allowed executions, each once.
	Flags []string
}

// State is a final state: the observed locations' values in order.
type State struct {
	Text      string // "0:r0=1; 1:r0=0;"
	Count     int
	Satisfies bool
}

// Run enumerates the test's candidate executions and keeps those model
// allows.
func Run(t *Test, m Model) (*Outcome, error) {
	p, err := newProgram(t)
	if err != nil {
		return nil, err
	}
	if err := p.supported(m); err != nil {
		return nil, err
	}
	paths, err := p.domainAndPaths()
	if err != nil {
		return nil, err
	}
	out := &Outcome{Test: t, Model: m.Name()}
	states := map[string]*State{}
	observed := p.observed()
	count := 0
	var tooMany bool
	p.candidates(paths, coherentAtomic, func(x *Execution) bool {
		count++
		if count > maxCandidates {
			tooMany = true
			return false
		}
		if t.Filter != nil && !p.eval(t.Filter, x) {
			return true
		}
		x.Flags = x.Flags[:0]
		why := m.Check(x)
		sat := p.eval(t.Final.Prop, x)
		if why != "" {
			if sat && out.Forbidden == "" {
				out.Forbidden = why
			}
			return true
		}
		for _, f := range x.Flags {
			if !slices.Contains(out.Flags, f) {
				out.Flags = append(out.Flags, f)
			}
		}
		key := p.stateText(observed, x)
		s := states[key]
		if s == nil {
			s = &State{Text: key, Satisfies: sat}
			states[key] = s
		}
		s.Count++
		if sat {
			out.Positive++
		} else {
			out.Negative++
		}
		return true
	})
	if tooMany {
		return nil, &Unsupported{Line: 1, What: fmt.Sprintf("more than %d candidate executions", maxCandidates)}
	}
	slices.Sort(out.Flags) // herd7 prints them in this order
	for _, s := range states {
		out.States = append(out.States, *s)
	}
	sort.Slice(out.States, func(i, j int) bool { return out.States[i].Text < out.States[j].Text })
	switch {
	case out.Positive == 0:
		out.Observation = "Never"
	case out.Negative == 0:
		out.Observation = "Always"
	default:
		out.Observation = "Sometimes"
	}
	if out.Positive == 0 && out.Forbidden == "" {
		if out.Forbidden, err = p.incoherentWitness(paths, m); err != nil {
			return nil, err
		}
	}
	if out.Positive > 0 {
		out.Forbidden = ""
	}
	return out, nil
}

// explainBudget bounds the candidates incoherentWitness looks at: it
// words an explanation and decides nothing.
const explainBudget = 1 << 16

// incoherentWitness explains an outcome no coherent, atomic candidate
// reaches: by the coherence or atomicity cycle of a candidate left out
// that reaches it, when one is found within explainBudget candidates, or
// else by what is known. A left-out candidate the model allows would mean
// the pruning dropped an execution: that is an error, not a verdict.
func (p *program) incoherentWitness(paths [][]path, m Model) (string, error) {
	const unknown = "no candidate execution whose reads and writes keep each thread's program order on a variable reaches it"
	if p.manyOrders(paths) {
		return unknown, nil // the coherence orders alone are past the budget
	}
	why, count := "", 0
	var err error
	p.candidates(paths, everyCandidate, func(x *Execution) bool {
		if count++; count > explainBudget {
			why = unknown
			return false
		}
		if p.test.Filter != nil && !p.eval(p.test.Filter, x) || !p.eval(p.test.Final.Prop, x) {
			return true
		}
		if why = m.Check(x); why == "" {
			err = fmt.Errorf("internal error: %s allows a candidate execution the engine left out as incoherent", m.Name())
		}
		return false
	})
	if err != nil {
		return "", err
	}
	if why == "" {
		why = "no candidate execution reaches it: no write produces the values it needs"
	}
	return why, nil
}

// manyOrders reports whether some path of a thread, with the longest of
// every other thread's, writes one variable more times than explainBudget
// orders can take: every order of them is built before any is looked at.
func (p *program) manyOrders(paths [][]path) bool {
	writes := make([]int, len(p.vars))
	for _, ps := range paths {
		most := make([]int, len(p.vars))
		for _, pa := range ps {
			n := make([]int, len(p.vars))
			for _, e := range pa.events {
				if e.Kind == Write {
					n[e.Loc]++
				}
			}
			for v := range n {
				most[v] = max(most[v], n[v])
			}
		}
		for v := range most {
			writes[v] += most[v]
		}
	}
	orders := 1
	for _, w := range writes {
		for k := 2; k <= w; k++ {
			if orders *= k; orders > explainBudget {
				return true
			}
		}
	}
	return false
}

// supported refuses what the model does not judge: RCU's and SRCU's
// read-side critical sections and grace periods except under the LKMM
// (rcu_dereference and rcu_assign_pointer are a load and a release store
// everywhere).
func (p *program) supported(m Model) error {
	var err error
	for _, pr := range p.test.Procs {
		walkCalls(pr.Body, func(c *Call) {
			rcu := strings.Contains(c.Fun, "rcu") && c.Fun != "rcu_dereference" && c.Fun != "rcu_assign_pointer"
			if err == nil && rcu && m.Name() != "lkmm" {
				err = &Unsupported{Line: c.Line, What: fmt.Sprintf("%s() under the %s model", c.Fun, m.Name())}
			}
		})
	}
	return err
}

// walkCalls calls call for every call in ss.
func walkCalls(ss []Stmt, call func(*Call)) {
	var expr func(Expr)
	expr = func(x Expr) {
		switch x := x.(type) {
		case *Call:
			call(x)
			for _, a := range x.Args {
				expr(a)
			}
		case *Unary:
			expr(x.X)
		case *Binary:
			expr(x.X)
			expr(x.Y)
		case *Deref:
			expr(x.X)
		}
	}
	for _, s := range ss {
		switch s := s.(type) {
		case *Decl:
			if s.Init != nil {
				expr(s.Init)
			}
		case *Assign:
			expr(s.LHS)
			expr(s.RHS)
		case *ExprStmt:
			expr(s.X)
		case *If:
			expr(s.Cond)
			walkCalls(s.Then, call)
			walkCalls(s.Else, call)
		}
	}
}

// domainAndPaths returns the threads' paths over the values reads may
// return. In a coherent execution a read of a variable returns its
// thread's own latest write to it, or the initial value when there is
// none, or a value another thread writes to it: a read takes those (see
// interp.read). The values other threads write are found round by round:
// each round adds, variable by variable and writer by writer, the values
// written in candidate executions over the values so far, until a round
// adds none. A value no such execution writes cannot be read by any
// model's execution.
func (p *program) domainAndPaths() ([][]path, error) {
	threads := len(p.test.Procs)
	written := make([][][]Value, len(p.vars)) // by variable, by writing thread
	for v := range written {
		written[v] = make([][]Value, threads)
	}
	for range 16 {
		paths := make([][]path, threads)
		for i := range p.test.Procs {
			ps, err := p.threadPaths(i, others(written, i))
			if err != nil {
				return nil, err
			}
			paths[i] = ps
		}
		// A thread with no path yet (its reads need values no round has
		// found: a pointer not yet written, a lock not yet released) takes
		// part as a thread that does nothing, so that the others' writes
		// can still be found; the values grow, never shrink, by it.
		round := slices.Clone(paths)
		for i, ps := range round {
			if len(ps) == 0 {
				round[i] = []path{{regs: map[string]Value{}}}
			}
		}
		seen, grew := 0, false
		p.candidates(round, domainValues, func(x *Execution) bool {
			seen++
			for _, e := range x.Events {
				if e.Kind == Write && e.Thread >= 0 && !slices.Contains(written[e.Loc][e.Thread], e.Val) {
					written[e.Loc][e.Thread] = append(written[e.Loc][e.Thread], e.Val)
					grew = true
				}
			}
			return seen <= maxCandidates
		})
		if seen > maxCandidates {
			return nil, &Unsupported{Line: 1, What: fmt.Sprintf("more than %d candidate executions", maxCandidates)}
		}
		if !grew {
			return paths, nil
		}
	}
	return nil, &Unsupported{Line: 1, What: "the values written do not settle (a value grows with every write)"}
}

// others is, by variable, the values threads other than thread write to
// it, in order.
func others(written [][][]Value, thread int) [][]Value {
	out := make([][]Value, len(written))
	for v, byThread := range written {
		for t, vals := range byThread {
			if t != thread {
				out[v] = append(out[v], vals...)
			}
		}
		slices.Sort(out[v])
		out[v] = slices.Compact(out[v])
	}
	return out
}

// pruning is which candidates are built: every one, only stand-ins for
// the values they write, or those no axiom every model has (coherence,
// atomicity) forbids.
type pruning int

const (
	everyCandidate pruning = iota
	// domainValues is for the domain's rounds, which want only the values
	// written: one stand-in candidate (no co, no rf) for each choice of
	// paths in which every read can be given a source that is not a write
	// its own thread makes after it, without read-modify-writes reading
	// each other round in a cycle (see grounded).
	domainValues
	// coherentAtomic builds the candidates the models judge, leaving out
	// those that break coherence within one thread (acyclic po-loc | com):
	// a read reading a write its own thread makes after it, or one
	// co-before its thread's latest write to the variable before it, and
	// a variable's writes of one thread out of program order in co (their
	// number grows with the factorial of a variable's writes, lock words
	// most of all). Each read-modify-write also reads the write just
	// before its own in co: a write between them would be another CPU's
	// (atomicity forbids it) or its own CPU's (coherence forbids it). The
	// values of the domain are found with domainValues: its candidates
	// read values that later rounds make consistent.
	coherentAtomic
)

// candidates calls yield with every candidate execution that prune
// keeps, until it returns false.
func (p *program) candidates(paths [][]path, prune pruning, yield func(*Execution) bool) {
	for _, ps := range paths {
		if len(ps) == 0 {
			return // a thread that cannot run to its end: no execution
		}
	}
	choice := make([]int, len(paths))
	for {
		if !p.withPaths(paths, choice, prune, yield) {
			return
		}
		i := 0
		for ; i < len(choice); i++ {
			choice[i]++
			if choice[i] < len(paths[i]) {
				break
			}
			choice[i] = 0
		}
		if i == len(choice) {
			return
		}
	}
}

// withPaths enumerates rf and co for one path of each thread.
func (p *program) withPaths(paths [][]path, choice []int, prune pruning, yield func(*Execution) bool) bool {
	coherent, atomic := prune >= domainValues, prune == coherentAtomic
	x := &Execution{p: p}
	for i, v := range p.init {
		x.Events = append(x.Events, &Event{Thread: -1, Kind: Write, Loc: i, Val: v, Op: "init", Ann: "once", RMW: -1})
	}
	for t, c := range choice {
		pa := paths[t][c]
		base := len(x.Events)
		for i := range pa.events {
			e := pa.events[i]
			if e.RMW >= 0 {
				e.RMW += base
			}
			x.Events = append(x.Events, &e)
		}
		x.Regs = append(x.Regs, pa.regs)
	}
	n := len(x.Events)
	x.RF = make([]int, n)
	// Each read reads from a write of its variable and value.
	var reads []int
	var sources [][]int
	for i, e := range x.Events {
		x.RF[i] = -1
		if e.Kind != Read {
			continue
		}
		var ws []int
		for j, w := range x.Events {
			if w.Kind == Write && w.Loc == e.Loc && w.Val == e.Val && j != e.RMW &&
				!(coherent && w.Thread == e.Thread && w.Index > e.Index) {
				ws = append(ws, j)
			}
		}
		if len(ws) == 0 {
			return true
		}
		reads = append(reads, i)
		sources = append(sources, ws)
	}
	if prune == domainValues {
		// The domain's rounds want the values written, not the orders:
		// one candidate stands for all when every read can be given a
		// source without read-modify-writes reading each other round in a
		// cycle (see grounded), which holds when each read is grounded: it
		// has a source that is not an RMW's write, or the write of an RMW
		// whose read is grounded.
		if !grounded(x, reads, sources) {
			return true
		}
		return yield(x)
	}
	// Each variable's writes after its initial one, in every order.
	writes := make([][]int, len(p.vars))
	for j, w := range x.Events {
		if w.Kind == Write && w.Thread >= 0 {
			writes[w.Loc] = append(writes[w.Loc], j)
		}
	}
	orders := make([][][]int, len(p.vars))
	for v := range p.vars {
		if coherent {
			orders[v] = interleavings(byThread(x.Events, writes[v]))
		} else {
			orders[v] = permutations(writes[v])
		}
	}
	x.coPos = make([]int, n)
	// co is chosen first; under coherentAtomic a read-modify-write's read
	// follows from it, and only the other reads choose their source.
	var free []int // indices into reads that choose a source
	for k, r := range reads {
		if !atomic || x.Events[r].RMW < 0 {
			free = append(free, k)
		}
	}
	// Under coherentAtomic a read may not read a write co-before its own
	// thread's latest write to the variable before it (po-loc ; fr would
	// be a cycle), though that write may carry the same value.
	lastOwn := make([]int, len(reads))
	for k, r := range reads {
		lastOwn[k] = -1
		e := x.Events[r]
		for j := r - 1; j >= 0 && x.Events[j].Thread == e.Thread; j-- {
			if w := x.Events[j]; w.Kind == Write && w.Loc == e.Loc {
				lastOwn[k] = j
				break
			}
		}
	}
	srcs := make([][]int, len(reads))
	return product(len(p.vars), func(v int) int { return len(orders[v]) }, func(oc []int) bool {
		x.CO = make([][]int, len(p.vars))
		for v := range p.vars {
			x.CO[v] = append([]int{v}, orders[v][oc[v]]...)
			for k, w := range x.CO[v] {
				x.coPos[w] = k
			}
		}
		if atomic {
			for _, r := range reads {
				e := x.Events[r]
				if e.RMW < 0 {
					continue
				}
				w := x.CO[e.Loc][x.coPos[e.RMW]-1]
				if x.Events[w].Val != e.Val {
					return true // no such candidate under this co
				}
				x.RF[r] = w
			}
		}
		for _, k := range free {
			srcs[k] = sources[k]
			if l := lastOwn[k]; atomic && l >= 0 {
				srcs[k] = nil
				for _, w := range sources[k] {
					if w == l || x.coPos[w] > x.coPos[l] {
						srcs[k] = append(srcs[k], w)
					}
				}
			}
		}
		return product(len(free), func(i int) int { return len(srcs[free[i]]) }, func(rc []int) bool {
			for i, k := range free {
				x.RF[reads[k]] = srcs[k][rc[i]]
			}
			return yield(x)
		})
	})
}

// product calls f with every tuple (c0..cn-1), ci < size(i), until f
// returns false; it reports whether it ran to the end.
func product(n int, size func(int) int, f func([]int) bool) bool {
	c := make([]int, n)
	for i := range n {
		if size(i) == 0 {
			return true
		}
	}
	for {
		if !f(c) {
			return false
		}
		i := 0
		for ; i < n; i++ {
			c[i]++
			if c[i] < size(i) {
				break
			}
			c[i] = 0
		}
		if i == n {
			return true
		}
	}
}

// grounded reports whether every read can be given one of its sources so
// that no read-modify-writes read each other's writes round in a cycle. In
// a coherent, atomic execution rf ; rmw lies in co, which has no cycle;
// the values such a cycle makes up grow without end (each RMW adding to
// the last), while chains from a plain write or an initial value find
// every value a real execution needs.
func grounded(x *Execution, reads []int, sources [][]int) bool {
	ok := make(map[int]bool, len(reads)) // grounded reads
	for changed := true; changed; {
		changed = false
		for k, r := range reads {
			if ok[r] {
				continue
			}
			for _, w := range sources[k] {
				if rr := x.Events[w].RMW; rr < 0 || ok[rr] {
					ok[r], changed = true, true
					break
				}
			}
		}
	}
	return len(ok) == len(reads)
}

// byThread splits events (indices into evs, ascending) into one sequence
// per thread: a thread's events are contiguous in evs, in program order.
func byThread(evs []*Event, xs []int) [][]int {
	var seqs [][]int
	for k, i := range xs {
		if k == 0 || evs[i].Thread != evs[xs[k-1]].Thread {
			seqs = append(seqs, nil)
		}
		seqs[len(seqs)-1] = append(seqs[len(seqs)-1], i)
	}
	return seqs
}

// interleavings returns every merge of seqs that keeps each one's order.
func interleavings(seqs [][]int) [][]int {
	total := 0
	for _, q := range seqs {
		total += len(q)
	}
	var out [][]int
	cur := make([]int, 0, total)
	pos := make([]int, len(seqs))
	var rec func()
	rec = func() {
		if len(cur) == total {
			out = append(out, slices.Clone(cur))
			return
		}
		for k, q := range seqs {
			if pos[k] < len(q) {
				cur = append(cur, q[pos[k]])
				pos[k]++
				rec()
				pos[k]--
				cur = cur[:len(cur)-1]
			}
		}
	}
	rec()
	return out
}

func permutations(xs []int) [][]int {
	if len(xs) <= 1 {
		return [][]int{slices.Clone(xs)}
	}
	var out [][]int
	for i := range xs {
		rest := slices.Concat(xs[:i], xs[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]int{xs[i]}, p...))
		}
	}
	return out
}

// final is where loc ends: a register's value, or the co-last write.
func (p *program) final(loc Loc, x *Execution) (Value, bool) {
	if loc.Proc >= 0 {
		if loc.Proc >= len(x.Regs) {
			return 0, false
		}
		v, ok := x.Regs[loc.Proc][loc.Name]
		return v, ok
	}
	i, ok := p.varIdx[loc.Name]
	if !ok {
		return 0, false
	}
	co := x.CO[i]
	return x.Events[co[len(co)-1]].Val, true
}

func (p *program) eval(prop Prop, x *Execution) bool {
	switch q := prop.(type) {
	case *Eq:
		v, ok := p.final(q.Loc, x)
		if !ok {
			return false
		}
		if q.Var != "" {
			i, known := p.varIdx[q.Var]
			return known && v == address(i)
		}
		return v == Value(q.Value)
	case *And:
		return p.eval(q.X, x) && p.eval(q.Y, x)
	case *Or:
		return p.eval(q.X, x) || p.eval(q.Y, x)
	case *Not:
		return !p.eval(q.X, x)
	case *Const:
		return q.Value
	}
	return false
}

// observed are the locations a final state shows: those of the locations
// clause, then those the condition reads, each once, in order.
func (p *program) observed() []Loc {
	locs := slices.Clone(p.test.Locations)
	var walk func(Prop)
	walk = func(prop Prop) {
		switch q := prop.(type) {
		case *Eq:
			if !slices.Contains(locs, q.Loc) {
				locs = append(locs, q.Loc)
			}
		case *And:
			walk(q.X)
			walk(q.Y)
		case *Or:
			walk(q.X)
			walk(q.Y)
		case *Not:
			walk(q.X)
		}
	}
	walk(p.test.Final.Prop)
	return locs
}

func (p *program) stateText(locs []Loc, x *Execution) string {
	var b strings.Builder
	for _, l := range locs {
		v, _ := p.final(l, x)
		if l.Proc >= 0 {
			fmt.Fprintf(&b, "%d:%s=%s; ", l.Proc, l.Name, p.show(v))
		} else {
			fmt.Fprintf(&b, "[%s]=%s; ", l.Name, p.show(v)) // herd7 brackets shared variables
		}
	}
	return strings.TrimSpace(b.String())
}
