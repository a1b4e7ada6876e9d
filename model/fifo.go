// Package model holds sequential specifications: what a data structure
// must do when its operations happen one at a time. Checkers compare
// implementations against them, single-threaded (state-machine tests) and
// concurrently (linearizability).
//
// # The bounded bulk FIFO, and what alf_queue actually guarantees
//
// FIFO is a queue of at most Cap values with bulk operations: Enqueue puts
// all of its values in or none (when fewer slots are free), Dequeue takes
// up to n values, fewer if fewer are there, none when it is empty.
//
// A concurrent queue is linearizable against the Strict specification if
// every operation appears to take effect at one instant between its call
// and its return, and the results are those of FIFO run in that order.
// alf_queue is not. Take capacity 1 and three operations:
//
//	P1: enqueue(x) -> 1   reserves the slot (cmpxchg on producer.head) ... publishes
//	P2: enqueue(y) -> 0   (full)       while P1 has reserved but not published
//	C:  dequeue(1) -> []  (empty)      after P2 returned, P1 still not published
//
// Strictly, P2's "full" needs x in the queue at some instant within P2's
// call, and C's "empty" needs it absent at some later instant within C's
// call; x cannot leave without being dequeued, and P1's enqueue happens
// once. No order explains both, so the history is not strictly
// linearizable, yet every step of it is the queue working as designed.
//
// What ALF guarantees, precisely: a dequeue sees what producers have
// published (producer.tail), and an enqueue is refused when the reserved
// space (producer.head) would pass what consumers have released
// (consumer.tail). Between its reservation and its publication an enqueue
// occupies space that no dequeue can see yet; between its reservation and
// its release a dequeue keeps its slots occupied after their values are
// gone. Both happen only while those operations are in flight, so an
// enqueue that reports full is either truly full or overlaps in time with
// some other operation. Every other result (successful enqueues, what each
// dequeue returns, an empty dequeue) is exactly the FIFO's.
//
// That is the ALF specification: Strict, except that an enqueue returning 0
// while at least one other operation is in flight needs no justification.
// It is still a strong check. Values cannot be lost, duplicated or
// reordered, and an enqueue refused with nothing else going on must find
// the queue truly full.
package model

import "fmt"

// Spec names a guarantee that concurrent histories are checked against.
type Spec int

const (
	// Strict is the bounded bulk FIFO, every result justified.
	Strict Spec = iota
	// ALF is Strict with one relaxation: an enqueue that returns 0 while
	// another operation is in flight is allowed (see the package doc).
	ALF
)

func (s Spec) String() string {
	if s == ALF {
		return "alf"
	}
	return "strict"
}

// FIFO is the sequential bounded bulk FIFO.
type FIFO struct {
	Cap   int
	items []uint64
}

// NewFIFO returns an empty FIFO of capacity cap.
func NewFIFO(cap int) *FIFO { return &FIFO{Cap: cap} }

// Enqueue puts all of vals in and returns len(vals), or returns 0 and
// changes nothing when fewer than len(vals) slots are free.
func (q *FIFO) Enqueue(vals []uint64) int {
	if len(q.items)+len(vals) > q.Cap {
		return 0
	}
	q.items = append(q.items, vals...)
	return len(vals)
}

// Dequeue takes up to n values, oldest first.
func (q *FIFO) Dequeue(n int) []uint64 {
	k := min(n, len(q.items))
	out := append([]uint64(nil), q.items[:k]...)
	q.items = q.items[k:]
	return out
}

// Count is the number of values held.
func (q *FIFO) Count() int { return len(q.items) }

// AvailSpace is the number of free slots.
func (q *FIFO) AvailSpace() int { return q.Cap - len(q.items) }

// Empty reports whether no value is held.
func (q *FIFO) Empty() bool { return len(q.items) == 0 }

// StepEnqueue is the specification of one enqueue as a pure function, for
// checkers that explore orders: from the values held (oldest first), an
// enqueue of vals that returned got is legal when the FIFO would return
// the same, or, under ALF, when it returned 0 while concurrent with
// another operation. It returns the values held afterwards (state is not
// modified).
func StepEnqueue(spec Spec, cap int, state, vals []uint64, got int, concurrent bool) (bool, []uint64) {
	fits := len(state)+len(vals) <= cap
	switch {
	case got == len(vals) && fits && got > 0:
		next := make([]uint64, 0, len(state)+len(vals))
		return true, append(append(next, state...), vals...)
	case got == 0 && (!fits || len(vals) == 0 || (spec == ALF && concurrent)):
		return true, state
	}
	return false, state
}

// StepDequeue is the specification of one dequeue of up to n values that
// returned got: legal when got is exactly the oldest min(n, held) values.
func StepDequeue(state []uint64, n int, got []uint64) (bool, []uint64) {
	k := min(n, len(state))
	if len(got) != k {
		return false, state
	}
	for i, v := range got {
		if state[i] != v {
			return false, state
		}
	}
	return true, state[k:]
}

// DescribeEnqueue and DescribeDequeue show operations the way
// visualisations and failure reports print them.
func DescribeEnqueue(vals []uint64, got int) string { return fmt.Sprintf("enqueue%v -> %d", vals, got) }

// DescribeDequeue: see DescribeEnqueue.
func DescribeDequeue(n int, got []uint64) string { return fmt.Sprintf("dequeue(%d) -> %v", n, got) }
