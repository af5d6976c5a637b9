#!/usr/bin/env bash
# Sets up what miro-swift builds against (idempotent; a no-op when everything is there).
#
#   .deps/torch-2.15.0/   the tensor engine: PyTorch 2.15's CPU libraries and headers, unpacked from the official
#                         PyPI wheels (pinned versions, sha256 verified). Downloads 554 MB once (the torch wheel
#                         is a CUDA build: only include/, libtorch_cpu.so, libc10.so and libgomp.so.1 are kept,
#                         plus the two small CUDA runtime stubs libtorch_cpu.so needs at load time, 15 MB);
#                         about 520 MB on disk. Package.swift finds the folder by itself.
#   zlib1g-dev, unzip     Debian packages: PNG writing; unpacking the wheels
#   libjpeg62-turbo-dev   Debian's libjpeg-turbo, the JPEG decoder (the one Debian's Pillow uses)
#
# Python is not needed to build or run; scripts/*.py only make test fixtures and benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(zlib1g-dev libjpeg62-turbo-dev unzip curl ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- libtorch 2.15 from the PyPI wheels ---------------------------------------------------------------------------
version=2.15.0
dest=.deps/torch-$version
files=https://files.pythonhosted.org/packages
wheels=(
  # file name | URL path | sha256 | members to keep
  "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl|06/7d/57b7f46934e1148b436889e385693bfcb94ae047b3fe0b6015922e3b66f7|48c2d861134c0b5697c7602cb5ffa68f62a2989fdcd1717e593356f67996ca1e|torch/include/* torch/share/* torch/lib/libtorch_cpu.so torch/lib/libc10.so torch/lib/libgomp.so.1"
  # The versions torch 2.15's own requirement (cuda-toolkit 13.2.2) pins.
  "nvidia_cuda_runtime-13.2.86-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl|70/c6/8f8c5e893d183082ea78f973aebc7ebc845ee219d68bddac73b0f62490fe|3498247680dfddce31bad102af7e3e26fc795342a3cac64722bb0fa95e7f60f0|nvidia/cu13/lib/libcudart.so.13"
  "nvidia_cuda_cupti-13.2.86-py3-none-manylinux_2_25_x86_64.whl|b4/76/a10d9fb5d9a0e46d5f95e5520bd1b2d8ad22a9c0a09d2f8c20c5ee842a96|8fa29f15dd8336181f961764d9d95236fc6b931dd0c8fcf8cd70aab0c310b586|nvidia/cu13/lib/libcupti.so.13"
)
stamp="$dest/.complete"
want=$(printf '%s\n' "${wheels[@]}" | cut -d'|' -f3 | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  :
else
  case "$(uname -m)" in
    x86_64) ;;
    *) echo "setup: the pinned wheels are for x86_64 Linux; on $(uname -m) point LIBTORCH at a libtorch folder" >&2; exit 1 ;;
  esac
  mkdir -p .deps
  work=$(mktemp -d .deps/.setup-XXXXXX)
  trap 'rm -rf "$work"' EXIT
  for w in "${wheels[@]}"; do
    IFS='|' read -r name path sum members <<<"$w"
    echo "setup: downloading $name"
    curl -fsSL --retry 3 -o "$work/$name" "$files/$path/$name"
    echo "$sum  $work/$name" | sha256sum -c --quiet - || { echo "setup: checksum mismatch for $name" >&2; exit 1; }
    # shellcheck disable=SC2086  # members are glob patterns for unzip
    unzip -q -o "$work/$name" $members -d "$work/tree"
    rm -f "$work/$name"
  done
  echo "$want" >"$work/tree/.complete"
  # Replace only the folder this script owns, and only once the new one is whole.
  rm -rf "$dest.old"
  [ -d "$dest" ] && mv "$dest" "$dest.old"
  mv "$work/tree" "$dest"
  rm -rf "$dest.old"
fi

lib="$dest/torch/lib"
for f in libtorch_cpu.so libc10.so libgomp.so.1; do
  [ -f "$lib/$f" ] || { echo "setup: $lib/$f is missing; delete $dest and run again" >&2; exit 1; }
done
echo "setup: ok (libtorch $version in $dest, $(du -sh "$dest" | cut -f1))"
