#!/usr/bin/env bash
# `miro annotate` end to end (issue 22): JPEG decoding, each reward's preprocessing, the models, the JSON and tar
# writing — images/s of the whole command on a folder of JPEG photos-sized images with captions, scored with
# aesthetic_score and openai_clip_score from full-size OpenAI CLIP ViT-L/14 files with random weights. Each sample
# has synthetic captions, so openai_clip_score scores two captions per image (one image pass, two text passes).
#
#   scripts/bench-annotate.sh [IMAGES]        # default 32 images of 640×480; two timed runs
#   THREADS=2 · WORK=dir (default: a temporary one) · PYDEPS=dir with transformers 4.40.2 + safetensors (--no-deps)
#
# The files are written by Python (Debian's python3-torch and python3-pil; transformers' CLIPModel(config)
# .save_pretrained, the aesthetic MLP with torch.save, the CLIP vocabulary converted from open_clip's BPE file
# the repository carries); the timed part is the Swift command alone. Run it alone on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-32}
threads=${THREADS:-2}
deps=${PYDEPS:-/tmp/pydeps-annotate}
work=${WORK:-$(mktemp -d /tmp/bench-annotate.XXXXXX)}
miro=${MIRO:-.build/release/miro}
py=${PYTHON:-/usr/bin/python3}  # Debian's, with python3-torch and python3-pil
mkdir -p "$work"

if ! PYTHONPATH=$deps "$py" -c 'import transformers, safetensors; assert transformers.__version__ == "4.40.2"' 2>/dev/null; then
  "$py" -m pip install -q --no-deps --target "$deps" transformers==4.40.2 tokenizers==0.19.1 safetensors==0.4.3 \
    huggingface_hub==0.23.0 regex filelock tqdm packaging pyyaml requests fsspec
fi
if [ ! -f "$work/clip-l14/model.safetensors" ]; then
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$deps "$py" - "$work" "$images" <<'PY'
import gzip, json, os, sys
import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPModel

work, count = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
folder = os.path.join(work, "clip-l14")
config = CLIPConfig(text_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                                     hidden_act="quick_gelu"),
                    vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                       image_size=224, patch_size=14, hidden_act="quick_gelu"),
                    projection_dim=768)
CLIPModel(config).eval().save_pretrained(folder, safe_serialization=True)
# vocab.json + merges.txt from open_clip's bpe_simple_vocab_16e6.txt.gz, as CLIPTokenizer's files hold them
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))
merges = gzip.open("Tests/MiroTokenizersTests/Fixtures/clip/bpe_simple_vocab_16e6.txt.gz").read().decode("utf-8").split("\n")
merges = [tuple(m.split()) for m in merges[1:49152 - 256 - 2 + 1]]
vocab = list(bytes_to_unicode().values())
vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
json.dump({v: i for i, v in enumerate(vocab)}, open(os.path.join(folder, "vocab.json"), "w"))
with open(os.path.join(folder, "merges.txt"), "w") as f:
    f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
mlp = torch.nn.Sequential(torch.nn.Linear(768, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.2),
                          torch.nn.Linear(128, 64), torch.nn.Dropout(0.1), torch.nn.Linear(64, 16), torch.nn.Linear(16, 1))
torch.save({f"layers.{k}": v for k, v in mlp.state_dict().items()}, os.path.join(work, "sac+logos+ava1-l14-linearMSE.pth"))
os.makedirs(os.path.join(work, "images"), exist_ok=True)
rng = np.random.default_rng(0)
for i in range(count):
    y, x = np.mgrid[0:480, 0:640]
    base = np.stack([(x * (i + 1)) % 256, (y * 2 + 40 * i) % 256, ((x + y) // 3) % 256], -1)
    noise = rng.integers(0, 40, size=(480, 640, 3))
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(os.path.join(work, "images", f"{i:05d}.jpg"), quality=90)
    open(os.path.join(work, "images", f"{i:05d}.txt"), "w").write(f"a colourful abstract picture number {i}")
    json.dump({"synthetic_caption": f"a digital abstract composition of diagonal colour gradients with fine noise, number {i}",
               "short_synthetic_caption": f"colour gradients {i}"}, open(os.path.join(work, "images", f"{i:05d}.json"), "w"))
print(f"wrote {count} JPEGs, a random CLIP ViT-L/14 folder and an aesthetic MLP into {work}")
PY
fi
# Two timed runs (the first also reads the freshly written weights from disk into the page cache).
for run in 1 2; do
  rm -rf "$work/out"
  echo "bench-annotate | run $run | $(date -u +%Y-%m-%dT%H:%MZ) | $images JPEGs 640×480 | threads $threads | load $(cut -d' ' -f1 /proc/loadavg)"
  start=$(date +%s.%N)
  "$miro" annotate "$work/images" --rewards aesthetic_score,openai_clip_score --out "$work/out" --batch-size 16 \
    --reward-model "aesthetic_score=$work/sac+logos+ava1-l14-linearMSE.pth" --reward-model "openai_clip_score=$work/clip-l14" \
    --threads "$threads" 2>&1 | grep -E "^annotated"
  end=$(date +%s.%N)
  "$py" -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); print(f'run $run: {n} images, 2 rewards (model loads, JPEG decoding, preprocessing, tar writing included) in {s:.1f} s: {n / s:.2f} images/s')" \
    "$images" "$(echo "$end - $start" | bc)"
done
