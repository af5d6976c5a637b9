# Sourced by the scripts that compare miro-swift with the official PyTorch code (bench-vs-pytorch.sh,
# bench-pipeline-vs-pytorch.sh, bench-rewards-vs-pytorch.sh), from the repository root, with $py set:
# PyPI's PyTorch 2.15.0 (the libtorch the Swift build links) for Python, kept in the repository's .deps.
site=.deps/pytorch-2.15.0-python

# Installs torch==2.15.0, einops 0.8.0 and numpy into $site unless they are there.
ensure_pytorch_215() {
  if ! PYTHONPATH=$site "$py" -c 'import torch, einops, numpy; assert torch.__version__.startswith("2.15.0")' 2>/dev/null; then
    echo "bench: installing torch==2.15.0 einops==0.8.0 numpy into $site (about 5.4 GB)"
    "$py" -m pip install -q --target "$site" torch==2.15.0 einops==0.8.0 numpy
  fi
}

# The official miro-t2i 0.1.4 wheel in .whl/ (its code is executed out of the wheel).
ensure_miro_t2i_wheel() {
  if [ ! -f .whl/miro_t2i-0.1.4-py3-none-any.whl ]; then
    "$py" -m pip download -q --no-deps miro-t2i==0.1.4 -d .whl
  fi
}

# The engine (scripts/setup.sh) and a release build of `miro`.
build_miro() {
  bash scripts/setup.sh >/dev/null
  swift build -c release --product miro >/dev/null
}

# PYTORCH_MKL=features: the PyTorch side gets the Swift build's answer to MKL's vendor check
# (Sources/CTorch/mkl_dispatch.cpp, compiled here and preloaded), so on a non-Intel CPU both sides run the MKL
# kernels the CPU's features select. Unset: PyTorch as pip installs it (MKL's generic path off Intel). Call after
# build_miro; the Swift side defines the same answer itself either way.
pytorch_mkl_preload() {
  if [ "${PYTORCH_MKL:-}" = features ]; then
    local lib=.build/mkl-feature-dispatch.so
    c++ -O2 -shared -fPIC -I Sources/CTorch/include Sources/CTorch/mkl_dispatch.cpp -o "$lib"
    export LD_PRELOAD=$PWD/$lib
    echo "bench: PyTorch side with MKL feature dispatch ($lib preloaded)"
  fi
}
