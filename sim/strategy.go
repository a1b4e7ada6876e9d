package sim

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
)

// Strategy makes the decisions of one run. Choose returns the index of the
// move to take among moves (never empty, in the machine's fixed order).
// moves is the machine's own list, kept from one decision to the next: a
// strategy must not change it, and must copy what it keeps. A strategy is
// used for one run only.
type Strategy interface {
	Choose(m *Machine, moves []Move) (int, error)
}

// RunSeed derives the seed of run number run of an exploration seeded with
// seed, so that any run can be regenerated on its own.
func RunSeed(seed uint64, run int) uint64 {
	z := seed + uint64(run)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Random is a uniform random walk: every decision picks one of the
// possible moves with equal probability.
type Random struct {
	src *rand.PCG
	rng *rand.Rand // over src
}

// NewRandom returns a random walk seeded with seed.
func NewRandom(seed uint64) *Random {
	src := rand.NewPCG(seed, 0x5eed)
	return &Random{src: src, rng: rand.New(src)}
}

// Choose implements Strategy.
func (r *Random) Choose(_ *Machine, moves []Move) (int, error) {
	return r.intN(len(moves)), nil
}

// intN is r.rng.IntN(n), n > 0: on 64-bit hosts it draws from the source
// directly, without rand.Rand's interface call per decision, by the same
// computation (math/rand/v2's uint64n), so the same seeds give the same
// walks; 32-bit hosts, where rand.Rand computes otherwise, call it.
func (r *Random) intN(n int) int {
	if bits.UintSize == 32 {
		return r.rng.IntN(n)
	}
	un := uint64(n)
	if un&(un-1) == 0 {
		return int(r.src.Uint64() & (un - 1))
	}
	hi, lo := bits.Mul64(r.src.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), un)
		}
	}
	return int(hi)
}

// PCT is probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi,
// Nagarakatte, ASPLOS 2010): every context gets a random priority, the
// highest-priority context that can run always runs, and at depth-1 random
// steps the running context drops below all others. A bug that needs d
// ordering constraints among n contexts in k steps is found with
// probability at least 1/(n k^(d-1)) per run.
//
// Kernel specifics: a task switch is taken when the task it schedules has
// the highest priority (so a high-priority ready task preempts wherever
// preemption is allowed); interrupts fire at steps drawn uniformly in
// [1, k], one per unit of each source's budget, as soon as their CPU
// allows them after that step; and allocation failures, one per unit of
// the run's budget, are injected likewise into the first allocation after
// a step drawn in [1, k].
type PCT struct {
	rng   *rand.Rand
	depth int
	k     int

	init    bool
	prio    []int // by frame id; 0 = not yet assigned
	changes []int // steps at which the running context is demoted
	fireAt  [][]int
	failAt  []int // steps after which the next allocation fails
	nTasks  int
}

// NewPCT returns a PCT strategy with the given depth (d >= 1) for runs of
// about k steps.
func NewPCT(seed uint64, depth, k int) *PCT {
	return &PCT{rng: rand.New(rand.NewPCG(seed, 0x9c7)), depth: max(depth, 1), k: max(k, 1)}
}

func (p *PCT) setup(m *Machine) {
	p.init = true
	n := len(m.tasks)
	p.nTasks = n
	perm := p.rng.Perm(n)
	for i, t := range m.tasks {
		p.setPrio(t.frames[0].id, p.depth+perm[i])
	}
	for range p.depth - 1 {
		p.changes = append(p.changes, 1+p.rng.IntN(p.k))
	}
	slices.Sort(p.changes)
	p.fireAt = make([][]int, len(m.irqs))
	for i, s := range m.irqs {
		for range s.left {
			p.fireAt[i] = append(p.fireAt[i], 1+p.rng.IntN(p.k))
		}
		slices.Sort(p.fireAt[i])
	}
	for range m.allocFailures {
		p.failAt = append(p.failAt, 1+p.rng.IntN(p.k))
	}
	slices.Sort(p.failAt)
}

func (p *PCT) setPrio(id, v int) {
	for len(p.prio) <= id {
		p.prio = append(p.prio, 0)
	}
	p.prio[id] = v
}

// frameID names the context a move would run: the task a switch
// schedules, or the context on top of the CPU a step advances.
func (p *PCT) frameID(m *Machine, mv Move) int {
	if mv.Kind == MoveSwitch {
		return m.tasks[mv.Arg].frames[0].id
	}
	return m.cpus[mv.CPU].top().id
}

// priority of the context a move would run; contexts first seen (interrupt
// handlers) get a random priority among the initial ones.
func (p *PCT) priority(m *Machine, mv Move) int {
	id := p.frameID(m, mv)
	if id >= len(p.prio) || p.prio[id] == 0 {
		p.setPrio(id, p.depth+p.rng.IntN(p.nTasks+1))
	}
	return p.prio[id]
}

// Choose implements Strategy.
func (p *PCT) Choose(m *Machine, moves []Move) (int, error) {
	if !p.init {
		p.setup(m)
	}
	step := m.step + 1
	// A due interrupt fires as soon as it can.
	firstIRQ := -1
	for i, mv := range moves {
		if mv.Kind != MoveIRQ {
			continue
		}
		if firstIRQ < 0 {
			firstIRQ = i
		}
		if due := p.fireAt[mv.Arg]; len(due) > 0 && due[0] <= step {
			p.fireAt[mv.Arg] = due[1:]
			return i, nil
		}
	}
	if len(p.failAt) > 0 && p.failAt[0] <= step {
		// A due failure goes to the highest-priority allocation.
		if best := p.highest(m, moves, func(k MoveKind) bool { return k == MoveFailAlloc }); best >= 0 {
			p.failAt = p.failAt[1:]
			return best, nil
		}
	}
	best := p.best(m, moves)
	if best < 0 {
		// Only interrupts can happen: fire the first, spending a due slot.
		if due := p.fireAt[moves[firstIRQ].Arg]; len(due) > 0 {
			p.fireAt[moves[firstIRQ].Arg] = due[1:]
		}
		return firstIRQ, nil
	}
	for len(p.changes) > 0 && p.changes[0] <= step {
		// Change point: the context about to run drops below all others.
		p.setPrio(p.frameID(m, moves[best]), p.depth-len(p.changes))
		p.changes = p.changes[1:]
		best = p.best(m, moves)
	}
	return best, nil
}

// best is the highest-priority step or switch: interrupts and allocation
// failures come at their due steps.
func (p *PCT) best(m *Machine, moves []Move) int {
	return p.highest(m, moves, func(k MoveKind) bool { return k == MoveStep || k == MoveSwitch })
}

// highest is the index of the highest-priority move of a kind that
// counts, or -1.
func (p *PCT) highest(m *Machine, moves []Move, counts func(MoveKind) bool) int {
	best, bestPrio := -1, 0
	for i, mv := range moves {
		if !counts(mv.Kind) {
			continue
		}
		if pr := p.priority(m, mv); best < 0 || pr > bestPrio {
			best, bestPrio = i, pr
		}
	}
	return best
}

// POS is partial order sampling (Yuan, Yang and Gu, CAV 2018): every
// possible move gets a random priority, the move of highest priority is
// taken, and then the moves that race with it (those whose access
// conflicts with its access, see Access) draw new priorities, as does the
// taken move's successor. Unlike a random walk, which takes a long run of
// one context's steps with vanishing probability, POS samples the orders
// of racing accesses close to uniformly whatever lies between them; unlike
// PCT it needs no estimate of the run's length or the bug's depth.
type POS struct {
	rng  *rand.Rand
	prio map[Move]float64 // looked up, never ranged over
}

// NewPOS returns partial order sampling seeded with seed.
func NewPOS(seed uint64) *POS {
	return &POS{rng: rand.New(rand.NewPCG(seed, 0x905)), prio: map[Move]float64{}}
}

// Choose implements Strategy.
func (p *POS) Choose(m *Machine, moves []Move) (int, error) {
	best, bestPrio := 0, -1.0
	for i, mv := range moves {
		pr, ok := p.prio[mv]
		if !ok {
			pr = p.rng.Float64()
			p.prio[mv] = pr
		}
		if pr > bestPrio {
			best, bestPrio = i, pr
		}
	}
	taken := m.Pending(moves[best])
	for _, mv := range moves {
		if a := m.Pending(mv); mv == moves[best] || a.Conflicts(&taken) {
			delete(p.prio, mv)
		}
	}
	return best, nil
}

// Replay replays a recorded list of decisions, checking at every step that
// the recorded move is possible.
type Replay struct {
	tokens []string
	moves  []Move
	pos    int
}

// NewReplay returns a strategy that takes moves in order.
func NewReplay(moves []Move) *Replay { return &Replay{moves: moves} }

// NewReplayTokens returns a strategy that takes the decisions written by
// FormatMove in order; they are resolved against the machine's tasks and
// interrupt sources at the first decision.
func NewReplayTokens(tokens []string) *Replay { return &Replay{tokens: tokens} }

// Choose implements Strategy. Tokens are resolved one at a time, as the
// run reaches them: a schedule that parts from the run early costs no
// more than its first decisions.
func (r *Replay) Choose(m *Machine, moves []Move) (int, error) {
	n := len(r.moves)
	if r.tokens != nil {
		n = len(r.tokens)
	}
	if r.pos >= n {
		return 0, fmt.Errorf("the schedule ends after %d decisions but the run goes on", n)
	}
	var want Move
	if r.tokens != nil {
		mv, err := m.ParseMove(r.tokens[r.pos])
		if err != nil {
			return 0, fmt.Errorf("decision %d: %w", r.pos+1, err)
		}
		want = mv
	} else {
		want = r.moves[r.pos]
	}
	r.pos++
	if i := slices.Index(moves, want); i >= 0 {
		return i, nil
	}
	possible := make([]string, len(moves))
	for i, mv := range moves {
		possible[i] = m.FormatMove(mv)
	}
	return 0, fmt.Errorf("the schedule diverges: recorded decision %s is not possible (possible: %s)",
		m.FormatMove(want), strings.Join(possible, " "))
}

// Bytes takes its decisions from a byte stream, for fuzzers and property
// testing libraries that mutate and shrink bytes: a decision among n > 1
// moves consumes one byte (two when n > 256) and takes that value modulo n.
// When the bytes run out every decision takes the first move.
type Bytes struct {
	data []byte
}

// NewBytes returns a strategy reading decisions from data.
func NewBytes(data []byte) *Bytes { return &Bytes{data: data} }

// Choose implements Strategy.
func (b *Bytes) Choose(_ *Machine, moves []Move) (int, error) {
	n := len(moves)
	if n == 1 || len(b.data) == 0 {
		return 0, nil
	}
	v := int(b.data[0])
	b.data = b.data[1:]
	if n > 256 && len(b.data) > 0 {
		v = v<<8 | int(b.data[0])
		b.data = b.data[1:]
	}
	return v % n, nil
}

// Lenient replays a list of decisions as far as they fit and fills in the
// rest with quiet defaults: a recorded move that is not possible is
// skipped, and where the list has run out (or its move does not fit) the
// strategy keeps the last CPU going if it can, else advances another CPU,
// else schedules a task on an idle CPU, and fires an interrupt or preempts
// only when nothing else can happen. Shrinkers use it to try shorter
// lists; the run it makes is recorded exactly, like any other.
type Lenient struct {
	tokens []string
	moves  []Move
	pos    int
	last   int
}

// NewLenient returns a lenient replay of moves.
func NewLenient(moves []Move) *Lenient { return &Lenient{moves: moves, last: -1} }

// NewLenientTokens returns a lenient replay of decisions written by
// FormatMove; those that name no task, interrupt or CPU of the machine are
// skipped like moves that do not fit. It replays a schedule recorded
// before the code under test changed as far as the schedule still fits.
func NewLenientTokens(tokens []string) *Lenient { return &Lenient{tokens: tokens, last: -1} }

// Choose implements Strategy.
func (l *Lenient) Choose(m *Machine, moves []Move) (int, error) {
	if l.tokens != nil {
		for _, tok := range l.tokens {
			if mv, err := m.ParseMove(tok); err == nil {
				l.moves = append(l.moves, mv)
			}
		}
		l.tokens = nil
	}
	for l.pos < len(l.moves) {
		want := l.moves[l.pos]
		l.pos++
		if i := slices.Index(moves, want); i >= 0 {
			l.last = int(want.CPU)
			return i, nil
		}
	}
	i := l.quiet(m, moves)
	l.last = int(moves[i].CPU)
	return i, nil
}

func (l *Lenient) quiet(m *Machine, moves []Move) int {
	rank := func(mv Move) int {
		switch {
		case mv.Kind == MoveStep && int(mv.CPU) == l.last:
			return 0
		case mv.Kind == MoveStep:
			return 1
		case mv.Kind == MoveSwitch && m.cpus[mv.CPU].cur == nil:
			return 2
		case mv.Kind == MoveIRQ:
			return 3
		case mv.Kind == MoveSwitch:
			return 4
		}
		return 5 // an injected allocation failure: never by default
	}
	best := 0
	for i, mv := range moves {
		if rank(mv) < rank(moves[best]) {
			best = i
		}
	}
	return best
}
