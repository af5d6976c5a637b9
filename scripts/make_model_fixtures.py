#!/usr/bin/python3
"""Generate float64 reference fixtures for the Swift port of the MIRO network, preconditioning,
loss and Euler CFG sampler (Sources/MiroModels).

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    pip download --no-deps miro-t2i==0.1.4 -d /tmp/wheels      # only if the wheel is not there yet
    pip install --no-deps --target /tmp/pydeps einops==0.8.0    # pure-python wheel, any pip works
    PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/make_model_fixtures.py \
        --wheel /tmp/wheels/miro_t2i-0.1.4-py3-none-any.whl

  * Same interpreter and pinned versions as scripts/make_nn_fixtures.py (python3-torch 1.13.1,
    numpy 1.24.2, einops 0.8.0; asserted), whose helpers (version checks, SDPA reference, wheel
    lookup, hand-written safetensors writer/reader) are reused.
  * The official code is executed straight out of the wheel (RECORD hashes checked): the files
    positional_embeddings.py, transformers.py, rin.py, preconditioning.py, scheduler.py, loss.py
    and sampler.py, as modules of stub packages (miro/__init__.py is not run: it imports the
    pipeline, which needs PIL/diffusers). No MIRO code is copied into this repository.
  * Output: Tests/MiroModelsTests/Fixtures/miro_small.safetensors (override with --out DIR).
    Deterministic: re-running reproduces the file byte for byte.

What runs in float64, and the four patches needed for that (all documented in the metadata):
  1. torch 1.13 lacks F.scaled_dot_product_attention: the float64 math reference of
     make_nn_fixtures.py is installed.
  2. The official RMSNorm computes in float32 (x.float()). The outputs named `*` are computed with
     RMSNorm evaluated in float64 (the Swift RMSNorm does that for float64 input); one extra output,
     forward.eval.out_official_rmsnorm, keeps the official float32 round trip.
  3. CADRINTextCond.cond_mapping does `text_tokens_embeddings.float()` (float32) and FlowPrecond fills
     missing previous latents with float32 zeros; forward pre-hooks on map_text_tokens and
     ln_previous_1 cast their input to float64 after that (text inputs are float32-representable, so
     nothing is lost; the Swift port does the same .float() rounding).
  4. The sampler keeps x in float32 (`batch["y"].to(torch.float32)`, gammas in float32) and returns
     x.to(float32). The callable passed as `net` casts y, gamma, text, rewards and previous latents
     to float64 before calling FlowPrecond (the initial noise is drawn in float32, so after the first
     step the official state is float64). The trajectory is recorded before the final float32 cast.

Fixture schema (all F64 unless noted; masks BOOL):
  param.network.<key>, param.preconditioning.<key>   full state dicts, ALL float params randomised
  forward.*   network forward (eval and train mode), with / without previous latents
  precond.*   FlowPrecond(network, batch, return_logvar=True)
  loss.*      FlowMatchingLoss on fixed draws (t, noise, self-conditioning keep mask), plus gradients
  dropout.*   create_coherence_dropout_mask draws (torch global RNG, torch.manual_seed(seed))
  sampler.<case>.*   flow_euler_sampler runs (4 steps) from fixed float32 noise: cfg (w 7, 1-token
              negative text), cfg_long_negative (w 2, 7-token negative), unguided (w 0). No guidance
              window / linear-guidance case: the official sampler crashes on any switch between guided
              and unguided steps (metadata cases.notes.sampler_window).
  Scalars (losses) are stored with shape [1].
  __metadata__: config (official config.json layout: network / preconditioning / scheduler /
                coherence_keys / sampler_defaults / ...), cases (JSON describing every case),
                generator (script, versions, hashes)
"""

import argparse
import copy
import hashlib
import json
import os
import sys
import types
import zipfile

import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402  (version checks, SDPA reference, safetensors I/O)

SCRIPT = "scripts/make_model_fixtures.py"
SEED = 2026
REPO_ROOT = os.path.dirname(SCRIPTS)
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroModelsTests", "Fixtures")
OFFICIAL_FILES = [
    "miro/models/networks/positional_embeddings.py",
    "miro/models/networks/transformers.py",
    "miro/models/networks/rin.py",
    "miro/models/preconditioning.py",
    "miro/models/scheduler.py",
    "miro/models/loss.py",
    "miro/models/sampler.py",
]

REWARD_KEYS = ["clip_score", "aesthetic_score", "hpsv2_score"]
NETWORK = dict(
    data_size=8, data_dim=8, num_input_channels=4, num_latents=8, latents_dim=16, label_dim=24,
    num_cond_tokens=77, num_processing_layers=1, num_blocks=2, patch_size=2, read_write_heads=2,
    compute_heads=4, latent_mlp_multiplier=4, data_mlp_multiplier=4, compute_dropout=0.0,
    rw_stochastic_depth=0.0, compute_stochastic_depth=0.0, num_text_registers=4,
    coherence_keys=REWARD_KEYS, coherence_dropout=0.0, dropout_strategy="binomial",
    use_cond_rin_block=True, concat_cond_token_to_latents=False, use_self_conditioning=True,
)
PRECOND = dict(num_latents=8, latents_dim=16, do_normalization=True, sigma_data=0.5,
               do_gradnorm_reweighting=True, logvar_channels=128, logvar_mlp_layers=0)
# The layout scripts/convert_and_upload_to_hf.py writes (build_clean_config) and pipeline.py reads.
CONFIG_JSON = {
    "network": NETWORK,
    "preconditioning": PRECOND,
    "data_preprocessing": {"input_key_mean": "vae_embeddings_mean_64", "input_key_std": "vae_embeddings_std_64",
                           "output_key_root": "x_0", "vae_sample": True, "channel_wise_normalisation": True,
                           "model_type": "sdxl"},
    "postprocessing": {"channel_wise_normalisation": True, "model_type": "sdxl"},
    "scheduler": {"start": 1, "end": 0, "clip_min": 1e-9},
    "coherence_keys": REWARD_KEYS,
    "sampler_defaults": {"num_steps": 4, "guidance_scale": 7.0, "sigma_data": 0.5},
    "data_resolution": 8,
    "img_resolution": 64,
    "max_text_len": 5,
    "model_type": "sdxl",
    "vae_repo": "stabilityai/sdxl-vae",
    "text_encoder_repo": "google/flan-t5-xl",
}
GRAD_KEYS = [
    "network.map_tokens_to_patches.1.weight", "network.ln_previous_2.weight",
    "network.coherence_positional_embedding", "network.time_embedder.map_time_input.bias",
    "network.rin_blocks.0.retrieve_cond.ca.q.weight", "network.text_registers",
    "preconditioning.logvar_proj.1.weight",
]


# --------------------------------------------------------------------------- official code
def load_official(wheel_path):
    torch.nn.functional.scaled_dot_product_attention = nnfx.sdpa_reference
    return nnfx.exec_official(wheel_path, OFFICIAL_FILES)


# --------------------------------------------------------------------------- helpers
def f32(t):
    """float32-representable float64 values (inputs that the official code rounds to float32)."""
    return t.to(torch.float32).to(torch.float64)


def cast64(_module, args):
    return tuple(a.to(torch.float64) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)


def to64(v):
    if torch.is_tensor(v) and v.is_floating_point():
        return v.to(torch.float64)
    return v


def reward_batch(rewards):
    return {f"{k}_coherence": rewards[:, i] for i, k in enumerate(REWARD_KEYS)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch_v, deb_v, einops_v = nnfx.check_versions()
    torch.set_default_dtype(torch.float64)
    mods, wheel_sha, src_hashes = load_official(nnfx.find_wheel(args.wheel))
    T, R, P = mods["transformers"], mods["rin"], mods["preconditioning"]
    S, L, SM = mods["scheduler"], mods["loss"], mods["sampler"]
    os.makedirs(args.out, exist_ok=True)
    tensors, cases = {}, {}

    def put(name, t):
        t = t.detach().clone()
        if t.dim() == 0:  # the shared writer stores 0-d arrays as shape [1] (np.ascontiguousarray); be explicit
            t = t.reshape(1)
        assert t.dtype in (torch.float64, torch.bool), (name, t.dtype)
        assert name not in tensors, name
        tensors[name] = t

    def gen(i):
        return torch.Generator().manual_seed(SEED + i)

    # ---- model: official constructors, then every float parameter randomised
    torch.manual_seed(SEED)
    net = R.CADRINTextCond(**NETWORK).double()
    pre = P.FlowPrecond(**PRECOND).double()
    nnfx.randomise_params(net, gen(1))
    nnfx.randomise_params(pre, gen(2))
    net.map_text_tokens.register_forward_pre_hook(cast64)
    net.ln_previous_1.register_forward_pre_hook(cast64)
    for k, v in net.state_dict().items():
        put(f"param.network.{k}", v)
    for k, v in pre.state_dict().items():
        put(f"param.preconditioning.{k}", v)
    n_params = sum(p.numel() for p in net.parameters() if p.dtype != torch.bool)
    rms64 = lambda: nnfx.rmsnorm_in_float64(T)  # noqa: E731

    # ---- (a) network forward
    g = gen(3)
    B, N = 2, 5
    x = torch.randn(B, 4, 8, 8, generator=g)
    gamma = torch.tensor([0.3, 0.85])
    text = f32(torch.randn(B, N, 24, generator=g))
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    rewards = torch.tensor([[0.2, float("nan"), 1.0], [0.75, 0.0, 0.4]])
    prev = 0.5 * torch.randn(B, 8, 16, generator=g)
    base = {"y": x, "gamma": gamma, "text_tokens_embeddings": text, "text_tokens_mask": mask}
    for k, v in [("x", x), ("gamma", gamma), ("text", text), ("text_mask", mask), ("rewards", rewards),
                 ("previous_latents", prev)]:
        put(f"forward.input.{k}", v)
    with torch.no_grad():
        net.eval()
        with rms64():
            out, z = net({**base, **reward_batch(rewards), "previous_latents": prev})
            out0, z0 = net({**base, **reward_batch(rewards), "previous_latents": None})
            # a missing key at inference = NaN value: both give a zero reward embedding
            partial = {**base, **reward_batch(rewards), "previous_latents": prev}
            del partial["aesthetic_score_coherence"]
            both_nan = rewards.clone()
            both_nan[1, 1] = float("nan")
            o_missing, _ = net(partial)
            o_nan, _ = net({**base, **reward_batch(both_nan), "previous_latents": prev})
            assert torch.equal(o_missing, o_nan)
            net.train()
            out_train, z_train = net({**base, **reward_batch(rewards), "previous_latents": prev})
            net.eval()
        out_official, _ = net({**base, **reward_batch(rewards), "previous_latents": prev})
    # train mode replaces NaN by the value 0.0 (embedded); eval mode zeroes the embedding
    assert torch.equal(out_train[1], out[1]) and not torch.allclose(out_train[0], out[0])
    assert 0 < (out_official - out).abs().max() < 1e-5
    for k, v in [("eval.out", out), ("eval.latents", z), ("eval_no_previous.out", out0),
                 ("eval_no_previous.latents", z0), ("train.out", out_train), ("train.latents", z_train),
                 ("eval.out_official_rmsnorm", out_official)]:
        put(f"forward.{k}", v)
    cases["forward"] = ("network(batch) with batch = y: input.x, gamma: input.gamma, text_tokens_embeddings: "
                        "input.text, text_tokens_mask: input.text_mask, <key>_coherence: input.rewards[:, i] "
                        "(NaN = missing), previous_latents: input.previous_latents (eval, eval_no_previous: None, "
                        "train: network.train() with coherence_dropout 0.0). Outputs (x, z).")

    # ---- (b) preconditioning
    with torch.no_grad(), rms64():
        net.eval()
        F1, z1, lv1 = pre(net, {**base, **reward_batch(rewards), "previous_latents": prev}, return_logvar=True)
        F0, z0p, lv0 = pre(net, {**base, **reward_batch(rewards)}, return_logvar=True)
    for k, v in [("out", F1), ("latents", z1), ("logvar", lv1), ("no_previous.out", F0),
                 ("no_previous.latents", z0p), ("no_previous.logvar", lv0)]:
        put(f"precond.{k}", v)
    cases["precond"] = ("FlowPrecond(network, batch, return_logvar=True) in eval mode, same batch as forward "
                        "(no_previous: previous_latents absent -> zeros). logvar shape (B,1,1,1).")

    # ---- (c) loss on fixed draws (replay the official generator to find a seed with a dropped sample)
    g = gen(4)
    BL = 3
    x0 = 0.5 * torch.randn(BL, 4, 8, 8, generator=g)
    ltext = f32(torch.randn(BL, N, 24, generator=g))
    lmask = torch.tensor([[True] * 5, [True, True, False, False, False], [True, True, True, True, False]])
    lrewards = torch.tensor([[0.1, 0.9, float("nan")], [0.5, 0.25, 1.0], [1.0, 0.0, 0.6]])
    loss_fn = L.FlowMatchingLoss(S.LinearScheduler(), None, conditioning_key="text_tokens", self_cond_rate=0.9,
                                 cond_drop_rate=0.0, do_gradnorm_reweighting=True, logit_normal_resample=True,
                                 mu_t=0.0, std_t=1.0)
    seed = SEED
    while True:
        rg = torch.Generator().manual_seed(seed)
        t_r = torch.sigmoid(torch.normal(mean=0.0, std=1.0, size=(BL,), generator=rg))
        n_r = torch.randn(x0.shape, dtype=torch.float64, generator=rg)
        u_r = torch.rand(BL, 1, 1, generator=rg)
        keep_r = (u_r > 1 - 0.9).reshape(-1)
        if not keep_r.all() and keep_r.any():
            break
        seed += 1
    recorded = []
    originals = {name: getattr(torch, name) for name in ("normal", "randn", "rand")}

    def recorder(name):
        def f(*a, **kw):
            out = originals[name](*a, **kw)
            recorded.append((name, out.detach().clone()))
            return out
        return f

    lg = torch.Generator().manual_seed(seed)
    batch = {"x_0": x0, "text_tokens_embeddings": ltext, "text_tokens_mask": lmask, **reward_batch(lrewards)}
    net.train()
    pre.train()
    net.zero_grad()
    pre.zero_grad()
    with rms64():
        for name in originals:
            setattr(torch, name, recorder(name))
        try:
            loss_el, losses = loss_fn(pre, net, None, batch, 0, generator=lg)
        finally:
            for name, fn in originals.items():
                setattr(torch, name, fn)
        loss = loss_el.mean()
        loss.backward()
    net.eval()
    pre.eval()
    assert [r[0] for r in recorded] == ["normal", "randn", "rand"], [r[0] for r in recorded]
    assert torch.equal(torch.sigmoid(recorded[0][1]), t_r) and torch.equal(recorded[1][1], n_r)
    assert torch.equal(recorded[2][1], u_r)
    for k, v in [("x0", x0), ("text", ltext), ("text_mask", lmask), ("rewards", lrewards), ("t", t_r),
                 ("noise", n_r), ("keep", keep_r), ("u", u_r.reshape(-1))]:
        put(f"loss.input.{k}", v)
    put("loss.loss", loss)
    put("loss.raw_loss", losses["raw_loss"])
    put("loss.loss_gradnorm_reweighted", losses["loss_gradnorm_reweighted"])
    put("loss.logvar", losses["logvar"])
    params = {f"network.{k}": p for k, p in net.named_parameters()}
    params.update({f"preconditioning.{k}": p for k, p in pre.named_parameters()})
    for k in GRAD_KEYS:
        put(f"loss.grad.{k}", params[k].grad)
    net.zero_grad()
    pre.zero_grad()
    cases["loss"] = dict(
        call="FlowMatchingLoss(LinearScheduler(), None, conditioning_key='text_tokens', self_cond_rate=0.9, "
             "cond_drop_rate=0.0, do_gradnorm_reweighting=True, logit_normal_resample=True)(precond, network, "
             f"None, batch, 0, generator=torch.Generator().manual_seed({seed})), network.train(); "
             "loss.loss = returned elementwise loss .mean(); loss.grad.* = grads after loss.backward()",
        draws="recorded (and asserted equal to a replay): t = sigmoid(torch.normal(0, 1, (B,), g)), "
              "noise = torch.randn(x0.shape, g), u = torch.rand(B, 1, 1, g) drawn after the self-conditioning "
              "pass; keep = u > 1 - 0.9 (latents of samples with keep False are zeroed)",
        seed=seed)

    # ---- dropout masks (official create_coherence_dropout_mask, torch global RNG)
    for strategy, p, s in (("binomial", 0.5, SEED + 10), ("binomial", 0.9, SEED + 11), ("uniform", 0.5, SEED + 12)):
        net.dropout_strategy, net.coherence_dropout = strategy, p
        torch.manual_seed(s)
        torch.set_default_dtype(torch.float32)  # as in training: ones/rand draws in float32
        try:
            m = net.create_coherence_dropout_mask(8, torch.device("cpu"))
        finally:
            torch.set_default_dtype(torch.float64)
        put(f"dropout.{strategy}_{p}", m.to(torch.float64))
        cases[f"dropout.{strategy}_{p}"] = f"torch.manual_seed({s}); create_coherence_dropout_mask(8) " \
                                          f"with dropout_strategy={strategy!r}, coherence_dropout={p}, " \
                                          "torch default dtype float32 (as in training)"
    net.dropout_strategy, net.coherence_dropout = NETWORK["dropout_strategy"], NETWORK["coherence_dropout"]

    # ---- (d) Euler CFG sampler
    gammas = S.LinearScheduler()(1 - torch.arange(5, dtype=torch.float32) / 4)
    put("sampler.gammas", gammas.to(torch.float64))
    pos = {"clip_score_coherence": 1.0, "aesthetic_score_coherence": 0.625, "hpsv2_score_coherence": 1.0}
    neg = {"clip_score_coherence": 0.0, "aesthetic_score_coherence": 0.0, "hpsv2_score_coherence": 0.25}
    # (name, batch, cfg_rate, negative-text length, negative mask, full trajectory saved)
    # Guidance windows and guidance_type="linear" are NOT fixtures: the official sampler crashes on every
    # switch between guided and unguided steps (see the "sampler_window" note below).
    sampler_cases = [
        ("cfg", 2, 7.0, 1, [True], True),
        ("cfg_long_negative", 1, 2.0, 7, [True] * 6 + [False], False),
        ("unguided", 1, 0.0, 1, [True], False),
    ]
    orig_step, orig_process = SM.FlowEulerSampler.compute_next_step, SM.Sampler.process_step
    for ci, (name, BS, w, nlen, nmask, full) in enumerate(sampler_cases):
        g = gen(20 + ci)
        noise_seed = SEED + 100 + ci
        noise = torch.randn(BS, 4, 8, 8, generator=torch.Generator().manual_seed(noise_seed), dtype=torch.float32)
        stext = f32(torch.randn(BS, N, 24, generator=g))
        smask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:BS]
        # stands in for the empty-string T5 embedding (1 token) or a "random prompt" embedding (7 tokens)
        uncond = f32(torch.randn(nlen, 24, generator=g))
        uncond_b = uncond.unsqueeze(0).expand(BS, -1, -1).contiguous()
        uncond_mask_b = torch.tensor([nmask] * BS)
        batch = {"y": noise, "previous_latents": None, "text_tokens_embeddings": stext, "text_tokens_mask": smask}
        batch.update({k: torch.full((BS,), v, dtype=torch.float32) for k, v in pos.items()})
        xs, vs = [], []

        def step_rec(self, *a, **kw):
            r = orig_step(self, *a, **kw)
            xs.append(r[0].detach().clone())
            return r

        def process_rec(self, *a, **kw):
            r = orig_process(self, *a, **kw)
            vs.append(r[0].detach().clone())
            return r

        def net_fn(b):
            return pre(net, {k: to64(v) for k, v in b.items()})

        SM.FlowEulerSampler.compute_next_step, SM.Sampler.process_step = step_rec, process_rec
        try:
            with torch.no_grad(), rms64():
                final = SM.flow_euler_sampler(
                    net_fn, copy.copy(batch), num_steps=4, scheduler=S.LinearScheduler(),
                    conditioning_keys=["text_tokens"],
                    uncond_tokens={"text_tokens_embeddings": uncond_b, "text_tokens_mask": uncond_mask_b},
                    cfg_rate=w, guidance_type="constant", guidance_start_step=0, guidance_end_step=None,
                    coherence_keys=list(pos), coherence_values=pos, uncoherence_values=neg,
                    sampling_dtype=torch.float32)
        finally:
            SM.FlowEulerSampler.compute_next_step, SM.Sampler.process_step = orig_step, orig_process
        assert len(xs) == 4 and len(vs) == 4
        assert torch.equal(final, xs[-1].to(torch.float32))
        pre_ = f"sampler.{name}."
        put(pre_ + "noise", noise.to(torch.float64))
        put(pre_ + "text", stext)
        put(pre_ + "text_mask", smask)
        put(pre_ + "negative_text", uncond_b)
        put(pre_ + "negative_text_mask", uncond_mask_b)
        put(pre_ + "x_final", xs[-1])
        if full:
            put(pre_ + "x_step0", xs[0])
            put(pre_ + "v_step0", vs[0])
        cases[f"sampler.{name}"] = dict(
            call=f"flow_euler_sampler(net, batch, num_steps=4, scheduler=LinearScheduler(), "
                 f"conditioning_keys=['text_tokens'], uncond_tokens=<negative_text, negative_text_mask>, "
                 f"cfg_rate={w}, guidance_type='constant', guidance_start_step=0, guidance_end_step=None, "
                 f"coherence_keys=<all>, coherence_values={pos}, uncoherence_values={neg}, "
                 f"sampling_dtype=torch.float32); batch as MiroPipeline builds it (rewards = coherence_values)",
            noise=f"torch.randn(({BS}, 4, 8, 8), generator=torch.Generator().manual_seed({noise_seed}), "
                  f"dtype=torch.float32)",
            x_final="x after the last Euler step (float64, before the sampler's final .to(float32))",
            x_step0="x after the first Euler step",
            v_step0="the (guided) velocity of step 0: (1+w) v(c+, s+) - w v(c-, s-)",
            negative_text_mask="cfg: 1 token, all True (as MiroPipeline builds uncond_tokens); the sampler pads "
                               "it with False to the prompt length and the embedding with zeros. "
                               "cfg_long_negative: 7 tokens, so the PROMPT embedding/mask are zero/False padded "
                               "to 7 instead. unguided: cfg_rate 0 -> conditional branch only")

    cases["notes"] = dict(
        rmsnorm="outputs computed with the official RMSNorm evaluated in float64 (see header), except "
                "forward.eval.out_official_rmsnorm",
        fourier="FourierEmbedding casts its input to float32 before outer(x, freqs) (buffers float64 here), "
                "so gamma and reward values are rounded to float32 inside the embedding",
        randomisation=nnfx.PARAM_INIT_DOC + "; Fourier buffers as sampled by the constructors "
                                            f"(torch.manual_seed({SEED}))",
        sdpa=nnfx.SDPA_DOC,
        trainable_float_params=n_params,
        sampler_window=("Sampler.sample keeps per-branch latents as a list [cond, uncond] after a guided step and "
                        "as a tensor after an unguided one. An unguided step after a guided one passes the list "
                        "as previous_latents (TypeError in the network's LayerNorm); a guided step after an "
                        "unguided one calls torch.cat(tensor, dim=0) (TypeError). So guidance_start_step > 0, "
                        "guidance_end_step < num_steps - 1 and guidance_type='linear' (weight 0 at step 0) all "
                        "crash with this self-conditioning network; only the constant full-window case runs."),
    )
    generator = (f"{SCRIPT}; torch {torch_v} (debian python3-torch {deb_v}); numpy {nnfx.np.__version__}; "
                 f"einops {einops_v}; python {sys.version.split()[0]}; miro-t2i {nnfx.MIRO_VERSION} wheel sha256 "
                 f"{wheel_sha}; sources {json.dumps(src_hashes, sort_keys=True)}")
    meta = {"config": json.dumps(CONFIG_JSON, sort_keys=True), "cases": json.dumps(cases, sort_keys=True),
            "generator": generator}
    for k, v in tensors.items():
        if v.dtype == torch.float64 and not k.startswith("forward.input.rewards") \
                and not k.startswith("loss.input.rewards"):
            assert torch.isfinite(v).all(), k
    path = os.path.join(args.out, "miro_small.safetensors")
    nnfx.write_safetensors(path, tensors, meta)

    # ---- numpy-free read-back: bit-exact, and a fresh official model loads the params strictly
    back, meta_back = nnfx.read_safetensors_pure(path)
    assert meta_back == meta and set(back) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(nnfx.to_torch(back[k]), v) or (v.isnan().any() and torch.equal(
            nnfx.to_torch(back[k]).isnan(), v.isnan())), k
    fresh = R.CADRINTextCond(**NETWORK).double().eval()
    fresh.load_state_dict({k[len("param.network."):]: nnfx.to_torch(e) for k, e in back.items()
                           if k.startswith("param.network.")}, strict=True)
    fresh.map_text_tokens.register_forward_pre_hook(cast64)
    with torch.no_grad(), rms64():
        o, _ = fresh({**base, **reward_batch(rewards), "previous_latents": prev})
    assert torch.equal(o, out)
    print(f"{path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors, {n_params} network params, "
          f"loss seed {seed}")


if __name__ == "__main__":
    main()
