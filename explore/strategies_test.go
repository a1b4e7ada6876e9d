package explore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kernelsim/lfsim/scenario"
)

// TestPortfolioWithinThreeTimesBest: the default strategy finds each
// known failure in at most three times the median runs of the best
// single strategy, over seeds 1..20. The costly zoo entries (alf-aba, the
// large skb workloads) are measured by simrun strategies for the README's
// table instead.
func TestPortfolioWithinThreeTimesBest(t *testing.T) {
	if testing.Short() {
		t.Skip("measures six strategies over twenty seeds")
	}
	for _, z := range []struct {
		name string
		set  []string
	}{
		{"ring2005", nil},
		{"alf-spsc-misuse", nil},
		{"alf-preempt", nil},
		{"alf-irq", nil},
		{"qmempool-hardirq", nil},
		{"skb", []string{"fails=3"}},
	} {
		t.Run(z.name, func(t *testing.T) {
			s, err := scenario.Builtin().Lookup(z.name)
			require.NoError(t, err)
			v, err := s.Values(z.set)
			require.NoError(t, err)
			table, err := Race(context.Background(), s, v, 20, 3000, scenario.Options{}, Contenders())
			require.NoError(t, err)
			mix, ok := table[0].Median()
			require.True(t, ok, "mix finds it for most seeds")
			best := mix
			for _, st := range table[1:] {
				if m, ok := st.Median(); ok {
					best = min(best, m)
				}
			}
			assert.LessOrEqual(t, mix, 3*best, "mix median %d, best single strategy %d", mix, best)
		})
	}
}

func TestMedianCountsMissesAsWorst(t *testing.T) {
	m, ok := Standing{RunsToFailure: []int{3, 0, 1}}.Median()
	assert.True(t, ok)
	assert.Equal(t, 3, m)
	_, ok = Standing{RunsToFailure: []int{0, 0, 1}}.Median()
	assert.False(t, ok)
	assert.Equal(t, 1, Standing{RunsToFailure: []int{0, 0, 1}}.Found())
}
