#!/usr/bin/env bash
# The suites that do not need LibTorch (parsers and tokenizers, the allocator, the kernels), built
# and run under AddressSanitizer + UBSan (preset dev-asan). The LibTorch-based suites are not
# instrumented here: Debian's LibTorch is not built with ASan, and the full build would take the
# CI runner most of an hour; the parsers also run under ASan + UBSan in scripts/fuzz.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cmake --preset dev-asan -G Ninja > /dev/null
targets=$(cd tests && ls io/tst_*.cpp alloc/tst_*.cpp kernels/tst_*.cpp | sed 's|/tst_|_tst_|; s|\.cpp$||')
cmake --build build/dev-asan -j "$(nproc)" --target scalebits-kernels $targets
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build/dev-asan -L 'io|alloc|kernels' -j 2 --timeout 900 --output-on-failure
