#!/bin/sh
# Streaming a big task file through gasched-run: tasks/s and the peak
# resident memory (VmHWM) of gasched-run and of its node processes, and each
# size's peak over the first size's (memory flat for any batch: 2,000,000
# lines within 1.2 times 200,000, 10,000,000 within 1.3 times).
#
#   benchmarks/stream_bench.sh [BUILD_DIR] [LINES...]     (default: build 200000 2000000)
#
# Each size gets a file of identity tasks ({"fn":"test.identity","args":[N]}),
# run with: gasched-run --tasks FILE --node-program gasched-test-node --quiet
# (the command is printed). VmHWM is sampled from /proc every 0.1 s while the
# run lasts: it only ever grows, so the last sample of each process is its
# peak (to within the last 0.1 s of its life). Extra arguments for
# gasched-run: GASCHED_RUN_ARGS. Runs per size: REPEAT (default 1); the
# ratio compares the medians.
set -eu

build=${1:-build}
[ $# -gt 0 ] && shift
sizes=${*:-200000 2000000}
repeat=${REPEAT:-1}
run="$build/apps/gasched-run"
node="$build/apps/gasched-test-node"
[ -x "$run" ] && [ -x "$node" ] || { echo "build gasched-run and gasched-test-node first" >&2; exit 2; }
work=$(mktemp -d /tmp/gasched-stream-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

hwm_kb() {  # VmHWM of pid $1 in kB, or nothing once it is gone
  sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true
}

first_peak=
for n in $sizes; do
  file="$work/tasks-$n.jsonl"
  awk -v n="$n" 'BEGIN { for (i = 1; i <= n; ++i) printf "{\"fn\":\"test.identity\",\"args\":[%d]}\n", i % 1000000 }' >"$file"
  bytes=$(stat -c %s "$file")
  echo "command: $run --tasks FILE --node-program $node --quiet ${GASCHED_RUN_ARGS:-}"
  peaks=
  i=0
  while [ "$i" -lt "$repeat" ]; do
    i=$((i + 1))
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
    peaks="$peaks $run_peak"
    rm -f "$work/out"
  done
  median=$(echo "$peaks" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  [ -n "$first_peak" ] || { first_peak=$median; first_n=$n; }
  awk -v n="$n" -v m="$median" -v f="$first_peak" -v fn="$first_n" -v all="$peaks" 'BEGIN {
    printf "%d tasks: median peak RSS gasched-run %.1f MB (of:%s kB), %.2f times the %d-task peak\n",
           n, m / 1024, all, m / f, fn }'
  rm -f "$file"
done
