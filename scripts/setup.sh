#!/usr/bin/env bash
# Installs the system libraries miro-swift needs on Debian 12 (idempotent; a no-op when present).
#   libtorch-dev          the tensor engine (libtorch 1.13, CPU) behind Sources/CTorch
#   libopenblas0-pthread  named explicitly: otherwise apt may satisfy libtorch's BLAS dependency with
#                         the reference BLAS and training runs ~30x slower
#   zlib1g-dev            PNG writing
# Python is not needed to build or run; scripts/*.py only make test fixtures.
set -euo pipefail

packages=(libtorch-dev libopenblas0-pthread zlib1g-dev)
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

# OpenBLAS must be the BLAS libtorch resolves to.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 resolves to '${blas:-nothing}', not OpenBLAS; training will be slow" >&2 ;;
esac
echo "setup: ok (libtorch $(dpkg-query -W -f='${Version}' libtorch-dev))"
