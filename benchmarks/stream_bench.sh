#!/bin/sh
# Streaming a big task file through gasched-run: tasks/s and the peak
# resident memory (VmHWM) of gasched-run and of its node processes.
#
#   benchmarks/stream_bench.sh [BUILD_DIR] [LINES...]     (default: build 1000000 10000000)
#
# Each size gets a file of identity tasks ({"fn":"test.identity","args":[N]}),
# run with: gasched-run --tasks FILE --node-program gasched-test-node --quiet.
# VmHWM is sampled from /proc every 0.1 s while the run lasts: it only ever
# grows, so the last sample of each process is its peak (to within the
# last 0.1 s of its life). Extra arguments for gasched-run: GASCHED_RUN_ARGS.
set -eu

build=${1:-build}
[ $# -gt 0 ] && shift
sizes=${*:-1000000 10000000}
run="$build/apps/gasched-run"
node="$build/apps/gasched-test-node"
[ -x "$run" ] && [ -x "$node" ] || { echo "build gasched-run and gasched-test-node first" >&2; exit 2; }
work=$(mktemp -d /tmp/gasched-stream-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

hwm_kb() {  # VmHWM of pid $1 in kB, or nothing once it is gone
  sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true
}

for n in $sizes; do
  file="$work/tasks-$n.jsonl"
  awk -v n="$n" 'BEGIN { for (i = 1; i <= n; ++i) printf "{\"fn\":\"test.identity\",\"args\":[%d]}\n", i % 1000000 }' >"$file"
  bytes=$(stat -c %s "$file")
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$run" --tasks "$file" --node-program "$node" --quiet ${GASCHED_RUN_ARGS:-} >"$work/out" 2>"$work/err" &
  pid=$!
  run_peak=0
  node_peak=0
  while kill -0 "$pid" 2>/dev/null; do
    v=$(hwm_kb "$pid"); [ -n "$v" ] && [ "$v" -gt "$run_peak" ] && run_peak=$v
    for c in $(pgrep -P "$pid" 2>/dev/null || true); do
      v=$(hwm_kb "$c"); [ -n "$v" ] && [ "$v" -gt "$node_peak" ] && node_peak=$v
    done
    sleep 0.1
  done
  rc=0
  wait "$pid" || rc=$?
  end=$(date +%s.%N)
  results=$(grep -c '"ok":true' "$work/out" || true)
  awk -v n="$n" -v b="$bytes" -v s="$start" -v e="$end" -v r="$results" -v rc="$rc" \
      -v rp="$run_peak" -v np="$node_peak" 'BEGIN {
    t = e - s
    printf "%d tasks (%.0f MB file): %d ok, exit %d, %.1f s, %.0f tasks/s; peak RSS gasched-run %.1f MB, largest node %.1f MB\n",
           n, b / 1e6, r, rc, t, n / t, rp / 1024, np / 1024 }'
  [ "$rc" -eq 0 ] || { echo "stderr:" >&2; tail -5 "$work/err" >&2; }
  rm -f "$file" "$work/out"
done
