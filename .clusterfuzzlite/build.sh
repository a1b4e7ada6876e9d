#!/bin/bash -eu
# ClusterFuzzLite's build script: every native Go fuzz test of the module
# (a func FuzzX(f *testing.F) in a _test.go file) becomes a libFuzzer target
# in $OUT. fuzz/clusterfuzzlite_test.go checks that the list below names each
# of them once, and nothing else.
#
# The targets are built with the base image's compile_native_go_fuzzer_v2,
# which takes the same arguments as compile_native_go_fuzzer (the package,
# the fuzz function, the target's name). The first version finds the function
# with grep "func NAME" and, when that matches more than one line, prints that
# it could not find it and exits 0: FuzzRing2005 (FuzzRing2005Locked) and
# FuzzAlfSPSC (FuzzAlfSPSCMisuse) would be left out without a word. The v2
# script matches "func NAME(", and builds with an overlay of Go's own testing
# package rather than by rewriting imports, so the module needs no
# go-118-fuzz-build/testing dependency.
#
# FuzzRing2005, FuzzAlfSPSCMisuse, FuzzAlfPreempt, FuzzAlfIRQ and
# FuzzQmempoolHardirq demonstrate known failures: they crash within seconds,
# by design (see fuzz/fuzz_test.go).

cd "$SRC/lfsim"

# go.mod asks for a newer Go than the image may have; the go command then
# runs a toolchain it downloads into the module cache, and Go refuses the v2
# build's overlay of files in the module cache. Run a copy of that toolchain
# from elsewhere instead.
goroot=$(go env GOROOT)
case "$goroot" in
"$(go env GOMODCACHE)"/*)
	cp -r "$goroot" /tmp/lfsim-goroot
	chmod -R u+w /tmp/lfsim-goroot
	export GOROOT=/tmp/lfsim-goroot PATH="/tmp/lfsim-goroot/bin:$PATH" GOTOOLCHAIN=local
	;;
esac
go version

# compile_native_go_fuzzer_v2 PACKAGE FUNCTION NAME: the base image's script,
# then a check that $OUT/NAME exists (the script does not fail when it finds
# no function), then the target's checked-in corpus, testdata/fuzz/FUNCTION
# in Go's corpus format, converted to libFuzzer inputs in NAME_seed_corpus.zip.
compile_native_go_fuzzer_v2() {
	command compile_native_go_fuzzer_v2 "$@"
	if [ ! -e "$OUT/$3" ]; then
		echo "build.sh: $1 $2 built no $OUT/$3" >&2
		exit 1
	fi
	local seeds
	seeds="$(go list -f '{{.Dir}}' "$1")/testdata/fuzz/$2"
	if [ -d "$seeds" ]; then
		if command -v addStdLibCorpusToFuzzer >/dev/null; then
			addStdLibCorpusToFuzzer -dir "$seeds" -fuzzer_name "$3"
		else
			echo "build.sh: no addStdLibCorpusToFuzzer in the image: $3 has no seed corpus" >&2
		fi
	fi
}

module=github.com/kernelsim/lfsim

# The scenarios, each decision taken from the fuzzer's bytes.
compile_native_go_fuzzer_v2 $module/fuzz FuzzRing2005 ring2005
compile_native_go_fuzzer_v2 $module/fuzz FuzzRing2005Locked ring2005_locked
compile_native_go_fuzzer_v2 $module/fuzz FuzzAlfMPMC alf_mpmc
compile_native_go_fuzzer_v2 $module/fuzz FuzzAlfSPSC alf_spsc
compile_native_go_fuzzer_v2 $module/fuzz FuzzAlfSPSCMisuse alf_spsc_misuse
compile_native_go_fuzzer_v2 $module/fuzz FuzzAlfPreempt alf_preempt
compile_native_go_fuzzer_v2 $module/fuzz FuzzAlfIRQ alf_irq
compile_native_go_fuzzer_v2 $module/fuzz FuzzSKBQmempool skb_qmempool
compile_native_go_fuzzer_v2 $module/fuzz FuzzSKBSlab skb_slab
compile_native_go_fuzzer_v2 $module/fuzz FuzzQmempoolHardirq qmempool_hardirq

# The examples' subjects, through check.Fuzz.
compile_native_go_fuzzer_v2 $module/examples/seqlock FuzzSeqlock seqlock
compile_native_go_fuzzer_v2 $module/examples/treiber FuzzTreiberStack treiber_stack

# The readers of the project's own formats.
compile_native_go_fuzzer_v2 $module/schedule FuzzDecode schedule_decode
compile_native_go_fuzzer_v2 $module/litmus FuzzParse litmus_parse
compile_native_go_fuzzer_v2 $module/litmus FuzzRun litmus_run
