#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the libFuzzer targets built by tests/fuzz/Makefile.fuzz (docs/fuzzing.md).
#
#   run.sh run [TARGET...]     fuzz each target for $FUZZ_SECONDS (default 60),
#                              starting from tests/fuzz/corpus/<x>/; inputs that
#                              add coverage are merged back (-merge=1), crashes
#                              go to build/fuzz/crashes/
#   run.sh replay [TARGET...]  run each replay build over its corpus (seconds)
#
# TARGET is fuzz_<x> (the harness tests/fuzz/fuzz_<x>.c); the corpus of
# fuzz_<x> is tests/fuzz/corpus/<x>/. One summary line per target, then
# "N passed, N failed"; the exit status is non-zero if any failed.
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
FZ=$BUILD/fuzz
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CORPUS=tests/fuzz/corpus
MAKE=${MAKE:-make}

# Longest input per target: a little over what a real message needs.
max_len() {
	case $1 in
	fuzz_dns) echo 1024 ;;
	fuzz_genl) echo 2048 ;;
	fuzz_uapi) echo 4096 ;;
	fuzz_proto) echo 4096 ;;
	fuzz_guest_ops) echo 4096 ;;
	fuzz_docker) echo 8192 ;;
	fuzz_plugin) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

targets() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@"
	else
		$MAKE --no-print-directory -s -f tests/fuzz/Makefile.fuzz \
			BUILD="$BUILD" print-targets
	fi
}

corpus_of() {
	echo "$CORPUS/${1#fuzz_}"
}

count_files() {
	find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l
}

# The last libFuzzer status line ("#N ... cov: C ft: F ... exec/s: E ...").
stat_of() {
	local log=$1 key=$2

	grep -E '^#[0-9]+' "$log" | tail -n 1 |
		sed -nE "s/.* $key:? ([0-9]+).*/\\1/p"
}

passed=0
failed=0

run_one() {
	local t=$1 bin=$FZ/$1 corpus work log dict rc execs cov ft eps before after
	local args

	corpus=$(corpus_of "$t")
	work=$FZ/work/$t
	log=$FZ/logs/$t.log
	if [ ! -x "$bin" ]; then
		echo "$t: FAIL (no $bin: run make fuzz-build)"
		failed=$((failed + 1))
		return
	fi
	mkdir -p "$corpus" "$work" "$FZ/logs" "$FZ/crashes"
	args=(-max_len="$(max_len "$t")" -max_total_time="$FUZZ_SECONDS"
	      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
	      -artifact_prefix="$FZ/crashes/$t-")
	dict=tests/fuzz/$t.dict
	[ -f "$dict" ] && args+=(-dict="$dict")
	# New inputs land in the first directory (the scratch one); the
	# committed corpus is only read here, and merged into below.
	"$bin" "${args[@]}" "$work" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
	eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
	cov=$(stat_of "$log" cov)
	ft=$(stat_of "$log" ft)
	before=$(count_files "$corpus")
	if [ $rc -eq 0 ]; then
		# Keep the corpus small: only what adds coverage to it.
		"$bin" -merge=1 -use_counters=0 -max_len="$(max_len "$t")" \
			"$corpus" "$work" \
			>>"$log" 2>&1 || rc=$?
	fi
	after=$(count_files "$corpus")
	if [ $rc -eq 0 ]; then
		echo "$t: ok ${FUZZ_SECONDS}s, ${execs:-?} execs (${eps:-?}/s), cov ${cov:-?} ft ${ft:-?}, corpus $before -> $after"
		passed=$((passed + 1))
	else
		echo "$t: FAIL (exit $rc) after ${execs:-?} execs; see $log and $FZ/crashes/$t-*"
		grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

replay_one() {
	local t=$1 bin=$FZ/replay/$1 corpus out rc

	corpus=$(corpus_of "$t")
	if [ ! -x "$bin" ]; then
		echo "$t: FAIL (no $bin: run make fuzz-build)"
		failed=$((failed + 1))
		return
	fi
	if [ ! -d "$corpus" ]; then
		echo "$t: ok (no corpus at $corpus)"
		passed=$((passed + 1))
		return
	fi
	out=$(ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	      "$bin" "$corpus" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "$t: ok ($(count_files "$corpus") inputs)"
		passed=$((passed + 1))
	else
		echo "$t: FAIL (exit $rc)"
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

mode=${1:-}
[ $# -gt 0 ] && shift
case $mode in
run)
	for t in $(targets "$@"); do run_one "$t"; done
	;;
replay)
	for t in $(targets "$@"); do replay_one "$t"; done
	;;
*)
	echo "usage: $0 run|replay [fuzz_<x>...]" >&2
	exit 2
	;;
esac
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
