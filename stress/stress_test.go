package stress

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/scenario"
)

func config(t *testing.T, name string, budget time.Duration, set ...string) Config {
	t.Helper()
	s, err := scenario.Lookup(name)
	require.NoError(t, err)
	v, err := s.Values(set)
	require.NoError(t, err)
	return Config{Scenario: s, Values: v, Budget: budget, Seed: 1}
}

func TestCorrectSubjectsPassUnderStress(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"ring2005-locked", nil},
		{"alf-mpmc", nil},
		{"skb", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), config(t, tc.name, 300*time.Millisecond, tc.set...))
			require.NoError(t, err)
			assert.Nil(t, res.Failure)
			assert.Greater(t, res.Rounds, 1)
			assert.Positive(t, res.Ops)
		})
	}
}

// TestStressScenario is how `simrun compare` runs stress under the race
// detector: a -race test binary, driven by the environment. It is skipped
// in ordinary test runs.
func TestStressScenario(t *testing.T) {
	name := os.Getenv("LFSIM_STRESS_SCENARIO")
	if name == "" {
		t.Skip("set LFSIM_STRESS_SCENARIO (and LFSIM_STRESS_BUDGET, LFSIM_STRESS_SET) to stress a scenario")
	}
	budget, err := time.ParseDuration(os.Getenv("LFSIM_STRESS_BUDGET"))
	require.NoError(t, err, "LFSIM_STRESS_BUDGET")
	res, err := Run(context.Background(), config(t, name, budget, strings.Fields(os.Getenv("LFSIM_STRESS_SET"))...))
	require.NoError(t, err)
	if res.Failure != nil {
		t.Fatalf("%s in round %d after %v: %v", FoundMarker, res.Round, res.FirstFailure, res.Failure)
	}
	t.Logf("no failure in %d rounds, %v", res.Rounds, res.Elapsed)
}
