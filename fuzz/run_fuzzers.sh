#!/usr/bin/env bash
# Runs each libFuzzer target of build-fuzz/ in turn (one at a time: one core) for FUZZ_S seconds
# on a working copy of its corpus (seeded from tests/corpus/<target>/), then prints per target the
# executions, seconds, executions per second and the corpus size. A crash stops with the
# reproducing input saved as build-fuzz/crash-<target>-*; replay it with
#   build-fuzz/fuzz_<target> <input>
# and, once fixed, copy it to tests/corpus/<target>/bad-<what> so `make test` keeps it fixed.
# Usage: fuzz/run_fuzzers.sh <build dir> <seconds per target> [target...]
# FUZZ_RUNS=<n> also stops each target after n executions (the issue's bar is 1000000).
set -euo pipefail
build=$1
seconds=$2
shift 2
targets=("$@")
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ${#targets[@]} -eq 0 ]; then  # every row of kFuzzTargets
  mapfile -t targets < <(sed -n 's/^    {"\([a-z0-9_]*\)", fuzz_.*/\1/p' "$root/fuzz/fuzz_target.h")
fi
# The targets of parsers that take a path rewrite a scratch file per input (fuzz/scratch_file.h):
# in memory, where a tmpfs is there, rather than on disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
printf '%-22s %12s %8s %10s %8s\n' target executions seconds exec/s corpus
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  cp -n "$root/tests/corpus/$t/"* "$work/" 2>/dev/null || true
  log="$build/fuzz-$t.log"
  # -rss_limit_mb: an input that makes a parser allocate past it is a finding, like a crash.
  # -timeout is wall-clock, and a niced fuzzer on a busy machine waits for the CPU; a real hang
  # never ends, so FUZZ_TIMEOUT (seconds) defaults to a generous 60.
  if ! "$build/fuzz_$t" "$work" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048 \
      -max_len=65536 -runs="${FUZZ_RUNS:--1}" -print_final_stats=1 -artifact_prefix="$build/crash-$t-" >"$log" 2>&1; then
    echo "fuzz_$t found a problem; see $log and $build/crash-$t-*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  [ -n "$secs" ] && [ "$secs" -gt 0 ] || secs=1
  printf '%-22s %12s %8s %10s %8s\n' "$t" "$runs" "$secs" "$((runs / secs))" "$(ls "$work" | wc -l)"
done
