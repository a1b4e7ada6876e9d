// Package fuzz connects scenarios to Go's native fuzzer: each target is a
// scenario with fixed parameters whose every decision comes from the
// fuzzer's bytes (sim.Bytes), so `go test -fuzz=FuzzRing2005 ./fuzz`
// explores interleavings with coverage guidance.
//
// A corpus entry is an ordinary Go fuzz corpus file (testdata/fuzz/<Target>/<name>)
// holding one []byte; simrun replays it directly, taking the target from
// the directory it sits in, and simrun corpus turns any schedule file of a
// target's scenario and parameters into such an entry. A failure found by
// explore thus becomes a regression test by copying one file.
package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kernelsim/lfsim/explore"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/schedule"
	"github.com/kernelsim/lfsim/sim"
)

// Target is one fuzz target: a scenario with fixed parameter values.
type Target struct {
	Name     string // the FuzzX function
	Scenario *scenario.Scenario
	Set      []string // parameter values besides the defaults
	// Demonstration marks a subject known to fail: its fuzz target fails
	// when the fuzzer reaches the bug, which is what it demonstrates.
	Demonstration bool
}

// builtin are the project's own targets, in fuzz_test.go.
var builtin = []struct {
	name, scenario string
	set            []string
	demonstration  bool
}{
	{"FuzzRing2005", "ring2005", []string{"packets=8", "burst=4", "ring=4"}, true},
	{"FuzzRing2005Locked", "ring2005-locked", []string{"packets=8", "burst=4", "ring=4"}, false},
	{"FuzzAlfMPMC", "alf-mpmc", nil, false},
	{"FuzzAlfSPSC", "alf-spsc", nil, false},
	{"FuzzAlfSPSCMisuse", "alf-spsc-misuse", nil, true},
	{"FuzzAlfPreempt", "alf-preempt", nil, true},
	{"FuzzAlfIRQ", "alf-irq", nil, true},
	{"FuzzSKBQmempool", "skb", []string{"pool=qmempool", "packets=32"}, false},
	{"FuzzSKBSlab", "skb", []string{"pool=slab", "packets=32"}, false},
	{"FuzzQmempoolHardirq", "qmempool-hardirq", nil, true},
}

// Targets returns the project's own targets.
func Targets() []Target {
	ts := make([]Target, len(builtin))
	for i, b := range builtin {
		s, err := scenario.Lookup(b.scenario)
		if err != nil {
			panic(err) // the two lists are the project's own, checked by tests
		}
		ts[i] = Target{Name: b.name, Scenario: s, Set: b.set, Demonstration: b.demonstration}
	}
	return ts
}

// Lookup finds one of the project's own targets by its function name.
func Lookup(name string) (Target, error) { return Find(Targets(), name) }

// Find finds a target by its function name.
func Find(targets []Target, name string) (Target, error) {
	names := make([]string, len(targets))
	for i, t := range targets {
		if t.Name == name {
			return t, nil
		}
		names[i] = t.Name
	}
	return Target{}, fmt.Errorf("no fuzz target %q (known: %s)", name, strings.Join(names, ", "))
}

// Values returns the target's parameter values.
func (t Target) Values() (scenario.Values, error) { return t.Scenario.Values(t.Set) }

// Run runs the target with decisions from data.
func (t Target) Run(data []byte, trace bool) (sim.Result, error) {
	v, err := t.Values()
	if err != nil {
		return sim.Result{}, err
	}
	return t.Scenario.Run(v, scenario.Options{Trace: trace}, sim.NewBytes(data)), nil
}

// For finds among targets the one whose scenario and parameters a
// schedule has.
func For(targets []Target, f *schedule.File) (Target, error) {
	var near []string
	for _, t := range targets {
		if t.Scenario.Name != f.Scenario {
			continue
		}
		v, err := t.Values()
		if err != nil {
			return Target{}, err
		}
		want := t.Scenario.Set(v)
		if slices.Equal(want, f.Params) {
			return t, nil
		}
		// A fuzz target's workload is fixed: say which values it needs,
		// and how to find a schedule with them.
		var need, set []string
		for _, kv := range want {
			if !slices.Contains(f.Params, kv) {
				need = append(need, kv)
				set = append(set, "--set "+kv)
			}
		}
		near = append(near, fmt.Sprintf("%s needs %s (simrun explore %s %s finds schedules for it)", t.Name, strings.Join(need, " "), f.Scenario, strings.Join(set, " ")))
	}
	if len(near) == 0 {
		return Target{}, fmt.Errorf("no fuzz target runs scenario %s", f.Scenario)
	}
	return Target{}, fmt.Errorf("no fuzz target runs scenario %s with %s: %s", f.Scenario, strings.Join(f.Params, " "), strings.Join(near, "; "))
}

// Bytes turns a schedule of the target's scenario into the bytes that make
// sim.Bytes take the same decisions: the index of each decision among the
// possible moves, one byte (two when more than 256 moves are possible),
// none where only one move is possible.
func (t Target) Bytes(f *schedule.File) ([]byte, error) {
	v, err := t.Values()
	if err != nil {
		return nil, err
	}
	rec := &recorder{replay: sim.NewReplayTokens(f.Decisions)}
	r := t.Scenario.Run(v, scenario.Options{MaxSteps: f.MaxSteps}, rec)
	if r.Err != nil {
		return nil, fmt.Errorf("the schedule does not fit %s: %w", t.Name, r.Err)
	}
	if r.Steps != len(f.Decisions) {
		return nil, fmt.Errorf("the schedule does not fit %s: the run ended after %d of its %d decisions", t.Name, r.Steps, len(f.Decisions))
	}
	if f.MaxSteps != sim.DefaultMaxSteps {
		return nil, fmt.Errorf("fuzz targets run with the default step budget %d, the schedule with %d", sim.DefaultMaxSteps, f.MaxSteps)
	}
	return rec.bytes, nil
}

// recorder replays a schedule and writes down each decision as Bytes
// would read it.
type recorder struct {
	replay *sim.Replay
	bytes  []byte
}

func (r *recorder) Choose(m *sim.Machine, moves []sim.Move) (int, error) {
	i, err := r.replay.Choose(m, moves)
	if err != nil || len(moves) == 1 {
		return i, err
	}
	if len(moves) > 256 {
		r.bytes = append(r.bytes, byte(i>>8))
	}
	r.bytes = append(r.bytes, byte(i))
	return i, nil
}

// corpusHeader starts every Go fuzz corpus file.
const corpusHeader = "go test fuzz v1\n"

// IsCorpus reports whether data is a Go fuzz corpus file.
func IsCorpus(data []byte) bool { return bytes.HasPrefix(data, []byte(corpusHeader)) }

// Corpus writes data as a corpus file for a target taking one []byte.
func Corpus(data []byte) []byte {
	return []byte(corpusHeader + "[]byte(" + strconv.Quote(string(data)) + ")\n")
}

// ParseCorpus reads a corpus file of one []byte value.
func ParseCorpus(data []byte) ([]byte, error) {
	if !IsCorpus(data) {
		return nil, errors.New("not a Go fuzz corpus file")
	}
	line := strings.TrimSpace(string(data[len(corpusHeader):]))
	if !strings.HasPrefix(line, "[]byte(") || !strings.HasSuffix(line, ")") || strings.Contains(line, "\n") {
		return nil, errors.New("corpus file: want a single []byte(...) value")
	}
	s, err := strconv.Unquote(line[len("[]byte(") : len(line)-1])
	if err != nil {
		return nil, fmt.Errorf("corpus file: %w", err)
	}
	return []byte(s), nil
}

// Schedule runs the target on data and records the run as a schedule
// file, with its failure if it failed.
func (t Target) Schedule(data []byte) (*schedule.File, error) {
	v, err := t.Values()
	if err != nil {
		return nil, err
	}
	r := explore.Run(t.Scenario, v, scenario.Options{}, sim.NewBytes(data))
	if r.Err != nil {
		return nil, r.Err
	}
	return &schedule.File{Scenario: t.Scenario.Name, Params: t.Scenario.Set(v), MaxSteps: sim.DefaultMaxSteps,
		FoundBy: "fuzz " + t.Name, Failure: explore.Record(r.Failure), Decisions: r.Tokens()}, nil
}

// FromCorpus turns a corpus file into a schedule; the target, one of
// targets, is the name of the directory the file is in
// (testdata/fuzz/<Target>/<file>).
func FromCorpus(targets []Target, dir string, data []byte) (*schedule.File, error) {
	in, err := ParseCorpus(data)
	if err != nil {
		return nil, err
	}
	t, err := Find(targets, dir)
	if err != nil {
		return nil, fmt.Errorf("a corpus file must sit in testdata/fuzz/<Target>/: %w", err)
	}
	return t.Schedule(in)
}
