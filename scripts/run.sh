#!/usr/bin/env bash
# The main job: installs what is missing, builds, loads the default model (SmolLM2-135M-Instruct),
# generates text and measures perplexity on a WikiText-2 slice; with a display (and without
# --headless) it then opens the explorer.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
headless=0
[[ "${1:-}" == "--headless" ]] && headless=1
scripts/setup.sh
# The same build as the test command (preset "ci": Release, GUI, tests), so the two share it.
scripts/build.sh ci
model="$root/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
cli="$root/build/ci/app/scalebits-cli"
gui="$root/build/ci/app/scalebits"
echo "== model"
"$cli" info --model "$model"
echo "== generate (greedy)"
"$cli" generate --model "$model" --prompt "The three primary colors are" --steps 40 --greedy
echo "== perplexity on the first 100 kB of WikiText-2 test, ctx 512"
"$cli" eval --model "$model" --text "$root/../shared/data/wikitext-2-raw/wiki.test.raw" --max-bytes 100000 --ctx 512
if [[ $headless == 0 && -x $gui && -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "== opening the explorer (File > Open takes analysis files made by 'scalebits-cli analyze')"
  exec "$gui"
fi
