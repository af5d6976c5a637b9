#!/usr/bin/env python3
"""Time the REFERENCE reward models (open_clip, transformers CLIPModel, ImageReward's BLIP) on CPU with full-size random
weights, for comparison with `miro bench rewards` (Sources/MiroCLI/Commands/BenchRewards.swift). Prints one line per
reward (or, with --json, the same keys as the Swift side).

HOW TO RUN: scripts/bench-rewards-vs-pytorch.sh runs both sides alternately. By hand, from the repository root:

    # PyTorch 2.15.0 (PyPI, the libtorch the Swift build links) as scripts/bench-vs-pytorch.sh unpacks it into
    # .deps/pytorch-2.15.0-python. The other wheels, without dependencies:
    pip install --no-deps --target /tmp/pydeps-rewards transformers==4.40.2 tokenizers==0.19.1 \
        huggingface_hub==0.23.0 safetensors==0.4.3 open_clip_torch==2.24.0 timm==0.9.16 image-reward==1.5 \
        ftfy wcwidth regex filelock tqdm packaging pyyaml requests fsspec
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/tmp/pydeps-rewards:.deps/pytorch-2.15.0-python \
        python3 scripts/bench_official_rewards.py --threads 2 [--rewards aesthetic_score,... --batch 4 --json --size tiny]

What runs, per reward (rewards.md §3; random weights from each library's own init; under torch.inference_mode();
fp32 on CPU — MIRO runs these under fp16 autocast on CUDA; the Swift side computes fp32 too). Input: `--batch`
preprocessed 224² images (random normal pixels) and captions of `--caption-tokens` tokens (ids by the rule of
BenchRewards.swift: 1000 + 7919·(i+1) mod 30000 for CLIP, the same mod 28000 for BERT), tokenised the way each
reference pads them:
  aesthetic_score      OpenAI CLIP ViT-L/14 (open_clip "ViT-L-14-quickgelu": the architecture `clip.load` rebuilds)
                       encode_image → L2-normalise (0 → 1) → the LAION MLP 768-1024-128-64-16-1 → /10
  openai_clip_score    transformers CLIPModel openai/clip-vit-large-patch14 (the eval package's clip_openai): both
                       towers, text padded to the longest caption → exp(logit_scale)·cos / 100
  pick_a_score_score   transformers CLIPModel with the laion ViT-H-14 config (PickScore_v1; SciScore is the same
                       model): get_image_features + get_text_features (padded to the longest caption, mask)
                       → exp(logit_scale)·cos / 100
  hpsv2_score          open_clip "ViT-H-14": encode_image + encode_text (77, pad 0), normalised → diag(î·t̂ᵀ)
  image_reward_score   ImageReward 1.5's BLIP: ViT-L/16 (create_vit("large", 224)) + med BertModel (BERT-base,
                       cross-attention, encoder_width 1024) over 35 tokens + the MLP 768-...-1
                       → (r − 0.16717362830052426) / 1.0333394966054072 → (r + 2) / 4
Timing: one untimed batch, then `--runs` timed batches; images/s = batch / median seconds.
"""

import argparse
import json
import os
import sys
import time
import types
import warnings

import torch

OPEN_CLIP_VERSION, TRANSFORMERS_VERSION, TIMM_VERSION = "2.24.0", "4.40.2", "0.9.16"
REWARDS = ["aesthetic_score", "openai_clip_score", "pick_a_score_score", "hpsv2_score", "image_reward_score"]
MEAN, STD = 0.16717362830052426, 1.0333394966054072

# BERT-base with cross-attention, as ImageReward's med_config.json (BLIP's), vocab 30524 with [DEC] and [ENC].
MED_CONFIG = dict(architectures=["BertModel"], attention_probs_dropout_prob=0.1, hidden_act="gelu",
                  hidden_dropout_prob=0.1, hidden_size=768, initializer_range=0.02, intermediate_size=3072,
                  layer_norm_eps=1e-12, max_position_embeddings=512, model_type="bert", num_attention_heads=12,
                  num_hidden_layers=12, pad_token_id=0, type_vocab_size=2, vocab_size=30524, encoder_width=768,
                  add_cross_attention=True)

# The tiny sizes (a seconds-long check that the script runs; BenchRewards.swift has the same).
TINY = dict(image_size=32, vit_width=32, vit_layers=2, vit_heads=2, patch=8, text_width=32, text_layers=2,
            text_heads=2, embed_dim=16)


def median(values):
    return sorted(values)[len(values) // 2]  # the upper median, as the Swift side


def count(module):
    return sum(p.numel() for p in module.parameters())


def clip_ids(n, batch, context=77, pad=0):
    """[49406] + n − 2 pieces + [49407], padded with `pad` to `context` (or to n when context is None)."""
    rows = []
    for b in range(batch):
        body = [1000 + (7919 * (i + 1 + b)) % 30000 for i in range(n - 2)]
        ids = [49406] + body + [49407]
        rows.append(ids + [pad] * ((context or n) - len(ids)))
    return torch.tensor(rows)


def bert_ids(n, batch, length=35):
    rows, masks = [], []
    for b in range(batch):
        ids = [101] + [1000 + (7919 * (i + 1 + b)) % 28000 for i in range(n - 2)] + [102]
        ids = ids[:length - 1] + [102] if len(ids) > length else ids
        rows.append(ids + [0] * (length - len(ids)))
        masks.append([1] * len(ids) + [0] * (length - len(ids)))
    return torch.tensor(rows), torch.tensor(masks)


def aesthetic_mlp(width):
    return torch.nn.Sequential(torch.nn.Linear(width, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128),
                               torch.nn.Dropout(0.2), torch.nn.Linear(128, 64), torch.nn.Dropout(0.1),
                               torch.nn.Linear(64, 16), torch.nn.Linear(16, 1)).eval()


def open_clip_model(name, tiny, quick_gelu):
    import open_clip
    if tiny:
        cfg = dict(embed_dim=TINY["embed_dim"],
                   vision_cfg=dict(image_size=TINY["image_size"], layers=TINY["vit_layers"], width=TINY["vit_width"],
                                   head_width=TINY["vit_width"] // TINY["vit_heads"], patch_size=TINY["patch"]),
                   text_cfg=dict(context_length=77, vocab_size=49408, width=TINY["text_width"],
                                 heads=TINY["text_heads"], layers=TINY["text_layers"]),
                   quick_gelu=quick_gelu)
        return open_clip.CLIP(**cfg).eval()
    return open_clip.create_model(name, pretrained=None).eval()


def source_module(relative):
    """A module of the image-reward 1.5 source, found on sys.path, executed from its file alone."""
    import importlib.util
    for root in sys.path:
        path = os.path.join(root, relative)
        if os.path.isfile(path):
            name = "imagereward_" + os.path.splitext(os.path.basename(path))[0]
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    sys.exit(f"{relative} not found on PYTHONPATH (pip install --no-deps --target DIR image-reward==1.5)")


def build(reward, tiny):
    """(callable(pixels, n_tokens) → scores, parameter count, detail)."""
    if reward == "aesthetic_score":
        model = open_clip_model("ViT-L-14-quickgelu", tiny, quick_gelu=True)
        mlp = aesthetic_mlp(model.visual.output_dim)

        def run(pixels, n):
            f = model.encode_image(pixels)
            norm = f.norm(dim=-1, keepdim=True)
            norm[norm == 0] = 1
            return mlp(f / norm).squeeze(-1) / 10
        return run, count(model.visual) + count(mlp), "OpenAI CLIP ViT-L/14 image tower + aesthetic MLP"
    if reward in ("pick_a_score_score", "openai_clip_score"):
        from transformers import CLIPConfig, CLIPModel
        act = "gelu" if reward == "pick_a_score_score" else "quick_gelu"
        if tiny:
            config = CLIPConfig(text_config=dict(hidden_size=TINY["text_width"], intermediate_size=4 * TINY["text_width"],
                                                 num_hidden_layers=TINY["text_layers"], num_attention_heads=TINY["text_heads"],
                                                 hidden_act=act),
                                vision_config=dict(hidden_size=TINY["vit_width"], intermediate_size=4 * TINY["vit_width"],
                                                   num_hidden_layers=TINY["vit_layers"], num_attention_heads=TINY["vit_heads"],
                                                   image_size=TINY["image_size"], patch_size=TINY["patch"], hidden_act=act),
                                projection_dim=TINY["embed_dim"])
        elif reward == "pick_a_score_score":  # laion/CLIP-ViT-H-14-laion2B-s32B-b79K = PickScore_v1 = SciScore
            config = CLIPConfig(text_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                                 num_attention_heads=16, hidden_act="gelu"),
                                vision_config=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                                                   num_attention_heads=16, image_size=224, patch_size=14, hidden_act="gelu"),
                                projection_dim=1024)
        else:  # openai/clip-vit-large-patch14
            config = CLIPConfig(text_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                                 num_attention_heads=12, hidden_act="quick_gelu"),
                                vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                                   num_attention_heads=16, image_size=224, patch_size=14,
                                                   hidden_act="quick_gelu"),
                                projection_dim=768)
        model = CLIPModel(config).eval()

        def run(pixels, n):
            ids = clip_ids(n, pixels.shape[0], context=None, pad=49407)
            i = model.get_image_features(pixel_values=pixels)
            t = model.get_text_features(input_ids=ids, attention_mask=torch.ones_like(ids))
            i = i / i.norm(dim=-1, keepdim=True)
            t = t / t.norm(dim=-1, keepdim=True)
            return model.logit_scale.exp() * (t * i).sum(-1) / 100
        return run, count(model), ("transformers CLIPModel ViT-H/14 (PickScore; SciScore is the same model)"
                                   if reward == "pick_a_score_score" else "transformers CLIPModel ViT-L/14 (OpenAI CLIP score)")
    if reward == "hpsv2_score":
        model = open_clip_model("ViT-H-14", tiny, quick_gelu=False)

        def run(pixels, n):
            i = torch.nn.functional.normalize(model.encode_image(pixels), dim=-1)
            t = torch.nn.functional.normalize(model.encode_text(clip_ids(n, pixels.shape[0])), dim=-1)
            return (i * t).sum(-1)
        return run, count(model), "open_clip ViT-H/14, 77 text tokens"
    if reward == "image_reward_score":
        # vit.py imports fairscale's checkpoint_wrapper (used only with gradient checkpointing): a stand-in.
        for name in ("fairscale", "fairscale.nn", "fairscale.nn.checkpoint", "fairscale.nn.checkpoint.checkpoint_activations"):
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules["fairscale.nn.checkpoint.checkpoint_activations"].checkpoint_wrapper = lambda m, **_: m
        # The package's __init__ imports what scoring does not need (OpenAI `clip`, ...): load the two files alone.
        VisionTransformer = source_module("ImageReward/models/BLIP/vit.py").VisionTransformer
        med = source_module("ImageReward/models/BLIP/med.py")
        BertConfig, BertModel = med.BertConfig, med.BertModel
        if tiny:
            vit = VisionTransformer(img_size=TINY["image_size"], patch_size=TINY["patch"], embed_dim=TINY["vit_width"],
                                    depth=TINY["vit_layers"], num_heads=TINY["vit_heads"])
            cfg = dict(MED_CONFIG, hidden_size=TINY["text_width"], intermediate_size=4 * TINY["text_width"],
                       num_hidden_layers=TINY["text_layers"], num_attention_heads=TINY["text_heads"])
        else:  # create_vit("large", 224): patch 16, width 1024, depth 24, 16 heads
            vit = VisionTransformer(img_size=224, patch_size=16, embed_dim=1024, depth=24, num_heads=16)
            cfg = dict(MED_CONFIG)
        config = BertConfig(**cfg)
        config.encoder_width = vit.embed_dim
        text = BertModel(config=config, add_pooling_layer=False)
        mlp = aesthetic_mlp(config.hidden_size)
        vit.eval(), text.eval()

        def run(pixels, n):
            ids, mask = bert_ids(n, pixels.shape[0])
            image_embeds = vit(pixels)
            atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long)
            out = text(ids, attention_mask=mask, encoder_hidden_states=image_embeds, encoder_attention_mask=atts,
                       return_dict=True)
            r = (mlp(out.last_hidden_state[:, 0, :].float()) - MEAN) / STD
            return ((r + 2) / 4).squeeze(-1)
        return run, count(vit) + count(text) + count(mlp), "ImageReward v1.0: BLIP ViT-L/16 + med BERT (35 tokens) + MLP"
    raise ValueError(reward)


def check_versions():
    import timm
    import transformers
    assert torch.__version__.split("+")[0].startswith("2."), f"need torch 2.x (2.15.0), got {torch.__version__}"
    from open_clip.version import __version__ as open_clip_version
    assert open_clip_version == OPEN_CLIP_VERSION, f"need open_clip_torch {OPEN_CLIP_VERSION}, got {open_clip_version}"
    assert transformers.__version__ == TRANSFORMERS_VERSION, f"need transformers {TRANSFORMERS_VERSION}, got {transformers.__version__}"
    assert timm.__version__ == TIMM_VERSION, f"need timm {TIMM_VERSION}, got {timm.__version__}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rewards", default=",".join(REWARDS))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--caption-tokens", type=int, default=20, help="tokens per caption, start and end included")
    ap.add_argument("--size", default="full", choices=["full", "tiny"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rewards = [r.strip() for r in args.rewards.split(",") if r.strip()]
    if not rewards or any(r not in REWARDS for r in rewards) or len(set(rewards)) != len(rewards):
        ap.error(f"--rewards: distinct names among {', '.join(REWARDS)}")
    if args.batch < 1 or args.runs < 1 or not 3 <= args.caption_tokens <= 35:
        ap.error("--batch and --runs >= 1, --caption-tokens in 3...35")
    check_versions()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    torch.manual_seed(args.seed)
    side = TINY["image_size"] if args.size == "tiny" else 224
    pixels = torch.randn(args.batch, 3, side, side)
    if not args.json:
        print(f"miro bench rewards | pytorch | threads {torch.get_num_threads()} | torch {torch.__version__} | batch "
              f"{args.batch} | size {args.size}", flush=True)
    results = {}
    for reward in rewards:
        t0 = time.perf_counter()
        run, params, detail = build(reward, args.size == "tiny")
        build_s = time.perf_counter() - t0
        with torch.inference_mode():
            t0 = time.perf_counter()
            scores = run(pixels, args.caption_tokens)
            warm = time.perf_counter() - t0
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                scores = run(pixels, args.caption_tokens)
                times.append(time.perf_counter() - t0)
        s = median(times)
        results[reward] = dict(seconds=s, runs=times, warmup_seconds=warm, build_seconds=build_s, parameters=params,
                               images_per_second=args.batch / s, detail=detail,
                               finite=bool(torch.isfinite(scores).all()), batch=args.batch)
        if not args.json:
            print(f"{reward:20s} {args.batch / s:7.2f} images/s | batch {args.batch} in {s:.3f} s (runs "
                  f"{', '.join(f'{x:.3f}' for x in times)}) | {params / 1e6:.1f}M params | {detail}", flush=True)
        del run
    if args.json:
        print(json.dumps(dict(impl="pytorch", threads=torch.get_num_threads(), torch=torch.__version__, batch=args.batch,
                              size=args.size, rewards=results, order=rewards), sort_keys=True))
    if not all(r["finite"] for r in results.values()):
        sys.exit("a reward gave a non-finite score")


if __name__ == "__main__":
    main()
