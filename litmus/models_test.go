package litmus

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// The project's corpus (testdata/corpus) holds classic shapes with their
// verdicts under each model in a "Models:" line: facts of the models (TSO
// lets a store wait behind later loads, nothing else; locked instructions
// and smp_mb drain the store buffer; the LKMM orders only what fences,
// releases, acquires, dependencies, locks and fully ordered atomics order,
// as the kernel's litmus tests of the same shapes state in their Result
// lines); "-" means the model refuses the test (RCU under SC and TSO).
// The LKMM's verdict is also the Result line, which simrun compares.
func TestCorpusUnderEachModel(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.litmus"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 38)
	models := regexp.MustCompile(`Models: sc=([\w-]+) tso=([\w-]+) lkmm=([\w-]+)`)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			tst := parseFile(t, filepath.Join("corpus", filepath.Base(file)))
			want := models.FindStringSubmatch(tst.Doc)
			require.NotNil(t, want, "no Models: line")
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
				if out.Observation == "Never" {
					assert.NotEmpty(t, out.Forbidden, "a forbidden outcome says why")
				}
			}
		})
	}
}

// genTest writes a random small test: two or three threads of a few
// accesses and fences to two variables, every register and variable
// observed.
func genTest(t *rapid.T) string {
	var b strings.Builder
	b.WriteString("C random\n{}\n")
	threads := rapid.IntRange(2, 3).Draw(t, "threads")
	var locs []string
	for p := range threads {
		fmt.Fprintf(&b, "P%d(int *x, int *y)\n{\n", p)
		ops := rapid.IntRange(1, 3).Draw(t, "ops")
		var body []string
		for i := range ops {
			v := []string{"x", "y"}[rapid.IntRange(0, 1).Draw(t, "var")]
			reg := fmt.Sprintf("r%d", i)
			switch rapid.IntRange(0, 6).Draw(t, "op") {
			case 0, 1:
				body = append(body, fmt.Sprintf("WRITE_ONCE(*%s, %d);", v, rapid.IntRange(1, 2).Draw(t, "val")))
			case 2, 3:
				body = append(body, fmt.Sprintf("%s = READ_ONCE(*%s);", reg, v))
				locs = append(locs, fmt.Sprintf("%d:%s", p, reg))
			case 4:
				body = append(body, "smp_mb();")
			case 5:
				body = append(body, fmt.Sprintf("%s = xchg_relaxed(%s, %d);", reg, v, rapid.IntRange(1, 2).Draw(t, "val")))
				locs = append(locs, fmt.Sprintf("%d:%s", p, reg))
			case 6:
				body = append(body, fmt.Sprintf("smp_store_release(%s, 1);", v))
			}
		}
		for i := range ops {
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
	_, err = Run(srcu, LKMM{})
	require.ErrorAs(t, err, &u, "SRCU is not modelled yet")
}
