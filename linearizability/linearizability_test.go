package linearizability

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func enq(client int, call, ret int64, got int, vals ...uint64) Op {
	return Op{Client: client, Enqueue: true, Vals: vals, Got: got, Call: call, Return: ret}
}

func deq(client int, call, ret int64, n int, out ...uint64) Op {
	return Op{Client: client, N: n, Out: out, Call: call, Return: ret}
}

// The three-operation history of the package model documentation, on a
// queue of capacity 1: P1's enqueue of x is in flight (reserved, not yet
// published) while P2 is told "full" and, after that, C is told "empty".
// It separates the two specifications.
func TestStrictAndALFDiffer(t *testing.T) {
	h := &History{Ops: []Op{
		enq(0, 1, 20, 1, 7), // P1: enqueue(x) -> 1
		enq(1, 3, 6, 0, 8),  // P2: enqueue(y) -> 0 (full)
		deq(2, 9, 12, 1),    // C: dequeue(1) -> [] (empty), after P2 returned
	}}
	h.Drained(3, []uint64{7})
	assert.Equal(t, Illegal, h.Check(model.Strict, 1, DefaultTimeout).Verdict)
	assert.Equal(t, Ok, h.Check(model.ALF, 1, DefaultTimeout).Verdict)
	kind, _ := h.Conservation()
	assert.Empty(t, kind)

	// Without the in-flight enqueue, the same "full" is a lie under both.
	alone := &History{Ops: []Op{enq(1, 3, 6, 0, 8), deq(2, 9, 12, 1)}}
	alone.Drained(3, nil)
	assert.Equal(t, Illegal, alone.Check(model.ALF, 1, DefaultTimeout).Verdict)
}

func TestALFStillCatchesReordering(t *testing.T) {
	h := &History{Ops: []Op{
		enq(0, 1, 4, 1, 1),
		enq(0, 5, 8, 1, 2),
		deq(1, 9, 12, 1, 2), // the second value first
	}}
	h.Drained(2, []uint64{1})
	r := h.Check(model.ALF, 4, DefaultTimeout)
	require.Equal(t, Illegal, r.Verdict)
	path := filepath.Join(t.TempDir(), "v.html")
	require.NoError(t, r.WriteHTML(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), `dequeue(1) -\u003e [2]`)
	assert.Error(t, Result{Verdict: Ok}.WriteHTML(path))
}

func TestConservation(t *testing.T) {
	for _, tc := range []struct {
		ops  []Op
		left []uint64
		kind string
	}{
		{[]Op{enq(0, 1, 2, 2, 1, 2), deq(1, 3, 4, 1, 1)}, []uint64{2}, ""},
		{[]Op{enq(0, 1, 2, 2, 1, 2), deq(1, 3, 4, 1, 1)}, nil, LostValue},
		{[]Op{enq(0, 1, 2, 1, 1), deq(1, 3, 4, 1, 1), deq(2, 3, 4, 1, 1)}, nil, DuplicatedValue},
		{[]Op{deq(1, 3, 4, 1, 9)}, nil, UnknownValue},
		{[]Op{enq(0, 1, 2, 0, 5), deq(1, 3, 4, 1, 5)}, nil, UnknownValue}, // a failed enqueue adds nothing
	} {
		h := &History{Ops: tc.ops}
		h.Drained(9, tc.left)
		kind, msg := h.Conservation()
		assert.Equal(t, tc.kind, kind, msg)
	}
}

// Check refuses what it cannot finish, and a timeout is never a pass.
func TestLimits(t *testing.T) {
	long := &History{}
	for i := range MaxOps + 1 {
		long.Ops = append(long.Ops, enq(0, int64(4*i+1), int64(4*i+2), 1, uint64(i+1)))
	}
	assert.Equal(t, TooLong, long.Check(model.ALF, 1000, DefaultTimeout).Verdict)

	// Many concurrent enqueues and dequeues that cannot be ordered: the
	// search explores orders for far longer than the timeout.
	hard := &History{}
	for i := range 60 {
		hard.Ops = append(hard.Ops, enq(i, 1, 1000, 1, uint64(i+1)))
	}
	for i := range 60 {
		hard.Ops = append(hard.Ops, deq(100+i, 1, 1000, 1, uint64((i+7)%60+1)))
	}
	hard.Ops = append(hard.Ops, deq(999, 1001, 1002, 1, 99)) // impossible at the end
	start := time.Now()
	assert.Equal(t, Unknown, hard.Check(model.ALF, 64, 100*time.Millisecond).Verdict)
	assert.Less(t, time.Since(start), 10*time.Second)
}
