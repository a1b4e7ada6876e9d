// Package trace renders a traced run for people: a table with a column
// per CPU that reads as the story of the run, or one line per event for
// grep. The table groups memory events under the operation of the code
// under test that made them (sim.Ctx.Call and Return), shows an operation
// no other CPU interleaved with as one line, folds a spin loop's repeated
// iterations into one line with a count, and wraps rather than clips, so
// that a shrunk failure fits a terminal.
package trace

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/kernelsim/lfsim/sim"
)

// DefaultWidth is the page width a table is laid out for.
const DefaultWidth = 160

// Options select and lay out what is shown. The zero value shows every
// event of every CPU, folded, 160 columns wide.
type Options struct {
	// CPUs is the machine's size: the table has a column per CPU.
	CPUs int
	// From and To bound the steps shown (0: no bound). Events that follow
	// a decision belong to its step.
	From, To int
	// Only lists the CPUs to show (nil: all). Machine-wide lines and the
	// failure are always shown.
	Only []int
	// Full shows every event: no operation or spin loop is folded.
	Full bool
	// Width is the page width (0: DefaultWidth).
	Width int
}

func (o Options) width() int {
	if o.Width > 0 {
		return o.Width
	}
	return DefaultWidth
}

// shows reports whether the row is in the selection.
func (o Options) shows(r row) bool {
	if r.fail || r.cpu < 0 {
		return true
	}
	if o.Only != nil && !slices.Contains(o.Only, r.cpu) {
		return false
	}
	if r.first == 0 {
		// Not a decision: it belongs to the step before it.
		return (o.From == 0 || r.step >= o.From) && (o.To == 0 || r.step <= o.To)
	}
	return (o.From == 0 || r.last >= o.From) && (o.To == 0 || r.first <= o.To)
}

// row is one line of the story before layout: an event, a context's
// header, an operation folded to one line, or a folded spin loop.
type row struct {
	cpu         int // -1: the line spans the table
	ctx         string
	step        int // the step the row belongs to
	first, last int // the decisions it covers (0: none)
	text        string
	header      bool // a context's header, "[task rx/0]"
	fail        bool
	spin        bool // may fold with rows like it (see foldLoops)
}

func (r row) label() string {
	switch {
	case r.first == 0:
		return ""
	case r.last > r.first:
		return fmt.Sprintf("#%d-%d", r.first, r.last)
	default:
		return fmt.Sprintf("#%d", r.first)
	}
}

// Lines writes the trace one line per event, unfolded:
//
//	#12     CPU1  softirq NET_RX over idle/1  READ_ONCE head -> 3   ring2005/ring.go:40
func Lines(w io.Writer, events []sim.Event, o Options) error {
	c, blamed := FindCulprit(events)
	var sel []sim.Event
	for i, e := range events {
		if o.shows(row{cpu: e.CPU, step: e.Step, first: decision(e), last: decision(e), fail: e.Kind == sim.EvFailure}) {
			if blamed && i == c.Index {
				e.Note = strings.TrimPrefix(e.Note+"; ", "; ") + c.Note
			}
			sel = append(sel, e)
		}
	}
	ctxW := 0
	for _, e := range sel {
		ctxW = max(ctxW, len(e.Ctx))
	}
	for _, e := range sel {
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

func decision(e sim.Event) int {
	if e.Decision {
		return e.Step
	}
	return 0
}

// Columns writes the trace as a table with one column per CPU, the way
// interleavings are drawn on a whiteboard: time runs down, each event
// sits in its CPU's column, and a context change on a CPU gets its own
// line. Unless o.Full, an operation that ran with no other CPU's event
// inside it is one line ("#3-12  mp_enqueue([1 2]) -> 2"), and a run of
// identical spin iterations is one line with its count.
func Columns(w io.Writer, events []sim.Event, o Options) error {
	culprit, ok := FindCulprit(events)
	if !ok {
		culprit.Index = -1
	}
	rows := story(events, o.Full, culprit)
	if !o.Full {
		rows = foldLoops(rows)
	}
	var shown []row
	for _, r := range rows {
		if o.shows(r) {
			shown = append(shown, r)
		}
	}
	cols := o.Only
	if cols == nil {
		// Every CPU that has something to show: an idle CPU's empty
		// column would only narrow the others.
		used := map[int]bool{}
		for _, r := range shown {
			used[r.cpu] = true
		}
		for i := range o.CPUs {
			if used[i] {
				cols = append(cols, i)
			}
		}
	}
	return layout(w, shown, cols, o.width())
}

// story turns events into rows: a header where a CPU changes context,
// operations indented under their call, and (unless full) an operation
// with no other CPU's event inside folded to one row. The culprit (see
// FindCulprit; Index -1 for none) is never folded and says what it did.
func story(events []sim.Event, full bool, culprit Culprit) []row {
	var rows []row
	lastCtx := map[int]string{}
	depth := map[string]int{} // open calls by context
	for i := 0; i < len(events); i++ {
		e := events[i]
		if e.CPU < 0 {
			rows = append(rows, row{cpu: -1, step: e.Step, first: decision(e), last: decision(e), text: e.Text(), fail: e.Kind == sim.EvFailure})
			continue
		}
		if lastCtx[e.CPU] != e.Ctx {
			lastCtx[e.CPU] = e.Ctx
			if e.Kind != sim.EvCall && e.Kind != sim.EvFailure && e.Kind != sim.EvOp {
				// What enters the context (an interrupt firing, a task
				// scheduled) shares its header's row; an operation keeps
				// a row of its own, to fold with the loop it may be in.
				rows = append(rows, row{cpu: e.CPU, ctx: e.Ctx, step: e.Step, first: decision(e), last: decision(e), text: "[" + e.Ctx + "] " + e.Text(), header: true})
				continue
			}
			rows = append(rows, row{cpu: e.CPU, ctx: e.Ctx, step: e.Step, text: "[" + e.Ctx + "]", header: true})
		}
		if e.Kind == sim.EvFailure {
			rows = append(rows, row{cpu: e.CPU, ctx: e.Ctx, step: e.Step, first: decision(e), last: decision(e), text: e.Text(), fail: true})
			continue
		}
		if e.Kind == sim.EvCall && !full {
			if j := foldable(events, i); j > 0 && (culprit.Index < i || culprit.Index > j) {
				r := row{cpu: e.CPU, ctx: e.Ctx, step: e.Step, text: indent(depth[e.Ctx]) + e.Text() + " -> " + events[j].Value}
				if events[j].Value == "" {
					r.text = indent(depth[e.Ctx]) + e.Text() + " returns"
				}
				for _, in := range events[i+1 : j+1] {
					if in.Decision {
						r.first = cmp0(r.first, in.Step)
						r.last = in.Step
					}
				}
				r.step = events[j].Step
				rows = append(rows, r)
				i = j
				continue
			}
		}
		if e.Kind == sim.EvReturn {
			depth[e.Ctx] = max(depth[e.Ctx]-1, 0)
		}
		r := row{cpu: e.CPU, ctx: e.Ctx, step: e.Step, first: decision(e), last: decision(e), text: indent(depth[e.Ctx]) + text(e)}
		r.spin = e.Kind == sim.EvOp && e.Note == ""
		if i == culprit.Index {
			r.text += "  <- " + culprit.Note
			r.spin = false
		}
		rows = append(rows, r)
		if e.Kind == sim.EvCall {
			depth[e.Ctx]++
		}
	}
	return rows
}

func cmp0(a, b int) int {
	if a == 0 {
		return b
	}
	return a
}

func indent(depth int) string { return strings.Repeat("  ", depth) }

// text is an event as a cell shows it, with its source position.
func text(e sim.Event) string {
	if src := e.Source(); src != "" && e.Kind == sim.EvOp {
		return e.Text() + "  @" + src
	}
	return e.Text()
}

// foldable returns the index of the return that ends the call at
// events[i] when every event up to it ran in the call's context on its
// CPU and none is a note, a failure or an operation with a note of its
// own (an ABA, a spin's wait): what a reader must see. It returns -1
// otherwise, or when the call never returned.
func foldable(events []sim.Event, i int) int {
	c := events[i]
	open := 1
	for j := i + 1; j < len(events); j++ {
		e := events[j]
		if e.CPU != c.CPU || e.Ctx != c.Ctx || e.Kind == sim.EvNote || e.Kind == sim.EvFailure || e.Note != "" && e.Kind == sim.EvOp {
			return -1
		}
		switch e.Kind {
		case sim.EvCall:
			open++
		case sim.EvReturn:
			if open--; open == 0 {
				return j
			}
		}
	}
	return -1
}

// maxPeriod is the longest loop iteration, in rows, that foldLoops finds.
const maxPeriod = 4

// foldLoops folds a block of rows that repeats right after itself, on one
// CPU in one context with nothing between. A spin loop's identical
// iterations become one row with their count ("READ_ONCE q.producer.tail
// -> 0; cpu_relax (5 times)"); iterations that differ only in numbers
// (slots, values, source lines of an unrolled copy) keep their first and
// last, with a row between that counts the rest.
func foldLoops(rows []row) []row {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = shape(r.text)
	}
	var out []row
	for k := 0; k < len(rows); {
		bestP, bestN := 0, 1
		for p := 1; p <= maxPeriod && k+2*p <= len(rows); p++ {
			n := repeats(rows, keys, k, p)
			if n >= 2 && n*p > bestN*max(bestP, 1) && n*p-fold(rows, k, p, n) >= 2 {
				bestP, bestN = p, n
			}
		}
		if bestP == 0 {
			out = append(out, rows[k])
			k++
			continue
		}
		p, n := bestP, bestN
		first, last := rows[k:k+p], rows[k+p*(n-1):k+p*n]
		if same(rows, k, p, n) {
			texts := make([]string, p)
			for i, r := range first {
				texts[i] = strings.TrimLeft(r.text, " ")
			}
			r := row{cpu: first[0].cpu, ctx: first[0].ctx, step: last[p-1].step, first: first[0].first, last: last[p-1].last}
			r.text = leading(first[0].text) + strings.Join(texts, "; ") + fmt.Sprintf(" (%d times)", n)
			out = append(out, r)
		} else {
			out = append(out, first...)
			mid := rows[k+p : k+p*(n-1)]
			r := row{cpu: first[0].cpu, ctx: first[0].ctx, step: mid[len(mid)-1].step, first: mid[0].first, last: mid[len(mid)-1].last}
			r.text = leading(first[0].text) + fmt.Sprintf("... %d more times like this", n-2)
			out = append(out, r)
			out = append(out, last...)
		}
		k += p * n
	}
	return out
}

// fold is how many rows folding n repeats of rows[k:k+p] leaves: one for
// identical repeats, else the first, a count and the last.
func fold(rows []row, k, p, n int) int {
	if same(rows, k, p, n) {
		return 1
	}
	return 2*p + 1
}

// same reports whether the n repeats of rows[k:k+p] are identical.
func same(rows []row, k, p, n int) bool {
	for at := k + p; at < k+p*n; at++ {
		if rows[at].text != rows[at-p].text {
			return false
		}
	}
	return true
}

// shape is a row's text with every number replaced by #, so that two
// iterations of one loop have the same shape.
func shape(s string) string {
	var b strings.Builder
	digits := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteByte(s[i])
	}
	return b.String()
}

// repeats counts how often rows[k:k+p] occurs in a row from k, by shape.
func repeats(rows []row, keys []string, k, p int) int {
	for _, r := range rows[k : k+p] {
		if !r.spin || r.cpu != rows[k].cpu || r.ctx != rows[k].ctx {
			return 0
		}
	}
	n := 1
	for at := k + p; at+p <= len(rows); at += p {
		for i := range p {
			if keys[at+i] != keys[k+i] || !rows[at+i].spin || rows[at+i].cpu != rows[k].cpu || rows[at+i].ctx != rows[k].ctx {
				return n
			}
		}
		n++
	}
	return n
}

func leading(s string) string { return s[:len(s)-len(strings.TrimLeft(s, " "))] }

// minColumn is the narrowest a column gets, however many CPUs share the
// page: below it a table stops being readable, and wider lines are
// better than that.
const minColumn = 16

// layout writes rows as a table of the given CPUs' columns, width
// columns wide: a cell's text wraps within its column, a line that spans
// the table wraps within the page.
func layout(w io.Writer, rows []row, cols []int, width int) error {
	stepW := len("step")
	for _, r := range rows {
		stepW = max(stepW, len(r.label()))
	}
	stepW++
	colW := 20
	for _, r := range rows {
		if r.cpu >= 0 && !r.fail {
			colW = max(colW, len(r.text))
		}
	}
	if n := len(cols); n > 0 {
		colW = max(min(colW, (width-stepW)/n-2), minColumn)
	}
	at := map[int]int{}
	for i, c := range cols {
		at[c] = i
	}
	bw := &errWriter{w: w}
	var b strings.Builder
	line := func(step string, col int, cell string) {
		b.Reset()
		fmt.Fprintf(&b, "%-*s", stepW, step)
		for i := range cols {
			text := ""
			if i == col {
				text = cell
			}
			fmt.Fprintf(&b, "| %-*s", colW, text)
		}
		bw.println(strings.TrimRight(b.String(), " "))
	}
	b.WriteString(fmt.Sprintf("%-*s", stepW, "step"))
	head := b.String()
	for _, c := range cols {
		head += fmt.Sprintf("| %-*s", colW, fmt.Sprintf("CPU%d", c))
	}
	bw.println(strings.TrimRight(head, " "))
	for _, r := range rows {
		col, ok := at[r.cpu]
		if r.fail && ok && len(r.text) > colW {
			// Marked in its column, told across the table.
			line(r.label(), col, "FAIL")
			r.first = 0
		}
		if r.cpu < 0 || r.fail && (!ok || len(r.text) > colW) {
			for i, l := range wrap(r.text, width-stepW-2) {
				step := ""
				if i == 0 {
					step = r.label()
				} else {
					l = "  " + l
				}
				bw.println(strings.TrimRight(fmt.Sprintf("%-*s  %s", stepW, step, l), " "))
			}
			continue
		}
		if !ok {
			continue
		}
		pad := leading(r.text)
		for i, l := range wrap(strings.TrimLeft(r.text, " "), colW-len(pad)) {
			step := ""
			if i == 0 {
				step = r.label()
			} else {
				l = "  " + l // a continuation, under the cell's first line
			}
			line(step, col, pad+l)
		}
	}
	return bw.err
}

// wrap breaks s into lines of at most n bytes, at spaces where it can.
// A continuation line is indented by two spaces, so it is shorter by two.
func wrap(s string, n int) []string {
	n = max(n, 8)
	var lines []string
	for len(s) > n {
		cut := strings.LastIndexByte(s[:n+1], ' ')
		if cut <= n/3 {
			cut = n // no good space: break the word
		}
		lines = append(lines, strings.TrimRight(s[:cut], " "))
		s = strings.TrimLeft(s[cut:], " ")
		if len(lines) == 1 {
			n -= 2
		}
	}
	return append(lines, s)
}

// errWriter keeps the first write error, so that layout reads as what it
// writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) println(s string) {
	if e.err == nil {
		_, e.err = fmt.Fprintln(e.w, s)
	}
}

// EventJSON is an event as JSON output gives it.
type EventJSON struct {
	Step     int    `json:"step"`
	Decision bool   `json:"decision,omitempty"`
	Kind     string `json:"kind"`
	CPU      int    `json:"cpu"`
	Ctx      string `json:"ctx,omitempty"`
	Op       string `json:"op,omitempty"`
	Var      string `json:"var,omitempty"`
	Value    string `json:"value,omitempty"`
	Note     string `json:"note,omitempty"`
	Source   string `json:"source,omitempty"`
	Text     string `json:"text"`
}

// JSON is the events o selects (its step range and CPUs), unfolded.
func JSON(events []sim.Event, o Options) []EventJSON {
	out := []EventJSON{}
	for _, e := range events {
		if !o.shows(row{cpu: e.CPU, step: e.Step, first: decision(e), last: decision(e), fail: e.Kind == sim.EvFailure}) {
			continue
		}
		out = append(out, EventJSON{e.Step, e.Decision, e.Kind.String(), e.CPU, e.Ctx, e.Op, e.Var, e.Value, e.Note, e.Source(), e.Text()})
	}
	return out
}
