#!/usr/bin/python3
"""Check that a folder written by `miro export` (or any official-layout folder) loads in the OFFICIAL code.

HOW TO RUN (from the repository root; same interpreter, pinned versions and stubs as
scripts/make_release_fixtures.py, whose helpers are reused):

    PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/check_export.py DIR [--variant NAME] [--steps 2]
        [--text-embedding E.npy --seed S --guidance W --compare-latents L.npy]

What it does:
  1. `MiroPipeline.from_pretrained(DIR, variant=NAME)` from the miro-t2i 0.1.4 wheel: config.json is read as the
     pipeline reads it, network and preconditioning are loaded with strict=True (any missing / unexpected /
     mis-shaped key raises), data_preprocessing / postprocessing with strict=False (reported here).
  2. Prints a report: files, tensor counts and dtypes per prefix, parameter count, the keys the non-strict loads
     left missing or unexpected (must be none), reward keys, the unconditional embedding.
  3. Unless --steps 0: a guided sample as MiroPipeline.__call__ runs it (text from --text-embedding, else a random
     5-token embedding; stub T5 encoder as in the fixture script). The official pipeline hard-codes 4 latent
     channels (torch.randn(B, 4, res, res)); for pixel models (Shapes exports, 3 channels) the script instead calls
     the official flow_euler_sampler exactly as __call__ does, with C-channel noise.
  4. With --compare-latents L.npy (from `miro sample --checkpoint DIR --text-embedding E.npy --seed S --steps N
     --guidance W --save-latents L.npy`): the max |difference| between the official latents and ours.
Exit status 0 when everything loads strictly (and the comparison, if any, is within --tolerance).
"""

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402
import make_release_fixtures as rfx  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--variant", default=None)
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--steps", type=int, default=2, help="sample steps (0: no sample)")
    ap.add_argument("--guidance", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=1, help="num_images_per_prompt")
    ap.add_argument("--text-embedding", default=None)
    ap.add_argument("--compare-latents", default=None)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args()
    nnfx.check_versions()
    import safetensors
    from safetensors import safe_open
    assert safetensors.__version__ == rfx.SAFETENSORS_VERSION
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    StubVAE = rfx.install_stubs()
    rfx.install_torch113_shims()
    mods, _, _ = rfx.load_official(nnfx.find_wheel(args.wheel))
    PIPE, SM = mods["pipeline"], mods["sampler"]

    base = os.path.join(args.folder, args.variant) if args.variant else args.folder
    print(f"folder: {base}")
    for name in ("config.json", "model.safetensors", "uncond_embedding.npy"):
        p = os.path.join(base, name)
        print(f"  {name}: {os.path.getsize(p) if os.path.exists(p) else 'MISSING'} bytes")
    with open(os.path.join(base, "config.json")) as f:
        config = json.load(f)
    extra = [k for k in config if k not in ("network", "preconditioning", "data_preprocessing", "postprocessing",
                                            "scheduler", "coherence_keys", "sampler_defaults", "data_resolution",
                                            "img_resolution", "max_text_len", "model_type", "vae_repo",
                                            "text_encoder_repo")]
    print(f"  config.json keys: {list(config)}" + (f" (extra, ignored by the pipeline: {extra})" if extra else ""))

    # 1. the real loader (strict=True for network and preconditioning)
    pipe = PIPE.MiroPipeline.from_pretrained(args.folder, variant=args.variant)
    print("MiroPipeline.from_pretrained: OK (network and preconditioning loaded with strict=True)")

    # 2. report
    with safe_open(os.path.join(base, "model.safetensors"), "pt") as f:
        keys = list(f.keys())
        dtypes = {}
        for k in keys:
            prefix = k.split(".", 1)[0]
            dtypes.setdefault(prefix, {})
            dt = str(f.get_slice(k).get_dtype())
            dtypes[prefix][dt] = dtypes[prefix].get(dt, 0) + 1
    state = {k: v for k, v in __import__("safetensors.torch", fromlist=["load_file"]).load_file(
        os.path.join(base, "model.safetensors")).items()}
    ok = True
    for prefix, module in (("network", pipe.network), ("preconditioning", pipe.preconditioning)):
        want = set(module.state_dict())
        have = {k[len(prefix) + 1:] for k in keys if k.startswith(prefix + ".")}
        missing, unexpected = sorted(want - have), sorted(have - want)
        ok &= not missing and not unexpected
        print(f"  {prefix}.*: {len(have)} tensors {dtypes.get(prefix)}; missing {missing}; unexpected {unexpected}")
    for prefix, module in (("data_preprocessing", pipe.data_preprocessing), ("postprocessing", pipe.postprocessing)):
        sub = {k[len(prefix) + 1:]: v for k, v in state.items() if k.startswith(prefix + ".")}
        if prefix == "postprocessing":
            sub = {k: v for k, v in sub.items() if not k.startswith("vae.")}
            own = {k: v for k, v in module.state_dict().items() if not k.startswith("vae.")}
        else:
            own = module.state_dict()
        missing, unexpected = sorted(set(own) - set(sub)), sorted(set(sub) - set(own))
        ok &= not missing and not unexpected
        values = {k: [round(float(x), 6) for x in v.flatten()] for k, v in module.state_dict().items() if k in ("scale", "bias")}
        print(f"  {prefix}.*: {len(sub)} tensors {dtypes.get(prefix)}; missing {missing}; unexpected {unexpected}; {values}")
    others = sorted({k.split(".", 1)[0] for k in keys} - {"network", "preconditioning", "data_preprocessing", "postprocessing"})
    ok &= not others
    print(f"  other prefixes: {others}")
    n_params = sum(p.numel() for p in pipe.network.parameters() if p.is_floating_point())
    print(f"  network: {n_params} float parameters; input channels {config['network']['num_input_channels']}; "
          f"data_resolution {config['data_resolution']}; reward keys {list(pipe.coherence_keys)}")
    print(f"  uncond_embedding: {tuple(pipe.uncond_embedding.shape)} {pipe.uncond_embedding.dtype}")
    print(f"strict key check: {'PASS' if ok else 'FAIL'}")

    # 3. sample
    if args.steps > 0:
        label_dim = config["network"]["label_dim"]
        if args.text_embedding:
            emb = np.load(args.text_embedding).astype(np.float32)
            emb = emb[0] if emb.ndim == 3 else emb
        else:
            emb = torch.randn(5, label_dim, generator=torch.Generator().manual_seed(args.seed + 1)).numpy()
        emb = torch.from_numpy(emb)
        rfx.N_TOKENS = emb.shape[0]
        pipe.tokenizer, pipe.text_encoder = rfx.StubTokenizer(), rfx.StubEncoder(emb)
        channels = config["network"]["num_input_channels"]
        gen = torch.Generator().manual_seed(args.seed)
        captured = []
        if channels == 4:
            pipe.postprocessing.register_forward_pre_hook(lambda _m, a: captured.append(a[0].detach().clone()))
            pipe("check", num_inference_steps=args.steps, guidance_scale=args.guidance,
                 num_images_per_prompt=args.n, generator=gen, output_type="numpy")
            latents = captured[0]
            how = "MiroPipeline.__call__"
        else:
            # MiroPipeline.__call__ with torch.randn(B, C, res, res) instead of its hard-coded 4 channels
            with torch.inference_mode():
                text_emb, text_mask = pipe._encode_prompts(["check"], args.n)
                B = text_emb.shape[0]
                coh = pipe._build_coherence(None, B, default=1.0, suffix="coherence")
                uncoh = pipe._build_coherence(None, B, default=0.0, suffix="coherence")
                res = int(config["data_resolution"])
                x_N = torch.randn(B, channels, res, res, dtype=torch.float32, generator=gen)
                batch = {"y": x_N, "previous_latents": None, "text_tokens_embeddings": text_emb,
                         "text_tokens_mask": text_mask, **coh}
                u = pipe.uncond_embedding
                u = u.unsqueeze(0) if u.dim() == 1 else u
                ub = u.unsqueeze(0).expand(B, -1, -1).contiguous()
                keys_full = [f"{k}_coherence" for k in pipe.coherence_keys]
                latents = SM.flow_euler_sampler(
                    lambda b: pipe.preconditioning(pipe.network, b), copy.copy(batch), num_steps=args.steps,
                    scheduler=pipe.scheduler, conditioning_keys=["text_tokens"],
                    uncond_tokens={"text_tokens_embeddings": ub,
                                   "text_tokens_mask": torch.ones(B, ub.shape[1], dtype=torch.bool)},
                    cfg_rate=args.guidance, generator=gen, coherence_keys=keys_full,
                    coherence_values={k: float(coh[k][0]) for k in keys_full},
                    uncoherence_values={k: float(uncoh[k][0]) for k in keys_full},
                    sigma_data=float(config["preconditioning"].get("sigma_data", 0.5)), data_mean=0.5, data_std=0.5)
            how = f"official flow_euler_sampler ({channels}-channel pixel model)"
        finite = bool(torch.isfinite(latents).all())
        ok &= finite
        print(f"sample ({how}, {args.steps} steps, guidance {args.guidance}, seed {args.seed}): latents "
              f"{tuple(latents.shape)}, mean {latents.mean().item():.4f}, std {latents.std().item():.4f}, finite {finite}")
        if args.compare_latents:
            ours = torch.from_numpy(np.load(args.compare_latents).astype(np.float32))
            assert ours.shape == latents.shape, (ours.shape, latents.shape)
            diff = (ours - latents).abs().max().item()
            rel = diff / latents.abs().max().item()
            ok &= diff <= args.tolerance
            print(f"compare with {args.compare_latents}: max |diff| {diff:.3e}, relative {rel:.3e} "
                  f"({'PASS' if diff <= args.tolerance else 'FAIL'} at {args.tolerance})")
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
