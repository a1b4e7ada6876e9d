package linearizability

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/model"
)

// Violations are reported by the operations that make them: the checker
// names them (by index and in the reason), whatever their number.
func TestViolationsNameTheirOperations(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
		spec model.Spec
		want []int // indices the report must name
		says string
	}{
		{"still in the queue", []Op{
			enq(0, 25, 30, 1, 5), // steps 13-15
			enq(1, 33, 36, 1, 7), // called after 5's enqueue returned
			deq(2, 81, 92, 1, 7), // takes 7 first
			deq(2, 95, 96, 1, 5),
		}, model.ALF, []int{2, 0, 1, 3}, "returned 7 while 5, enqueued earlier by enqueue[5] -> 1 by client 0 (steps 13-15)"},
		{"never enqueued", []Op{deq(0, 1, 2, 1, 9)}, model.ALF, []int{0}, "which no enqueue put in"},
		{"twice", []Op{enq(0, 1, 2, 1, 1), deq(1, 3, 4, 1, 1), deq(2, 5, 6, 1, 1)}, model.ALF, []int{1, 2}, "dequeued twice"},
		{"before its enqueue", []Op{deq(1, 1, 2, 1, 1), enq(0, 3, 4, 1, 1)}, model.ALF, []int{0, 1}, "before enqueue[1] -> 1"},
		{"block out of order", []Op{enq(0, 1, 2, 2, 1, 2), deq(1, 3, 4, 2, 2, 1)}, model.ALF, []int{0, 1}, "entered in that order"},
		{"empty while full", []Op{enq(0, 1, 2, 1, 1), deq(1, 3, 4, 1), deq(1, 5, 6, 1, 1)}, model.ALF, []int{1, 0, 2}, "returned nothing (empty) while 1"},
		{"full with room", []Op{enq(0, 1, 2, 0, 1)}, model.Strict, []int{0}, "always had room for its 1 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &History{Ops: tc.ops}
			r := h.Check(tc.spec, 4)
			require.Equal(t, Illegal, r.Verdict, r.Reason)
			assert.ElementsMatch(t, tc.want, r.Ops)
			assert.Contains(t, r.Reason, tc.says)
		})
	}
}

// An enqueue refused while nothing else is in flight must find the queue
// truly full under both specifications; with another operation in flight,
// ALF lets it be.
func TestRefusedEnqueues(t *testing.T) {
	full := &History{Ops: []Op{enq(0, 1, 2, 2, 1, 2), enq(1, 3, 4, 0, 3)}}
	assert.Equal(t, Ok, full.Check(model.Strict, 2).Verdict)
	room := &History{Ops: []Op{enq(0, 1, 2, 1, 1), enq(1, 3, 4, 0, 3)}}
	assert.Equal(t, Illegal, room.Check(model.Strict, 2).Verdict)
	assert.Equal(t, Illegal, room.Check(model.ALF, 2).Verdict)
	overlapping := &History{Ops: []Op{enq(0, 1, 10, 1, 1), enq(1, 3, 4, 0, 3)}}
	assert.Equal(t, Illegal, overlapping.Check(model.Strict, 2).Verdict)
	assert.Equal(t, Ok, overlapping.Check(model.ALF, 2).Verdict)
}

// Histories far beyond what an order search finishes are decided, and
// the same way every time.
func TestLongHistoriesAreDecided(t *testing.T) {
	h := &History{}
	v := uint64(0)
	for i := range 20_000 {
		base := int64(10 * i)
		v++
		h.Ops = append(h.Ops, enq(i%4, base+1, base+6, 1, v), deq(4+i%4, base+3, base+8, 1, v))
	}
	r := h.Check(model.Strict, 64)
	require.Equal(t, Ok, r.Verdict, r.Reason)
	// The last two dequeues, one after the other, exchange their values.
	n := len(h.Ops)
	h.Ops[n-1].Out, h.Ops[n-3].Out = h.Ops[n-3].Out, h.Ops[n-1].Out
	r = h.Check(model.Strict, 64)
	require.Equal(t, Illegal, r.Verdict)
	again := h.Check(model.Strict, 64)
	assert.Equal(t, r.Reason, again.Reason)
	assert.Equal(t, r.Ops, again.Ops)
}

func alloc(holder int, obj uint64, call, ret int64) PoolOp {
	return PoolOp{Alloc: true, Holder: holder, Obj: obj, Call: call, Return: ret}
}

func free(holder int, obj uint64, call, ret int64) PoolOp {
	return PoolOp{Holder: holder, Obj: obj, Call: call, Return: ret}
}

func TestPoolCheck(t *testing.T) {
	ok := &PoolHistory{Ops: []PoolOp{
		alloc(1, 7, 1, 4), free(1, 7, 5, 20),
		alloc(2, 7, 10, 30), // overlaps the free: can follow it
		free(2, 7, 31, 32),
		alloc(3, 0, 2, 3), // failed: no object
	}}
	assert.Equal(t, Ok, ok.Check().Verdict)

	two := &PoolHistory{Ops: []PoolOp{alloc(1, 7, 1, 4), alloc(2, 7, 5, 6), free(1, 7, 7, 8)}}
	r := two.Check()
	require.Equal(t, Illegal, r.Verdict)
	assert.Equal(t, []int{1}, r.Ops)
	assert.Contains(t, r.Reason, "alloc for 2 -> #7")

	// Past its budget the pool check is undecided, never a pass.
	busy := &PoolHistory{}
	for i := range 12 {
		busy.Ops = append(busy.Ops, alloc(i+1, 7, 1, 100), free(i+1, 7, 1, 100))
	}
	r = busy.CheckWork(50)
	assert.Equal(t, Undecided, r.Verdict)
	assert.Contains(t, r.Reason, "budget of 50")
}

// Times far apart take the events' general sort: same verdicts as nearby
// times.
func TestWideTimes(t *testing.T) {
	ops := []Op{enq(0, 1, 10, 1, 1), enq(1, 3, 4, 0, 3), deq(2, 5, 12, 1, 1), deq(2, 13, 14, 1)}
	for _, spec := range []model.Spec{model.Strict, model.ALF} {
		near := &History{Ops: ops}
		far := &History{}
		for _, o := range ops {
			o.Call, o.Return = o.Call<<44-1<<50, o.Return<<44-1<<50
			far.Ops = append(far.Ops, o)
		}
		assert.Equal(t, near.Check(spec, 1).Verdict, far.Check(spec, 1).Verdict, spec)
	}
}
