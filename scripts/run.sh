#!/usr/bin/env bash
# The main job: installs what is missing, builds, and opens the explorer on the default model.
# Without a display (or with --headless) it does useful work on the command line instead: loads
# SmolLM2, generates text and measures perplexity on a WikiText-2 slice.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
headless=0
[[ "${1:-}" == "--headless" ]] && headless=1
scripts/setup.sh
scripts/build.sh release
model="$root/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
cli="$root/build/release/app/scalebits-cli"
gui="$root/build/release/app/scalebits"
if [[ $headless == 0 && -x $gui && -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  exec "$gui" "$model"
fi
echo "== model"
"$cli" info --model "$model"
echo "== generate (greedy)"
"$cli" generate --model "$model" --prompt "The three primary colors are" --steps 40 --greedy
echo "== perplexity on the first 200 kB of WikiText-2 test, ctx 512"
"$cli" eval --model "$model" --text "$root/../shared/data/wikitext-2-raw/wiki.test.raw" --max-bytes 200000 --ctx 512
