package check_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/kernelsim/lfsim/check"
	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/sim"
)

// counter is a subject: two CPUs add to a shared counter twice each, with
// an atomic add, or with a read and a write that another CPU can come
// between.
func counter(add func(c *sim.Ctx, n *sim.Cell)) check.Workload {
	return check.Workload{CPUs: 2, Build: func(m *sim.Machine) check.Check {
		n := m.NewCell("n", sim.W32, 0)
		for cpu := range 2 {
			m.Go(fmt.Sprintf("adder/%d", cpu), cpu, func(c *sim.Ctx) {
				add(c, n)
				add(c, n)
			})
		}
		return func() *sim.Failure {
			if got := n.Peek(); got != 4 {
				return sim.Failf("lost-update", "n is %d after 4 adds", got)
			}
			return nil
		}
	}}
}

func atomicAdd(c *sim.Ctx, n *sim.Cell) { c.AtomicAddReturn(n, 1) }

func racyAdd(c *sim.Ctx, n *sim.Cell) { c.WriteOnce(n, c.ReadOnce(n)+1) }

// In a test file this is
//
//	func TestCounter(t *testing.T) { check.Run(t, workload, check.Runs(2000)) }
//
// Here a stand-in for *testing.T prints what the test would log.
func ExampleRun() {
	t := &printer{name: "TestCounter"}
	check.Run(t, counter(atomicAdd), check.Runs(2000))
	// Output:
	// lfsim: Counter: no failure in 2000 schedules (mix, seed 1)
}

// A broken subject fails the test: the failure, where it was detected,
// and the saved schedule, with the shrunk trace in the log before it.
func ExampleRun_lostUpdate() {
	dir, _ := os.MkdirTemp("", "lfsim")
	defer os.RemoveAll(dir)
	t := &printer{name: "TestCounter"}
	t.run(func() { check.Run(t, counter(racyAdd), check.Dir(dir)) })
	fmt.Println(strings.Split(t.fatal, "\n")[0])
	fmt.Println(strings.Contains(t.fatal, "found by the check at check/example_test.go:"))
	// Output:
	// lfsim: Counter: lost-update: n is 2 after 4 adds
	// true
}

// Prove runs every schedule within the bounds: the atomic counter passes
// for every schedule with up to two preemptions, and says so.
//
//	func TestCounter(t *testing.T) {
//		check.Prove(t, workload, exhaustive.Bounds{Preemptions: 2})
//	}
func ExampleProve() {
	t := &printer{name: "TestCounter"}
	check.Prove(t, counter(atomicAdd), exhaustive.Bounds{Preemptions: 2})
	// Output:
	// lfsim: Counter: complete: 36 executions (6 pruned), no failure with <= 2 preemptions, <= 0 interrupts, <= 0 allocation failures
}

// The racy counter fails with the fewest preemptions a lost update needs.
func ExampleProve_lostUpdate() {
	dir, _ := os.MkdirTemp("", "lfsim")
	defer os.RemoveAll(dir)
	t := &printer{name: "TestCounter"}
	t.run(func() { check.Prove(t, counter(racyAdd), exhaustive.Bounds{Preemptions: 2}, check.Dir(dir)) })
	lines := strings.Split(t.fatal, "\n")
	fmt.Println(lines[0])
	fmt.Println(strings.Contains(t.fatal, "1 preemptions, the fewest any failing schedule needs"))
	// Output:
	// lfsim: Counter: lost-update: n is 2 after 4 adds
	// true
}

// printer is a check.TB that prints the lines a test would log, keeps the
// trace aside and stops at Fatalf, as testing.T does.
type printer struct {
	name  string
	fatal string
}

type stop struct{}

func (p *printer) Helper()                         {}
func (p *printer) Name() string                    { return p.name }
func (p *printer) Log(args ...any)                 {}
func (p *printer) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (p *printer) Fatalf(format string, args ...any) {
	p.fatal = fmt.Sprintf(format, args...)
	panic(stop{})
}

func (p *printer) run(f func()) {
	defer func() {
		if r := recover(); r != nil && r != (stop{}) {
			panic(r)
		}
	}()
	f()
}
