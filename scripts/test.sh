#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages, the default model), builds, runs every
# test suite, runs the suites that need no LibTorch again under ASan + UBSan, then fuzzes every
# parser for 30 s a target (libFuzzer, ASan + UBSan). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh ci
ctest --preset ci -j 2 --timeout 900
scripts/asan.sh
scripts/fuzz.sh 30
