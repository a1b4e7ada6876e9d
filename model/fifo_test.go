package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFIFO(t *testing.T) {
	q := NewFIFO(3)
	assert.True(t, q.Empty())
	assert.Equal(t, 2, q.Enqueue([]uint64{1, 2}))
	assert.Equal(t, 0, q.Enqueue([]uint64{3, 4}), "all or nothing")
	assert.Equal(t, 1, q.AvailSpace())
	assert.Equal(t, []uint64{1}, q.Dequeue(1))
	assert.Equal(t, 2, q.Enqueue([]uint64{3, 4}))
	assert.Equal(t, 3, q.Count())
	assert.Equal(t, []uint64{2, 3, 4}, q.Dequeue(10), "up to n")
	assert.Empty(t, q.Dequeue(1))
}

func TestStepFunctions(t *testing.T) {
	s := []uint64{1, 2}
	ok, next := StepEnqueue(Strict, 3, s, []uint64{3}, 1, false)
	assert.True(t, ok)
	assert.Equal(t, []uint64{1, 2, 3}, next)
	assert.Equal(t, []uint64{1, 2}, s, "pure: the state is not modified")

	ok, _ = StepEnqueue(Strict, 3, s, []uint64{3, 4}, 0, false)
	assert.True(t, ok, "a true full")
	ok, _ = StepEnqueue(Strict, 3, s, []uint64{3}, 0, true)
	assert.False(t, ok, "strict: a spurious full is never allowed")
	ok, _ = StepEnqueue(ALF, 3, s, []uint64{3}, 0, true)
	assert.True(t, ok, "alf: a full while others are in flight is allowed")
	ok, _ = StepEnqueue(ALF, 3, s, []uint64{3}, 0, false)
	assert.False(t, ok, "alf: a full with nothing in flight must be true")
	ok, _ = StepEnqueue(ALF, 3, s, []uint64{3, 4}, 2, true)
	assert.False(t, ok, "no spec lets an enqueue overfill")

	ok, next = StepDequeue(s, 5, []uint64{1, 2})
	assert.True(t, ok)
	assert.Empty(t, next)
	for _, got := range [][]uint64{{2}, {1}, {1, 2, 3}, nil} {
		ok, _ = StepDequeue(s, 2, got)
		assert.False(t, ok, "%v", got)
	}
}
