package fuzz

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demonstration targets fail when the fuzzer reaches their bug, so
// their crashing inputs are kept apart (testdata/crashers/<Target>/), and
// checked here: each replays to the failure it demonstrates.
func TestDemonstrationCrashersAreFoundAndNamed(t *testing.T) {
	type identity struct{ kind, site string }
	want := map[string]identity{
		"FuzzRing2005":        {sim.KindPanic, `^ring2005/ring\.go:\d+$`},
		"FuzzAlfSPSCMisuse":   {sim.KindBug, `^alf/alf\.go:\d+$`},
		"FuzzAlfPreempt":      {sim.KindSoftLockup, `^alf/alf\.go:\d+$`},
		"FuzzAlfIRQ":          {sim.KindSoftLockup, `^alf/alf\.go:\d+$`},
		"FuzzQmempoolHardirq": {sim.KindBug, `^alf/alf\.go:\d+$`},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "crashers", "*", "*"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, path := range files {
		target := filepath.Base(filepath.Dir(path))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := FromCorpus(Targets(), target, data)
		require.NoError(t, err, path)
		require.NotNil(t, f.Failure, "%s passes", path)
		assert.Equal(t, want[target].kind, f.Failure.Kind, path)
		assert.Regexp(t, want[target].site, f.Failure.Site, path)
		rep, err := explore.Replay(tgScenario(t, f), f, false)
		require.NoError(t, err)
		assert.True(t, rep.Reproduced, path)
		seen[target] = true
	}
	for target := range want {
		assert.True(t, seen[target], "no crasher kept for %s", target)
	}
	for _, tg := range Targets() {
		assert.Equal(t, tg.Demonstration, want[tg.Name] != identity{}, "%s: demonstration targets and crashers agree", tg.Name)
	}
}

// Every checked-in seed passes, for demonstration targets too.
func TestSeedsPass(t *testing.T) {
	for _, tg := range Targets() {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", tg.Name, "*"))
		require.NoError(t, err)
		require.NotEmpty(t, files, tg.Name)
		for _, path := range files {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			f, err := FromCorpus(Targets(), tg.Name, data)
			require.NoError(t, err)
			assert.Nil(t, f.Failure, path)
		}
	}
}

// A schedule of a target's scenario becomes corpus bytes that make the
// same run; the corpus format round-trips.
func TestScheduleToCorpusAndBack(t *testing.T) {
	tg, err := Lookup("FuzzRing2005")
	require.NoError(t, err)
	f, err := tg.Schedule([]byte("the fuzzer's bytes, any bytes at all"))
	require.NoError(t, err)
	got, err := For(Targets(), f)
	require.NoError(t, err)
	assert.Equal(t, tg.Name, got.Name)
	data, err := tg.Bytes(f)
	require.NoError(t, err)
	in, err := ParseCorpus(Corpus(data))
	require.NoError(t, err)
	again, err := FromCorpus(Targets(), tg.Name, Corpus(in))
	require.NoError(t, err)
	assert.Equal(t, f.Decisions, again.Decisions)

	_, err = For(Targets(), &schedule.File{Scenario: "ring2005", Params: []string{"cpus=3"}})
	assert.ErrorContains(t, err, "no fuzz target runs scenario ring2005")
	for _, bad := range []string{"hello", "go test fuzz v1\nint(3)\n", "go test fuzz v1\n[]byte(\"a\")\n[]byte(\"b\")\n"} {
		_, err := ParseCorpus([]byte(bad))
		assert.Error(t, err, bad)
	}
	_, err = FromCorpus(Targets(), "FuzzNothing", Corpus(nil))
	assert.ErrorContains(t, err, "testdata/fuzz/<Target>/")
}

// tgScenario is the project's own scenario a schedule names.
func tgScenario(t *testing.T, f *schedule.File) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Lookup(f.Scenario)
	require.NoError(t, err)
	return s
}

// TestAFuzzedCrasherLeavesGoTestGreen: an input the fuzzer saved because
// it reaches a demonstration target's known bug is skipped by plain go
// test, with where to keep it, and still fails under -fuzz.
func TestAFuzzedCrasherLeavesGoTestGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary as a process")
	}
	crashers, err := filepath.Glob(filepath.Join("testdata", "crashers", "FuzzRing2005", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, crashers)
	data, err := os.ReadFile(crashers[0])
	require.NoError(t, err)
	dir := t.TempDir()
	corpus := filepath.Join(dir, "testdata", "fuzz", "FuzzRing2005")
	require.NoError(t, os.MkdirAll(corpus, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(corpus, "saved-by-the-fuzzer"), data, 0o644))

	run := func(args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("-test.run=^FuzzRing2005$", "-test.v")
	require.NoError(t, err, out)
	assert.Contains(t, out, "--- SKIP: FuzzRing2005/saved-by-the-fuzzer")
	assert.Contains(t, out, "move the file to fuzz/testdata/crashers/FuzzRing2005/")

	out, err = run("-test.run=^$", "-test.fuzz=^FuzzRing2005$", "-test.fuzztime=1x", "-test.fuzzcachedir="+t.TempDir())
	require.Error(t, err, "under -fuzz the known bug is a failure:\n%s", out)
	assert.Contains(t, out, "FuzzRing2005: panic")
}
