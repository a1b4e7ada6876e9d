package sim

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Runs on one Host reuse its coroutines: once runs have needed as many
// as they ever do, later runs start none, and Close ends them all.
func TestHostKeepsCoroutinesAcrossRuns(t *testing.T) {
	h := NewHost()
	free := func() map[*worker]bool {
		set := map[*worker]bool{}
		for _, w := range h.r.free {
			set[w] = true
		}
		return set
	}
	for seed := range uint64(50) {
		require.Nil(t, busyMachineWith(t, Config{CPUs: 2, Host: h}).Run(NewRandom(seed)).Failure)
	}
	warm := free()
	require.NotEmpty(t, warm)
	for seed := range uint64(50) {
		require.Nil(t, busyMachineWith(t, Config{CPUs: 2, Host: h}).Run(NewRandom(seed)).Failure)
		assert.Equal(t, warm, free(), "seed %d", seed)
	}
	h.Close()
	goleak.VerifyNone(t)
}

// A run on a Host gives the same decisions, failure and trace as a run on
// goroutines of its own, whatever ran on the host before.
func TestHostRunsAreIdenticalToFreshRuns(t *testing.T) {
	h := NewHost()
	defer h.Close()
	for seed := range uint64(30) {
		for _, strategy := range []func() Strategy{
			func() Strategy { return NewRandom(seed) },
			func() Strategy { return NewPCT(seed, 3, 200) },
		} {
			want := busyMachine(t, true).Run(strategy())
			got := busyMachineWith(t, Config{CPUs: 2, Trace: true, Host: h}).Run(strategy())
			assert.Equal(t, want.Decisions, got.Decisions)
			assert.Equal(t, describe(want.Failure), describe(got.Failure))
			assert.Equal(t, renderTrace(t, want), renderTrace(t, got))
		}
	}
	// Failures unwind coroutines in the middle of a task: still the same.
	setup := func(m *Machine) {
		x := m.NewCell("x", W32, 0)
		for _, name := range []string{"a", "b"} {
			m.Go(name, Any, func(c *Ctx) {
				v := c.ReadOnce(x)
				c.WriteOnce(x, v+1)
				c.BugOn(c.ReadOnce(x) != v+1, "lost update")
			})
		}
	}
	for seed := range uint64(30) {
		want := build(t, Config{CPUs: 2, Trace: true}, setup).Run(NewRandom(seed))
		got := build(t, Config{CPUs: 2, Trace: true, Host: h}, setup).Run(NewRandom(seed))
		assert.Equal(t, describe(want.Failure), describe(got.Failure))
		assert.Equal(t, renderTrace(t, want), renderTrace(t, got))
	}
}

// Simulated code that calls runtime.Goexit ends the driver goroutine with
// it; the host starts another for the next run.
func TestHostOutlivesGoexitInSimulatedCode(t *testing.T) {
	h := NewHost()
	build(t, Config{CPUs: 1, Host: h}, func(m *Machine) {
		m.Go("quits", 0, func(*Ctx) { runtime.Goexit() })
	}).Run(NewRandom(1))
	r := busyMachineWith(t, Config{CPUs: 2, Host: h}).Run(NewRandom(1))
	assert.Nil(t, r.Failure)
	assert.Equal(t, busyMachine(t, false).Run(NewRandom(1)).Decisions, r.Decisions)
	h.Close()
	goleak.VerifyNone(t)
}

func TestClosedHostRefusesRuns(t *testing.T) {
	h := NewHost()
	h.Close()
	assert.PanicsWithValue(t, "sim: Run on a closed Host", func() {
		busyMachineWith(t, Config{CPUs: 2, Host: h}).Run(NewRandom(1))
	})
}

// describe is a failure without its pointers into the machine.
func describe(f *Failure) string {
	if f == nil {
		return "none"
	}
	return f.Error() + " at " + f.Where()
}
