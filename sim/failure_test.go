package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build makes a machine with cpus CPUs and lets setup populate it.
func build(t *testing.T, cfg Config, setup func(m *Machine)) *Machine {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err)
	setup(m)
	return m
}

// findFailure explores random schedules of setup until one fails, and
// returns that failure with the trace of its replay.
func findFailure(t *testing.T, cfg Config, seeds int, setup func(m *Machine)) (*Failure, Result) {
	t.Helper()
	for seed := range uint64(seeds) {
		r := build(t, cfg, setup).Run(NewRandom(seed))
		require.NoError(t, r.Err)
		if r.Failure != nil {
			traced := cfg
			traced.Trace = true
			rr := build(t, traced, setup).Run(NewReplay(r.Decisions))
			require.NoError(t, rr.Err)
			// The traced replay knows lines the fast run may not, so the
			// identity can only gain a site: kind and message are the same.
			require.NotNil(t, rr.Failure)
			require.Equal(t, r.Failure.Error(), rr.Failure.Error(), "replay reproduces the failure")
			if r.Failure.Source != "" {
				require.True(t, r.Failure.Same(rr.Failure), "replay reproduces %s, got %s", r.Failure.ID(), rr.Failure.ID())
			}
			return rr.Failure, rr
		}
	}
	t.Fatalf("no failure in %d schedules", seeds)
	return nil, Result{}
}

func TestBugOnNamesMessageAndLine(t *testing.T) {
	f, r := findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
		x := m.NewCell("x", W32, 7)
		m.Go("checker", 0, func(c *Ctx) {
			v := c.ReadOnce(x)
			c.BugOn(v == 7, "x is %d", v)
		})
	})
	assert.Equal(t, KindBug, f.Kind)
	assert.Equal(t, "x is 7", f.Message)
	assert.Equal(t, 0, f.CPU)
	assert.Equal(t, "task checker", f.Context)
	assert.Regexp(t, `^sim/failure_test.go:\d+$`, f.Source)
	last := r.Trace[len(r.Trace)-1]
	assert.Equal(t, EvFailure, last.Kind)
	assert.Equal(t, len(r.Decisions), f.Step, "the failure's step is the number of decisions taken")
}

func TestPanicInSimulatedCode(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
		m.Go("p", 0, func(c *Ctx) { c.Panic("Tail pointer must be null") })
	})
	assert.Equal(t, KindPanic, f.Kind)
	assert.Equal(t, "Tail pointer must be null", f.Message)
}

func TestIndexOutOfRangeIsAnOutOfBoundsAccess(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
		arr := m.NewArray("slot", 4, W32, 0)
		idx := m.NewCell("idx", W32, 4)
		m.Go("reader", 0, func(c *Ctx) {
			c.Load(&arr[c.Load(idx)])
		})
	})
	assert.Equal(t, KindOutOfBounds, f.Kind)
	assert.Contains(t, f.Message, "index out of range [4] with length 4")
	assert.Equal(t, "task reader", f.Context)
	assert.Regexp(t, `^sim/failure_test.go:\d+$`, f.Source, "names the simulated code's line, not the runtime's")
}

func TestNilDereferenceAndGoPanic(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
		var p *Cell
		m.Go("nil", 0, func(c *Ctx) { c.Load(p) })
	})
	assert.Equal(t, KindNilDeref, f.Kind)

	f, _ = findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
		m.Go("boom", 0, func(c *Ctx) { panic("boom") })
	})
	assert.Equal(t, KindGoPanic, f.Kind)
	assert.Equal(t, "boom", f.Message)
}

// ABBA on two sleeping locks: some schedule lets each task take its first
// mutex, and then nothing can run.
func TestABBADeadlock(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 2}, 200, func(m *Machine) {
		a, b := m.NewMutex("A"), m.NewMutex("B")
		lockBoth := func(first, second *Mutex) func(*Ctx) {
			return func(c *Ctx) {
				c.MutexLock(first)
				c.MutexLock(second)
				c.MutexUnlock(second)
				c.MutexUnlock(first)
			}
		}
		m.Go("t1", Any, lockBoth(a, b))
		m.Go("t2", Any, lockBoth(b, a))
	})
	assert.Equal(t, KindDeadlock, f.Kind)
	assert.Contains(t, f.Message, "task t1 sleeps in mutex_lock(B) held by task t2")
	assert.Contains(t, f.Message, "task t2 sleeps in mutex_lock(A) held by task t1")
}

// The soft lockup of the spec: a context spins, with preemption off, on a
// flag that only the task it preempted on the same CPU can clear.
func TestSoftLockupSpinningOnPreemptedTask(t *testing.T) {
	f, r := findFailure(t, Config{CPUs: 1}, 500, func(m *Machine) {
		busy := m.NewCell("busy", W32, 0)
		m.Go("holder", 0, func(c *Ctx) {
			c.WriteOnce(busy, 1)
			c.WriteOnce(busy, 0)
		})
		m.Go("waiter", 0, func(c *Ctx) {
			c.PreemptDisable()
			for c.ReadOnce(busy) != 0 {
				c.CpuRelax()
			}
			c.PreemptEnable()
		})
	})
	assert.Equal(t, KindSoftLockup, f.Kind)
	assert.Contains(t, f.Message, "CPU0 task waiter spins in cpu_relax")
	assert.Regexp(t, `^sim/failure_test.go:\d+$`, f.Source, "the traced replay names the cpu_relax line")
	assert.Equal(t, "task waiter", f.Context)
	assert.Contains(t, f.Message, "waiting for busy (=1) to change")
	assert.Contains(t, f.Message, "busy last written by task holder")
	assert.Contains(t, f.Message, "task holder is ready and waits for CPU0, which cannot be preempted")
	assert.Less(t, r.Steps, 20, "found at once, not by running out of steps")
}

// A hardirq that takes a spinlock held by the task it interrupted spins
// forever: the classic reason for spin_lock_irqsave.
func TestSoftLockupIrqOnHeldSpinlock(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 1}, 200, func(m *Machine) {
		l := m.NewSpinlock("lock")
		m.Go("owner", 0, func(c *Ctx) {
			c.SpinLock(l)
			c.SpinUnlock(l)
		})
		m.RequestIRQ(0, "dev", 1, func(c *Ctx) {
			c.SpinLock(l)
			c.SpinUnlock(l)
		})
	})
	assert.Equal(t, KindSoftLockup, f.Kind)
	assert.Contains(t, f.Message, "hardirq dev over owner spins in cpu_relax waiting for lock (=1) to change (lock last written by task owner at step")
	assert.Regexp(t, `^sim/failure_test.go:\d+$`, f.Source, "spin_lock's caller, not sim/lock.go")
}

func TestStepBudget(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 1, MaxSteps: 500}, 1, func(m *Machine) {
		x := m.NewCell("x", W64, 0)
		m.Go("forever", 0, func(c *Ctx) {
			for i := uint64(0); ; i++ {
				c.WriteOnce(x, i) // stores, so it is not a spin: it just never ends
			}
		})
	})
	assert.Equal(t, KindStepBudget, f.Kind)
	assert.Equal(t, 500, f.Step, "the run ends at its budget, MaxSteps")
}

func TestContextRuleViolationsAreBugs(t *testing.T) {
	cases := map[string]struct {
		body func(c *Ctx, mu *Mutex)
		msg  string
	}{
		"sleep with preemption off": {func(c *Ctx, mu *Mutex) { c.PreemptDisable(); c.MutexLock(mu) }, "sleeping function called from invalid context"},
		"unbalanced preempt_enable": {func(c *Ctx, _ *Mutex) { c.PreemptEnable() }, "preempt_enable() with preempt_count 0"},
		"unbalanced bh enable":      {func(c *Ctx, _ *Mutex) { c.LocalBhEnable() }, "local_bh_enable() without local_bh_disable()"},
		"cpu id while preemptible":  {func(c *Ctx, _ *Mutex) { c.SmpProcessorID() }, "using smp_processor_id() in preemptible code"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f, _ := findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
				mu := m.NewMutex("mu")
				m.Go("t", Any, func(c *Ctx) { tc.body(c, mu) })
			})
			assert.Equal(t, KindBug, f.Kind)
			assert.Contains(t, f.Message, tc.msg)
		})
	}
}

func TestSoftirqHandlerSleepingIsABug(t *testing.T) {
	f, _ := findFailure(t, Config{CPUs: 1}, 1, func(m *Machine) {
		mu := m.NewMutex("mu")
		m.OpenSoftirq(NetRxSoftirq, func(c *Ctx) { c.MutexLock(mu) })
		m.RequestIRQ(0, "nic", 1, func(c *Ctx) { c.RaiseSoftirq(NetRxSoftirq) })
	})
	assert.Equal(t, KindBug, f.Kind)
	assert.True(t, strings.HasPrefix(f.Message, "sleeping function called from invalid context: mutex_lock(mu) in softirq"), f.Message)
	assert.Equal(t, "softirq NET_RX over idle/0", f.Context)
}

// A higher-priority task that preempts a lower-priority one and spins on
// what the latter holds is a soft lockup; at equal priority the spinner is
// preempted in turn and the run completes.
func TestSoftLockupByPriority(t *testing.T) {
	setup := func(prio int) func(m *Machine) {
		return func(m *Machine) {
			busy := m.NewCell("busy", W32, 0)
			m.Go("low", 0, func(c *Ctx) {
				c.WriteOnce(busy, 1)
				c.WriteOnce(busy, 0)
			})
			high := m.Go("high", 0, func(c *Ctx) {
				for c.ReadOnce(busy) != 0 {
					c.CpuRelax()
				}
			})
			high.SetPriority(prio)
		}
	}
	f, _ := findFailure(t, Config{CPUs: 1}, 500, setup(1))
	assert.Equal(t, KindSoftLockup, f.Kind)
	assert.Contains(t, f.Message, "task low is ready and waits for CPU0, which runs higher-priority task high")
	for seed := range uint64(300) {
		r := build(t, Config{CPUs: 1}, setup(0)).Run(NewRandom(seed))
		require.Nil(t, r.Failure, "seed %d", seed)
	}
}

func TestNarrowCellsWrap(t *testing.T) {
	var got []uint64
	m := build(t, Config{CPUs: 1}, func(m *Machine) {
		x := m.NewCellBits("x", 4, 14)
		m.Go("t", 0, func(c *Ctx) {
			got = append(got, c.AtomicAddReturn(x, 1), c.AtomicAddReturn(x, 1))
			got = append(got, c.Cmpxchg(x, 16, 5), c.ReadOnce(x)) // 16 is 0 in four bits
		})
	})
	require.Nil(t, m.Run(NewRandom(1)).Failure)
	assert.Equal(t, []uint64{15, 0, 0, 5}, got)
}

// A failure's identity is its kind and where it was detected: the numbers
// in its message play no part.
func TestFailureIdentityIgnoresNumbers(t *testing.T) {
	assert.Equal(t, "value # enqueued by client #'s enqueue[# #] -> # was lost", MaskNumbers("value 10 enqueued by client 0's enqueue[9 10] -> 2 was lost"))
	a := &Failure{Kind: KindBug, Message: "consumer.tail 3 != consumer.head 2", Source: "alf/alf.go:205"}
	b := &Failure{Kind: KindBug, Message: "consumer.tail 0 != consumer.head 1", Source: "alf/alf.go:205"}
	assert.True(t, a.Same(b))
	assert.Equal(t, "bug at alf/alf.go:205", a.ID())
	b.Source = "alf/alf.go:192"
	assert.False(t, a.Same(b), "another line is another failure")
	c := Failf("lost-value", "value %d was lost", 7)
	d := Failf("lost-value", "value %d was lost", 9)
	assert.False(t, c.Same(d), "two checks are two sites")
	assert.Regexp(t, `^sim/failure_test\.go:\d+$`, c.Check, "a check's site is its line")
	deadlock := &Failure{Kind: KindDeadlock, Message: "tasks t0, t1 sleep at step 40"}
	assert.True(t, deadlock.Same(&Failure{Kind: KindDeadlock, Message: "tasks t0, t1 sleep at step 12"}), "a machine-wide failure is its masked message")
	assert.False(t, deadlock.Same(&Failure{Kind: KindDeadlock, Message: "tasks t0 sleep at step 12"}))
}
