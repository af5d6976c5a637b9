#!/usr/bin/python3
"""Reference fixtures for the CLIP-family reward models (Sources/MiroRewardModels): transformers' CLIPModel,
open_clip's CLIP (HPSv2 layout) and the LAION aesthetic MLP, with the reward formulas MIRO stores.

HOW TO RUN (from the repository root, Debian bookworm, no venv, no network at run time):

    apt-get install python3-torch python3-numpy          # torch 1.13.1+dfsg (reports 1.13.0a0), numpy 1.24.2
    pip download --no-deps -d /tmp/clipwheels transformers==4.40.2 tokenizers==0.19.1 huggingface_hub==0.23.0 \
        safetensors==0.4.3 open_clip_torch==2.24.0 ftfy==6.2.0 wcwidth regex filelock tqdm packaging pyyaml \
        requests fsspec urllib3 idna certifi charset_normalizer
    pip install --no-deps --target /work/pydeps-clipm /tmp/clipwheels/*.whl
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-clipm /usr/bin/python3 \
        scripts/make_clip_reward_fixtures.py

  * Pinned and asserted below: torch 1.13.0a0 (Debian), numpy 1.24.2, transformers 4.40.2, safetensors 0.4.3,
    open_clip_torch 2.24.0.
  * Nothing is downloaded; every model is built from a tiny config with a fixed seed and every parameter
    (layer norms and logit_scale included) is re-drawn, so a wrong key, a transposed matrix or a skipped norm shows.
  * Output: Tests/MiroRewardModelsTests/Fixtures/ (override with --out), about 1 MB:
      clip-quickgelu/      CLIPModel, quick_gelu, text eos_token_id 2 (argmax pooling, as openai/clip-vit-large-patch14),
                           projection_dim 768 (so the real aesthetic MLP can sit on it): config.json + model.safetensors
      clip-quickgelu-sharded/  the same weights saved with max_shard_size 100KB (model-0000k-of-0000n + index)
      clip-gelu-bin/       CLIPModel, gelu, text eos_token_id 300 (first-eos pooling), layer_norm_eps 1e-6,
                           projection_dim 24: config.json + pytorch_model.bin (torch.save zip)
      openclip-tiny.json   the open_clip model config (model_configs/*.json format) of the tiny open_clip model
      openclip-tiny-fp32.pt, openclip-tiny-fp16.pt
                           torch.save({'state_dict': sd, 'epoch': 3}) like HPSv2's HPS_v2.1_compressed.pt; the fp32
                           file also carries the legacy `attn_mask` buffer; the fp16 one holds every tensor .half()
      aesthetic-mlp.pth    the improved-aesthetic-predictor MLP at its real shape (768→1024→128→64→16→1) with random
                           weights; each weight is a Hankel view (strides (1, 1)) of a small storage, so the file is
                           ~20 kB although the MLP has 927,969 parameters (torch.save keeps views)
      reference.safetensors
                           pixels.{32} [3,3,32,32] random normalised pixels; ids.*/mask.* token batches;
                           {model}.image_embeds / .text_embeds (unnormalised get_*_features / encode_*),
                           {model}.logits_per_image; reward values as MIRO stores them:
                           quickgelu.aesthetic_score (rating/10), quickgelu.openai_clip_score (diag(logits)/100),
                           gelu.pick_a_score_score (diag(logits_per_image)/100), gelu.sciscore_score
                           (exp(logit_scale)·diag(t̂·îᵀ)/100), openclip{32,16}.hpsv2_score (raw cosine),
                           aesthetic.rating for a zero embedding (the zero-norm guard).
      tokens.json          the ids each reward's tokenizer call gives for a few captions (transformers'
                           CLIPTokenizerFast with padding=True, truncation=True, max_length=77, pad <|endoftext|>;
                           open_clip's tokenize: 77, zero padding), vocab from open_clip's bpe_simple_vocab_16e6.txt.gz.
  * Deterministic: re-running gives byte-identical files, except the order of the __metadata__ entries of
    reference.safetensors (safetensors writes a hash map); the tensors are identical.
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

TORCH_VERSION = "1.13.0a0"
NUMPY_VERSION = "1.24.2"
TRANSFORMERS_VERSION = "4.40.2"
SAFETENSORS_VERSION = "0.4.3"
OPEN_CLIP_VERSION = "2.24.0"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import open_clip  # noqa: E402
import open_clip.version  # noqa: E402
import safetensors  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast  # noqa: E402


def check_versions():
    assert torch.__version__.startswith(TORCH_VERSION), f"need torch {TORCH_VERSION}, got {torch.__version__}"
    assert np.__version__ == NUMPY_VERSION, f"need numpy {NUMPY_VERSION}, got {np.__version__}"
    assert transformers.__version__ == TRANSFORMERS_VERSION, f"need transformers {TRANSFORMERS_VERSION}"
    assert safetensors.__version__ == SAFETENSORS_VERSION, f"need safetensors {SAFETENSORS_VERSION}"
    assert open_clip.version.__version__ == OPEN_CLIP_VERSION, f"need open_clip_torch {OPEN_CLIP_VERSION}"


def redraw(model, seed):
    """Every parameter re-drawn: matrices N(0, 1/fan_in), vectors N(0, 0.1) around their init (norm weights
    around 1), class/position embeddings N(0, 0.5)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("logit_scale"):
                p.fill_(math.log(80.0))
            elif p.dim() >= 2:
                table = ("embedding" in name or "positional" in name) and "patch_embedding" not in name
                fan_in = 4 if table else p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
            else:
                base = 1.0 if ("norm" in name or "ln_" in name) and name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
    return model


def tiny_hf(act, eos, eps, projection):
    text = dict(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, hidden_act=act, layer_norm_eps=eps, pad_token_id=0, bos_token_id=1,
                eos_token_id=eos)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8, hidden_act=act, layer_norm_eps=eps)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection)


def token_batch(g, eot, rows, length, long_row=False, vocab=512):
    """Random content ids (< eot so that argmax finds the end token) then eot, padded with pad."""
    ids = torch.zeros(rows, length, dtype=torch.long)
    mask = torch.zeros(rows, length, dtype=torch.long)
    for r in range(rows):
        n = length if (long_row and r == 0) else int(torch.randint(3, length, (1,), generator=g))
        ids[r, 0] = 1
        ids[r, 1:n - 1] = torch.randint(2, eot, (n - 2,), generator=g)
        ids[r, n - 1] = eot
        mask[r, :n] = 1
    return ids, mask


def hf_outputs(model, pixels, ids, mask):
    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels)
        txt = model.get_text_features(input_ids=ids, attention_mask=mask)
        out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    return img, txt, out.logits_per_image


def hankel(g, rows, cols, scale):
    """A [rows, cols] view with strides (1, 1) of a (rows + cols - 1) storage: w[i, j] = s[i + j]."""
    storage = torch.randn(rows + cols - 1, generator=g) * scale
    return storage.as_strided((rows, cols), (1, 1))


def main():
    check_versions()
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="Tests/MiroRewardModelsTests/Fixtures")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)
    ref = {}

    pixels = torch.randn(3, 3, 32, 32, generator=g)
    ref["pixels.32"] = pixels

    # 1. HF CLIPModel, quick_gelu, argmax pooling, projection 768 (OpenAI CLIP-L/14-like: aesthetic, openai_clip_score)
    quick = redraw(CLIPModel(tiny_hf("quick_gelu", 2, 1e-5, 768)).eval(), 1)
    for name in ["clip-quickgelu", "clip-quickgelu-sharded", "clip-gelu-bin"]:
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    quick.save_pretrained(os.path.join(out, "clip-quickgelu"), safe_serialization=True)
    quick.save_pretrained(os.path.join(out, "clip-quickgelu-sharded"), safe_serialization=True, max_shard_size="100KB")
    ids_q, mask_q = token_batch(g, 511, 3, 77, long_row=True)  # pad 0; the argmax is the end token 511
    ref["ids.quickgelu"], ref["mask.quickgelu"] = ids_q, mask_q
    img, txt, logits = hf_outputs(quick, pixels, ids_q, mask_q)
    ref["quickgelu.image_embeds"], ref["quickgelu.text_embeds"], ref["quickgelu.logits_per_image"] = img, txt, logits
    ref["quickgelu.openai_clip_score"] = torch.diagonal(logits) / 100

    # 2. The aesthetic MLP at its real shape on the quick_gelu model's 768-d image embedding.
    mlp = torch.nn.Sequential(torch.nn.Linear(768, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128),
                              torch.nn.Dropout(0.2), torch.nn.Linear(128, 64), torch.nn.Dropout(0.1),
                              torch.nn.Linear(64, 16), torch.nn.Linear(16, 1)).eval()
    sd = {}
    for i in [0, 2, 4, 6, 7]:
        layer = mlp[i]
        scale = 1.0 if i == 0 else 1 / math.sqrt(layer.in_features)  # the input has norm 1
        sd[f"layers.{i}.weight"] = hankel(g, layer.out_features, layer.in_features, scale)
        sd[f"layers.{i}.bias"] = 0.1 * torch.randn(layer.out_features, generator=g)
    torch.save(sd, os.path.join(out, "aesthetic-mlp.pth"))
    mlp.load_state_dict({k[len("layers."):]: v.contiguous() for k, v in sd.items()})
    with torch.no_grad():
        emb = img.numpy()
        l2 = np.atleast_1d(np.linalg.norm(emb, 2, -1))
        l2[l2 == 0] = 1
        normed = torch.from_numpy(emb / np.expand_dims(l2, -1)).float()
        rating = mlp(normed)
        ref["quickgelu.aesthetic_rating"] = rating[:, 0]
        ref["quickgelu.aesthetic_score"] = rating[:, 0] / 10
        ref["aesthetic.zero_rating"] = mlp(torch.zeros(1, 768))[:, 0]

    # 3. HF CLIPModel, gelu, first-eos pooling (eos 300 with larger ids after it), eps 1e-6, pytorch_model.bin
    gelu = redraw(CLIPModel(tiny_hf("gelu", 300, 1e-6, 24)).eval(), 2)
    gelu.save_pretrained(os.path.join(out, "clip-gelu-bin"), safe_serialization=False)
    ids_g, mask_g = token_batch(g, 300, 3, 12)
    ids_g[:, -1] = 511  # padding with a larger id: argmax pooling would pick it, first-eos pooling must not
    mask_g[:, -1] = 0
    ids_g[ids_g == 0] = 511
    ref["ids.gelu"], ref["mask.gelu"] = ids_g, mask_g
    img, txt, logits = hf_outputs(gelu, pixels, ids_g, mask_g)
    ref["gelu.image_embeds"], ref["gelu.text_embeds"], ref["gelu.logits_per_image"] = img, txt, logits
    ref["gelu.pick_a_score_score"] = torch.diagonal(logits) / 100
    with torch.no_grad():
        i_n = img / img.norm(dim=-1, keepdim=True)
        t_n = txt / txt.norm(dim=-1, keepdim=True)
        sci = gelu.logit_scale.exp() * (t_n @ i_n.T)
        ref["gelu.sciscore_score"] = torch.diagonal(sci).float() / 100

    # 4. open_clip CLIP (HPSv2 layout), erf GELU, saved like HPS_v2.1_compressed.pt
    oc_cfg = {"embed_dim": 24,
              "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 8, "patch_size": 8},
              "text_cfg": {"context_length": 77, "vocab_size": 512, "width": 32, "heads": 4, "layers": 2}}
    with open(os.path.join(out, "openclip-tiny.json"), "w") as f:
        json.dump(oc_cfg, f, indent=4)
    oc = redraw(open_clip.model.CLIP(**oc_cfg).eval(), 3)
    sd = {k: v.clone() for k, v in oc.state_dict().items()}
    sd32 = dict(sd)
    sd32["attn_mask"] = oc.attn_mask.clone()  # older checkpoints carry it; a loader ignores it
    torch.save({"state_dict": sd32, "epoch": 3}, os.path.join(out, "openclip-tiny-fp32.pt"))
    torch.save({"state_dict": {k: v.half() for k, v in sd.items()}}, os.path.join(out, "openclip-tiny-fp16.pt"))
    ids_o, _ = token_batch(g, 511, 3, 77, long_row=True)
    ref["ids.openclip"] = ids_o
    for tag, weights in [("openclip32", sd), ("openclip16", {k: v.half().float() for k, v in sd.items()})]:
        oc.load_state_dict(weights)
        with torch.no_grad():
            img = oc.encode_image(pixels)
            txt = oc.encode_text(ids_o)
            out_dict = oc(pixels, ids_o)
            i_n, t_n = out_dict[0], out_dict[1]
        ref[f"{tag}.image_embeds"], ref[f"{tag}.text_embeds"] = img, txt
        ref[f"{tag}.hpsv2_score"] = torch.diagonal(i_n @ t_n.T)

    # 5. Tokenisation per reward, with the real CLIP vocabulary (open_clip's bpe file).
    bpe = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    simple = open_clip.tokenizer.SimpleTokenizer(bpe)
    captions = ["a photo of a cat", "A RED bicycle leaning on a wall, at sunset!!",
                " ".join(["many words"] * 50), "<PERSON> walks"]
    with tempfile.TemporaryDirectory() as tmp:
        vocab = {}
        for token, i in simple.encoder.items():
            vocab[{"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}.get(token, token)] = i
        with open(os.path.join(tmp, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        merges = sorted(simple.bpe_ranks.items(), key=lambda kv: kv[1])
        with open(os.path.join(tmp, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in merges) + "\n")
        hf_tok = CLIPTokenizerFast(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"),
                                   pad_token="<|endoftext|>")
        hf = hf_tok(captions, padding=True, truncation=True, max_length=77)
    tokens = {"captions": captions,
              "huggingface_longest": {"ids": hf["input_ids"], "mask": hf["attention_mask"]},
              "openclip": {"ids": open_clip.tokenize(captions).tolist()}}
    with open(os.path.join(out, "tokens.json"), "w") as f:
        json.dump(tokens, f)

    meta = {"generator": "scripts/make_clip_reward_fixtures.py", "torch": torch.__version__,
            "transformers": transformers.__version__, "open_clip": open_clip.version.__version__}
    save_file({k: v.contiguous().float() if v.is_floating_point() else v.contiguous() for k, v in ref.items()},
              os.path.join(out, "reference.safetensors"), metadata=meta)
    total = 0
    for root, _, files in os.walk(out):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    print(f"wrote {out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(main())
