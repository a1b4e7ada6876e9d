package main

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
)

// Swap tests. A cmpxchg whose result is compared with the value it
// expected, as in
//
//	if c.Cmpxchg(q.prodHead, pHead, pNext) == pHead {
//
// asks only whether the exchange happened. The native Cmpxchg answers
// that with its result (old exactly when it swapped), but the compiler
// does not see it: it merges the swap's and the failure's results and
// compares them with old once more, between two atomics, on the path that
// runs every time. The kernel has try_cmpxchg for the same reason. The
// generator writes such a comparison as the test it is,
//
//	if c.CmpxchgSwapped(q.prodHead, pHead, pNext) {
//
// (!c.CmpxchgSwapped for !=), on the same line, which compiles to the
// compare-and-swap and its flag.
//
// Only what is the same test without type information is rewritten: the
// receiver is a parameter of type *native.Ctx, the other operand of == or
// != is the variable passed as old (the same local variable, by the
// parser's resolution), no other argument calls anything (so none can
// change that variable), and the comparison is on one line. Anything else
// is left as it is, which is correct, only not as fast.

// swapName is the native method a swap test becomes.
const swapName = "CmpxchgSwapped"

// swapTests rewrites the swap tests of gen, a generated file of the
// source rel, and returns the new text and how many it rewrote.
func swapTests(rel string, gen []byte) ([]byte, int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, gen, parser.ParseComments)
	if err != nil {
		return nil, 0, err
	}
	ctx := ""
	for _, spec := range f.Imports {
		if path, err := strconv.Unquote(spec.Path.Value); err == nil && path == module+"/native" {
			name := "native"
			if spec.Name != nil {
				name = spec.Name.Name
			}
			ctx = "*" + name + ".Ctx"
		}
	}
	if ctx == "" {
		return gen, 0, nil
	}
	tf := fset.File(f.Pos())
	type splice struct {
		from, to int
		text     string
	}
	var splices []splice
	ast.Inspect(f, func(n ast.Node) bool {
		bin, ok := n.(*ast.BinaryExpr)
		if !ok || (bin.Op != token.EQL && bin.Op != token.NEQ) {
			return true
		}
		call := swapTest(bin.X, bin.Y, ctx)
		if call == nil {
			call = swapTest(bin.Y, bin.X, ctx)
		}
		if call == nil || tf.Line(bin.Pos()) != tf.Line(bin.End()) {
			return true
		}
		sel := call.Fun.(*ast.SelectorExpr)
		text := string(gen[tf.Offset(sel.X.Pos()):tf.Offset(sel.X.End())]) + "." + swapName +
			string(gen[tf.Offset(call.Lparen):tf.Offset(call.End())])
		if bin.Op == token.NEQ {
			text = "!" + text
		}
		splices = append(splices, splice{tf.Offset(bin.Pos()), tf.Offset(bin.End()), text})
		return false
	})
	if len(splices) == 0 {
		return gen, 0, nil
	}
	out := slices.Clone(gen)
	for _, s := range slices.Backward(splices) { // Inspect visits in source order
		out = slices.Concat(out[:s.from], []byte(s.text), out[s.to:])
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: the file with its swap tests rewritten does not format: %w", rel, err)
	}
	return formatted, len(splices), nil
}

// swapTest returns the call of e == other when that is a swap test (see
// above), or nil.
func swapTest(e, other ast.Expr, ctx string) *ast.CallExpr {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 3 || call.Ellipsis.IsValid() {
		return nil
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Cmpxchg" {
		return nil
	}
	recv, ok := sel.X.(*ast.Ident)
	if !ok || recv.Obj == nil || recv.Obj.Kind != ast.Var {
		return nil
	}
	if field, ok := recv.Obj.Decl.(*ast.Field); !ok || typeText(field.Type) != ctx {
		return nil // not a parameter of type *native.Ctx
	}
	old, ok := call.Args[1].(*ast.Ident)
	same, ok2 := other.(*ast.Ident)
	if !ok || !ok2 || old.Obj == nil || old.Obj.Kind != ast.Var || same.Obj != old.Obj {
		return nil
	}
	for _, arg := range []ast.Expr{call.Args[0], call.Args[2]} {
		calls := false
		ast.Inspect(arg, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.CallExpr, *ast.FuncLit:
				calls = true
			}
			return !calls
		})
		if calls {
			return nil
		}
	}
	return call
}
