#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UBSan (preset dev-asan: Debug, every target; the
# CUDA kernels are compiled by nvcc without the sanitizers and linked in). LibTorch and Qt are not
# instrumented themselves, but every call into them from this project's code is.
#   scripts/asan.sh [--build-only | --test-only] [ctest arguments...]      e.g. scripts/asan.sh -L io
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build=1 test=1
case "${1:-}" in
  --build-only) test=0; shift ;;
  --test-only) build=0; shift ;;
esac
if [[ $build == 1 ]]; then
  gen=()
  command -v ninja >/dev/null && [[ ! -f build/dev-asan/CMakeCache.txt ]] && gen=(-G Ninja)
  cmake --preset dev-asan "${gen[@]}" > /dev/null
  cmake --build build/dev-asan -j "$(nproc)"
fi
[[ $test == 1 ]] || exit 0
# protect_shadow_gap=0: the CUDA runtime maps memory where ASan would otherwise keep its guard (on
# GPU hosts); leaks are reported.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:protect_shadow_gap=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# --timeout is a hang guard per test executable (45 min), above Qt Test's per-function watchdog
# (QTEST_FUNCTION_TIMEOUT, set in tests/CMakeLists.txt) and the waits inside the tests
# (tests/hang_guard.h). Nothing in the suite asserts on time.
ctest --test-dir build/dev-asan -j 2 --timeout 2700 --output-on-failure "$@"
