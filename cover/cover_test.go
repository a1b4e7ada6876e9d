package cover_test

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/cover"
	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/sim"
)

// root is the module's directory, from this file's.
func root(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Dir(filepath.Dir(file))
}

// funcOf names the function declared in file that holds line.
func funcOf(t *testing.T, file string, line int) string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	require.NoError(t, err)
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fset.Position(fd.Pos()).Line <= line && line <= fset.Position(fd.End()).Line {
			return fd.Name.Name
		}
	}
	return ""
}

// justified are the functions of the subjects that no documented use
// calls: the queue's snapshots, which qmempool does not use, and the
// "simple" copy loop, which is a finding of its own (it writes one slot
// past the ring: copy=simple, tested in queue/alf).
var justified = map[string]bool{"Count": true, "AvailSpace": true, "storeSimple": true}

// TestSubjectsFullyReached explores alf-mpmc, alf-spsc and skb, in their
// documented uses, into one coverage report, and checks that every
// scheduling point of queue/alf and pool/qmempool was reached, but for
// the justified functions.
func TestSubjectsFullyReached(t *testing.T) {
	cv := sim.NewCoverage()
	runs := 300
	if testing.Short() {
		runs = 60
	}
	for _, e := range []struct {
		name string
		set  []string
	}{
		{"alf-mpmc", nil}, {"alf-mpmc", []string{"tail=rfc"}}, {"alf-spsc", nil},
		{"skb", nil}, {"skb", []string{"senders=2", "free=task"}},
	} {
		s, err := scenario.Builtin().Lookup(e.name)
		require.NoError(t, err)
		v, err := s.Values(e.set)
		require.NoError(t, err)
		_, err = explore.Explore(context.Background(), explore.Config{Scenario: s, Values: v, Strategy: explore.Mix, Seed: 1, Runs: runs,
			Options: scenario.Options{Cover: cv}})
		require.NoError(t, err)
	}
	subjects := map[string]bool{filepath.Join(root(t), "queue", "alf"): true, filepath.Join(root(t), "pool", "qmempool"): true}
	report := cover.Report(cv, []string{filepath.Join(root(t), "scenario")})
	seen := 0
	for _, p := range report {
		if !subjects[p.Dir] {
			continue
		}
		seen++
		require.NoError(t, p.NoSource)
		assert.NotEmpty(t, p.Points)
		for _, pos := range p.Unreached {
			assert.True(t, justified[funcOf(t, pos.File, pos.Line)], "never reached: %s in %s", pos.Short(), funcOf(t, pos.File, pos.Line))
		}
	}
	assert.Equal(t, 2, seen, "both subjects are in the report")
	var b bytes.Buffer
	cover.Write(&b, cv.Runs(), report)
	assert.Contains(t, b.String(), "scheduling points reached")
}

// TestPointsFindsCallsOnCtx: the static list holds every call of a
// point method on a *sim.Ctx, and nothing else.
func TestPointsFindsCallsOnCtx(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import "github.com/kernelsim/lfsim/sim"

type other struct{}

func (other) Load(*sim.Cell) uint64 { return 0 }

func f(c *sim.Ctx, x *sim.Cell, o other) {
	c.Load(x)
	o.Load(x)
	var d *sim.Ctx = c
	d.SmpMb()
	c.BugOn(false, "not a point")
}
`
	require.NoError(t, writeFile(filepath.Join(dir, "p.go"), src))
	require.NoError(t, writeFile(filepath.Join(dir, "p_test.go"), "package p\n"))
	pts, err := cover.Points(dir)
	require.NoError(t, err)
	var lines []int
	for _, p := range pts {
		lines = append(lines, p.Line)
	}
	assert.Equal(t, []int{10, 13}, lines)
}

// TestReportListsOneWayRaces: a race seen in one order only is listed,
// one seen both ways is counted.
func TestReportListsOneWayRaces(t *testing.T) {
	cv := sim.NewCoverage()
	build := func(first int) sim.Result {
		m, err := sim.New(sim.Config{CPUs: 2, Cover: cv})
		require.NoError(t, err)
		x := m.NewCell("x", sim.W32, 0)
		y := m.NewCell("y", sim.W32, 0)
		m.Go("a", 0, func(c *sim.Ctx) {
			c.WriteOnce(x, 1)
			c.WriteOnce(y, 1)
		})
		m.Go("b", 1, func(c *sim.Ctx) {
			c.ReadOnce(x)
			c.ReadOnce(y)
		})
		s0, s1 := sim.Move{Kind: sim.MoveStep, CPU: 0}, sim.Move{Kind: sim.MoveStep, CPU: 1}
		// Both start; x in the given order; then a's write of y before
		// b's read of y, in both runs.
		order := []sim.Move{{Kind: sim.MoveSwitch, CPU: 0, Arg: 0}, {Kind: sim.MoveSwitch, CPU: 1, Arg: 1}, s0, s1, s0, s1, s0, s1}
		if first == 1 {
			order[4], order[5] = s1, s0
		}
		return m.Run(sim.NewReplay(order))
	}
	for _, first := range []int{0, 1} {
		r := build(first)
		require.NoError(t, r.Err)
	}
	_, file, _, _ := runtime.Caller(0)
	var mine *cover.Package
	report := cover.Report(cv, nil)
	for i := range report {
		if report[i].Dir == filepath.Dir(file) {
			mine = &report[i]
		}
	}
	require.NotNil(t, mine)
	assert.Equal(t, 1, mine.BothWays, "x: written and read in both orders")
	require.Len(t, mine.OneWay, 1, "y: always written first")
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
