// Package zoo lists every known failure of the project's own scenarios,
// each in the smallest workload that shows it: what every way of searching
// (exhaustive, random, on any number of workers) is tested against.
package zoo

// Entry is one known failure.
type Entry struct {
	Scenario string
	Set      []string // the workload, as --set gives it
	Kind     string
	// Site is the failure's site, or a prefix of it for the workload's
	// own checks.
	Site string
	// Preemptions, Interrupts and Failures are the bounds within which
	// exhaustive search finds it.
	Preemptions, Interrupts, Failures int
	// Short marks the entries cheap enough for -short.
	Short bool
}

// Entries are the known failures, in the order tests report them.
func Entries() []Entry {
	return []Entry{
		{"ring2005", []string{"packets=8", "burst=4", "ring=4"}, "out-of-bounds", "ring2005/ring.go:78", 2, 1, 0, true},
		{"alf-spsc-misuse", []string{"ops=1", "bulk=2"}, "bug", "alf/alf.go:178", 2, 0, 0, true},
		{"alf-spsc-misuse", []string{"debug=off"}, "lost-value", "scenario/alf.go:", 2, 0, 0, true},
		{"alf-preempt", []string{"ops=2"}, "soft-lockup", "alf/alf.go:160", 2, 0, 0, true},
		{"alf-irq", nil, "soft-lockup", "alf/alf.go:131", 2, 1, 0, true},
		{"alf-aba", []string{"cpus=2", "ops=8", "stall=8", "fires=1"}, "not-linearizable", "scenario/alf.go:", 2, 1, 0, true},
		{"qmempool-hardirq", []string{"ops=2", "fires=1", "prealloc=1"}, "bug", "alf/alf.go:178", 2, 1, 0, true},
		{"skb", []string{"pool=ring2005", "packets=8", "burst=4"}, "panic", "ring2005/ring.go:79", 2, 1, 0, false},
		{"skb", []string{"fails=3", "packets=4", "burst=4", "prealloc=0"}, "leak", "scenario/skb.go:", 2, 0, 3, true},
		{"skb", []string{"cpus=4", "burst=64", "packets=3", "sharedq=32"}, "bug", "qmempool/qmempool.go:182", 2, 1, 0, false},
	}
}
