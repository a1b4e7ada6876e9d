package native_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kernelsim/lfsim/native"
	"github.com/kernelsim/lfsim/sim"
)

// simOnly are the methods of the simulator's types that subjects do not
// call, with the reason they have no native counterpart.
var simOnly = map[string]string{
	"Ctx.CPU":   "the simulator's CPU descriptor, for workloads and checks",
	"Cell.Name": "a native cell is one word: names are the simulator's trace's",
}

// subjectMachine are the Machine methods a subject calls, while it builds
// its structures or to reach an object's memory (Ctx.Machine().Object);
// the rest (Go, Init, RequestIRQ, Run, ...) belong to workloads.
var subjectMachine = []string{"NewCell", "NewCellBits", "NewArray", "NewSpinlock", "NewMutex", "KmemCacheCreate", "OpenSoftirq", "CPUs", "Object"}

// signature is a method's type without its receiver, with the simulator's
// types named as the native ones.
func signature(m reflect.Method) string {
	in := make([]string, 0, m.Type.NumIn())
	for i := 1; i < m.Type.NumIn(); i++ {
		in = append(in, m.Type.In(i).String())
	}
	if m.Type.IsVariadic() {
		in[len(in)-1] = "..." + strings.TrimPrefix(in[len(in)-1], "[]")
	}
	out := make([]string, 0, m.Type.NumOut())
	for i := range m.Type.NumOut() {
		out = append(out, m.Type.Out(i).String())
	}
	return strings.ReplaceAll("("+strings.Join(in, ", ")+") ("+strings.Join(out, ", ")+")", "sim.", "native.")
}

func methods(v any) map[string]reflect.Method {
	t := reflect.TypeOf(v)
	ms := map[string]reflect.Method{}
	for i := range t.NumMethod() {
		ms[t.Method(i).Name] = t.Method(i)
	}
	return ms
}

// Every method of *sim.Ctx a subject may call, and of the other types it
// reaches through a Ctx, has a native counterpart of the same signature,
// so a subject written for the simulator builds natively.
func TestNativeCoversTheKernelAPI(t *testing.T) {
	for _, pair := range []struct {
		name     string
		sim, nat any
		only     []string // nil: every method
	}{
		{"Ctx", (*sim.Ctx)(nil), (*native.Ctx)(nil), nil},
		{"Cell", (*sim.Cell)(nil), (*native.Cell)(nil), nil},
		{"Machine", (*sim.Machine)(nil), (*native.Machine)(nil), subjectMachine},
		{"Object", (*sim.Object)(nil), (*native.Object)(nil), []string{"Word", "Handle"}},
	} {
		s, n := methods(pair.sim), methods(pair.nat)
		for name, m := range s {
			if pair.only != nil && !slices.Contains(pair.only, name) {
				continue
			}
			if why, ok := simOnly[pair.name+"."+name]; ok {
				assert.NotEmpty(t, why)
				continue
			}
			nm, ok := n[name]
			if !assert.True(t, ok, "native.%s has no %s: a subject calling it does not build natively", pair.name, name) {
				continue
			}
			assert.Equal(t, signature(m), signature(nm), "%s.%s", pair.name, name)
		}
	}
}
