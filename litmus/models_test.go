package litmus

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// shapes are classic tests with their verdicts under SC and x86-TSO: facts
// of both models (TSO lets a store wait behind later loads, nothing else;
// locked instructions and smp_mb drain the store buffer).
var shapes = []struct {
	name, src string
	sc, tso   string
}{
	{"SB", `C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Sometimes"},
	{"SB+mbs", `C SB+mbs
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); smp_mb(); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); smp_mb(); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Never"},
	{"SB+xchgs", `C SB+xchgs
{}
P0(int *x, int *y) { int r0; int r1; r1 = xchg_relaxed(x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; int r1; r1 = xchg_relaxed(y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Never"},
	{"SB+release+acquire", `C SB+release+acquire
{}
P0(int *x, int *y) { int r0; smp_store_release(x, 1); r0 = smp_load_acquire(y); }
P1(int *x, int *y) { int r0; smp_store_release(y, 1); r0 = smp_load_acquire(x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Sometimes"},
	{"MP", `C MP
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never"},
	{"LB", `C LB
{}
P0(int *x, int *y) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; r0 = READ_ONCE(*y); WRITE_ONCE(*x, 1); }
exists (0:r0=1 /\ 1:r0=1)`, "Never", "Never"},
	{"IRIW", `C IRIW
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*x); r1 = READ_ONCE(*y); }
P2(int *y) { WRITE_ONCE(*y, 1); }
P3(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0 /\ 3:r0=1 /\ 3:r1=0)`, "Never", "Never"},
	{"2+2W", `C 2+2W
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 2); }
P1(int *x, int *y) { WRITE_ONCE(*y, 1); WRITE_ONCE(*x, 2); }
exists (x=1 /\ y=1)`, "Never", "Never"},
	{"R", `C R
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 2); r0 = READ_ONCE(*x); }
exists (y=2 /\ 1:r0=0)`, "Never", "Sometimes"},
	{"R+mb", `C R+mb
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 2); smp_mb(); r0 = READ_ONCE(*x); }
exists (y=2 /\ 1:r0=0)`, "Never", "Never"},
	{"CoRR", `C CoRR
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x) { int r0; int r1; r0 = READ_ONCE(*x); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never"},
	{"CoWR", `C CoWR
{}
P0(int *x) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*x); }
P1(int *x) { WRITE_ONCE(*x, 2); }
exists (x=1 /\ 0:r0=2)`, "Never", "Never"},
	{"lock", `C lock
{}
P0(spinlock_t *s, int *x) { int r0; spin_lock(s); r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); spin_unlock(s); }
P1(spinlock_t *s, int *x) { int r0; spin_lock(s); r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); spin_unlock(s); }
exists (x=2)`, "Always", "Always"},
	{"no lock", `C nolock
{}
P0(int *x) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); }
P1(int *x) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); }
exists (x=1)`, "Sometimes", "Sometimes"},
	{"cmpxchg", `C cmpxchg
{}
P0(int *x) { int r0; r0 = cmpxchg(x, 0, 1); }
P1(int *x) { int r0; r0 = cmpxchg(x, 0, 2); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Never"},
	{"atomic_inc", `C atomic_inc
{ atomic_t v = ATOMIC_INIT(1); }
P0(atomic_t *v) { atomic_inc(v); }
P1(atomic_t *v) { int r0; r0 = atomic_add_return(2, v); }
exists (v=4 /\ (1:r0=3 \/ 1:r0=4))`, "Always", "Always"},
	{"address dependency", `C addr
{ int *p = &y; int y = 0; int z = 0; }
P0(int **p, int *z) { WRITE_ONCE(*z, 1); smp_store_release(p, z); }
P1(int **p) { int *r0; int r1; r0 = READ_ONCE(*p); r1 = READ_ONCE(*r0); }
exists (1:r0=z /\ 1:r1=0)`, "Never", "Never"},
}

func TestClassicShapesUnderSCAndTSO(t *testing.T) {
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			tst, err := Parse(tc.src)
			require.NoError(t, err)
			for _, m := range []struct {
				model Model
				want  string
			}{{SC{}, tc.sc}, {TSO{}, tc.tso}} {
				out, err := Run(tst, m.model)
				require.NoError(t, err)
				assert.Equal(t, m.want, out.Observation, "%s under %s: states %v", tc.name, m.model.Name(), out.States)
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

// Every final state SC allows, TSO allows: TSO only adds reorderings.
func TestSCIsIncludedInTSO(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		src := genTest(t)
		sc, tso := allowedStates(t, src, SC{}), allowedStates(t, src, TSO{})
		require.NotEmpty(t, sc, "SC always allows some execution:\n%s", src)
		for s := range sc {
			require.True(t, tso[s], "SC allows %s, TSO does not:\n%s", s, src)
		}
	})
}
