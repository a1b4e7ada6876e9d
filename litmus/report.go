package litmus

import (
	"fmt"
	"io"
	"strings"
)

// PropString writes a proposition in the test's own syntax.
func PropString(p Prop) string {
	switch q := p.(type) {
	case *Eq:
		loc := "[" + q.Loc.Name + "]" // a shared variable, as herd7 writes it
		if q.Loc.Proc >= 0 {
			loc = fmt.Sprintf("%d:%s", q.Loc.Proc, q.Loc.Name)
		}
		if q.Var != "" {
			return loc + "=" + q.Var
		}
		return fmt.Sprintf("%s=%d", loc, q.Value)
	case *And:
		return "(" + PropString(q.X) + " /\\ " + PropString(q.Y) + ")"
	case *Or:
		return "(" + PropString(q.X) + " \\/ " + PropString(q.Y) + ")"
	case *Not:
		return "~" + PropString(q.X)
	case *Const:
		return fmt.Sprint(q.Value)
	}
	return "?"
}

// Agrees reports whether the observation is the verdict the test's
// Result line states; ok is false when it states none, or when the model
// is not the LKMM, whose verdict Result lines state. "DEADLOCK", as the
// kernel's tests write it, is a test no execution of which completes.
func (o *Outcome) Agrees() (agrees, ok bool) {
	if o.Test.Result == "" || o.Model != "lkmm" {
		return false, false
	}
	if o.Test.Result == "DEADLOCK" {
		return o.Positive+o.Negative == 0, true
	}
	return o.Test.Result == o.Observation, true
}

// Write prints the outcome as herd7 does: the final states, the witness
// counts, the condition and the Observation line; explain adds why a
// condition no allowed execution reaches is forbidden.
func (o *Outcome) Write(w io.Writer, explain bool) {
	t := o.Test
	// herd7's words for the three quantifiers; Ok says the condition
	// holds as quantified, and the witnesses count the executions that
	// bear it out (for ~exists, those where the proposition is false),
	// while the Observation line counts the proposition itself.
	kind, holds, pos, neg := "Allowed", o.Positive > 0, o.Positive, o.Negative
	switch t.Final.Quant {
	case NotExists:
		kind, holds, pos, neg = "Forbidden", o.Positive == 0, o.Negative, o.Positive
	case Forall:
		kind, holds = "Required", o.Negative == 0
	}
	fmt.Fprintf(w, "Test %s %s (model %s)\n", t.Name, kind, o.Model)
	fmt.Fprintf(w, "States %d\n", len(o.States))
	for _, s := range o.States {
		fmt.Fprintf(w, "%s\n", s.Text)
	}
	if holds {
		fmt.Fprintln(w, "Ok")
	} else {
		fmt.Fprintln(w, "No")
	}
	fmt.Fprintf(w, "Witnesses\nPositive: %d Negative: %d\n", pos, neg)
	fmt.Fprintf(w, "Condition %s %s\n", t.Final.Quant, PropString(t.Final.Prop))
	for _, f := range o.Flags {
		fmt.Fprintf(w, "Flag %s\n", f)
	}
	fmt.Fprintf(w, "Observation %s %s %d %d\n", t.Name, o.Observation, o.Positive, o.Negative)
	if explain && o.Positive == 0 && o.Forbidden != "" {
		fmt.Fprintf(w, "Forbidden by %s\n", o.Forbidden)
	}
	if agrees, ok := o.Agrees(); ok {
		word := "agrees"
		if !agrees {
			word = "DISAGREES"
		}
		fmt.Fprintf(w, "Result %s %s (the test says %s)\n", word, strings.ToLower(o.Observation), t.Result)
	}
}

// Models are the models by name.
var Models = map[string]Model{"sc": SC{}, "tso": TSO{}, "lkmm": LKMM{}}
