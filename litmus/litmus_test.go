package litmus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// judge parses src and runs it under m, failing the test on any error.
func judge(t require.TestingT, src string, m Model) *Outcome {
	tst, err := Parse(src)
	require.NoError(t, err)
	out, err := Run(tst, m)
	require.NoError(t, err, m.Name())
	return out
}

func parseFile(t *testing.T, name string) *Test {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	tst, err := Parse(string(src))
	require.NoError(t, err, name)
	return tst
}

func TestParseMessagePassing(t *testing.T) {
	tst := parseFile(t, "MP+release+acquire.litmus")
	assert.Equal(t, "C", tst.Arch)
	assert.Equal(t, "MP+release+acquire", tst.Name)
	assert.Equal(t, "Never", tst.Result)
	assert.Empty(t, tst.Init)
	require.Len(t, tst.Procs, 2)
	assert.Equal(t, []Param{{"int*", "payload"}, {"int*", "flag"}}, tst.Procs[0].Params)
	w := tst.Procs[0].Body[0].(*ExprStmt).X.(*Call)
	assert.Equal(t, "WRITE_ONCE", w.Fun)
	assert.Equal(t, &Deref{X: &Ident{Name: "payload", Line: 15}, Line: 15}, w.Args[0])
	require.Len(t, tst.Procs[1].Body, 4)
	a := tst.Procs[1].Body[2].(*Assign)
	assert.Equal(t, "smp_load_acquire", a.RHS.(*Call).Fun)
	assert.Equal(t, Exists, tst.Final.Quant)
	assert.Equal(t, &And{X: &Eq{Loc: Loc{1, "r0"}, Value: 1}, Y: &Eq{Loc: Loc{1, "r1"}, Value: 0}}, tst.Final.Prop)
}

func TestParseEverything(t *testing.T) {
	tst := parseFile(t, "everything.litmus")
	assert.Equal(t, "Sometimes", tst.Result)
	require.Len(t, tst.Init, 6)
	assert.Equal(t, Init{Proc: -1, Type: "int", Name: "x", Value: &Int{Value: 1, Line: 6}, Line: 6}, tst.Init[0])
	assert.Equal(t, "int*", tst.Init[1].Type)
	assert.Equal(t, &AddrOf{X: &Ident{Name: "x", Line: 7}, Line: 7}, tst.Init[1].Value)
	assert.Equal(t, &Int{Value: 2, Line: 8}, tst.Init[2].Value)
	assert.Nil(t, tst.Init[3].Value)
	assert.Equal(t, "y", tst.Init[4].Name)
	assert.Equal(t, 0, tst.Init[5].Proc)
	p0 := tst.Procs[0]
	assert.Equal(t, "int**", p0.Params[1].Type)
	var calls []string
	var walk func([]Stmt)
	walk = func(ss []Stmt) {
		for _, s := range ss {
			switch s := s.(type) {
			case *ExprStmt:
				calls = append(calls, s.X.(*Call).Fun)
			case *Assign:
				if c, ok := s.RHS.(*Call); ok {
					calls = append(calls, c.Fun)
				}
			case *If:
				walk(s.Then)
				walk(s.Else)
			}
		}
	}
	walk(p0.Body)
	assert.Equal(t, []string{"READ_ONCE", "READ_ONCE", "WRITE_ONCE", "cmpxchg_relaxed", "atomic_add_return", "atomic_inc", "smp_mb__after_atomic", "spin_lock", "xchg_acquire", "spin_unlock", "smp_mb"}, calls)
	cond := p0.Body[6].(*If)
	assert.Equal(t, "&&", cond.Cond.(*Binary).Op)
	assert.IsType(t, &Assign{}, cond.Else[0], "a plain store through a pointer")
	assert.Equal(t, []Loc{{-1, "x"}, {0, "r1"}, {-1, "y"}}, tst.Locations)
	assert.Equal(t, &Or{X: &Eq{Loc: Loc{0, "r0"}, Value: 1}, Y: &Not{X: &Eq{Loc: Loc{1, "r0"}}}}, tst.Filter)
	assert.Equal(t, &And{X: &And{X: &Eq{Loc: Loc{-1, "x"}, Value: 2}, Y: &Eq{Loc: Loc{0, "r1"}, Var: "x"}}, Y: &Not{X: &Eq{Loc: Loc{-1, "y"}, Value: -1}}}, tst.Final.Prop)
	assert.Equal(t, "acquire", Ordering("xchg_acquire"))
	assert.Equal(t, "", Ordering("cmpxchg"))
}

// What the reader does not accept is one line naming the construct and
// the line.
func TestParseErrorsNameConstructAndLine(t *testing.T) {
	good := "C T\n{}\nP0(int *x)\n{\n\tWRITE_ONCE(*x, 1);\n}\nexists (x=1)\n"
	for name, tc := range map[string]struct{ src, want string }{
		"header":     {"X86 T\n{}\n", "line 1: architecture \"X86\": only the C dialect is read"},
		"no name":    {"C\n{}\n", "line 1: want a header line"},
		"loop":       {strings.Replace(good, "WRITE_ONCE(*x, 1);", "while (1) {}", 1), "line 5: \"while\" statements are not supported"},
		"unknown":    {strings.Replace(good, "WRITE_ONCE", "WRITE_TWICE", 1), "line 5: unknown primitive WRITE_TWICE()"},
		"arity":      {strings.Replace(good, "*x, 1", "*x", 1), "line 5: WRITE_ONCE() takes 2 argument(s), not 1"},
		"array":      {strings.Replace(good, "*x, 1", "x[1], 1", 1), "line 5: arrays and structures are not supported"},
		"cast":       {strings.Replace(good, "*x, 1", "*x, (int 1", 1), "line 5: want \")\" to close a cast"},
		"no final":   {strings.Replace(good, "exists (x=1)\n", "", 1), "line 7: want the final condition"},
		"comment":    {strings.Replace(good, "{}", "{} /* open", 1), "line 2: comment /* not closed"},
		"thread gap": {strings.Replace(good, "P0", "P1", 1), "line 3: thread P1: want P0"},
		"no threads": {"C T\n{}\nexists (x=1)\n", "line 3: want a thread P0(...) { ... }"},
		"trailing":   {good + "junk", "line 8: unexpected \"junk\" after the final condition"},
		"bad store":  {strings.Replace(good, "WRITE_ONCE(*x, 1)", "1 = 2", 1), "line 5: cannot assign to this expression"},
		"not a call": {strings.Replace(good, "WRITE_ONCE(*x, 1)", "*x", 1), "line 5: an expression statement must be a call"},
		"init array": {strings.Replace(good, "{}", "{ int a[2]; }", 1), "line 2: arrays are not supported"},
		"unclosed":   {strings.Replace(good, "}\nexists", "exists", 1), "line 6: unknown primitive exists()"},
		"bad exists": {strings.Replace(good, "exists (x=1)", "exists (x==1)", 1), "line 7: want \"=\" in a condition"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.src)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
	_, err := Parse(good)
	assert.NoError(t, err)
}

// herd7's spellings the kernel's tests use: a cast before an expression
// (values carry no type, so it changes nothing) and "not" for "~".
func TestParseCastAndNot(t *testing.T) {
	tst, err := Parse("C cast\n{ int *y = &a; }\nP0(int **y, int *a) { int **r2; r2 = (int **)READ_ONCE(*y); WRITE_ONCE(*r2, 1); (void)xchg(y, a); }\nexists (not (a=1))\n")
	require.NoError(t, err)
	r := tst.Procs[0].Body[1].(*Assign).RHS
	assert.Equal(t, "READ_ONCE", r.(*Call).Fun, "the cast is dropped")
	assert.IsType(t, &Not{}, tst.Final.Prop)
	out, err := Run(tst, SC{})
	require.NoError(t, err)
	assert.Equal(t, "Never", out.Observation, "a = 1 through the pointer read back")
}

// The kernel's tests say "Result: DEADLOCK" when no execution completes;
// that agrees with an outcome of no executions, and with nothing else.
func TestDeadlockResult(t *testing.T) {
	src := "C dl\n(*\n * Result: DEADLOCK\n *)\n{}\nP0(spinlock_t *s) { spin_lock(s); spin_lock(s); }\nexists (0:r0=0)\n"
	tst, err := Parse(strings.Replace(src, "exists (0:r0=0)", "exists (s=1)", 1))
	require.NoError(t, err)
	out, err := Run(tst, LKMM{})
	require.NoError(t, err)
	assert.Equal(t, 0, out.Positive+out.Negative, "the second spin_lock never takes the lock")
	agrees, ok := out.Agrees()
	assert.True(t, ok)
	assert.True(t, agrees)
	live, err := Parse(strings.Replace(strings.Replace(src, "spin_lock(s); }", "spin_unlock(s); }", 1), "exists (0:r0=0)", "exists (s=1)", 1))
	require.NoError(t, err)
	out, err = Run(live, LKMM{})
	require.NoError(t, err)
	agrees, ok = out.Agrees()
	assert.True(t, ok)
	assert.False(t, agrees, "an execution completes: no deadlock")
}

// lock.cat's flags, as herd7 prints them for these three tests: an
// ordinary read of a lock and an unlock of a lock not held; the final
// value of a lock observed.
func TestLockFlags(t *testing.T) {
	for src, want := range map[string][]string{
		"C lf\n{}\nP0(spinlock_t *s, int *x) { spin_lock(s); WRITE_ONCE(*x, 1); spin_unlock(s); }\nP1(spinlock_t *s, int *x) { int r0; r0 = READ_ONCE(*s); spin_unlock(s); }\nexists (x=1)\n": {"mixed-lock-accesses", "unmatched-unlock"},
		"C lf2\n{}\nP0(spinlock_t *s, int *x) { spin_lock(s); WRITE_ONCE(*x, 1); spin_unlock(s); }\nexists (s=0)\n":                                                                           {"lock-final"},
		"C ok\n{}\nP0(spinlock_t *s, int *x) { spin_lock(s); WRITE_ONCE(*x, 1); spin_unlock(s); }\nexists (x=1)\n":                                                                            nil,
	} {
		assert.Equal(t, want, judge(t, src, LKMM{}).Flags, src)
	}
}

// A thread whose every path needs a value no write has yet been found to
// make (here a pointer the other thread publishes) still gets its
// executions: the others' writes are found without it first.
func TestThreadWaitingForAValue(t *testing.T) {
	src := "C nullptr\n{ y=5; }\nP0(int **p, int *y) { WRITE_ONCE(*p, y); }\nP1(int **p) { int *r0; int r1; r0 = READ_ONCE(*p); r1 = READ_ONCE(*r0); }\nexists (1:r1=5)\n"
	for _, m := range []Model{SC{}, TSO{}, LKMM{}} {
		out := judge(t, src, m)
		assert.Equal(t, "Always", out.Observation, "herd7: Always 1 0, under %s", m.Name())
		assert.Equal(t, 1, out.Positive)
	}
}

// A spinlock starts unlocked whatever the init block gives it, as herd7
// has it; and an outcome no execution reaches in a test of many lock
// sections is explained without building every order of the lock's writes.
func TestLocksAsHerdHasThem(t *testing.T) {
	out := judge(t, "C held\n{ s=1; }\nP0(spinlock_t *s, int *x) { spin_lock(s); WRITE_ONCE(*x, 1); }\nexists (x=1)\n", LKMM{})
	assert.Equal(t, "Always", out.Observation)
	sections := "P%d(spinlock_t *s, int *x) { spin_lock(s); WRITE_ONCE(*x, %d); spin_unlock(s); spin_lock(s); spin_unlock(s); }\n"
	src := "C locks12\n{}\n" + fmt.Sprintf(sections, 0, 1) + fmt.Sprintf(sections, 1, 2) + fmt.Sprintf(sections, 2, 3) + "exists (x=42)\n"
	out = judge(t, src, LKMM{})
	assert.Equal(t, "Never", out.Observation)
	assert.Equal(t, 90, out.Negative, "herd7: Never 0 90")
	assert.Contains(t, out.Forbidden, "keep each thread's program order", "the 12! orders of the lock's writes are not built to explain it")
}

// FuzzParse: the reader never panics, and refuses with one line.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"MP+release+acquire.litmus", "everything.litmus"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Fuzz(func(t *testing.T, src string) {
		if _, err := Parse(src); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("a two-line error: %q", err)
		}
	})
}

// FuzzRun: a test the reader accepts is judged or refused with one line
// under every model; the engine never panics on it.
func FuzzRun(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.litmus"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Fuzz(func(t *testing.T, src string) {
		tst, err := Parse(src)
		if err != nil {
			return
		}
		for _, m := range []Model{SC{}, TSO{}, LKMM{}} {
			if _, err := Run(tst, m); err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("a two-line error under %s: %q", m.Name(), err)
			}
		}
	})
}
