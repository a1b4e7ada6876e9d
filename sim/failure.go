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
	return b.String()
}

// Same reports whether g is the same failure as f: same kind and message.
func (f *Failure) Same(g *Failure) bool {
	return f != nil && g != nil && f.Kind == g.Kind && f.Message == g.Message
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
