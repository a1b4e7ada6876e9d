package trace_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
	"github.com/kernelsim/lfsim/trace"
)

// crash is the 2005 ring's checked-in crash, replayed with its trace.
func crash(t *testing.T) (sim.Result, trace.Page) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "ring2005-seed1.sched"))
	require.NoError(t, err)
	f, err := schedule.Decode(data)
	require.NoError(t, err)
	s, err := scenario.Lookup(f.Scenario)
	require.NoError(t, err)
	rep, err := explore.Replay(s, f, true)
	require.NoError(t, err)
	require.True(t, rep.Reproduced)
	return rep.Result, trace.Page{Title: f.Scenario, CPUs: rep.CPUs, Failure: explore.Describe(rep.Failure)}
}

// long is a clean run of the locked ring of over 10,000 steps.
func long(t *testing.T) (sim.Result, trace.Page) {
	t.Helper()
	s, err := scenario.Lookup("ring2005-locked")
	require.NoError(t, err)
	v, err := s.Values([]string{"packets=512"})
	require.NoError(t, err)
	r := explore.Run(s, v, scenario.Options{Trace: true}, sim.NewRandom(1))
	require.Nil(t, r.Failure)
	require.Greater(t, r.Steps, 10_000)
	return r, trace.Page{Title: "ring2005-locked packets=512", CPUs: r.CPUs}
}

func page(t *testing.T, r sim.Result, p trace.Page) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, trace.HTML(&b, r.Trace, p))
	return b.String()
}

func TestTheTimelineHasALanePerCPUAndMarksTheFailure(t *testing.T) {
	r, p := crash(t)
	html := page(t, r, p)
	assert.Equal(t, r.CPUs, strings.Count(html, `<g class="lane"`))
	assert.Contains(t, html, `id="failure" class="failure" data-step="320"`)
	assert.Contains(t, html, "FAIL at step 320: panic: Tail pointer must be null")
	assert.Contains(t, html, "alloc_skb() -&gt; #1", "operations carry their results")
	assert.Contains(t, html, "#17 CPU1 softirq NET_RX over reader/1\nload skbuff_data_pool[0] -&gt; NULL\nring2005/ring.go:56", "an event says its step, value and source on hover")
	assert.Regexp(t, `<g class="ctx hardirq"><title>hardirq nic over reader/1`, html, "interrupts stack over the task they interrupt")
	// Self-contained: nothing is fetched.
	assert.NotRegexp(t, `(src|href)=`, html)
	assert.NotContains(t, html, "http")
}

func TestTheTimelineIsTheSameForTheSameRun(t *testing.T) {
	r, p := crash(t)
	again, _ := crash(t)
	assert.Equal(t, page(t, r, p), page(t, again, p))
}

// Perfetto and chrome://tracing need the complete events of one track to
// nest: each inside the one before it, or after its end.
func TestThePerfettoFileNestsItsSpansPerTrack(t *testing.T) {
	for _, run := range []func(*testing.T) (sim.Result, trace.Page){crash, long} {
		r, p := run(t)
		var b bytes.Buffer
		require.NoError(t, trace.Perfetto(&b, r.Trace, p))
		var doc struct {
			TraceEvents []struct {
				Name string  `json:"name"`
				Cat  string  `json:"cat"`
				Ph   string  `json:"ph"`
				Ts   float64 `json:"ts"`
				Dur  float64 `json:"dur"`
				Tid  int     `json:"tid"`
			} `json:"traceEvents"`
		}
		require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
		type iv struct{ from, to float64 }
		tracks := map[int][]iv{}
		kinds := map[string]int{}
		for _, e := range doc.TraceEvents {
			kinds[e.Ph+" "+e.Cat]++
			if e.Ph == "X" {
				tracks[e.Tid] = append(tracks[e.Tid], iv{e.Ts, e.Ts + e.Dur})
			}
		}
		assert.Positive(t, kinds["X task"])
		assert.Positive(t, kinds["b call"])
		assert.Equal(t, kinds["b call"], kinds["e call"], "every operation's span ends")
		assert.Positive(t, kinds["i op"])
		assert.Equal(t, r.CPUs, kinds["M "]-1, "a name for the process and each CPU")
		for tid, ivs := range tracks {
			sort.SliceStable(ivs, func(i, j int) bool {
				return ivs[i].from < ivs[j].from || ivs[i].from == ivs[j].from && ivs[i].to > ivs[j].to
			})
			var open []iv
			for _, v := range ivs {
				for len(open) > 0 && open[len(open)-1].to <= v.from {
					open = open[:len(open)-1]
				}
				if len(open) > 0 {
					require.LessOrEqual(t, v.to, open[len(open)-1].to, "CPU%d: [%v,%v) overlaps [%v,%v) without nesting", tid, v.from, v.to, open[len(open)-1].from, open[len(open)-1].to)
				}
				open = append(open, v)
			}
		}
	}
}

// chromium finds the browser the browser test drives: LFSIM_CHROMIUM, or
// the distribution's package on the PATH. .ci/run installs it and sets
// LFSIM_BROWSER_TEST=required, so that CI cannot pass without it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LFSIM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LFSIM_BROWSER_TEST") == "required" {
		t.Fatal("no Chromium on this machine, and LFSIM_BROWSER_TEST=required")
	}
	t.Skip("no Chromium here (set LFSIM_CHROMIUM, or install the chromium package)")
	return ""
}

// browse loads file in headless Chromium and returns the DOM once its
// scripts ran, and every console line (any message at all is a fault:
// the page logs nothing when it works).
func browse(t *testing.T, bin, file string, extra ...string) (dom string, console []string) {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0", "--window-size=1400,700"}, extra...)
	cmd := exec.Command(bin, append(args, "file://"+file)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") {
			console = append(console, l)
		}
	}
	return stdout.String(), console
}

// The timeline renders in a real browser: its lanes and its failure
// marker are drawn, no script error or message reaches the console, a
// page of over 10,000 steps scrolls, and screenshots of both are kept
// (in LFSIM_ARTIFACTS when set).
func TestTheTimelineRendersInABrowser(t *testing.T) {
	bin := chromium(t)
	dir := os.Getenv("LFSIM_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	dir, err := filepath.Abs(dir)
	require.NoError(t, err)
	for name, run := range map[string]func(*testing.T) (sim.Result, trace.Page){"crash": crash, "long": long} {
		t.Run(name, func(t *testing.T) {
			r, p := run(t)
			file := filepath.Join(dir, "timeline-"+name+".html")
			require.NoError(t, os.WriteFile(file, []byte(page(t, r, p)), 0o644))
			dom, console := browse(t, bin, file, "--dump-dom")
			assert.Empty(t, console, "the console says nothing")
			assert.Regexp(t, regexp.MustCompile(`<body[^>]* data-lanes="`+regexp.QuoteMeta(string(rune('0'+r.CPUs)))+`"`), dom, "the script ran and found every lane")
			assert.Contains(t, dom, `data-scrolls="true"`, "wider than the window, the timeline scrolls")
			if r.Failure != nil {
				assert.Contains(t, dom, `id="failure"`)
				assert.Contains(t, dom, fmt.Sprintf(`data-shows-step="%d"`, r.Failure.Step), "the page opens on the failure")
			}
			shot := filepath.Join(dir, "timeline-"+name+".png")
			_, console = browse(t, bin, file, "--screenshot="+shot)
			assert.Empty(t, console)
			info, err := os.Stat(shot)
			require.NoError(t, err)
			assert.Greater(t, info.Size(), int64(10_000), "a screenshot with something drawn in it")
			t.Logf("screenshot: %s", shot)
		})
	}
}
