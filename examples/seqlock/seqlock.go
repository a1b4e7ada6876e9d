// Package seqlock is a sequence lock (include/linux/seqlock.h): a writer
// makes the sequence odd, updates the data, and makes it even again; a
// reader reads the sequence, the data, and the sequence again, and retries
// unless both reads saw the same even sequence. Readers never block the
// writer, and never return a torn value.
//
// ReadUnchecked is the reader that forgets the evenness test: a sequence
// that is odd twice in a row means the writer was inside its update both
// times, so the data read between may be half old, half new. That bug shows
// on a sequentially consistent machine (the barriers, which a weaker one
// also needs, are in place). Run the tests with `go test ./examples/seqlock`.
package seqlock

import "github.com/kernelsim/lfsim/sim"

// Seqlock guards a pair of words that the writer keeps equal.
type Seqlock struct {
	seq  *sim.Cell
	a, b *sim.Cell
}

// New makes a seqlock over the pair (0, 0).
func New(m *sim.Machine) *Seqlock {
	return &Seqlock{seq: m.NewCell("seq", sim.W32, 0), a: m.NewCell("a", sim.W64, 0), b: m.NewCell("b", sim.W64, 0)}
}

// Write stores v in both words: write_seqcount_begin, the update,
// write_seqcount_end. One writer at a time (the kernel takes a spinlock).
func (s *Seqlock) Write(c *sim.Ctx, v uint64) {
	c.WriteOnce(s.seq, c.ReadOnce(s.seq)+1)
	c.SmpWmb()
	c.WriteOnce(s.a, v)
	c.WriteOnce(s.b, v)
	c.SmpWmb()
	c.WriteOnce(s.seq, c.ReadOnce(s.seq)+1)
}

// Read returns the pair: read_seqcount_begin waits for an even sequence,
// read_seqcount_retry compares it with the sequence after the data.
func (s *Seqlock) Read(c *sim.Ctx) (uint64, uint64) {
	for {
		seq := c.ReadOnce(s.seq)
		if seq&1 != 0 {
			c.CpuRelax()
			continue
		}
		c.SmpRmb()
		a, b := c.ReadOnce(s.a), c.ReadOnce(s.b)
		c.SmpRmb()
		if c.ReadOnce(s.seq) == seq {
			return a, b
		}
	}
}

// ReadUnchecked is Read without the evenness test: the broken reader.
func (s *Seqlock) ReadUnchecked(c *sim.Ctx) (uint64, uint64) {
	for {
		seq := c.ReadOnce(s.seq)
		c.SmpRmb()
		a, b := c.ReadOnce(s.a), c.ReadOnce(s.b)
		c.SmpRmb()
		if c.ReadOnce(s.seq) == seq {
			return a, b
		}
	}
}
