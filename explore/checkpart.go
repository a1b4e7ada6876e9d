package explore

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kernelsim/lfsim/exhaustive"
	"github.com/kernelsim/lfsim/schedule"
)

// CheckPartFormat names the format of a part of an exhaustive search, and
// its version.
const CheckPartFormat = "lfsim-check-part 1"

// CheckPart is what one part of an exhaustive search did, as a file
// records it: the search's configuration, the shape of each bound's tree
// and the part's units, and its first failure's schedule.
type CheckPart struct {
	Format        string             `json:"format"`
	Scenario      string             `json:"scenario"`
	Params        []string           `json:"params"`
	MaxSteps      int                `json:"max_steps"`
	Bounds        exhaustive.Bounds  `json:"bounds"`
	NoReduction   bool               `json:"no_reduction,omitempty"`
	MaxExecutions int                `json:"max_executions,omitempty"`
	Part          exhaustive.Part    `json:"part"`
	Levels        []exhaustive.Level `json:"levels"`
	Units         []exhaustive.Unit  `json:"units"`
	Interrupted   bool               `json:"interrupted,omitempty"`
	Schedule      string             `json:"schedule,omitempty"`
}

// NewCheckPart records the part c.Part of a search and what it found.
func NewCheckPart(c CheckConfig, res Checked) (CheckPart, error) {
	if c.Part.Count < 1 {
		return CheckPart{}, errors.New("not a part of a search: give it a part to search")
	}
	p := CheckPart{
		Format: CheckPartFormat, Scenario: c.Scenario.Name, Params: c.Scenario.Set(c.Values), MaxSteps: maxSteps(c.Options),
		Bounds: c.Bounds, NoReduction: c.NoReduction, MaxExecutions: c.MaxExecutions, Part: c.Part,
		Levels: res.Levels, Units: res.Units, Interrupted: res.Interrupted,
	}
	if res.Schedule != nil {
		p.Schedule = string(res.Schedule.Encode())
	}
	return p, nil
}

// CheckMerged is what the parts of a search add up to.
type CheckMerged struct {
	exhaustive.Merged
	Bounds exhaustive.Bounds
	// Schedule is the search's first failure (or, with Missing set, the
	// lowest one found), its found-by line the one search's.
	Schedule *schedule.File
}

// MergeChecks combines every part of one search into its answer.
func MergeChecks(ps []CheckPart) (CheckMerged, error) {
	if len(ps) == 0 {
		return CheckMerged{}, errors.New("no parts to merge")
	}
	first := ps[0]
	var prs []exhaustive.PartResult
	for _, p := range ps {
		switch {
		case p.Format != CheckPartFormat:
			return CheckMerged{}, fmt.Errorf("part %d/%d: format %q, want %q", p.Part.Index, p.Part.Count, p.Format, CheckPartFormat)
		case p.Scenario != first.Scenario || !slices.Equal(p.Params, first.Params):
			return CheckMerged{}, fmt.Errorf("part %d/%d searched %s %v, not %s %v", p.Part.Index, p.Part.Count, p.Scenario, p.Params, first.Scenario, first.Params)
		case p.MaxSteps != first.MaxSteps || p.Bounds != first.Bounds || p.NoReduction != first.NoReduction:
			return CheckMerged{}, fmt.Errorf("part %d/%d searched with other bounds or settings than part %d/%d", p.Part.Index, p.Part.Count, first.Part.Index, first.Part.Count)
		}
		prs = append(prs, exhaustive.PartResult{Part: p.Part, Levels: p.Levels, Units: p.Units})
	}
	m, err := exhaustive.Merge(prs)
	if err != nil {
		return CheckMerged{}, err
	}
	out := CheckMerged{Merged: m, Bounds: first.Bounds}
	if m.FailPart >= 0 {
		f, err := schedule.Decode([]byte(ps[m.FailPart].Schedule))
		if err != nil {
			return CheckMerged{}, fmt.Errorf("part %d/%d: its failing schedule: %w", ps[m.FailPart].Part.Index, ps[m.FailPart].Part.Count, err)
		}
		f.FoundBy = foundByCheck(m.FailBound, first.Bounds, m.Executions-1)
		if m.Missing != nil {
			// Not the search's first failure: its run number is unknown.
			f.FoundBy = strings.TrimSuffix(f.FoundBy, fmt.Sprintf(" run=%d", m.Executions-1))
		}
		out.Schedule = f
	}
	return out, nil
}
