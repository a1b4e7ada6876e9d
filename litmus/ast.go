// Package litmus reads litmus tests in the C dialect of the Linux kernel's
// memory-model tools (tools/memory-model/litmus-tests/*.litmus, as herd7
// reads them): a header line naming the test, an optional comment (whose
// "Result:" line states the verdict its authors expect), an init block,
// one function per thread, and a final condition.
//
//	C MP+wmb+rmb
//	{}
//	P0(int *data, int *flag) { WRITE_ONCE(*data, 1); smp_wmb(); WRITE_ONCE(*flag, 1); }
//	P1(int *data, int *flag) { int r0; int r1; r0 = READ_ONCE(*flag); smp_rmb(); r1 = READ_ONCE(*data); }
//	exists (1:r0=1 /\ 1:r1=0)
//
// Parse returns the test's syntax; a text it does not accept gets one
// line naming the construct and the line.
//
// Run enumerates the test's candidate executions (each read returning a
// value some write produces, each variable's writes in a coherence order)
// and keeps those a Model allows: SC, TSO (x86-TSO under the kernel's x86
// mapping) or LKMM (the Linux-kernel memory model of tools/memory-model,
// RCU and SRCU included, as herd7 runs it). Candidates that coherence or
// atomicity forbid under every model are never built. The Outcome follows
// herd7's conventions: the final states, the witnesses for and against the
// condition, the flags, and the Observation Never, Sometimes or Always.
// What a model does not judge, or what is past the engine's counted
// budgets, is refused as Unsupported, never given a verdict.
package litmus

// Test is one parsed litmus test.
type Test struct {
	Arch string // "C"
	Name string
	// Doc is the comment after the header; Result is its "Result:" word
	// (Never, Sometimes or Always), empty when it has none.
	Doc, Result string
	Init        []Init
	Procs       []*Proc
	Locations   []Loc
	Filter      Prop // nil when there is none
	Final       Final
}

// Init gives a shared variable (or a thread's register, Proc >= 0) its
// initial value: an integer, or the address of another variable.
type Init struct {
	Proc  int    // -1 for a shared variable
	Type  string // "int", "atomic_t", "spinlock_t", "int*", ... ("" when not given)
	Name  string
	Value Expr // nil: zero
	Line  int
}

// Proc is one thread, P<ID>(params) { body }.
type Proc struct {
	ID     int
	Params []Param
	Body   []Stmt
	Line   int
}

// Param is a thread's parameter: a pointer to a shared variable.
type Param struct {
	Type string // "int *", "atomic_t *", "spinlock_t *", "int **", ...
	Name string
}

// Stmt is a statement of a thread's body.
type Stmt interface{ stmtLine() int }

// Decl declares a register, with an optional initial value.
type Decl struct {
	Type string
	Name string
	Init Expr
	Line int
}

// Assign stores an expression: to a register (LHS an *Ident) or through
// a pointer (LHS a *Deref, a plain store).
type Assign struct {
	LHS, RHS Expr
	Line     int
}

// ExprStmt is an expression evaluated for its effect (a call).
type ExprStmt struct {
	X    Expr
	Line int
}

// If is if (Cond) Then else Else.
type If struct {
	Cond       Expr
	Then, Else []Stmt
	Line       int
}

func (s *Decl) stmtLine() int     { return s.Line }
func (s *Assign) stmtLine() int   { return s.Line }
func (s *ExprStmt) stmtLine() int { return s.Line }
func (s *If) stmtLine() int       { return s.Line }

// Expr is an expression.
type Expr interface{ exprLine() int }

// Ident names a register, a parameter or (in init and conditions) a
// shared variable.
type Ident struct {
	Name string
	Line int
}

// Int is an integer constant.
type Int struct {
	Value int64
	Line  int
}

// Deref is *X: a plain access to what X points to.
type Deref struct {
	X    Expr
	Line int
}

// AddrOf is &X.
type AddrOf struct {
	X    Expr
	Line int
}

// Call is a kernel primitive applied to its arguments.
type Call struct {
	Fun  string
	Args []Expr
	Line int
}

// Unary is Op X, for Op one of - ! ~.
type Unary struct {
	Op   string
	X    Expr
	Line int
}

// Binary is X Op Y.
type Binary struct {
	Op   string
	X, Y Expr
	Line int
}

func (e *Ident) exprLine() int  { return e.Line }
func (e *Int) exprLine() int    { return e.Line }
func (e *Deref) exprLine() int  { return e.Line }
func (e *AddrOf) exprLine() int { return e.Line }
func (e *Call) exprLine() int   { return e.Line }
func (e *Unary) exprLine() int  { return e.Line }
func (e *Binary) exprLine() int { return e.Line }

// Quantifier is how the final condition is read.
type Quantifier string

const (
	Exists    Quantifier = "exists"
	NotExists Quantifier = "~exists"
	Forall    Quantifier = "forall"
)

// Final is the test's final condition.
type Final struct {
	Quant Quantifier
	Prop  Prop
	Line  int
}

// Loc is a place whose final value a condition reads: a thread's register
// (Proc >= 0) or a shared variable (Proc -1).
type Loc struct {
	Proc int
	Name string
}

// Prop is a proposition over final values.
type Prop interface{ propNode() }

// Eq says Loc holds Value at the end: an integer, or the address of the
// shared variable Var when Var is set.
type Eq struct {
	Loc   Loc
	Value int64
	Var   string
}

// And, Or and Not combine propositions; True and False are constants.
type (
	And   struct{ X, Y Prop }
	Or    struct{ X, Y Prop }
	Not   struct{ X Prop }
	Const struct{ Value bool }
)

func (*Eq) propNode()    {}
func (*And) propNode()   {}
func (*Or) propNode()    {}
func (*Not) propNode()   {}
func (*Const) propNode() {}
