#!/usr/bin/env bash
# The main job: installs what is missing, builds, loads the default model (SmolLM2-135M-Instruct),
# generates text, measures perplexity on a WikiText-2 slice, analyzes the model once (a quick
# calibration, saved under .cache/analyses and reused by later runs) and solves an allocation; with a
# display (and without --headless) it then opens the explorer on that analysis. Headless, it exports
# the 3-bit allocation and measures its decode latency instead.
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
analysis="$root/.cache/analyses/SmolLM2-135M-Instruct.Q4_1.sba"
if [[ ! -f $analysis ]]; then
  echo "== analysis: 32 x 256 calibration tokens of C4 (a few minutes; the full calibration is"
  echo "   'scalebits-cli analyze --model M --samples 128 --seqlen 512 --out A', about 20 minutes on 2 cores)"
  mkdir -p "$(dirname "$analysis")"
  "$cli" analyze --model "$model" --samples 32 --seqlen 256 --out "$analysis"
fi
echo "== allocation at 3 bits per weight, scalebits against per-layer widths"
"$cli" allocate --analysis "$analysis" --budget 3 --method scalebits
"$cli" allocate --analysis "$analysis" --budget 3 --method layer
if [[ $headless == 0 && -x $gui && -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "== opening the explorer on $analysis"
  exec "$gui" "$analysis"
fi
out="$root/out/smollm2-scalebits-3bpw"
echo "== export at 3 bits per weight to $out and decode latency on this CPU"
"$cli" export --model "$model" --analysis "$analysis" --budget 3 --quantizer rtn --out "$out"
"$cli" bench --model "$out" --steps 32
