// Package native is the real machine: the part of package sim's kernel API
// that the subjects call (Ctx with READ_ONCE, cmpxchg, smp_wmb, cpu_relax,
// preempt and bh toggles, kmem_cache, spinlocks, BUG_ON), resolved to
// sync/atomic and ordinary memory, so that the subjects written for the
// simulator run on real goroutines and real CPUs, at full speed, with no
// copy of their algorithm.
//
// # One source, two machines
//
// The subjects (queue/alf, pool/qmempool, pool/ring2005) are written once,
// against *sim.Ctx. Their native builds (queue/alfnative,
// pool/qmempoolnative, pool/ring2005native) are generated from those
// sources by native/nativegen, which rewrites nothing but the package
// clause and the imports (sim becomes native, alf becomes alfnative): the
// function bodies are the same text, except that a call to one of the few
// helpers a subject's entry in nativegen names (alf_queue's slot copies,
// above the compiler's inlining budget) is replaced by the helper's body,
// under line directives that keep its source lines, and that a cmpxchg
// whose result is compared with the old value it was given, as in
// `c.Cmpxchg(x, old, new) == old`, is written as the test it is,
// c.CmpxchgSwapped(x, old, new) (the comparison the compiler would make
// once more after the swap). A test in nativegen
// fails when a generated file is not what the generator makes of the
// current source, so the two cannot drift apart; `go generate ./...`
// brings them back.
//
// Generation was chosen over the alternatives by measurement. Generic
// subjects over a memory interface (func MPEnqueue[C Mem](c C, ...)) keep
// every READ_ONCE, cmpxchg and slot store a call the compiler does not
// inline, even for a type argument of its own GC shape: in a scratch
// benchmark of MP enqueue + MC dequeue against a hand-written sync/atomic
// queue they cost 1.11 to 1.25 times as much at bulk 1 and 1.76 to 2.11
// times at bulk 16, where the budget is 1.1. Build tags would need the
// subject to import one machine or the other, so the simulator and the
// native build could not be linked into one binary (simrun compare needs
// both). With generation every Ctx method below is a leaf the compiler
// inlines: a READ_ONCE is one atomic load, a smp_wmb is nothing. The
// benchmarks in package bench measure the result against a hand-written
// queue; the helpers nativegen inlines are those whose call, and the
// spills of the caller's registers around it between two atomics, made
// the difference there (at bulk 1, about 1.65 times the hand-written
// queue's cost as calls, 1.3 to 1.5 inlined, by where the linker places
// the functions), and the swap tests took most of what was left (1.15 to
// 1.3 with them, wherever the functions are placed).
//
// # What the kernel API becomes
//
//   - READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release, cmpxchg,
//     xchg, atomic_add_return: sync/atomic operations, which are
//     sequentially consistent in the Go memory model.
//   - smp_mb, smp_wmb, smp_rmb: nothing. Every access they order against is
//     a sync/atomic one on the other side, which already orders the plain
//     accesses around it (and makes the race detector see the edge).
//   - Plain loads and stores (Load, Store): plain Go memory accesses. Code
//     that races on them is a data race, which `go test -race` reports.
//   - cpu_relax: runtime.Gosched. Goroutines have no priorities, so a
//     spinning waiter always lets the waited-for goroutine run eventually:
//     the priority-inversion lockups the simulator finds cannot happen here.
//   - preempt_disable, local_bh_disable, local_irq_save, local_irq_disable
//     (and inside spin_lock_irqsave, spin_lock_bh) and their inverses:
//     counters on the Ctx, checked only for balance. A goroutine is never
//     preempted by another goroutine of the same CPU id, because each CPU id
//     is owned by one goroutine at a time (see Machine.CPU).
//   - in_serving_softirq: true inside Ctx.Softirq, which runs a function as
//     softirq work on the calling goroutine; in_softirq and in_interrupt
//     also with bottom halves off; in_irq never (no hardirq handlers run
//     natively); irqs_disabled, preempt_count and raw_smp_processor_id
//     from the Ctx.
//   - open_softirq, raise_softirq: the handler runs on the raising
//     goroutine at once, or, with bottom halves or irqs off, at the
//     local_bh_enable that turns them back on.
//   - mutex_lock, mutex_unlock: sync.Mutex; locking where the kernel may
//     not sleep is a BUG, as in the simulator.
//   - BUG_ON, panic(), and the failures a workload reports: a Go panic with
//     a *Failure value naming the CPU; the stress tester recovers it.
//   - kmem_cache: a LIFO free list of objects under a mutex, like a slab's
//     node list without the per-CPU layer, with double and invalid frees
//     caught. kmalloc/kfree: power-of-two kmalloc caches. A handle carries
//     its cache's number above bit 40 (the first cache's objects are 1, 2,
//     3, ...), so Ctx.Machine().Object(h).Word(i) finds an object's memory
//     without a lock, as a subject on the simulator reaches it.
//   - The simulator's accounting and trace notes (Account, Annotate): fn
//     runs, notes vanish.
//
// A test compares the method sets: every *sim.Ctx and *sim.Cell method,
// the Machine methods a subject calls (to build its structures, and Object
// for an object's memory) and Object's Word and Handle, has
// a native counterpart of the same signature, save Ctx.CPU (the
// simulator's own, for workloads) and Cell.Name (the trace's).
// nativegen builds a user's packages too (see its doc).
//
// An API call a subject starts to make needs its method here first: the
// generated build does not compile until then.
//
// Cells store their value whole: the subjects do their own modular
// arithmetic, so the width a cell was declared with only matters to the
// simulator's trace.
package native

//go:generate go run ./nativegen -root ..
