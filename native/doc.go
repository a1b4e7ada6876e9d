// Package native is the real machine: the same kernel API as package sim
// (Ctx with READ_ONCE, cmpxchg, smp_wmb, cpu_relax, preempt and bh
// toggles, kmem_cache, spinlocks, BUG_ON) resolved to sync/atomic and
// ordinary memory, so that the subjects written for the simulator run on
// real goroutines and real CPUs, at full speed, with no copy of their
// algorithm.
//
// # One source, two machines
//
// The subjects (queue/alf, pool/qmempool, pool/ring2005) are written once,
// against *sim.Ctx. Their native builds (queue/alfnative,
// pool/qmempoolnative, pool/ring2005native) are generated from those
// sources by native/nativegen, which rewrites nothing but the package
// clause and the imports (sim becomes native, alf becomes alfnative): the
// function bodies are the same text. A test in nativegen fails when a
// generated file is not what the generator makes of the current source, so
// the two cannot drift apart; `go generate ./...` brings them back.
//
// Generation was chosen over the alternatives by measurement. Generic
// subjects over a memory interface (func MPEnqueue[C Mem](c C, ...)) run
// through the GC-shape dictionary: every READ_ONCE and cmpxchg becomes an
// indirect call that the compiler does not inline, which cost 1.3 to 1.4
// times the hand-written sync/atomic queue at bulk 1, over the 1.3 budget
// with nothing left for the rest. Build tags would need the subject to
// import one machine or the other, so the simulator and the native build
// could not be linked into one binary (the comparison command needs both).
// With generation every Ctx method below is a leaf the compiler inlines: a
// READ_ONCE is one atomic load, a smp_wmb is nothing. The benchmarks in
// package bench measure the result against a hand-written queue.
//
// # What the kernel API becomes
//
//   - READ_ONCE, WRITE_ONCE, smp_load_acquire, smp_store_release, cmpxchg,
//     xchg, atomic_add_return: sync/atomic operations, which are sequentially
//     consistent in the Go memory model.
//   - smp_mb, smp_wmb, smp_rmb: nothing. Every access they order against is
//     a sync/atomic one on the other side, which already orders the plain
//     accesses around it (and makes the race detector see the edge).
//   - Plain loads and stores (Load, Store): plain Go memory accesses. Code
//     that races on them is a data race, which `go test -race` reports.
//   - cpu_relax: runtime.Gosched. Goroutines have no priorities, so a
//     spinning waiter always lets the waited-for goroutine run eventually:
//     the priority-inversion lockups the simulator finds cannot happen here.
//   - preempt_disable, local_bh_disable, local_irq_save and their inverses:
//     counters on the Ctx, checked only for balance. A goroutine is never
//     preempted by another goroutine of the same CPU id, because each CPU id
//     is owned by one goroutine at a time (see Machine.CPU).
//   - in_serving_softirq: true inside Ctx.Softirq, which runs a function as
//     softirq work on the calling goroutine.
//   - BUG_ON, panic(), and the failures a workload reports: a Go panic with
//     a *Failure value naming the CPU; the stress tester recovers it.
//   - kmem_cache: a LIFO free list of objects under a mutex, like a slab's
//     node list without the per-CPU layer, with double and invalid frees
//     caught.
//
// Cells store their value whole: the subjects do their own modular
// arithmetic, so the width a cell was declared with only matters to the
// simulator's trace.
package native

//go:generate go run ./nativegen -root ..
