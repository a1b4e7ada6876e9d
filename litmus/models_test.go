package litmus

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// shapes are classic tests with their verdicts under SC, x86-TSO and the
// LKMM: facts of the models (TSO lets a store wait behind later loads,
// nothing else; locked instructions and smp_mb drain the store buffer; the
// LKMM orders only what fences, releases, acquires, dependencies and
// fully ordered atomics order, as the kernel's litmus tests of the same
// shapes state in their Result lines).
var shapes = []struct {
	name, src string
	sc, tso   string
	lkmm      string
}{
	{"SB", `C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Sometimes", "Sometimes"},
	{"SB+mbs", `C SB+mbs
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); smp_mb(); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); smp_mb(); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Never", "Never"},
	{"SB+xchgs", `C SB+xchgs
{}
P0(int *x, int *y) { int r0; int r1; r1 = xchg_relaxed(x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; int r1; r1 = xchg_relaxed(y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Never", "Sometimes"},
	{"SB+release+acquire", `C SB+release+acquire
{}
P0(int *x, int *y) { int r0; smp_store_release(x, 1); r0 = smp_load_acquire(y); }
P1(int *x, int *y) { int r0; smp_store_release(y, 1); r0 = smp_load_acquire(x); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Sometimes", "Sometimes"},
	{"MP", `C MP
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never", "Sometimes"},
	{"LB", `C LB
{}
P0(int *x, int *y) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; r0 = READ_ONCE(*y); WRITE_ONCE(*x, 1); }
exists (0:r0=1 /\ 1:r0=1)`, "Never", "Never", "Sometimes"},
	{"IRIW", `C IRIW
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*x); r1 = READ_ONCE(*y); }
P2(int *y) { WRITE_ONCE(*y, 1); }
P3(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0 /\ 3:r0=1 /\ 3:r1=0)`, "Never", "Never", "Sometimes"},
	{"2+2W", `C 2+2W
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 2); }
P1(int *x, int *y) { WRITE_ONCE(*y, 1); WRITE_ONCE(*x, 2); }
exists (x=1 /\ y=1)`, "Never", "Never", "Sometimes"},
	{"R", `C R
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 2); r0 = READ_ONCE(*x); }
exists (y=2 /\ 1:r0=0)`, "Never", "Sometimes", "Sometimes"},
	{"R+mb", `C R+mb
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 2); smp_mb(); r0 = READ_ONCE(*x); }
exists (y=2 /\ 1:r0=0)`, "Never", "Never", "Sometimes"},
	{"CoRR", `C CoRR
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x) { int r0; int r1; r0 = READ_ONCE(*x); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never", "Never"},
	{"CoWR", `C CoWR
{}
P0(int *x) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*x); }
P1(int *x) { WRITE_ONCE(*x, 2); }
exists (x=1 /\ 0:r0=2)`, "Never", "Never", "Never"},
	{"lock", `C lock
{}
P0(spinlock_t *s, int *x) { int r0; spin_lock(s); r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); spin_unlock(s); }
P1(spinlock_t *s, int *x) { int r0; spin_lock(s); r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); spin_unlock(s); }
exists (x=2)`, "Always", "Always", "Always"},
	{"no lock", `C nolock
{}
P0(int *x) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); }
P1(int *x) { int r0; r0 = READ_ONCE(*x); WRITE_ONCE(*x, r0 + 1); }
exists (x=1)`, "Sometimes", "Sometimes", "Sometimes"},
	{"cmpxchg", `C cmpxchg
{}
P0(int *x) { int r0; r0 = cmpxchg(x, 0, 1); }
P1(int *x) { int r0; r0 = cmpxchg(x, 0, 2); }
exists (0:r0=0 /\ 1:r0=0)`, "Never", "Never", "Never"},
	{"atomic_inc", `C atomic_inc
{ atomic_t v = ATOMIC_INIT(1); }
P0(atomic_t *v) { atomic_inc(v); }
P1(atomic_t *v) { int r0; r0 = atomic_add_return(2, v); }
exists (v=4 /\ (1:r0=3 \/ 1:r0=4))`, "Always", "Always", "Always"},
	{"address dependency", `C addr
{ int *p = &y; int y = 0; int z = 0; }
P0(int **p, int *z) { WRITE_ONCE(*z, 1); smp_store_release(p, z); }
P1(int **p) { int *r0; int r1; r0 = READ_ONCE(*p); r1 = READ_ONCE(*r0); }
exists (1:r0=z /\ 1:r1=0)`, "Never", "Never", "Never"},
	{"MP+wmb+rmb", `C MP+wmb+rmb
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_wmb(); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); smp_rmb(); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never", "Never"},
	{"MP+wmb", `C MP+wmb
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_wmb(); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never", "Sometimes"},
	{"LB+ctrl+mb", `C LB+ctrl+mb
{}
P0(int *x, int *y) { int r0; r0 = READ_ONCE(*x); if (r0) WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; r0 = READ_ONCE(*y); smp_mb(); WRITE_ONCE(*x, 1); }
exists (0:r0=1 /\ 1:r0=1)`, "Never", "Never", "Never"},
	{"WRC+release+rmb", `C WRC+release+rmb
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int *y) { int r0; r0 = READ_ONCE(*x); smp_store_release(y, 1); }
P2(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); smp_rmb(); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 2:r0=1 /\ 2:r1=0)`, "Never", "Never", "Never"},
	{"WRC+wmb+rmb", `C WRC+wmb+rmb
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int *y) { int r0; r0 = READ_ONCE(*x); smp_wmb(); WRITE_ONCE(*y, 1); }
P2(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); smp_rmb(); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 2:r0=1 /\ 2:r1=0)`, "Never", "Never", "Sometimes"},
	{"IRIW+mbs", `C IRIW+mbs
{}
P0(int *x) { WRITE_ONCE(*x, 1); }
P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*x); smp_mb(); r1 = READ_ONCE(*y); }
P2(int *y) { WRITE_ONCE(*y, 1); }
P3(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); smp_mb(); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0 /\ 3:r0=1 /\ 3:r1=0)`, "Never", "Never", "Never"},
	{"ISA2", `C ISA2
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_store_release(y, 1); }
P1(int *y, int *z) { int r0; r0 = smp_load_acquire(y); smp_store_release(z, 1); }
P2(int *x, int *z) { int r0; int r1; r0 = smp_load_acquire(z); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 2:r0=1 /\ 2:r1=0)`, "Never", "Never", "Never"},
	{"Z6.0+locks", `C Z6.0+locks
{}
P0(int *x, int *y, spinlock_t *s) { spin_lock(s); WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); spin_unlock(s); }
P1(int *y, int *z, spinlock_t *s) { int r0; spin_lock(s); r0 = READ_ONCE(*y); WRITE_ONCE(*z, 1); spin_unlock(s); }
P2(int *x, int *z) { int r1; WRITE_ONCE(*z, 2); smp_mb(); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ z=2 /\ 2:r1=0)`, "Never", "Never", "Sometimes"},
	{"Z6.0+locks+after-unlock-lock", `C Z6.0+locks+ull
{}
P0(int *x, int *y, spinlock_t *s) { spin_lock(s); WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); spin_unlock(s); }
P1(int *y, int *z, spinlock_t *s) { int r0; spin_lock(s); smp_mb__after_unlock_lock(); r0 = READ_ONCE(*y); WRITE_ONCE(*z, 1); spin_unlock(s); }
P2(int *x, int *z) { int r1; WRITE_ONCE(*z, 2); smp_mb(); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ z=2 /\ 2:r1=0)`, "Never", "Never", "Never"},
	{"MP+locks", `C MP+locks
{}
P0(int *x, int *y, spinlock_t *s) { WRITE_ONCE(*x, 1); spin_lock(s); WRITE_ONCE(*y, 1); spin_unlock(s); }
P1(int *x, int *y, spinlock_t *s) { int r0; int r1; spin_lock(s); r0 = READ_ONCE(*y); spin_unlock(s); r1 = READ_ONCE(*x); }
exists (1:r0=1 /\ 1:r1=0)`, "Never", "Never", "Never"},
	{"S", `C S
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 2); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; r0 = READ_ONCE(*y); WRITE_ONCE(*x, 1); }
exists (x=2 /\ 1:r0=1)`, "Never", "Never", "Sometimes"},
	{"S+wmb+acquire", `C S+wmb+acquire
{}
P0(int *x, int *y) { WRITE_ONCE(*x, 2); smp_wmb(); WRITE_ONCE(*y, 1); }
P1(int *x, int *y) { int r0; r0 = smp_load_acquire(y); WRITE_ONCE(*x, 1); }
exists (x=2 /\ 1:r0=1)`, "Never", "Never", "Never"},
}

func TestClassicShapesUnderEachModel(t *testing.T) {
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			tst, err := Parse(tc.src)
			require.NoError(t, err)
			for _, m := range []struct {
				model Model
				want  string
			}{{SC{}, tc.sc}, {TSO{}, tc.tso}, {LKMM{}, tc.lkmm}} {
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

// What a model does not judge exactly yet gets no verdict.
func TestUnsupportedGetsNoVerdict(t *testing.T) {
	plain, err := Parse("C plain\n{}\nP0(int *x) { *x = 1; }\nP1(int *x) { int r0; r0 = READ_ONCE(*x); }\nexists (1:r0=1)\n")
	require.NoError(t, err)
	_, err = Run(plain, LKMM{})
	var u *Unsupported
	require.ErrorAs(t, err, &u)
	assert.Contains(t, u.Error(), "line 3: unsupported: a plain access under the lkmm model")
	out, err := Run(plain, SC{})
	require.NoError(t, err, "SC judges plain accesses like any other")
	assert.Equal(t, "Sometimes", out.Observation)

	rcu, err := Parse("C rcu\n{}\nP0(int *x) { rcu_read_lock(); WRITE_ONCE(*x, 1); rcu_read_unlock(); }\nexists (x=1)\n")
	require.NoError(t, err)
	for _, m := range []Model{SC{}, TSO{}, LKMM{}} {
		_, err = Run(rcu, m)
		require.ErrorAs(t, err, &u, m.Name())
	}
}
