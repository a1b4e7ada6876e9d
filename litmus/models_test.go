package litmus

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The project's corpus (testdata/corpus) holds classic shapes, and
// testdata/subjects the hand-offs of the ported subjects, each with its
// verdict under every model in a "Models:" line and the LKMM's flags in a
// "Flags:" line (none when absent). The corpus's verdicts are the
// published ones each file cites; every LKMM verdict and flag, the
// subjects' included, is herd7's on the same file, as each file's
// "Checked:" line says. "-" means the model refuses the test (RCU under
// SC and TSO). The LKMM's verdict is also the Result line, which simrun
// compares.
func TestCorpusUnderEachModel(t *testing.T) {
	var files []string
	for dir, least := range map[string]int{"corpus": 63, "subjects": 10} {
		found, err := filepath.Glob(filepath.Join("testdata", dir, "*.litmus"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(found), least, dir)
		files = append(files, found...)
	}
	slices.Sort(files)
	models := regexp.MustCompile(`Models: sc=([\w-]+) tso=([\w-]+) lkmm=([\w-]+)`)
	flags := regexp.MustCompile(`Flags: ([\w -]+)`)
	checked := regexp.MustCompile(`Checked: herd7 [^\n]* gives (\w+) (\d+) (\d+)`)
	for _, file := range files {
		rel, err := filepath.Rel("testdata", file)
		require.NoError(t, err)
		t.Run(rel, func(t *testing.T) {
			tst := parseFile(t, rel)
			want := models.FindStringSubmatch(tst.Doc)
			require.NotNil(t, want, "no Models: line")
			assert.Contains(t, tst.Doc, "Checked: herd7", "the LKMM verdict is checked against herd7")
			var wantFlags []string
			if f := flags.FindStringSubmatch(tst.Doc); f != nil {
				wantFlags = strings.Fields(f[1])
			}
			assert.Equal(t, tst.Result, want[3], "the Result line is the LKMM's verdict")
			for i, m := range []Model{SC{}, TSO{}, LKMM{}} {
				out, err := Run(tst, m)
				if want[i+1] == "-" { // the model does not judge this test
					var u *Unsupported
					require.ErrorAs(t, err, &u, m.Name())
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, want[i+1], out.Observation, "under %s: states %v", m.Name(), out.States)
				if m.Name() == "lkmm" {
					herd := checked.FindStringSubmatch(tst.Doc)
					require.NotNil(t, herd, "no herd7 observation in the Checked: line")
					assert.Equal(t, herd[1:], []string{out.Observation, fmt.Sprint(out.Positive), fmt.Sprint(out.Negative)},
						"herd7's observation and counts")
					assert.Equal(t, wantFlags, out.Flags, "the LKMM's flags")
				} else {
					assert.Empty(t, out.Flags, "only the LKMM flags races")
				}
			}
		})
	}
}

// genTest writes a random small test: two or three threads of a few
// operations on two variables, drawn from what the kernel's x86 mapping
// distinguishes: once, acquire and release accesses, the three barriers,
// value-returning and void atomics in every ordering (a cmpxchg may fail),
// atomic_add_unless, smp_mb__after_atomic, critical sections of one lock,
// spin_trylock that may fail, and data and
// control dependencies on an earlier read. Every register and variable is
// observed.
func genTest(t *rapid.T) string { return genTestOf(t, 3, 3) }

// genTestOf is genTest with at most maxThreads threads (two at least) of
// at most maxOps operations.
func genTestOf(t *rapid.T, maxThreads, maxOps int) string {
	var b strings.Builder
	b.WriteString("C random\n{}\n")
	threads := rapid.IntRange(2, maxThreads).Draw(t, "threads")
	var locs []string
	orders := []string{"", "_relaxed", "_acquire", "_release"}
	for p := range threads {
		fmt.Fprintf(&b, "P%d(int *x, int *y, spinlock_t *l)\n{\n", p)
		ops := rapid.IntRange(1, maxOps).Draw(t, "ops")
		var body, read []string // read: registers already loaded
		reg := 0
		newReg := func() string {
			r := fmt.Sprintf("r%d", reg)
			reg++
			locs = append(locs, fmt.Sprintf("%d:%s", p, r))
			return r
		}
		value := func() string { // a constant, or data dependent on an earlier read
			if len(read) > 0 && rapid.Bool().Draw(t, "data") {
				return rapid.SampledFrom(read).Draw(t, "dep") + " + 1"
			}
			return fmt.Sprint(rapid.IntRange(1, 2).Draw(t, "val"))
		}
		var op func(depth int) string
		op = func(depth int) string {
			v := rapid.SampledFrom([]string{"x", "y"}).Draw(t, "var")
			switch rapid.IntRange(0, 14).Draw(t, "op") {
			case 0, 1:
				return fmt.Sprintf("WRITE_ONCE(*%s, %s);", v, value())
			case 2:
				return fmt.Sprintf("smp_store_release(%s, %s);", v, value())
			case 3, 4:
				r := newReg()
				read = append(read, r)
				return fmt.Sprintf("%s = READ_ONCE(*%s);", r, v)
			case 5:
				r := newReg()
				read = append(read, r)
				return fmt.Sprintf("%s = smp_load_acquire(%s);", r, v)
			case 6:
				return rapid.SampledFrom([]string{"smp_mb();", "smp_wmb();", "smp_rmb();"}).Draw(t, "fence")
			case 7:
				r := newReg()
				return fmt.Sprintf("%s = xchg%s(%s, %s);", r, rapid.SampledFrom(orders).Draw(t, "order"), v, value())
			case 8:
				r := newReg()
				return fmt.Sprintf("%s = cmpxchg%s(%s, %d, %s);", r, rapid.SampledFrom(orders).Draw(t, "order"),
					v, rapid.IntRange(0, 2).Draw(t, "old"), value())
			case 9:
				r := newReg()
				return fmt.Sprintf("%s = atomic_add_return%s(1, %s);", r, rapid.SampledFrom(orders).Draw(t, "order"), v)
			case 10:
				s := fmt.Sprintf("atomic_inc(%s);", v)
				if rapid.Bool().Draw(t, "after") {
					s += " smp_mb__after_atomic();"
				}
				return s
			case 11:
				if depth == 0 {
					return "spin_lock(l); " + op(1) + " spin_unlock(l);"
				}
				return "smp_mb();"
			case 13:
				r := newReg()
				return fmt.Sprintf("%s = spin_trylock(l); if (%s == 1) { spin_unlock(l); }", r, r)
			case 14:
				r := newReg()
				return fmt.Sprintf("%s = atomic_add_unless(%s, 1, %d);", r, v, rapid.IntRange(0, 1).Draw(t, "unless"))
			default:
				if depth == 0 && len(read) > 0 {
					return fmt.Sprintf("if (%s == %d) { %s }", rapid.SampledFrom(read).Draw(t, "cond"),
						rapid.IntRange(0, 2).Draw(t, "cmp"), op(1))
				}
				return fmt.Sprintf("WRITE_ONCE(*%s, %s);", v, value())
			}
		}
		for range ops {
			body = append(body, op(0))
		}
		for i := range reg {
			fmt.Fprintf(&b, "\tint r%d = 0;\n", i)
		}
		b.WriteString("\t" + strings.Join(body, "\n\t") + "\n}\n")
	}
	locs = append(locs, "x", "y")
	fmt.Fprintf(&b, "locations [%s]\nexists (x=0)\n", strings.Join(locs, "; "))
	return b.String()
}

func allowedStates(t *rapid.T, src string, m Model) map[string]bool {
	tst, err := Parse(src)
	require.NoError(t, err, src)
	out, err := Run(tst, m)
	require.NoError(t, err, src)
	states := map[string]bool{}
	for _, s := range out.States {
		states[s.Text] = true
	}
	return states
}

// Every final state SC allows, TSO allows (TSO only adds reorderings),
// and every one TSO allows, the LKMM allows (x86 is one of the machines
// the kernel's model must describe, under the kernel's x86 mapping).
func TestModelInclusions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := genTest(t)
		sc, tso, lkmm := allowedStates(t, src, SC{}), allowedStates(t, src, TSO{}), allowedStates(t, src, LKMM{})
		require.NotEmpty(t, sc, "SC always allows some execution:\n%s", src)
		for s := range sc {
			require.True(t, tso[s], "SC allows %s, TSO does not:\n%s", s, src)
		}
		for s := range tso {
			require.True(t, lkmm[s], "TSO allows %s, the LKMM does not:\n%s", s, src)
		}
	})
}

// What a model does not judge exactly yet gets no verdict; plain accesses
// are judged, and under the LKMM a race is flagged.
func TestUnsupportedGetsNoVerdict(t *testing.T) {
	plain, err := Parse("C plain\n{}\nP0(int *x) { *x = 1; }\nP1(int *x) { int r0; r0 = READ_ONCE(*x); }\nexists (1:r0=1)\n")
	require.NoError(t, err)
	out, err := Run(plain, LKMM{})
	require.NoError(t, err)
	assert.Equal(t, "Sometimes", out.Observation)
	assert.Equal(t, []string{"data-race"}, out.Flags, "a plain write races with a marked read")
	out, err = Run(plain, SC{})
	require.NoError(t, err, "SC judges plain accesses like any other")
	assert.Equal(t, "Sometimes", out.Observation)
	assert.Empty(t, out.Flags)
	var u *Unsupported

	rcu, err := Parse("C rcu\n{}\nP0(int *x) { rcu_read_lock(); WRITE_ONCE(*x, 1); rcu_read_unlock(); }\nexists (x=1)\n")
	require.NoError(t, err)
	for _, m := range []Model{SC{}, TSO{}} {
		_, err = Run(rcu, m)
		require.ErrorAs(t, err, &u, m.Name())
	}
	_, err = Run(rcu, LKMM{})
	require.NoError(t, err, "the LKMM models RCU")
	srcu, err := Parse("C srcu\n{}\nP0(int *x, int *s) { int r0; r0 = srcu_read_lock(s); WRITE_ONCE(*x, 1); srcu_read_unlock(s, r0); }\nexists (x=1)\n")
	require.NoError(t, err)
	for _, m := range []Model{SC{}, TSO{}} {
		_, err = Run(srcu, m)
		require.ErrorAs(t, err, &u, m.Name())
	}
	_, err = Run(srcu, LKMM{})
	require.NoError(t, err, "the LKMM models SRCU")
}

// The candidates the models judge leave out only what coherence and
// atomicity forbid: judged over every candidate of the same paths instead,
// each model allows the same states, as often, with the same flags.
func TestPruningLosesNoExecution(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Small enough to build every candidate: three threads of one
		// operation, or two of two.
		src := genTestOf(t, 2, 2)
		if rapid.Bool().Draw(t, "three") {
			src = genTestOf(t, 3, 1)
		}
		tst, err := Parse(src)
		require.NoError(t, err)
		p, err := newProgram(tst)
		require.NoError(t, err)
		paths, err := p.domainAndPaths()
		require.NoError(t, err)
		observed := p.observed()
		for _, m := range []Model{SC{}, TSO{}, LKMM{}} {
			out, err := Run(tst, m)
			require.NoError(t, err, src)
			pruned := map[string]int{}
			for _, s := range out.States {
				pruned[s.Text] = s.Count
			}
			full, flags, n := map[string]int{}, []string{}, 0
			p.candidates(paths, everyCandidate, func(x *Execution) bool {
				n++
				x.Flags = x.Flags[:0]
				if m.Check(x) == "" {
					full[p.stateText(observed, x)]++
					for _, f := range x.Flags {
						if !slices.Contains(flags, f) {
							flags = append(flags, f)
						}
					}
				}
				return n <= maxCandidates
			})
			require.LessOrEqual(t, n, maxCandidates, "the full enumeration is within the budget")
			slices.Sort(flags)
			require.Equal(t, full, pruned, "%s:\n%s", m.Name(), src)
			require.Equal(t, flags, append([]string{}, out.Flags...), "%s flags:\n%s", m.Name(), src)
		}
	})
}
