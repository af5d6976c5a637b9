#!/usr/bin/python3
"""Time the OFFICIAL MIRO training step (PyTorch, miro-t2i 0.1.4) on CPU, for comparison with
`miro bench train` (Sources/MiroCLI/Commands/BenchTrain.swift, Sources/MiroTraining/TrainStepBenchmark.swift).

HOW TO RUN: scripts/bench-vs-pytorch.sh does all of it (PyTorch 2.15 from PyPI in .deps/, the miro-t2i wheel,
the release build, both presets, several alternated runs). By hand, from the repository root:

    PYTHONPATH=.deps/pytorch-2.15.0-python python3 scripts/bench_official_train_step.py \
        --preset small --batch 8 --threads 2 [--steps 5 --warmup 2 --json] [--precision bf16-mixed] \
        [--lockstep-swift .build/release/miro]

  * Engines: PyTorch 2.15.0 from PyPI (the libtorch the Swift build links: the comparison measures the two front
    ends, Swift + C shim vs Python + the official modules, on the same kernels), or Debian's python3-torch 1.13
    (reports "1.13.0a0") for the old engine. einops 0.8.0 either way (asserted).
  * The official code is executed straight out of the wheel (RECORD hashes checked), as modules of
    stub packages (miro/__init__.py is not run): networks/{positional_embeddings,transformers,rin}.py,
    preconditioning.py, scheduler.py, loss.py, utils/optimizers.py, utils/lr_scheduler.py.
    No MIRO code is copied into this repository.
  * torch >= 2 runs the official code's own F.scaled_dot_product_attention (fused on CPU), as the Swift shim does
    on libtorch 2.x; torch 1.13 lacks it, so there it is aliased to the unfused math the shim runs on 1.13
    (Sources/CTorch/ops.cpp, mt_attention).
  * --precision bf16-mixed: the forward (both passes of the loss) under torch.autocast("cpu", torch.bfloat16), as
    Lightning's "bf16-mixed"; parameters, gradients, optimizer and EMA stay float32.

What one step is (the step of DiffusionModule.training_step + Lightning's optimisation, and of the
Swift Trainer.trainStep):
  1. lr from the official WarmupCosineDecayLR.get_lr (step 0 at the base rate, as Lightning does)
  2. optimizer.zero_grad(set_to_none=True)
  3. the official FlowMatchingLoss (LinearScheduler, logit-normal t, self_cond_rate 0.9 with its
     autograd-enabled self-conditioning pass, gradnorm reweighting through FlowPrecond's logvar head,
     cond_drop_rate 0), .mean(), .item()
  4. backward
  5. NaN guard as the Swift trainer (non-finite gradient entries zeroed), clip_grad_norm_(1.0)
  6. the official Lamb (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01, decouple=False) over
     the official configure_optimizers groups (exclude_ln_and_biases_from_weight_decay: LayerNorm /
     Embedding / RMSNorm parameters and biases without decay or layer adaptation; the preconditioner's
     parameters in the decay group) — the groups Sources/MiroOptim/ParameterGroups.swift describes
  7. EMA update of every trainable parameter, ema = 0.9999*ema + 0.0001*p (the official EMA callback
     is not in the wheel; this is the Swift EMA's update)
Phases are timed like the Swift side: forward = 2+3, backward = 4, optimizer = 5+6, ema = 7.
A 1024^3 sgemm is timed 3 times before every timed step (the machine's reference).

Synthetic batch with the real-data geometry: x_0 ~ N(0, 1) of shape (B, 4, 32, 32) (SDXL latents
at 256 px), FLAN-T5-XL-like text (B, 256, 2048) (N(0, 0.2^2), zero past each sample's length) with
real-token counts 30 + (29 i mod 51) (30, 59, 37, 66, 44, 73, 51, 80 for batch 8; the Swift side uses
the same rule), 7 rewards ~ U(0, 1). Only shapes matter for timing; values are not shared with Swift.

FLOPs: matrix products only (every nn.Linear and both SDPA products), counted with forward hooks on
one forward pass, times 4 (self-conditioning forward + forward + backward ~ 2x forward): the same
convention as the Swift side's analytic count, which this count cross-checks.

Output: the same lines as `miro bench train` (`result | pytorch | ...`), or with --json one JSON
object with the same keys. With --lockstep-swift, the Swift binary runs as a subprocess in its
hidden `--lockstep` mode (model built and warmed up first; then one step per request), the two
alternate steps (Swift first on even steps, PyTorch first on odd ones), the sgemm reference is
measured here for both, and a `lockstep | Swift/PyTorch samples/s ...` line (JSON: ratio_samples_per_s,
ratio_min, ratio_max, pair_ratios, pytorch, swift) gives the per-pair ratio.
"""

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402  (pinned versions, wheel lookup and RECORD checks)

OFFICIAL_FILES = [
    "miro/models/networks/positional_embeddings.py",
    "miro/models/networks/transformers.py",
    "miro/models/networks/rin.py",
    "miro/models/preconditioning.py",
    "miro/models/scheduler.py",
    "miro/models/loss.py",
    "miro/utils/optimizers.py",
    "miro/utils/lr_scheduler.py",
]
REWARD_KEYS = ["clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score", "hpsv2_score",
               "vqa_score", "sciscore_score"]
COMMON = dict(num_input_channels=4, data_size=32, label_dim=2048, coherence_keys=REWARD_KEYS,
              coherence_dropout=0.0, dropout_strategy="binomial", compute_dropout=0.0, rw_stochastic_depth=0.0,
              compute_stochastic_depth=0.0, use_cond_rin_block=True, concat_cond_token_to_latents=False,
              use_self_conditioning=True)
# The presets of Sources/MiroModels/MIROConfig.swift (`miro bench train` uses tiny with 4 channels, label_dim 2048
# and the 7 released rewards); the parameter counts printed by both sides must agree.
PRESETS = {
    "tiny": dict(data_dim=64, num_latents=32, latents_dim=128, num_cond_tokens=16, num_processing_layers=2,
                 num_blocks=2, patch_size=4, read_write_heads=4, compute_heads=4, latent_mlp_multiplier=2,
                 data_mlp_multiplier=2, num_text_registers=4),
    "small": dict(data_dim=256, num_latents=128, latents_dim=512, num_cond_tokens=77, num_processing_layers=2,
                  num_blocks=3, patch_size=2, read_write_heads=8, compute_heads=16, latent_mlp_multiplier=4,
                  data_mlp_multiplier=4, num_text_registers=16),
    "miro": dict(data_dim=512, num_latents=256, latents_dim=1024, num_cond_tokens=77, num_processing_layers=4,
                 num_blocks=4, patch_size=2, read_write_heads=16, compute_heads=32, latent_mlp_multiplier=4,
                 data_mlp_multiplier=4, num_text_registers=16),
}
LR, WEIGHT_DECAY, CLIP, EMA_DECAY = 1e-3, 0.01, 1.0, 0.9999
WARMUP_STEPS, TOTAL_STEPS, COSINE_RATE = 100, 1000, 0.8  # TrainConfig.benchmark (no effect on the work)


# --------------------------------------------------------------------------- official code
def load_official(wheel_path):
    return nnfx.exec_official(wheel_path, OFFICIAL_FILES)[0]


FLOPS = {"on": False, "count": 0}


def sdpa_math(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """The unfused attention of the Swift shim on libtorch 1.13 (mt_attention)."""
    assert dropout_p == 0.0 and not is_causal
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    if FLOPS["on"]:
        b_h = query.numel() // (query.size(-2) * query.size(-1))
        FLOPS["count"] += 4 * b_h * query.size(-2) * key.size(-2) * query.size(-1)
    s = torch.matmul(query * scale, key.transpose(-2, -1))
    if attn_mask is not None:
        s = s.masked_fill(attn_mask.logical_not(), float("-inf"))
    p = torch.softmax(s, dim=-1)
    if attn_mask is not None:
        p = p.masked_fill(attn_mask.any(-1, keepdim=True).logical_not(), 0.0)
    return torch.matmul(p, value)


FUSED_SDPA = getattr(torch.nn.functional, "scaled_dot_product_attention", None)


def sdpa_fused(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """torch's own fused attention, counted like sdpa_math."""
    if FLOPS["on"]:
        b_h = query.numel() // (query.size(-2) * query.size(-1))
        FLOPS["count"] += 4 * b_h * query.size(-2) * key.size(-2) * query.size(-1)
    return FUSED_SDPA(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale)


def check_versions():
    tv = torch.__version__.split("+")[0]
    deb = nnfx.debian_torch_version()
    ok = tv == "2.15.0" or (tv in ("1.13.0a0", "1.13.1") and (deb or "").startswith("1.13"))
    assert ok, f"need torch 2.15.0 (PyPI) or Debian's 1.13, got {torch.__version__}"
    import einops
    assert einops.__version__ == nnfx.EINOPS_VERSION, f"need einops {nnfx.EINOPS_VERSION}, got {einops.__version__}"


def count_linear(module, inputs, output):
    if FLOPS["on"]:
        x = inputs[0]
        FLOPS["count"] += 2 * (x.numel() // module.in_features) * module.in_features * module.out_features


def median(values):
    return sorted(values)[len(values) // 2]  # the upper median, as the Swift side


# --------------------------------------------------------------------------- benchmark
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps")
    ap.add_argument("--text-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: OMP_NUM_THREADS, else half the cores, as the Swift side)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16-mixed"])
    ap.add_argument("--swift-keep-padding", action="store_true",
                    help="run the Swift step on the padded text (the official step's amount of work) instead of "
                         "cutting the padding after the batch's longest caption, as Swift training does")
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--lockstep-swift", metavar="MIRO", default=None,
                    help="path of the miro binary: run its `bench train --lockstep` beside this one, alternating "
                         "steps, and report both plus the per-pair Swift/PyTorch ratio")
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.text_tokens < 80:
        ap.error("--batch, --steps >= 1, --warmup >= 0, --text-tokens >= 80")
    check_versions()
    threads = args.threads
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(threads)

    mods = load_official(nnfx.find_wheel(args.wheel))
    if FUSED_SDPA is None:
        torch.nn.functional.scaled_dot_product_attention = sdpa_math
    else:
        torch.nn.functional.scaled_dot_product_attention = sdpa_fused
    T, R, P, S, L, O, LR_S = (mods["transformers"], mods["rin"], mods["preconditioning"], mods["scheduler"],
                              mods["loss"], mods["optimizers"], mods["lr_scheduler"])

    torch.manual_seed(args.seed)
    cfg = dict(COMMON, **PRESETS[args.preset])
    network = R.CADRINTextCond(**cfg).train()
    pre = P.FlowPrecond(num_latents=cfg["num_latents"], latents_dim=cfg["latents_dim"], do_normalization=True,
                        sigma_data=0.5, do_gradnorm_reweighting=True, logvar_channels=128,
                        logvar_mlp_layers=0).train()
    loss_fn = L.FlowMatchingLoss(S.LinearScheduler(), None, conditioning_key="text_tokens", self_cond_rate=0.9,
                                 cond_drop_rate=0.0, do_gradnorm_reweighting=True)

    # DiffusionModule.configure_optimizers with exclude_ln_and_biases_from_weight_decay
    def get_parameter_names(model, forbidden):
        result = []
        for name, child in model.named_children():
            result += [f"{name}.{n}" for n in get_parameter_names(child, forbidden)
                       if not isinstance(child, tuple(forbidden))]
        result += list(model._parameters.keys())
        return result

    wd_names = [n for n in get_parameter_names(network, [nn.LayerNorm, nn.Embedding, T.RMSNorm]) if "bias" not in n]
    groups = [
        {"params": [p for n, p in network.named_parameters() if n in wd_names] + list(pre.parameters()),
         "weight_decay": WEIGHT_DECAY, "layer_adaptation": True},
        {"params": [p for n, p in network.named_parameters() if n not in wd_names],
         "weight_decay": 0.0, "layer_adaptation": False},
    ]
    optimizer = O.Lamb(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WEIGHT_DECAY, decouple=False)
    schedule = LR_S.WarmupCosineDecayLR(optimizer, warmup_steps=WARMUP_STEPS, total_steps=TOTAL_STEPS,
                                        rate=COSINE_RATE)
    trainable = [p for p in list(network.parameters()) + list(pre.parameters()) if p.requires_grad]
    ema = [p.detach().clone() for p in trainable]
    ema_network = copy.deepcopy(network).requires_grad_(False).eval()  # handed to the loss, which ignores it
    params = sum(p.numel() for p in trainable)

    # the synthetic batch
    b, n = args.batch, args.text_tokens
    g = torch.Generator().manual_seed(args.seed + 3)
    x0 = torch.randn(b, 4, 32, 32, generator=g)
    lengths = torch.tensor([min(30 + (29 * i) % 51, n) for i in range(b)])
    mask = torch.arange(n).unsqueeze(0) < lengths.unsqueeze(1)
    text = torch.randn(b, n, 2048, generator=g) * 0.2 * mask.unsqueeze(-1).float()
    rewards = torch.rand(b, len(REWARD_KEYS), generator=g)
    batch = {"x_0": x0, "text_tokens_embeddings": text, "text_tokens_mask": mask}
    batch.update({f"{k}_coherence": rewards[:, i] for i, k in enumerate(REWARD_KEYS)})

    # FLOPs of one forward (hooks on every Linear + the SDPA products), then x4 per step
    hooks = [m.register_forward_hook(count_linear) for m in list(network.modules()) + list(pre.modules())
             if isinstance(m, nn.Linear)]
    with torch.no_grad():
        FLOPS["on"] = True
        fb = dict(batch)
        fb["y"], fb["gamma"] = x0.clone(), torch.full((b,), 0.5)
        pre(network, fb, return_logvar=True)
        FLOPS["on"] = False
    for h in hooks:
        h.remove()
    step_flops = 4 * FLOPS["count"]

    state = {"step": 0}

    def run_step():
        k = state["step"]
        lr = LR if k == 0 else schedule.get_lr(LR, k)  # Lightning: scheduler.step(global_step) after each step
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed"):
            loss, _ = loss_fn(pre, network, ema_network, dict(batch), global_step=k, generator=None)
        loss = loss.float().mean()
        loss_value = loss.item()
        t1 = time.perf_counter()
        if not math.isfinite(loss_value):
            sys.exit(f"non-finite loss at step {k}")
        loss.backward()
        t2 = time.perf_counter()
        with_grad = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if any(not bool(torch.isfinite(p.grad).all()) for p in with_grad):  # the Swift trainer's NaN guard
            for p in with_grad:
                p.grad.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
        torch.nn.utils.clip_grad_norm_(with_grad, CLIP)
        optimizer.step()
        t3 = time.perf_counter()
        with torch.no_grad():
            for e, p in zip(ema, trainable):
                e.mul_(EMA_DECAY)
                e.add_(p, alpha=1 - EMA_DECAY)
        t4 = time.perf_counter()
        state["step"] += 1
        return dict(forward=t1 - t0, backward=t2 - t1, optimizer=t3 - t2, ema=t4 - t3, total=t4 - t0, loss=loss_value)

    a, bm = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, bm)

    def sgemm():
        t0 = time.perf_counter()
        torch.mm(a, bm)
        return 2 * 1024 ** 3 / (time.perf_counter() - t0) / 1e9

    if not args.json:
        print(f"miro bench train | pytorch | preset {args.preset} | {params / 1e6:.2f}M params | batch {b} | "
              f"text {n} tokens (30-80 real) | {len(REWARD_KEYS)} rewards | threads {torch.get_num_threads()} | "
              f"torch {torch.__version__} | {args.precision}")
    swift = start_swift(args, threads) if args.lockstep_swift else None
    for i in range(args.warmup):
        t = run_step()
        if not args.json:
            print(f"warmup {i + 1}: {t['total'] * 1000:.1f} ms")
    timings, swift_timings, gemm = [], [], []
    for i in range(args.steps):
        gemm += [sgemm() for _ in range(3)]
        # with --lockstep-swift the two alternate step by step (ABBA), so load from elsewhere hits both alike
        if swift and i % 2 == 0:
            swift_timings.append(swift.step())
        t = run_step()
        timings.append(t)
        if swift and i % 2 == 1:
            swift_timings.append(swift.step())
        if not args.json:
            print(f"step {i + 1}: {t['total'] * 1000:.1f} ms (forward {t['forward'] * 1000:.1f}, backward "
                  f"{t['backward'] * 1000:.1f}, optimizer {t['optimizer'] * 1000:.1f}, ema {t['ema'] * 1000:.1f}) "
                  f"loss {t['loss']:.4f}" + (f" | swift {swift_timings[-1]['total'] * 1000:.1f} ms" if swift else ""))

    common = dict(preset=args.preset, batch=b, text_tokens=n, sgemm=median(gemm))
    result = summarize("pytorch", timings, flops=step_flops, params=params, threads=torch.get_num_threads(), **common)
    results = [result]
    if swift:
        swift.close()
        results.append(summarize("swift", swift_timings, flops=swift.ready["gflop_per_step"] * 1e9,
                                 params=swift.ready["params"], threads=swift.ready["threads"], **common))
        pair = sorted(tp["total"] / ts["total"] for tp, ts in zip(timings, swift_timings))
        lock = {"ratio_samples_per_s": median(pair), "ratio_min": pair[0], "ratio_max": pair[-1],
                "pair_ratios": pair, "swift_text_padding": swift.ready.get("text_padding", "kept"),
                "note": "Swift samples/s over PyTorch samples/s, per alternated step pair"}
    if args.json:
        extra = dict(torch=torch.__version__, precision=args.precision, warmup=args.warmup, steps=args.steps, real_tokens=[30, 80],
                     rewards=len(REWARD_KEYS))
        for r in results:
            r.update(extra)
        print(json.dumps(dict(lock, pytorch=results[0], swift=results[1]) if swift else results[0], sort_keys=True))
    else:
        for r in results:
            print(f"result | {r['impl']} | {r['preset']} | batch {b} | threads {r['threads']} | {r['step_ms']:.1f} ms/step "
                  f"(min {r['step_ms_min']:.1f}, max {r['step_ms_max']:.1f}) | {r['samples_per_s']:.2f} samples/s | "
                  f"{r['gflops']:.1f} GFLOP/s ({r['gflop_per_step']:.1f} GFLOP/step) | sgemm {r['sgemm_gflops']:.1f} GFLOP/s | "
                  f"ratio {r['ratio']:.3f}")
            print(f"phases (medians) | forward {r['forward_ms']:.1f} ms | backward {r['backward_ms']:.1f} ms | "
                  f"optimizer {r['optimizer_ms']:.1f} ms | ema {r['ema_ms']:.1f} ms")
        if swift:
            print(f"lockstep | Swift/PyTorch samples/s {lock['ratio_samples_per_s']:.3f} (min {lock['ratio_min']:.3f}, "
                  f"max {lock['ratio_max']:.3f} over {len(pair)} alternated step pairs; Swift text padding "
                  f"{lock['swift_text_padding']})")


def summarize(impl, timings, flops, params, threads, preset, batch, text_tokens, sgemm):
    totals = [t["total"] for t in timings]
    step = median(totals)
    gflops = flops / step / 1e9
    return {
        "impl": impl, "preset": preset, "batch": batch, "text_tokens": text_tokens, "threads": threads,
        "params": params, "step_ms": step * 1000, "step_ms_min": min(totals) * 1000,
        "step_ms_max": max(totals) * 1000, "step_ms_all": [x * 1000 for x in totals], "samples_per_s": batch / step,
        "gflop_per_step": flops / 1e9, "gflops": gflops, "sgemm_gflops": sgemm, "ratio": gflops / sgemm,
        "forward_ms": median([t["forward"] for t in timings]) * 1000,
        "backward_ms": median([t["backward"] for t in timings]) * 1000,
        "optimizer_ms": median([t["optimizer"] for t in timings]) * 1000,
        "ema_ms": median([t["ema"] for t in timings]) * 1000,
    }


class SwiftLockstep:
    """`miro bench train --lockstep` as a subprocess: one step per request (see BenchTrain.swift)."""

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.ready = self._read()
        assert self.ready.get("ready"), self.ready

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the Swift benchmark exited (status {self.proc.wait()})")
        return json.loads(line)

    def step(self):
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        r = self._read()
        return {k[:-3]: v / 1000 for k, v in r.items() if k.endswith("_ms")} | {"loss": r["loss"]}

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait()


def start_swift(args, threads):
    cmd = [args.lockstep_swift, "bench", "train", "--preset", args.preset, "--batch", str(args.batch),
           "--warmup", str(args.warmup), "--text-tokens", str(args.text_tokens), "--threads", str(threads),
           "--seed", str(args.seed), "--json", "--lockstep"]
    cmd[-2:-2] = ["--precision", args.precision]
    if args.swift_keep_padding:
        cmd[-2:-2] = ["--keep-padding"]
    return SwiftLockstep(cmd)


if __name__ == "__main__":
    main()
