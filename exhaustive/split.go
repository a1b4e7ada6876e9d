package exhaustive

import (
	"errors"
	"fmt"
	"slices"
)

// splitLevel is how many decisions with more than one branch to explore
// a split search's parts share: below the first splitLevel of them on a
// path begins a unit, the subtree that one part searches (a run that ends
// above them is a unit of its own). Units are numbered in the order the
// depth-first search meets them, the same for every part, since every
// part walks the decisions above the split alike.
const splitLevel = 8

// Part is one of Count disjoint shares of a search: at every bound, the
// units u with u % Count == Index.
type Part struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

func (p Part) owns(u int) bool { return p.Count <= 1 || u%p.Count == p.Index }

// Unit is what a search did in one unit of one bound's tree.
type Unit struct {
	Bound      int   `json:"bound"`
	Index      int   `json:"unit"`
	Executions int   `json:"executions"`
	Pruned     int   `json:"pruned,omitempty"`
	Cut        int   `json:"cut,omitempty"`
	Steps      int64 `json:"steps"`
	// Cuts is set when the preemption bound left a move out in it.
	Cuts bool `json:"cuts,omitempty"`
	// Failed is set when its last run failed; the part stopped there.
	Failed bool `json:"failed,omitempty"`

	partial bool     // the walker stopped inside it (not recorded)
	share   float64  // of the bound's tree; -1 before its first run
	runs    []runRec // each run's counts, under a budget
}

// add counts unit u's runs.
func (s *Stats) add(u Unit) {
	s.Executions += u.Executions
	s.Pruned += u.Pruned
	s.Cut += u.Cut
	s.Steps += u.Steps
}

// Level is the shape of one bound's tree as every part sees it.
type Level struct {
	Bound int `json:"bound"`
	// Units is how many units the tree has, or -1 when the part did not
	// walk all of it (it stopped at its own failure or its budget).
	Units int `json:"units"`
	// TopCut is set when the preemption bound left a move out above the
	// split.
	TopCut bool `json:"top_cut,omitempty"`
}

// PartResult is what Merge needs of one part's search.
type PartResult struct {
	Part   Part
	Levels []Level
	Units  []Unit
}

// Merged is what the parts add up to: the unsharded search's result
// without its runs (the failing part has those).
type Merged struct {
	Stats
	// Complete and Unbounded are as in Result: never set with a failure.
	Complete, Unbounded bool
	// FailPart is the index in Merge's argument of the part whose unit
	// holds the search's first failure, or -1; FailBound is the
	// preemption bound it was found at.
	FailPart, FailBound int
	// Missing is set when some part did not search a unit the answer
	// needs: the first such unit. A failure with nothing missing is the
	// search's first.
	Missing *Unit
}

// Merge combines the parts of one search, each once, into what one search
// of the whole tree reports: the counts of every run up to the first
// failure in the tree's order at the lowest bound, and whether the bounds
// were covered.
func Merge(parts []PartResult) (Merged, error) {
	if len(parts) == 0 {
		return Merged{}, errors.New("exhaustive: no parts to merge")
	}
	n := parts[0].Part.Count
	seen := make([]bool, max(n, 1))
	for _, p := range parts {
		if p.Part.Count != n || p.Part.Index < 0 || p.Part.Index >= max(n, 1) {
			return Merged{}, fmt.Errorf("part %d/%d does not belong with parts of %d", p.Part.Index, p.Part.Count, n)
		}
		if seen[p.Part.Index] {
			return Merged{}, fmt.Errorf("part %d/%d is given twice", p.Part.Index, n)
		}
		seen[p.Part.Index] = true
	}
	if i := slices.Index(seen, false); i >= 0 {
		return Merged{}, fmt.Errorf("part %d/%d is missing", i, n)
	}
	m := Merged{FailPart: -1}
	for bound := 0; ; bound++ {
		total, topCut, present := -1, false, false
		var units []Unit
		owner := map[int]int{}
		for i, p := range parts {
			for _, lv := range p.Levels {
				if lv.Bound != bound {
					continue
				}
				present = true
				topCut = topCut || lv.TopCut
				if lv.Units >= 0 {
					if total >= 0 && total != lv.Units {
						return Merged{}, fmt.Errorf("the parts disagree on the units at bound %d (%d and %d): not parts of one search", bound, total, lv.Units)
					}
					total = lv.Units
				}
			}
			for _, u := range p.Units {
				if u.Bound != bound {
					continue
				}
				if _, dup := owner[u.Index]; dup || !p.Part.owns(u.Index) {
					return Merged{}, fmt.Errorf("part %d/%d reports unit %d of bound %d, which is not its own", p.Part.Index, n, u.Index, bound)
				}
				units = append(units, u)
				owner[u.Index] = i
			}
		}
		if !present {
			m.Complete = m.Missing == nil && bound > 0
			return m, nil
		}
		slices.SortFunc(units, func(a, b Unit) int { return a.Index - b.Index })
		end := total
		fail := slices.IndexFunc(units, func(u Unit) bool { return u.Failed })
		if fail >= 0 {
			end = units[fail].Index + 1
		}
		if m.Missing != nil {
			// The answer stopped at a gap below: only a failure is news.
			if fail >= 0 {
				m.FailPart, m.FailBound = owner[units[fail].Index], bound
				return m, nil
			}
			continue
		}
		m.Bound = bound
		cuts, want := topCut, 0
		for _, u := range units {
			if (end >= 0 && u.Index >= end) || u.Index != want {
				break
			}
			m.add(u)
			cuts = cuts || u.Cuts
			want++
		}
		if end < 0 || want < end {
			m.Missing = &Unit{Bound: bound, Index: want}
		}
		switch {
		case fail >= 0:
			m.FailPart, m.FailBound = owner[units[fail].Index], bound
			return m, nil
		case m.Missing == nil && !cuts:
			m.Complete, m.Unbounded = true, true
			return m, nil
		}
	}
}
