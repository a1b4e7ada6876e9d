package litmus

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Parse reads one litmus test. An error is one line naming the construct
// it does not accept and the line it is on.
func Parse(src string) (*Test, error) {
	p := &parser{lx: lexer{src: src, line: 1}}
	t, err := p.test()
	if err != nil {
		return nil, err
	}
	return t, nil
}

type parser struct {
	lx  lexer
	tok token
}

// errorf is a parse error at line.
func errorf(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}

func (p *parser) next() error {
	t, err := p.lx.next()
	p.tok = t
	return err
}

func (p *parser) is(text string) bool { return p.tok.kind == tPunct && p.tok.text == text }

func (p *parser) isWord(word string) bool { return p.tok.kind == tIdent && p.tok.text == word }

func (p *parser) expect(text string, what string) error {
	if !p.is(text) {
		return errorf(p.tok.line, "want %q %s, found %s", text, what, p.tok)
	}
	return p.next()
}

func (p *parser) ident(what string) (string, int, error) {
	if p.tok.kind != tIdent {
		return "", p.tok.line, errorf(p.tok.line, "want %s, found %s", what, p.tok)
	}
	name, line := p.tok.text, p.tok.line
	return name, line, p.next()
}

var resultLine = regexp.MustCompile(`Result:\s*(\w+)`)

func (p *parser) test() (*Test, error) {
	t := &Test{}
	// The header line: the architecture and the name, anything but white
	// space (names hold +, . and other punctuation).
	src := p.lx.src
	for p.lx.pos < len(src) && strings.TrimSpace(src[p.lx.pos:p.lx.pos+strings.IndexByte(src[p.lx.pos:]+"\n", '\n')]) == "" {
		p.lx.pos += strings.IndexByte(src[p.lx.pos:]+"\n", '\n') + 1
		p.lx.line++
	}
	end := strings.IndexByte(src[min(p.lx.pos, len(src)):]+"\n", '\n')
	header := strings.Fields(src[min(p.lx.pos, len(src)):min(p.lx.pos+end, len(src))])
	if len(header) != 2 {
		return nil, errorf(p.lx.line, "want a header line \"C NAME\"")
	}
	if header[0] != "C" {
		return nil, errorf(p.lx.line, "architecture %q: only the C dialect is read", header[0])
	}
	t.Arch, t.Name = header[0], header[1]
	p.lx.pos = min(p.lx.pos+end+1, len(src))
	p.lx.line++
	// The comment after the header is the test's documentation.
	rest := strings.TrimLeft(src[p.lx.pos:], " \t\r\n")
	if strings.HasPrefix(rest, "(*") {
		skipped := src[p.lx.pos : len(src)-len(rest)]
		p.lx.line += strings.Count(skipped, "\n")
		p.lx.pos += len(skipped)
		close := strings.Index(rest[2:], "*)") + 2
		if close < 2 {
			return nil, errorf(p.lx.line, "comment (* not closed")
		}
		t.Doc = strings.TrimSpace(rest[2:close])
		if m := resultLine.FindStringSubmatch(t.Doc); m != nil {
			t.Result = m[1]
		}
		p.lx.line += strings.Count(rest[:close+2], "\n")
		p.lx.pos += close + 2
	}
	p.lx.ocaml = true
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.initBlock(t); err != nil {
		return nil, err
	}
	for p.tok.kind == tIdent && isProcName(p.tok.text) {
		proc, err := p.proc()
		if err != nil {
			return nil, err
		}
		if proc.ID != len(t.Procs) {
			return nil, errorf(proc.Line, "thread P%d: want P%d (threads are numbered in order from P0)", proc.ID, len(t.Procs))
		}
		t.Procs = append(t.Procs, proc)
	}
	if len(t.Procs) == 0 {
		return nil, errorf(p.tok.line, "want a thread P0(...) { ... }, found %s", p.tok)
	}
	if err := p.final(t); err != nil {
		return nil, err
	}
	return t, nil
}

func isProcName(s string) bool {
	if len(s) < 2 || s[0] != 'P' {
		return false
	}
	_, err := strconv.Atoi(s[1:])
	return err == nil
}

// initBlock reads { item; item; ... }.
func (p *parser) initBlock(t *Test) error {
	if err := p.expect("{", "to open the init block"); err != nil {
		return err
	}
	for !p.is("}") {
		if p.is(";") {
			if err := p.next(); err != nil {
				return err
			}
			continue
		}
		in, err := p.initItem()
		if err != nil {
			return err
		}
		t.Init = append(t.Init, in)
		if !p.is("}") {
			if err := p.expect(";", "after an initial value"); err != nil {
				return err
			}
		}
	}
	return p.next()
}

// initItem reads [type] name [= value] or P:reg = value.
func (p *parser) initItem() (Init, error) {
	in := Init{Proc: -1, Line: p.tok.line}
	if p.tok.kind == tInt {
		n, err := strconv.Atoi(p.tok.text)
		if err != nil {
			return in, errorf(p.tok.line, "bad thread number %q", p.tok.text)
		}
		in.Proc = n
		if err := p.next(); err != nil {
			return in, err
		}
		if err := p.expect(":", "after a thread number"); err != nil {
			return in, err
		}
	}
	var words []string
	for p.tok.kind == tIdent || p.is("*") {
		words = append(words, p.tok.text)
		if err := p.next(); err != nil {
			return in, err
		}
	}
	if len(words) == 0 || words[len(words)-1] == "*" {
		return in, errorf(in.Line, "want a variable to initialise, found %s", p.tok)
	}
	in.Name = words[len(words)-1]
	in.Type = typeName(words[:len(words)-1])
	if p.is("[") {
		return in, errorf(p.tok.line, "arrays are not supported")
	}
	if !p.is("=") {
		return in, nil
	}
	if err := p.next(); err != nil {
		return in, err
	}
	v, err := p.initValue()
	in.Value = v
	return in, err
}

// initValue is an integer, &var, var (its address) or ATOMIC_INIT(n).
func (p *parser) initValue() (Expr, error) {
	line := p.tok.line
	switch {
	case p.isWord("ATOMIC_INIT"):
		if err := p.next(); err != nil {
			return nil, err
		}
		if err := p.expect("(", "after ATOMIC_INIT"); err != nil {
			return nil, err
		}
		v, err := p.initValue()
		if err != nil {
			return nil, err
		}
		return v, p.expect(")", "to close ATOMIC_INIT")
	case p.is("&"):
		if err := p.next(); err != nil {
			return nil, err
		}
		name, _, err := p.ident("a variable after &")
		return &AddrOf{X: &Ident{Name: name, Line: line}, Line: line}, err
	case p.tok.kind == tIdent:
		name, _, err := p.ident("a variable")
		return &AddrOf{X: &Ident{Name: name, Line: line}, Line: line}, err
	}
	n, err := p.integer()
	return &Int{Value: n, Line: line}, err
}

// integer reads [-]N.
func (p *parser) integer() (int64, error) {
	neg := p.is("-")
	if neg {
		if err := p.next(); err != nil {
			return 0, err
		}
	}
	if p.tok.kind != tInt {
		return 0, errorf(p.tok.line, "want an integer, found %s", p.tok)
	}
	n, err := strconv.ParseInt(p.tok.text, 0, 64)
	if err != nil {
		return 0, errorf(p.tok.line, "bad integer %q", p.tok.text)
	}
	if neg {
		n = -n
	}
	return n, p.next()
}

func typeName(words []string) string {
	s := strings.Join(words, " ")
	return strings.ReplaceAll(s, " *", "*")
}

// proc reads P<n>(params) { body }.
func (p *parser) proc() (*Proc, error) {
	proc := &Proc{Line: p.tok.line}
	proc.ID, _ = strconv.Atoi(p.tok.text[1:])
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.expect("(", "after the thread's name"); err != nil {
		return nil, err
	}
	for !p.is(")") {
		var words []string
		for p.tok.kind == tIdent || p.is("*") {
			words = append(words, p.tok.text)
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		if len(words) < 2 || words[len(words)-1] == "*" {
			return nil, errorf(p.tok.line, "want a parameter \"type *name\", found %s", p.tok)
		}
		proc.Params = append(proc.Params, Param{Type: typeName(words[:len(words)-1]), Name: words[len(words)-1]})
		if !p.is(")") {
			if err := p.expect(",", "between parameters"); err != nil {
				return nil, err
			}
		}
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if !p.is("{") {
		return nil, errorf(p.tok.line, "want \"{\" to open P%d's body, found %s", proc.ID, p.tok)
	}
	p.lx.ocaml = false // "(*" is a dereference in C
	if err := p.next(); err != nil {
		return nil, err
	}
	body, err := p.stmts()
	if err != nil {
		return nil, err
	}
	proc.Body = body
	p.lx.ocaml = true
	return proc, p.next() // past "}"
}

// stmts reads statements up to the closing "}", which it leaves.
func (p *parser) stmts() ([]Stmt, error) {
	var out []Stmt
	for !p.is("}") {
		if p.tok.kind == tEOF {
			return nil, errorf(p.tok.line, "a \"{\" is not closed")
		}
		s, err := p.stmt()
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// typeWords begin a declaration.
var typeWords = []string{"int", "long", "unsigned", "signed", "short", "char", "bool", "atomic_t", "atomic_long_t", "spinlock_t", "intptr_t", "uintptr_t", "u8", "u16", "u32", "u64", "s32", "s64", "const", "volatile"}

// stmt reads one statement (a block gives its statements).
func (p *parser) stmt() ([]Stmt, error) {
	line := p.tok.line
	switch {
	case p.is(";"):
		return nil, p.next()
	case p.is("{"):
		if err := p.next(); err != nil {
			return nil, err
		}
		body, err := p.stmts()
		if err != nil {
			return nil, err
		}
		return body, p.next()
	case p.isWord("if"):
		return p.ifStmt()
	case p.tok.kind == tIdent && slices.Contains([]string{"while", "for", "do", "goto", "return", "switch", "break", "continue"}, p.tok.text):
		return nil, errorf(line, "%q statements are not supported", p.tok.text)
	case p.tok.kind == tIdent && slices.Contains(typeWords, p.tok.text):
		return p.decl()
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	var s Stmt
	if p.is("=") {
		switch x.(type) {
		case *Ident, *Deref:
		default:
			return nil, errorf(line, "cannot assign to this expression")
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		rhs, err := p.expr()
		if err != nil {
			return nil, err
		}
		s = &Assign{LHS: x, RHS: rhs, Line: line}
	} else {
		if _, ok := x.(*Call); !ok {
			return nil, errorf(line, "an expression statement must be a call")
		}
		s = &ExprStmt{X: x, Line: line}
	}
	return []Stmt{s}, p.expect(";", "after a statement")
}

// decl reads type name [= expr] {, name [= expr]} ;
func (p *parser) decl() ([]Stmt, error) {
	var words []string
	for p.tok.kind == tIdent && slices.Contains(typeWords, p.tok.text) {
		words = append(words, p.tok.text)
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	base := strings.Join(words, " ")
	var out []Stmt
	for {
		typ := base
		for p.is("*") {
			typ += "*"
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		name, line, err := p.ident("a register name")
		if err != nil {
			return nil, err
		}
		if p.is("[") {
			return nil, errorf(p.tok.line, "arrays are not supported")
		}
		d := &Decl{Type: typ, Name: name, Line: line}
		if p.is("=") {
			if err := p.next(); err != nil {
				return nil, err
			}
			if d.Init, err = p.expr(); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
		if !p.is(",") {
			break
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	return out, p.expect(";", "after a declaration")
}

func (p *parser) ifStmt() ([]Stmt, error) {
	s := &If{Line: p.tok.line}
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.expect("(", "after if"); err != nil {
		return nil, err
	}
	cond, err := p.expr()
	if err != nil {
		return nil, err
	}
	s.Cond = cond
	if err := p.expect(")", "to close the condition"); err != nil {
		return nil, err
	}
	if s.Then, err = p.stmt(); err != nil {
		return nil, err
	}
	if p.isWord("else") {
		if err := p.next(); err != nil {
			return nil, err
		}
		if s.Else, err = p.stmt(); err != nil {
			return nil, err
		}
	}
	return []Stmt{s}, nil
}

// binary operators by precedence, loosest first.
var precedence = [][]string{{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<", "<=", ">", ">="}, {"+", "-"}, {"*", "/", "%"}}

func (p *parser) expr() (Expr, error) { return p.binary(0) }

func (p *parser) binary(level int) (Expr, error) {
	if level == len(precedence) {
		return p.unary()
	}
	x, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tPunct && slices.Contains(precedence[level], p.tok.text) {
		op, line := p.tok.text, p.tok.line
		if err := p.next(); err != nil {
			return nil, err
		}
		y, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		x = &Binary{Op: op, X: x, Y: y, Line: line}
	}
	return x, nil
}

func (p *parser) unary() (Expr, error) {
	line := p.tok.line
	if p.tok.kind == tPunct && slices.Contains([]string{"-", "!", "~", "*", "&"}, p.tok.text) {
		op := p.tok.text
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		switch op {
		case "*":
			return &Deref{X: x, Line: line}, nil
		case "&":
			return &AddrOf{X: x, Line: line}, nil
		}
		return &Unary{Op: op, X: x, Line: line}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	line := p.tok.line
	switch {
	case p.tok.kind == tInt:
		n, err := p.integer()
		return &Int{Value: n, Line: line}, err
	case p.is("("):
		if err := p.next(); err != nil {
			return nil, err
		}
		castWord := func() bool {
			return p.tok.kind == tIdent && (slices.Contains(typeWords, p.tok.text) || p.tok.text == "void")
		}
		if castWord() {
			// A cast, as in (int **)READ_ONCE(*y) or (void)atomic_add_unless(...):
			// values carry no type here, so it changes nothing.
			for castWord() || p.is("*") {
				if err := p.next(); err != nil {
					return nil, err
				}
			}
			if err := p.expect(")", "to close a cast"); err != nil {
				return nil, err
			}
			return p.unary()
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		return x, p.expect(")", "to close a parenthesis")
	case p.tok.kind == tIdent:
		name := p.tok.text
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.is("[") || p.is(".") || p.is("->") {
			return nil, errorf(line, "arrays and structures are not supported")
		}
		if !p.is("(") {
			return &Ident{Name: name, Line: line}, nil
		}
		if !Known(name) {
			return nil, errorf(line, "unknown primitive %s()", name)
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		call := &Call{Fun: name, Line: line}
		for !p.is(")") {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			call.Args = append(call.Args, a)
			if !p.is(")") {
				if err := p.expect(",", "between arguments"); err != nil {
					return nil, err
				}
			}
		}
		if want, ok := arity(name); ok && want != len(call.Args) {
			return nil, errorf(line, "%s() takes %d argument(s), not %d", name, want, len(call.Args))
		}
		return call, p.next()
	case p.is("["), p.is("."), p.is("->"):
		return nil, errorf(line, "arrays and structures are not supported")
	}
	return nil, errorf(line, "want an expression, found %s", p.tok)
}

// final reads [locations [...]] [filter prop] exists|~exists|forall prop.
func (p *parser) final(t *Test) error {
	if p.isWord("locations") {
		if err := p.next(); err != nil {
			return err
		}
		if err := p.expect("[", "after locations"); err != nil {
			return err
		}
		for !p.is("]") {
			loc, err := p.loc()
			if err != nil {
				return err
			}
			t.Locations = append(t.Locations, loc)
			if p.is(";") {
				if err := p.next(); err != nil {
					return err
				}
			} else if !p.is("]") {
				return errorf(p.tok.line, "want \";\" or \"]\" in locations, found %s", p.tok)
			}
		}
		if err := p.next(); err != nil {
			return err
		}
	}
	if p.isWord("filter") {
		if err := p.next(); err != nil {
			return err
		}
		f, err := p.prop()
		if err != nil {
			return err
		}
		t.Filter = f
	}
	t.Final.Line = p.tok.line
	switch {
	case p.isWord("exists"):
		t.Final.Quant = Exists
	case p.isWord("forall"):
		t.Final.Quant = Forall
	case p.is("~"):
		if err := p.next(); err != nil {
			return err
		}
		if !p.isWord("exists") {
			return errorf(p.tok.line, "want \"exists\" after \"~\", found %s", p.tok)
		}
		t.Final.Quant = NotExists
	default:
		return errorf(p.tok.line, "want the final condition (exists, ~exists or forall), found %s", p.tok)
	}
	if err := p.next(); err != nil {
		return err
	}
	prop, err := p.prop()
	if err != nil {
		return err
	}
	t.Final.Prop = prop
	if p.tok.kind != tEOF {
		return errorf(p.tok.line, "unexpected %s after the final condition", p.tok)
	}
	return nil
}

func (p *parser) prop() (Prop, error) {
	x, err := p.conj()
	for err == nil && p.is("\\/") {
		if err = p.next(); err != nil {
			break
		}
		var y Prop
		if y, err = p.conj(); err == nil {
			x = &Or{X: x, Y: y}
		}
	}
	return x, err
}

func (p *parser) conj() (Prop, error) {
	x, err := p.propUnary()
	for err == nil && p.is("/\\") {
		if err = p.next(); err != nil {
			break
		}
		var y Prop
		if y, err = p.propUnary(); err == nil {
			x = &And{X: x, Y: y}
		}
	}
	return x, err
}

func (p *parser) propUnary() (Prop, error) {
	switch {
	case p.is("~"), p.isWord("not"):
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.propUnary()
		return &Not{X: x}, err
	case p.is("("):
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.prop()
		if err != nil {
			return nil, err
		}
		return x, p.expect(")", "to close a parenthesis")
	case p.isWord("true"), p.isWord("false"):
		v := p.tok.text == "true"
		return &Const{Value: v}, p.next()
	}
	loc, err := p.loc()
	if err != nil {
		return nil, err
	}
	negate := p.is("!=")
	if !negate {
		if err := p.expect("=", "in a condition"); err != nil {
			return nil, err
		}
	} else if err := p.next(); err != nil {
		return nil, err
	}
	eq := &Eq{Loc: loc}
	if p.tok.kind == tIdent {
		eq.Var = p.tok.text
		err = p.next()
	} else {
		eq.Value, err = p.integer()
	}
	if negate {
		return &Not{X: eq}, err
	}
	return eq, err
}

// loc is P:reg or a shared variable.
func (p *parser) loc() (Loc, error) {
	if p.tok.kind == tInt {
		line := p.tok.line
		n, err := strconv.Atoi(p.tok.text)
		if err != nil {
			return Loc{}, errorf(line, "bad thread number %q", p.tok.text)
		}
		if err := p.next(); err != nil {
			return Loc{}, err
		}
		if err := p.expect(":", "after a thread number"); err != nil {
			return Loc{}, err
		}
		name, _, err := p.ident("a register")
		return Loc{Proc: n, Name: name}, err
	}
	name, _, err := p.ident("a register (P:r) or a variable")
	if err == nil && p.is("[") {
		return Loc{}, errorf(p.tok.line, "arrays are not supported")
	}
	return Loc{Proc: -1, Name: name}, err
}
