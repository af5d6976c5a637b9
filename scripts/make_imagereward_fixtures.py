#!/usr/bin/python3
"""Reference fixtures for the Swift ImageReward v1.0 model (Sources/MiroRewardModels/ImageReward), made with the
image-reward 1.5 package's own BLIP code (vit.py, med.py, blip_pretrain.py, ImageReward.py).

HOW TO RUN (from the repository root, Debian bookworm, no venv, no network at run time):

    apt-get install python3-torch python3-torchvision python3-pil python3-numpy
        # torch 1.13.1 (reports 1.13.0a0), torchvision 0.14.1, numpy 1.24.2
    pip download --no-deps -d /tmp/ir-wheels image-reward==1.5 timm==0.9.16 transformers==4.40.2 \
        tokenizers==0.19.1 huggingface_hub==0.23.0 safetensors==0.4.3 regex filelock tqdm packaging pyyaml \
        requests fsspec urllib3 idna certifi charset_normalizer
    pip install --no-deps --target /work/pydeps-blip /tmp/ir-wheels/*.whl    # all but image_reward
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-blip \
        /usr/bin/python3 scripts/make_imagereward_fixtures.py --wheel /tmp/ir-wheels/image_reward-1.5-py3-none-any.whl

  * Pinned and asserted: torch 1.13.0a0 (Debian), numpy 1.24.2, transformers 4.40.2 (BertConfig, BertTokenizer and
    the PreTrainedModel base that med.py uses), timm 0.9.16 (PatchEmbed and the helpers vit.py imports),
    safetensors 0.4.3, and the image-reward 1.5 wheel by sha256. The wheel is not installed: its package
    `__init__` imports ReFL/diffusers, so the four model files are executed out of the wheel as modules of stub
    packages. vit.py imports fairscale's checkpoint_wrapper (only used with gradient checkpointing): a stub.
  * Nothing is downloaded. The tiny model is the package's own `ImageReward` class with `BLIP_Pretrain`'s
    `create_vit` and `init_tokenizer` swapped for tiny versions (ViT: 32 px, patch 16, width 32, depth 2, 2 heads;
    med BERT: width 32, 2 layers, 2 heads, intermediate 64, cross-attention width overwritten to 32 as
    BLIP_Pretrain does) and `MLP(768)` built at the BERT width 32 (the head's hidden widths 1024/128/64/16 are
    the real ones). Every parameter is re-drawn from a seeded generator (norms around 1) so that a wrong key, a
    transposed matrix or a skipped norm shows up in the outputs.
  * The WordPiece vocabulary is written here (no BERT vocab ships in any wheel); the tokenizer is
    `BertTokenizer(vocab.txt)` + `add_special_tokens` of `[DEC]` (bos) and `[ENC]` exactly as `init_tokenizer`.
  * References are computed in float64 (float32 weights widened exactly) with the package's `score_gard`
    (pixel tensor + ids in, standardised reward out), `visual_encoder` and `text_encoder`.
  * Deterministic: re-running gives the same tensors and files (expected.safetensors may list its metadata keys
    in another order: safetensors keeps them in a hash map).

Output (Tests/MiroRewardModelsTests/Fixtures/imagereward/, override with --out), about 1.9 MB:
  tiny/ImageReward.pt      torch.save(model.state_dict()) of the tiny model (zip format, float32), every key of the
                           real layout incl. blip.text_encoder.embeddings.position_ids, blip.vision_proj, blip.text_proj
  tiny/med_config.json     the tiny BERT config, BLIP's fields (encoder_width 768 in the file, as BLIP ships it)
  tiny/vocab.txt           the tiny WordPiece vocabulary
  expected.safetensors     pixels (4,3,32,32) F32; input_ids, attention_mask (4,35) I64;
                           image_embeds (4,5,32); text_hidden (4,35,32); text_cls (4,32); mlp (4,1);
                           rewards (4,) = (mlp - mean) / std; stored (4,) = (rewards + 2) / 4   (all F32 from float64)
                           e2e.*: the same tiny model at 224 px (e2e.pos_embed (1,197,32) replaces pos_embed) scoring
                           e2e.png with the package's own `score(caption, PIL image)`: e2e.pixels (1,3,224,224) =
                           `_transform(224)(image)`, e2e.input_ids / e2e.attention_mask (1,35), e2e.reward (1,),
                           e2e.stored (1,); the caption is the `e2e.caption` metadata
  e2e.png                  a 97x61 RGB PNG (smooth pattern + noise) for the end-to-end check with a real preprocessor
  tokenizer.json           {"dec_id", "enc_id", "cases": [{"text", "ids" (untruncated), "ids35", "mask35"}]}
  keys/imagereward-keys.tsv  the full-size key table (copied from docs/keys; name, shape, dtype)
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import types
import zipfile

import numpy as np
import torch

TORCH_VERSION = "1.13.0a0"
NUMPY_VERSION = "1.24.2"
TRANSFORMERS_VERSION = "4.40.2"
TIMM_VERSION = "0.9.16"
SAFETENSORS_VERSION = "0.4.3"
WHEEL_SHA256 = "b4917a680c3caa68a1ce3847cebab3ae6d5b4c409d7f8804f537b9d42662cf12"  # image_reward-1.5-py3-none-any.whl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import safetensors  # noqa: E402
import timm  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402
from transformers import BertTokenizer  # noqa: E402

VISION = dict(img_size=32, patch_size=16, embed_dim=32, depth=2, num_heads=2)
MED_CONFIG = {
    "architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
    "layer_norm_eps": 1e-12, "max_position_embeddings": 40, "model_type": "bert", "num_attention_heads": 2,
    "num_hidden_layers": 2, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": None,  # set from the vocab
    "encoder_width": 768, "add_cross_attention": True,
}
WORDS = [
    "a", "an", "the", "of", "on", "in", "and", "with", "photo", "cat", "dog", "street", "tree", "red", "blue", "car",
    "house", "big", "small", "quick", "brown", "fox", "jump", "over", "lazy", "play", "run", "cafe", "creme", "brulee",
    "naive", "resume", "lower", "case", "special", "upper", "space", "new", "line", "emoji", "zero", "width", "un",
    "known", "word", "super", "person", "image", "art", "sunset", "mountain", "river", "painting", "oil", "digital",
]
SUFFIXES = ["s", "ing", "ed", "er", "ly", "es", "ow", "x", "y", "z"]
CASES = [
    "A photo of a cat on the street.",
    "Café CRÈME brûlée, naïve résumé!",
    "dogs playing in the tree [DEC] and [ENC] [MASK]",
    "the quick brown fox jumps over the lazy dog " * 5,
    "",
    "  spaces\tand\nnew lines  ",
    "中文 cat一dog",
    "unknownwordxyzzy " + "z" * 120,
    "[cls] lower-case special and [CLS] upper [SEP]",
    "emoji 🙂 and zero\u200bwidth",
    "a<PERSON>b",
    "x[DEC]y[ENC]z",
    "red car, blue house; big-tree... (oil painting) #art @home 100%",
]
PAIR_CAPTIONS = [CASES[0], CASES[2], CASES[3], "oil painting of a red sunset over the mountain river"]


def check_versions():
    assert torch.__version__.startswith(TORCH_VERSION), f"need torch {TORCH_VERSION}, got {torch.__version__}"
    assert np.__version__ == NUMPY_VERSION, f"need numpy {NUMPY_VERSION}, got {np.__version__}"
    assert transformers.__version__ == TRANSFORMERS_VERSION, f"need transformers {TRANSFORMERS_VERSION}"
    assert timm.__version__ == TIMM_VERSION, f"need timm {TIMM_VERSION}, got {timm.__version__}"
    assert safetensors.__version__ == SAFETENSORS_VERSION, f"need safetensors {SAFETENSORS_VERSION}"


def load_package(wheel):
    """The four model files of the wheel, imported as `ImageReward.models.BLIP.*` and `ImageReward.ImageReward`
    under stub packages (the real `__init__`s import ReFL, diffusers and the hub downloader)."""
    with open(wheel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == WHEEL_SHA256, f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256} (image-reward 1.5)"
    root = tempfile.mkdtemp(prefix="imagereward-src-")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(root)
    fairscale = types.ModuleType("fairscale")
    for name in ["fairscale.nn", "fairscale.nn.checkpoint", "fairscale.nn.checkpoint.checkpoint_activations"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["fairscale"] = fairscale
    sys.modules["fairscale.nn.checkpoint.checkpoint_activations"].checkpoint_wrapper = lambda m: m
    for name, sub in [("ImageReward", ""), ("ImageReward.models", "models"), ("ImageReward.models.BLIP", "models/BLIP")]:
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(root, "ImageReward", sub)]
        sys.modules[name] = pkg
    import importlib
    vit = importlib.import_module("ImageReward.models.BLIP.vit")
    blip_pretrain = importlib.import_module("ImageReward.models.BLIP.blip_pretrain")
    image_reward = importlib.import_module("ImageReward.ImageReward")
    return vit, blip_pretrain, image_reward, root


def write_vocab(path):
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789") + list(".,;:!?'\"()[]-_#@%<>/") + ["中", "文", "一"]
    tokens = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += chars + ["##" + c for c in chars if c.isalnum()] + WORDS + ["##" + s for s in SUFFIXES]
    seen, unique = set(), []
    for t in tokens:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(unique) + "\n")
    return len(unique)


def make_tokenizer(vocab_path):
    # init_tokenizer() with a local vocab instead of BertTokenizer.from_pretrained('bert-base-uncased').
    tokenizer = BertTokenizer(vocab_path)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    tokenizer.enc_token_id = tokenizer.additional_special_tokens_ids[0]
    return tokenizer


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("LayerNorm.weight") or ".norm" in name and name.endswith(".weight"):
                p.copy_(0.7 + 0.6 * torch.rand(p.shape, generator=g))
            elif name.endswith("bias") or name.endswith("LayerNorm.bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embeddings" in name or name.endswith("cls_token") or name.endswith("pos_embed"):
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) * (1.2 / fan_in ** 0.5))


E2E_CAPTION = "A red sunset over the mountain river, oil painting"


def end_to_end(image_reward, real_blip, real_mlp, med_path, vocab_path, state, out):
    """The same tiny model at the real 224 px (only pos_embed differs: 197 positions), scoring a PNG through the
    package's own `score(prompt, PIL image)`: `_transform(224)` (PIL bicubic resize of the shortest side, centre
    crop, ToTensor, CLIP mean/std), the 35-token prompt, the head. The odd 97x61 size exercises the resize and the
    crop offsets."""
    rng = np.random.default_rng(3)
    h, w = 61, 97
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / 7.0) + yy / 40.0, np.cos(yy / 5.0) + xx / 60.0, np.sin((xx + yy) / 11.0)], -1)
    img = np.clip((base - base.min()) / (base.max() - base.min()) * 255 + rng.normal(0, 12, base.shape), 0, 255)
    from PIL import Image
    pil = Image.fromarray(img.astype(np.uint8), "RGB")
    pil.save(os.path.join(out, "e2e.png"))
    pil = Image.open(os.path.join(out, "e2e.png"))
    image_reward.BLIP_Pretrain = lambda image_size, vit, med_config: real_blip(
        med_config=med_config, image_size=224, vit=vit, embed_dim=16)
    vision = dict(VISION, img_size=224)
    saved = dict(VISION)
    VISION.update(vision)
    model = image_reward.ImageReward(med_config=med_path, device="cpu").eval()
    VISION.clear()
    VISION.update(saved)
    g = torch.Generator().manual_seed(4)
    state224 = dict(state)
    state224["blip.visual_encoder.pos_embed"] = torch.randn(1, 197, VISION["embed_dim"], generator=g)
    model.load_state_dict(state224, strict=True)
    with torch.no_grad():
        score32 = model.score(E2E_CAPTION, pil)  # the package's own path, float32
        pixels = model.preprocess(pil).unsqueeze(0)
        text = model.blip.tokenizer(E2E_CAPTION, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
        reward = model.double().score_gard(text.input_ids, text.attention_mask, pixels.double())[:, 0]
    assert abs(score32 - reward.item()) < 1e-4 * max(1.0, abs(reward.item())), (score32, reward.item())
    print("end-to-end reward", reward.item(), "(float32 score():", score32, ")")
    return {"pos_embed": state224["blip.visual_encoder.pos_embed"].float(), "pixels": pixels.float(),
            "input_ids": text.input_ids.long(), "attention_mask": text.attention_mask.long(),
            "reward": reward.float(), "stored": ((reward + 2) / 4).float()}


def main():
    check_versions()
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel", required=True, help="image_reward-1.5-py3-none-any.whl")
    parser.add_argument("--keys", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "docs", "keys",
                                                       "imagereward-keys.tsv"))
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "MiroRewardModelsTests",
                                                      "Fixtures", "imagereward"))
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    tiny = os.path.join(out, "tiny")
    os.makedirs(tiny, exist_ok=True)
    os.makedirs(os.path.join(out, "keys"), exist_ok=True)
    torch.set_num_threads(1)
    vit, blip_pretrain, image_reward, src_root = load_package(args.wheel)

    vocab_path = os.path.join(tiny, "vocab.txt")
    vocab_size = write_vocab(vocab_path)
    tokenizer = make_tokenizer(vocab_path)
    med = dict(MED_CONFIG, vocab_size=vocab_size + 2)  # + [DEC], [ENC]
    med_path = os.path.join(tiny, "med_config.json")
    with open(med_path, "w") as f:
        json.dump(med, f, indent=2)
        f.write("\n")

    # The package's classes, with the tiny ViT / local tokenizer / tiny head in place of the hard-coded sizes.
    def tiny_vit(vit_name, image_size, use_grad_checkpointing=False, ckpt_layer=0, drop_path_rate=0):
        assert vit_name == "large"
        return vit.VisionTransformer(**VISION, drop_path_rate=0.1), VISION["embed_dim"]
    blip_pretrain.create_vit = tiny_vit
    blip_pretrain.init_tokenizer = lambda: make_tokenizer(vocab_path)
    real_blip, real_mlp = image_reward.BLIP_Pretrain, image_reward.MLP
    image_reward.BLIP_Pretrain = lambda image_size, vit, med_config: real_blip(
        med_config=med_config, image_size=VISION["img_size"], vit=vit, embed_dim=16)
    image_reward.MLP = lambda input_size: real_mlp(med["hidden_size"])
    torch.manual_seed(0)
    model = image_reward.ImageReward(med_config=med_path, device="cpu").eval()
    randomise(model, seed=1)
    state = model.state_dict()
    torch.save(state, os.path.join(tiny, "ImageReward.pt"))

    # Tokenizer cases.
    cases = []
    for text in CASES:
        full = tokenizer(text)["input_ids"]
        enc = tokenizer(text, padding="max_length", truncation=True, max_length=35)
        cases.append({"text": text, "ids": full, "ids35": enc["input_ids"], "mask35": enc["attention_mask"]})
    dec_id = tokenizer.convert_tokens_to_ids("[DEC]")
    enc_id = tokenizer.enc_token_id
    assert dec_id == vocab_size and enc_id == vocab_size + 1, (dec_id, enc_id, vocab_size)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"dec_id": dec_id, "enc_id": enc_id, "vocab_size": vocab_size, "cases": cases}, f, ensure_ascii=False,
                  indent=1)
        f.write("\n")

    # Model references in float64, on the package's own code paths.
    g = torch.Generator().manual_seed(2)
    pixels = torch.randn(len(PAIR_CAPTIONS), 3, VISION["img_size"], VISION["img_size"], generator=g)
    text = model.blip.tokenizer(PAIR_CAPTIONS, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
    ids, mask = text.input_ids, text.attention_mask
    model64 = model.double()
    with torch.no_grad():
        image_embeds = model64.blip.visual_encoder(pixels.double())
        image_atts = torch.ones(image_embeds.size()[:-1], dtype=torch.long)
        hidden = model64.blip.text_encoder(ids, attention_mask=mask, encoder_hidden_states=image_embeds,
                                           encoder_attention_mask=image_atts, return_dict=True).last_hidden_state
        cls = hidden[:, 0, :]
        mlp = model64.mlp(cls)
        rewards = model64.score_gard(ids, mask, pixels.double())
        assert torch.allclose(rewards, (mlp - model64.mean) / model64.std)
        rewards = rewards[:, 0]
        stored = (rewards + 2) / 4
    print("rewards", rewards.tolist())
    e2e = end_to_end(image_reward, real_blip, real_mlp, med_path, vocab_path, state, out)
    expected = {
        "pixels": pixels.float(), "input_ids": ids.long(), "attention_mask": mask.long(),
        "image_embeds": image_embeds.float(), "text_hidden": hidden.float(), "text_cls": cls.float(),
        "mlp": mlp.float(), "rewards": rewards.float(), "stored": stored.float(),
    }
    expected.update({"e2e." + k: v for k, v in e2e.items()})
    save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(out, "expected.safetensors"),
              metadata={"generator": f"scripts/make_imagereward_fixtures.py; torch {torch.__version__}, transformers "
                                     f"{transformers.__version__}, timm {timm.__version__}, image-reward 1.5 "
                                     f"(sha256 {WHEEL_SHA256[:16]}...)",
                        "captions": json.dumps(PAIR_CAPTIONS), "e2e.caption": E2E_CAPTION})
    shutil.copyfile(os.path.abspath(args.keys), os.path.join(out, "keys", "imagereward-keys.tsv"))
    shutil.rmtree(src_root, ignore_errors=True)
    print("wrote", out, "keys", len(state))


if __name__ == "__main__":
    main()
