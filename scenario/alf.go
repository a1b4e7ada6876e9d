package scenario

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/queue/alf"
	"github.com/kernelsim/lfsim/sim"
)

// Failure kinds of the queue checkers, besides conservation's (see
// package linearizability).
const (
	KindNotLinearizable = linearizability.KindNotLinearizable
	KindCheckUndecided  = linearizability.KindUndecided // the check spent its work budget: neither a pass nor a failure
	KindCorruptQueue    = "corrupt-queue"               // the counters say it holds more than its size
)

// AlfOp is one call a task makes: an enqueue of N fresh values, or a
// dequeue of up to N.
type AlfOp struct {
	Enqueue bool
	N       int
}

// AlfTask is a task of an alf_queue workload.
type AlfTask struct {
	Name string
	CPU  int
	Prio int
	// Single uses SP/SC instead of MP/MC.
	Single bool
	// Protect disables preemption around each call, as the queue requires.
	Protect bool
	Ops     []AlfOp
}

// AlfIRQ is an interrupt source on a CPU whose handler calls the queue
// (Ops, one per firing, MP/MC), or only stalls its CPU for Stall steps
// (a long handler: what lets other CPUs lap the counters).
type AlfIRQ struct {
	CPU   int
	Name  string
	Fires int
	Ops   []AlfOp
	Stall int
}

// AlfOps are the queue operations a workload calls; tests substitute
// deliberately broken copies to show the checkers catch them.
type AlfOps struct {
	MPEnqueue, SPEnqueue func(q *alf.Queue, c *sim.Ctx, vals []uint64) int
	MCDequeue, SCDequeue func(q *alf.Queue, c *sim.Ctx, out []uint64) int
}

// DefaultAlfOps returns the port's own operations.
func DefaultAlfOps() AlfOps {
	return AlfOps{
		MPEnqueue: (*alf.Queue).MPEnqueue, SPEnqueue: (*alf.Queue).SPEnqueue,
		MCDequeue: (*alf.Queue).MCDequeue, SCDequeue: (*alf.Queue).SCDequeue,
	}
}

// AlfLoad is an alf_queue workload: one queue, tasks and interrupt
// handlers calling it, every call recorded, and an end-of-run check of
// conservation and linearizability.
type AlfLoad struct {
	Size  int
	Opt   alf.Options
	Tasks []AlfTask
	IRQs  []AlfIRQ
	Ops   AlfOps
	// Spec is what histories are checked against (ALF by default: see
	// package model for why Strict is too strong for this queue).
	Spec model.Spec
	// History, when set, receives every call as it is recorded: what
	// tests and benchmarks of the checkers read after the run.
	History *linearizability.History
	// Title names the workload at the head of a failing history's
	// visualisation (the scenario's name).
	Title string
}

// Build populates m with the workload and returns its end-of-run check.
// Values are unique: 1, 2, 3, ... in the order calls make them.
func (w *AlfLoad) Build(m *sim.Machine) (Check, error) {
	q, err := alf.New(m, "q", w.Size, w.Opt)
	if err != nil {
		return nil, err
	}
	h := w.History
	if h == nil {
		h = &linearizability.History{}
	}
	// Room for every call the workload can make and the final drain, so
	// that the history is not copied as it grows.
	calls := 1
	for _, t := range w.Tasks {
		calls += len(t.Ops)
	}
	for _, irq := range w.IRQs {
		calls += min(irq.Fires, len(irq.Ops))
	}
	h.Ops = slices.Grow(h.Ops, calls)
	h.About.Title = w.Title
	h.About.Clients = h.About.Clients[:0]
	for _, t := range w.Tasks {
		where := fmt.Sprintf("on CPU%d", t.CPU)
		if t.CPU == sim.Any {
			where = "free to migrate"
		}
		h.About.Clients = append(h.About.Clients, "task "+t.Name+" "+where)
	}
	for _, irq := range w.IRQs {
		h.About.Clients = append(h.About.Clients, fmt.Sprintf("hardirq %s on CPU%d", irq.Name, irq.CPU))
	}
	h.About.Clients = append(h.About.Clients, "the drain after the run (what the queue held at the end)")
	next := uint64(0)
	client := 0
	// call makes one operation, marked in the trace with the port's
	// function name: under preempt_disable when protect is set. The
	// history's interval and the trace's call are the same steps.
	call := func(c *sim.Ctx, id int, op AlfOp, single, protect bool) {
		if op.Enqueue {
			vals := make([]uint64, op.N)
			for i := range vals {
				next++
				vals[i] = next
			}
			enq, name := w.Ops.MPEnqueue, "alf_mp_enqueue"
			if single {
				enq, name = w.Ops.SPEnqueue, "alf_sp_enqueue"
			}
			c.Call(name, vals)
			n := h.Enqueue(c, id, vals, func() int { return guard(c, protect, func() int { return enq(q, c, vals) }) })
			if n == 0 {
				c.Return(0, "(full)")
			} else {
				c.Return(n)
			}
			return
		}
		deq, name := w.Ops.MCDequeue, "alf_mc_dequeue"
		if single {
			deq, name = w.Ops.SCDequeue, "alf_sc_dequeue"
		}
		out := make([]uint64, op.N)
		c.Call(name, op.N)
		n := h.Dequeue(c, id, out, func() int { return guard(c, protect, func() int { return deq(q, c, out) }) })
		if n == 0 {
			c.Return(0, "(empty)")
		} else {
			c.Return(n, out[:n])
		}
	}
	for _, t := range w.Tasks {
		id := client
		client++
		task := m.Go(t.Name, t.CPU, func(c *sim.Ctx) {
			for _, op := range t.Ops {
				call(c, id, op, t.Single, t.Protect)
			}
		})
		task.SetPriority(t.Prio)
	}
	for _, irq := range w.IRQs {
		id := client
		client++
		fired := 0
		stall := m.NewCell(fmt.Sprintf("%s/%d.work", irq.Name, irq.CPU), sim.W32, 0)
		m.RequestIRQ(irq.CPU, irq.Name, irq.Fires, func(c *sim.Ctx) {
			for range irq.Stall {
				c.ReadOnce(stall)
			}
			if fired < len(irq.Ops) {
				op := irq.Ops[fired]
				fired++
				call(c, id, op, false, false)
			}
		})
	}
	return func() *sim.Failure {
		left, err := q.Peek()
		if err != nil {
			return sim.Failf(KindCorruptQueue, "%v", err)
		}
		h.Drained(client, left)
		if kind, msg, v := h.Violation(); kind != "" {
			f := sim.Failf(kind, "%s", msg)
			f.Value = strconv.FormatUint(v, 10)
			return f
		}
		r := h.Check(w.Spec, w.Size)
		switch r.Verdict {
		case linearizability.Illegal:
			f := sim.Failf(KindNotLinearizable, "the history of %d operations is not linearizable under the %s specification: %s", len(h.Ops), w.Spec, r.Reason)
			f.Attach = r.WriteHTML
			return f
		case linearizability.Undecided:
			return sim.Failf(KindCheckUndecided, "%s", r.Reason)
		}
		return nil
	}, nil
}

// guard runs do under preempt_disable when protect is set, and returns
// what it returns.
func guard(c *sim.Ctx, protect bool, do func() int) int {
	if protect {
		c.PreemptDisable()
	}
	n := do()
	if protect {
		c.PreemptEnable()
	}
	return n
}

// randomOps draws n operations, enqueue or dequeue with equal chance, of
// 1..bulk values each.
//
// Each call draws from a stream of its own, seeded by two draws from rng,
// so that a task's operations are the same whatever the number of
// operations of the tasks drawn before it: lowering ops keeps a prefix of
// every task's list, which is what lets a shrinker lower it and keep the
// interleaving.
func randomOps(rng *rand.Rand, n, bulk int, kind func(*rand.Rand) bool) []AlfOp {
	own := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	ops := make([]AlfOp, n)
	for i := range ops {
		ops[i] = AlfOp{Enqueue: kind(own), N: 1 + own.IntN(bulk)}
	}
	return ops
}

// alternating draws n operations that alternate enqueue and dequeue, so
// that every task works both sides of the queue.
func alternating(rng *rand.Rand, n, bulk int) []AlfOp {
	ops := randomOps(rng, n, bulk, enqueues)
	for i := 1; i < n; i += 2 {
		ops[i].Enqueue = false
	}
	return ops
}

func anyKind(rng *rand.Rand) bool { return rng.IntN(2) == 0 }
func enqueues(*rand.Rand) bool    { return true }
func dequeues(*rand.Rand) bool    { return false }

// alfParams are the parameters every alf scenario has; defaults vary.
func alfParams(cpus, size, bulk, ops, width, debug string) []Param {
	return []Param{
		{Name: "cpus", Doc: "CPUs", Default: cpus, Min: 1, Max: sim.MaxCPUs},
		{Name: "size", Doc: "queue slots (power of two)", Default: size, Min: 1, Max: alf.MaxSize, Shrink: true},
		{Name: "bulk", Doc: "largest bulk per call", Default: bulk, Min: 1, Max: alf.MaxSize, Shrink: true},
		{Name: "ops", Doc: "calls per task", Default: ops, Min: 1, Max: 10_000, Shrink: true},
		{Name: "start", Doc: "counters' start value (try 4294967290)", Default: "0", Min: 0, Max: 1<<32 - 1},
		{Name: "width", Doc: "counter width in bits", Default: width, Min: 1, Max: 32},
		{Name: "tail", Doc: "MC tail publication", Default: "release", Choices: []string{"release", "rfc"}},
		{Name: "copy", Doc: "slot copy loops", Default: "unrolled", Choices: []string{"unrolled", "simple"}},
		{Name: "debug", Doc: "SP/SC debug assertions", Default: debug, Choices: []string{"on", "off"}},
		{Name: "wseed", Doc: "seed of the operation mix", Default: "1", Min: 0, Max: 1 << 30},
		{Name: "spec", Doc: "specification histories are checked against (see package model)", Default: "alf", Choices: []string{"alf", "strict"}},
	}
}

// shrinkCPUs marks the CPU count shrinkable, for layouts that put a task
// on every CPU whatever their number.
func shrinkCPUs(params []Param) []Param {
	params[0].Shrink = true
	return params
}

func alfOptions(v Values) alf.Options {
	o := alf.Options{Start: uint64(v.Int("start")), Width: v.Int("width"), Debug: v["debug"] == "on"}
	if v["tail"] == "rfc" {
		o.MCTail = alf.TailRFC
	}
	if v["copy"] == "simple" {
		o.Copy = alf.CopySimple
	}
	return o
}

func validateAlf(v Values) error {
	size := v.Int("size")
	if size&(size-1) != 0 {
		return fmt.Errorf("size=%d: want a power of two", size)
	}
	if c, ok := v["consumers"]; ok && v.Int("consumers") > v.Int("cpus") {
		return fmt.Errorf("consumers=%s: more than cpus=%s", c, v["cpus"])
	}
	if w := v.Int("width"); w < 32 && size > 1<<w {
		return fmt.Errorf("size=%d does not fit width=%d counters", size, w)
	}
	return nil
}

// alfScenario makes a catalogue entry from a function that lays out the
// workload's tasks and interrupts for the values.
func alfScenario(name, summary string, fails bool, params []Param, cpus func(Values) int, layout func(v Values, rng *rand.Rand, w *AlfLoad)) *Scenario {
	return &Scenario{
		Name: name, Summary: summary, Fails: fails, Params: params,
		CPUs:     cpus,
		Validate: validateAlf,
		Build: func(m *sim.Machine, v Values) Check {
			w := &AlfLoad{Size: v.Int("size"), Opt: alfOptions(v), Ops: DefaultAlfOps(), Spec: model.ALF, Title: name}
			if v["spec"] == "strict" {
				w.Spec = model.Strict
			}
			layout(v, rand.New(rand.NewPCG(uint64(v.Int("wseed")), 0xa1f)), w)
			check, err := w.Build(m)
			if err != nil {
				panic(err) // Validate has ruled this out
			}
			return check
		},
	}
}

func fromParam(v Values) int { return v.Int("cpus") }

func alfScenarios() []*Scenario {
	return []*Scenario{
		alfScenario("alf-mpmc", "alf_queue MP/MC: a task per CPU enqueues and dequeues with preemption disabled (passes)", false,
			append(shrinkCPUs(alfParams("3", "8", "4", "6", "32", "on")),
				Param{Name: "consumers", Doc: "tasks, the last ones, that only dequeue (the others then only enqueue); 0: every task does both", Default: "0", Min: 0, Max: sim.MaxCPUs},
				Param{Name: "pin", Doc: "tasks pinned one per CPU, or free to migrate when preempted", Default: "on", Choices: []string{"on", "off"}}),
			fromParam,
			func(v Values, rng *rand.Rand, w *AlfLoad) {
				n, consumers := v.Int("cpus"), v.Int("consumers")
				for cpu := range n {
					kind := anyKind
					switch {
					case consumers == 0:
					case cpu >= n-consumers:
						kind = dequeues
					default:
						kind = enqueues
					}
					pin := cpu
					if v["pin"] == "off" {
						pin = sim.Any
					}
					w.Tasks = append(w.Tasks, AlfTask{Name: "mpmc/" + strconv.Itoa(cpu), CPU: pin, Protect: true,
						Ops: randomOps(rng, v.Int("ops"), v.Int("bulk"), kind)})
				}
			}),
		alfScenario("alf-spsc", "alf_queue SP/SC: one producer CPU, one consumer CPU, preemption disabled (passes)", false,
			alfParams("2", "8", "4", "12", "32", "on"), func(Values) int { return 2 },
			func(v Values, rng *rand.Rand, w *AlfLoad) {
				w.Tasks = []AlfTask{
					{Name: "producer", CPU: 0, Single: true, Protect: true, Ops: randomOps(rng, v.Int("ops"), v.Int("bulk"), enqueues)},
					{Name: "consumer", CPU: 1, Single: true, Protect: true, Ops: randomOps(rng, v.Int("ops"), v.Int("bulk"), dequeues)},
				}
			}),
		alfScenario("alf-spsc-misuse", "alf_queue SP enqueue called from two CPUs at once (fails: BUG with debug on, lost values with it off)", true,
			alfParams("3", "8", "4", "6", "32", "on"), func(Values) int { return 3 },
			func(v Values, rng *rand.Rand, w *AlfLoad) {
				w.Tasks = []AlfTask{
					{Name: "producer/0", CPU: 0, Single: true, Protect: true, Ops: randomOps(rng, v.Int("ops"), v.Int("bulk"), enqueues)},
					{Name: "producer/1", CPU: 1, Single: true, Protect: true, Ops: randomOps(rng, v.Int("ops"), v.Int("bulk"), enqueues)},
					{Name: "consumer", CPU: 2, Single: true, Protect: true, Ops: randomOps(rng, 2*v.Int("ops"), v.Int("bulk"), dequeues)},
				}
			}),
		alfScenario("alf-preempt", "alf_queue MP/MC called with preemption enabled by two tasks of different priority on one CPU (fails: soft lockup)", true,
			alfParams("1", "8", "4", "4", "32", "on"), func(Values) int { return 1 },
			func(v Values, rng *rand.Rand, w *AlfLoad) {
				w.Tasks = []AlfTask{
					{Name: "worker", CPU: 0, Ops: alternating(rng, v.Int("ops"), v.Int("bulk"))},
					{Name: "rt-worker", CPU: 0, Prio: 1, Ops: alternating(rng, v.Int("ops"), v.Int("bulk"))},
				}
			}),
		alfScenario("alf-irq", "alf_queue MP/MC used by a task (preemption disabled, irqs on) and by a hardirq handler on the same CPU (fails)", true,
			alfParams("1", "8", "4", "4", "32", "on"), func(Values) int { return 1 },
			func(v Values, rng *rand.Rand, w *AlfLoad) {
				w.Tasks = []AlfTask{{Name: "worker", CPU: 0, Protect: true, Ops: alternating(rng, v.Int("ops"), v.Int("bulk"))}}
				w.IRQs = []AlfIRQ{{CPU: 0, Name: "dev", Fires: 2, Ops: alternating(rng, 2, v.Int("bulk"))}}
			}),
		alfScenario("alf-aba", "alf_queue MP/MC with narrow counters and long interrupts that let other CPUs lap them (fails at width 3, passes at 32)", true,
			append(shrinkCPUs(alfParams("3", "4", "2", "24", "3", "on")), Param{Name: "stall", Doc: "steps a stalling interrupt takes", Default: "64", Min: 0, Max: 10_000, Shrink: true},
				Param{Name: "fires", Doc: "stalling interrupts per CPU", Default: "3", Min: 0, Max: 10_000, Shrink: true}),
			fromParam,
			func(v Values, rng *rand.Rand, w *AlfLoad) {
				for cpu := range v.Int("cpus") {
					w.Tasks = append(w.Tasks, AlfTask{Name: "mpmc/" + strconv.Itoa(cpu), CPU: cpu, Protect: true,
						Ops: randomOps(rng, v.Int("ops"), v.Int("bulk"), anyKind)})
					w.IRQs = append(w.IRQs, AlfIRQ{CPU: cpu, Name: "stall", Fires: v.Int("fires"), Stall: v.Int("stall")})
				}
			}),
	}
}
