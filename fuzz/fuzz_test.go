package fuzz

import (
	"flag"
	"testing"
)

// fuzzing reports whether go test runs with -fuzz.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// fuzzTarget runs a target on the fuzzer's bytes and fails on any failure
// the checkers find. The checked-in seeds (testdata/fuzz/<Target>) are
// inputs that pass.
//
// A demonstration target fails under -fuzz when the fuzzer reaches its
// subject's known bug, and the fuzzer saves the input in its corpus; plain
// go test then skips that input, naming it and where to keep it as a
// regression (testdata/crashers/<Target>/, whose inputs must reproduce the
// bug: TestDemonstrationCrashersAreFoundAndNamed), so that a fuzzing
// session does not leave go test ./... failing on a bug known to be there.
func fuzzTarget(f *testing.F, name string) {
	t, err := Lookup(name)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(tt *testing.T, data []byte) {
		r, err := t.Run(data, false)
		if err != nil {
			tt.Fatal(err)
		}
		if r.Err != nil {
			tt.Fatal(r.Err)
		}
		if r.Failure != nil && t.Demonstration && !fuzzing() {
			tt.Skipf("%s demonstrates a known bug, which this input reaches (%s at %s): move the file to fuzz/testdata/crashers/%s/ to keep it as a regression", name, r.Failure.Kind, r.Failure.Where(), name)
		}
		if r.Failure != nil {
			tt.Fatalf("%s: %v\n  at %s", name, r.Failure, r.Failure.Where())
		}
	})
}

// FuzzRing2005 demonstrates the 2005 ring's crash: it fails as soon as the
// fuzzer reaches an interleaving that crashes the ring (seconds).
func FuzzRing2005(f *testing.F) { fuzzTarget(f, "FuzzRing2005") }

// FuzzRing2005Locked must find nothing.
func FuzzRing2005Locked(f *testing.F) { fuzzTarget(f, "FuzzRing2005Locked") }

// FuzzAlfMPMC must find nothing.
func FuzzAlfMPMC(f *testing.F) { fuzzTarget(f, "FuzzAlfMPMC") }

// FuzzAlfSPSC must find nothing.
func FuzzAlfSPSC(f *testing.F) { fuzzTarget(f, "FuzzAlfSPSC") }

// FuzzAlfSPSCMisuse demonstrates SP enqueue from two CPUs: the debug
// assertion's BUG.
func FuzzAlfSPSCMisuse(f *testing.F) { fuzzTarget(f, "FuzzAlfSPSCMisuse") }

// FuzzAlfPreempt demonstrates the soft lockup of MP/MC called with
// preemption enabled.
func FuzzAlfPreempt(f *testing.F) { fuzzTarget(f, "FuzzAlfPreempt") }

// FuzzAlfIRQ demonstrates MP/MC used from a hardirq handler over a task.
func FuzzAlfIRQ(f *testing.F) { fuzzTarget(f, "FuzzAlfIRQ") }

// FuzzSKBQmempool must find nothing.
func FuzzSKBQmempool(f *testing.F) { fuzzTarget(f, "FuzzSKBQmempool") }

// FuzzSKBSlab must find nothing.
func FuzzSKBSlab(f *testing.F) { fuzzTarget(f, "FuzzSKBSlab") }

// FuzzQmempoolHardirq demonstrates qmempool used from a hardirq handler.
func FuzzQmempoolHardirq(f *testing.F) { fuzzTarget(f, "FuzzQmempoolHardirq") }
