#!/usr/bin/env bash
# Runs each fuzz target for a given time and reports executions and coverage.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     (default: 600 seconds, every target)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). New inputs go
# to fuzz/work/<target> (ignored by git); at the end the committed seeds in
# fuzz/corpus/<target> and the new inputs are merged into a minimal corpus, which replaces
# fuzz/corpus/<target>, so the committed corpus stays small. A crash leaves its input in
# fuzz/artifacts/<target>/ and stops the script with a non-zero status: turn it into a
# regression test next to the parser, and its input goes to fuzz/regressions/<target>/ (run
# with every fuzzing, never merged away).
#
# JOBS (default: the number of cores) targets run at once, one process each.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
jobs=${JOBS:-$(nproc)}
# Inputs beyond these sizes test the size limits, which the hostile-input table covers.
max_len() {
  case $1 in
    dockerfile | plugin_manifest | registry_documents) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

cargo +nightly fuzz build -O
mkdir -p work logs
run_one() {
  local t=$1
  mkdir -p "work/$t" "corpus/$t" "regressions/$t"
  cargo +nightly fuzz run -O "$t" "work/$t" "corpus/$t" "regressions/$t" -- \
    -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"logs/$t.log" 2>&1
}
pids=()
status=0
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

printf '%-20s %12s %8s %6s %6s %8s %s\n' target executions exec/s cov ft rss_mb result
for t in "${targets[@]}"; do
  log=logs/$t.log
  stat() { grep -oE "stat::$1: *[0-9]+" "$log" | awk '{print $2}' | tail -1 || true; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  rss=$(stat peak_rss_mb)
  cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
  ft=$(grep -oE ' ft: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
  result=ok
  grep -q 'SUMMARY: \|panicked at\|deadly signal' "$log" && result="CRASH (see $log, artifacts/$t)"
  printf '%-20s %12s %8s %6s %6s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "${rss:-?}" "$result"
done

# Keep the committed corpus small: a set cover of the edges reached (a few hundred
# small files per target), nothing else.
for t in "${targets[@]}"; do
  rm -rf "corpus/$t.min" && mkdir -p "corpus/$t.min"
  cargo +nightly fuzz run -O "$t" "corpus/$t.min" "corpus/$t" "work/$t" -- \
    -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$t")" >"logs/$t.merge.log" 2>&1 &&
    rm -rf "corpus/$t" && mv "corpus/$t.min" "corpus/$t"
done
exit $status
