#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages, the default model), then
#  1. builds every target once with ASan + UBSan (CUDA kernels included) and runs the whole suite
#     under the sanitizers (scripts/asan.sh);
#  2. builds the kernels alone in Release, as a GPU server would, and runs their verify mode (the
#     optimized CPU paths at full optimization against the reference);
#  3. fuzzes every parser for 30 s a target (libFuzzer, ASan + UBSan).
# Exits non-zero on any failure. The optimized build of the app is scripts/build.sh (run.sh uses it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/asan.sh
cmake -S kernels -B build/kernels-release -DCMAKE_BUILD_TYPE=Release -DSCALEBITS_CUDA=OFF > /dev/null
cmake --build build/kernels-release -j "$(nproc)"
ctest --test-dir build/kernels-release -j 2 --output-on-failure
scripts/fuzz.sh 30
