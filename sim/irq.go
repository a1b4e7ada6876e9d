package sim

import "fmt"

// Softirq numbers, as in the kernel's enum; lower numbers run first.
const (
	HiSoftirq = iota
	TimerSoftirq
	NetTxSoftirq
	NetRxSoftirq
	BlockSoftirq
	IrqPollSoftirq
	TaskletSoftirq
	SchedSoftirq
	HrtimerSoftirq
	RcuSoftirq
	NrSoftirqs
)

var softirqNames = [NrSoftirqs]string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"}

type softirqAction struct {
	name    string
	handler func(*Ctx)
}

// OpenSoftirq is open_softirq(nr, handler): handler runs in softirq context
// on the CPU that raised nr.
func (m *Machine) OpenSoftirq(nr int, handler func(*Ctx)) {
	if nr < 0 || nr >= NrSoftirqs {
		panic(fmt.Sprintf("sim: open_softirq(%d)", nr))
	}
	m.softirqs[nr] = softirqAction{name: softirqNames[nr], handler: handler}
}

// IRQSource is a device interrupt line on one CPU. It fires only when the
// strategy decides so, with irqs on, and at most its budget of times per run.
type IRQSource struct {
	num     int
	name    string
	cpu     *CPU
	handler func(*Ctx)
	left    int
}

// RequestIRQ adds an interrupt source named name on cpu that may fire up
// to fires times in a run; handler runs in hardirq context, with irqs off,
// and may raise softirqs. Names are unique per CPU.
func (m *Machine) RequestIRQ(cpu int, name string, fires int, handler func(*Ctx)) *IRQSource {
	if m.started {
		panic("sim: RequestIRQ after Run")
	}
	if cpu < 0 || cpu >= len(m.cpus) {
		panic(fmt.Sprintf("sim: irq %s on CPU%d of %d", name, cpu, len(m.cpus)))
	}
	mustName("irq", name)
	c := m.cpus[cpu]
	for _, s := range c.irqSrc {
		if s.name == name {
			panic(fmt.Sprintf("sim: two irqs named %s on CPU%d", name, cpu))
		}
	}
	s := &IRQSource{num: len(m.irqs), name: name, cpu: c, handler: handler, left: fires}
	if m.irqs == nil {
		// A source or two per CPU is common: room for them at once.
		m.irqs = make([]*IRQSource, 0, 2*len(m.cpus))
	}
	m.irqs = append(m.irqs, s)
	if c.irqSrc == nil {
		c.irqSrc = make([]*IRQSource, 0, 2)
	}
	c.irqSrc = append(c.irqSrc, s)
	c.irqLeft += max(fires, 0)
	return s
}
