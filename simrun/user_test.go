package simrun

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/check"
	"github.com/kernelsim/lfsim/fuzz"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// racyCounter is a user's scenario: two CPUs add to a counter with a read
// and a write.
var racyCounter = check.Workload{CPUs: 2, Build: func(m *sim.Machine) check.Check {
	n := m.NewCell("n", sim.W32, 0)
	for cpu := range 2 {
		m.Go([]string{"a", "b"}[cpu], cpu, func(c *sim.Ctx) { c.WriteOnce(n, c.ReadOnce(n)+1) })
	}
	return func() *sim.Failure {
		if n.Peek() != 2 {
			return sim.Failf("lost-update", "n is %d after 2 adds", n.Peek())
		}
		return nil
	}
}}.Scenario("Counter")

func user(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	c := &Command{Scenarios: []*scenario.Scenario{racyCounter}, Targets: []fuzz.Target{{Name: "FuzzCounter", Scenario: racyCounter}}}
	var out, errw bytes.Buffer
	code := c.Run(context.Background(), args, &out, &errw)
	return code, out.String(), errw.String()
}

// Every subcommand that works on scenarios works on a user's.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	found, min := filepath.Join(dir, "found.sched"), filepath.Join(dir, "min.sched")
	code, out, _ := user(t, "list")
	assert.Equal(t, exitPass, code)
	assert.Contains(t, out, "Counter")
	code, out, _ = user(t, "list", "Counter")
	assert.Equal(t, exitPass, code, out)
	code, out, errOut := user(t, "explore", "Counter", "-o", found)
	require.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, out, "lost-update")
	code, out, _ = user(t, "replay", found, "--trace=columns")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "READ_ONCE n")
	code, _, errOut = user(t, "shrink", found, "-o", min)
	require.Equal(t, exitPass, code, errOut)
	entry := filepath.Join(dir, "testdata", "fuzz", "FuzzCounter", "x")
	require.NoError(t, os.MkdirAll(filepath.Dir(entry), 0o755))
	code, _, errOut = user(t, "corpus", min, "-o", entry)
	require.Equal(t, exitPass, code, errOut)
	code, out, _ = user(t, "replay", entry)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "lost-update")

	// The project's own command does not know the scenario and says how
	// to replay its file.
	code, _, errOut = simrun(t, "replay", found)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `scenario "Counter" is not built into this simrun`)
	assert.Contains(t, errOut, "simrun.Main")
	assert.Equal(t, 1, bytes.Count([]byte(errOut), []byte("\n")), "one line")
	f := &schedule.File{Scenario: "Counter", MaxSteps: 10, FoundBy: "go test TestCounter mix seed=1 run=0"}
	written := filepath.Join(dir, "t.sched")
	require.NoError(t, os.WriteFile(written, f.Encode(), 0o644))
	_, _, errOut = simrun(t, "replay", written)
	assert.Contains(t, errOut, "go test -run '^TestCounter$' -lfsim.replay="+written)
}

// A command whose scenarios cannot be told apart refuses to start.
func TestUserCommandValidatesItsScenarios(t *testing.T) {
	code, _, errOut := (func() (int, string, string) {
		c := &Command{Scenarios: []*scenario.Scenario{racyCounter, racyCounter}}
		var out, errw bytes.Buffer
		return c.Run(context.Background(), []string{"list"}, &out, &errw), out.String(), errw.String()
	})()
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "listed twice")
}
