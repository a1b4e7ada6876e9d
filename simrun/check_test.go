package simrun

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckPassIsComplete(t *testing.T) {
	code, out, _ := simrun(t, "check", "ring2005-locked", "--set", "packets=1", "--set", "burst=1", "--preemptions=2")
	assert.Equal(t, exitPass, code)
	assert.Contains(t, out, "PASS ring2005-locked")
	assert.Contains(t, out, "complete: ")
	assert.Contains(t, out, "no failure with <= 2 preemptions, <= 1 interrupts")
}

func TestCheckFailureIsSavedAndReplays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "found.sched")
	code, out, _ := simrun(t, "check", "ring2005", "--set", "packets=8", "--set", "burst=4", "--set", "ring=4", "-o", path, "--json")
	require.Equal(t, exitFailure, code)
	var got struct {
		Verdict string `json:"verdict"`
		Spent   struct {
			Preemptions int `json:"preemptions"`
		} `json:"failing_schedule_cost"`
		Failure struct {
			Kind     string `json:"kind"`
			Schedule string `json:"schedule"`
		} `json:"failure"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, "fail", got.Verdict)
	assert.Equal(t, "out-of-bounds", got.Failure.Kind)
	assert.Equal(t, 1, got.Spent.Preemptions)
	require.FileExists(t, path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "found-by exhaustive preemptions=1 interrupts=1")
	code, out, _ = simrun(t, "replay", path)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "FAIL (reproduces the recorded failure)")
}

func TestCheckBudgetIsIncomplete(t *testing.T) {
	code, out, _ := simrun(t, "check", "ring2005-locked", "--set", "packets=2", "--preemptions=3", "--executions=50")
	assert.Equal(t, exitIncomplete, code)
	assert.Contains(t, out, "INCOMPLETE ring2005-locked")
	assert.Contains(t, out, "more executions")
}

func TestCheckBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"check"},
		{"check", "nosuch"},
		{"check", "ring2005", "--preemptions=-1"},
		{"check", "ring2005", "--executions=-5"},
		{"check", "skb", "--failures=2"},
		{"check", "ring2005", "--trace=wide"},
	} {
		code, out, errOut := simrun(t, args...)
		assert.Equal(t, exitUsage, code, "%v", args)
		assert.Empty(t, out, "%v", args)
		assert.Regexp(t, `^simrun check: [^\n]+\n$`, errOut, "%v", args)
	}
}

func TestCheckInterruptedIsIncomplete(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, out, _ := simrunCtx(t, ctx, "check", "ring2005-locked")
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, out, "INCOMPLETE ring2005-locked")
	assert.Contains(t, out, "interrupted after 0 executions")
}
