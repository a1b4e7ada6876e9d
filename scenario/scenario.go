// Package scenario is the catalogue of named, parameterised workloads that
// tests, fuzz targets and the simrun command all run. A scenario builds a
// machine's contents (its subject, tasks and interrupt sources) from
// parameter values and states its own end-of-run check.
package scenario

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kernelsim/lfsim/sim"
)

// Param is one parameter of a scenario: an integer in [Min, Max], or one of
// Choices when those are given.
type Param struct {
	Name     string
	Doc      string
	Default  string
	Min, Max int
	Choices  []string
	// Shrink marks a count a shrinker may lower (packets, operations).
	Shrink bool
}

func (p Param) check(v string) error {
	if len(p.Choices) > 0 {
		if !slices.Contains(p.Choices, v) {
			return fmt.Errorf("%s=%s: want one of %s", p.Name, v, strings.Join(p.Choices, ", "))
		}
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%s=%s: want an integer", p.Name, v)
	}
	if n < p.Min || n > p.Max {
		return fmt.Errorf("%s=%d: want %d..%d", p.Name, n, p.Min, p.Max)
	}
	return nil
}

// Values are a scenario's parameter values, every parameter present.
type Values map[string]string

// Int returns an integer parameter.
func (v Values) Int(name string) int {
	n, err := strconv.Atoi(v[name])
	if err != nil {
		panic(fmt.Sprintf("scenario: parameter %s=%q is not an integer", name, v[name]))
	}
	return n
}

// String renders the values as "k=v k=v" in the scenario's parameter order.
func (s *Scenario) String(v Values) string {
	parts := make([]string, len(s.Params))
	for i, p := range s.Params {
		parts[i] = p.Name + "=" + v[p.Name]
	}
	return strings.Join(parts, " ")
}

// Check is an end-of-run check: it looks at the subject's state after a
// clean run and returns the failure it finds, or nil.
type Check func() *sim.Failure

// Scenario is one entry of the catalogue.
type Scenario struct {
	Name    string
	Summary string
	// Fails tells whether the scenario is a known-bad subject that
	// exploration is expected to break (the 2005 ring), or must pass.
	Fails  bool
	Params []Param
	// CPUs is the machine size the values ask for.
	CPUs func(Values) int
	// Build populates m and returns the end-of-run check.
	Build func(m *sim.Machine, v Values) Check
	// Validate rejects combinations that single parameters cannot.
	Validate func(Values) error
	// AllocFailures, when set, is how many allocations the strategy may
	// make fail in a run.
	AllocFailures func(Values) int
	// Units, when set, is how many units of work (alloc+free pairs) a run
	// does: costs are reported per unit.
	Units func(Values) int
}

// Values returns the defaults overridden by set ("key=value" each),
// checked against the parameter declarations.
func (s *Scenario) Values(set []string) (Values, error) {
	v := Values{}
	for _, p := range s.Params {
		v[p.Name] = p.Default
	}
	for _, kv := range set {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want key=value", kv)
		}
		i := slices.IndexFunc(s.Params, func(p Param) bool { return p.Name == k })
		if i < 0 {
			return nil, fmt.Errorf("scenario %s has no parameter %q (it has: %s)", s.Name, k, s.paramNames())
		}
		if err := s.Params[i].check(val); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		v[k] = val
	}
	if s.Validate != nil {
		if err := s.Validate(v); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
	}
	return v, nil
}

// ValuesOf is the values a schedule or a record gives as "key=value",
// which must name every parameter of the scenario once: a file that lacks
// one would otherwise run with today's default, not the value it was
// found with.
func (s *Scenario) ValuesOf(params []string) (Values, error) {
	seen := map[string]bool{}
	for _, kv := range params {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			return nil, fmt.Errorf("scenario %s: parameter %s given twice", s.Name, k)
		}
		seen[k] = true
	}
	for _, p := range s.Params {
		if !seen[p.Name] {
			return nil, fmt.Errorf("scenario %s: the file gives no value for parameter %s (it has: %s)", s.Name, p.Name, s.paramNames())
		}
	}
	return s.Values(params)
}

func (s *Scenario) paramNames() string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// Set renders v as the key=value list Values accepts.
func (s *Scenario) Set(v Values) []string {
	set := make([]string, len(s.Params))
	for i, p := range s.Params {
		set[i] = p.Name + "=" + v[p.Name]
	}
	return set
}

// Catalogue is a list of scenarios with distinct names: the project's own
// (Builtin), a user's, or both.
type Catalogue []*Scenario

// builtin is the project's own scenarios, in the order simrun lists them.
var builtin = append(append(Catalogue{ring2005Scenario(false), ring2005Scenario(true)}, alfScenarios()...),
	skbScenario(), qmempoolHardirqScenario())

// Builtin returns the project's own scenarios.
func Builtin() Catalogue { return slices.Clone(builtin) }

// registered are the scenarios a program added with Register, in order.
var registered struct {
	sync.Mutex
	list Catalogue
}

// Register adds a scenario of one's own to the process's catalogue (All,
// Lookup, and so every command and library call that looks scenarios up by
// name), typically from an init function. It refuses a scenario that
// Catalogue.Validate refuses, or whose name is taken. Passing scenarios
// explicitly (simrun.Command, check.RunScenario) needs no registration.
func Register(s *Scenario) error {
	registered.Lock()
	defer registered.Unlock()
	all := append(slices.Clone(builtin), registered.list...)
	if err := append(all, s).Validate(); err != nil {
		return fmt.Errorf("scenario.Register: %w", err)
	}
	registered.list = append(registered.list, s)
	return nil
}

// All returns the project's own scenarios and then the registered ones.
func All() Catalogue {
	registered.Lock()
	defer registered.Unlock()
	return append(slices.Clone(builtin), registered.list...)
}

// Registered returns the scenarios added with Register, in order.
func Registered() Catalogue {
	registered.Lock()
	defer registered.Unlock()
	return slices.Clone(registered.list)
}

// Lookup finds a scenario of All by name.
func Lookup(name string) (*Scenario, error) { return All().Lookup(name) }

// Lookup finds a scenario by name.
func (c Catalogue) Lookup(name string) (*Scenario, error) {
	for _, s := range c {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(c.Names(), ", "))
}

// Names lists the scenarios' names in order.
func (c Catalogue) Names() []string {
	names := make([]string, len(c))
	for i, s := range c {
		names[i] = s.Name
	}
	return names
}

// Validate checks that every scenario can be run: a name that fits on a
// schedule file's line, no name twice, a machine size and a workload, and
// defaults that its own parameter declarations accept.
func (c Catalogue) Validate() error {
	seen := map[string]bool{}
	for i, s := range c {
		switch {
		case s == nil:
			return fmt.Errorf("scenario %d is nil", i)
		case s.Name == "" || strings.ContainsAny(s.Name, " \t\r\n/"):
			return fmt.Errorf("scenario %d: name %q: want a non-empty name without spaces or slashes", i, s.Name)
		case seen[s.Name]:
			return fmt.Errorf("scenario %s is listed twice", s.Name)
		case s.CPUs == nil || s.Build == nil:
			return fmt.Errorf("scenario %s: CPUs and Build must be set", s.Name)
		}
		seen[s.Name] = true
		if _, err := s.Values(nil); err != nil {
			return fmt.Errorf("defaults: %w", err)
		}
	}
	return nil
}

// Options are the machine settings of a run that do not come from the
// scenario's parameters.
type Options struct {
	MaxSteps  int
	Trace     bool
	Positions bool      // see sim.Config.Positions
	Host      *sim.Host // runs the machine on the host's goroutines (nil: its own)
	// Cover, when set, collects every run's concurrency coverage.
	Cover *sim.Coverage
	// Stop, when closed, stops a run part-way (see sim.Config.Stop).
	Stop <-chan struct{}
}

// WorkloadDir is the directory of the source file the scenario's Build
// function is in, or "" when the build recorded none.
func (s *Scenario) WorkloadDir() string {
	fn := runtime.FuncForPC(reflect.ValueOf(s.Build).Pointer())
	if fn == nil {
		return ""
	}
	file, _ := fn.FileLine(fn.Entry())
	return filepath.Dir(file)
}

// Run builds the scenario with values v on a fresh machine, runs it under
// strategy and applies the end-of-run check to a clean run.
func (s *Scenario) Run(v Values, opt Options, strategy sim.Strategy) sim.Result {
	cfg := sim.Config{CPUs: s.CPUs(v), MaxSteps: opt.MaxSteps, Trace: opt.Trace, Positions: opt.Positions, Host: opt.Host, Cover: opt.Cover, Stop: opt.Stop}
	if s.AllocFailures != nil {
		cfg.AllocFailures = s.AllocFailures(v)
	}
	m, err := sim.New(cfg)
	if err != nil {
		return sim.Result{Err: err}
	}
	check, err := s.build(m, v)
	if err != nil {
		return sim.Result{Err: err}
	}
	r := m.Run(strategy)
	if r.Failure == nil && r.Err == nil && check != nil {
		if f := runCheck(check); f != nil {
			r = m.EndFailure(f)
		}
	}
	return r
}

// runCheck runs an end-of-run check; a check that panics (reading a
// structure the run left corrupt, say) reports a failure of its own.
func runCheck(check Check) (f *sim.Failure) {
	defer func() {
		if r := recover(); r != nil {
			f = &sim.Failure{Kind: sim.KindGoPanic, Message: fmt.Sprintf("the end-of-run check panicked: %v", r), CPU: -1, Check: "end-of-run check"}
		}
	}()
	return check()
}

// build runs the scenario's Build, turning a panic in it (a task pinned to
// a CPU the machine does not have, two tasks of one name) into an error:
// the workload cannot be built, which is no verdict on any schedule.
func (s *Scenario) build(m *sim.Machine, v Values) (check Check, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("building scenario %s: %v", s.Name, r)
		}
	}()
	return s.Build(m, v), nil
}
