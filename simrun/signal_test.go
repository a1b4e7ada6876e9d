package simrun

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mainEnv makes the test binary run simrun's Main on its arguments (see
// TestMain), so that a test can send the command real signals.
const mainEnv = "LFSIM_TEST_SIMRUN_MAIN"

// start runs simrun args in dir as a process of its own.
func start(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Start())
	return cmd, &out, &errOut
}

// TestSignalsStopEveryLongCommand sends SIGINT, SIGTERM and SIGHUP to
// each command that can run long, part-way through its work, and checks
// that it stops there (not at the end of the run or replay going on),
// says so, exits with 128 plus the signal's number, and keeps on disk
// what it found.
func TestSignalsStopEveryLongCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command as processes with runs of seconds")
	}
	dir := t.TempDir()
	// A schedule of 3M decisions (a run that ran out of steps) to replay.
	code, out, errOut := simrun(t, "explore", "ring2005-locked", "--set", "cpus=64", "--set", "packets=100000",
		"--max-steps=3000000", "--runs=1", "--strategy=random", "--workers=1", "-o", filepath.Join(dir, "long.sched"))
	require.Equal(t, exitFailure, code, out+errOut)
	code, _, errOut = simrun(t, "explore", "alf-aba", "-o", filepath.Join(dir, "aba.sched"))
	require.Equal(t, exitFailure, code, errOut)

	signals := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
	cases := []struct {
		name  string
		args  []string
		check func(t *testing.T, stdout, stderr string)
	}{
		{"explore stops its one run part-way", []string{"explore", "ring2005-locked", "--set", "cpus=64", "--set", "packets=100000",
			"--max-steps=10000000", "--runs=1", "--strategy=random", "--workers=1", "--json"}, func(t *testing.T, stdout, _ string) {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
			assert.Equal(t, true, v["interrupted"])
			assert.EqualValues(t, 0, v["runs"], "the run going on was stopped, not waited for")
		}},
		{"explore on every worker", []string{"explore", "ring2005-locked", "--runs=0", "--time=1h"}, func(t *testing.T, stdout, _ string) {
			assert.Regexp(t, `^interrupted: no failure in \d+ runs`, stdout)
		}},
		{"replay stops part-way", []string{"replay", "long.sched", "--trace=lines"}, func(t *testing.T, stdout, stderr string) {
			assert.Empty(t, stdout)
			m := regexp.MustCompile(`interrupted after (\d+) of the schedule's 3000000 decisions`).FindStringSubmatch(stderr)
			require.NotNil(t, m, stderr)
			n, _ := strconv.Atoi(m[1])
			assert.Less(t, n, 3000000)
		}},
		{"shrink saves the smallest so far", []string{"shrink", "aba.sched", "--time=0", "--workers=1"}, func(t *testing.T, stdout, _ string) {
			assert.Contains(t, stdout, "(interrupted: the smallest found so far)")
			m := regexp.MustCompile(`saved to (\S+)`).FindStringSubmatch(stdout)
			require.NotNil(t, m, stdout)
			data, err := os.ReadFile(filepath.Join(dir, m[1]))
			require.NoError(t, err)
			code, out, _ := simrun(t, "replay", filepath.Join(dir, m[1]))
			assert.Equal(t, exitFailure, code)
			assert.Contains(t, out, "FAIL (reproduces the recorded failure)", string(data))
		}},
		{"check", []string{"check", "ring2005-locked", "--preemptions=8", "--executions=0"}, func(t *testing.T, stdout, _ string) {
			assert.Contains(t, stdout, "interrupted")
		}},
		{"strategies", []string{"strategies", "ring2005-locked", "--runs=100000"}, func(t *testing.T, _, stderr string) {
			assert.Contains(t, stderr, "interrupted")
		}},
		{"compare", []string{"compare", "ring2005-locked", "--budget=30s", "--race=off"}, func(t *testing.T, stdout, _ string) {
			assert.Contains(t, stdout, "simulator")
		}},
		{"bench", []string{"bench", "--benchtime=20s"}, func(t *testing.T, stdout, stderr string) {
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "simrun bench: interrupted")
		}},
	}
	for _, tc := range cases {
		for _, sig := range signals {
			t.Run(tc.name+"/"+sig.String(), func(t *testing.T) {
				cmd, out, errOut := start(t, dir, tc.args...)
				time.Sleep(400 * time.Millisecond)
				require.NoError(t, cmd.Process.Signal(sig))
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
				case <-time.After(time.Minute):
					cmd.Process.Kill()
					<-done
					t.Fatalf("still running a minute after %v", sig)
				}
				assert.Equal(t, 128+int(sig), cmd.ProcessState.ExitCode(), "stdout %q stderr %q", out, errOut)
				assert.NotContains(t, errOut.String(), "goroutine ")
				tc.check(t, out.String(), errOut.String())
			})
		}
	}
}
