package sim

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Failure kinds the machine detects by itself. Workloads add their own
// (through Ctx.Fail and end-of-run checks).
const (
	KindBug         = "bug"           // BUG_ON, or a context rule the kernel enforces with BUG
	KindPanic       = "panic"         // panic() in simulated code
	KindOutOfBounds = "out-of-bounds" // an index outside an array in simulated code
	KindNilDeref    = "nil-dereference"
	KindGoPanic     = "go-panic"    // any other Go panic in simulated code
	KindDeadlock    = "deadlock"    // nothing can run and tasks sleep
	KindSoftLockup  = "soft-lockup" // contexts spin on memory nobody can change
	KindStepBudget  = "step-budget"
	KindWatchdog    = "watchdog" // no scheduling point within the host-time limit
)

// Failure is what ended a run: what kind of failure, in words, and where.
type Failure struct {
	Kind    string
	Message string
	// Step is the number of decisions taken when it happened.
	Step int
	// CPU and Context say who failed (-1 and "" for the whole machine).
	CPU     int
	Context string
	// Source is the file:line of the simulated code, when known.
	Source string
	// Check is the file:line (or the name) of the end-of-run check that
	// found the failure, when no line of simulated code did.
	Check string
	// Value, for a failure about one value (lost, or dequeued twice), is
	// that value as the machine's cells print it, so that a reader of
	// the trace can find the step that lost or repeated it.
	Value string
	// Attach, when set, writes supplementary material about the failure
	// (a checker's visualisation) to path.
	Attach func(path string) error

	frame *Ctx
}

func (f *Failure) Error() string { return f.Kind + ": " + f.Message }

// Where describes the step, CPU, context and source line of the failure.
func (f *Failure) Where() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d", f.Step)
	if f.CPU >= 0 {
		fmt.Fprintf(&b, ", CPU%d", f.CPU)
	}
	if f.Context != "" {
		b.WriteString(", " + f.Context)
	}
	if f.Source != "" {
		b.WriteString(", " + f.Source)
	}
	if f.Check != "" {
		b.WriteString(", found by the check at " + f.Check)
	}
	return b.String()
}

// Site is where the failure was detected: the simulated code's line, else
// the check that found it, else (for failures of the whole machine, such as
// a deadlock) the message with every number masked.
func (f *Failure) Site() string {
	switch {
	case f.Source != "":
		return f.Source
	case f.Check != "":
		return f.Check
	}
	return MaskNumbers(f.Message)
}

// ID is the failure's identity, its kind and site: every run that fails
// the same way has the same ID, whatever step numbers, objects, counts and
// values its message names. Shrinking keeps it, and tests of a must-fail
// scenario assert it.
func (f *Failure) ID() string { return f.Kind + " at " + f.Site() }

// Same reports whether g is the same failure as f: same kind, same site.
func (f *Failure) Same(g *Failure) bool {
	return f != nil && g != nil && f.ID() == g.ID()
}

// MaskNumbers replaces every run of decimal digits in s by "#".
func MaskNumbers(s string) string {
	var b strings.Builder
	digits := false
	for _, r := range s {
		d := r >= '0' && r <= '9'
		if !d {
			b.WriteRune(r)
		} else if !digits {
			b.WriteByte('#')
		}
		digits = d
	}
	return b.String()
}

// Failf makes the failure an end-of-run check reports, its Check set to
// the caller's file:line: the check's own line is its site, so every
// failure it reports is the same failure whatever the numbers in it.
func Failf(kind, format string, args ...any) *Failure {
	file, line := callerLine(2)
	return &Failure{Kind: kind, Message: fmt.Sprintf(format, args...), CPU: -1, Check: shortPos(file, line)}
}

// panicFailure names a Go panic raised by simulated code running in frame f.
// It runs in the deferred recover, where the panicking frames are still on
// the stack: the first frame below the runtime's panic machinery is the
// simulated code's line.
func panicFailure(f *Ctx, r any) *Failure {
	kind, msg := KindGoPanic, fmt.Sprint(r)
	if re, ok := r.(runtime.Error); ok {
		msg = strings.TrimPrefix(re.Error(), "runtime error: ")
		switch {
		case strings.Contains(msg, "out of range"):
			kind = KindOutOfBounds
		case strings.Contains(msg, "nil pointer"):
			kind = KindNilDeref
		}
	}
	fl := f.failure(kind, msg, nil)
	fl.Source = panicSource()
	return fl
}

func panicSource() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(1, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	inPanic := false
	for {
		fr, more := frames.Next()
		if strings.HasPrefix(fr.Function, "runtime.") {
			inPanic = inPanic || fr.Function == "runtime.gopanic" || strings.HasPrefix(fr.Function, "runtime.panic") || strings.HasPrefix(fr.Function, "runtime.goPanic") || fr.Function == "runtime.sigpanic"
		} else if inPanic {
			return shortPos(fr.File, fr.Line)
		}
		if !more {
			return ""
		}
	}
}

// shortPos shows a source position as its directory and file name.
func shortPos(file string, line int) string {
	if file == "" {
		return ""
	}
	dir, base := filepath.Split(file)
	return filepath.Join(filepath.Base(dir), base) + ":" + strconv.Itoa(line)
}
