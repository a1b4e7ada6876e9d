package trace

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/kernelsim/lfsim/sim"
)

// perfettoEvent is one event of the Chrome trace event format, which
// Perfetto and chrome://tracing open: a complete event (ph X) for a
// context, an async span (ph b and e) for an operation, an instant (ph i)
// for each event, metadata
// (ph M) naming the tracks.
type perfettoEvent struct {
	Name string            `json:"name"`
	Cat  string            `json:"cat,omitempty"`
	Ph   string            `json:"ph"`
	Ts   float64           `json:"ts"`
	Dur  *float64          `json:"dur,omitempty"`
	Pid  int               `json:"pid"`
	Tid  int               `json:"tid"`
	S    string            `json:"s,omitempty"`
	ID   int               `json:"id,omitempty"`
	Args map[string]string `json:"args,omitempty"`
}

// Perfetto writes the run's timeline in the Chrome trace event format:
// one track per CPU, on which contexts nest as the kernel stacks them,
// and the operations of the code under test as async spans beside it. One step is one microsecond, so the
// times Perfetto shows are step numbers; the events of one step follow
// each other a thousandth of a step apart.
func Perfetto(w io.Writer, events []sim.Event, p Page) error {
	tl := newTimeline(events, p.CPUs)
	evs := []perfettoEvent{{Name: "process_name", Ph: "M", Args: map[string]string{"name": p.Title}}}
	for c := range p.CPUs {
		evs = append(evs, perfettoEvent{Name: "thread_name", Ph: "M", Tid: c, Args: map[string]string{"name": fmt.Sprintf("CPU%d", c)}})
	}
	calls := 0
	for _, s := range tl.spans {
		// A span ends just after its last event, before the next one.
		from := at(s.from, s.fromK)
		dur := at(s.to, s.toK) + 0.0005 - from
		if s.op {
			// An operation stays in flight while its task is preempted,
			// so it need not nest in one context: an async span.
			calls++
			args := map[string]string{"context": s.ctx, "result": s.result}
			evs = append(evs,
				perfettoEvent{Name: s.name, Cat: "call", Ph: "b", Ts: from, Tid: s.cpu, ID: calls, Args: args},
				perfettoEvent{Name: s.name, Cat: "call", Ph: "e", Ts: from + dur, Tid: s.cpu, ID: calls})
			continue
		}
		evs = append(evs, perfettoEvent{Name: s.name, Cat: [...]string{"task", "softirq", "hardirq"}[s.level], Ph: "X", Ts: from, Dur: &dur, Tid: s.cpu})
	}
	for _, m := range tl.marks {
		args := map[string]string{"step": fmt.Sprint(m.step), "context": m.ctx}
		if m.source != "" {
			args["source"] = m.source
		}
		evs = append(evs, perfettoEvent{Name: m.text, Cat: m.kind, Ph: "i", S: "t", Ts: at(m.step, m.k), Tid: m.cpu, Args: args})
	}
	if f := tl.fail; f != nil {
		tid, scope := f.cpu, "t"
		if tid < 0 {
			tid, scope = 0, "g"
		}
		evs = append(evs, perfettoEvent{Name: f.text, Cat: "failure", Ph: "i", S: scope, Ts: at(f.step, f.k), Tid: tid, Args: map[string]string{"failure": p.Failure}})
	}
	enc := json.NewEncoder(w)
	return enc.Encode(struct {
		TraceEvents     []perfettoEvent `json:"traceEvents"`
		DisplayTimeUnit string          `json:"displayTimeUnit"`
	}{evs, "ns"})
}

// at is the time of the k-th event of a step, in microseconds.
func at(step, k int) float64 { return float64(step) + float64(min(k, 999))/1000 }
