package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// Inlining. The Go compiler inlines a function only below a small cost,
// and a subject's hot helpers (alf_queue's slot copies) are above it: in
// the native build each call to them costs a call, and the spills of the
// caller's live values around it, between two atomics. A subject may name
// such helpers (subject.inline); the generator then writes, in place of
// every statement that calls one of them, the helper's body in a block of
// its own:
//
//	{ // q.store(c, pHead, vals), inlined by nativegen
//	//line queue/alf/alf.go:126
//		q, c, pHead, vals := (*Queue)(q), (*native.Ctx)(c), uint64(pHead), []uint64(vals)
//		{
//	//line queue/alf/alf.go:265
//			...the body, every return a goto storeDone...
//		}
//	storeDone:
//	}
//	//line queue/alf/alf.go:127
//
// The receiver and the parameters are bound to the call's operands
// converted to their declared types (so that they have them, as in the
// call), then the body runs unchanged but for its returns. Line directives
// keep the promise of the rest of the file: a position in the block is the
// helper's source line, and the code after the block is at its own again.
// The helper's declaration stays, for any other use of it, and so do the
// declarations of all the helpers: a call in one helper to another is
// expanded in neither, nor in its copies.
//
// Only what the rewrite can do without type information is accepted, and
// anything else is an error rather than a silent change: the helper has no
// results, type parameters, variadic parameter, labels, goto, defer or
// recover, and is not a one-line function; the call is a statement of its
// own line, of a function in the same file, with the caller's own receiver
// (of the same type) for a method; and no name the helper takes from its
// package (or the universe) is declared in the caller, where it would
// mean something else.

// inlineMark ends the comment that opens an inlined block.
const inlineMark = ", inlined by nativegen"

// inlineCalls expands, in gen (a generated file of the source rel, whose
// line directives give the source's lines), the statement calls to the
// helpers of this file named in want ("Type.method" or "function"). It
// returns the new text and how many calls each helper had expanded.
func inlineCalls(rel string, gen []byte, want []string) ([]byte, map[string]int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, gen, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	tf := fset.File(f.Pos())
	helpers := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && slices.Contains(want, funcKey(fd)) {
			if err := inlinable(fset, gen, fd); err != nil {
				return nil, nil, fmt.Errorf("%s: cannot inline %s: %w", rel, funcKey(fd), err)
			}
			helpers[funcKey(fd)] = fd
		}
	}
	type splice struct {
		from, to int
		text     string
	}
	var splices []splice
	counts := map[string]int{}
	for _, d := range f.Decls {
		caller, ok := d.(*ast.FuncDecl)
		if !ok || caller.Body == nil || helpers[funcKey(caller)] == caller {
			continue // a helper's declaration stays as it is
		}
		labels := labelsOf(caller)
		var walkErr error
		forEachStmtList(caller.Body, func(list []ast.Stmt) {
			for _, st := range list {
				if walkErr != nil {
					return
				}
				es, ok := st.(*ast.ExprStmt)
				if !ok {
					continue
				}
				call, ok := es.X.(*ast.CallExpr)
				if !ok {
					continue
				}
				h := calledHelper(caller, call, helpers)
				if h == nil {
					continue
				}
				key := funcKey(h)
				text, from, to, err := expand(tf, gen, rel, caller, h, es, call, labels)
				if err != nil {
					walkErr = fmt.Errorf("%s:%d: cannot inline %s into %s: %w", rel, tf.Line(es.Pos()), key, funcKey(caller), err)
					return
				}
				splices = append(splices, splice{from, to, text})
				counts[key]++
			}
		})
		if walkErr != nil {
			return nil, nil, walkErr
		}
	}
	if len(splices) == 0 {
		return gen, counts, nil
	}
	slices.SortFunc(splices, func(a, b splice) int { return b.from - a.from })
	out := slices.Clone(gen)
	for i, s := range splices {
		if i > 0 && s.to > splices[i-1].from {
			return nil, nil, fmt.Errorf("%s:%d: a call to inline is inside another", rel, tf.Line(tf.Pos(splices[i-1].from)))
		}
		out = slices.Concat(out[:s.from], []byte(s.text), out[s.to:])
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the inlined file does not format: %w", rel, err)
	}
	return formatted, counts, nil
}

// funcKey is how a subject names a function: "Type.method" or "function".
func funcKey(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return "?." + fd.Name.Name
}

// inlinable says why fd cannot be inlined, or nil.
func inlinable(fset *token.FileSet, src []byte, fd *ast.FuncDecl) error {
	switch {
	case fd.Body == nil:
		return fmt.Errorf("no body")
	case fd.Type.Results != nil && len(fd.Type.Results.List) > 0:
		return fmt.Errorf("it has results")
	case fd.Type.TypeParams != nil:
		return fmt.Errorf("it has type parameters")
	case fset.Position(fd.Body.Lbrace).Line == fset.Position(fd.Body.Rbrace).Line:
		return fmt.Errorf("its body is on one line")
	case fd.Recv != nil && funcKey(fd)[0] == '?':
		return fmt.Errorf("its receiver type is not a named type")
	}
	for _, p := range fd.Type.Params.List {
		if _, ok := p.Type.(*ast.Ellipsis); ok {
			return fmt.Errorf("it is variadic")
		}
	}
	var why error
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if why != nil {
			return false
		}
		switch n := n.(type) {
		case *ast.LabeledStmt:
			why = fmt.Errorf("it has a label")
		case *ast.BranchStmt:
			if n.Tok == token.GOTO {
				why = fmt.Errorf("it has a goto")
			}
		case *ast.DeferStmt:
			why = fmt.Errorf("it defers")
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "recover" && id.Obj == nil {
				why = fmt.Errorf("it recovers")
			}
		case *ast.BasicLit:
			if n.Kind == token.STRING && strings.HasPrefix(n.Value, "`") && strings.Contains(n.Value, "\n") {
				why = fmt.Errorf("it has a multi-line raw string (re-indenting would change it)")
			}
		}
		return true
	})
	if why != nil {
		return why
	}
	body := src[fset.Position(fd.Body.Lbrace).Offset:fset.Position(fd.Body.Rbrace).Offset]
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "//line ") {
			return fmt.Errorf("it has a line directive")
		}
	}
	return nil
}

// calledHelper is the helper call calls, or nil: a function of this file
// by its name, or a method through the caller's own receiver of the same
// type.
func calledHelper(caller *ast.FuncDecl, call *ast.CallExpr, helpers map[string]*ast.FuncDecl) *ast.FuncDecl {
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		h := helpers[fun.Name]
		if h != nil && h.Recv == nil && fun.Obj != nil && fun.Obj.Decl == h {
			return h
		}
	case *ast.SelectorExpr:
		recv, ok := fun.X.(*ast.Ident)
		if !ok || caller.Recv == nil || len(caller.Recv.List) == 0 {
			return nil
		}
		field := caller.Recv.List[0]
		if recv.Obj == nil || recv.Obj.Decl != field {
			return nil // not the caller's receiver
		}
		typ, _, _ := strings.Cut(funcKey(caller), ".")
		h := helpers[typ+"."+fun.Sel.Name]
		if h != nil && h.Recv != nil && typeText(field.Type) == typeText(h.Recv.List[0].Type) {
			return h
		}
	}
	return nil
}

// typeText is a type expression's text.
func typeText(e ast.Expr) string {
	var b bytes.Buffer
	if err := format.Node(&b, token.NewFileSet(), e); err != nil {
		return "?"
	}
	return b.String()
}

// expand returns the text that replaces the bytes [from, to) of src: the
// whole lines of the call statement es.
func expand(tf *token.File, src []byte, rel string, caller, h *ast.FuncDecl, es *ast.ExprStmt, call *ast.CallExpr, labels map[string]bool) (text string, from, to int, err error) {
	start, end := tf.Offset(es.Pos()), tf.Offset(es.End())
	from = bytes.LastIndexByte(src[:start], '\n') + 1
	to = end + bytes.IndexByte(src[end:], '\n') + 1
	indent := string(src[from:start])
	if strings.Trim(indent, "\t") != "" || strings.TrimSpace(string(src[end:to])) != "" {
		return "", 0, 0, fmt.Errorf("the call is not alone on its line")
	}
	callText := strings.Join(strings.Fields(string(src[start:end])), " ")
	if strings.Contains(callText, "/*") || strings.Contains(callText, "//") {
		return "", 0, 0, fmt.Errorf("the call has a comment")
	}
	if err := shadowed(h, caller); err != nil {
		return "", 0, 0, err
	}

	// Bind the receiver and the parameters, as the call does.
	var lhs, rhs []string
	bind := func(name *ast.Ident, typ ast.Expr, arg ast.Expr) {
		n := "_"
		if name != nil && name.Name != "_" && uses(h.Body, name) {
			n = name.Name
		}
		lhs = append(lhs, n)
		rhs = append(rhs, conversion(typ, string(src[tf.Offset(arg.Pos()):tf.Offset(arg.End())])))
	}
	if h.Recv != nil {
		var name *ast.Ident
		if r := h.Recv.List[0]; len(r.Names) > 0 {
			name = r.Names[0]
		}
		bind(name, h.Recv.List[0].Type, call.Fun.(*ast.SelectorExpr).X)
	}
	args := call.Args
	for _, p := range h.Type.Params.List {
		names := p.Names
		if len(names) == 0 {
			names = []*ast.Ident{nil}
		}
		for _, name := range names {
			if len(args) == 0 {
				return "", 0, 0, fmt.Errorf("too few arguments")
			}
			bind(name, p.Type, args[0])
			args = args[1:]
		}
	}
	if len(args) > 0 {
		return "", 0, 0, fmt.Errorf("too many arguments (a multi-valued call?)")
	}

	// The body, its returns made gotos to the label after the block.
	// tf.Line is the source's line (the file's line directives applied),
	// raw the file's own.
	raw := func(p token.Pos) int { return tf.PositionFor(p, false).Line }
	label := ""
	bodyFrom := tf.LineStart(raw(h.Body.Lbrace) + 1)
	bodyTo := tf.LineStart(raw(h.Body.Rbrace))
	var returns []int
	ast.Inspect(h.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its returns are its own
		case *ast.ReturnStmt:
			returns = append(returns, tf.Offset(n.Pos()))
		}
		return true
	})
	if strings.TrimSpace(string(src[tf.Offset(h.Body.Lbrace)+1:tf.Offset(bodyFrom)])) != "" ||
		strings.TrimSpace(string(src[tf.Offset(bodyTo):tf.Offset(h.Body.Rbrace)])) != "" {
		return "", 0, 0, fmt.Errorf("its braces are not alone at the ends of their lines")
	}
	body := string(src[tf.Offset(bodyFrom):tf.Offset(bodyTo)])
	if len(returns) > 0 {
		label = h.Name.Name + "Done"
		for i := 2; labels[label]; i++ {
			label = h.Name.Name + "Done" + strconv.Itoa(i)
		}
		labels[label] = true
		base := tf.Offset(bodyFrom)
		for _, r := range slices.Backward(returns) {
			r -= base
			body = body[:r] + "goto " + label + body[r+len("return"):]
		}
	}

	// With a label, the body is a block in the block, so that the label
	// (after it) is at the end of a block, where no declaration of the
	// body's is in scope, whatever statement follows the call.
	var b strings.Builder
	callLine := tf.Line(es.Pos())
	fmt.Fprintf(&b, "%s{ // %s%s\n", indent, callText, inlineMark)
	if len(lhs) > 0 {
		op := ":="
		if !slices.ContainsFunc(lhs, func(n string) bool { return n != "_" }) {
			op = "="
		}
		fmt.Fprintf(&b, "//line %s:%d\n%s\t%s %s %s\n", rel, callLine, indent, strings.Join(lhs, ", "), op, strings.Join(rhs, ", "))
	}
	inner := indent
	if label != "" {
		inner += "\t"
		fmt.Fprintf(&b, "%s{\n", inner)
	}
	fmt.Fprintf(&b, "//line %s:%d\n", rel, tf.Line(bodyFrom))
	for _, line := range strings.SplitAfter(body, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(inner)
		}
		b.WriteString(line)
	}
	if label != "" {
		fmt.Fprintf(&b, "%s}\n%s:\n", inner, label)
	}
	fmt.Fprintf(&b, "%s}\n//line %s:%d\n", indent, rel, tf.Line(es.End())+1)
	return b.String(), from, to, nil
}

// conversion is arg converted to typ, in the fewest parentheses.
func conversion(typ ast.Expr, arg string) string {
	t := typeText(typ)
	switch typ.(type) {
	case *ast.Ident, *ast.SelectorExpr, *ast.ArrayType, *ast.MapType:
		return t + "(" + arg + ")"
	}
	return "(" + t + ")(" + arg + ")"
}

// uses says whether body refers to the object name declares.
func uses(body *ast.BlockStmt, name *ast.Ident) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id != name && id.Obj != nil && id.Obj == name.Obj {
			found = true
		}
		return !found
	})
	return found
}

// shadowed fails when a name the helper h takes from outside itself (its
// package's, an import's, the universe's) is declared in the caller: in
// the caller's body it could mean the caller's variable.
func shadowed(h, caller *ast.FuncDecl) error {
	within := func(fd *ast.FuncDecl, obj *ast.Object) bool {
		if obj == nil {
			return false
		}
		d, ok := obj.Decl.(ast.Node)
		return ok && d.Pos() >= fd.Pos() && d.End() <= fd.End()
	}
	free := map[string]bool{}
	var walk func(ast.Node)
	walk = func(node ast.Node) {
		ast.Inspect(node, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				walk(n.X) // not the selected name
				return false
			case *ast.Ident:
				if n != h.Name && !within(h, n.Obj) {
					free[n.Name] = true
				}
			}
			return true
		})
	}
	walk(h)
	var clash []string
	ast.Inspect(caller, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Obj != nil && id.Obj.Kind != ast.Lbl && within(caller, id.Obj) && free[id.Name] && !slices.Contains(clash, id.Name) {
			clash = append(clash, id.Name)
		}
		return true
	})
	if len(clash) > 0 {
		return fmt.Errorf("%s, which it uses from outside itself, is declared in the caller", strings.Join(clash, ", "))
	}
	return nil
}

// labelsOf are the labels of fd.
func labelsOf(fd *ast.FuncDecl) map[string]bool {
	labels := map[string]bool{}
	ast.Inspect(fd, func(n ast.Node) bool {
		if l, ok := n.(*ast.LabeledStmt); ok {
			labels[l.Label.Name] = true
		}
		return true
	})
	return labels
}

// forEachStmtList calls fn with every statement list in body: blocks and
// the bodies of case and comm clauses (not a labeled statement's single
// statement, nor the init and post statements of if, for and switch).
func forEachStmtList(body *ast.BlockStmt, fn func([]ast.Stmt)) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BlockStmt:
			fn(n.List)
		case *ast.CaseClause:
			fn(n.Body)
		case *ast.CommClause:
			fn(n.Body)
		}
		return true
	})
}
