package linearizability_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// simulated records the history of an alf_queue MP/MC workload on the
// simulated machine: cpus tasks, each making ops calls of up to 16 values
// on a queue of size slots, under a random schedule.
func simulated(tb testing.TB, cpus, size, ops int, seed uint64) *linearizability.History {
	m, err := sim.New(sim.Config{CPUs: cpus, MaxSteps: 1 << 30, Watchdog: -1})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	h := &linearizability.History{}
	w := &scenario.AlfLoad{Size: size, Ops: scenario.DefaultAlfOps(), Spec: model.ALF, History: h}
	for cpu := range cpus {
		t := scenario.AlfTask{Name: "mpmc/" + strconv.Itoa(cpu), CPU: cpu, Protect: true}
		for range ops {
			t.Ops = append(t.Ops, scenario.AlfOp{Enqueue: rng.IntN(2) == 0, N: 1 + rng.IntN(16)})
		}
		w.Tasks = append(w.Tasks, t)
	}
	check, err := w.Build(m)
	if err != nil {
		tb.Fatal(err)
	}
	res := m.Run(sim.NewRandom(seed))
	if res.Failure != nil {
		tb.Fatalf("simulated run failed: %v", res.Failure)
	}
	if f := check(); f != nil {
		tb.Fatalf("end-of-run check: %v", f)
	}
	return h
}

// synthetic makes a linearizable history of about n operations without
// the simulator (GenHistory): clients call, take effect on a sequential
// bounded FIFO and return in a random interleaving, so operations overlap
// as much as they do on a machine with that many CPUs. Under ALF, one
// enqueue in 8 that takes effect while others are in flight reports full.
func synthetic(n, clients, cap int, spec model.Spec, seed uint64) *linearizability.History {
	h, left := linearizability.GenHistory(rngChooser{rand.New(rand.NewPCG(seed, 2))}, linearizability.GenShape{
		Clients: clients, PerClient: n / clients, Cap: cap, MinBulk: 1, MaxBulk: 16, Spec: spec, SpuriousFull: 8,
	})
	h.Drained(clients, left)
	return h
}

type rngChooser struct{ r *rand.Rand }

func (c rngChooser) IntRange(lo, hi int, _ string) int { return lo + c.r.IntN(hi-lo+1) }

var sizes = []int{1_000, 10_000, 100_000, 1_000_000}

// BenchmarkQueueCheck: the queue checker on histories of 10^3..10^6
// operations, simulated (4 and 16 CPUs, a 1024-slot queue) and synthetic
// (16 and 64 clients, 1024 slots), reporting operations checked per
// second.
func BenchmarkQueueCheck(b *testing.B) {
	for _, n := range sizes {
		for _, kind := range []string{"sim-4cpu", "sim-16cpu", "synthetic-16", "synthetic-64"} {
			b.Run(fmt.Sprintf("%s/ops=%d", kind, n), func(b *testing.B) {
				var h *linearizability.History
				switch kind {
				case "sim-4cpu":
					h = simulated(b, 4, 1024, n/4, 1)
				case "sim-16cpu":
					h = simulated(b, 16, 1024, n/16, 1)
				case "synthetic-16":
					h = synthetic(n, 16, 1024, model.ALF, 1)
				default:
					h = synthetic(n, 64, 1024, model.ALF, 1)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if r := h.Check(model.ALF, 1024); r.Verdict != linearizability.Ok {
						b.Fatalf("%s: %s", r.Verdict, r.Reason)
					}
				}
				b.ReportMetric(float64(len(h.Ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}

// BenchmarkPorcupine: porcupine and the queue checker side by side on the
// same histories, at sizes around where porcupine stops finishing within
// a minute (it is reported skipped then).
func BenchmarkPorcupine(b *testing.B) {
	for _, n := range []int{100, 300, 1000} {
		for _, kind := range []string{"sim-16cpu", "synthetic-16"} {
			var h *linearizability.History
			if kind == "sim-16cpu" {
				h = simulated(b, 16, 1024, n/16, 1)
			} else {
				h = synthetic(n, 16, 1024, model.ALF, 1)
			}
			b.Run(fmt.Sprintf("%s/ops=%d/porcupine", kind, n), func(b *testing.B) {
				ops, m := h.Operations(), linearizability.Model(model.ALF, 1024)
				for b.Loop() {
					if res := porcupine.CheckOperationsTimeout(m, ops, time.Minute); res != porcupine.Ok {
						b.Skipf("porcupine: %s after %v", res, b.Elapsed())
					}
				}
				b.ReportMetric(float64(len(h.Ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
			b.Run(fmt.Sprintf("%s/ops=%d/queue-checker", kind, n), func(b *testing.B) {
				for b.Loop() {
					if r := h.Check(model.ALF, 1024); r.Verdict != linearizability.Ok {
						b.Fatalf("%s: %s", r.Verdict, r.Reason)
					}
				}
				b.ReportMetric(float64(len(h.Ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}
