package sim

import (
	"fmt"
	"testing"
)

// benchMachine: two CPUs, a task on each doing n READ_ONCE/WRITE_ONCE
// pairs on shared cells, so that strategies switch CPUs often.
func benchMachine(b *testing.B, n int) *Machine {
	m, err := New(Config{CPUs: 2, MaxSteps: 10 * n})
	if err != nil {
		b.Fatal(err)
	}
	x, y := m.NewCell("x", W32, 0), m.NewCell("y", W32, 0)
	for cpu := range 2 {
		m.Go([]string{"a", "b"}[cpu], cpu, func(c *Ctx) {
			for i := range n {
				c.WriteOnce(x, c.ReadOnce(y)+uint64(i))
			}
		})
	}
	return m
}

// BenchmarkSchedulingPoints reports how many scheduling points (decisions,
// each with its operation) the machine makes per second.
func BenchmarkSchedulingPoints(b *testing.B) {
	for _, bc := range []struct {
		name     string
		strategy func(seed uint64) Strategy
	}{
		{"random", func(s uint64) Strategy { return NewRandom(s) }},
		{"pct", func(s uint64) Strategy { return NewPCT(s, 3, 4000) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			steps := 0
			for i := 0; b.Loop(); i++ {
				r := benchMachine(b, 1000).Run(bc.strategy(uint64(i)))
				steps += r.Steps
			}
			b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps), "ns/point")
		})
	}
}

// BenchmarkStepCostByCPUs is the machine's own cost of a scheduling point
// as it grows: a task on every CPU doing READ_ONCE/WRITE_ONCE on cells of
// its own, so that no CPU waits for another and the cost is the machine's
// (choosing, switching to the CPU's coroutine, the access), not a
// workload's contention. Every run has about 16,000 points whatever the
// CPUs; the runs share a host and run in one batch, as exploration's do.
func BenchmarkStepCostByCPUs(b *testing.B) {
	for _, cpus := range []int{2, 8, 64} {
		b.Run(fmt.Sprintf("cpus=%d", cpus), func(b *testing.B) {
			h := NewHost()
			defer h.Close()
			steps := 0
			b.ResetTimer()
			if stopped := h.Do(func() {
				for i := range b.N {
					m, err := New(Config{CPUs: cpus, MaxSteps: 1 << 20, Host: h})
					if err != nil {
						b.Fatal(err)
					}
					for cpu := range cpus {
						x := m.NewCell(fmt.Sprintf("x%d", cpu), W32, 0)
						m.Go(fmt.Sprintf("t%d", cpu), cpu, func(c *Ctx) {
							for j := range 4000 / cpus {
								c.WriteOnce(x, c.ReadOnce(x)+uint64(j))
							}
						})
					}
					steps += m.Run(NewRandom(uint64(i))).Steps
				}
			}); stopped != nil {
				b.Fatalf("a run stopped the batch: %v", stopped.Failure)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps), "ns/point")
		})
	}
}
