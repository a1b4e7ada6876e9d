package check_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A user's module, as the README tells them to write it: one subject, one
// Test and one Fuzz function, and a simrun of their own.
const (
	userGoMod = `module example.com/counter

go 1.26

require github.com/kernelsim/lfsim v0.0.0

replace github.com/kernelsim/lfsim => %s
`
	userSubject = `package counter

import (
	"fmt"

	"github.com/kernelsim/lfsim/check"
	"github.com/kernelsim/lfsim/sim"
)

// Add adds one to the counter n.
func Add(c *sim.Ctx, n *sim.Cell) {
	%s
}

// Workload: two CPUs add twice each.
var Workload = check.Workload{CPUs: 2, Build: func(m *sim.Machine) check.Check {
	n := m.NewCell("n", sim.W32, 0)
	for cpu := range 2 {
		m.Go(fmt.Sprintf("adder/%%d", cpu), cpu, func(c *sim.Ctx) {
			Add(c, n)
			Add(c, n)
		})
	}
	return func() *sim.Failure {
		if got := n.Peek(); got != 4 {
			return sim.Failf("lost-update", "n is %%d after 4 adds", got)
		}
		return nil
	}
}}
`
	racyAddLine   = "c.WriteOnce(n, c.ReadOnce(n)+1) // read, then write: two CPUs can both read the same value"
	atomicAddLine = "c.AtomicAddReturn(n, 1)"
	userTest      = `package counter

import (
	"testing"

	"github.com/kernelsim/lfsim/check"
)

func TestCounter(t *testing.T) { check.Run(t, Workload, check.Runs(5000)) }

func FuzzCounter(f *testing.F) { check.Fuzz(f, Workload) }
`
	userCommand = `package main

import (
	"example.com/counter"
	"github.com/kernelsim/lfsim/simrun"
)

func main() { simrun.Main(counter.Workload.Scenario("Counter")) }
`
)

type userModule struct {
	t   *testing.T
	dir string
	goc string
}

func newUserModule(t *testing.T) *userModule {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	goc := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goc); err != nil {
		goc, err = exec.LookPath("go")
		if err != nil {
			t.Skip("no go command to build a user's module with")
		}
	}
	u := &userModule{t: t, dir: t.TempDir(), goc: goc}
	u.write("go.mod", strings.Replace(userGoMod, "%s", root, 1))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	u.write("go.sum", string(sum))
	u.write("counter_test.go", userTest)
	u.write("cmd/simrun/main.go", userCommand)
	return u
}

func (u *userModule) write(name, text string) {
	path := filepath.Join(u.dir, name)
	require.NoError(u.t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(u.t, os.WriteFile(path, []byte(text), 0o644))
}

func (u *userModule) subject(add string) {
	u.write("counter.go", strings.Replace(strings.ReplaceAll(userSubject, "%%", "%"), "%s", add, 1))
}

// run runs a command in the module and returns its exit status and output.
func (u *userModule) run(name string, args ...string) (int, string) {
	u.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = u.dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	require.NoError(u.t, err, "%s %v: %s", name, args, out)
	return 0, string(out)
}

func (u *userModule) goTest(args ...string) (int, string) {
	u.t.Helper()
	return u.run(u.goc, append([]string{"test", "-count=1"}, args...)...)
}

func (u *userModule) saved() []string {
	files, err := filepath.Glob(filepath.Join(u.dir, "testdata", "lfsim", "Counter", "*.sched"))
	require.NoError(u.t, err)
	return files
}

// The cycle a user of another module goes through, with the go command:
// go test finds, saves, shrinks and prints; the next go test replays the
// saved schedule first; the fix with the file deleted passes; go test
// -fuzz finds the bug and plain go test replays the crasher.
func TestUserModuleWithGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	u := newUserModule(t)
	u.subject(racyAddLine)

	code, out := u.goTest("./...")
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "lost-update")
	assert.Contains(t, out, "shrunk to")
	assert.Regexp(t, `CPU0\s+\|\s+CPU1`, out, "the shrunk trace, a column per CPU")
	assert.Contains(t, out, "READ_ONCE n")
	files := u.saved()
	require.Len(t, files, 1, out)
	rel, err := filepath.Rel(u.dir, files[0])
	require.NoError(t, err)
	assert.Contains(t, out, "schedule saved to "+rel)

	code, out = u.goTest("./...")
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "saved schedule replayed first")
	assert.Contains(t, out, "lost-update")

	code, out = u.goTest("-run", "^TestCounter$", "-lfsim.replay="+rel)
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "replayed: the failure it recorded")
	assert.Contains(t, out, "READ_ONCE n")

	require.NoError(t, os.Remove(files[0]))
	u.subject(atomicAddLine)
	code, out = u.goTest("./...")
	require.Equal(t, 0, code, out)

	u.subject(racyAddLine)
	code, out = u.goTest("-run", "^$", "-fuzz", "^FuzzCounter$", "-fuzztime", "60s")
	require.Equal(t, 1, code, "the fuzzer finds the lost update: %s", out)
	assert.Contains(t, out, "lost-update")
	crashers, err := filepath.Glob(filepath.Join(u.dir, "testdata", "fuzz", "FuzzCounter", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, crashers, out)
	code, out = u.goTest("-run", "^FuzzCounter$")
	require.Equal(t, 1, code, "plain go test replays the crasher: %s", out)
	assert.Contains(t, out, "lost-update")
	assert.Contains(t, out, filepath.Base(crashers[0]))
}

// A simrun of the user's own, built with their scenario, lists, explores,
// replays, shrinks and converts its schedules.
func TestUserModuleWithItsOwnSimrun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	u := newUserModule(t)
	u.subject(racyAddLine)
	bin := filepath.Join(u.dir, "simrun")
	code, out := u.run(u.goc, "build", "-o", bin, "./cmd/simrun")
	require.Equal(t, 0, code, out)

	code, out = u.run(bin, "list")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "Counter")
	code, out = u.run(bin, "explore", "Counter", "-o", "found.sched", "--strategy=mix")
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "lost-update")
	code, out = u.run(bin, "replay", "found.sched", "--trace=columns")
	require.Equal(t, 1, code, out)
	assert.Contains(t, out, "READ_ONCE n")
	code, out = u.run(bin, "shrink", "found.sched", "-o", "min.sched")
	require.Equal(t, 0, code, out)
	entry := filepath.Join("testdata", "fuzz", "FuzzCounter", "found")
	code, out = u.run(bin, "corpus", "min.sched", "-o", entry)
	require.Equal(t, 0, code, out)
	code, out = u.run(bin, "replay", entry)
	require.Equal(t, 1, code, "the corpus entry replays to the failure: %s", out)
	assert.Contains(t, out, "lost-update")
	code, out = u.goTest("-run", "^FuzzCounter$")
	require.Equal(t, 1, code, "go test replays the entry simrun wrote: %s", out)
	assert.Contains(t, out, "lost-update")
}
