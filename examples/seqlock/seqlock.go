// Package seqlock is a sequence counter as include/linux/seqlock.h has it:
// the writer makes the sequence odd, updates the data and makes the
// sequence even again; a reader reads the sequence, the data and the
// sequence again, and retries unless both reads saw the same even
// sequence. Readers never block the writer, and never return a torn value.
//
// ReadUnchecked is the broken reader: it forgets read_seqcount_begin's
// evenness test. A sequence that is odd at both reads means the writer was
// inside its update all along, so the pair read between can be half new,
// half old, and the retry test passes anyway. That bug shows on a
// sequentially consistent machine, which this simulator is: the smp_wmb
// and smp_rmb calls, which a weaker machine also needs, are in place in
// both readers, so dropping one of them would not be found here.
//
// `go test ./examples/seqlock` checks Read over 5,000 schedules and shows
// ReadUnchecked's torn pair; `go test -run '^$' -fuzz '^FuzzSeqlock$'
// ./examples/seqlock` fuzzes the schedules of the correct version.
package seqlock

import "github.com/kernelsim/lfsim/sim"

// Seqlock guards a pair of words that the writer keeps equal.
type Seqlock struct {
	seq  *sim.Cell // seqcount_t: odd while a write is in progress
	a, b *sim.Cell
}

// New makes a seqlock over the pair (0, 0).
func New(m *sim.Machine) *Seqlock {
	return &Seqlock{
		seq: m.NewCell("seq", sim.W32, 0),
		a:   m.NewCell("a", sim.W64, 0),
		b:   m.NewCell("b", sim.W64, 0),
	}
}

// Write stores v in both words. Writers must be serialised (seqlock_t
// takes a spinlock around this); the workload has one.
func (s *Seqlock) Write(c *sim.Ctx, v uint64) {
	// write_seqcount_begin(&seq)
	c.WriteOnce(s.seq, c.ReadOnce(s.seq)+1) // seq++: odd
	c.SmpWmb()                              // smp_wmb()
	c.WriteOnce(s.a, v)                     // the update
	c.WriteOnce(s.b, v)
	// write_seqcount_end(&seq)
	c.SmpWmb()                              // smp_wmb()
	c.WriteOnce(s.seq, c.ReadOnce(s.seq)+1) // seq++: even
}

// Read returns the pair:
//
//	do {
//		seq = read_seqcount_begin(&s);
//		a = READ_ONCE(s.a); b = READ_ONCE(s.b);
//	} while (read_seqcount_retry(&s, seq));
func (s *Seqlock) Read(c *sim.Ctx) (uint64, uint64) {
	for {
		// read_seqcount_begin: wait for an even sequence
		seq := c.ReadOnce(s.seq)
		if seq&1 != 0 {
			c.CpuRelax()
			continue
		}
		c.SmpRmb()
		a, b := c.ReadOnce(s.a), c.ReadOnce(s.b)
		// read_seqcount_retry: did a write begin or end meanwhile?
		c.SmpRmb()
		if c.ReadOnce(s.seq) == seq {
			return a, b
		}
	}
}

// ReadUnchecked is Read without the evenness test: the broken reader.
func (s *Seqlock) ReadUnchecked(c *sim.Ctx) (uint64, uint64) {
	for {
		seq := c.ReadOnce(s.seq) // BUG: an odd seq is accepted
		c.SmpRmb()
		a, b := c.ReadOnce(s.a), c.ReadOnce(s.b)
		c.SmpRmb()
		if c.ReadOnce(s.seq) == seq {
			return a, b
		}
	}
}
