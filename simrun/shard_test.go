package simrun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/explore"
)

func TestParseShard(t *testing.T) {
	t.Setenv("JOB_COMPLETION_INDEX", "2")
	t.Setenv("EMPTY_INDEX", "")
	for in, want := range map[string]explore.Shard{
		"0/1": {Index: 0, Count: 1}, "3/4": {Index: 3, Count: 4}, "JOB_COMPLETION_INDEX/3": {Index: 2, Count: 3},
	} {
		got, err := parseShard(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{
		"4/4":                    "want a number from 0 to 3",
		"-1/4":                   "want a number from 0 to 3",
		"1":                      "want I/N",
		"1/0":                    "want I/N",
		"1/x":                    "want I/N",
		"NO_SUCH_INDEX_VAR/2":    "NO_SUCH_INDEX_VAR is not set",
		"JOB_COMPLETION_INDEX/2": "from $JOB_COMPLETION_INDEX",
		"EMPTY_INDEX/2":          "from $EMPTY_INDEX",
	} {
		_, err := parseShard(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

// Three shards, each told its index by the environment as an Indexed Job
// tells its pods, merge into the unsharded exploration: the same failing
// run and the same schedule file, byte for byte.
func TestShardsMergeIntoTheUnshardedAnswer(t *testing.T) {
	dir := t.TempDir()
	args := []string{"explore", "qmempool-hardirq", "--set", "ops=2", "--set", "fires=1", "--set", "prealloc=1", "--strategy=random", "--runs=3000"}
	whole := filepath.Join(dir, "whole.sched")
	code, _, _ := simrun(t, append(args, "-o", whole, "--workers=2")...)
	require.Equal(t, exitFailure, code)
	var records []string
	for i := range 3 {
		t.Setenv("SHARD_INDEX", string(rune('0'+i)))
		rec := filepath.Join(dir, "shard"+string(rune('0'+i))+".json")
		code, out, errOut := simrun(t, append(args, "--shard=SHARD_INDEX/3", "--record="+rec, "-o", filepath.Join(dir, "s.sched"))...)
		require.Contains(t, []int{exitPass, exitFailure}, code, errOut)
		assert.Contains(t, out, "of shard "+string(rune('0'+i))+"/3")
		require.FileExists(t, rec)
		records = append(records, rec)
	}
	merged := filepath.Join(dir, "merged.sched")
	code, out, errOut := simrun(t, append([]string{"merge", "-o", merged}, records...)...)
	require.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, out, "merged from 3 shards")
	assert.Contains(t, out, "schedule saved to "+merged)
	a, err := os.ReadFile(whole)
	require.NoError(t, err)
	b, err := os.ReadFile(merged)
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))

	// JSON: one object with the run and the counts.
	code, out, _ = simrun(t, append([]string{"merge", "--json", "-o", merged}, records...)...)
	assert.Equal(t, exitFailure, code)
	var j struct {
		Shards, Runs int
		Complete     bool
		Failure      struct{ Run int }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &j))
	assert.Equal(t, 3, j.Shards)
	assert.True(t, j.Complete)
	assert.Equal(t, j.Runs-1, j.Failure.Run, "every run up to the failure, each once")

	// A shard that did not run its share leaves the answer incomplete.
	var r explore.ShardResult
	data, err := os.ReadFile(records[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	r.Log, r.FailRun, r.Schedule = explore.EncodeLog(nil), nil, ""
	data, err = json.Marshal(r)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(records[0], data, 0o644))
	code, out, _ = simrun(t, append([]string{"merge", "-o", merged}, records...)...)
	assert.Contains(t, []int{exitFailure, exitIncomplete}, code)
	assert.Contains(t, out, "shard 0/3 did not run run 0: every run below 0 was explored")
}

func TestMergeBadInput(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "a.json")
	code, _, _ := simrun(t, "explore", "ring2005-locked", "--set", "packets=2", "--runs=10", "--shard=0/2", "--record="+rec)
	require.Equal(t, exitPass, code)
	junk := filepath.Join(dir, "junk.json")
	require.NoError(t, os.WriteFile(junk, []byte(`{"format":"lfsim-shard 1","extra":1}`), 0o644))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no files":  {[]string{"merge"}, "want the shards' result files"},
		"missing":   {[]string{"merge", rec}, "shard 1/2 is missing"},
		"twice":     {[]string{"merge", rec, rec}, "shard 0/2 is given twice"},
		"not found": {[]string{"merge", filepath.Join(dir, "nope.json")}, "no such file"},
		"junk":      {[]string{"merge", junk}, "not a shard's result"},
		"bad shard": {[]string{"explore", "ring2005", "--shard=2/2"}, "want a number from 0 to 1"},
	} {
		code, out, errOut := simrun(t, tc.args...)
		assert.Equal(t, exitUsage, code, name)
		assert.Empty(t, out, name)
		assert.Contains(t, errOut, tc.want, name)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "%s: one line: %q", name, errOut)
	}
}

// The parts of a check merge into the one search's verdict and schedule.
func TestCheckPartsMerge(t *testing.T) {
	dir := t.TempDir()
	args := []string{"check", "alf-preempt", "--set", "ops=2"}
	one := filepath.Join(dir, "one.sched")
	code, _, _ := simrun(t, append(args, "-o", one, "--workers=1")...)
	require.Equal(t, exitFailure, code)
	var records []string
	for i := range 3 {
		rec := filepath.Join(dir, "part"+string(rune('0'+i))+".json")
		code, out, errOut := simrun(t, append(args, "--shard="+string(rune('0'+i))+"/3", "--record="+rec, "--workers=2", "-o", filepath.Join(dir, "p.sched"))...)
		require.Contains(t, []int{exitPass, exitFailure}, code, errOut)
		assert.NotContains(t, out, "PASS", "a part gives no verdict")
		records = append(records, rec)
	}
	merged := filepath.Join(dir, "merged.sched")
	code, out, errOut := simrun(t, append([]string{"merge", "-o", merged}, records...)...)
	require.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, out, "merged from 3 parts")
	a, err := os.ReadFile(one)
	require.NoError(t, err)
	b, err := os.ReadFile(merged)
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b))

	// A passing search: the merge proves what the one search proves.
	pass := []string{"check", "ring2005-locked", "--set", "packets=2", "--set", "burst=1", "--preemptions=1"}
	records = nil
	for i := range 2 {
		rec := filepath.Join(dir, "pass"+string(rune('0'+i))+".json")
		code, out, _ := simrun(t, append(pass, "--shard="+string(rune('0'+i))+"/2", "--record="+rec)...)
		require.Equal(t, exitPass, code)
		assert.Contains(t, out, "no verdict until every part is merged")
		records = append(records, rec)
	}
	code, out, _ = simrun(t, append([]string{"merge", "--json"}, records...)...)
	assert.Equal(t, exitPass, code)
	var j struct {
		Verdict    string
		Executions int
	}
	require.NoError(t, json.Unmarshal([]byte(out), &j))
	assert.Equal(t, "complete", j.Verdict)
	code, out, _ = simrun(t, append(pass, "--json")...)
	require.Equal(t, exitPass, code)
	var k struct{ Executions int }
	require.NoError(t, json.Unmarshal([]byte(out), &k))
	assert.Equal(t, k.Executions, j.Executions)

	code, _, errOut = simrun(t, append([]string{"merge"}, records[0])...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "part 1/2 is missing")
	code, _, errOut = simrun(t, "check", "ring2005", "--record=x.json")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "give --shard too")
}
