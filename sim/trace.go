package sim

import "fmt"

// EventKind is what a trace line records.
type EventKind uint8

const (
	EvNone    EventKind = iota
	EvOp                // a memory, barrier or context operation
	EvStart             // a task starts
	EvExit              // a task's function returned
	EvSwitch            // a task is scheduled on a CPU (preempting another)
	EvIRQ               // a hardirq fires
	EvIRQExit           // a hardirq handler returns
	EvSoftirq           // a softirq handler starts
	EvNote              // the workload's own annotation
	EvFailure           // what ended the run
	EvCall              // an operation of the code under test starts (Ctx.Call)
	EvReturn            // that operation returns (Ctx.Return)
)

// String names the kind as JSON output and the timeline give it.
func (k EventKind) String() string {
	names := [...]string{"none", "op", "start", "exit", "switch", "irq", "irq_exit", "softirq", "note", "failure", "call", "return"}
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is one trace line.
type Event struct {
	// Step is the decision the event belongs to (1-based). Decision is
	// true for the event that is the decision itself; the others follow
	// from it (irq_exit, softirq entry, notes, the failure).
	Step     int
	Decision bool
	Kind     EventKind
	CPU      int    // -1 for the machine as a whole
	Ctx      string // "task rx/0", "softirq NET_RX over idle/1", ...
	Op       string // kernel-style operation name
	Var      string // the cell, for memory operations
	Value    string // what was read, written or returned; a failure's value (Failure.Value)
	Note     string
	File     string
	Line     int

	frame *Ctx
}

// recordOp records the operation event exec built in the scratch event,
// when tracing.
func (m *Machine) recordOp(e *Event) {
	if m.cfg.Trace {
		m.record(*e)
	}
}

func (m *Machine) record(e Event) {
	if !m.cfg.Trace || e.Kind == EvNone {
		return
	}
	e.Step = m.step
	if e.frame != nil {
		e.Ctx = e.frame.label()
		e.frame = nil
	}
	m.trace = append(m.trace, e)
}

// Source is the event's file:line, shortened to directory/file.
func (e Event) Source() string { return shortPos(e.File, e.Line) }

// Text is the event without step, CPU and context: "READ_ONCE head -> 3".
func (e Event) Text() string {
	switch e.Kind {
	case EvOp:
		s := e.Op
		if e.Var != "" {
			s += " " + e.Var
		}
		if e.Value != "" {
			s += " " + e.Value
		}
		if e.Note != "" {
			s += " (" + e.Note + ")"
		}
		return s
	case EvStart:
		return "start"
	case EvExit:
		return "exit"
	case EvIRQExit:
		return "irq_exit"
	case EvFailure:
		return "FAIL " + e.Note
	case EvCall:
		return e.Op + "(" + e.Value + ")"
	case EvReturn:
		if e.Value == "" {
			return e.Op + " returns"
		}
		return e.Op + " -> " + e.Value
	default:
		return e.Note
	}
}
