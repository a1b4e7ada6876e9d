package scenario

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/sim"
)

func TestValues(t *testing.T) {
	s, err := Lookup("ring2005")
	require.NoError(t, err)
	v, err := s.Values(nil)
	require.NoError(t, err)
	assert.Equal(t, "cpus=2 ring=8 burst=8 packets=64 irqs=0", s.String(v))
	v, err = s.Values([]string{"cpus=4", "ring=4096"})
	require.NoError(t, err)
	assert.Equal(t, []string{"cpus=4", "ring=4096", "burst=8", "packets=64", "irqs=0"}, s.Set(v))

	for set, want := range map[string]string{
		"cpus=0":     "scenario ring2005: cpus=0: want 1..64",
		"ring=4097":  "scenario ring2005: ring=4097: want 1..4096",
		"burst=many": "scenario ring2005: burst=many: want an integer",
		"colour=red": `scenario ring2005 has no parameter "colour" (it has: cpus, ring, burst, packets, irqs)`,
		"cpus":       `--set "cpus": want key=value`,
	} {
		_, err := s.Values([]string{set})
		assert.EqualError(t, err, want, set)
	}
	_, err = Lookup("ring2006")
	assert.ErrorContains(t, err, `unknown scenario "ring2006"`)
}

// Every scenario in the catalogue builds and runs with its defaults (all
// valid values), and one that must pass does so on the quiet schedule
// that always takes the first possible move.
func TestCatalogue(t *testing.T) {
	for _, s := range All() {
		v, err := s.Values(nil)
		require.NoError(t, err, s.Name)
		r := s.Run(v, Options{}, sim.NewBytes(nil))
		require.NoError(t, r.Err, s.Name)
		assert.Positive(t, r.Steps, s.Name)
		if !s.Fails {
			assert.Nil(t, r.Failure, s.Name)
		}
	}
}

// The checker tells apart each way the 2005 ring crashes: every kind below
// is reached by random schedules of some configuration, and named.
func TestRing2005CrashKinds(t *testing.T) {
	s, err := Lookup("ring2005")
	require.NoError(t, err)
	for _, tc := range []struct {
		kind string
		set  []string
	}{
		{sim.KindPanic, nil},
		{sim.KindOutOfBounds, []string{"ring=2", "burst=2"}},
		{KindLostBuffer, []string{"ring=2", "burst=2"}},
		{KindDoubleOwner, []string{"cpus=4"}},
		{sim.KindNilDeref, []string{"cpus=4"}},
	} {
		v, err := s.Values(tc.set)
		require.NoError(t, err)
		var found *sim.Failure
		for seed := uint64(0); seed < 2000 && found == nil; seed++ {
			if r := s.Run(v, Options{}, sim.NewRandom(seed)); r.Failure != nil && r.Failure.Kind == tc.kind {
				found = r.Failure
			}
		}
		require.NotNil(t, found, "%s not reached with %v", tc.kind, tc.set)
		switch tc.kind {
		case sim.KindPanic:
			assert.Contains(t, found.Message, "Tail pointer must be null")
			assert.Regexp(t, `^ring2005/ring.go:\d+$`, found.Source)
		case sim.KindOutOfBounds:
			assert.Contains(t, found.Message, "index out of range [2] with length 2", "head or tail briefly equals MAX_POOL_SIZE")
			assert.Regexp(t, `^ring2005/ring.go:\d+$`, found.Source)
		case KindLostBuffer:
			assert.Regexp(t, `^buffer #\d+ is neither in the ring, nor owned, nor freed`, found.Message)
		case KindDoubleOwner:
			assert.Regexp(t, `^packet \d+ got buffer #\d+, which packet \d+ still owns`, found.Message)
			assert.Contains(t, found.Context, "softirq NET_RX")
		case sim.KindNilDeref:
			assert.Contains(t, found.Message, "got a NULL data buffer from the ring")
		}
	}
}

// inTask runs fn as the only task of a one-CPU machine and returns the
// failure it raised.
func inTask(t *testing.T, fn func(c *sim.Ctx)) *sim.Failure {
	t.Helper()
	m, err := sim.New(sim.Config{CPUs: 1})
	require.NoError(t, err)
	m.Go("t", 0, fn)
	r := m.Run(sim.NewBytes(nil))
	require.NoError(t, r.Err)
	return r.Failure
}

// The ledger's kinds that the ring reaches only after a first failure
// (which the shadow already reports) are checked on the ledger itself.
func TestLedgerNamesEveryMisuse(t *testing.T) {
	f := inTask(t, func(c *sim.Ctx) {
		g := newLedger(1)
		b := g.Kmalloc(c)
		g.Kfree(c, b)
		g.Kfree(c, b)
	})
	require.NotNil(t, f)
	assert.Equal(t, sim.KindDoubleFree, f.Kind)
	assert.Regexp(t, `^buffer #\d+ is kfree'd a second time`, f.Message)

	f = inTask(t, func(c *sim.Ctx) {
		g := newLedger(2)
		b := g.Kmalloc(c)
		g.take(c, 0, b)
		g.release(c, 0)
		g.release(c, 0)
	})
	require.NotNil(t, f)
	assert.Equal(t, sim.KindDoubleFree, f.Kind)

	f = inTask(t, func(c *sim.Ctx) {
		g := newLedger(1)
		b := g.Kmalloc(c)
		g.Kfree(c, b)
		g.take(c, 0, b)
	})
	require.NotNil(t, f)
	assert.Equal(t, sim.KindUseAfterFree, f.Kind)

	g := newLedger(3)
	assert.Nil(t, inTask(t, func(c *sim.Ctx) {
		for range 4 {
			g.Kmalloc(c)
		}
		g.Kfree(c, 4)
	}))
	for _, tc := range []struct {
		slots []uint64
		kind  string
		msg   string
	}{
		{[]uint64{1, 2, 3, 0}, "", ""},
		{[]uint64{1, 2, 3, 4}, sim.KindUseAfterFree, "buffer #4 was kfree'd but is still in ring slot 3"},
		{[]uint64{1, 2, 3, 1}, KindDoubleOwner, "buffer #1 is in ring slots [0 3]: the ring will hand it to two packets"},
		{[]uint64{1, 0, 0, 0}, KindLostBuffer, "buffer #2 is neither in the ring, nor owned, nor freed (leaked) (and 1 more like it)"},
	} {
		f := g.check(tc.slots)
		if tc.kind == "" {
			assert.Nil(t, f)
			continue
		}
		require.NotNil(t, f, "%v", tc.slots)
		assert.Equal(t, tc.kind, f.Kind)
		assert.Equal(t, tc.msg, f.Message)
	}
}

// A program's own scenario, registered, is found by name like the
// project's; a second scenario of a taken name is refused.
func TestRegister(t *testing.T) {
	mine := &Scenario{Name: "registered-by-test", CPUs: func(Values) int { return 1 }, Build: func(*sim.Machine, Values) Check { return nil }}
	require.NoError(t, Register(mine))
	got, err := Lookup("registered-by-test")
	require.NoError(t, err)
	assert.Same(t, mine, got)
	assert.Contains(t, All().Names(), "registered-by-test")
	assert.Equal(t, Catalogue{mine}, Registered())
	assert.ErrorContains(t, Register(mine), "listed twice")
	assert.ErrorContains(t, Register(&Scenario{Name: "ring2005", CPUs: mine.CPUs, Build: mine.Build}), "listed twice")
	assert.ErrorContains(t, Register(&Scenario{Name: "no build", CPUs: mine.CPUs}), "name")
	assert.NotContains(t, Builtin().Names(), "registered-by-test")
}
