#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages, the default model), then
#  0. checks that includes follow the layering (scripts/check_includes.py, with its self-test);
#  1. builds every target once with ASan + UBSan (CUDA kernels included) and runs the whole suite
#     under the sanitizers (scripts/asan.sh);
#  2. builds the kernels alone in Release, as a GPU server would, and runs their verify mode (the
#     optimized CPU paths at full optimization against the reference);
#  3. fuzzes every parser for a fixed number of runs from a fixed seed (scripts/fuzz.sh).
# No stage asserts on time, so a loaded machine makes it slower, never red. It prints each stage's
# time as it ends and a table of them last (also when a stage fails). Exits non-zero on any failure.
# The optimized build of the app is scripts/build.sh (run.sh uses it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

started=$SECONDS
times=()
summary() {
  echo
  echo "== stage times"
  printf '  %s\n' "${times[@]}"
  printf '  %-34s %5d s\n' "total" $((SECONDS - started))
}
# stage NAME COMMAND...: runs COMMAND, records its time; on failure prints the table and exits with its status.
stage() {
  local name=$1 t0=$SECONDS rc=0
  shift
  echo "== $name ($(date -u +%H:%M:%S) UTC)"
  "$@" || rc=$?
  times+=("$(printf '%-34s %5d s%s' "$name" $((SECONDS - t0)) "$([[ $rc == 0 ]] || echo "  FAILED (exit $rc)")")")
  echo "== $name: $((SECONDS - t0)) s"
  if [[ $rc != 0 ]]; then
    summary
    exit "$rc"
  fi
}

# Chained with &&: errexit does not apply inside a function called as `stage`'s tested command.
kernels_release() {
  cmake -S kernels -B build/kernels-release -DCMAKE_BUILD_TYPE=Release -DSCALEBITS_CUDA=OFF > /dev/null &&
    cmake --build build/kernels-release -j "$(nproc)" &&
    ctest --test-dir build/kernels-release -j 2 --timeout 1800 --output-on-failure  # --timeout: a hang guard only
}

stage "setup (packages, model)" scripts/setup.sh
stage "include layering" bash -c 'python3 scripts/check_includes.py --self-test && python3 scripts/check_includes.py'
stage "sanitized build" scripts/asan.sh --build-only
stage "sanitized suite" scripts/asan.sh --test-only
stage "kernels (Release build + verify)" kernels_release
stage "fuzz (build + fixed runs)" scripts/fuzz.sh
summary
