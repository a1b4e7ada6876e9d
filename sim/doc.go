// Package sim is a deterministic multi-core machine for running kernel-style
// lock-free code under a scheduler that decides every interleaving.
//
// Simulated code is ordinary Go that takes a *Ctx (its execution context) and
// performs every shared-memory access, barrier and context change through it:
// c.ReadOnce(x), c.Cmpxchg(x, old, new), c.SmpWmb(), c.PreemptDisable(),
// c.LocalBhEnable(), c.CpuRelax(). Each such call is a scheduling point. At a
// scheduling point the machine lists the moves that are possible (advance the
// context on top of some CPU by one operation, preempt a task where preemption
// is allowed, fire a hardirq where interrupts are on) and a Strategy picks one.
// The run is therefore a pure function of the machine's setup and the list of
// decisions, which is recorded and can be replayed exactly.
//
// The machine models the kernel's execution contexts per CPU: task context,
// softirq and hardirq, with preempt count, bh-disable count and an
// irqs-disabled flag. Interrupt handlers run nested on top of the interrupted
// context, as they do on a real kernel stack; softirqs run at hardirq exit and
// at local_bh_enable when pending, never nested in another softirq on the same
// CPU. Memory is sequentially consistent; barriers are still recorded steps so
// that weaker models can be added without touching callers.
//
// Each task runs on its own coroutine (iter.Pull; a Host keeps them from one
// run to the next), but only one simulated context runs at a time and the
// host scheduler never decides anything.
//
// The machine detects on its own: BUG_ON and panic() in simulated code, Go
// runtime panics there (out-of-bounds index, nil dereference), deadlock
// (nothing can run and tasks sleep), soft lockup (a context spins in
// cpu_relax on memory that no context able to run can change), step budget
// exhaustion, and simulated code that runs past the host-time limit without
// reaching a scheduling point (the watchdog: a judgement of host time, the
// one result that is not a function of the decisions).
//
// cpu_relax has a precise meaning here: the context waits for one of the
// cells it read since its previous cpu_relax to change. A spin iteration that
// stored nothing and read the same values is not rescheduled until another
// context changes one of them. A loop that gives up after a fixed number of
// iterations without reading shared memory is outside this model.
package sim
