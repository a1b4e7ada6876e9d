package explore

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/exhaustive"
)

// The parts of a check, each read back from its file's JSON, merge into
// the one search's answer: the same counts, and the same schedule file
// byte for byte.
func TestCheckPartsMergeIntoTheOneSearch(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		set      []string
		bounds   exhaustive.Bounds
	}{
		{"ring2005-locked", []string{"packets=2", "burst=1"}, exhaustive.Bounds{Preemptions: 1, Interrupts: 1}},
		{"alf-preempt", []string{"ops=2"}, exhaustive.Bounds{Preemptions: 2}},
		{"qmempool-hardirq", []string{"ops=2", "fires=1", "prealloc=1"}, exhaustive.Bounds{Preemptions: 2, Interrupts: 1}},
	} {
		c := config(t, tc.scenario, tc.set...)
		cc := CheckConfig{Scenario: c.Scenario, Values: c.Values, Bounds: tc.bounds}
		one, err := Check(context.Background(), cc)
		require.NoError(t, err)
		for _, n := range []int{2, 3} {
			var parts []CheckPart
			for i := range n {
				pc := cc
				pc.Part, pc.Workers = exhaustive.Part{Index: i, Count: n}, 2
				res, err := Check(context.Background(), pc)
				require.NoError(t, err)
				assert.False(t, res.Complete, "a part alone proves nothing")
				p, err := NewCheckPart(pc, res)
				require.NoError(t, err)
				data, err := json.Marshal(p)
				require.NoError(t, err)
				var back CheckPart
				require.NoError(t, json.Unmarshal(data, &back))
				parts = append(parts, back)
			}
			m, err := MergeChecks(parts)
			require.NoError(t, err)
			assert.Equal(t, one.Stats, m.Stats, "%s, %d parts", tc.scenario, n)
			assert.Equal(t, one.Complete, m.Complete, "%s, %d parts", tc.scenario, n)
			assert.Equal(t, one.Unbounded, m.Unbounded, "%s, %d parts", tc.scenario, n)
			if one.Failure == nil {
				assert.Nil(t, m.Schedule)
				continue
			}
			require.NotNil(t, m.Schedule, "%s, %d parts", tc.scenario, n)
			assert.Nil(t, m.Missing)
			assert.Equal(t, string(one.Schedule.Encode()), string(m.Schedule.Encode()), "%s, %d parts", tc.scenario, n)
		}
	}
}

// A search recorded as the one part of one is the whole search: merged,
// it is the one search's answer, failing or passing.
func TestACheckOfOnePartMergesIntoItself(t *testing.T) {
	verdicts := map[bool]bool{}
	for _, tc := range []struct {
		scenario string
		set      []string
		bounds   exhaustive.Bounds
	}{
		{"alf-preempt", []string{"ops=2"}, exhaustive.Bounds{Preemptions: 2}},
		{"ring2005-locked", []string{"packets=2", "burst=1"}, exhaustive.Bounds{Preemptions: 1, Interrupts: 1}},
	} {
		c := config(t, tc.scenario, tc.set...)
		cc := CheckConfig{Scenario: c.Scenario, Values: c.Values, Bounds: tc.bounds}
		one, err := Check(context.Background(), cc)
		require.NoError(t, err)
		verdicts[one.Failure != nil] = true
		pc := cc
		pc.Part = exhaustive.Part{Index: 0, Count: 1}
		res, err := Check(context.Background(), pc)
		require.NoError(t, err)
		p, err := NewCheckPart(pc, res)
		require.NoError(t, err)
		m, err := MergeChecks([]CheckPart{p})
		require.NoError(t, err)
		assert.Equal(t, one.Stats, m.Stats, tc.scenario)
		assert.Equal(t, one.Complete, m.Complete, tc.scenario)
		assert.Equal(t, one.Unbounded, m.Unbounded, tc.scenario)
		if one.Failure != nil {
			require.NotNil(t, m.Schedule, tc.scenario)
			assert.Equal(t, string(one.Schedule.Encode()), string(m.Schedule.Encode()), tc.scenario)
		} else {
			assert.Nil(t, m.Schedule, tc.scenario)
		}
	}
	assert.Len(t, verdicts, 2, "one search fails and one passes")
}
