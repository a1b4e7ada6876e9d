package explore

import (
	"context"
	"strconv"
	"testing"

	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// BenchmarkRing2005 reports scheduling points and whole schedules per
// second on the 2005 ring's workload (each run until its crash or end) and
// on the locked ring (each run to its clean end), the runs sharing one
// host and batched on its driver as exploration's are.
func BenchmarkRing2005(b *testing.B) {
	for _, name := range []string{"ring2005", "ring2005-locked"} {
		for _, strategy := range []string{Random, PCT} {
			b.Run(name+"/"+strategy, func(b *testing.B) {
				benchRuns(b, name, nil, strategy)
			})
		}
	}
}

// BenchmarkStepCostByCPUs is the cost of a scheduling point on the locked
// ring as the machine grows, with 32 packets per CPU: what the machine
// adds per CPU, beyond the workload's own contention on its one lock.
// Under random almost every decision at 64 CPUs moves another CPU than the
// one before (a coroutine switch each), under PCT few do.
func BenchmarkStepCostByCPUs(b *testing.B) {
	for _, strategy := range []string{Random, PCT} {
		for _, cpus := range []int{2, 8, 64} {
			b.Run(strategy+"/cpus="+strconv.Itoa(cpus), func(b *testing.B) {
				n := strconv.Itoa(cpus)
				benchRuns(b, "ring2005-locked", []string{"cpus=" + n, "packets=" + strconv.Itoa(32*cpus)}, strategy)
			})
		}
	}
}

func benchRuns(b *testing.B, name string, set []string, strategy string) {
	s, err := scenario.Lookup(name)
	if err != nil {
		b.Fatal(err)
	}
	v, err := s.Values(set)
	if err != nil {
		b.Fatal(err)
	}
	h := sim.NewHost()
	defer h.Close()
	var steps, switches int64
	runs := 0
	// One batch on the host's driver, as explore runs each span.
	b.ResetTimer()
	if stopped := h.Do(func() {
		for i := range b.N {
			var st sim.Strategy = sim.NewRandom(uint64(i))
			if strategy == PCT {
				st = sim.NewPCT(uint64(i), 3, 2000)
			}
			r := s.Run(v, scenario.Options{Host: h}, st)
			steps += int64(r.Steps)
			switches += int64(r.Switches)
			runs++
		}
	}); stopped != nil {
		b.Fatalf("a run stopped the batch: %v", stopped.Failure)
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(steps)/sec, "points/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps), "ns/point")
	b.ReportMetric(float64(runs)/sec, "schedules/s")
	b.ReportMetric(float64(steps)/float64(runs), "points/schedule")
	b.ReportMetric(float64(switches)/float64(steps), "cpu-changes/point")
}

// BenchmarkExploreUntilCrash is simrun explore ring2005 with default
// settings: the time to find the first crash from seed 1.
func BenchmarkExploreUntilCrash(b *testing.B) {
	s, _ := scenario.Lookup("ring2005")
	v, _ := s.Values(nil)
	for b.Loop() {
		out, err := Explore(context.Background(), Config{Scenario: s, Values: v, Strategy: Random, Seed: 1, Runs: 100_000})
		if err != nil || out.Failure == nil {
			b.Fatal(err, out.Failure)
		}
	}
}
