package simrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/fuzz"
	"github.com/kernelsim/lfsim/scenario"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		(&Command{Scenarios: scenario.Builtin(), Targets: fuzz.Targets()}).Main()
	}
	goleak.VerifyTestMain(m)
}

func simrun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return simrunCtx(t, context.Background(), args...)
}

func simrunCtx(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errw bytes.Buffer
	c := &Command{Scenarios: scenario.Builtin(), Targets: fuzz.Targets()}
	code := c.Run(ctx, args, &out, &errw)
	return code, out.String(), errw.String()
}

func TestList(t *testing.T) {
	code, out, _ := simrun(t, "list")
	assert.Equal(t, exitPass, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	all := scenario.All()
	require.Len(t, lines, len(all), "one line per scenario")
	for i, s := range all {
		assert.True(t, strings.HasPrefix(lines[i], s.Name+" "), lines[i])
		for _, p := range s.Params {
			assert.Contains(t, lines[i], p.Name+"="+p.Default)
		}
	}
	assert.Contains(t, lines[0], "cpus=2 ring=8 burst=8 packets=64 irqs=0")
}

func TestListOneScenario(t *testing.T) {
	code, out, _ := simrun(t, "list", "alf-aba")
	assert.Equal(t, exitPass, code)
	assert.Contains(t, out, "alf-aba: ")
	assert.Contains(t, out, "(known to fail)")
	assert.Contains(t, out, "--set width=     counter width in bits (default 3; 1..32)")
	assert.Contains(t, out, "--set tail=      MC tail publication (default release; release|rfc)")
	code, _, errOut := simrun(t, "list", "nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown scenario "nope"`)
}

func TestExploreFindsSavesAndReplays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.sched")
	code, out, errOut := simrun(t, "explore", "ring2005", "-o", path)
	assert.Equal(t, exitFailure, code)
	assert.Empty(t, errOut)
	assert.Regexp(t, `^FAIL ring2005 \(cpus=2 ring=8 burst=8 packets=64 irqs=0, mix seed=1\)\n`, out)
	assert.Contains(t, out, "panic: Tail pointer must be null\n  at step ")
	assert.Contains(t, out, "schedule saved to "+path)
	require.FileExists(t, path)

	code, out1, _ := simrun(t, "replay", path, "--trace=columns")
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out1, "| CPU0")
	assert.Contains(t, out1, "FAIL (reproduces the recorded failure)")
	_, out2, _ := simrun(t, "replay", "--trace=columns", path)
	assert.Equal(t, out1, out2, "two replays print the same bytes")

	code, lines, _ := simrun(t, "replay", path, "--trace=lines")
	assert.Equal(t, exitFailure, code)
	assert.Regexp(t, `#1 +CPU\d`, lines)
	assert.Contains(t, lines, "ring2005/ring.go:")
}

// One call finds the crash, saves it, and replays the saved file.
func TestExploreWithTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.sched")
	code, out, _ := simrun(t, "explore", "ring2005", "-o", path, "--trace=columns")
	assert.Equal(t, exitFailure, code)
	_, replayed, _ := simrun(t, "replay", path, "--trace=columns")
	assert.True(t, strings.HasSuffix(out, "\nreplaying "+path+":\n\n"+replayed), out)
}

func TestExploreJSON(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := simrun(t, "explore", "ring2005", "--json", "--seed=3", "-o", filepath.Join(dir, "s.sched"))
	assert.Equal(t, exitFailure, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	for _, key := range []string{"scenario", "strategy", "seed", "runs", "steps", "elapsed_ms", "failure"} {
		assert.Contains(t, got, key)
	}
	f := got["failure"].(map[string]any)
	for _, key := range []string{"kind", "message", "run", "step", "schedule"} {
		assert.Contains(t, f, key)
	}
	assert.Equal(t, filepath.Join(dir, "s.sched"), f["schedule"])

	code, out, _ = simrun(t, "explore", "ring2005-locked", "--json", "--runs=50", "--strategy=pct", "--depth=2")
	assert.Equal(t, exitPass, code)
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Nil(t, got["failure"])
	assert.EqualValues(t, 50, got["runs"])
	assert.EqualValues(t, 2, got["depth"])

	code, out, _ = simrun(t, "replay", filepath.Join(dir, "s.sched"), "--json")
	assert.Equal(t, exitFailure, code)
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, true, got["reproduced"])
}

func TestExplorePasses(t *testing.T) {
	code, out, _ := simrun(t, "explore", "ring2005-locked", "--runs=100", "--set", "cpus=3")
	assert.Equal(t, exitPass, code)
	assert.Regexp(t, `^PASS ring2005-locked: no failure in 100 runs, \d+ steps`, out)
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, out, _ := simrunCtx(t, ctx, "explore", "ring2005-locked")
	assert.Equal(t, exitInterrupted, code)
	assert.Contains(t, out, "interrupted: no failure in 0 runs")
}

// goodSchedule saves a failing schedule of ring2005 in a new folder and
// returns the folder, the file and its contents.
func goodSchedule(t *testing.T) (dir, path string, data []byte) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "good.sched")
	code, _, _ := simrun(t, "explore", "ring2005", "-o", path)
	require.Equal(t, exitFailure, code)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return dir, path, data
}

// Bad input gets one line on stderr and exit status 2, never a stack trace.
func TestBadInput(t *testing.T) {
	dir, good, data := goodSchedule(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	cases := map[string]struct {
		args []string
		want string
	}{
		"no command":        {nil, "usage:"},
		"unknown command":   {[]string{"fuzz"}, `simrun: unknown command "fuzz"`},
		"unknown scenario":  {[]string{"explore", "ring2006"}, `unknown scenario "ring2006"`},
		"no scenario":       {[]string{"explore"}, "want exactly one scenario name"},
		"bad param":         {[]string{"explore", "ring2005", "--set", "ring=0"}, "ring=0: want 1..4096"},
		"bad strategy":      {[]string{"explore", "ring2005", "--strategy=dfs"}, `unknown strategy "dfs"`},
		"bad depth":         {[]string{"explore", "ring2005", "--strategy=pct", "--depth=0"}, "PCT needs a depth of at least 1"},
		"bad flag value":    {[]string{"explore", "ring2005", "--runs=many"}, `invalid value "many" for flag -runs`},
		"no budget":         {[]string{"explore", "ring2005", "--runs=0", "--time=0"}, "no budget"},
		"bad max steps":     {[]string{"explore", "ring2005", "--max-steps=99999999"}, "--max-steps=99999999: want 1..10000000"},
		"missing file":      {[]string{"replay", filepath.Join(dir, "nope.sched")}, "no such file"},
		"foreign file":      {[]string{"replay", write("f.sched", []byte("hello\n"))}, "not a simrun schedule file"},
		"truncated file":    {[]string{"replay", write("t.sched", data[:len(data)/2])}, "truncated schedule file"},
		"corrupt file":      {[]string{"replay", write("c.sched", bytes.Replace(data, []byte("s0"), []byte("s1"), 1))}, "corrupt schedule file"},
		"bad trace":         {[]string{"replay", good, "--trace=dots"}, "--trace=dots: want lines, columns or full"},
		"depth without pct": {[]string{"explore", "ring2005", "--depth=-3"}, "--depth=-3 applies to --strategy=pct only, not mix"},
		"depth of random":   {[]string{"explore", "ring2005", "--strategy=random", "--depth=2"}, "applies to --strategy=pct only, not random"},
		"lacking a param":   {[]string{"replay", write("p.sched", resum(t, dropLine(data, "param irqs=")))}, "gives no value for parameter irqs"},
		"a param twice":     {[]string{"replay", write("d.sched", resum(t, dupLine(data, "param ring=")))}, "parameter ring given twice"},
		"decision bomb":     {[]string{"replay", write("b.sched", resum(t, bomb(data)))}, "want a count up to the file's max-steps"},
		"steps bomb":        {[]string{"replay", write("m.sched", resum(t, regexp.MustCompile(`(?m)^max-steps \d+$`).ReplaceAll(data, []byte("max-steps 99999999"))))}, "max-steps \"99999999\": want 1..10000000"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := simrun(t, tc.args...)
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut, tc.want)
			if name != "no command" {
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			}
			assert.NotContains(t, errOut, "goroutine")
		})
	}
}

// A file whose decisions do not fit its scenario is refused, not replayed
// into something else.
func TestReplayOfMismatchedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sched")
	code, _, _ := simrun(t, "explore", "ring2005", "-o", path, "--set", "cpus=3")
	require.Equal(t, exitFailure, code)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// Re-sign a copy that claims two CPUs: its decisions name CPU2.
	edited := resign(t, bytes.Replace(data, []byte("param cpus=3"), []byte("param cpus=2"), 1))
	other := filepath.Join(dir, "o.sched")
	require.NoError(t, os.WriteFile(other, edited, 0o644))
	code, _, errOut := simrun(t, "replay", other)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "schedule does not fit scenario ring2005")
}

// resign recomputes the checksum of an edited schedule file.
func resign(t *testing.T, data []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(data, []byte("crc32 "))
	require.Positive(t, i)
	body := data[:i]
	return fmt.Appendf(bytes.Clone(body), "crc32 %08x\n", crc32.ChecksumIEEE(body))
}

// A linearizability violation comes with porcupine's visualisation,
// written next to the schedule file by explore and again by replay.
func TestVisualisationOfAViolation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "strict.sched")
	code, out, _ := simrun(t, "explore", "alf-mpmc", "--set", "spec=strict", "-o", path)
	require.Equal(t, exitFailure, code, out)
	html := filepath.Join(dir, "strict.html")
	assert.Contains(t, out, "not-linearizable: the history of ")
	assert.Contains(t, out, "visualisation: "+html)
	require.FileExists(t, html)
	require.NoError(t, os.Remove(html))

	code, out, _ = simrun(t, "replay", path, "--json")
	assert.Equal(t, exitFailure, code)
	var got struct {
		Failure struct {
			Visualisation string `json:"visualisation"`
		} `json:"failure"`
		Reproduced bool `json:"reproduced"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.True(t, got.Reproduced)
	assert.Equal(t, html, got.Failure.Visualisation)
	assert.FileExists(t, html)
}

// replay draws the run's timeline as a page and as a Perfetto file, and
// gives the trace's events in its JSON, selected by step and CPU.
func TestReplayDrawsTheTimelineAndGivesTheTraceInJSON(t *testing.T) {
	dir := t.TempDir()
	sched := filepath.Join("..", "testdata", "ring2005-seed1.sched")
	page, perfetto := filepath.Join(dir, "t.html"), filepath.Join(dir, "t.json")
	code, out, errs := simrun(t, "replay", sched, "--html", page, "--perfetto", perfetto)
	require.Equal(t, exitFailure, code, errs)
	assert.Contains(t, out, "FAIL (reproduces the recorded failure)")
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.Contains(t, string(html), `id="failure"`)
	data, err := os.ReadFile(perfetto)
	require.NoError(t, err)
	var doc struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	assert.NotEmpty(t, doc.TraceEvents)

	code, out, _ = simrun(t, "replay", sched, "--trace=lines", "--from=10", "--to=20", "--cpu=1", "--json")
	require.Equal(t, exitFailure, code)
	var got struct {
		Trace []struct {
			Step int    `json:"step"`
			CPU  int    `json:"cpu"`
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"trace"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.NotEmpty(t, got.Trace)
	for _, e := range got.Trace {
		if e.Kind != "failure" {
			assert.True(t, e.CPU == 1 && e.Step >= 10 && e.Step <= 20, "%+v", e)
		}
	}

	// explore and check give the failing run's events with the failure.
	for _, cmd := range []string{"explore", "check"} {
		code, out, _ = simrun(t, cmd, "alf-preempt", "--trace=columns", "--json", "-o", filepath.Join(dir, cmd+".sched"))
		require.Equal(t, exitFailure, code, out)
		var found struct {
			Failure struct {
				Trace []struct {
					Kind string `json:"kind"`
				} `json:"trace"`
			} `json:"failure"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &found))
		require.NotEmpty(t, found.Failure.Trace, cmd)
		assert.Equal(t, "failure", found.Failure.Trace[len(found.Failure.Trace)-1].Kind, cmd)
	}

	code, _, errs = simrun(t, "replay", sched, "--html", filepath.Join(dir, "no", "such", "dir.html"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "dir.html")
	code, _, errs = simrun(t, "replay", sched, "--trace=columns", "--cpu=one")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "--cpu=one: want CPU numbers separated by commas")
}

func TestCostsPerPairAreShown(t *testing.T) {
	code, out, _ := simrun(t, "explore", "skb", "--runs=3", "--set", "cpus=1", "--set", "free=softirq", "--set", "burst=1")
	require.Equal(t, exitPass, code, out)
	assert.Regexp(t, `costs per alloc\+free pair: \d+\.\d\d atomic RMW, \d+\.\d\d barriers, \d+\.\d\d slab calls, 0\.00 bh/preempt/irq toggles`, out)

	code, out, _ = simrun(t, "explore", "skb", "--runs=3", "--json", "--set", "pool=slab")
	require.Equal(t, exitPass, code, out)
	var got struct {
		PerUnit struct{ Slab float64 } `json:"costs_per_unit"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, 2.0, got.PerUnit.Slab)
}

func TestShrink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.sched")
	code, _, _ := simrun(t, "explore", "ring2005", "-o", path)
	require.Equal(t, exitFailure, code)
	code, out, errOut := simrun(t, "shrink", path)
	require.Equal(t, exitPass, code, errOut)
	min := filepath.Join(dir, "crash.min.sched")
	assert.Contains(t, out, "shrunk "+path+": panic: Tail pointer must be null")
	m := regexp.MustCompile(`before: (\d+) steps, \d+ CPU switches, \d+ preemptions, \d+ interrupts[^\n]*\n  after:  (\d+) steps, \d+ CPU switches, 0 preemptions, [012] interrupts \(cpus=2 ring=8 burst=8 packets=\d+ irqs=0\)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	before, _ := strconv.Atoi(m[1])
	after, _ := strconv.Atoi(m[2])
	assert.LessOrEqual(t, after, before/4, "the crash keeps at most a quarter of its steps")
	assert.Contains(t, out, "saved to "+min)
	code, out, _ = simrun(t, "replay", min)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, out, "FAIL (reproduces the recorded failure)")

	code, _, errOut = simrun(t, "shrink", filepath.Join(dir, "nope.sched"))
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"))
}

// A schedule becomes a fuzz corpus entry, and a corpus entry replays like
// a schedule.
func TestCorpusEntries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.sched")
	code, _, _ := simrun(t, "explore", "ring2005", "--set", "packets=8", "--set", "burst=4", "--set", "ring=4", "--seed=4", "-o", path)
	require.Equal(t, exitFailure, code)
	entry := filepath.Join(dir, "testdata", "fuzz", "FuzzRing2005", "crash") // made: the target's corpus folder
	code, out, errOut := simrun(t, "corpus", path, "-o", entry)
	require.Equal(t, exitPass, code, errOut)
	assert.Contains(t, out, "for FuzzRing2005")
	data, err := os.ReadFile(entry)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "go test fuzz v1\n[]byte("))

	_, want, _ := simrun(t, "replay", path)
	code, got, _ := simrun(t, "replay", entry)
	assert.Equal(t, exitFailure, code)
	assert.Equal(t, strings.Split(want, "\n")[1:], strings.Split(got, "\n")[1:], "same failure, same place")

	elsewhere := filepath.Join(dir, "crash-corpus")
	require.NoError(t, os.WriteFile(elsewhere, data, 0o644))
	code, _, errOut = simrun(t, "replay", elsewhere)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "a corpus file must sit in testdata/fuzz/<Target>/")

	code, _, errOut = simrun(t, "corpus", path, "-o", entry, "--bogus")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, "simrun corpus: flag provided but not defined: -bogus\n", errOut)
	code, _, _ = simrun(t, "explore", "ring2005", "--seed=2", "-o", path)
	require.Equal(t, exitFailure, code)
	code, _, errOut = simrun(t, "corpus", path)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no fuzz target runs scenario ring2005 with cpus=2 ring=8 burst=8 packets=64 irqs=0")
	assert.Contains(t, errOut, "FuzzRing2005 needs ring=4 burst=4 packets=8 (simrun explore ring2005 --set ring=4 --set burst=4 --set packets=8 finds schedules for it)")

	// -o names a file in a folder that must exist.
	code, _, errOut = simrun(t, "corpus", entry, "-o", filepath.Join(dir, "tpyo", "x"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no folder "+filepath.Join(dir, "tpyo"))
	assert.NoDirExists(t, filepath.Join(dir, "tpyo"))

	// A corpus file named from inside its folder replays.
	t.Chdir(filepath.Dir(entry))
	code, out, errOut = simrun(t, "replay", "crash")
	assert.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, out, "FAIL (reproduces the recorded failure)")
}

func TestBenchPrintsTheOriginalsTablesBesideOurs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every native benchmark")
	}
	code, out, _ := simrun(t, "bench", "--benchtime=2ms")
	require.Equal(t, exitPass, code)
	for _, want := range []string{"MPMC original", "bulk16/bulk1", "2 producers + 2 consumers", "buffered chan", "mutex ring", "sync.Pool"} {
		assert.Contains(t, out, want)
	}
	// Ours beside the original's: a measured figure before each of the
	// original's.
	for _, row := range []string{
		`(?m)^\s*1\s+([0-9.]+)\s+8\.60\s+([0-9.]+)\s+2\.00\s*$`,
		`(?m)^\s*16\s+([0-9.]+)\s+1\.10\s+([0-9.]+)\s+0\.75\s*$`,
		`(?m)^\s*qmempool-softirq\s+([0-9.]+)\s+7\.8\s+([0-9.]+)\s+12\.5\s*$`,
		`(?m)^\s*slab\s+([0-9.]+)\s+19\.6 \(SLUB\)\s+([0-9.]+)\s+45 \(SLUB\)\s*$`,
	} {
		m := regexp.MustCompile(row).FindStringSubmatch(out)
		require.NotNil(t, m, "no row %s in\n%s", row, out)
		for _, fig := range m[1:] {
			ns, err := strconv.ParseFloat(fig, 64)
			require.NoError(t, err)
			assert.Positive(t, ns, "row %s", row)
		}
	}
	code, _, errs := simrun(t, "bench", "--benchtime=0s")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "positive --benchtime")
}

func TestCompareTabulatesSimulatorAndStress(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// alf-preempt: race-free natively (this test also runs under -race),
	// found by the simulator, out of stress's reach.
	code, out, _ := simrun(t, "compare", "alf-preempt", "--budget=1s")
	require.Equal(t, exitFailure, code, out)
	assert.Regexp(t, `simulator +yes .* soft-lockup`, out)
	assert.Contains(t, out, "replay: simrun replay alf-preempt-compare-seed1.sched")
	assert.FileExists(t, filepath.Join(dir, "alf-preempt-compare-seed1.sched"))
	assert.Regexp(t, `stress +no +- .*goroutines have no priorities`, out)
	assert.NotContains(t, out, "stress -race", "auto: only for the plain-memory ring")

	code, _, errs := simrun(t, "compare", "alf-irq")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "stress has no native workload")
	code, _, errs = simrun(t, "compare", "ring2005", "--budget=0s")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errs, "positive budget")
}

func TestRaceSiteNamesTheSubjectsLines(t *testing.T) {
	report := `WARNING: DATA RACE
Read at 0x00c000024180 by goroutine 11:
  github.com/kernelsim/lfsim/native.(*Ctx).Load()
      /src/native/ctx.go:24 +0xaf
  github.com/kernelsim/lfsim/pool/ring2005native.(*Ring).AllocData()
      pool/ring2005/ring.go:56 +0x1a

Previous write at 0x00c000024180 by goroutine 12:
  github.com/kernelsim/lfsim/native.(*Ctx).Store()
      /src/native/ctx.go:27 +0x2be
  github.com/kernelsim/lfsim/pool/ring2005native.(*Ring).FreeData()
      pool/ring2005/ring.go:81 +0x23f
`
	assert.Equal(t, "read in pool/ring2005native.(*Ring).AllocData() at pool/ring2005/ring.go:56, previous write in pool/ring2005native.(*Ring).FreeData() at pool/ring2005/ring.go:81", raceSite(report))
}

// TestEveryCommandHasHelp asks every subcommand for its help in each way
// a user would, and checks that it answers on stdout with exit 0, naming
// each flag the command parses with its meaning and default.
func TestEveryCommandHasHelp(t *testing.T) {
	flags := map[string][]string{
		"explore": {"--strategy=strategy", "--seed=uint", "--runs=int", "--time=duration", "--depth=int", "--workers=int", "--shard=I/N", "--record=FILE", "--cover", "--max-steps=int", "--set=key=value", "-o FILE", "--trace=mode", "--json"},
		"check":   {"--preemptions=int", "--interrupts=int", "--failures=int", "--executions=int", "--no-reduction", "--workers=int", "--shard=I/N", "--record=FILE", "--max-steps=int"},
		"merge":   {"-o FILE", "--cover", "--json"},
		"replay":  {"--trace=mode", "--json"},
		"shrink":  {"-o FILE", "--time=duration", "--attempts=int", "--workers=int"},
		"corpus":  {"-o FILE"},
		"litmus":  {"--model=model", "--explain", "--json"},
		"bench":   {"--benchtime=duration"},
	}
	for _, cmd := range commands {
		for _, ask := range [][]string{{cmd.name, "--help"}, {cmd.name, "-h"}, {"help", cmd.name}, {cmd.name, "x", "--help"}} {
			t.Run(strings.Join(ask, " "), func(t *testing.T) {
				code, out, errOut := simrun(t, ask...)
				assert.Equal(t, exitPass, code)
				assert.Empty(t, errOut)
				assert.True(t, strings.HasPrefix(out, "usage: simrun "+cmd.name+" "), out)
				assert.Contains(t, out, cmd.doc)
				for _, f := range flags[cmd.name] {
					assert.Contains(t, out, "\n  "+f+"\n      ", "flag %s", f)
				}
			})
		}
	}
	_, out, _ := simrun(t, "explore", "--help")
	assert.Contains(t, out, "--max-steps=int\n      step budget of one run (default 200000)\n")
	assert.Contains(t, out, "--seed=uint\n      seed of the exploration (default 1)\n")
	code, _, errOut := simrun(t, "nosuch", "--help")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown command "nosuch"`)
}

// decodeOne decodes stdout as exactly one JSON object.
func decodeOne(t *testing.T, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var v map[string]any
	require.NoError(t, dec.Decode(&v), "stdout: %q", out)
	assert.False(t, dec.More(), "one JSON object, no more: %q", out)
	return v
}

// TestJSONOnEveryError runs every subcommand that takes --json into each
// class of error, and checks that stdout is then one JSON object naming
// the error with exit 2, while stderr still says it in a line.
func TestJSONOnEveryError(t *testing.T) {
	dir, good, data := goodSchedule(t)
	corrupt := filepath.Join(dir, "c.sched")
	require.NoError(t, os.WriteFile(corrupt, bytes.Replace(data, []byte("s0"), []byte("s1"), 1), 0o644))
	missing := filepath.Join(dir, "nope.sched")
	cases := map[string]struct {
		args []string
		want string
	}{
		"explore unknown flag":     {[]string{"explore", "ring2005", "--bogus"}, "flag provided but not defined: -bogus"},
		"explore bad value":        {[]string{"explore", "ring2005", "--runs=many"}, `invalid value "many"`},
		"explore unknown scenario": {[]string{"explore", "ring2006"}, `unknown scenario "ring2006"`},
		"explore bad param":        {[]string{"explore", "ring2005", "--set", "ring=0"}, "ring=0: want 1..4096"},
		"check bad bound":          {[]string{"check", "ring2005", "--preemptions=-1"}, "bounds must not be negative"},
		"check no scenario":        {[]string{"check"}, "want exactly one scenario name"},
		"replay missing file":      {[]string{"replay", missing}, "no such file"},
		"replay corrupt file":      {[]string{"replay", corrupt}, "corrupt schedule file"},
		"replay two files":         {[]string{"replay", good, good}, "want exactly one schedule file"},
		"shrink missing file":      {[]string{"shrink", missing}, "no such file"},
		"shrink bad budget":        {[]string{"shrink", good, "--attempts=0"}, "want a positive budget"},
		"corpus corrupt file":      {[]string{"corpus", corrupt}, "corrupt schedule file"},
		"corpus no target":         {[]string{"corpus", good, "-o", filepath.Join(dir, "e")}, "no fuzz target runs scenario ring2005"},
		"merge nothing":            {[]string{"merge"}, "want the shards' result files"},
		"merge missing file":       {[]string{"merge", missing}, "no such file"},
		"litmus bad model":         {[]string{"litmus", "--model=arm", good}, "arm"},
		"list unknown scenario":    {[]string{"list", "ring2006"}, `unknown scenario "ring2006"`},
		"list two scenarios":       {[]string{"list", "ring2005", "skb"}, "want at most one scenario name"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := simrun(t, append(tc.args, "--json")...)
			assert.Equal(t, exitUsage, code)
			v := decodeOne(t, out)
			msg, _ := v["error"].(string)
			assert.NotEmpty(t, msg)
			assert.Contains(t, msg, tc.want)
			assert.NotContains(t, msg, "simrun "+tc.args[0]+":", "the message without the command's prefix")
			assert.EqualValues(t, exitUsage, v["exit"])
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "stderr still says it in a line: %q", errOut)
		})
	}
	// --json=false asks for text.
	code, out, _ := simrun(t, "explore", "ring2006", "--json=false")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
}

// TestJSONOfShrinkCorpusAndList: the commands that printed only text have
// one JSON object each.
func TestJSONOfShrinkCorpusAndList(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.sched")
	code, _, _ := simrun(t, "explore", "ring2005", "--set", "packets=8", "--set", "burst=4", "--set", "ring=4", "--seed=4", "-o", path)
	require.Equal(t, exitFailure, code)

	code, out, errOut := simrun(t, "shrink", path, "--json", "--attempts=200")
	require.Equal(t, exitPass, code, errOut)
	v := decodeOne(t, out)
	assert.Equal(t, path, v["schedule"])
	assert.Equal(t, filepath.Join(dir, "crash.min.sched"), v["saved"])
	assert.Equal(t, "panic", v["failure"].(map[string]any)["kind"])
	before, after := v["before"].(map[string]any), v["after"].(map[string]any)
	assert.LessOrEqual(t, after["steps"], before["steps"])
	assert.Contains(t, after["params"], "cpus=")

	entry := filepath.Join(dir, "testdata", "fuzz", "FuzzRing2005", "crash")
	require.NoError(t, os.MkdirAll(filepath.Dir(entry), 0o755))
	code, out, errOut = simrun(t, "corpus", path, "-o", entry, "--json")
	require.Equal(t, exitPass, code, errOut)
	v = decodeOne(t, out)
	assert.Equal(t, entry, v["wrote"])
	assert.Equal(t, "FuzzRing2005", v["target"])
	assert.Greater(t, v["bytes"], 0.0)

	code, out, _ = simrun(t, "list", "--json")
	require.Equal(t, exitPass, code)
	v = decodeOne(t, out)
	all := v["scenarios"].([]any)
	require.Len(t, all, len(scenario.All()))
	first := all[0].(map[string]any)
	assert.Equal(t, "ring2005", first["name"])
	assert.Equal(t, true, first["known_to_fail"])
	code, out, _ = simrun(t, "list", "alf-aba", "--json")
	require.Equal(t, exitPass, code)
	v = decodeOne(t, out)
	assert.Equal(t, "alf-aba", v["name"])
	assert.NotEmpty(t, v["params"])

	// The file recorded a failure with no CPU: replay's "recorded" says
	// what the file holds.
	code, out, _ = simrun(t, "replay", path, "--json")
	assert.Equal(t, exitFailure, code)
	v = decodeOne(t, out)
	rec := v["recorded"].(map[string]any)
	assert.Equal(t, "panic", rec["kind"])
	assert.NotContains(t, rec, "cpu")
}

// TestFindingsAreNeverWrittenOver: default output names tell runs with
// other values apart, and a name that holds another finding is numbered
// rather than written over; only -o writes where it is told.
func TestFindingsAreNeverWrittenOver(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}
	saved := func(out string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^schedule saved to (\S+)$`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		return m[1]
	}
	code, out, _ := simrun(t, "explore", "ring2005")
	require.Equal(t, exitFailure, code)
	first := saved(out)
	assert.Equal(t, "ring2005-seed1.sched", first)
	firstBytes := read(first)

	code, out, _ = simrun(t, "explore", "ring2005", "--set", "packets=8")
	require.Equal(t, exitFailure, code)
	other := saved(out)
	assert.Regexp(t, `^ring2005-[0-9a-f]{8}-seed1\.sched$`, other, "other values, another name")
	code, out, _ = simrun(t, "explore", "ring2005", "--set", "packets=8")
	require.Equal(t, exitFailure, code)
	assert.Equal(t, other, saved(out), "the same finding again keeps its name")

	code, out, _ = simrun(t, "explore", "ring2005", "--strategy=random")
	require.Equal(t, exitFailure, code)
	assert.Equal(t, "ring2005-seed1-2.sched", saved(out), "another finding under a taken name is numbered")
	assert.Equal(t, firstBytes, read(first), "the first finding is intact")

	code, out, errOut := simrun(t, "shrink", first, "--attempts=300")
	require.Equal(t, exitPass, code, errOut)
	assert.Contains(t, out, "saved to ring2005-seed1.min.sched")
	require.NoError(t, os.WriteFile("ring2005-seed1.min.sched", []byte("kept\n"), 0o644))
	code, out, errOut = simrun(t, "shrink", first, "--attempts=300")
	require.Equal(t, exitPass, code, errOut)
	assert.Contains(t, out, "saved to ring2005-seed1.min-2.sched")
	assert.Equal(t, "kept\n", read("ring2005-seed1.min.sched"))

	code, out, _ = simrun(t, "explore", "ring2005", "--strategy=random", "-o", first)
	require.Equal(t, exitFailure, code)
	assert.Equal(t, first, saved(out), "-o writes where it is told")
	assert.Equal(t, read("ring2005-seed1-2.sched"), read(first))
}

// resum recomputes a schedule file's checksum after an edit, as someone
// crafting a file would.
func resum(t *testing.T, data []byte) []byte {
	t.Helper()
	body := data[:bytes.LastIndex(bytes.TrimRight(data, "\n"), []byte("\n"))+1]
	return fmt.Appendf(body, "crc32 %08x\n", crc32.ChecksumIEEE(body))
}

func dropLine(data []byte, prefix string) []byte {
	return regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(prefix)+`.*\n`).ReplaceAll(data, nil)
}

func dupLine(data []byte, prefix string) []byte {
	return regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(prefix)+`.*\n`).ReplaceAllFunc(data, func(l []byte) []byte { return append(slices.Clone(l), l...) })
}

// bomb declares far more decisions than the run may take, held in a few
// bytes by a repeat count.
func bomb(data []byte) []byte {
	data = regexp.MustCompile(`(?m)^decisions \d+\n(?s:.*)\ncrc32`).ReplaceAll(data, []byte("decisions 10000000\ns0*10000000\ncrc32"))
	return data
}
