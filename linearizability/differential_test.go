package linearizability

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/model"
)

// porcupineVerdict is porcupine's answer, Undecided when its search did not
// finish in time: the differential test then skips the history (the
// timeout is the second opinion's, never the checker's).
func porcupineVerdict(h *History, spec model.Spec, cap int) Verdict {
	switch porcupine.CheckOperationsTimeout(Model(spec, cap), h.Operations(), 5*time.Second) {
	case porcupine.Ok:
		return Ok
	case porcupine.Illegal:
		return Illegal
	}
	return Undecided
}

// rapidChooser makes GenHistory's choices with rapid.
type rapidChooser struct{ t *rapid.T }

func (r rapidChooser) IntRange(lo, hi int, label string) int {
	return rapid.IntRange(lo, hi).Draw(r.t, label)
}

// genHistory draws a small history with GenHistory, then perhaps mutates
// one result or interval (which may or may not break it).
func genHistory(t *rapid.T, spec model.Spec) (*History, int) {
	cap := rapid.IntRange(1, 5).Draw(t, "cap")
	clients := rapid.IntRange(1, 5).Draw(t, "clients")
	h, left := GenHistory(rapidChooser{t}, GenShape{
		Clients: clients, PerClient: rapid.IntRange(1, 6).Draw(t, "ops"), Cap: cap,
		MinBulk: 0, MaxBulk: rapid.IntRange(1, 3).Draw(t, "bulk"), Spec: spec, SpuriousFull: 4,
	})
	if rapid.Bool().Draw(t, "drained") {
		h.Drained(clients, left)
	}
	mutate(t, h)
	// Times are only compared: shifted far, negative or apart, the
	// verdict must not change.
	shift := rapid.SampledFrom([]int64{0, 0, -1 << 42, 1 << 50}).Draw(t, "shift")
	for i := range h.Ops {
		h.Ops[i].Call += shift
		h.Ops[i].Return += shift
	}
	return h, cap
}

// mutate changes one thing in the history, or nothing.
func mutate(t *rapid.T, h *History) {
	if len(h.Ops) == 0 {
		return
	}
	i := rapid.IntRange(0, len(h.Ops)-1).Draw(t, "victim")
	o := &h.Ops[i]
	switch rapid.IntRange(0, 7).Draw(t, "mutation") {
	case 1: // flip an enqueue's result
		if o.Enqueue && len(o.Vals) > 0 {
			o.Got = len(o.Vals) - o.Got
		}
	case 2: // swap two values a dequeue returned
		if len(o.Out) >= 2 {
			o.Out = slices.Clone(o.Out)
			o.Out[0], o.Out[1] = o.Out[1], o.Out[0]
		}
	case 3: // drop a returned value
		if len(o.Out) > 0 {
			o.Out = slices.Clone(o.Out[1:])
		}
	case 4: // exchange two dequeues' results
		j := rapid.IntRange(0, len(h.Ops)-1).Draw(t, "other")
		p := &h.Ops[j]
		if !o.Enqueue && !p.Enqueue {
			o.Out, p.Out = p.Out, o.Out
			o.N, p.N = max(o.N, len(o.Out)), max(p.N, len(p.Out))
		}
	case 5: // move the call later or the return earlier
		mid := (o.Call + o.Return) / 2
		if rapid.Bool().Draw(t, "which") {
			o.Call = mid
		} else {
			o.Return = mid
		}
	case 6: // ask for one more than was returned
		if !o.Enqueue {
			o.N = len(o.Out) + 1
		}
	}
}

// compared counts the histories both checkers decided, across the runs of
// the differential tests in this process.
var compared, illegalSeen atomic.Int64

func differential(t *rapid.T, spec model.Spec) {
	h, cap := genHistory(t, spec)
	want := porcupineVerdict(h, spec, cap)
	if want == Undecided {
		t.Skip("porcupine did not finish")
	}
	got := h.Check(spec, cap)
	compared.Add(1)
	if want == Illegal {
		illegalSeen.Add(1)
	}
	if got.Verdict != want {
		t.Fatalf("cap %d, spec %s: queue checker says %s (%s), porcupine %s\n%s", cap, spec, got.Verdict, got.Reason, want, dump(h))
	}
	// The full sweep alone, without the guessed order first, agrees too.
	if full := h.checkQueue(spec, cap, WorkPerOp*int64(len(h.Ops)+1024), false); full.Verdict != want {
		t.Fatalf("cap %d, spec %s: the full sweep says %s (%s), porcupine %s\n%s", cap, spec, full.Verdict, full.Reason, want, dump(h))
	}
}

func dump(h *History) string {
	s := ""
	for _, o := range h.Ops {
		s += fmt.Sprintf("  client %d [%d,%d] %v\n", o.Client, o.Call, o.Return, o)
	}
	return s
}

// The queue checker and porcupine agree on every history, linearizable or
// not, under both specifications. -rapid.checks sets how many per
// specification (100 by default); the long mode is
// `go test -run Differential -rapid.checks=100000 ./linearizability`.
func TestDifferential(t *testing.T) {
	compared.Store(0)
	illegalSeen.Store(0)
	for _, spec := range []model.Spec{model.Strict, model.ALF} {
		t.Run(spec.String(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) { differential(t, spec) })
		})
	}
	require.Positive(t, compared.Load())
	require.Positive(t, illegalSeen.Load(), "the generator must also make histories that are not linearizable")
	t.Logf("%d histories compared, %d of them not linearizable: all agreed", compared.Load(), illegalSeen.Load())
}
