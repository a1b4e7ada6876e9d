package litmus

import "slices"

// The Linux-kernel memory model, from the kernel's
// tools/memory-model/linux-kernel.cat, .bell, .def and lock.cat (the
// herd7 model as herdtools7 carries it in late 2026: rmw-sequence in
// cumul-fence and w-post-bounded, carry-dep in the bell) and
// Documentation/explanation.txt, written as Go functions over an
// execution's relations. Each relation below carries the cat file's name.
// Plain accesses are left out of the Marked relations, checked by the
// plain-coherence axiom, and an allowed execution with a data race carries
// the data-race flag.

// LKMM is the Linux-kernel memory model.
type LKMM struct{}

func (LKMM) Name() string { return "lkmm" }

// set is a set of events, by index.
type set []bool

// lkmm holds one execution's base sets and relations.
type lkmm struct {
	x *Execution
	n int
	// Event classes.
	R, W, M, IW, Plain, Marked, Acquire, Release, Noreturn, RMW, LKR, LKW, UL, SrcuLock, SrcuUnlock, SyncSrcu set
	// Base relations; rawData is data before the bell's carry-dep, which
	// srcu-rscs is defined with.
	po, rf, co, fr, rmw, addr, data, ctrl, rawData, intl, extl, id, loc rel
}

func (x *Execution) lkmm() *lkmm {
	n := len(x.Events)
	k := &lkmm{x: x, n: n}
	mk := func(f func(e *Event) bool) set {
		s := make(set, n)
		for i, e := range x.Events {
			s[i] = f(e)
		}
		return s
	}
	k.R = mk(func(e *Event) bool { return e.Kind == Read })
	k.W = mk(func(e *Event) bool { return e.Kind == Write })
	k.M = mk(func(e *Event) bool { return e.Kind != Fence })
	k.IW = mk(func(e *Event) bool { return e.Thread < 0 })
	k.Plain = mk(func(e *Event) bool { return e.Kind != Fence && e.Ann == "plain" })
	k.Marked = mk(func(e *Event) bool { return e.Ann != "plain" })
	// lock.cat: LKR events are acquires and UL events releases.
	k.Acquire = mk(func(e *Event) bool { return e.Ann == "acquire" || (e.Kind == Read && e.Ann == "lock") })
	k.Release = mk(func(e *Event) bool { return e.Ann == "release" || e.Ann == "unlock" })
	k.Noreturn = mk(func(e *Event) bool { return e.Kind == Read && e.Ann == "noreturn" })
	// The bell's RMW: every event of a read-modify-write instruction, the
	// lone read of one that failed included (a failed trylock is a lock
	// operation, not an RMW instruction).
	k.RMW = mk(func(e *Event) bool { return e.RMW >= 0 || e.Failed && e.Ann != "lock-failed" })
	k.LKR = mk(func(e *Event) bool { return e.Kind == Read && e.Ann == "lock" })
	k.LKW = mk(func(e *Event) bool { return e.Kind == Write && e.Ann == "lock" })
	k.UL = mk(func(e *Event) bool { return e.Ann == "unlock" })
	k.SrcuLock = mk(func(e *Event) bool { return e.Ann == "srcu-lock" })
	k.SrcuUnlock = mk(func(e *Event) bool { return e.Ann == "srcu-unlock" })
	k.SyncSrcu = mk(func(e *Event) bool { return e.Kind == Fence && e.Ann == "sync-srcu" })

	k.po, k.rf, k.co, k.fr = x.po(), x.rf(), x.co(), x.fr()
	k.rmw, k.addr, k.data, k.ctrl = newRel(n), newRel(n), newRel(n), newRel(n)
	k.intl, k.extl, k.id, k.loc = newRel(n), newRel(n), newRel(n), newRel(n)
	global := map[[2]int]int{} // (thread, index) -> event
	for i, e := range x.Events {
		global[[2]int{e.Thread, e.Index}] = i
	}
	for i, e := range x.Events {
		if e.RMW >= 0 && e.Kind == Read {
			k.rmw[i][e.RMW] = true
		}
		for _, deps := range []struct {
			r    rel
			from []int
		}{{k.addr, e.Addr}, {k.data, e.Data}, {k.ctrl, e.Ctrl}} {
			for _, d := range deps.from {
				deps.r[global[[2]int{e.Thread, d}]][i] = true
			}
		}
		for j, f := range x.Events {
			same := e.Thread >= 0 && e.Thread == f.Thread
			k.intl[i][j], k.extl[i][j] = same, !same && i != j
			// Accesses, and SRCU grace periods, have a location.
			located := (k.M[i] || k.SyncSrcu[i]) && (k.M[j] || k.SyncSrcu[j])
			k.loc[i][j] = located && e.Loc == f.Loc
		}
		k.id[i][i] = true
	}
	// The bell's carry-dep: a dependency carried through a store the
	// thread reads back, plain or marked, (data ; rfi)* before each kind.
	k.rawData = k.data
	carry := k.star(seq(k.data, k.only(not(k.SrcuUnlock)), k.inner(k.rf)))
	k.addr, k.ctrl, k.data = seq(carry, k.addr), seq(carry, k.ctrl), seq(carry, k.data)
	return k
}

// Relation algebra.

func (k *lkmm) empty() rel { return newRel(k.n) }

func or(rs ...rel) rel {
	out := newRel(len(rs[0]))
	for _, r := range rs {
		out.union(r)
	}
	return out
}

func and(a, b rel) rel {
	out := newRel(len(a))
	for i := range a {
		for j := range a[i] {
			out[i][j] = a[i][j] && b[i][j]
		}
	}
	return out
}

func minus(a, b rel) rel {
	out := newRel(len(a))
	for i := range a {
		for j := range a[i] {
			out[i][j] = a[i][j] && !b[i][j]
		}
	}
	return out
}

// seq is relational composition: a ; b ; ...
func seq(rs ...rel) rel {
	out := rs[0]
	for _, b := range rs[1:] {
		n := len(out)
		c := newRel(n)
		for i := range n {
			for m := range n {
				if !out[i][m] {
					continue
				}
				for j := range n {
					if b[m][j] {
						c[i][j] = true
					}
				}
			}
		}
		out = c
	}
	return out
}

// opt is r? : r or the identity.
func (k *lkmm) opt(r rel) rel { return or(r, k.id) }

// star is r*: the reflexive transitive closure.
func (k *lkmm) star(r rel) rel {
	c := or(r, k.id)
	n := len(c)
	for m := range n {
		for i := range n {
			if !c[i][m] {
				continue
			}
			for j := range n {
				if c[m][j] {
					c[i][j] = true
				}
			}
		}
	}
	return c
}

// only is [S]: the identity on S.
func (k *lkmm) only(s set) rel {
	r := newRel(k.n)
	for i, in := range s {
		r[i][i] = in
	}
	return r
}

func not(s set) set {
	out := make(set, len(s))
	for i, in := range s {
		out[i] = !in
	}
	return out
}

func both(a, b set) set {
	out := make(set, len(a))
	for i := range a {
		out[i] = a[i] && b[i]
	}
	return out
}

// fencerel(S): pairs separated in program order by a fence of kind ann.
func (k *lkmm) fencerel(ann string) rel {
	f := make(set, k.n)
	for i, e := range k.x.Events {
		f[i] = e.Kind == Fence && e.Ann == ann
	}
	return seq(k.po, k.only(f), k.po)
}

func (k *lkmm) ext(r rel) rel   { return and(r, k.extl) }
func (k *lkmm) inner(r rel) rel { return and(r, k.intl) }

// poLoc is program order between accesses to one variable.
func (k *lkmm) poLoc() rel {
	r := newRel(k.n)
	for i, a := range k.x.Events {
		for j, b := range k.x.Events {
			r[i][j] = k.po[i][j] && k.M[i] && k.M[j] && a.Loc == b.Loc
		}
	}
	return r
}

// Check implements Model with the model's axioms: coherence, atomic,
// happens-before and propagation.
func (LKMM) Check(x *Execution) string {
	k := x.lkmm()
	M, W := k.only(k.M), k.only(k.W)
	marked := k.only(k.Marked)
	rfe, rfi := k.ext(k.rf), k.inner(k.rf)

	// Sequential consistency per variable.
	if c := or(k.poLoc(), k.rf, k.co, k.fr).cycle(); c != nil {
		return "coherence cycle: " + x.describeCycle(c)
	}
	// Atomic read-modify-write: no write between the read's source and
	// the write (rmw & (fre ; coe) empty).
	if bad := and(k.rmw, seq(k.ext(k.fr), k.ext(k.co))); nonEmpty(bad) {
		return "atomic: another thread's write comes between a read-modify-write's read and its write"
	}

	// Release, acquire, and lock handoff.
	acqPo := seq(k.only(k.Acquire), k.po, M)
	poRel := seq(M, k.po, k.only(k.Release))
	// An unlock followed by a lock, of the same lock (rf) or, on one CPU,
	// of any (po).
	poUnlockLockPo := seq(k.po, k.only(k.UL), or(k.po, k.rf), k.only(k.LKR), k.po)

	// Fences.
	r4rmb := k.only(both(k.R, not(k.Noreturn)))
	rmb := seq(r4rmb, k.fencerel("rmb"), r4rmb)
	wmb := seq(W, k.fencerel("wmb"), W)
	rmwSet, lkw, ul := k.only(k.RMW), k.only(k.LKW), k.only(k.UL)
	mb := or(
		seq(M, k.fencerel("mb"), M),
		seq(M, k.fencerel("before-atomic"), rmwSet, k.opt(k.po), M),
		seq(M, k.opt(k.po), rmwSet, k.fencerel("after-atomic"), M),
		seq(M, k.opt(k.po), lkw, k.fencerel("after-spinlock"), M),
		seq(M, k.po, ul, or(k.co, k.po), lkw, k.fencerel("after-unlock-lock"), M),
		seq(M, k.opt(k.po), k.only(k.SrcuUnlock), k.fencerel("after-srcu-read-unlock"), M),
	)
	gracePeriods := either(k.fences("sync-rcu"), k.SyncSrcu)
	gp := seq(k.po, k.only(gracePeriods), k.opt(k.po))
	strongFence := or(mb, gp)
	nonrwFence := or(strongFence, poRel, acqPo)
	fence := or(nonrwFence, wmb, rmb)

	// Preserved program order.
	dep := or(k.addr, k.data)
	rwdep := seq(or(dep, k.ctrl), W)
	overwrite := or(k.co, k.fr)
	toW := or(rwdep, k.inner(overwrite), seq(k.addr, k.only(k.Plain), wmb))
	toR := or(k.addr, seq(dep, marked, rfi))
	ppo := or(toR, toW, fence, k.inner(poUnlockLockPo))

	// Propagation from releases and strong fences; a store carries what
	// it propagates to the read-modify-writes that read it in turn
	// (rmw-sequence).
	aCumul := func(r rel) rel { return seq(k.opt(seq(rfe, marked)), r) }
	rmwSequence := k.star(seq(k.rf, k.rmw))
	cumulFence := seq(marked, or(aCumul(or(strongFence, poRel)), wmb, poUnlockLockPo), marked, rmwSequence)
	prop := seq(marked, k.opt(k.ext(overwrite)), k.star(cumulFence), marked, k.opt(rfe), marked)

	// Happens before.
	hb := seq(marked, or(ppo, rfe, k.inner(minus(prop, k.id))), marked)
	if c := hb.cycle(); c != nil {
		return "happens-before cycle: " + x.describeCycle(c)
	}
	// Propagation: each non-rf link needs a strong fence.
	pb := seq(prop, strongFence, k.star(hb), marked)
	if c := pb.cycle(); c != nil {
		return "propagation cycle: " + x.describeCycleOf(c, "pb")
	}
	// RCU: a grace period and a read-side critical section, joined by
	// rcu-link, order like a strong fence between CPUs.
	rb, rcuFence := k.empty(), k.empty()
	if slices.Contains(gracePeriods, true) { // else rcu-order is empty
		rcuFence = k.rcuFence(hb, pb, prop)
		rb = seq(prop, rcuFence, k.star(hb), k.star(pb), marked)
		for i := range rb {
			if rb[i][i] {
				return "rcu: a read-side critical section overlaps a grace period it should not, at " + x.p.describe(x.Events[i])
			}
		}
	}
	x.Flags = append(x.Flags, k.rcuFlags()...)
	x.Flags = append(x.Flags, k.lockFlags()...)
	if !slices.Contains(k.Plain, true) {
		return ""
	}
	// A plain store and a marked access to one variable on one CPU with
	// nothing between them that the compiler must respect.
	if nonEmpty(k.mixedAccesses()) {
		x.Flags = append(x.Flags, "mixed-accesses")
	}
	// Plain accesses: what they may see, and the races between them.
	// From here on fence and strong-fence include rcu-fence, as in the
	// cat file's later definitions.
	fence2, strong2 := or(fence, rcuFence), or(strongFence, rcuFence)
	xbstar := k.star(or(hb, pb, rb))
	vis := seq(k.star(cumulFence), k.opt(rfe), marked, or(seq(strong2, marked, xbstar), k.inner(xbstar)))
	notNoreturn := k.only(not(k.Noreturn))
	wPre := seq(marked, k.opt(or(k.addr, fence2)))
	rPre := seq(marked, k.opt(or(k.addr, nonrwFence, seq(r4rmb, k.fencerel("rmb"), notNoreturn))))
	wPost := seq(k.opt(fence2), marked, rmwSequence)
	rPost := seq(k.opt(or(nonrwFence, seq(notNoreturn, k.fencerel("rmb"), r4rmb))), marked)
	wwVis := or(fence2, seq(strong2, xbstar, wPre), seq(wPost, vis, wPre))
	wrVis := or(fence2, seq(strong2, xbstar, rPre), seq(wPost, vis, rPre))
	rwXbstar := or(fence2, seq(rPost, xbstar, wPre))
	preRace := k.empty()
	for i := range k.n {
		for j := range k.n {
			preRace[i][j] = k.extl[i][j] && ((k.Plain[i] && k.M[j]) || (k.M[i] && !k.IW[i] && k.Plain[j]))
		}
	}
	incoh := or(
		and(and(preRace, k.rf), transpose(rwXbstar)),
		and(and(preRace, k.fr), transpose(wrVis)),
		and(and(preRace, k.co), transpose(wwVis)))
	if nonEmpty(incoh) {
		return "plain-coherence: a plain access sees a value it cannot see"
	}
	markedW, wMarked := k.empty(), k.empty()
	for i := range k.n {
		for j := range k.n {
			markedW[i][j] = k.Marked[i] && k.W[j]
			wMarked[i][j] = k.W[i] && k.Marked[j]
		}
	}
	wwNonrace := and(and(wwVis, or(markedW, rwXbstar)), or(wMarked, wrVis))
	race := or(
		minus(and(preRace, k.co), wwNonrace),
		minus(minus(and(preRace, seq(k.opt(k.co), k.rf)), wrVis), transpose(rwXbstar)),
		minus(and(preRace, k.fr), rwXbstar))
	if nonEmpty(race) {
		x.Flags = append(x.Flags, "data-race")
	}
	return ""
}

// mixedAccesses is the cat file's mixed-accesses: a plain store and a
// marked access of one variable in program order, in either order, with
// no barrier between (a compiler barrier, a fence, an acquire before or a
// release after, RCU's markers).
//
// herd7 tags a fully ordered RMW's own read and write Mb, where this
// engine puts two smp_mb() fences around it; for this relation the RMW's
// events stand between other accesses, its fences do not.
func (k *lkmm) mixedAccesses() rel {
	fenceKinds := set(make([]bool, k.n))
	for i, e := range k.x.Events {
		switch e.Ann {
		case "barrier", "rmb", "wmb", "sync-rcu", "sync-srcu", "before-atomic", "after-atomic", "rcu-lock", "rcu-unlock":
			fenceKinds[i] = e.Kind == Fence
		case "mb":
			fenceKinds[i] = e.Kind == Fence && (e.Op == "smp_mb" || e.Op == "smp_store_mb")
		}
		fullRMW := e.RMW >= 0 && e.Ann != "noreturn" && e.Ann != "lock" && Ordering(e.Op) == ""
		fenceKinds[i] = fenceKinds[i] || fullRMW || k.Acquire[i] || k.Release[i] || k.SrcuLock[i] || k.SrcuUnlock[i]
	}
	barrier := or(seq(k.po, k.only(fenceKinds), k.po), seq(k.po, k.only(k.Release)), seq(k.only(k.Acquire), k.po))
	plainW, marked := k.only(both(k.Plain, k.W)), k.only(k.Marked)
	loc := minus(k.poLoc(), barrier)
	return or(seq(plainW, loc, marked), seq(marked, loc, plainW))
}

// fences is the set of fence events of kind ann.
func (k *lkmm) fences(ann string) set {
	f := make(set, k.n)
	for i, e := range k.x.Events {
		f[i] = e.Kind == Fence && e.Ann == ann
	}
	return f
}

// rcuRscs pairs each rcu_read_lock() with the rcu_read_unlock() that ends
// it, nested sections included (the bell's rcu-rscs).
func (k *lkmm) rcuRscs() rel {
	r := newRel(k.n)
	stack := map[int][]int{} // by thread
	for i, e := range k.x.Events {
		switch {
		case e.Kind == Fence && e.Ann == "rcu-lock":
			stack[e.Thread] = append(stack[e.Thread], i)
		case e.Kind == Fence && e.Ann == "rcu-unlock":
			if s := stack[e.Thread]; len(s) > 0 {
				r[s[len(s)-1]][i] = true
				stack[e.Thread] = s[:len(s)-1]
			}
		}
	}
	return r
}

// rcuFlags are the bell's checks of RCU and SRCU use: a lock or unlock
// with no partner, an SRCU lock whose value reaches more than one unlock, a
// synchronize_srcu() inside an RCU read-side critical section (it sleeps),
// and an SRCU section whose unlock is not given its lock's value.
func (k *lkmm) rcuFlags() []string {
	var flags []string
	rcuLock, rcuUnlock := k.fences("rcu-lock"), k.fences("rcu-unlock")
	rscs := k.rcuRscs()
	if slices.Contains(rcuLock, true) || slices.Contains(rcuUnlock, true) {
		if !subset(rcuLock, domain(rscs)) {
			flags = append(flags, "unmatched-rcu-lock")
		}
		if !subset(rcuUnlock, rangeOf(rscs)) {
			flags = append(flags, "unmatched-rcu-unlock")
		}
	}
	if !slices.Contains(either(k.SrcuLock, k.SrcuUnlock, k.SyncSrcu), true) {
		return flags
	}
	srscs := k.srcuRscs()
	if !subset(k.SrcuLock, domain(srscs)) {
		flags = append(flags, "unmatched-srcu-lock")
	}
	if !subset(k.SrcuUnlock, rangeOf(srscs)) {
		flags = append(flags, "unmatched-srcu-unlock")
	}
	if nonEmpty(minus(seq(transpose(srscs), srscs), k.id)) {
		flags = append(flags, "multiple-srcu-matches")
	}
	if nonEmpty(and(rscs, seq(k.po, k.only(k.SyncSrcu), k.po))) {
		flags = append(flags, "invalid-sleep")
	}
	for i := range srscs {
		for j, in := range srscs[i] {
			if in && k.x.Events[i].Val != k.x.Events[j].Val {
				flags = append(flags, "srcu-bad-value-match")
				return flags
			}
		}
	}
	return flags
}

// lockFlags are lock.cat's checks of how a test uses its locks: ordinary
// accesses to a lock or srcu_struct, an unlock of a lock the thread does
// not hold, and a lock's final value observed.
func (k *lkmm) lockFlags() []string {
	allLocks := make(set, k.n)
	for i, e := range k.x.Events {
		switch e.Ann {
		case "lock", "lock-failed", "unlock", "islocked", "srcu-lock", "srcu-unlock", "sync-srcu":
			allLocks[i] = true
		}
	}
	if !slices.Contains(allLocks, true) {
		return nil
	}
	var flags []string
	mixed := false
	for i := range k.n {
		for j := range k.n {
			mixed = mixed || k.M[i] && !k.IW[i] && !allLocks[i] && allLocks[j] && k.loc[i][j]
		}
	}
	if mixed {
		flags = append(flags, "mixed-lock-accesses")
	}
	// critical: each lock write to the unlock that ends its section.
	poLoc, lkw, ul := k.poLoc(), k.only(k.LKW), k.only(k.UL)
	critical := minus(seq(lkw, poLoc, ul), seq(poLoc, k.only(either(k.LKW, k.UL)), poLoc))
	if !subset(k.UL, rangeOf(critical)) {
		flags = append(flags, "unmatched-unlock")
	}
	for _, l := range k.x.p.observed() {
		v, ok := k.x.p.varIdx[l.Name]
		if l.Proc >= 0 || !ok {
			continue
		}
		for i, e := range k.x.Events {
			if allLocks[i] && (k.M[i] || k.SyncSrcu[i]) && e.Loc == v {
				return append(flags, "lock-final")
			}
		}
	}
	return flags
}

func domain(r rel) set {
	s := make(set, len(r))
	for i := range r {
		s[i] = slices.Contains(r[i], true)
	}
	return s
}

func rangeOf(r rel) set { return domain(transpose(r)) }

// subset reports whether every member of a is in b.
func subset(a, b set) bool {
	for i := range a {
		if a[i] && !b[i] {
			return false
		}
	}
	return true
}

// srcuRscs pairs each srcu_read_lock() with the srcu_read_unlock() of the
// same srcu_struct that its value reaches, through registers and through
// memory (the bell's srcu-rscs and carry-srcu-data).
func (k *lkmm) srcuRscs() rel {
	carry := k.star(seq(k.rawData, k.only(not(k.SrcuUnlock)), k.rf))
	return and(seq(k.only(k.SrcuLock), carry, k.rawData, k.only(k.SrcuUnlock)), k.loc)
}

// rcuFence is po ; rcu-order ; po?, where rcu-order is the least relation
// closed under the cat file's rules: any sequence of grace periods and
// read-side critical sections joined by rcu-link, with at least as many
// grace periods as critical sections; an SRCU grace period counts against
// the critical sections of its own srcu_struct only (& loc).
func (k *lkmm) rcuFence(hb, pb, prop rel) rel {
	gp, sgp := k.only(k.fences("sync-rcu")), k.only(k.SyncSrcu)
	rscsi, srscsi := transpose(k.rcuRscs()), transpose(k.srcuRscs())
	link := seq(k.opt(k.po), k.star(hb), k.star(pb), prop, k.po)
	order := or(gp, sgp,
		seq(gp, link, rscsi), and(seq(sgp, link, srscsi), k.loc),
		seq(rscsi, link, gp), and(seq(srscsi, link, sgp), k.loc))
	for {
		next := or(order,
			seq(gp, link, order, link, rscsi), and(seq(sgp, link, order, link, srscsi), k.loc),
			seq(rscsi, link, order, link, gp), and(seq(srscsi, link, order, link, sgp), k.loc),
			seq(order, link, order))
		if equal(next, order) {
			break
		}
		order = next
	}
	return seq(k.po, order, k.opt(k.po))
}

// either is the union of sets.
func either(sets ...set) set {
	out := make(set, len(sets[0]))
	for _, s := range sets {
		for i, in := range s {
			out[i] = out[i] || in
		}
	}
	return out
}

func transpose(r rel) rel {
	t := newRel(len(r))
	for i := range r {
		for j := range r[i] {
			t[j][i] = r[i][j]
		}
	}
	return t
}

func equal(a, b rel) bool {
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func nonEmpty(r rel) bool {
	for i := range r {
		for j := range r[i] {
			if r[i][j] {
				return true
			}
		}
	}
	return false
}
