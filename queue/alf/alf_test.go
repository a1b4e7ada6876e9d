package alf

import (
	"flag"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/sim"
)

// TestMain runs 10,000 rapid checks per property unless -rapid.checks says
// otherwise, and checks that no goroutine is left behind.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		if err := flag.Set("rapid.checks", "10000"); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}

func TestNewRejectsWhatTheOriginalRejects(t *testing.T) {
	m, err := sim.New(sim.Config{CPUs: 1})
	require.NoError(t, err)
	for _, size := range []int{0, -4, 3, 6, 100, MaxSize * 2} {
		_, err := New(m, "q", size, Options{})
		assert.ErrorContains(t, err, "EINVAL", "size %d", size)
	}
	for _, size := range []int{1, 2, 64, MaxSize} {
		_, err := New(m, "q", size, Options{})
		assert.NoError(t, err, "size %d", size)
	}
	_, err = New(m, "q", 16, Options{Width: 3})
	assert.ErrorContains(t, err, "does not fit 3-bit counters")
	_, err = New(m, "q", 16, Options{Width: 33})
	assert.Error(t, err)
}

// opKind is one call of the single-threaded state machine.
type opKind int

const (
	mpEnqueue opKind = iota
	spEnqueue
	mcDequeue
	scDequeue
	isEmpty
	count
	availSpace
)

var opNames = [...]string{"mp_enqueue", "sp_enqueue", "mc_dequeue", "sc_dequeue", "empty", "count", "avail_space"}

type call struct {
	kind opKind
	n    int
}

func (c call) String() string { return fmt.Sprintf("%s(%d)", opNames[c.kind], c.n) }

// setting is one configuration of the queue under test.
type setting struct {
	size int
	opt  Options
}

func (s setting) String() string {
	return fmt.Sprintf("size=%d width=%d start=%d tail=%d copy=%d debug=%v", s.size, s.opt.Width, s.opt.Start, s.opt.MCTail, s.opt.Copy, s.opt.Debug)
}

func drawSetting(t *rapid.T) setting {
	width := rapid.SampledFrom([]int{32, 8, 4, 3, 2}).Draw(t, "width")
	size := 1 << rapid.IntRange(0, min(5, width-1)).Draw(t, "log2size")
	modulus := uint64(1) << width
	start := rapid.OneOf(
		rapid.Just(uint64(0)),
		rapid.Uint64Range(modulus-uint64(2*size), modulus-1), // just below the wrap
		rapid.Uint64Range(0, modulus-1),
	).Draw(t, "start")
	return setting{size: size, opt: Options{
		Width:  width,
		Start:  start,
		MCTail: rapid.SampledFrom([]MCTail{TailRelease, TailRFC}).Draw(t, "tail"),
		Copy:   rapid.SampledFrom([]Copy{CopyUnrolled, CopySimple}).Draw(t, "copy"),
		Debug:  rapid.Bool().Draw(t, "debug"),
	}}
}

func drawCalls(t *rapid.T, size int) []call {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) call {
		return call{
			kind: opKind(rapid.IntRange(0, int(availSpace)).Draw(t, "kind")),
			n:    rapid.IntRange(0, size+1).Draw(t, "n"),
		}
	}), 1, 40).Draw(t, "calls")
}

// runAlone applies calls to a fresh queue in one task and returns, for
// each call, what the queue answered, with the run's failure if any.
func runAlone(s setting, calls []call) ([]string, *sim.Failure) {
	m, err := sim.New(sim.Config{CPUs: 1})
	if err != nil {
		panic(err)
	}
	q, err := New(m, "q", s.size, s.opt)
	if err != nil {
		panic(err)
	}
	var got []string
	next := uint64(0)
	m.Go("t", 0, func(c *sim.Ctx) {
		c.PreemptDisable()
		for _, cl := range calls {
			got = append(got, apply(c, q, cl, &next))
		}
		c.PreemptEnable()
	})
	r := m.Run(sim.NewBytes(nil))
	if r.Err != nil {
		panic(r.Err)
	}
	return got, r.Failure
}

func apply(c *sim.Ctx, q *Queue, cl call, next *uint64) string {
	switch cl.kind {
	case mpEnqueue, spEnqueue:
		vals := make([]uint64, cl.n)
		for i := range vals {
			*next++
			vals[i] = *next
		}
		if cl.kind == mpEnqueue {
			return fmt.Sprint(q.MPEnqueue(c, vals))
		}
		return fmt.Sprint(q.SPEnqueue(c, vals))
	case mcDequeue, scDequeue:
		out := make([]uint64, cl.n)
		k := 0
		if cl.kind == mcDequeue {
			k = q.MCDequeue(c, out)
		} else {
			k = q.SCDequeue(c, out)
		}
		return fmt.Sprint(out[:k])
	case isEmpty:
		return fmt.Sprint(q.IsEmpty(c))
	case count:
		return fmt.Sprint(q.Count(c))
	}
	return fmt.Sprint(q.AvailSpace(c))
}

// expect runs calls on the model. It also predicts the first call at
// which the "simple" store loop writes out of bounds: an enqueue whose copy
// starts at index i = producer.head & mask and stores n > size - i values
// reaches ring[size] before the loop wraps its index.
func expect(s setting, calls []call) (answers []string, oob int) {
	q := model.NewFIFO(s.size)
	next := uint64(0)
	head := s.opt.Start // the producer.head counter, modulo 2^width
	mod := uint64(1) << s.opt.Width
	oob = -1
	for i, cl := range calls {
		switch cl.kind {
		case mpEnqueue, spEnqueue:
			vals := make([]uint64, cl.n)
			for j := range vals {
				next++
				vals[j] = next
			}
			got := q.Enqueue(vals)
			index := head % uint64(s.size)
			if s.opt.Copy == CopySimple && got > 0 && index+uint64(got) > uint64(s.size) && oob < 0 {
				oob = i
			}
			head = (head + uint64(got)) % mod
			answers = append(answers, fmt.Sprint(got))
		case mcDequeue, scDequeue:
			answers = append(answers, fmt.Sprint(q.Dequeue(cl.n)))
		case isEmpty:
			answers = append(answers, fmt.Sprint(q.Empty()))
		case count:
			answers = append(answers, fmt.Sprint(q.Count()))
		default:
			answers = append(answers, fmt.Sprint(q.AvailSpace()))
		}
	}
	return answers, oob
}

// The single-threaded queue is the bounded bulk FIFO, in every setting:
// any counter width that leaves room above the size, any start value
// (wrapping included), both tail forms, debug on or off, both copy loops.
// The one exception is the literal "simple" store loop, whose defect the
// property states exactly: it writes one slot past the array on the first
// enqueue whose copy reaches the end, and agrees with the model before.
func TestQueueIsTheFIFO(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := drawSetting(t)
		calls := drawCalls(t, s.size)
		want, oob := expect(s, calls)
		got, fail := runAlone(s, calls)
		if oob >= 0 {
			if fail == nil || fail.Kind != sim.KindOutOfBounds {
				t.Fatalf("%v: expected the simple store loop to write out of bounds at call %d (%v), got %v", s, oob, calls[oob], fail)
			}
			if len(got) != oob {
				t.Fatalf("%v: out of bounds at call %d, expected at %d (%v)", s, len(got), oob, calls[oob])
			}
			want = want[:oob]
		} else if fail != nil {
			t.Fatalf("%v: %v at %s", s, fail, fail.Where())
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: call %d %v returned %s, the FIFO says %s (calls %v)", s, i, calls[i], got[i], want[i], calls[:i+1])
			}
		}
	})
}

// The smallest case of the simple store loop's defect: a queue of two
// slots, one value in and out (so producer.head is 1), then an enqueue of
// two values writes ring[2].
func TestSimpleStoreLoopWritesPastTheArray(t *testing.T) {
	got, fail := runAlone(setting{size: 2, opt: Options{Width: 32, Copy: CopySimple}},
		[]call{{mpEnqueue, 1}, {mcDequeue, 1}, {mpEnqueue, 2}})
	require.NotNil(t, fail)
	assert.Equal(t, sim.KindOutOfBounds, fail.Kind)
	assert.Equal(t, "index out of range [2] with length 2", fail.Message)
	assert.Regexp(t, `^alf/alf.go:\d+$`, fail.Source)
	assert.Equal(t, []string{"1", "[1]"}, got)
}

// Narrow counters as wide as the size (size == 2^width) cannot tell an
// empty queue from a full one: size + consumer.tail - producer.head is 0
// modulo 2^width in both cases, so every enqueue is refused.
func TestCountersNoWiderThanTheSizeRefuseEveryEnqueue(t *testing.T) {
	got, fail := runAlone(setting{size: 4, opt: Options{Width: 2}},
		[]call{{availSpace, 0}, {mpEnqueue, 1}, {spEnqueue, 1}, {isEmpty, 0}})
	require.Nil(t, fail)
	assert.Equal(t, []string{"0", "0", "0", "true"}, got)
}
