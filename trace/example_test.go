package trace_test

import (
	"fmt"
	"os"

	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

// A workload marks the calls of the code under test with Call and
// Return; the table groups each call's events under it, and shows a call
// that no other CPU interleaved with as one line. Here two CPUs push onto
// a one-slot stack with a racy read then write: both first pushes return
// 0 as the old top, and CPU1's write loses CPU0's second push.
func ExampleColumns() {
	m, err := sim.New(sim.Config{CPUs: 2, Trace: true})
	if err != nil {
		panic(err)
	}
	top := m.NewCell("top", sim.W32, 0)
	push := func(c *sim.Ctx, v uint64) {
		c.Call("push", v)
		old := c.ReadOnce(top)
		c.WriteOnce(top, v)
		c.Return(old)
	}
	for cpu := range 2 {
		m.Go(fmt.Sprintf("pusher/%d", cpu), cpu, func(c *sim.Ctx) {
			push(c, uint64(10*cpu+1))
			push(c, uint64(10*cpu+2))
		})
	}
	// Schedule both tasks and start them; both first pushes read top
	// before either writes it, then CPU0 makes its second push alone,
	// and CPU1 ends its first and makes its second.
	r := m.Run(sim.NewReplay([]sim.Move{
		{Kind: sim.MoveSwitch, CPU: 0, Arg: 0}, {Kind: sim.MoveSwitch, CPU: 1, Arg: 1},
		{CPU: 0}, {CPU: 1}, {CPU: 0}, {CPU: 1}, {CPU: 0},
		{CPU: 0}, {CPU: 0}, {CPU: 1}, {CPU: 1}, {CPU: 1},
	}))
	if err := trace.Columns(os.Stdout, r.Trace, trace.Options{CPUs: r.CPUs}); err != nil {
		panic(err)
	}
	// Output:
	// step   | CPU0                                            | CPU1
	// #1     | [task pusher/0] schedule pusher/0               |
	// #2     |                                                 | [task pusher/1] schedule pusher/1
	// #3     | start                                           |
	//        | push(1)                                         |
	// #4     |                                                 | start
	//        |                                                 | push(11)
	// #5     |   READ_ONCE top -> 0  @trace/example_test.go:24 |
	// #6     |                                                 |   READ_ONCE top -> 0  @trace/example_test.go:24
	// #7     |   WRITE_ONCE top = 1  @trace/example_test.go:25 |
	//        | push -> 0                                       |
	// #8-9   | push(2) -> 1                                    |
	//        | exit                                            |
	// #10    |                                                 |   WRITE_ONCE top = 11  @trace/example_test.go:25
	//        |                                                 | push -> 0
	// #11-12 |                                                 | push(12) -> 11
	//        |                                                 | exit
}
