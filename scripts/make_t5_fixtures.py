#!/usr/bin/python3
"""Reference fixtures for the Swift T5 text encoder (Sources/MiroT5), made with transformers' T5EncoderModel.

HOW TO RUN (from the repository root, Debian bookworm, no venv, no network at run time):

    apt-get install python3-torch python3-numpy          # torch 1.13.1+dfsg (reports 1.13.0a0), numpy 1.24.2
    pip download --no-deps -d /tmp/t5wheels transformers==4.40.2 tokenizers==0.19.1 huggingface_hub==0.23.0 \
        safetensors==0.4.3 regex filelock tqdm packaging pyyaml requests fsspec urllib3 idna certifi charset_normalizer
    pip install --no-deps --target /work/pydeps-t5 /tmp/t5wheels/*.whl
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-t5 /usr/bin/python3 scripts/make_t5_fixtures.py

  * Pinned and asserted below: torch 1.13.0a0 (Debian), numpy 1.24.2, transformers 4.40.2, safetensors 0.4.3.
  * Nothing is downloaded: both models are built from a config with a fixed seed; every parameter (layer-norm
    weights and the relative-position bias included) is re-drawn from a seeded generator so that a wrong key,
    a transposed matrix or a skipped norm shows up in the outputs.
  * Output: Tests/MiroT5Tests/Fixtures/ (override with --out), about 250 kB in all:
      t5-sharded/   a tiny T5ForConditionalGeneration (gated-gelu, 2 encoder + 1 decoder layers,
                    tie_word_embeddings false like FLAN-T5) saved by save_pretrained in fp32 with a small
                    max_shard_size: config.json + model-0000k-of-0000n.safetensors (n >= 3) +
                    model.safetensors.index.json. Holds decoder.* and lm_head.weight, which the encoder skips.
      t5-bf16/      a tiny T5EncoderModel (feed_forward_proj "relu": wi/wo) saved in bfloat16 as one
                    model.safetensors (keys shared.weight, encoder.*).
      reference.safetensors
                    input_ids.{short,long} (I64 [B, L]) and attention_mask.{short,long} (I64, right padding);
                    hidden.{sharded,bf16}.{short,long}: T5EncoderModel(...).last_hidden_state in float32 (the
                    bf16 model is loaded with torch_dtype=float32, i.e. its bf16 weights widened);
                    buckets.{xl,tiny}: T5Attention._relative_position_bucket (bidirectional) for relative
                    positions -300..300 with (32 buckets, max_distance 128) and (8, 20).
                    __metadata__ holds the generator versions and the configs.
  * Deterministic: re-running gives the same tensors (save_pretrained files carry no timestamps).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

TORCH_VERSION = "1.13.0a0"
NUMPY_VERSION = "1.24.2"
TRANSFORMERS_VERSION = "4.40.2"
SAFETENSORS_VERSION = "0.4.3"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import safetensors  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import T5Config, T5EncoderModel, T5ForConditionalGeneration  # noqa: E402
from transformers.models.t5.modeling_t5 import T5Attention  # noqa: E402


def check_versions():
    assert torch.__version__.startswith(TORCH_VERSION), f"need torch {TORCH_VERSION}, got {torch.__version__}"
    assert np.__version__ == NUMPY_VERSION, f"need numpy {NUMPY_VERSION}, got {np.__version__}"
    assert transformers.__version__ == TRANSFORMERS_VERSION, f"need transformers {TRANSFORMERS_VERSION}"
    assert safetensors.__version__ == SAFETENSORS_VERSION, f"need safetensors {SAFETENSORS_VERSION}"


SHARDED_CONFIG = dict(
    vocab_size=128, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, num_decoder_layers=1,
    relative_attention_num_buckets=8, relative_attention_max_distance=20, feed_forward_proj="gated-gelu",
    layer_norm_epsilon=1e-6, dropout_rate=0.0, tie_word_embeddings=False, decoder_start_token_id=0,
)
# A different geometry (d_kv * heads != d_model, odd sizes) so that the two models cannot share a bug.
BF16_CONFIG = dict(
    vocab_size=96, d_model=24, d_kv=10, num_heads=3, d_ff=40, num_layers=3,
    relative_attention_num_buckets=6, relative_attention_max_distance=12, feed_forward_proj="relu",
    layer_norm_epsilon=1e-5, dropout_rate=0.0, tie_word_embeddings=False,
)


def randomise(model, seed):
    """Every parameter re-drawn: norms around 1, matrices with a scale that keeps activations O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("layer_norm.weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith("shared.weight") or name.endswith("embed_tokens.weight"):
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1]
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / fan_in ** 0.5))


def inputs(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    short_lengths, long_lengths = [7, 4, 1], [25, 13]
    out = {}
    for name, lengths, width in (("short", short_lengths, 7), ("long", long_lengths, 25)):
        ids = torch.randint(2, vocab, (len(lengths), width), generator=g)
        mask = torch.zeros(len(lengths), width, dtype=torch.long)
        for row, n in enumerate(lengths):
            mask[row, :n] = 1
            ids[row, n - 1] = 1  # </s>
            ids[row, n:] = 0  # <pad>
        out[name] = (ids, mask)
    return out


def encode(folder, batches, dtype=torch.float32):
    model = T5EncoderModel.from_pretrained(folder, torch_dtype=dtype).eval()
    assert model.dtype == torch.float32
    out = {}
    with torch.no_grad():
        for name, (ids, mask) in batches.items():
            out[name] = model(input_ids=ids, attention_mask=mask).last_hidden_state.contiguous()
    return out


def buckets(num_buckets, max_distance):
    rel = torch.arange(-300, 301, dtype=torch.long)[None, :]
    b = T5Attention._relative_position_bucket(rel, bidirectional=True, num_buckets=num_buckets, max_distance=max_distance)
    return b[0].contiguous()


def main():
    check_versions()
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "MiroT5Tests", "Fixtures"))
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    # 1. Sharded fp32 encoder-decoder.
    sharded_dir = os.path.join(out, "t5-sharded")
    shutil.rmtree(sharded_dir, ignore_errors=True)
    torch.manual_seed(0)
    full = T5ForConditionalGeneration(T5Config(**SHARDED_CONFIG)).eval()
    randomise(full, seed=1)
    full.save_pretrained(sharded_dir, safe_serialization=True, max_shard_size="24KB")
    shards = sorted(f for f in os.listdir(sharded_dir) if f.endswith(".safetensors"))
    assert len(shards) >= 3 and os.path.exists(os.path.join(sharded_dir, "model.safetensors.index.json")), shards
    for extra in ("generation_config.json",):
        path = os.path.join(sharded_dir, extra)
        if os.path.exists(path):
            os.remove(path)

    # 2. bf16 single-file encoder-only model.
    bf16_dir = os.path.join(out, "t5-bf16")
    shutil.rmtree(bf16_dir, ignore_errors=True)
    torch.manual_seed(0)
    enc = T5EncoderModel(T5Config(**BF16_CONFIG)).eval()
    randomise(enc, seed=2)
    enc.to(torch.bfloat16).save_pretrained(bf16_dir, safe_serialization=True)
    assert sorted(os.listdir(bf16_dir)) == ["config.json", "model.safetensors"], os.listdir(bf16_dir)

    # 3. Reference outputs.
    batches_a = inputs(SHARDED_CONFIG["vocab_size"], seed=3)
    batches_b = inputs(BF16_CONFIG["vocab_size"], seed=4)
    ref = {}
    for name, (ids, mask) in batches_a.items():
        ref[f"input_ids.{name}"] = ids
        ref[f"attention_mask.{name}"] = mask
    for name, (ids, mask) in batches_b.items():
        ref[f"input_ids_bf16.{name}"] = ids
        ref[f"attention_mask_bf16.{name}"] = mask
    for name, h in encode(sharded_dir, batches_a).items():
        ref[f"hidden.sharded.{name}"] = h
    for name, h in encode(bf16_dir, batches_b).items():
        ref[f"hidden.bf16.{name}"] = h
    ref["buckets.xl"] = buckets(32, 128)
    ref["buckets.tiny"] = buckets(8, 20)
    ref["buckets.bf16"] = buckets(6, 12)
    for k, v in ref.items():
        assert torch.isfinite(v.float()).all(), k
    metadata = {
        "generator": json.dumps({"script": "scripts/make_t5_fixtures.py", "torch": torch.__version__,
                                 "numpy": np.__version__, "transformers": transformers.__version__,
                                 "safetensors": safetensors.__version__}),
        "sharded_config": json.dumps(SHARDED_CONFIG, sort_keys=True),
        "bf16_config": json.dumps(BF16_CONFIG, sort_keys=True),
        "bucket_positions": "relative position = key - query, from -300 to 300",
    }
    save_file(ref, os.path.join(out, "reference.safetensors"), metadata=metadata)
    print("shards:", shards)
    for k in sorted(ref):
        v = ref[k]
        print(f"{k:32s} {str(v.dtype):16s} {list(v.shape)} absmax {v.float().abs().max().item():.4f}")


if __name__ == "__main__":
    sys.exit(main())
