package alf_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/queue/alf"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// concurrent is the concurrent property: tasks on 2 or 3 CPUs each make a
// random mix of MP enqueues and MC dequeues (preemption disabled, as the
// queue requires) while rapid's byte stream decides every interleaving;
// the history must conserve values and be linearizable under the ALF
// specification. It returns the violation, if any.
func concurrent(t *rapid.T, ops scenario.AlfOps) error {
	cpus := rapid.IntRange(2, 3).Draw(t, "cpus")
	size := 1 << rapid.IntRange(0, 3).Draw(t, "log2size")
	w := &scenario.AlfLoad{
		Size: size,
		Opt: alf.Options{
			Start:  rapid.SampledFrom([]uint64{0, 1<<32 - 3}).Draw(t, "start"),
			MCTail: rapid.SampledFrom([]alf.MCTail{alf.TailRelease, alf.TailRFC}).Draw(t, "tail"),
		},
		Ops:  ops,
		Spec: model.ALF,
	}
	for cpu := range cpus {
		task := scenario.AlfTask{Name: "t" + strconv.Itoa(cpu), CPU: cpu, Protect: true}
		task.Ops = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) scenario.AlfOp {
			return scenario.AlfOp{Enqueue: rapid.Bool().Draw(t, "enqueue"), N: rapid.IntRange(1, size+1).Draw(t, "n")}
		}), 1, 5).Draw(t, "ops")
		w.Tasks = append(w.Tasks, task)
	}
	decisions := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "decisions")
	m, err := sim.New(sim.Config{CPUs: cpus})
	if err != nil {
		return err
	}
	check, err := w.Build(m)
	if err != nil {
		return err
	}
	r := m.Run(sim.NewBytes(decisions))
	if r.Err != nil {
		return r.Err
	}
	if r.Failure == nil {
		if f := check(); f != nil {
			r = m.EndFailure(f)
		}
	}
	if r.Failure != nil {
		return fmt.Errorf("%v (%s)", r.Failure, r.Failure.Where())
	}
	return nil
}

func TestConcurrentConservationAndLinearizability(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := concurrent(t, scenario.DefaultAlfOps()); err != nil {
			t.Fatal(err)
		}
	})
}

// The checker is not blind: a copy of MP enqueue that publishes its tail
// before storing the slots is caught within the same number of checks.
func TestConcurrentPropertyCatchesABrokenEnqueue(t *testing.T) {
	broken := scenario.DefaultAlfOps()
	broken.MPEnqueue = (*alf.Queue).MPEnqueuePublishFirst
	var found []error
	rapid.Check(t, func(t *rapid.T) {
		if err := concurrent(t, broken); err != nil {
			found = append(found, err)
		}
	})
	require.NotEmpty(t, found, "the broken enqueue went unnoticed")
	t.Logf("%d violations, e.g. %v", len(found), found[0])
}
