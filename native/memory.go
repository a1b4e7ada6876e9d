package native

import (
	"sync"
	"sync/atomic"
)

// Width is how the simulator shows a cell; natively it is only recorded.
type Width uint8

// The widths of package sim.
const (
	W32 Width = iota
	W64
	Handle
)

// Cell is one word of shared memory.
type Cell struct {
	v uint64
}

// cacheLine is the size the counters are padded to, so that producer and
// consumer counters do not share a line (____cacheline_aligned_in_smp).
const cacheLine = 64

// paddedCell is a cell alone on its cache line.
type paddedCell struct {
	Cell
	_ [cacheLine - 8]byte
}

// Peek reads the cell atomically, from outside the code under test.
func (c *Cell) Peek() uint64 { return atomic.LoadUint64(&c.v) }

// Machine is the set of CPU ids the workers own, and the factory for the
// subjects' memory.
type Machine struct {
	cpus     []Ctx
	softirqs [NrSoftirqs]func(*Ctx)

	caches  [maxCaches]atomic.Pointer[KmemCache] // by number
	ncaches atomic.Uint64

	mu      sync.Mutex
	kmalloc [40]*KmemCache // by size class, 2^class words
}

// NewMachine makes a machine of cpus CPU ids, each with its Ctx.
func NewMachine(cpus int) *Machine {
	if cpus < 1 {
		panic("native: a machine needs at least one CPU")
	}
	m := &Machine{cpus: make([]Ctx, cpus)}
	for i := range m.cpus {
		m.cpus[i] = Ctx{cpu: i, m: m}
	}
	return m
}

// CPUs returns the number of CPU ids.
func (m *Machine) CPUs() int { return len(m.cpus) }

// CPU returns the context of CPU id cpu. One goroutine at a time may use
// it: the goroutine that owns the CPU id.
func (m *Machine) CPU(cpu int) *Ctx { return &m.cpus[cpu] }

// NewCell makes a cell holding v on a cache line of its own; the name and
// width are for the simulator's trace only.
func (m *Machine) NewCell(name string, w Width, v uint64) *Cell {
	p := &paddedCell{Cell: Cell{v: v}}
	return &p.Cell
}

// NewCellBits is NewCell for a counter of the given width.
func (m *Machine) NewCellBits(name string, bits int, v uint64) *Cell {
	return m.NewCell(name, W64, v)
}

// NewArray makes n adjacent cells holding v (the slots of a ring).
func (m *Machine) NewArray(name string, n int, w Width, v uint64) []Cell {
	a := make([]Cell, n)
	if v != 0 {
		for i := range a {
			a[i].v = v
		}
	}
	return a
}
