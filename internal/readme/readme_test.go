package readme

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/internal/shell"
)

// command is a command of the README with the output the README shows
// for it: its lines up to the next command or the block's end, where a
// line "..." stands for lines left out.
type command struct {
	line  int
	text  string
	shown []string
}

// commands are the README's commands: every line of a fenced block that
// starts with "$ ", and every block that is one go or simrun command.
func commands(t *testing.T, readme []byte) []command {
	var cmds []command
	var block []string
	in, start := false, 0
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(l, "```") {
			if in {
				if len(block) == 1 && (strings.HasPrefix(block[0], "go ") || strings.HasPrefix(block[0], "simrun ")) {
					cmds = append(cmds, command{line: start + 1, text: block[0]})
				}
				for i, b := range block {
					if c, ok := strings.CutPrefix(b, "$ "); ok {
						var shown []string
						for _, o := range block[i+1:] {
							if strings.HasPrefix(o, "$ ") {
								break
							}
							shown = append(shown, o)
						}
						cmds = append(cmds, command{line: start + 1 + i, text: c, shown: trimBlank(shown)})
					}
				}
			}
			in, start, block = !in, n, nil
			continue
		}
		if in {
			block = append(block, l)
		}
	}
	require.NoError(t, sc.Err())
	return cmds
}

// elsewhere are the README's commands run elsewhere, and where.
var elsewhere = map[string]string{
	"go test ./...":            "this test's own suite: .ci/run runs it",
	"go test -run TestCounter": "a module of the reader's own: a test in package check builds it",
	"cat testdata/lfsim/Counter/lost-update-8674505f.sched": "the same module's saved schedule",
}

// masked hides what changes from one run to the next: durations, rates.
var masked = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b|\d+(\.\d+)?[kM]? steps/s`)

// TestREADMECommandsRunAsWritten copies the repository's tracked files
// and runs each command of the README there in order (its go install
// included, which the simrun commands after it need): each must run (exit 0,
// or 1 where it demonstrates a failure) and print first what the README
// shows, timings aside.
func TestREADMECommandsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs the README's commands")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	dir := t.TempDir()
	copyTracked(t, root, dir)
	// go install puts simrun where PATH looks first, as in a reader's
	// shell with $(go env GOPATH)/bin on it.
	bin := filepath.Join(dir, ".bin")
	env := append(os.Environ(), "GOBIN="+bin, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	cmds := commands(t, readme)
	require.GreaterOrEqual(t, len(cmds), 8, "the README's commands")
	seen := map[string]bool{}
	for _, c := range cmds {
		if why, ok := elsewhere[c.text]; ok {
			t.Logf("README.md:%d: %s: run elsewhere (%s)", c.line, c.text, why)
			seen[c.text] = true
			if c.text == "go test ./..." && len(c.shown) > 0 {
				testsEveryPackage(t, dir, c)
			}
			continue
		}
		t.Run(c.text, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, err := shell.Run(c.text, dir, env, &stdout, &stderr)
			require.NoError(t, err)
			assert.Contains(t, []int{0, 1}, code, "README.md:%d: %s: exit %d\nstdout:\n%s\nstderr:\n%s", c.line, c.text, code, stdout.String(), stderr.String())
			if len(c.shown) > 0 {
				got := trimBlank(strings.Split(masked.ReplaceAllString(stdout.String(), "T"), "\n"))
				if at, ok := shows(got, c.shown); !ok {
					t.Errorf("README.md:%d: %s prints other than the README shows, from its line %q:\n%s", c.line, c.text, c.shown[at], stdout.String())
				}
			}
		})
	}
	for c := range elsewhere {
		assert.True(t, seen[c], "%q is no longer in the README", c)
	}
}

// testsEveryPackage checks that the README's go test ./... lists every
// package of the module, in go list's order, as "ok" or, for a package
// without tests, "?".
func testsEveryPackage(t *testing.T, dir string, c command) {
	t.Helper()
	list := exec.Command("go", "list", "-f", "{{if or .TestGoFiles .XTestGoFiles}}ok{{else}}?{{end}} {{.ImportPath}}", "./...")
	list.Dir = dir
	out, err := list.Output()
	require.NoError(t, err)
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got []string
	for _, l := range c.shown {
		if f := strings.Fields(l); len(f) >= 2 {
			got = append(got, f[0]+" "+f[1])
		}
	}
	assert.Equal(t, want, got, "README.md:%d: go test ./... lists every package", c.line)
}

// shows reports whether out is what the README shows: the same lines,
// timings aside, where a line "..." stands for any lines (none included).
// When it is not, it returns the index of the first shown line that does
// not match.
func shows(out, shown []string) (int, bool) {
	var chunks [][]string
	var at []int // the index in shown of each chunk's first line
	cur, curAt := []string(nil), 0
	for i, l := range shown {
		if l == "..." {
			chunks, at = append(chunks, cur), append(at, curAt)
			cur, curAt = nil, i+1
			continue
		}
		cur = append(cur, masked.ReplaceAllString(l, "T"))
	}
	chunks, at = append(chunks, cur), append(at, curAt)
	pos := 0
	for k, chunk := range chunks {
		first, last := k == 0, k == len(chunks)-1
		found := -1
		switch {
		case last:
			// No "..." after it: the output ends with it.
			if p := len(out) - len(chunk); p >= pos && slices.Equal(out[p:], chunk) {
				found = p
			}
			if first && found != 0 {
				found = -1 // nor before it: it is the whole output
			}
		case first:
			if len(chunk) <= len(out) && slices.Equal(out[:len(chunk)], chunk) {
				found = 0
			}
		default:
			for p := pos; p+len(chunk) <= len(out); p++ {
				if slices.Equal(out[p:p+len(chunk)], chunk) {
					found = p
					break
				}
			}
		}
		if found < 0 {
			return min(at[k], len(shown)-1), false
		}
		pos = found + len(chunk)
	}
	return 0, true
}

// trimBlank drops the blank lines at the end.
func trimBlank(lines []string) []string {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// copyTracked copies the files git tracks under root into dir: a clean
// copy, without what earlier runs left in the working tree.
func copyTracked(t *testing.T, root, dir string) {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z")
	ls.Dir = root
	out, err := ls.Output()
	if err != nil {
		t.Skipf("git ls-files: %v: not a git checkout", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		data, err := os.ReadFile(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree, not yet in a commit
		}
		require.NoError(t, err)
		fi, err := os.Stat(src)
		require.NoError(t, err)
		dst := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, data, fi.Mode().Perm()))
	}
}
