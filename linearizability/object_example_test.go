package linearizability_test

import (
	"fmt"

	"github.com/anishathalye/porcupine"

	"github.com/kernelsim/lfsim/linearizability"
)

// A user's counter model checked against a history of two clients: an
// increment overlaps a read, and a later read sees a value no order of
// the increments gives.
func ExampleObjectHistory_Check() {
	counter := porcupine.Model{
		Init: func() any { return 0 },
		Step: func(state, input, output any) (bool, any) {
			if input == "inc" {
				return true, state.(int) + 1
			}
			return output == state, state // "read"
		},
		DescribeOperation: func(input, output any) string {
			if input == "inc" {
				return "inc()"
			}
			return fmt.Sprintf("read() -> %v", output)
		},
	}
	h := linearizability.ObjectHistory{Ops: []porcupine.Operation{
		{ClientId: 0, Input: "inc", Call: 1, Return: 6},
		{ClientId: 1, Input: "read", Output: 1, Call: 3, Return: 8}, // may see the inc or not
		{ClientId: 1, Input: "read", Output: 2, Call: 9, Return: 10},
	}}
	r := h.Check(linearizability.ObjectCheck{Model: counter})
	fmt.Println(r.Verdict)
	fmt.Println(r.Failure("the counter").Kind)
	fmt.Println(r.Reason)
	// Output:
	// illegal
	// not-linearizable
	// read() -> 2 by client 1 (steps 4-5): no order of the operations that must come before it lets it return that (one state possible just before it: 1)
}
