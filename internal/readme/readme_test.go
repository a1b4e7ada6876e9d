package readme

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// command is a command of the README with the first line of the output
// the README shows for it, if it shows one.
type command struct {
	line  int
	text  string
	first string
	// elided is set when the README shows "..." for lines before first.
	elided bool
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
						first, elided := "", false
						for _, o := range block[i+1:] {
							if o == "..." {
								elided = true
							} else if o != "" {
								first = o
								break
							}
						}
						cmds = append(cmds, command{line: start + 1 + i, text: c, first: first, elided: elided})
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
			continue
		}
		t.Run(c.text, func(t *testing.T) {
			cmd := exec.Command("bash", "-c", c.text)
			cmd.Dir, cmd.Env = dir, env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Contains(t, []int{0, 1}, code, "README.md:%d: %s: exit %d\nstdout:\n%s\nstderr:\n%s", c.line, c.text, code, stdout.String(), stderr.String())
			want := masked.ReplaceAllString(c.first, "T")
			switch {
			case c.first == "":
			case c.elided:
				assert.Contains(t, strings.Split(masked.ReplaceAllString(stdout.String(), "T"), "\n"), want, "README.md:%d: a line %s prints", c.line, c.text)
			default:
				got, _, _ := strings.Cut(stdout.String(), "\n")
				assert.Equal(t, want, masked.ReplaceAllString(got, "T"), "README.md:%d: the first line %s prints", c.line, c.text)
			}
		})
	}
	for c := range elsewhere {
		assert.True(t, seen[c], "%q is no longer in the README", c)
	}
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
