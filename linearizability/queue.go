package linearizability

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kernelsim/lfsim/model"
)

// The queue checker. See the package documentation for the algorithm and
// why it is exact.

type qkind uint8

const (
	kEnq  qkind = iota // successful enqueue: appends its block
	kFull              // enqueue of values that returned 0: legal by size
	kDeq               // dequeue
	kNop               // always legal, changes nothing: enqueue of nothing, dequeue(0)
)

type qop struct {
	kind   qkind
	block  int32 // kEnq
	m      int   // kFull: values offered
	exempt bool  // kFull: needs no justification (ALF, overlaps another op)
	n      int   // kDeq: values asked for
	out    []uint64
	call   int64
	ret    int64
}

// qblock is the values of one successful enqueue, which enter together.
type qblock struct {
	op   int32
	vals []uint64
	// lastCall is the call of the dequeue that takes the block's last
	// value to leave (math.MaxInt64 if some value never leaves); firstRet
	// is the return of the dequeue that takes its first (math.MaxInt64 if
	// none leaves). A block whose firstRet is below some earlier block's
	// lastCall cannot stand behind it in the queue.
	lastCall, firstRet int64
	// pred and succ are the blocks right before and after it in the
	// queue when a dequeue's result says so (a value of one followed by
	// the other's first), or -1.
	pred, succ int32
	takers     []int32 // the dequeues of its values, in their order
}

type vref struct{ block, pos int32 }

// dref says which dequeue took a value and where in its result.
type dref struct{ op, pos int32 }

// vinfo is what the checker knows of a value: the block that enqueued it
// (-1: none) and the dequeue that took it (-1: none).
type vinfo struct{ block, pos, dop, dpos int32 }

// values indexes the values of a history: a slice when they are dense
// (every workload here numbers them 1, 2, 3, ...), a map otherwise.
type values struct {
	dense  []vinfo
	index  map[uint64]int32
	sparse []vinfo
}

func newValues(ops []Op) values {
	var n int
	var top uint64
	for _, o := range ops {
		for _, v := range o.Vals {
			n++
			top = max(top, v)
		}
	}
	if top <= 2*uint64(n)+1024 {
		d := make([]vinfo, top+1)
		for i := range d {
			d[i] = vinfo{-1, 0, -1, 0}
		}
		return values{dense: d}
	}
	return values{index: make(map[uint64]int32, n)}
}

// at returns v's entry, making it when v is new.
func (x *values) at(v uint64) *vinfo {
	if v < uint64(len(x.dense)) {
		return &x.dense[v]
	}
	if x.index == nil {
		// A value no enqueue offered (only a dequeue returns it).
		x.index = make(map[uint64]int32)
	}
	i, ok := x.index[v]
	if !ok {
		i = int32(len(x.sparse))
		x.index[v] = i
		x.sparse = append(x.sparse, vinfo{-1, 0, -1, 0})
	}
	return &x.sparse[i]
}

// find returns v's entry, or one that says it is unknown.
func (x *values) find(v uint64) vinfo {
	if v < uint64(len(x.dense)) {
		return x.dense[v]
	}
	if i, ok := x.index[v]; ok {
		return x.sparse[i]
	}
	return vinfo{-1, 0, -1, 0}
}

// enq0 is where a value known to be enqueued stands in its block.
func (q *qchecker) enq0(v uint64) vref {
	e := q.vals.find(v)
	return vref{e.block, e.pos}
}

func (q *qchecker) deqOf(v uint64) (dref, bool) {
	e := q.vals.find(v)
	return dref{e.dop, e.dpos}, e.dop >= 0
}

const maskWords = 4 // up to 256 operations in flight at once

type config struct {
	mask      [maskWords]uint64 // pending operations already linearized, by slot
	s         seq               // block at each queue position
	head, nIn int32             // the queue holds positions head..nIn-1
	off       int32             // values of the head block already dequeued
	size      int
	maxKey    int64  // largest lastCall of any block this order has enqueued
	chash     uint64 // sum of mix(block, position) over the queue
}

// guide is how a guided sweep picks the one order of enqueues it tries.
type guide uint8

const (
	guideNone   guide = iota // the full sweep
	guideLocal               // a returning enqueue lets in first the pending ones whose values left earlier
	guideGlobal              // enqueues take effect in the order guessOrder fixed
)

type qchecker struct {
	h      *History
	spec   model.Spec
	cap    int
	ops    []qop
	blocks []qblock
	vals   values

	status []uint8 // 0 not called, 1 pending, 2 returned
	slot   []int16
	free   []int16
	pend   []int32 // pending operations in call order
	now    int64

	failCalls []int32 // non-exempt kFull operations, by call

	evs          []event
	work, budget int64
	guided       guide
	rank         []int32 // guideGlobal's position of each block
	byRank       []int32 // and the block at each position
	gen, next    []config
	keys         []uint64 // key of each state in next
	index        map[uint64][]int32
	indexed      bool // index holds next's keys
}

const (
	stNew uint8 = iota
	stPending
	stDone
)

var errBudget = errors.New("work budget spent")

// WorkPerOp is the queue checker's work budget per operation: Check
// gives up, undecided, after WorkPerOp x (operations + 1024) candidate
// states. Every history a scenario here produces needs a small fraction.
const WorkPerOp = 4096

// checkQueue decides the history against spec for a queue of capacity cap
// within budget candidate states. With guess set it first tries two
// guided sweeps, each keeping one order of the enqueues (see guide), which
// decide most histories that are linearizable in a single pass over few
// states; only if neither completes does the full sweep decide.
func (h *History) checkQueue(spec model.Spec, cap int, budget int64, guess bool) Result {
	q := &qchecker{h: h, spec: spec, cap: cap, budget: budget}
	if r, ok := q.prepare(); !ok {
		return r
	}
	if r, ok := q.patterns(); !ok {
		return r
	}
	if guess {
		q.guessOrder()
		for _, mode := range []guide{guideGlobal, guideLocal} {
			q.guided = mode
			if r := q.sweep(); r.Verdict == Ok {
				return r
			}
		}
		q.guided = guideNone
	}
	return q.sweep()
}

func illegal(ops []int, format string, args ...any) Result {
	var named []int
	for _, i := range ops {
		if !slices.Contains(named, i) {
			named = append(named, i)
		}
	}
	return Result{Verdict: Illegal, Reason: fmt.Sprintf(format, args...), Ops: named}
}

// prepare classifies the operations and indexes the values; it rejects
// results no state could give.
func (q *qchecker) prepare() (Result, bool) {
	h := q.h
	q.ops = make([]qop, len(h.Ops))
	q.vals = newValues(h.Ops)
	nblocks := 0
	for _, o := range h.Ops {
		if o.Enqueue && o.Got > 0 {
			nblocks++
		}
	}
	q.blocks = make([]qblock, 0, nblocks)
	for i, o := range h.Ops {
		p := qop{call: o.Call, ret: o.Return}
		if o.Return < o.Call {
			return Result{Verdict: Undecided, Reason: fmt.Sprintf("%s returns before it is called", q.name(i))}, false
		}
		switch {
		case o.Enqueue && len(o.Vals) == 0:
			if o.Got != 0 {
				return illegal([]int{i}, "%s: an enqueue of nothing returned %d", q.name(i), o.Got), false
			}
			p.kind = kNop
		case o.Enqueue && o.Got == 0:
			p.kind, p.m = kFull, len(o.Vals)
		case o.Enqueue && o.Got == len(o.Vals):
			p.kind, p.block = kEnq, int32(len(q.blocks))
			q.blocks = append(q.blocks, qblock{op: int32(i), vals: o.Vals, lastCall: math.MaxInt64, firstRet: math.MaxInt64, pred: -1, succ: -1})
			for j, v := range o.Vals {
				if e := q.vals.at(v); e.block >= 0 {
					return Result{Verdict: Undecided, Reason: fmt.Sprintf("value %d is enqueued twice: the queue checker needs distinct values", v)}, false
				} else {
					e.block, e.pos = p.block, int32(j)
				}
			}
		case o.Enqueue:
			return illegal([]int{i}, "%s: an enqueue returns all of its values or none", q.name(i)), false
		case o.N == 0 && len(o.Out) == 0:
			p.kind = kNop
		default:
			if len(o.Out) > o.N {
				return illegal([]int{i}, "%s: more values than asked for", q.name(i)), false
			}
			p.kind, p.n, p.out = kDeq, o.N, o.Out
		}
		q.ops[i] = p
	}
	for i, p := range q.ops {
		prev := vref{block: -1}
		for j, v := range p.out {
			e := q.vals.at(v)
			if e.block < 0 {
				return illegal([]int{i}, "%s returned %d, which no enqueue put in", q.name(i), v), false
			}
			if e.dop >= 0 {
				return illegal([]int{int(e.dop), i}, "value %d was dequeued twice: by %s and by %s", v, q.name(int(e.dop)), q.name(i)), false
			}
			e.dop, e.dpos = int32(i), int32(j)
			r := vref{e.block, e.pos}
			if p.ret < q.ops[q.blocks[r.block].op].call {
				e := int(q.blocks[r.block].op)
				return illegal([]int{i, e}, "%s returned %d before %s, which enqueued it, began", q.name(i), v, q.name(e)), false
			}
			// One block's last value followed by another's first: the
			// second enters right after the first.
			if prev.block >= 0 && prev.block != r.block && r.pos == 0 && int(prev.pos) == len(q.blocks[prev.block].vals)-1 {
				q.blocks[prev.block].succ, q.blocks[r.block].pred = r.block, prev.block
			}
			prev = r
		}
	}
	for b := range q.blocks {
		blk := &q.blocks[b]
		last := int64(math.MinInt64)
		for j, v := range blk.vals {
			d, ok := q.deqOf(v)
			if !ok {
				last = math.MaxInt64
				continue
			}
			if n := len(blk.takers); n == 0 || blk.takers[n-1] != d.op {
				blk.takers = append(blk.takers, d.op)
			}
			if j == 0 {
				blk.firstRet = q.ops[d.op].ret
			}
			last = max(last, q.ops[d.op].call)
		}
		blk.lastCall = last
	}
	q.markExempt()
	return Result{}, true
}

// markExempt marks the refused enqueues that need no justification under
// ALF: those that overlap another operation in time (calls and returns at
// the same time overlap, as in porcupine).
func (q *qchecker) markExempt() {
	calls, rets := make([]int64, len(q.ops)), make([]int64, len(q.ops))
	for i, p := range q.ops {
		calls[i], rets[i] = p.call, p.ret
	}
	overlaps := overlapping(calls, rets)
	for i := range q.ops {
		if p := &q.ops[i]; p.kind == kFull && q.spec == model.ALF && overlaps[i] {
			p.exempt = true
		}
	}
	for i := range q.ops {
		if p := &q.ops[i]; p.kind == kFull && !p.exempt {
			q.failCalls = append(q.failCalls, int32(i))
		}
	}
	slices.SortFunc(q.failCalls, func(a, b int32) int { return cmp.Or(cmp.Compare(q.ops[a].call, q.ops[b].call), cmp.Compare(a, b)) })
}

// patterns looks for the violations that two or three operations show by
// themselves, so that most failures are reported by the operations that
// make them. Each is sufficient for a violation; the sweep decides the rest.
func (q *qchecker) patterns() (Result, bool) {
	// A block's values leave in their order; a dequeue's values entered in
	// theirs.
	for _, blk := range q.blocks {
		for j := 1; j < len(blk.vals); j++ {
			a, b := blk.vals[j-1], blk.vals[j]
			da, aOut := q.deqOf(a)
			db, bOut := q.deqOf(b)
			switch {
			case bOut && !aOut:
				return illegal([]int{int(blk.op), int(db.op)}, "%d and %d entered together by %s, but %d was dequeued by %s while %d never was",
					a, b, q.name(int(blk.op)), b, q.name(int(db.op)), a), false
			case aOut && bOut && (q.ops[db.op].ret < q.ops[da.op].call || (da.op == db.op && db.pos < da.pos)):
				return illegal([]int{int(blk.op), int(db.op), int(da.op)}, "%d and %d entered in that order by %s, but %s took %d before %s took %d",
					a, b, q.name(int(blk.op)), q.name(int(db.op)), b, q.name(int(da.op)), a), false
			}
		}
	}
	for i, p := range q.ops {
		for j := 1; j < len(p.out); j++ {
			ra, rb := q.enq0(p.out[j-1]), q.enq0(p.out[j])
			ea, eb := q.blocks[ra.block].op, q.blocks[rb.block].op
			if q.ops[eb].ret < q.ops[ea].call {
				return illegal([]int{i, int(eb), int(ea)}, "%s returned %d before %d, but %d was enqueued by %s, which returned before %s, which enqueued %d, began",
					q.name(i), p.out[j-1], p.out[j], p.out[j], q.name(int(eb)), q.name(int(ea)), p.out[j-1]), false
			}
		}
	}
	// One block enqueued entirely before another, whose value leaves
	// entirely before the first one's; and a dequeue that reports fewer
	// values than asked while a value certainly in the queue all along is
	// not among them.
	type probe struct {
		at   int64
		kind int // 0: a block becomes "surely before" (at its return); 1: block query; 2: short dequeue
		idx  int
	}
	// At equal times, queries (short dequeues, then blocks) come before
	// returns, which overlap them: the probes are listed in that order
	// and sorted by time, then by place in the list.
	var probes []probe
	for i, p := range q.ops {
		if p.kind == kDeq && len(p.out) < p.n {
			probes = append(probes, probe{p.call, 2, i})
		}
	}
	for b, blk := range q.blocks {
		if blk.firstRet != math.MaxInt64 {
			probes = append(probes, probe{q.ops[blk.op].call, 1, b})
		}
	}
	for b, blk := range q.blocks {
		probes = append(probes, probe{q.ops[blk.op].ret, 0, b})
	}
	order := orderBy(len(probes), func(i int) int64 { return probes[i].at })
	best := -1 // block with the latest lastCall among those surely enqueued
	for _, k := range order {
		pr := probes[k]
		switch pr.kind {
		case 0:
			if best < 0 || q.blocks[pr.idx].lastCall > q.blocks[best].lastCall {
				best = pr.idx
			}
		case 1:
			b := &q.blocks[pr.idx]
			if best >= 0 && q.blocks[best].lastCall > b.firstRet {
				return q.orderViolation(best, pr.idx), false
			}
		case 2:
			p := &q.ops[pr.idx]
			if best >= 0 && q.blocks[best].lastCall > p.ret {
				return q.shortViolation(pr.idx, best), false
			}
		}
	}
	return Result{}, true
}

// lateValue is the value of block b that leaves last (or never).
func (q *qchecker) lateValue(b int) (uint64, int) {
	blk := &q.blocks[b]
	for _, v := range slices.Backward(blk.vals) {
		d, ok := q.deqOf(v)
		if !ok {
			return v, -1
		}
		if q.ops[d.op].call == blk.lastCall {
			return v, int(d.op)
		}
	}
	return blk.vals[len(blk.vals)-1], -1
}

func (q *qchecker) orderViolation(a, b int) Result {
	va, da := q.lateValue(a)
	vb := q.blocks[b].vals[0]
	d, _ := q.deqOf(vb)
	db := int(d.op)
	ea, eb := int(q.blocks[a].op), int(q.blocks[b].op)
	if da < 0 {
		return illegal([]int{db, ea, eb}, "%s returned %d while %d, enqueued earlier by %s (returned before %s, which enqueued %d, began), never left the queue",
			q.name(db), vb, va, q.name(ea), q.name(eb), vb)
	}
	return illegal([]int{db, ea, eb, da}, "%s returned %d while %d, enqueued earlier by %s (returned before %s, which enqueued %d, began), was still in the queue: %s took it later",
		q.name(db), vb, va, q.name(ea), q.name(eb), vb, q.name(da))
}

func (q *qchecker) shortViolation(d, b int) Result {
	v, dv := q.lateValue(b)
	e := int(q.blocks[b].op)
	p := &q.ops[d]
	what := fmt.Sprintf("%d of the %d values asked for", len(p.out), p.n)
	if len(p.out) == 0 {
		what = "nothing (empty)"
	}
	if dv < 0 {
		return illegal([]int{d, e}, "%s returned %s while %d, enqueued by %s before it began, was in the queue and never left",
			q.name(d), what, v, q.name(e))
	}
	return illegal([]int{d, e, dv}, "%s returned %s while %d, enqueued by %s before it began, was still in the queue: %s took it after it returned",
		q.name(d), what, v, q.name(e), q.name(dv))
}

// name describes operation i for a report: who, when, what.
func (q *qchecker) name(i int) string {
	o := q.h.Ops[i]
	return fmt.Sprintf("%s by client %d (%s)", o, o.Client, steps(o.Call, o.Return))
}

// steps shows an operation's interval in the machine's steps (see the
// package documentation for the time scale), or in raw times.
func steps(call, ret int64) string {
	if call < 0 || call%2 == 0 || ret%2 != 0 || ret <= call {
		return fmt.Sprintf("times %d-%d", call, ret)
	}
	first, last := call/2+1, ret/2
	if first == last {
		return fmt.Sprintf("step %d", first)
	}
	return fmt.Sprintf("steps %d-%d", first, last)
}

// events lists the calls and returns in time order (see timeOrder).
func (q *qchecker) events() []event {
	calls, rets := make([]int64, len(q.ops)), make([]int64, len(q.ops))
	for i, p := range q.ops {
		calls[i], rets[i] = p.call, p.ret
	}
	return timeOrder(calls, rets)
}

// sweep walks the calls and returns in time order, keeping every distinct
// state (which pending operations have taken effect, and the queue's
// contents in order) that some order of the operations so far can reach.
func (q *qchecker) sweep() Result {
	n := len(q.ops)
	if q.evs == nil {
		q.evs = q.events()
	}
	evs := q.evs
	q.status = make([]uint8, n)
	q.slot = make([]int16, n)
	q.pend, q.free, q.next = nil, nil, nil
	for i := maskWords*64 - 1; i >= 0; i-- {
		q.free = append(q.free, int16(i))
	}
	q.index = make(map[uint64][]int32)
	q.gen = []config{{s: newSeq(len(q.blocks) + 1), maxKey: math.MinInt64}}
	for _, ev := range evs {
		q.now = ev.at
		i := int(ev.op)
		if !ev.ret {
			if len(q.free) == 0 {
				return Result{Verdict: Undecided, Reason: fmt.Sprintf("more than %d operations in flight at once", maskWords*64), Work: q.work}
			}
			q.slot[i] = q.free[len(q.free)-1]
			q.free = q.free[:len(q.free)-1]
			q.status[i] = stPending
			q.pend = append(q.pend, int32(i))
			if err := q.closure(-1, i); err != nil {
				return q.undecided()
			}
			continue
		}
		before := q.gen[0]
		if err := q.closure(i, -1); err != nil {
			return q.undecided()
		}
		sl := q.slot[i]
		kept := q.gen[:0]
		for _, c := range q.gen {
			if c.mask[sl/64]&(1<<(sl%64)) != 0 {
				c.mask[sl/64] &^= 1 << (sl % 64)
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			return q.death(i, before)
		}
		q.status[i] = stDone
		q.free = append(q.free, sl)
		q.pend = slices.DeleteFunc(q.pend, func(p int32) bool { return int(p) == i })
		q.gen = q.dedup(kept)
	}
	return Result{Verdict: Ok, Work: q.work}
}

func (q *qchecker) undecided() Result {
	return Result{Verdict: Undecided, Work: q.work,
		Reason: fmt.Sprintf("the queue check spent its budget of %d candidate states (%d operations) without a verdict", q.budget, len(q.ops))}
}

func (q *qchecker) linearized(c *config, op int) bool {
	switch q.status[op] {
	case stDone:
		return true
	case stPending:
		s := q.slot[op]
		return c.mask[s/64]&(1<<(s%64)) != 0
	}
	return false
}

// blockAt is the block at a queue position. Under guideGlobal blocks go in
// in rank order, so the position says which, and states keep no array.
func (q *qchecker) blockAt(c *config, pos int) int32 {
	if q.guided == guideGlobal {
		return q.byRank[pos]
	}
	return c.s.get(pos)
}

func (c *config) mark(s int16) { c.mask[s/64] |= 1 << (s % 64) }

func mix(block int32, pos int32) uint64 {
	x := uint64(uint32(block))<<32 | uint64(uint32(pos))
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (c *config) key() uint64 {
	h := c.chash ^ uint64(c.off)*0x9e3779b97f4a7c15
	for _, w := range c.mask {
		h = (h ^ w) * 0x100000001b3
		h ^= h >> 29
	}
	return h
}

func (q *qchecker) same(a, b *config) bool {
	return a.mask == b.mask && a.head == b.head && a.nIn == b.nIn && a.off == b.off && a.size == b.size &&
		(q.guided == guideGlobal || equalRange(a.s, b.s, int(a.head), int(a.nIn)))
}

// add puts c in the next generation unless an equal state is there. A
// small generation is searched directly; a large one through the index.
func (q *qchecker) add(c config) {
	k := c.key()
	if len(q.next) < smallGen {
		for j := range q.next {
			if q.keys[j] == k && q.same(&q.next[j], &c) {
				return
			}
		}
	} else {
		if !q.indexed {
			clear(q.index)
			for j := range q.next {
				q.index[q.keys[j]] = append(q.index[q.keys[j]], int32(j))
			}
			q.indexed = true
		}
		for _, j := range q.index[k] {
			if q.same(&q.next[j], &c) {
				return
			}
		}
		q.index[k] = append(q.index[k], int32(len(q.next)))
	}
	q.keys = append(q.keys, k)
	q.next = append(q.next, c)
}

const smallGen = 16

// reset empties the next generation.
func (q *qchecker) reset() {
	q.next, q.keys, q.indexed = q.next[:0], q.keys[:0], false
}

func (q *qchecker) dedup(gen []config) []config {
	q.reset()
	for _, c := range gen {
		q.add(c)
	}
	q.gen, q.next = q.next, gen[:0]
	return q.gen
}

// closure replaces the generation by every state reachable from it with
// the pending operations: forced moves applied at once, optional moves
// explored. due is the operation returning now, called the one called
// now; -1 for neither.
func (q *qchecker) closure(due, called int) error {
	q.reset()
	for _, c := range q.gen {
		// The states are normalized already. Without refused enqueues
		// that need justifying, what normalize does depends only on the
		// state and which operations are pending: only an operation just
		// called can start new moves, by itself or, for an enqueue, by
		// letting a dequeue of its values in.
		if len(q.failCalls) > 0 || (called >= 0 && q.enables(&c, called)) {
			if err := q.normalize(&c); err != nil {
				return err
			}
		}
		q.add(c)
	}
	for k := 0; k < len(q.next); k++ {
		c := q.next[k]
		// Enqueues may take effect early only for a refused enqueue that
		// needs the queue fuller, or to stand before the due enqueue.
		enqOK := due >= 0 && q.ops[due].kind == kEnq && !q.linearized(&c, due)
		only := -1 // the one enqueue guideLocal lets in
		if enqOK && q.guided == guideLocal {
			only = due
			for _, p := range q.pend {
				if q.ops[p].kind == kEnq && !q.linearized(&c, int(p)) && q.leftBefore(int(p), only) {
					only = int(p)
				}
			}
		}
		if len(q.failCalls) > 0 {
			for _, p := range q.pend {
				if o := &q.ops[p]; o.kind == kFull && !o.exempt && !q.linearized(&c, int(p)) {
					enqOK, only = true, -1
					break
				}
			}
		}
		if q.guided != guideNone && !enqOK && (due < 0 || q.linearized(&c, due)) {
			continue // nothing a guided sweep may do optionally
		}
		for _, p := range q.pend {
			if q.linearized(&c, int(p)) {
				continue
			}
			o := &q.ops[p]
			var nc config
			var ok bool
			switch {
			case o.kind == kDeq && (q.guided == guideNone || int(p) == due):
				// A guided sweep makes the dequeues that are safe at
				// once, and the others only when they return.
				nc, ok = q.withBlocks(c, int(p))
			case o.kind == kEnq && enqOK && (only < 0 || only == int(p)):
				ok = q.enqueue(&c, &nc, int(p))
			}
			if !ok {
				continue
			}
			if err := q.normalize(&nc); err != nil {
				return err
			}
			q.add(nc)
		}
	}
	q.gen, q.next = q.next, q.gen[:0]
	return nil
}

func (q *qchecker) spend() error {
	q.work++
	if q.work > q.budget {
		return errBudget
	}
	return nil
}

// leftBefore guesses, for guideLocal, that enqueue a's values left before
// enqueue b's: its first value was dequeued by a call that returned first
// (of two overlapping dequeues, that one can always take effect first), or
// earlier in the same dequeue.
func (q *qchecker) leftBefore(a, b int) bool {
	da, aOut := q.deqOf(q.blocks[q.ops[a].block].vals[0])
	db, bOut := q.deqOf(q.blocks[q.ops[b].block].vals[0])
	switch {
	case !aOut:
		return false
	case !bOut:
		return true
	case da.op == db.op:
		return da.pos < db.pos
	}
	return cmp.Or(cmp.Compare(q.ops[da.op].ret, q.ops[db.op].ret), cmp.Compare(da.op, db.op)) < 0
}

// guessOrder chooses one order of the blocks for the guided sweep: a
// topological order of "enqueue returned before the other's was called",
// taking among the blocks free to go next the one with a value dequeued by
// the call that returned first (of two overlapping dequeues, that one can
// always take effect first), then by its place in that dequeue's result;
// blocks never dequeued last, in call order.
func (q *qchecker) guessOrder() {
	n := len(q.blocks)
	type key struct {
		ret  int64
		pos  int32
		call int64
	}
	keys := make([]key, n)
	for b := range n {
		k := key{math.MaxInt64, 0, q.ops[q.blocks[b].op].call}
		for _, v := range q.blocks[b].vals {
			if d, ok := q.deqOf(v); ok && q.ops[d.op].ret < k.ret {
				k = key{q.ops[d.op].ret, d.pos, 0}
			}
		}
		keys[b] = k
	}
	enq := func(b int32) *qop { return &q.ops[q.blocks[b].op] }
	byCall := orderBy(n, func(b int) int64 { return enq(int32(b)).call })
	byRet := orderBy(n, func(b int) int64 { return enq(int32(b)).ret })
	emitted := make([]bool, n)
	ready := &blockHeap{less: func(a, b int32) bool {
		ka, kb := keys[a], keys[b]
		return cmp.Or(cmp.Compare(ka.ret, kb.ret), cmp.Compare(ka.pos, kb.pos), cmp.Compare(ka.call, kb.call), cmp.Compare(a, b)) < 0
	}}
	q.rank, q.byRank = make([]int32, n), make([]int32, n)
	nextCall, minRet := 0, 0
	for k := range n {
		for minRet < n && emitted[byRet[minRet]] {
			minRet++
		}
		// A block may go next once every block that returned before its
		// call has gone.
		for nextCall < n && (minRet == n || enq(int32(byCall[nextCall])).call <= enq(int32(byRet[minRet])).ret) {
			heap.Push(ready, int32(byCall[nextCall]))
			nextCall++
		}
		b := heap.Pop(ready).(int32)
		emitted[b] = true
		q.rank[b] = int32(k)
		q.byRank[k] = b
	}
}

type blockHeap struct {
	items []int32
	less  func(a, b int32) bool
}

func (h *blockHeap) Len() int           { return len(h.items) }
func (h *blockHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *blockHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *blockHeap) Push(x any)         { h.items = append(h.items, x.(int32)) }
func (h *blockHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// enqueue appends op's block to c giving nc, if it fits and may stand
// behind everything this order has enqueued.
func (q *qchecker) enqueue(c, nc *config, op int) bool {
	o := &q.ops[op]
	blk := &q.blocks[o.block]
	if c.size+len(blk.vals) > q.cap || c.maxKey > blk.firstRet || (q.guided == guideGlobal && q.rank[o.block] != c.nIn) {
		return false
	}
	last := int32(-1)
	if c.nIn > 0 {
		last = q.blockAt(c, int(c.nIn)-1)
	}
	if (blk.pred >= 0 && blk.pred != last) || (last >= 0 && q.blocks[last].succ >= 0 && q.blocks[last].succ != o.block) {
		return false
	}
	*nc = *c
	if q.guided != guideGlobal {
		nc.s = c.s.set(int(c.nIn), o.block)
	}
	nc.chash += mix(o.block, c.nIn)
	nc.nIn++
	nc.size += len(blk.vals)
	nc.maxKey = max(c.maxKey, blk.lastCall)
	nc.mark(q.slot[op])
	return true
}

// withBlocks makes dequeue op take effect after the pending enqueues of
// the values it returned, in the order it returned them.
func (q *qchecker) withBlocks(c config, op int) (config, bool) {
	o := &q.ops[op]
	// What is queued must be the start of the result, and the rest must
	// begin a pending block: checked before building anything.
	k := min(c.size, len(o.out))
	if k == len(o.out) {
		if !q.deqLegal(&c, o) {
			return c, false
		}
		q.dequeue(&c, op)
		return c, true
	}
	if !q.frontIs(&c, o.out[:k]) {
		return c, false
	}
	if r := q.enq0(o.out[k]); r.pos != 0 || q.status[q.blocks[r.block].op] != stPending {
		return c, false
	}
	for _, v := range o.out[k:] {
		r := q.enq0(v)
		e := int(q.blocks[r.block].op)
		if q.linearized(&c, e) {
			continue
		}
		if q.status[e] != stPending || r.pos != 0 {
			return c, false
		}
		var nc config
		if !q.enqueue(&c, &nc, e) {
			return c, false
		}
		c = nc
	}
	if !q.deqLegal(&c, o) {
		return c, false
	}
	q.dequeue(&c, op)
	return c, true
}

func (q *qchecker) deqLegal(c *config, o *qop) bool {
	k := len(o.out)
	if c.size < k || (k < o.n && c.size != k) {
		return false
	}
	return q.frontIs(c, o.out)
}

// frontIs reports whether the queue starts with vals (it holds at least
// that many).
func (q *qchecker) frontIs(c *config, vals []uint64) bool {
	k := len(vals)
	pos, off := int(c.head), int(c.off)
	for i := 0; i < k; {
		blk := q.blocks[q.blockAt(c, pos)].vals
		for off < len(blk) && i < k {
			if blk[off] != vals[i] {
				return false
			}
			off++
			i++
		}
		if off == len(blk) {
			pos++
			off = 0
		}
	}
	return true
}

func (q *qchecker) dequeue(c *config, op int) {
	o := &q.ops[op]
	left := len(o.out)
	for left > 0 {
		b := q.blockAt(c, int(c.head))
		rest := len(q.blocks[b].vals) - int(c.off)
		if left < rest {
			c.off += int32(left)
			break
		}
		left -= rest
		c.chash -= mix(b, c.head)
		c.head++
		c.off = 0
	}
	c.size -= len(o.out)
	c.mark(q.slot[op])
}

// normalize applies the moves that are always safe to make at once: an
// operation that changes nothing and is legal now; and, when no refused
// enqueue that needs the queue full could still come before it, a dequeue
// that is legal now, or that becomes legal by letting the pending
// enqueues of its values in first and then leaves none of their values
// behind (see the package documentation).
func (q *qchecker) normalize(c *config) error {
	for changed := true; changed; {
		changed = false
		for _, p := range q.pend {
			if q.eager(c, int(p)) {
				if err := q.spend(); err != nil {
					return err
				}
				changed = true
			}
		}
	}
	return q.spend()
}

// enables makes the move that the call of op may have made possible at
// once, if there is one, and reports whether it did: op itself, or for an
// enqueue, a pending dequeue of its values.
func (q *qchecker) enables(c *config, op int) bool {
	if q.ops[op].kind != kEnq {
		return q.eager(c, op)
	}
	for _, d := range q.blocks[q.ops[op].block].takers {
		if q.status[d] == stPending && q.eager(c, int(d)) {
			return true
		}
	}
	return false
}

// eager makes pending operation p take effect in c if that is one of the
// moves normalize makes at once, and reports whether it did.
func (q *qchecker) eager(c *config, p int) bool {
	if q.linearized(c, p) {
		return false
	}
	o := &q.ops[p]
	switch o.kind {
	case kNop:
	case kFull:
		if !o.exempt && c.size+o.m <= q.cap {
			return false
		}
	case kDeq:
		// An empty result changes nothing: always safe when legal.
		if len(o.out) > 0 && !q.dequeueSafe(c, o) {
			return false
		}
		if q.deqLegal(c, o) {
			q.dequeue(c, p)
		} else if nc, ok := q.withBlocks(*c, p); ok && nc.off == 0 {
			*c = nc
		} else {
			return false
		}
		return true
	default:
		return false
	}
	c.mark(q.slot[p])
	return true
}

// dequeueSafe: no refused enqueue that needs justifying, not yet taken
// effect in c, is called before o returns (or at the same time: equal
// times overlap).
func (q *qchecker) dequeueSafe(c *config, o *qop) bool {
	if len(q.failCalls) == 0 {
		return true
	}
	for _, p := range q.pend {
		if f := &q.ops[p]; f.kind == kFull && !f.exempt && !q.linearized(c, int(p)) {
			return false
		}
	}
	i, _ := slices.BinarySearchFunc(q.failCalls, q.now, func(f int32, t int64) int { return cmp.Compare(q.ops[f].call, t) })
	for ; i < len(q.failCalls) && q.ops[q.failCalls[i]].call <= o.ret; i++ {
		if q.status[q.failCalls[i]] == stNew {
			return false
		}
	}
	return true
}

// death explains why op, returning now, can take effect in no order,
// from one of the states that were possible before.
func (q *qchecker) death(op int, c config) Result {
	o := &q.ops[op]
	var queue []string
	pos, off := int(c.head), int(c.off)
	for pos < int(c.nIn) && len(queue) < 8 {
		vals := q.blocks[q.blockAt(&c, pos)].vals
		for ; off < len(vals) && len(queue) < 8; off++ {
			queue = append(queue, fmt.Sprint(vals[off]))
		}
		pos++
		off = 0
	}
	held := "[" + strings.Join(queue, " ")
	if c.size > len(queue) {
		held += " ..."
	}
	held += "]"
	why := "it cannot take effect in any order of the operations before it returned"
	switch o.kind {
	case kFull:
		why = fmt.Sprintf("the queue always had room for its %d values: it never held more than %d of %d slots at a moment within its call", o.m, q.cap-o.m, q.cap)
		if q.spec == model.ALF {
			why += ", and it overlapped no other operation"
		}
	case kEnq:
		why = fmt.Sprintf("no order lets its %d values in: it needs %d free slots of %d and the order of the values dequeued must match", len(q.blocks[o.block].vals), len(q.blocks[o.block].vals), q.cap)
	case kDeq:
		switch {
		case len(o.out) == 0:
			why = "no order of the operations before it leaves the queue empty at a moment within its call"
		case len(o.out) < o.n:
			why = "no order of the operations before it leaves exactly these values in the queue at a moment within its call"
		default:
			why = "no order of the operations before it puts exactly these values at the front of the queue"
		}
	}
	return illegal([]int{op}, "%s: %s (one state possible just before it returned: the queue held %s, %d values)", q.name(op), why, held, c.size)
}
