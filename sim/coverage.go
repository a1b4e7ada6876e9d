package sim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Coverage collects, over the runs of an exploration, which scheduling
// points ran and in which orders conflicting accesses met: for each cell,
// each access and the access before it by another context, when either
// wrote. A pair of sites seen in one order only is a race the exploration
// never reversed. Give the same Coverage to every run's Config; it is not
// safe for concurrent runs.
type Coverage struct {
	// Points counts the operations run at each source position.
	Points map[Pos]int
	// Orders counts, for each ordered pair of sites (earlier, later),
	// the conflicting accesses seen in that order.
	Orders map[[2]Pos]int
	last   map[uint32]lastAccess // this run's latest access to each cell
	runs   int
}

// Pos is a source position.
type Pos struct {
	File string // as the build recorded it
	Line int
}

// Short is the position as traces show it: directory/file.go:line.
func (p Pos) Short() string {
	if p.File == "" {
		return "?:" + strconv.Itoa(p.Line)
	}
	return shortPos(p.File, p.Line)
}

type lastAccess struct {
	pos   Pos
	frame int
	write bool
}

// NewCoverage returns an empty collector.
func NewCoverage() *Coverage {
	return &Coverage{Points: map[Pos]int{}, Orders: map[[2]Pos]int{}, last: map[uint32]lastAccess{}}
}

// Runs is how many runs were collected.
func (cv *Coverage) Runs() int { return cv.runs }

func (cv *Coverage) startRun() {
	cv.runs++
	clear(cv.last)
}

// point records that frame f ran operation o, which wrote its cell (if it
// has one) or not.
func (cv *Coverage) point(f *Ctx, o *op, write bool) {
	pos, c := Pos{o.file, o.line}, o.cell
	cv.Points[pos]++
	if c == nil {
		return
	}
	if prev, ok := cv.last[c.id]; ok && prev.frame != f.id && (prev.write || write) {
		cv.Orders[[2]Pos{prev.pos, pos}]++
	}
	cv.last[c.id] = lastAccess{pos, f.id, write}
}

// Merge adds o's runs to cv: the coverage of both explorations' runs.
func (cv *Coverage) Merge(o *Coverage) {
	for p, n := range o.Points {
		cv.Points[p] += n
	}
	for p, n := range o.Orders {
		cv.Orders[p] += n
	}
	cv.runs += o.runs
}

// coverageJSON is Coverage as a file keeps it: sorted lists, so that the
// same coverage is the same bytes.
type coverageJSON struct {
	Runs   int         `json:"runs"`
	Points []pointJSON `json:"points"`
	Orders []orderJSON `json:"orders"`
}

type pointJSON struct {
	File string `json:"file"`
	Line int    `json:"line"`
	N    int    `json:"n"`
}

type posJSON struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

type orderJSON struct {
	Earlier posJSON `json:"earlier"`
	Later   posJSON `json:"later"`
	N       int     `json:"n"`
}

func comparePos(a, b Pos) int {
	if c := strings.Compare(a.File, b.File); c != 0 {
		return c
	}
	return cmp.Compare(a.Line, b.Line)
}

// MarshalJSON writes the counts sorted by position.
func (cv *Coverage) MarshalJSON() ([]byte, error) {
	j := coverageJSON{Runs: cv.runs, Points: []pointJSON{}, Orders: []orderJSON{}}
	for _, p := range slices.SortedFunc(maps.Keys(cv.Points), comparePos) {
		j.Points = append(j.Points, pointJSON{p.File, p.Line, cv.Points[p]})
	}
	for _, o := range slices.SortedFunc(maps.Keys(cv.Orders), func(a, b [2]Pos) int {
		if c := comparePos(a[0], b[0]); c != 0 {
			return c
		}
		return comparePos(a[1], b[1])
	}) {
		j.Orders = append(j.Orders, orderJSON{posJSON{o[0].File, o[0].Line}, posJSON{o[1].File, o[1].Line}, cv.Orders[o]})
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (cv *Coverage) UnmarshalJSON(data []byte) error {
	var j coverageJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	if j.Runs < 0 {
		return fmt.Errorf("coverage: %d runs", j.Runs)
	}
	*cv = *NewCoverage()
	cv.runs = j.Runs
	for _, p := range j.Points {
		cv.Points[Pos{p.File, p.Line}] += p.N
	}
	for _, o := range j.Orders {
		cv.Orders[[2]Pos{{o.Earlier.File, o.Earlier.Line}, {o.Later.File, o.Later.Line}}] += o.N
	}
	return nil
}
