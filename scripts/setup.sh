#!/usr/bin/env bash
# Installs what ScaleBITS needs on Debian 12 and fetches the default model. Idempotent: a second run
# only checks. Usage: scripts/setup.sh [--no-apt] [--no-model]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
do_apt=1 do_model=1
for a in "$@"; do
  case "$a" in
    --no-apt) do_apt=0 ;;
    --no-model) do_model=0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

# Debian 12 packages. libopenblas0-pthread matters: without it LibTorch falls back to the reference
# BLAS and matrix products run about 40 times slower.
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  qt6-base-dev qt6-base-dev-tools libqt6svg6-dev libqcustomplot-dev
  libtorch-dev libopenblas0-pthread nlohmann-json3-dev libpcre2-dev libxxhash-dev libutf8proc-dev
  xvfb xauth fonts-dejavu-core
  clang libclang-rt-14-dev
  python3 python3-pip
)

if [[ $do_apt == 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if [[ $do_model == 1 ]]; then
  "$root/scripts/fetch-model.sh"
fi
