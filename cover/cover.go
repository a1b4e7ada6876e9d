// Package cover reports an exploration's concurrency coverage: which of
// the code's scheduling points (the source lines that call the machine
// through a *sim.Ctx) ran, and which pairs of conflicting accesses were
// seen in both orders. What never ran, and the races never reversed, are
// what the workload and the strategy left unchecked.
package cover

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kernelsim/lfsim/sim"
)

// pointMethods are the methods of sim.Ctx that are scheduling points, or
// made of them: a call to one is a line the machine can stop at.
var pointMethods = map[string]bool{
	"Load": true, "Store": true, "ReadOnce": true, "WriteOnce": true, "SmpLoadAcquire": true, "SmpStoreRelease": true,
	"Cmpxchg": true, "Xchg": true, "AtomicAddReturn": true, "SmpMb": true, "SmpWmb": true, "SmpRmb": true, "CpuRelax": true,
	"PreemptDisable": true, "PreemptEnable": true, "LocalBhDisable": true, "LocalBhEnable": true,
	"LocalIrqSave": true, "LocalIrqRestore": true, "LocalIrqDisable": true, "LocalIrqEnable": true, "RaiseSoftirq": true,
	"SpinLock": true, "SpinUnlock": true, "SpinLockBh": true, "SpinUnlockBh": true, "SpinLockIrqsave": true, "SpinUnlockIrqrestore": true,
	"MutexLock": true, "MutexUnlock": true, "KmemCacheAlloc": true, "KmemCacheFree": true, "Kmalloc": true, "Kfree": true,
}

// Points lists the scheduling points in the non-test Go files of dir: the
// calls of a point method on a name that the same file declares as
// *sim.Ctx somewhere (a parameter or a variable of that type). It reads
// syntax only, without types: a name declared *sim.Ctx in one function
// and as something else in another counts in both.
func Points(dir string) ([]sim.Pos, error) {
	fset := token.NewFileSet()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the source of %s: %w", dir, err)
	}
	var out []sim.Pos
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, err)
		}
		simName := importName(f, "github.com/kernelsim/lfsim/sim")
		if simName == "" {
			continue
		}
		ctxs := ctxNames(f, simName)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !pointMethods[sel.Sel.Name] {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && ctxs[id.Name] {
				p := fset.Position(sel.Sel.Pos())
				out = append(out, sim.Pos{File: path, Line: p.Line})
			}
			return true
		})
	}
	slices.SortFunc(out, comparePos)
	return slices.Compact(out), nil
}

// importName is the name file f uses for the package at path, or "".
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if strings.Trim(im.Path.Value, `"`) == path {
			if im.Name != nil {
				return im.Name.Name
			}
			return filepath.Base(path)
		}
	}
	return ""
}

// ctxNames are the names declared with type *sim.Ctx anywhere in f.
func ctxNames(f *ast.File, simName string) map[string]bool {
	isCtx := func(e ast.Expr) bool {
		st, ok := e.(*ast.StarExpr)
		if !ok {
			return false
		}
		sel, ok := st.X.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Ctx" {
			return false
		}
		id, ok := sel.X.(*ast.Ident)
		return ok && id.Name == simName
	}
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch d := n.(type) {
		case *ast.Field:
			if isCtx(d.Type) {
				for _, id := range d.Names {
					names[id.Name] = true
				}
			}
		case *ast.ValueSpec:
			if d.Type != nil && isCtx(d.Type) {
				for _, id := range d.Names {
					names[id.Name] = true
				}
			}
		}
		return true
	})
	return names
}

func comparePos(a, b sim.Pos) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
}

// Package is the coverage of one directory of code.
type Package struct {
	Dir        string
	Points     []sim.Pos // every scheduling point in its source
	Unreached  []sim.Pos
	Reached    int
	OneWay     [][2]sim.Pos // conflicting pairs seen in one order only: (earlier, later)
	BothWays   int
	NoSource   error // set when its source could not be read
	IsWorkload bool
}

// Report groups the coverage by the directory of each reached point. The
// directories in workload hold the workload's own code: their reached
// points are counted but what they do not reach is not listed (a
// scenario's file holds other workloads too).
func Report(cv *sim.Coverage, workload []string) []Package {
	dirs := map[string]*Package{}
	get := func(file string) *Package {
		d := filepath.Dir(file)
		if p := dirs[d]; p != nil {
			return p
		}
		p := &Package{Dir: d, IsWorkload: slices.Contains(workload, d)}
		dirs[d] = p
		return p
	}
	for pos := range cv.Points {
		get(pos.File)
	}
	for pair, n := range cv.Orders {
		if n == 0 {
			continue
		}
		a, b := pair[0], pair[1]
		rev := cv.Orders[[2]sim.Pos{b, a}]
		p := get(a.File)
		switch {
		case a == b || rev > 0:
			if comparePos(a, b) <= 0 {
				p.BothWays++
			}
		default:
			p.OneWay = append(p.OneWay, pair)
		}
	}
	var out []Package
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		p := dirs[d]
		pts, err := Points(d)
		p.Points, p.NoSource = pts, err
		for _, pos := range pts {
			if cv.Points[pos] > 0 {
				p.Reached++
			} else if !p.IsWorkload {
				p.Unreached = append(p.Unreached, pos)
			}
		}
		slices.SortFunc(p.OneWay, func(x, y [2]sim.Pos) int {
			return cmp.Or(comparePos(x[0], y[0]), comparePos(x[1], y[1]))
		})
		out = append(out, *p)
	}
	return out
}

// Write prints the report, a package per paragraph.
func Write(w io.Writer, runs int, pkgs []Package) {
	fmt.Fprintf(w, "concurrency coverage over %d runs:\n", runs)
	for _, p := range pkgs {
		name := p.Dir
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, p.Dir); err == nil && !strings.HasPrefix(rel, "..") {
				name = rel
			}
		}
		role := ""
		if p.IsWorkload {
			role = " (workload)"
		}
		if p.NoSource != nil {
			fmt.Fprintf(w, "%s%s: source not readable (%v): reached points only\n", name, role, p.NoSource)
		} else {
			fmt.Fprintf(w, "%s%s: %d of %d scheduling points reached", name, role, p.Reached, len(p.Points))
			fmt.Fprintf(w, "; %d racing pairs seen in both orders, %d in one order only\n", p.BothWays, len(p.OneWay))
		}
		for _, pos := range p.Unreached {
			fmt.Fprintf(w, "  never reached: %s\n", pos.Short())
		}
		for _, pair := range p.OneWay {
			fmt.Fprintf(w, "  never reversed: %s before %s\n", pair[0].Short(), pair[1].Short())
		}
	}
}
