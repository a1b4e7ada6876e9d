package sim

import (
	"fmt"
	"strconv"
)

// Width says how a cell's value is stored and shown.
type Width uint8

const (
	// W32 is a 32-bit word: stores are truncated to 32 bits.
	W32 Width = iota
	// W64 is a 64-bit word.
	W64
	// Handle is a pointer-like value: 0 is NULL, anything else names an
	// object (a buffer, an element) by number.
	Handle
)

// Cell is one word of simulated shared memory. Simulated code reads and
// writes it only through a Ctx, so every access is a scheduling point;
// the checker may look at it from outside a run with Peek.
type Cell struct {
	v     uint64
	mask  uint64
	width Width
	name  string
	index int    // -1 unless the cell is an array element
	id    uint32 // the cell's number in its machine, in order of making

	// lastWriter and lastStep tell a soft-lockup report who wrote the
	// value a spinning context is waiting on.
	lastWriter *Ctx
	lastStep   int
	// changes counts stores that changed the value, so that a cmpxchg
	// can tell a value that never changed from one that changed and came
	// back (ABA).
	changes int
	// obj is the allocated object the cell belongs to, if any: accesses
	// after the object is freed are use-after-free.
	obj *Object
	// watchers counts the spinning contexts waiting for the cell to change.
	watchers int32
}

func newCell(name string, index int, w Width, v uint64) Cell {
	c := Cell{width: w, name: name, index: index, mask: ^uint64(0), lastStep: -1}
	if w == W32 {
		c.mask = 0xffffffff
	}
	c.v = v & c.mask
	return c
}

// NewCell makes one shared word named name (the name appears in traces and
// failure reports).
func (m *Machine) NewCell(name string, w Width, v uint64) *Cell {
	c := newCell(name, -1, w, v)
	return m.adopt(&c)
}

// NewCellBits makes a word of the given width in bits (1..64): stores
// keep only the low bits, as an n-bit counter in hardware would. Used to
// run an algorithm with narrow counters, to show what wrap-around does.
func (m *Machine) NewCellBits(name string, bits int, v uint64) *Cell {
	if bits < 1 || bits > 64 {
		panic(fmt.Sprintf("sim: %d-bit cell %s", bits, name))
	}
	c := newCell(name, -1, W64, v)
	if bits < 64 {
		c.mask = 1<<bits - 1
		c.v &= c.mask
	}
	return m.adopt(&c)
}

// NewArray makes n shared words named name[0] .. name[n-1], all holding v.
func (m *Machine) NewArray(name string, n int, w Width, v uint64) []Cell {
	a := make([]Cell, n)
	for i := range a {
		a[i] = newCell(name, i, w, v)
		m.adopt(&a[i])
	}
	return a
}

// adopt numbers a new cell and keeps it for the end state's fingerprint.
func (m *Machine) adopt(c *Cell) *Cell {
	c.id = m.newCellID()
	if m.cells == nil {
		m.cells = make([]*Cell, 0, 16) // a workload's few cells, at once
	}
	m.cells = append(m.cells, c)
	return c
}

// Peek returns the value without a scheduling point. It is for checks made
// outside simulated code (end-of-run checks, tests), never for the code
// under test.
func (c *Cell) Peek() uint64 { return c.v }

// Name returns the cell's name as traces show it, with the index for array
// elements.
func (c *Cell) Name() string {
	if c.index < 0 {
		return c.name
	}
	return c.name + "[" + strconv.Itoa(c.index) + "]"
}

// format shows v the way this cell holds it.
func (c *Cell) format(v uint64) string {
	if c.width == Handle {
		if v == 0 {
			return "NULL"
		}
		return fmt.Sprintf("#%d", v)
	}
	return strconv.FormatUint(v, 10)
}
