package litmus_test

import (
	"fmt"

	"github.com/kernelsim/lfsim/litmus"
)

// Message passing with smp_wmb() on the writer and nothing on the
// reader: x86 keeps the reads in order, the kernel's model does not.
func ExampleRun() {
	t, err := litmus.Parse(`C MP+wmb
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_wmb(); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range []litmus.Model{litmus.SC{}, litmus.TSO{}, litmus.LKMM{}} {
		out, err := litmus.Run(t, m)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(m.Name(), out.Observation, out.Positive, out.Negative)
	}
	// Output:
	// sc Never 0 3
	// tso Never 0 3
	// lkmm Sometimes 1 3
}
