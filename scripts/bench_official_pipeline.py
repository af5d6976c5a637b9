#!/usr/bin/env python3
"""Time the OFFICIAL text-to-image stages (transformers T5 encoder, miro-t2i sampler, diffusers SDXL VAE) on CPU with
random weights, for comparison with `miro bench pipeline` (Sources/MiroCLI/Commands/BenchPipeline.swift,
Sources/MiroEval/PipelineBenchmark.swift). Prints the same lines (or, with --json, the same keys).

HOW TO RUN: scripts/bench-pipeline-vs-pytorch.sh runs both sides alternately. By hand, from the repository root:

    # PyTorch 2.15.0 (PyPI, the libtorch the Swift build links) unpacked as in scripts/bench-vs-pytorch.sh:
    #   .deps/pytorch-2.15.0-python (torch + einops 0.8.0). The other wheels, without dependencies:
    pip install --no-deps --target /tmp/pydeps-pipeline transformers==4.40.2 tokenizers==0.19.1 \
        diffusers==0.27.2 huggingface_hub==0.23.0 safetensors==0.4.3 einops==0.8.0 pillow \
        regex filelock tqdm packaging pyyaml requests importlib_metadata zipp fsspec
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/tmp/pydeps-pipeline:.deps/pytorch-2.15.0-python \
        python3 scripts/bench_official_pipeline.py --threads 2 [--stages t5,miro,vae --steps 50 --json --size tiny]

  (python3 3.11 with numpy; the pinned versions are asserted below. Debian's python3-torch 1.13 lacks
  F.scaled_dot_product_attention, which diffusers' VAE attention and miro-t2i call: this script wants torch 2.x.)

What runs (MiroPipeline.__call__ of miro-t2i 0.1.4, stage by stage, under torch.inference_mode() as there):
  t5    transformers.T5EncoderModel(T5Config(FLAN-T5-XL: vocab 32128, d_model 2048, d_kv 64, heads 32, d_ff 5120,
        24 layers, gated-gelu)) with its own random init, input_ids (1, 77) of `--prompt-tokens` real tokens
        (prompt_ids: the rule the Swift side uses) + padding, attention_mask; .last_hidden_state.float()
  miro  the official CADRINTextCond + FlowPrecond at the released size (the `miro` preset of
        Sources/MiroModels/MIROConfig.swift, scripts/bench_official_train_step.py PRESETS["miro"]) and the official
        flow_euler_sampler called exactly as MiroPipeline.__call__ calls it (B = 1, cfg_rate 7, rewards 1 / 0, the
        negative text = T5 of "</s>" alone, as uncond_embedding.npy, LinearScheduler(1, 0, clip_min=1e-9))
  vae   diffusers.AutoencoderKL(the stabilityai/sdxl-vae config) with its own random init, wrapped in the official
        VAEDecoderPostProcessing(channel_wise_normalisation=True, model_type="sdxl"): denormalise, decode, uint8
The official code is executed out of the wheel (RECORD hashes checked) by make_nn_fixtures.exec_official.
Memory: VmRSS / VmHWM of /proc/self/status; the high-water mark is reset at each stage's start by writing "5"
to /proc/self/clear_refs (as the Swift side). Models stay alive to the end, as in MiroPipeline.
"""

import argparse
import copy
import ctypes
import json
import os
import sys
import time
import warnings

import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402  (wheel lookup, RECORD checks, exec_official)

TRANSFORMERS_VERSION, DIFFUSERS_VERSION, EINOPS_VERSION = "4.40.2", "0.27.2", "0.8.0"
OFFICIAL_FILES = [
    "miro/models/networks/positional_embeddings.py",
    "miro/models/networks/transformers.py",
    "miro/models/networks/rin.py",
    "miro/models/preconditioning.py",
    "miro/models/scheduler.py",
    "miro/models/sampler.py",
    "miro/models/postprocessing.py",
]
REWARD_KEYS = ["clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score", "hpsv2_score",
               "vqa_score", "sciscore_score"]
COMMON = dict(num_input_channels=4, coherence_keys=REWARD_KEYS, coherence_dropout=0.0, dropout_strategy="binomial",
              compute_dropout=0.0, rw_stochastic_depth=0.0, compute_stochastic_depth=0.0, use_cond_rin_block=True,
              concat_cond_token_to_latents=False, use_self_conditioning=True)

# The sizes of PipelineBenchmark.Options.full / .tiny (Swift).
SIZES = {
    "full": dict(
        t5=dict(vocab_size=32128, d_model=2048, d_kv=64, d_ff=5120, num_layers=24, num_decoder_layers=24, num_heads=32,
                relative_attention_num_buckets=32, relative_attention_max_distance=128, layer_norm_epsilon=1e-6,
                feed_forward_proj="gated-gelu", tie_word_embeddings=False),
        network=dict(data_size=32, data_dim=512, num_latents=256, latents_dim=1024, label_dim=2048, num_cond_tokens=77,
                     num_processing_layers=4, num_blocks=4, patch_size=2, read_write_heads=16, compute_heads=32,
                     latent_mlp_multiplier=4, data_mlp_multiplier=4, num_text_registers=16),
        vae=dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32, sample_size=1024),
        max_text_len=77, prompt_tokens=40, steps=50, t5_runs=3, vae_runs=3, miro_warmup_steps=2),
    "tiny": dict(
        t5=dict(vocab_size=64, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
                relative_attention_max_distance=16, layer_norm_epsilon=1e-6, feed_forward_proj="gated-gelu",
                tie_word_embeddings=False),
        network=dict(data_size=8, data_dim=16, num_latents=8, latents_dim=32, label_dim=32, num_cond_tokens=16,
                     num_processing_layers=1, num_blocks=1, patch_size=2, read_write_heads=2, compute_heads=2,
                     latent_mlp_multiplier=2, data_mlp_multiplier=2, num_text_registers=2),
        vae=dict(block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8, sample_size=16),
        max_text_len=12, prompt_tokens=7, steps=3, t5_runs=2, vae_runs=2, miro_warmup_steps=1),
}


def prompt_ids(real_tokens, length, vocab_size):
    """PipelineBenchmark.promptIDs: real_tokens - 1 pieces 3 + (7919 (i + 1) mod (vocab - 131)), </s> (1), pad (0)."""
    span = max(1, vocab_size - 131)
    ids = [3 + (7919 * (i + 1)) % span for i in range(real_tokens - 1)] + [1]
    mask = [1] * len(ids) + [0] * (length - len(ids))
    return ids + [0] * (length - len(ids)), mask


# --------------------------------------------------------------------------- memory
def memory():
    """(VmRSS, VmHWM) in MiB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap_free_mb():
    """Free bytes glibc's malloc holds in all its arenas (mallinfo2 fordblks), MiB; 0 where unknown."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        return libc.mallinfo2().fordblks / 1048576
    except (OSError, AttributeError):
        return 0.0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def median(values):
    return sorted(values)[len(values) // 2]  # the upper median, as the Swift side


def timed(warmups, runs, body):
    warm = 0.0
    for _ in range(warmups):
        t0 = time.perf_counter()
        body()
        warm += time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        body()
        times.append(time.perf_counter() - t0)
    return warm, times


def count(*modules):
    seen, n = set(), 0
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
    return n


# --------------------------------------------------------------------------- stages
def run_t5(args, size, keep):
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    model = T5EncoderModel(T5Config(**size["t5"])).eval()
    model.requires_grad_(False)
    build = time.perf_counter() - t0
    keep.append(model)
    length = size["max_text_len"]
    ids, mask = prompt_ids(args.prompt_tokens, length, size["t5"]["vocab_size"])
    input_ids, attention_mask = torch.tensor([ids]), torch.tensor([mask])
    out = {}

    def encode():  # MiroPipeline._encode_prompts
        with torch.no_grad():
            emb = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        out["emb"] = emb.float()

    warm, runs = timed(1, args.t5_runs, encode)
    with torch.no_grad():  # the empty prompt's embedding: T5 of "</s>" alone, (1, d_model) as uncond_embedding.npy
        uncond = model(input_ids=torch.tensor([[1]])).last_hidden_state[0].float()
    params = count(model)
    detail = (f"T5 encoder d_model {size['t5']['d_model']}, {size['t5']['num_layers']} layers, {params / 1e6:.2f}M params "
              f"| 1×{length} tokens ({args.prompt_tokens} real)")
    result = dict(detail=detail, params=params, build_seconds=build, warmup_seconds=warm, runs=runs,
                  finite=bool(torch.isfinite(out["emb"]).all()))
    return result, (out["emb"], attention_mask.bool(), uncond)


def run_miro(args, size, mods, text, keep):
    R, P, S, SAMPLER = mods["rin"], mods["preconditioning"], mods["scheduler"], mods["sampler"]
    cfg = dict(COMMON, **size["network"])
    torch.manual_seed(args.seed + 1)
    t0 = time.perf_counter()
    network = R.CADRINTextCond(**cfg).eval()
    pre = P.FlowPrecond(num_latents=cfg["num_latents"], latents_dim=cfg["latents_dim"], do_normalization="noise_driven",
                        sigma_data=0.5, do_gradnorm_reweighting=True, logvar_channels=128, logvar_mlp_layers=0).eval()
    # trainable parameters (the official masks cond_mask / registers_coherence_mask / attention_mask_dummy are
    # frozen nn.Parameters; the Swift side keeps them as buffers), counted before everything is frozen
    params = sum(p.numel() for p in list(network.parameters()) + list(pre.parameters()) if p.requires_grad)
    network.requires_grad_(False)
    pre.requires_grad_(False)
    build = time.perf_counter() - t0
    keep += [network, pre]
    g = torch.Generator().manual_seed(args.seed + 2)
    length, d = size["max_text_len"], cfg["label_dim"]
    if text is None:
        _, m = prompt_ids(args.prompt_tokens, length, size["t5"]["vocab_size"])
        mask = torch.tensor([m]).bool()
        emb = torch.randn(1, length, d, generator=g) * 0.2 * mask.unsqueeze(-1).float()
        uncond = torch.randn(1, d, generator=g) * 0.2
    else:
        emb, mask, uncond = text
    x_n = torch.randn(1, cfg["num_input_channels"], cfg["data_size"], cfg["data_size"], generator=g)
    keys = [f"{k}_coherence" for k in REWARD_KEYS]
    out = {}

    def sample(steps):  # MiroPipeline.__call__, from the prompt embedding on
        b = emb.shape[0]
        batch = {"y": x_n, "previous_latents": None, "text_tokens_embeddings": emb, "text_tokens_mask": mask}
        batch.update({k: torch.full((b,), 1.0) for k in keys})
        uncond_b = uncond.unsqueeze(0).expand(b, -1, -1).contiguous()
        uncond_tokens = {"text_tokens_embeddings": uncond_b,
                         "text_tokens_mask": torch.ones(b, uncond_b.shape[1], dtype=torch.bool)}

        def ema_model(bb):
            return pre(network, bb)

        with torch.inference_mode():
            out["latents"] = SAMPLER.flow_euler_sampler(
                ema_model, copy.copy(batch), num_steps=steps,
                scheduler=S.LinearScheduler(start=1, end=0, clip_min=1e-9), conditioning_keys=["text_tokens"],
                uncond_tokens=uncond_tokens, cfg_rate=args.guidance, generator=None, coherence_keys=keys,
                coherence_values={k: 1.0 for k in keys}, uncoherence_values={k: 0.0 for k in keys}, sigma_data=0.5,
                data_mean=0.5, data_std=0.5)

    warm = 0.0
    if args.miro_warmup_steps > 0:
        warm, _ = timed(1, 0, lambda: sample(args.miro_warmup_steps))
    _, runs = timed(0, args.miro_runs, lambda: sample(args.steps))
    real = int(mask.sum())
    detail = (f"MIRO latents_dim {cfg['latents_dim']}, {cfg['num_blocks']} blocks, {params / 1e6:.2f}M params | "
              f"{args.steps} steps, CFG w {args.guidance:.1f} (batch 2), text {real}/{length} tokens")
    result = dict(detail=detail, params=params, build_seconds=build, warmup_seconds=warm, runs=runs, steps=args.steps,
                  finite=bool(torch.isfinite(out["latents"]).all()))
    return result, out["latents"]


def run_vae(args, size, mods, latents, keep):
    from diffusers import AutoencoderKL

    POST = mods["postprocessing"]
    v = size["vae"]
    n = len(v["block_out_channels"])
    torch.manual_seed(args.seed + 3)
    t0 = time.perf_counter()
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=v["block_out_channels"],
                        layers_per_block=v["layers_per_block"], act_fn="silu", latent_channels=4,
                        norm_num_groups=v["norm_num_groups"], sample_size=v["sample_size"], scaling_factor=0.13025,
                        force_upcast=True).eval()
    post = POST.VAEDecoderPostProcessing(vae=vae, channel_wise_normalisation=True, model_type="sdxl").eval()
    build = time.perf_counter() - t0
    keep.append(post)
    side = size["network"]["data_size"]
    x = latents if latents is not None else torch.randn(1, 4, side, side, generator=torch.Generator().manual_seed(args.seed + 4))
    out = {}

    def decode():
        with torch.inference_mode():
            out["images"] = post(x)  # numpy uint8 (B, H, W, 3)

    warm, runs = timed(1, args.vae_runs, decode)
    params = count(vae)
    detail = (f"AutoencoderKL blocks {list(v['block_out_channels'])}, {params / 1e6:.2f}M params | 1×4×{side}×{side} latent "
              f"→ {list(out['images'].shape)} uint8")
    return dict(detail=detail, params=params, build_seconds=build, warmup_seconds=warm, runs=runs, finite=True)


# --------------------------------------------------------------------------- output
def stage_line(name, r):
    runs = ", ".join(f"{t:.3f}" for t in r["runs"])
    s = (f"stage | {name} | {r['detail']} | build {r['build_seconds']:.1f} s | warm-up {r['warmup_seconds']:.1f} s | "
         f"runs {runs} s | median {r['seconds']:.3f} s")
    if "steps" in r:
        s += f" ({r['seconds'] / r['steps']:.3f} s/step)"
    s += (f" | RSS {r['rss_growth_mb']:+.0f} MB ({r['rss_after_mb']:.0f} after, {r['heap_free_mb']:.0f} of it freed heap) | "
          f"peak {r['peak_mb']:.0f} MB "
          f"({r['peak_growth_mb']:+.0f})" + ("" if r["finite"] else " | NON-FINITE OUTPUT"))
    return s


def check_versions():
    import diffusers
    import einops
    import transformers

    assert torch.__version__.split("+")[0].startswith("2."), f"need torch 2.x (2.15.0), got {torch.__version__}"
    assert transformers.__version__ == TRANSFORMERS_VERSION, f"need transformers {TRANSFORMERS_VERSION}, got {transformers.__version__}"
    assert diffusers.__version__ == DIFFUSERS_VERSION, f"need diffusers {DIFFUSERS_VERSION}, got {diffusers.__version__}"
    assert einops.__version__ == EINOPS_VERSION, f"need einops {EINOPS_VERSION}, got {einops.__version__}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stages", default="t5,miro,vae")
    ap.add_argument("--steps", type=int, default=None, help="Euler steps (default: 50; tiny: 3)")
    ap.add_argument("--t5-runs", type=int, default=None)
    ap.add_argument("--vae-runs", type=int, default=None)
    ap.add_argument("--miro-runs", type=int, default=1)
    ap.add_argument("--miro-warmup-steps", type=int, default=None)
    ap.add_argument("--prompt-tokens", type=int, default=None)
    ap.add_argument("--guidance", type=float, default=7.0)
    ap.add_argument("--size", default="full", choices=sorted(SIZES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: OMP_NUM_THREADS, else half the cores, as the Swift side)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--wheel", default=None)
    args = ap.parse_args()
    size = SIZES[args.size]
    for k in ("steps", "t5_runs", "vae_runs", "miro_warmup_steps", "prompt_tokens"):
        if getattr(args, k) is None:
            setattr(args, k, size[k])
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if not stages or any(s not in ("t5", "miro", "vae") for s in stages) or len(set(stages)) != len(stages):
        ap.error("--stages: distinct names among t5, miro, vae")
    if not 1 <= args.prompt_tokens <= size["max_text_len"] or min(args.steps, args.t5_runs, args.vae_runs, args.miro_runs) < 1:
        ap.error("--prompt-tokens in 1..77, --steps and run counts >= 1")
    check_versions()
    threads = args.threads
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(threads)
    # The official sampler enters torch.amp.autocast(device_type="cuda") on every step; without CUDA torch disables
    # it with a warning (fp32 as the Swift side).
    warnings.filterwarnings("ignore", message=".*CUDA is not available.*")
    warnings.filterwarnings("ignore", message=".*autocast.*")
    mods = nnfx.exec_official(nnfx.find_wheel(args.wheel), OFFICIAL_FILES)[0]

    if not args.json:
        print(f"miro bench pipeline | pytorch | threads {torch.get_num_threads()} | torch {torch.__version__} | stages "
              f"{','.join(stages)} | size {args.size}", flush=True)
    keep, results = [], {}
    _, process_peak = memory()
    per_stage = True
    text = latents = None
    for name in stages:
        rss_before, hwm = memory()
        process_peak = max(process_peak, hwm)
        per_stage = reset_peak() and per_stage
        if name == "t5":
            r, text = run_t5(args, size, keep)
        elif name == "miro":
            r, latents = run_miro(args, size, mods, text, keep)
        else:
            r = run_vae(args, size, mods, latents, keep)
        rss_after, peak = memory()
        process_peak = max(process_peak, peak)
        r.update(seconds=median(r["runs"]), rss_before_mb=rss_before, rss_after_mb=rss_after,
                 rss_growth_mb=rss_after - rss_before, peak_mb=peak, peak_growth_mb=peak - rss_before,
                 heap_free_mb=heap_free_mb())
        if "steps" in r:
            r["seconds_per_step"] = r["seconds"] / r["steps"]
        results[name] = r
        if not args.json:
            print(stage_line(name, r), flush=True)
    if args.json:
        print(json.dumps(dict(impl="pytorch", threads=torch.get_num_threads(), torch=torch.__version__,
                              peak_rss_mb=process_peak, peak_is_per_stage=per_stage, stages=results, order=stages,
                              size=args.size), sort_keys=True))
    else:
        parts = " | ".join(f"{n} {results[n]['seconds']:.3f} s" for n in stages)
        print(f"result | pytorch | {parts} | peak RSS {process_peak:.0f} MB"
              + ("" if per_stage else " (stage peaks are process peaks so far)"))
    if not all(r["finite"] for r in results.values()):
        sys.exit("a stage produced non-finite values (see the lines above)")


if __name__ == "__main__":
    main()
