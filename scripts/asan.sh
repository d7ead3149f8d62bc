#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UBSan (preset dev-asan: Debug, every target; the
# CUDA kernels are compiled by nvcc without the sanitizers and linked in). LibTorch and Qt are not
# instrumented themselves, but every call into them from this project's code is.
#   scripts/asan.sh [ctest arguments...]      e.g. scripts/asan.sh -L io
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
gen=()
command -v ninja >/dev/null && [[ ! -f build/dev-asan/CMakeCache.txt ]] && gen=(-G Ninja)
cmake --preset dev-asan "${gen[@]}" > /dev/null
cmake --build build/dev-asan -j "$(nproc)"
# protect_shadow_gap=0: the CUDA runtime maps memory where ASan would otherwise keep its guard (on
# GPU hosts); leaks are reported.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:protect_shadow_gap=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build/dev-asan -j 2 --timeout 1800 --output-on-failure "$@"
