// Package lessons holds the lessons' pages and the test that keeps each
// command's output on them true: a change that alters an output fails
// until the page is regenerated with go test ./lessons -update.
package lessons

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/internal/shell"
)

var update = flag.Bool("update", false, "write each command's output into its page")

// masked hides what changes from one run to the next: durations and
// rates, on the page and in the output alike.
var masked = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b|\d+(\.\d+)?[kM]? (steps|points|schedules)/s|"elapsed_ms":\d+`)

func mask(s string) string { return masked.ReplaceAllString(s, "T") }

// transcript is one command of a page with the output the page shows.
type transcript struct {
	line    int // of the command, from 1
	command string
	output  []string
	at      [2]int // the output's lines in the page: [from, to)
}

// files are the files a page gives its reader to save before its
// commands: each block whose info string is "LANG file=NAME".
func files(page []string) map[string]string {
	fs := map[string]string{}
	name, body := "", []string(nil)
	for _, l := range page {
		switch {
		case name == "" && strings.HasPrefix(l, "```") && strings.Contains(l, " file="):
			_, name, _ = strings.Cut(l, " file=")
			body = nil
		case name != "" && strings.HasPrefix(l, "```"):
			fs[name] = strings.Join(body, "\n") + "\n"
			name = ""
		case name != "":
			body = append(body, l)
		}
	}
	return fs
}

// transcripts are the page's commands: in each ```console block, a line
// "$ command" and the lines up to the next command or the block's end.
func transcripts(page []string) []transcript {
	var ts []transcript
	in := false
	for i, l := range page {
		switch {
		case strings.HasPrefix(l, "```console"):
			in = true
		case in && strings.HasPrefix(l, "```"):
			in = false
			if n := len(ts); n > 0 && ts[n-1].at[1] == 0 {
				ts[n-1].at[1] = i
			}
		case in && strings.HasPrefix(l, "$ "):
			if n := len(ts); n > 0 && ts[n-1].at[1] == 0 {
				ts[n-1].at[1] = i
			}
			ts = append(ts, transcript{line: i + 1, command: strings.TrimPrefix(l, "$ "), at: [2]int{i + 1, 0}})
		case in && len(ts) > 0 && ts[len(ts)-1].at[1] == 0:
			ts[len(ts)-1].output = append(ts[len(ts)-1].output, l)
		}
	}
	return ts
}

// TestLessonTranscriptsAreTrue runs every page's commands in order, in a
// folder of the page's own holding the files the page gives (see files)
// with simrun on the PATH, and checks that each
// prints what the page shows (stdout and stderr as a terminal shows them,
// timings aside) and exits 0, or 1 where it shows a failure.
func TestLessonTranscriptsAreTrue(t *testing.T) {
	if testing.Short() {
		t.Skip("builds simrun and runs every lesson's commands: .ci/run runs it without -short")
	}
	pages, err := filepath.Glob("[0-9][0-9]-*.md")
	require.NoError(t, err)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "simrun"), "../cmd/simrun")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, name := range pages {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(name)
			require.NoError(t, err)
			page := strings.Split(string(data), "\n")
			ts := transcripts(page)
			require.NotEmpty(t, ts, "a lesson shows at least one command")
			dir := t.TempDir()
			for name, body := range files(page) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
			}
			// Outputs replace the page's from its end, so that the line
			// numbers of the ones before stay right.
			got := make([][]string, len(ts))
			for i, tr := range ts {
				got[i] = run(t, name, tr, dir, env)
			}
			if *update {
				for i := len(ts) - 1; i >= 0; i-- {
					page = append(page[:ts[i].at[0]], append(got[i], page[ts[i].at[1]:]...)...)
				}
				require.NoError(t, os.WriteFile(name, []byte(strings.Join(page, "\n")), 0o644))
				return
			}
			for i, tr := range ts {
				assert.Equal(t, mask(strings.Join(tr.output, "\n")), mask(strings.Join(got[i], "\n")),
					"%s:%d: %s prints other than the page shows (go test ./lessons -update rewrites it)", name, tr.line, tr.command)
			}
		})
	}
}

// run runs one command and returns its output's lines, the blank lines at
// its end dropped.
func run(t *testing.T, page string, tr transcript, dir string, env []string) []string {
	t.Helper()
	require.True(t, strings.HasPrefix(tr.command, "simrun "), "%s:%d: a lesson's commands are simrun's", page, tr.line)
	var b bytes.Buffer
	code, err := shell.Run(tr.command, dir, env, &b, &b)
	require.NoError(t, err)
	assert.Contains(t, []int{0, 1}, code, "%s:%d: %s exits %d:\n%s", page, tr.line, tr.command, code, b.String())
	var lines []string
	sc := bufio.NewScanner(&b)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Every lesson is listed, in order, on the index page, and says its
// question, its fix and a question for the reader.
func TestEveryLessonIsListedAndComplete(t *testing.T) {
	index, err := os.ReadFile("README.md")
	require.NoError(t, err)
	pages, err := filepath.Glob("[0-9][0-9]-*.md")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(pages), 10, "the lessons")
	last := -1
	for _, name := range pages {
		at := bytes.Index(index, []byte("("+name+")"))
		assert.Greater(t, at, last, "%s is listed on README.md after the lesson before it", name)
		last = at
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, part := range []string{"**The question.**", "**Reading it.**", "**The fix.**", "**For you.**"} {
			assert.Contains(t, string(data), part, name)
		}
	}
}
