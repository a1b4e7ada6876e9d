package linearizability

import "github.com/kernelsim/lfsim/model"

// Chooser draws the random choices of GenHistory: rapid in the property
// tests, a seeded generator in the benchmarks.
type Chooser interface {
	// IntRange returns an int in lo..hi; label names the choice.
	IntRange(lo, hi int, label string) int
}

// GenShape is the shape of a generated history.
type GenShape struct {
	Clients, PerClient, Cap int
	MinBulk, MaxBulk        int
	Spec                    model.Spec
	// SpuriousFull: under ALF, one enqueue in SpuriousFull that takes
	// effect while another operation is in flight reports full whatever
	// the space, as the real queue may.
	SpuriousFull int
}

// GenHistory makes a linearizable history by running a sequential FIFO
// under a random interleaving of calls, effects and returns, so that the
// operations really overlap; values are 1, 2, 3, ... It also returns
// what the queue holds at the end, oldest first (for Drained). It is
// exported for the benchmarks of the external test package.
func GenHistory(ch Chooser, g GenShape) (*History, []uint64) {
	type run struct {
		op    Op
		phase int // 0 idle, 1 called, 2 taken effect
		done  int
	}
	fifo := model.NewFIFO(g.Cap)
	runs := make([]run, g.Clients)
	h := &History{}
	next, now, inFlight := uint64(0), int64(0), 0
	var choices []int
	for {
		choices = choices[:0]
		for c, r := range runs {
			if r.phase > 0 || r.done < g.PerClient {
				choices = append(choices, c)
			}
		}
		if len(choices) == 0 {
			break
		}
		c := choices[ch.IntRange(0, len(choices)-1, "client")]
		r := &runs[c]
		now++
		switch r.phase {
		case 0:
			n := ch.IntRange(g.MinBulk, g.MaxBulk, "n")
			r.op = Op{Client: c, Enqueue: ch.IntRange(0, 1, "enqueue") == 1, N: n, Call: now}
			if r.op.Enqueue {
				for range n {
					next++
					r.op.Vals = append(r.op.Vals, next)
				}
				r.op.N = 0
			}
			r.phase = 1
			inFlight++
		case 1:
			switch {
			case !r.op.Enqueue:
				r.op.Out = fifo.Dequeue(r.op.N)
			case g.Spec == model.ALF && inFlight > 1 && ch.IntRange(1, g.SpuriousFull, "spurious-full") == 1:
				r.op.Got = 0
			default:
				r.op.Got = fifo.Enqueue(r.op.Vals)
			}
			r.phase = 2
		case 2:
			r.op.Return = now
			h.Ops = append(h.Ops, r.op)
			r.phase = 0
			r.done++
			inFlight--
		}
	}
	return h, fifo.Dequeue(g.Cap)
}
