#!/usr/bin/env bash
# Fuzzes every parser: builds the "fuzz" preset (clang, libFuzzer, ASan + UBSan; parsers only, no
# LibTorch) and runs each target from its seeds in fuzz/seeds for a fixed number of inputs from a
# fixed random seed, on a fresh corpus. The same inputs are tried on every machine, so a result
# never depends on the machine's speed or load (a time budget would try fewer inputs on a busy
# one); the counts give about 15 s a target on a quiet 2-core machine (SCALE gives longer runs).
# What else made runs differ is switched off: -reload=0 (libFuzzer rereads the corpus folder every
# second by default) and address-space randomization (its comparison dictionary records pointer
# values), so two runs give the same corpus. Fails on any crash, leak, hang (-timeout: one input
# running 2 minutes) or sanitizer report, printing the reproducer path; prints executions and
# seconds per target.
#   scripts/fuzz.sh [SCALE]     SCALE multiplies every run count (default 1; e.g. 10 for a longer session)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scale="${1:-1}"
[[ $scale =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SCALE must be a positive integer, got '$scale'" >&2; exit 2; }
# Inputs per target (~15 s each under ASan + UBSan on a quiet 2-core machine; halved from ~30 s
# when the test command neared CI's 45-minute budget).
declare -A runs=(
  [fuzz_analysis]=28000
  [fuzz_config_json]=300000
  [fuzz_export]=8000
  [fuzz_gguf]=130000
  [fuzz_llama2c]=50000
  [fuzz_safetensors]=250000
  [fuzz_sharded_index]=43000
  [fuzz_tokenizer_json]=30000
)
# Without ASLR where the kernel lets us (personality(ADDR_NO_RANDOMIZE)); else the runs still pass
# or fail on the same bugs, only the corpus may differ a little.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
  norandom=(setarch "$(uname -m)" -R)
else
  echo "fuzz.sh: setarch -R is not permitted here; address-space randomization stays on" >&2
fi
cmake --preset fuzz -G Ninja > /dev/null
cmake --build --preset fuzz -j "$(nproc)"
status=0
printf '%-22s %12s %8s  %s\n' target executions seconds result
for bin in build/fuzz/fuzz/fuzz_*; do
  [[ -x $bin && ! -d $bin ]] || continue
  name="$(basename "$bin")"
  if [[ -z ${runs[$name]:-} ]]; then
    echo "fuzz.sh: no run count for $name: add it to the table in scripts/fuzz.sh" >&2
    status=1
    continue
  fi
  corpus="build/fuzz/corpus/$name"
  artifacts="build/fuzz/artifacts/$name/"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  log="build/fuzz/$name.log"
  start=$(date +%s)
  if "${norandom[@]}" "$bin" -runs=$((runs[$name] * scale)) -seed=1 -reload=0 -timeout=120 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts" "$corpus" "fuzz/seeds/$name" > "$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log)"
    status=1
  fi
  # -a: a log can hold an input's raw bytes, and grep would then only say "binary file matches".
  execs=$(grep -a -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  printf '%-22s %12s %8s  %s\n' "$name" "${execs:-?}" "$(( $(date +%s) - start ))" "$result"
done
exit $status
