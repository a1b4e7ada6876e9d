package native

import "fmt"

// Failure kinds, spelled as package sim spells them.
const (
	KindBug          = "bug"
	KindPanic        = "panic"
	KindDoubleFree   = "double-free"
	KindInvalidFree  = "invalid-free"
	KindOutOfBounds  = "out-of-bounds"
	KindNilDeref     = "nil-dereference"
	KindGoPanic      = "go-panic"
	KindUseAfterFree = "use-after-free"
)

// Failure is what a BUG_ON, a panic() or a workload's check raises.
type Failure struct {
	Kind string
	CPU  int
	Msg  string
}

func (f *Failure) Error() string { return fmt.Sprintf("%s on CPU%d: %s", f.Kind, f.CPU, f.Msg) }
