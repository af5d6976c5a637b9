#!/usr/bin/env bash
# Swift vs the official PyTorch text-to-image stages (issue 21), alternated process by process on this machine:
# `miro bench pipeline` against scripts/bench_official_pipeline.py (transformers T5EncoderModel, miro-t2i 0.1.4's
# CADRINTextCond + FlowPrecond + flow_euler_sampler, diffusers AutoencoderKL), both on PyPI's PyTorch 2.15.0 (the
# libtorch the Swift build links), full-size random weights, same thread count.
#
#   scripts/bench-pipeline-vs-pytorch.sh [ROUNDS] [-- EXTRA ARGS FOR BOTH SIDES]   # default 2 rounds
#   THREADS=2 (default) · STAGES=t5,miro,vae · PYDEPS=dir of the --no-deps wheels · OUT=dir for the JSON files
#   SWIFT_ARGS="--keep-padding": arguments for the Swift side only (here: encode the prompt padded to 77 tokens as
#   MiroPipeline does, instead of its real tokens only as `miro sample` does; the embedding rows are the same)
#
# Each round runs Swift, then Python (one process each, nothing else should run on the machine). Printed per stage:
# seconds of each side (median over rounds of each run's median), the ratio PyTorch/Swift (≥ 1.0: Swift at least
# as fast), the resident memory each stage added and its peak, then each side's process peak.
# Needs about 8 GB free memory and, at full size on 2 cores, about 3 minutes per side per round.
# PYTORCH_MKL=features: the PyTorch side also gets MKL kernels chosen by CPU features on a non-Intel CPU, as the
# Swift build does (scripts/lib/pytorch-side.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=2
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds=$1; shift; fi
[ "${1:-}" = "--" ] && shift
extra=("$@")
threads=${THREADS:-2}
stages=${STAGES:-t5,miro,vae}
py=${PYTHON:-python3}
# shellcheck source=scripts/lib/pytorch-side.sh
source scripts/lib/pytorch-side.sh
deps=${PYDEPS:-/tmp/pydeps-pipeline}
out=${OUT:-$(mktemp -d /tmp/bench-pipeline.XXXXXX)}
mkdir -p "$out"

ensure_pytorch_215
if ! PYTHONPATH=$deps:$site "$py" -c 'import transformers, diffusers, PIL; assert transformers.__version__ == "4.40.2" and diffusers.__version__ == "0.27.2"' 2>/dev/null; then
  echo "bench: installing the pinned wheels (--no-deps) into $deps"
  "$py" -m pip install -q --no-deps --target "$deps" transformers==4.40.2 tokenizers==0.19.1 diffusers==0.27.2 \
    huggingface_hub==0.23.0 safetensors==0.4.3 einops==0.8.0 pillow regex filelock tqdm packaging pyyaml requests \
    importlib_metadata zipp fsspec
fi
ensure_miro_t2i_wheel
[ -n "${MIRO:-}" ] || build_miro
pytorch_mkl_preload
miro=${MIRO:-.build/release/miro}

echo "bench-pipeline-vs-pytorch | $(date -u +%Y-%m-%dT%H:%MZ) | $rounds rounds | threads $threads | stages $stages | JSON in $out"
for round in $(seq 1 "$rounds"); do
  echo "round $round | swift | load $(cut -d' ' -f1 /proc/loadavg)"
  # shellcheck disable=SC2086 # SWIFT_ARGS is a list of flags
  "$miro" bench pipeline --threads "$threads" --stages "$stages" --json ${SWIFT_ARGS:-} "${extra[@]}" >"$out/swift-$round.json"
  echo "round $round | pytorch | load $(cut -d' ' -f1 /proc/loadavg)"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$deps:$site "$py" scripts/bench_official_pipeline.py \
    --threads "$threads" --stages "$stages" --json "${extra[@]}" >"$out/pytorch-$round.json"
done

"$py" - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {impl: [json.load(open(f"{out}/{impl}-{r}.json")) for r in range(1, rounds + 1)] for impl in ("swift", "pytorch")}
order = runs["swift"][0]["order"]
print()
print(f"per stage: seconds = median over {rounds} rounds of each run's median; memory = the last round's (MB)")
print(f"{'stage':6s} {'Swift s':>9s} {'PyTorch s':>10s} {'PyT/Swift':>10s}   {'Swift +RSS / peak':>18s}   {'PyTorch +RSS / peak':>20s}   rounds (Swift | PyTorch)")
for stage in order:
    s = [r["stages"][stage]["seconds"] for r in runs["swift"]]
    p = [r["stages"][stage]["seconds"] for r in runs["pytorch"]]
    sm, pm = statistics.median(s), statistics.median(p)
    ls, lp = runs["swift"][-1]["stages"][stage], runs["pytorch"][-1]["stages"][stage]
    mem = lambda x: f"{x['rss_growth_mb']:+.0f} / {x['peak_mb']:.0f}"
    extra = ""
    if "steps" in ls:
        extra = f"  ({ls['steps']} steps: {sm / ls['steps']:.3f} vs {pm / ls['steps']:.3f} s/step)"
    print(f"{stage:6s} {sm:9.3f} {pm:10.3f} {pm / sm:10.3f}   {mem(ls):>18s}   {mem(lp):>20s}   "
          f"{', '.join(f'{x:.2f}' for x in s)} | {', '.join(f'{x:.2f}' for x in p)}{extra}")
for impl in ("swift", "pytorch"):
    peaks = [r["peak_rss_mb"] for r in runs[impl]]
    last = runs[impl][-1]
    print(f"{impl:8s} process peak RSS {max(peaks):.0f} MB (rounds: {', '.join(f'{x:.0f}' for x in peaks)}); "
          f"RSS after the last stage {last['stages'][order[-1]]['rss_after_mb']:.0f} MB "
          f"({last['stages'][order[-1]].get('heap_free_mb', 0):.0f} of it freed heap kept by malloc); torch {last['torch']}, "
          f"threads {last['threads']}, per-stage peaks {'yes' if last['peak_is_per_stage'] else 'no'}")
for impl in ("swift", "pytorch"):
    for stage in order:
        print(f"{impl:8s} {stage:5s} {runs[impl][-1]['stages'][stage]['detail']}")
PY
