package fuzz

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ClusterFuzzLite build (.clusterfuzzlite/build.sh) lists the module's
// native fuzz tests one by one; these tests keep that list and the fuzz
// tests of the repository the same.

const buildScript = "../.clusterfuzzlite/build.sh"

// cflTarget is one line `compile_native_go_fuzzer[_v2] PACKAGE FUNCTION NAME`
// of the build script.
type cflTarget struct {
	line          int
	pkg, fn, name string
}

var (
	cflCompile = regexp.MustCompile(`^compile_native_go_fuzzer(?:_v2)?\s+(\S+)\s+(\S+)\s+(\S+)\s*$`)
	cflAssign  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$`)
	cflVarRef  = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	cflName    = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// cflTargets reads the build script's targets, with the script's plain
// variable assignments (module=...) substituted.
func cflTargets(script string) []cflTarget {
	vars := map[string]string{}
	var ts []cflTarget
	for i, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if m := cflAssign.FindStringSubmatch(line); m != nil {
			vars[m[1]] = m[2]
			continue
		}
		m := cflCompile.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		expand := func(s string) string {
			return cflVarRef.ReplaceAllStringFunc(s, func(ref string) string {
				if v, ok := vars[cflVarRef.FindStringSubmatch(ref)[1]]; ok {
					return v
				}
				return ref
			})
		}
		ts = append(ts, cflTarget{line: i + 1, pkg: expand(m[1]), fn: expand(m[2]), name: expand(m[3])})
	}
	return ts
}

// modulePath reads the module path from root's go.mod.
func modulePath(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			path, err := strconv.Unquote(strings.TrimSpace(rest))
			if err != nil {
				path = strings.TrimSpace(rest)
			}
			return path
		}
	}
	require.FailNow(t, "go.mod names no module")
	return ""
}

// fuzzTests returns the native fuzz tests of the package in dir: the
// functions FuzzX(f *testing.F) of its _test.go files. The files are parsed,
// so text that only looks like one (in a string or a comment) is no test.
func fuzzTests(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	require.NoError(t, err)
	var names []string
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		testingName := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"testing"` {
				testingName = "testing"
				if imp.Name != nil {
					testingName = imp.Name.Name
				}
			}
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !isFuzzName(fd.Name.Name) || testingName == "" {
				continue
			}
			if ps := fd.Type.Params.List; len(ps) == 1 && len(ps[0].Names) <= 1 && isTestingF(ps[0].Type, testingName) {
				names = append(names, fd.Name.Name)
			}
		}
	}
	return names
}

// isFuzzName reports whether go test takes name for a fuzz test: Fuzz, then
// nothing or a character that is not a lower-case letter.
func isFuzzName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Fuzz")
	return ok && (rest == "" || !('a' <= rest[0] && rest[0] <= 'z'))
}

func isTestingF(e ast.Expr, testing string) bool {
	star, ok := e.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "F" {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == testing
}

// repoFuzzTests walks the module from root and returns its fuzz tests as
// "DIR FuzzX", DIR relative to root. It skips what go test does (testdata,
// names starting with . or _), deploy/, and directories of other modules.
func repoFuzzTests(t *testing.T, root string) []string {
	t.Helper()
	var all []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel != "." {
			name := d.Name()
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || rel == "deploy" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		for _, fn := range fuzzTests(t, path) {
			all = append(all, filepath.ToSlash(rel)+" "+fn)
		}
		return nil
	})
	require.NoError(t, err)
	return all
}

// cflProblems compares the build script's targets with the repository's
// fuzz tests and returns what does not agree.
func cflProblems(t *testing.T, root, script string) []string {
	t.Helper()
	module := modulePath(t, root)
	var problems []string
	listed := map[string]int{}
	names := map[string]int{}
	targets := cflTargets(script)
	if len(targets) == 0 {
		problems = append(problems, "the build script lists no target")
	}
	for _, tg := range targets {
		rel, ok := "", false
		switch {
		case tg.pkg == module:
			rel, ok = ".", true
		case strings.HasPrefix(tg.pkg, module+"/"):
			rel, ok = strings.TrimPrefix(tg.pkg, module+"/"), true
		case tg.pkg == "." || strings.HasPrefix(tg.pkg, "./"):
			rel, ok = filepath.ToSlash(filepath.Clean(tg.pkg)), true
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("line %d: package %s is not in module %s", tg.line, tg.pkg, module))
			continue
		}
		if st, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil || !st.IsDir() {
			problems = append(problems, fmt.Sprintf("line %d: package %s has no directory %s", tg.line, tg.pkg, rel))
			continue
		}
		if !slices.Contains(fuzzTests(t, filepath.Join(root, filepath.FromSlash(rel))), tg.fn) {
			problems = append(problems, fmt.Sprintf("line %d: no func %s(f *testing.F) in the _test.go files of %s", tg.line, tg.fn, rel))
		}
		if !cflName.MatchString(tg.name) {
			problems = append(problems, fmt.Sprintf("line %d: fuzzer name %q is not letters, digits and _", tg.line, tg.name))
		}
		if prev, dup := names[tg.name]; dup {
			problems = append(problems, fmt.Sprintf("line %d: fuzzer name %s is taken by line %d", tg.line, tg.name, prev))
		}
		names[tg.name] = tg.line
		key := rel + " " + tg.fn
		if prev, dup := listed[key]; dup {
			problems = append(problems, fmt.Sprintf("line %d: %s is built by line %d already", tg.line, key, prev))
		}
		listed[key] = tg.line
	}
	for _, ft := range repoFuzzTests(t, root) {
		if _, ok := listed[ft]; !ok {
			problems = append(problems, fmt.Sprintf("fuzz test %s is not in the build script", ft))
		}
	}
	return problems
}

func readBuildScript(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(buildScript)
	require.NoError(t, err)
	return string(data)
}

func TestClusterFuzzLiteBuildsEveryFuzzTest(t *testing.T) {
	script := readBuildScript(t)
	assert.Empty(t, cflProblems(t, "..", script))
	// The known ones, so that a walk that found nothing would not pass.
	all := repoFuzzTests(t, "..")
	assert.Contains(t, all, "fuzz FuzzRing2005")
	assert.Contains(t, all, "fuzz FuzzRing2005Locked")
	assert.Contains(t, all, "litmus FuzzParse")
	assert.NotContains(t, all, "check FuzzCounter", "the user's module that check's test writes is text, not a test")
}

// TestClusterFuzzLiteCheckCatchesMistakes feeds the check scripts that are
// wrong in one way each.
func TestClusterFuzzLiteCheckCatchesMistakes(t *testing.T) {
	script := readBuildScript(t)
	line := "compile_native_go_fuzzer_v2 $module/fuzz FuzzRing2005 ring2005\n"
	require.Contains(t, script, line)
	for _, c := range []struct {
		what, script, want string
	}{
		{"a fuzz test left out", strings.Replace(script, line, "", 1), "fuzz test fuzz FuzzRing2005 is not in the build script"},
		{"a function that is not there", strings.Replace(script, line, strings.Replace(line, "FuzzRing2005 ", "FuzzRing2006 ", 1), 1), "no func FuzzRing2006(f *testing.F)"},
		{"a package that is not there", strings.Replace(script, line, strings.Replace(line, "/fuzz ", "/fuzzz ", 1), 1), "has no directory fuzzz"},
		{"a name used twice", strings.Replace(script, line, strings.Replace(line, " ring2005\n", " alf_mpmc\n", 1), 1), "fuzzer name alf_mpmc is taken"},
		{"a target built twice", script + line, "fuzz FuzzRing2005 is built by line"},
	} {
		t.Run(c.what, func(t *testing.T) {
			problems := cflProblems(t, "..", c.script)
			require.NotEmpty(t, problems)
			assert.Contains(t, strings.Join(problems, "\n"), c.want)
		})
	}
}
