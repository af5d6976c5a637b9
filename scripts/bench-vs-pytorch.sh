#!/usr/bin/env bash
# Swift vs the official PyTorch training step, alternated step by step on this machine (issue 19's protocol):
# the miro-t2i 0.1.4 step on PyPI's PyTorch 2.15.0 (the libtorch the Swift build links) against
# `miro bench train`, same preset, batch, synthetic batch geometry and thread count.
#
#   scripts/bench-vs-pytorch.sh [RUNS]      # default 3 runs of each configuration
#
# Configurations: tiny batch 32 and small batch 8, 2 threads; fp32, then bf16-mixed beside PyTorch's CPU autocast;
# and fp32 with the Swift side keeping the text padding (the official step's exact amount of work).
# Each run prints one `lockstep | Swift/PyTorch samples/s ...` line; the summary gives best and median per
# configuration of the runs' medians. Set BENCH_CONFIGS to a subset, e.g. "tiny:32:fp32 small:8:fp32".
# On a non-Intel CPU the Swift build makes MKL pick its kernels by CPU features (Sources/CTorch/mkl_dispatch.cpp);
# PYTORCH_MKL=features gives the PyTorch side the same (preloaded), to compare the two on equal kernels.
#
# First use installs PyTorch 2.15.0 for Python (pip, with its CUDA dependencies: about 5.4 GB on disk, under
# .deps/pytorch-2.15.0-python; nothing outside the repository is touched) and downloads the miro-t2i wheel
# (.whl/). Needs python3.11 and pip. Run it alone on the machine: anything else running skews both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
py=${PYTHON:-python3}
# shellcheck source=scripts/lib/pytorch-side.sh
source scripts/lib/pytorch-side.sh

ensure_pytorch_215
ensure_miro_t2i_wheel
build_miro
pytorch_mkl_preload
miro=.build/release/miro

configs=${BENCH_CONFIGS:-"tiny:32:fp32 small:8:fp32 tiny:32:bf16-mixed small:8:bf16-mixed tiny:32:fp32:keep small:8:fp32:keep"}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for run in $(seq 1 "$runs"); do
  for c in $configs; do
    IFS=: read -r preset batch precision keep <<<"$c"
    extra=()
    [ "${keep:-}" = keep ] && extra=(--swift-keep-padding)
    line=$(PYTHONPATH=$site "$py" scripts/bench_official_train_step.py --preset "$preset" --batch "$batch" \
             --threads 2 --steps 6 --warmup 2 --precision "$precision" "${extra[@]}" --lockstep-swift "$miro" \
           | grep '^lockstep')
    echo "run $run | $c | load $(cut -d' ' -f1 /proc/loadavg) | $line"
    echo "$c $(sed -E 's/.*samples\/s ([0-9.]+).*/\1/' <<<"$line")" >>"$log"
  done
done
echo
echo "Swift/PyTorch samples/s, medians of each run's alternated step pairs (2 threads):"
"$py" - "$log" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    c, r = line.split()
    by.setdefault(c, []).append(float(r))
for c, rs in by.items():
    preset, batch, precision, *keep = c.split(":")
    padding = "padding kept" if keep else "padding cut"
    print(f"  {preset:5s} batch {batch:>2s} {precision:10s} ({padding}): best {max(rs):.3f}  median "
          f"{statistics.median(rs):.3f}  runs {', '.join(f'{r:.3f}' for r in rs)}")
PY
