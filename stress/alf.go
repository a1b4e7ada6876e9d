package stress

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/kernelsim/lfsim/linearizability"
	"github.com/kernelsim/lfsim/model"
	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/queue/alfnative"
	"github.com/kernelsim/lfsim/scenario"
)

// longRound is how many times more calls a long round makes than a short
// one. Short rounds (the even ones) make the scenario's own number of
// calls and are checked for linearizability as well as conservation.
const longRound = 1000

// alfLoad is the alf_queue scenarios' workload: goroutines calling MP
// enqueue and MC dequeue with fresh values.
type alfLoad struct {
	name      string
	workers   int
	size      int
	bulk      int
	ops       int
	opt       alfnative.Options
	spec      model.Spec
	protect   bool // preempt_disable around each call (a counter natively)
	alternate bool // enqueue, dequeue, enqueue, ... (alf-preempt's tasks)
}

func newAlfLoad(name string, v scenario.Values) (workload, error) {
	l := &alfLoad{name: name, workers: v.Int("cpus"), size: v.Int("size"), bulk: v.Int("bulk"), ops: v.Int("ops"), protect: true, spec: model.ALF}
	if v["spec"] == "strict" {
		l.spec = model.Strict
	}
	l.opt = alfnative.Options{Start: uint64(v.Int("start")), Width: v.Int("width"), Debug: v["debug"] == "on"}
	if v["tail"] == "rfc" {
		l.opt.MCTail = alfnative.TailRFC
	}
	if v["copy"] == "simple" {
		l.opt.Copy = alfnative.CopySimple
	}
	if name == "alf-preempt" { // two tasks on one CPU, preemption enabled
		l.workers, l.protect, l.alternate = 2, false, true
	}
	if _, err := alfnative.New(native.NewMachine(1), "q", l.size, l.opt); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *alfLoad) note() string {
	switch l.name {
	case "alf-preempt":
		return "goroutines have no priorities: the preempted worker always runs again, so the waiter's spin ends"
	case "alf-aba":
		return "no interrupts to stall a CPU between its read and its cmpxchg: only the host's own preemption can"
	}
	return ""
}

func (l *alfLoad) round(r *round) int64 {
	m := native.NewMachine(l.workers)
	q, err := alfnative.New(m, "q", l.size, l.opt)
	if err != nil {
		panic(err) // checked in newAlfLoad
	}
	short := r.n%2 == 0
	ops := l.ops
	if !short {
		ops *= longRound
	}
	hists := make([][]linearizability.Op, l.workers)
	r.goAll(l.workers, func(w int) {
		c := m.CPU(w)
		rng := rand.New(rand.NewPCG(r.seed, uint64(w)))
		buf := make([]uint64, l.bulk)
		next := uint64(w+1) << 32
		for i := range ops {
			if r.stop.Load() {
				return
			}
			k := 1 + rng.IntN(l.bulk)
			enqueue := rng.IntN(2) == 0
			if l.alternate {
				enqueue = i%2 == 0
			}
			if l.protect {
				c.PreemptDisable()
			}
			op := linearizability.Op{Client: w, Enqueue: enqueue, N: k, Call: r.callTime()}
			if enqueue {
				for j := range k {
					next++
					buf[j] = next
				}
				op.Got = q.MPEnqueue(c, buf[:k])
				op.Return = r.returnTime()
				op.Vals = slices.Clone(buf[:k])
			} else {
				got := q.MCDequeue(c, buf[:k])
				op.Return = r.returnTime()
				op.Got, op.Out = got, slices.Clone(buf[:got])
			}
			if l.protect {
				c.PreemptEnable()
			}
			hists[w] = append(hists[w], op)
		}
	})
	var h linearizability.History
	for _, ops := range hists {
		h.Ops = append(h.Ops, ops...)
	}
	calls := int64(len(h.Ops))
	if r.failure() != nil {
		return calls
	}
	left, err := q.Peek()
	if err != nil {
		r.fail(&native.Failure{Kind: scenario.KindCorruptQueue, CPU: -1, Msg: err.Error()})
		return calls
	}
	h.Drained(l.workers, left)
	if kind, msg := h.Conservation(); kind != "" {
		r.fail(&native.Failure{Kind: kind, CPU: -1, Msg: msg})
		return calls
	}
	if short {
		switch res := h.Check(l.spec, l.size); res.Verdict {
		case linearizability.Illegal:
			r.fail(&native.Failure{Kind: scenario.KindNotLinearizable, CPU: -1, Msg: fmt.Sprintf("round %d: %d operations have no linearization under spec %s: %s", r.n, len(h.Ops), l.spec, res.Reason)})
		case linearizability.Undecided:
			r.fail(&native.Failure{Kind: scenario.KindCheckUndecided, CPU: -1, Msg: fmt.Sprintf("round %d: %s", r.n, res.Reason)})
		}
	}
	return calls
}
