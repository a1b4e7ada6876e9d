package sim

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// observed runs setup under many random schedules and collects what the
// observer cell held whenever the probe read it.
func observed(t *testing.T, cpus, seeds int, setup func(m *Machine, seen func(uint64))) map[uint64]bool {
	t.Helper()
	got := map[uint64]bool{}
	for seed := range uint64(seeds) {
		m := build(t, Config{CPUs: cpus}, func(m *Machine) { setup(m, func(v uint64) { got[v] = true }) })
		r := m.Run(NewRandom(seed))
		require.NoError(t, r.Err)
		require.Nil(t, r.Failure)
	}
	return got
}

// A task on the same CPU sees the middle state of another task's critical
// section only if that section can be preempted.
func TestPreemptionOnlyWhereAllowed(t *testing.T) {
	run := func(protect bool) map[uint64]bool {
		return observed(t, 1, 300, func(m *Machine, seen func(uint64)) {
			x := m.NewCell("x", W32, 0)
			m.Go("writer", 0, func(c *Ctx) {
				if protect {
					c.PreemptDisable()
				}
				c.WriteOnce(x, 1)
				c.WriteOnce(x, 2)
				if protect {
					c.PreemptEnable()
				}
			})
			m.Go("reader", 0, func(c *Ctx) { seen(c.ReadOnce(x)) })
		})
	}
	assert.True(t, run(false)[1], "unprotected: the reader preempts the writer in the middle")
	assert.False(t, run(true)[1], "preempt_disable: never")
	for _, bh := range []bool{false, true} {
		got := observed(t, 1, 300, func(m *Machine, seen func(uint64)) {
			x := m.NewCell("x", W32, 0)
			m.Go("writer", 0, func(c *Ctx) {
				if bh {
					c.LocalBhDisable()
				} else {
					c.LocalIrqDisable()
				}
				c.WriteOnce(x, 1)
				c.WriteOnce(x, 2)
				if bh {
					c.LocalBhEnable()
				} else {
					c.LocalIrqEnable()
				}
			})
			m.Go("reader", 0, func(c *Ctx) { seen(c.ReadOnce(x)) })
		})
		assert.False(t, got[1], "bh disabled=%v: no preemption", bh)
	}
}

// Interrupts fire only with irqs on; softirqs are held off by bh disable.
func TestInterruptsRespectMasking(t *testing.T) {
	for _, mode := range []string{"none", "irqsave", "bh"} {
		got := observed(t, 1, 300, func(m *Machine, seen func(uint64)) {
			x := m.NewCell("x", W32, 0)
			m.Go("task", 0, func(c *Ctx) {
				var fl IrqFlags
				switch mode {
				case "irqsave":
					fl = c.LocalIrqSave()
				case "bh":
					c.LocalBhDisable()
				}
				c.WriteOnce(x, 1)
				c.WriteOnce(x, 2)
				switch mode {
				case "irqsave":
					c.LocalIrqRestore(fl)
				case "bh":
					c.LocalBhEnable()
				}
			})
			m.OpenSoftirq(TaskletSoftirq, func(c *Ctx) { seen(c.ReadOnce(x)) })
			m.RequestIRQ(0, "dev", 1, func(c *Ctx) { c.RaiseSoftirq(TaskletSoftirq) })
		})
		assert.Equal(t, mode == "none", got[1], "mode %s: softirq sees the middle state", mode)
	}
}

// Softirqs run at irq_exit, or at local_bh_enable if bh was disabled when
// the interrupt came; never inside the bh-disabled section, and never
// nested in another softirq on the same CPU.
func TestSoftirqPlacement(t *testing.T) {
	atEnable, atIrqExit := 0, 0
	for seed := range uint64(300) {
		depth, maxDepth := 0, 0
		inSection, enabling := false, false
		m := build(t, Config{CPUs: 1}, func(m *Machine) {
			x := m.NewCell("x", W32, 0)
			m.Go("task", 0, func(c *Ctx) {
				c.LocalBhDisable()
				inSection = true
				c.WriteOnce(x, 1)
				inSection, enabling = false, true
				c.LocalBhEnable()
				enabling = false
			})
			m.OpenSoftirq(NetRxSoftirq, func(c *Ctx) {
				depth++
				maxDepth = max(maxDepth, depth)
				assert.False(t, inSection, "seed %d: softirq inside the bh-disabled section", seed)
				assert.True(t, c.InServingSoftirq())
				assert.False(t, c.InIrq())
				assert.False(t, c.IrqsDisabled(), "softirq handlers run with irqs on")
				if enabling {
					atEnable++
				} else {
					atIrqExit++
				}
				c.ReadOnce(x)
				depth--
			})
			m.RequestIRQ(0, "nic", 3, func(c *Ctx) {
				assert.True(t, c.InIrq())
				assert.True(t, c.IrqsDisabled())
				c.RaiseSoftirq(NetRxSoftirq)
			})
		})
		r := m.Run(NewRandom(seed))
		require.Nil(t, r.Failure)
		assert.Equal(t, 1, maxDepth, "seed %d: NET_RX never nests", seed)
	}
	assert.Positive(t, atEnable, "some schedule defers the softirq to local_bh_enable")
	assert.Positive(t, atIrqExit, "some schedule runs it at irq_exit")
}

// A task free to migrate resumes on another CPU in some schedule, and a
// pinned one never does.
func TestMigration(t *testing.T) {
	cpusSeen := func(pin int) map[uint64]bool {
		return observed(t, 2, 300, func(m *Machine, seen func(uint64)) {
			x := m.NewCell("x", W32, 0)
			m.Go("mover", pin, func(c *Ctx) {
				for range 4 {
					c.WriteOnce(x, 1)
					seen(uint64(c.RawSmpProcessorID()))
				}
			})
			m.Go("other", Any, func(c *Ctx) { c.WriteOnce(x, 2) })
		})
	}
	assert.Equal(t, map[uint64]bool{0: true, 1: true}, cpusSeen(Any))
	assert.Equal(t, map[uint64]bool{1: true}, cpusSeen(1))
}

// ring-like workload used by the determinism tests: two CPUs with tasks,
// interrupts and softirqs, all racing on shared cells.
func busyMachine(t *testing.T, trace bool) *Machine {
	return busyMachineWith(t, Config{CPUs: 2, Trace: trace})
}

func busyMachineWith(t *testing.T, cfg Config) *Machine {
	return build(t, cfg, func(m *Machine) {
		x, y := m.NewCell("x", W32, 0), m.NewCell("y", W64, 0)
		l := m.NewSpinlock("l")
		m.OpenSoftirq(NetRxSoftirq, func(c *Ctx) { c.AtomicAddReturn(y, 1) })
		for cpu := range 2 {
			m.RequestIRQ(cpu, "nic", 3, func(c *Ctx) { c.RaiseSoftirq(NetRxSoftirq); c.Xchg(x, 9) })
			m.Go(fmt.Sprintf("t%d", cpu), Any, func(c *Ctx) {
				for i := range 5 {
					fl := c.SpinLockIrqsave(l)
					c.Store(x, c.Load(x)+uint64(i))
					c.SpinUnlockIrqrestore(l, fl)
					c.Cmpxchg(y, uint64(i), uint64(i+1))
					c.SmpMb()
				}
			})
		}
	})
}

// renderTrace is every field of every event, one per line.
func renderTrace(t *testing.T, r Result) string {
	t.Helper()
	var b bytes.Buffer
	for _, e := range r.Trace {
		fmt.Fprintf(&b, "%+v\n", e)
	}
	return b.String()
}

// The same decisions give the same trace, byte for byte, whatever the
// host's GOMAXPROCS, and a strategy is a pure function of its seed.
func TestDeterminism(t *testing.T) {
	for _, strategy := range []func(seed uint64) Strategy{
		func(s uint64) Strategy { return NewRandom(s) },
		func(s uint64) Strategy { return NewPCT(s, 3, 200) },
		func(s uint64) Strategy { return NewPOS(s) },
	} {
		for seed := range uint64(20) {
			a := busyMachine(t, true).Run(strategy(seed))
			b := busyMachine(t, true).Run(strategy(seed))
			require.Nil(t, a.Failure)
			assert.Equal(t, a.Decisions, b.Decisions)
			want := renderTrace(t, a)
			for _, procs := range []int{1, 8} {
				old := runtime.GOMAXPROCS(procs)
				r := busyMachine(t, true).Run(NewReplay(a.Decisions))
				runtime.GOMAXPROCS(old)
				require.NoError(t, r.Err)
				assert.Equal(t, want, renderTrace(t, r), "GOMAXPROCS=%d", procs)
			}
			// Tracing changes nothing but the record.
			assert.Equal(t, a.Decisions, busyMachine(t, false).Run(strategy(seed)).Decisions)
		}
	}
}

func TestReplayDivergenceIsAnError(t *testing.T) {
	a := busyMachine(t, false).Run(NewRandom(1))
	short := busyMachine(t, false).Run(NewReplay(a.Decisions[:10]))
	require.Error(t, short.Err)
	assert.Contains(t, short.Err.Error(), "the schedule ends after 10 decisions but the run goes on")

	bad := append([]Move(nil), a.Decisions...)
	bad[0] = Move{Kind: MoveIRQ, CPU: 1, Arg: 7}
	r := busyMachine(t, false).Run(NewReplay(bad))
	require.Error(t, r.Err)
	assert.Contains(t, r.Err.Error(), "step 0: the schedule diverges")

	_, err := busyMachine(t, false).ParseMove("w0:nobody")
	assert.EqualError(t, err, `decision "w0:nobody": no task "nobody"`)
}

func TestMoveTokensRoundTrip(t *testing.T) {
	m := busyMachine(t, false)
	r := m.Run(NewRandom(5))
	for _, tok := range r.Tokens() {
		mv, err := m.ParseMove(tok)
		require.NoError(t, err)
		assert.Equal(t, tok, m.FormatMove(mv))
	}
}

// The byte-stream strategy is deterministic and, once the bytes run out,
// takes the first move every time.
func TestBytesStrategy(t *testing.T) {
	data := []byte{3, 200, 17, 45, 99, 1, 0, 255}
	a := busyMachine(t, false).Run(NewBytes(data))
	b := busyMachine(t, false).Run(NewBytes(data))
	assert.Equal(t, a.Decisions, b.Decisions)
	empty := busyMachine(t, false).Run(NewBytes(nil))
	require.Nil(t, empty.Failure)
	first := busyMachine(t, false).Run(chooser(func(int) int { return 0 }))
	assert.Equal(t, first.Decisions, empty.Decisions)
}

type chooser func(n int) int

func (c chooser) Choose(_ *Machine, moves []Move) (int, error) { return c(len(moves)), nil }

func TestNewRejectsImpossibleMachines(t *testing.T) {
	for _, cfg := range []Config{{CPUs: 0}, {CPUs: 65}, {CPUs: 2, MaxSteps: -1}} {
		_, err := New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}

// The context queries answer as the kernel's do in each context.
func TestContextQueries(t *testing.T) {
	type seen struct {
		softirq, interrupt, irqsOff bool
		preempt                     int
	}
	var got []seen
	look := func(c *Ctx) {
		got = append(got, seen{c.InSoftirq(), c.InInterrupt(), c.IrqsDisabled(), c.PreemptCount()})
	}
	m := build(t, Config{CPUs: 1}, func(m *Machine) {
		l := m.NewSpinlock("l")
		m.Go("t", 0, func(c *Ctx) {
			look(c)
			c.SpinLockBh(l)
			look(c)
			c.SpinUnlockBh(l)
			c.PreemptDisable()
			look(c)
			c.PreemptEnable()
		})
	})
	require.Nil(t, m.Run(NewBytes(nil)).Failure)
	assert.Equal(t, []seen{{false, false, false, 0}, {true, true, false, 0}, {false, false, false, 1}}, got)
}
