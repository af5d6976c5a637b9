#!/usr/bin/env bash
# Swift vs the reference reward models (issue 22), alternated process by process on this machine:
# `miro bench rewards` against scripts/bench_official_rewards.py (open_clip, transformers CLIPModel, ImageReward's
# BLIP), both on PyPI's PyTorch 2.15.0 (the libtorch the Swift build links), full-size random weights, same threads.
#
#   scripts/bench-rewards-vs-pytorch.sh [ROUNDS] [-- EXTRA ARGS FOR BOTH SIDES]   # default 2 rounds
#   THREADS=2 (default) · REWARDS=aesthetic_score,openai_clip_score,pick_a_score_score,hpsv2_score,image_reward_score
#   BATCH=4 · PYDEPS=dir of the --no-deps wheels · OUT=dir for the JSON files
#
# Each round runs every reward in its own process, Swift then Python (nothing else should run on the machine). Printed per reward:
# images/s of each side (median over rounds), the ratio Swift/PyTorch (≥ 1.0: Swift at least as fast).
# Needs about 6 GB free memory and, at full size on 2 cores, a few minutes per side per round.
# PYTORCH_MKL=features: the PyTorch side also gets MKL kernels chosen by CPU features on a non-Intel CPU, as the
# Swift build does (scripts/lib/pytorch-side.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=2
if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds=$1; shift; fi
[ "${1:-}" = "--" ] && shift
extra=("$@")
threads=${THREADS:-2}
rewards=${REWARDS:-aesthetic_score,openai_clip_score,pick_a_score_score,hpsv2_score,image_reward_score}
batch=${BATCH:-4}
py=${PYTHON:-python3}
# shellcheck source=scripts/lib/pytorch-side.sh
source scripts/lib/pytorch-side.sh
deps=${PYDEPS:-/tmp/pydeps-rewards}
out=${OUT:-$(mktemp -d /tmp/bench-rewards.XXXXXX)}
mkdir -p "$out"

ensure_pytorch_215
if ! PYTHONPATH=$deps:$site "$py" -c 'import transformers, timm, open_clip.version as v; assert transformers.__version__ == "4.40.2" and timm.__version__ == "0.9.16" and v.__version__ == "2.24.0"' 2>/dev/null; then
  echo "bench: installing the pinned wheels (--no-deps) into $deps"
  # torchvision only because open_clip imports it (0.29.2: the newest on PyPI; nothing of it runs here)
  "$py" -m pip install -q --no-deps --target "$deps" transformers==4.40.2 tokenizers==0.19.1 huggingface_hub==0.23.0 \
    safetensors==0.4.3 open_clip_torch==2.24.0 timm==0.9.16 image-reward==1.5 torchvision==0.29.2 ftfy wcwidth regex \
    filelock tqdm packaging pyyaml requests fsspec
fi
[ -n "${MIRO:-}" ] || build_miro
pytorch_mkl_preload
miro=${MIRO:-.build/release/miro}

echo "bench-rewards-vs-pytorch | $(date -u +%Y-%m-%dT%H:%MZ) | $rounds rounds | threads $threads | batch $batch | JSON in $out"
# Each reward runs in a fresh process on each side (Swift, then PyTorch, then the next reward): a model never
# runs in the memory another left behind, and the two sides of one reward are measured minutes apart at most.
for round in $(seq 1 "$rounds"); do
  for reward in ${rewards//,/ }; do
    echo "round $round | $reward | swift | load $(cut -d' ' -f1 /proc/loadavg)"
    "$miro" bench rewards --threads "$threads" --rewards "$reward" --batch "$batch" --json "${extra[@]}" >"$out/swift-$round-$reward.json"
    echo "round $round | $reward | pytorch | load $(cut -d' ' -f1 /proc/loadavg)"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$deps:$site "$py" -W ignore scripts/bench_official_rewards.py \
      --threads "$threads" --rewards "$reward" --batch "$batch" --json "${extra[@]}" >"$out/pytorch-$round-$reward.json"
  done
done

"$py" - "$out" "$rounds" "$rewards" <<'PY'
import json, statistics, sys
out, rounds, order = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
def merged(impl, r):
    parts = [json.load(open(f"{out}/{impl}-{r}-{name}.json")) for name in order]
    return dict(parts[0], rewards={k: v for p in parts for k, v in p["rewards"].items()}, order=order)
runs = {impl: [merged(impl, r) for r in range(1, rounds + 1)] for impl in ("swift", "pytorch")}
print()
print(f"per reward: images/s = median over {rounds} rounds (each round: batch / median batch seconds)")
print(f"{'reward':20s} {'Swift':>8s} {'PyTorch':>8s} {'Swift/PyT':>10s}   rounds (Swift | PyTorch)")
for name in order:
    s = [r["rewards"][name]["images_per_second"] for r in runs["swift"]]
    p = [r["rewards"][name]["images_per_second"] for r in runs["pytorch"]]
    sm, pm = statistics.median(s), statistics.median(p)
    print(f"{name:20s} {sm:8.2f} {pm:8.2f} {sm / pm:10.3f}   {', '.join(f'{x:.2f}' for x in s)} | {', '.join(f'{x:.2f}' for x in p)}")
for impl in ("swift", "pytorch"):
    last = runs[impl][-1]
    print(f"{impl:8s} torch {last['torch']}, threads {last['threads']}, batch {last['batch']}")
    for name in order:
        print(f"{impl:8s} {name:20s} {last['rewards'][name]['parameters'] / 1e6:.1f}M params | {last['rewards'][name]['detail']}")
PY
