#!/usr/bin/env bash
# Fuzzes every parser: builds the "fuzz" preset (clang, libFuzzer, ASan + UBSan; parsers only, no
# LibTorch) and runs each target for SECONDS (default 60) from its seeds in fuzz/seeds. Fails on any
# crash, leak, timeout or sanitizer report, printing the reproducer path; prints executions per target.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
cmake --preset fuzz -G Ninja > /dev/null
cmake --build --preset fuzz -j "$(nproc)"
status=0
printf '%-22s %12s %8s  %s\n' target executions seconds result
for bin in build/fuzz/fuzz/fuzz_*; do
  [[ -x $bin && ! -d $bin ]] || continue
  name="$(basename "$bin")"
  corpus="build/fuzz/corpus/$name"
  artifacts="build/fuzz/artifacts/$name/"
  mkdir -p "$corpus" "$artifacts"
  log="build/fuzz/$name.log"
  start=$(date +%s)
  if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts" "$corpus" "fuzz/seeds/$name" > "$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log)"
    status=1
  fi
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  printf '%-22s %12s %8s  %s\n' "$name" "${execs:-?}" "$(( $(date +%s) - start ))" "$result"
done
exit $status
