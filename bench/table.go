package bench

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"text/tabwriter"
)

// Bulks are the bulk sizes of the original's table.
var Bulks = []int{1, 2, 4, 8, 16}

// The original's figures (E5-2695, kernel module): ns per element of one
// enqueue or one dequeue, single CPU; and ns per alloc+free pair.
var (
	origMPMC = map[int]float64{1: 8.6, 2: 5.3, 4: 3.0, 8: 1.8, 16: 1.1}
	origSPSC = map[int]float64{1: 2.0, 2: 2.3, 4: 1.5, 8: 1.0, 16: 0.75}
	origPool = map[string]map[int]string{
		"slab":             {1: "19.6 (SLUB)", 256: "45 (SLUB)"},
		"qmempool-softirq": {1: "7.8", 256: "12.5"},
		"qmempool-bh":      {1: "18", 256: "-"},
	}
)

// nsPer runs a benchmark and returns its ns per op, unrounded: 0 when it
// did not run (Spread skips what does not fit the machine).
func nsPer(fn func(*testing.B)) float64 {
	r := testing.Benchmark(fn)
	if r.N == 0 {
		return 0
	}
	return float64(r.T.Nanoseconds()) / float64(r.N)
}

// Table runs the benchmarks behind the original's two tables and writes
// them with the original's figures beside ours; progress, if not nil,
// hears the name of each benchmark as it starts. Each benchmark takes
// about a second (the testing package's -test.benchtime). Once stop is
// closed no benchmark starts, nothing is written, and Table reports
// false.
func Table(w io.Writer, progress func(string), stop <-chan struct{}) bool {
	note := func(s string) {
		if progress != nil {
			progress(s)
		}
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	timed := func(fn func(*testing.B)) float64 {
		if stopped() {
			return 0
		}
		return nsPer(fn)
	}
	type row struct{ mpmc, spsc, mpmc4, spsc2 float64 }
	rows := map[int]row{}
	for _, bulk := range Bulks {
		var r row
		note(fmt.Sprintf("alf_queue bulk %d", bulk))
		r.mpmc = timed(func(b *testing.B) { Single(b, NewAlfMPMC(1), bulk) })
		r.spsc = timed(func(b *testing.B) { Single(b, NewAlfSPSC(1), bulk) })
		r.mpmc4 = timed(func(b *testing.B) { Spread(b, NewAlfMPMC(4), bulk, 2, 2) })
		r.spsc2 = timed(func(b *testing.B) { Spread(b, NewAlfSPSC(2), bulk, 1, 1) })
		rows[bulk] = r
	}
	note("channel and mutex ring")
	others := []struct {
		name   string
		single float64
		spread float64
	}{
		{"buffered chan, bulk 1", timed(func(b *testing.B) { Single(b, NewChan(), 1) }), timed(func(b *testing.B) { Spread(b, NewChan(), 1, 2, 2) })},
		{"mutex ring, bulk 1", timed(func(b *testing.B) { Single(b, new(MutexRing), 1) }), timed(func(b *testing.B) { Spread(b, new(MutexRing), 1, 2, 2) })},
		{"mutex ring, bulk 16", timed(func(b *testing.B) { Single(b, new(MutexRing), 16) }), timed(func(b *testing.B) { Spread(b, new(MutexRing), 16, 2, 2) })},
	}
	pool := map[string]map[int]float64{}
	for _, name := range Allocators {
		note("alloc+free: " + name)
		pool[name] = map[int]float64{}
		for _, burst := range []int{1, 256} {
			pool[name][burst] = timed(func(b *testing.B) { PoolBurst(b, name, burst) })
		}
	}

	if stopped() {
		return false
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "alf_queue: ns per element of one enqueue or one dequeue (ours: one enqueue + one dequeue, halved), one goroutine")
	fmt.Fprintln(tw, "bulk\tMPMC ours\tMPMC original\tSPSC ours\tSPSC original\t")
	for _, bulk := range Bulks {
		r := rows[bulk]
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%.2f\t%.2f\t\n", bulk, r.mpmc/2, origMPMC[bulk], r.spsc/2, origSPSC[bulk])
	}
	one, sixteen := rows[1], rows[16]
	fmt.Fprintf(tw, "bulk16/bulk1\t%.2f\t%.2f\t%.2f\t%.2f\t\n", sixteen.mpmc/one.mpmc, origMPMC[16]/origMPMC[1], sixteen.spsc/one.spsc, origSPSC[16]/origSPSC[1])
	tw.Flush()
	fmt.Fprintln(w, "\nalf_queue with goroutines: ns of wall time per element (enqueue + dequeue)")
	fmt.Fprintln(tw, "bulk\tMPMC 2 producers + 2 consumers\tSPSC 1 producer + 1 consumer\t")
	for _, bulk := range Bulks {
		fmt.Fprintf(tw, "%d\t%s\t%s\t\n", bulk, figure(rows[bulk].mpmc4), figure(rows[bulk].spsc2))
	}
	tw.Flush()
	if !Fits(4) {
		fmt.Fprintf(w, "-: not run, 2 producers + 2 consumers are 4 CPU ids, more than the %d CPUs here (see Oversubscribe)\n", runtime.NumCPU())
	}
	fmt.Fprintln(w, "\nthe same per element for Go's queues (enqueue + dequeue)")
	fmt.Fprintln(tw, "queue\tone goroutine\t2 producers + 2 consumers\t")
	fmt.Fprintf(tw, "alf_queue MPMC, bulk 1\t%.2f\t%s\t\n", one.mpmc, figure(one.mpmc4))
	fmt.Fprintf(tw, "alf_queue MPMC, bulk 16\t%.2f\t%s\t\n", sixteen.mpmc, figure(sixteen.mpmc4))
	for _, o := range others {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t\n", o.name, o.single, figure(o.spread))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nobject pools: ns per alloc + free, 256-byte objects, one goroutine")
	fmt.Fprintln(tw, "allocator\tfast-path reuse\toriginal\t256 allocs then 256 frees\toriginal\t")
	for _, name := range Allocators {
		o := origPool[name]
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%.2f\t%s\t\n", name, pool[name][1], orDash(o[1]), pool[name][256], orDash(o[256]))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nslab is package native's kmem_cache (a free list under a mutex), not SLUB; qmempool-bh is Alloc/Free from task context (bh toggles are counters natively).")
	return true
}

// figure is ns/op as the tables show it, "-" for a benchmark not run.
func figure(ns float64) string {
	if ns == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", ns)
}

// orDash is s, or "-" when there is no figure.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
