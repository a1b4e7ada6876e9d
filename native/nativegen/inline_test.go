package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inlineSrc has a method and a function helper with early returns, a
// helper that changes its parameter, and calls of every kind: inlined (a
// statement in a block, a loop, a case clause; through the receiver) and
// not (through another value, in an expression, of a helper not listed).
const inlineSrc = `package main

import "fmt"

type acc struct {
	sum int
	log []string
}

// add adds n and the sum of xs, unless n is negative.
func (a *acc) add(n int, xs []int) {
	if n < 0 {
		note(a, "negative")
		return
	}
	for _, x := range xs {
		n += x // the parameter only
	}
	a.sum += n
}

func note(a *acc, s string) {
	if s == "" {
		return
	}
	a.log = append(a.log, s)
}

func (a *acc) keep(_ int) {
	a.log = append(a.log, "kept")
}

func (a *acc) run(other *acc) {
	n, xs := 1, []int{1, 2}
	a.add(n, xs)
	a.add(-1, xs)
	for i := range 2 {
		a.add(i, nil)
	}
	switch {
	case n == 1:
		a.add(n+1, xs[:1])
		note(a, "")
		// The last statement of a clause: a label cannot end it.
		note(a, "switch")
	default:
		a.add(100, nil)
	}
	other.add(5, nil)
	a.keep(0)
	fmt.Println(n, xs, a.sum, a.log, other.sum)
}

func main() { new(acc).run(new(acc)) }
`

func TestInlineCallsExpandsTheCalls(t *testing.T) {
	got, counts, err := inlineCalls("p/main.go", []byte(inlineSrc), []string{"acc.add", "note", "acc.keep"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"acc.add": 5, "note": 2, "acc.keep": 1}, counts)
	text := string(got)
	for _, want := range []string{
		"\t{ // a.add(n, xs), inlined by nativegen\n//line p/main.go:35\n\t\ta, n, xs := (*acc)(a), int(n), []int(xs)\n\t\t{\n//line p/main.go:12\n\t\t\tif n < 0 {",
		"\t\t\t\tgoto addDone\n\t\t\t}\n",
		"\t\t}\n\taddDone:\n\t}\n//line p/main.go:36\n",                 // the line after a block is at its source line again
		"goto addDone2\n",                                               // a second call in the same function has a label of its own
		"\t\ta, _ := (*acc)(a), int(0)\n//line p/main.go:30\n\t\ta.log", // an unused parameter is still evaluated; no return, no label
		"\tother.add(5, nil)\n",                                         // not the caller's receiver
		"\t\t\tnote(a, \"negative\")\n",                                 // helpers are not inlined into helpers
		"func (a *acc) add(n int, xs []int) {\n\tif n < 0 {",            // the declaration stays
	} {
		assert.Contains(t, text, want)
	}

	if testing.Short() {
		return
	}
	goc, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	run := func(src string) string {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module p\n\ngo 1.26\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
		cmd := exec.Command(goc, "run", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	want := run(inlineSrc)
	assert.Equal(t, "1 [1 2] 8 [negative switch kept] 5\n", want)
	assert.Equal(t, want, run(text), "the inlined program behaves as the source")
}

func TestInlineCallsRefuses(t *testing.T) {
	for _, c := range []struct{ name, helper, caller, want string }{
		{"results", "func (a *acc) h() int {\n\treturn 1\n}", "a.h()", "it has results"},
		{"defer", "func (a *acc) h() {\n\tdefer println()\n}", "a.h()", "it defers"},
		{"label", "func (a *acc) h() {\nl:\n\tgoto l\n}", "a.h()", "it has a label"},
		{"variadic", "func (a *acc) h(xs ...int) {\n\t_ = xs\n}", "a.h()", "variadic"},
		{"one line", "func (a *acc) h() { println() }", "a.h()", "on one line"},
		{"shadowed", "func (a *acc) h() {\n\tprintln(limit)\n}", "limit := 2\n\t_ = limit\n\ta.h()", "limit, which it uses from outside itself, is declared in the caller"},
		{"shared line", "func (a *acc) h() {\n\tprintln()\n}", "a.h(); a.h()", "not alone on its line"},
		{"function", "func h(xs ...int) {\n\tprintln(xs)\n}", "h(1)", "cannot inline h: it is variadic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "acc.h"
			if strings.HasPrefix(c.helper, "func h") {
				key = "h"
			}
			src := "package p\n\nvar limit = 1\n\ntype acc struct{}\n\n" + c.helper + "\n\nfunc (a *acc) caller() {\n\t" + c.caller + "\n}\n"
			_, _, err := inlineCalls("p/p.go", []byte(src), []string{key})
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestGenerateWantsEveryHelperInlined(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "s"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "s", "s.go"), []byte("package s\n\nfunc h() {\n\tprintln()\n}\n"), 0o644))
	_, err := project.generate(root, subject{src: "s", dst: "snative", inline: []string{"h"}})
	assert.ErrorContains(t, err, "h is to be inlined, but no call statement to it was found")
}
