#!/usr/bin/env bash
# Configures and builds one preset (default: release). Usage: scripts/build.sh [preset]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${1:-release}"
cd "$root"
gen=()
command -v ninja >/dev/null && [[ ! -f build/$preset/CMakeCache.txt ]] && gen=(-G Ninja)
cmake --preset "$preset" "${gen[@]}" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
