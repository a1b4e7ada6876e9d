package linearizability_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// The queue checker and porcupine agree on histories recorded from real
// simulated runs of alf_queue (schedules drawn by rapid), as recorded and
// with one result changed.
func TestDifferentialSimulated(t *testing.T) {
	var compared, illegal int
	rapid.Check(t, func(t *rapid.T) {
		cpus := rapid.IntRange(1, 4).Draw(t, "cpus")
		size := 1 << rapid.IntRange(0, 3).Draw(t, "log2size")
		spec := model.Spec(rapid.IntRange(0, 1).Draw(t, "spec"))
		m, err := sim.New(sim.Config{CPUs: cpus, Watchdog: -1})
		if err != nil {
			t.Fatal(err)
		}
		h := &linearizability.History{}
		w := &scenario.AlfLoad{Size: size, Ops: scenario.DefaultAlfOps(), Spec: spec, History: h}
		for cpu := range cpus {
			task := scenario.AlfTask{Name: "mpmc/" + strconv.Itoa(cpu), CPU: cpu, Protect: true}
			for range rapid.IntRange(1, 5).Draw(t, "ops") {
				task.Ops = append(task.Ops, scenario.AlfOp{Enqueue: rapid.Bool().Draw(t, "enqueue"), N: rapid.IntRange(1, size+1).Draw(t, "n")})
			}
			w.Tasks = append(w.Tasks, task)
		}
		check, err := w.Build(m)
		if err != nil {
			t.Fatal(err)
		}
		res := m.Run(sim.NewBytes(rapid.SliceOfN(rapid.Byte(), 0, 4096).Draw(t, "schedule")))
		if res.Failure != nil || res.Err != nil {
			t.Skip("the run did not end cleanly")
		}
		check() // appends the final drain to h
		if i := rapid.IntRange(-1, len(h.Ops)-1).Draw(t, "victim"); i >= 0 {
			o := &h.Ops[i]
			switch {
			case o.Enqueue && len(o.Vals) > 0:
				o.Got = len(o.Vals) - o.Got
			case len(o.Out) >= 2:
				o.Out = slices.Clone(o.Out)
				o.Out[0], o.Out[len(o.Out)-1] = o.Out[len(o.Out)-1], o.Out[0]
			case len(o.Out) == 1:
				o.Out = nil
			}
		}
		var want linearizability.Verdict
		switch porcupine.CheckOperationsTimeout(linearizability.Model(spec, size), h.Operations(), 5*time.Second) {
		case porcupine.Ok:
			want = linearizability.Ok
		case porcupine.Illegal:
			want = linearizability.Illegal
		default:
			t.Skip("porcupine did not finish")
		}
		got := h.Check(spec, size)
		compared++
		if want == linearizability.Illegal {
			illegal++
		}
		if got.Verdict != want {
			t.Fatalf("size %d spec %s: queue checker %s (%s), porcupine %s", size, spec, got.Verdict, got.Reason, want)
		}
	})
	if compared == 0 || illegal == 0 {
		t.Fatalf("%d histories compared, %d not linearizable: the test must see both kinds", compared, illegal)
	}
	t.Logf("%d simulated histories compared, %d of them not linearizable: all agreed", compared, illegal)
}
