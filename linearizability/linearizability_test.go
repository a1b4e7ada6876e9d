package linearizability

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/model"
)

// TestMain raises rapid's default number of checks for this package's
// property tests (1,000 with -short, 5,000 without) unless -rapid.checks
// is given.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if !given {
		n := "5000"
		if testing.Short() {
			n = "1000"
		}
		if err := flag.Set("rapid.checks", n); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}

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
	assert.Equal(t, Illegal, h.Check(model.Strict, 1).Verdict)
	assert.Equal(t, Ok, h.Check(model.ALF, 1).Verdict)
	kind, _ := h.Conservation()
	assert.Empty(t, kind)

	// Without the in-flight enqueue, the same "full" is a lie under both.
	alone := &History{Ops: []Op{enq(1, 3, 6, 0, 8), deq(2, 9, 12, 1)}}
	alone.Drained(3, nil)
	assert.Equal(t, Illegal, alone.Check(model.ALF, 1).Verdict)
}

// reordered is a history whose dequeue takes the second value first,
// checked under ALF: the page its visualisation writes.
func reordered(t *testing.T, about About) string {
	t.Helper()
	h := &History{Ops: []Op{
		enq(0, 1, 4, 1, 1),
		enq(0, 5, 8, 1, 2),
		deq(1, 9, 12, 1, 2), // the second value first
	}, About: about}
	h.Drained(2, []uint64{1})
	r := h.Check(model.ALF, 4)
	require.Equal(t, Illegal, r.Verdict)
	path := filepath.Join(t.TempDir(), "v.html")
	require.NoError(t, r.WriteHTML(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

func TestALFStillCatchesReordering(t *testing.T) {
	page := reordered(t, About{})
	assert.Contains(t, page, `dequeue(1) -\u003e [2]`)
	assert.Error(t, Result{Verdict: Ok}.WriteHTML(filepath.Join(t.TempDir(), "v.html")))
}

// The visualisation says what it shows: the workload, the specification,
// who each client is, what results mean, and steps rather than the
// checker's doubled times.
func TestTheVisualisationIsHeadedAndSpeaksInSteps(t *testing.T) {
	page := reordered(t, About{Title: "alf-test", Clients: []string{"task p on CPU0", "task c on CPU1"}})
	assert.Contains(t, page, "<title>lfsim: alf-test: a history that is not linearizable</title>")
	assert.Contains(t, page, "Checked against the <b>alf</b> specification")
	assert.Contains(t, page, "0 = task p on CPU0; 1 = task c on CPU1;")
	assert.Contains(t, page, "0 when the queue was full")
	assert.Contains(t, page, stepTimes)
	assert.NotContains(t, page, porcupineTimes)
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

// A check past its work budget is undecided, never a pass, and the same
// history with the same budget always gets the same answer.
func TestBudgetIsCountedWork(t *testing.T) {
	// Concurrent enqueues whose order only concurrent dequeues tell, and
	// a refused enqueue at the end that nothing justifies.
	hard := &History{}
	for i := range 6 {
		hard.Ops = append(hard.Ops, enq(i, 1, 100, 1, uint64(i+1)))
	}
	for i := range 6 {
		hard.Ops = append(hard.Ops, deq(10+i, 101, 200, 1, uint64((i+4)%6+1)))
	}
	hard.Ops = append(hard.Ops, enq(99, 201, 202, 0, 99))
	r := hard.CheckWork(model.ALF, 64, 500)
	assert.Equal(t, Undecided, r.Verdict)
	assert.Contains(t, r.Reason, "budget of 500")
	again := hard.CheckWork(model.ALF, 64, 500)
	assert.Equal(t, r, again)
	assert.Equal(t, Illegal, hard.Check(model.ALF, 64).Verdict, "with the default budget it decides")
}
