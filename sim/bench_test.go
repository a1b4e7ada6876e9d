package sim

import (
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
