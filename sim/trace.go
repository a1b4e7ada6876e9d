package sim

import (
	"fmt"
	"io"
	"strings"
)

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
)

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
	Value    string // what was read, written or returned
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
	default:
		return e.Note
	}
}

// WriteLines writes the trace one line per event:
//
//	#12   CPU1 softirq NET_RX over idle/1  READ_ONCE head -> 3   ring2005/ring.go:40
func WriteLines(w io.Writer, trace []Event) error {
	ctxW := 0
	for _, e := range trace {
		ctxW = max(ctxW, len(e.Ctx))
	}
	for _, e := range trace {
		step := ""
		if e.Decision {
			step = fmt.Sprintf("#%d", e.Step)
		}
		cpu := "    "
		if e.CPU >= 0 {
			cpu = fmt.Sprintf("CPU%d", e.CPU)
		}
		line := fmt.Sprintf("%-7s %-5s %-*s  %s", step, cpu, ctxW, e.Ctx, e.Text())
		if src := e.Source(); src != "" {
			line += "   " + src
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " ")); err != nil {
			return err
		}
	}
	return nil
}

// WriteColumns writes the trace with one column per CPU, the way
// interleavings are drawn on a whiteboard: time runs down, each event sits
// in its CPU's column, and a context change on a CPU gets its own line.
func WriteColumns(w io.Writer, trace []Event, cpus int) error {
	colW := 20
	for _, e := range trace {
		if e.CPU >= 0 {
			colW = max(colW, len(columnText(e)), len(e.Ctx)+2)
		}
	}
	colW = min(colW, 72)
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s", "step")
	for i := range cpus {
		fmt.Fprintf(&b, "| %-*s", colW, fmt.Sprintf("CPU%d", i))
	}
	if _, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " ")); err != nil {
		return err
	}
	lastCtx := make([]string, cpus)
	// row puts text in CPU cpu's column.
	row := func(step string, cpu int, text string) error {
		b.Reset()
		fmt.Fprintf(&b, "%-7s", step)
		for i := range cpus {
			cell := ""
			if i == cpu {
				cell = text
			}
			fmt.Fprintf(&b, "| %-*s", colW, clip(cell, colW))
		}
		_, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		return err
	}
	for _, e := range trace {
		step := ""
		if e.Decision {
			step = fmt.Sprintf("#%d", e.Step)
		}
		if e.CPU < 0 {
			// Machine-wide lines (deadlock, soft lockup, budget) span
			// the table rather than sit in one column.
			if _, err := fmt.Fprintf(w, "%-7s  %s\n", step, e.Text()); err != nil {
				return err
			}
			continue
		}
		if e.Ctx != lastCtx[e.CPU] {
			lastCtx[e.CPU] = e.Ctx
			if err := row("", e.CPU, "["+e.Ctx+"]"); err != nil {
				return err
			}
		}
		if e.Kind == EvFailure {
			if err := row(step, e.CPU, "FAIL"); err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "%-7s  %s\n", "", e.Text()); err != nil {
				return err
			}
			continue
		}
		if err := row(step, e.CPU, columnText(e)); err != nil {
			return err
		}
	}
	return nil
}

// columnText is an event as a column shows it, with its source position.
func columnText(e Event) string {
	if src := e.Source(); src != "" && e.Kind == EvOp {
		return e.Text() + "  @" + src
	}
	return e.Text()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}
