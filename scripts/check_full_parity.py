#!/usr/bin/python3
"""Forward parity of the FULL released MIRO architecture (360,411,664 parameters) between the official
miro-t2i 0.1.4 pipeline and `miro sample` on the same official folder.

HOW TO RUN (from the repository root, after `swift build -c release`; ~6 GB RAM for Python + ~3 GB for Swift,
~2.9 GB of disk under --work; a few minutes on 2 cores):

    PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/check_full_parity.py \
        --miro .build/release/miro [--work /tmp/miro-full-parity] [--steps 1] [--batch 1]

What it does (same interpreter, pinned versions, stubs and torch 1.13 shims as scripts/make_release_fixtures.py):
  1. Builds CADRINTextCond + FlowPrecond with the released config (configs/config.yaml + experiment multi_cad:
     data 32x32x4, data_dim 512, 256 latents x 1024, 4 blocks x 4 processing layers, label_dim 2048, 7 rewards)
     with EVERY float parameter random (seeded), and writes it as the official converter does (fp32
     model.safetensors, config.json, a random (1, 2048) uncond_embedding.npy) into WORK/folder.
  2. Runs the real MiroPipeline.from_pretrained(WORK/folder) and MiroPipeline.__call__ with a random 12-token
     prompt embedding (stub T5 encoder: zeros at padded positions), guidance 7, non-default reward targets,
     --steps steps, --batch images, seed 1234; records the latents handed to postprocessing.
  3. Runs `miro sample --checkpoint WORK/folder --text-embedding WORK/prompt.npy --seed 1234 --steps N
     --guidance 7 -n B --reward ... --negative-reward ... --save-latents WORK/swift_latents.npy --no-preview`.
  4. Prints max |difference| and max |difference| / max |reference| of the latents (with --steps 1 this is
     x_1 = x_0 - v(x_0) * (1 - 1e-9): one guided (stacked B=2·batch) forward of the full network).
Pass --keep to keep WORK (delete it yourself: ~1.5 GB).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402
import make_release_fixtures as rfx  # noqa: E402

SEED = 1234
REWARDS = {"aesthetic_score": 0.625, "vqa_score": 0.75}
NEGATIVE = {"clip_score": 0.25}
# build_clean_config order/types for configs/config.yaml + configs/experiment/multi_cad.yaml
NETWORK = {
    "data_size": 32, "num_input_channels": 4, "label_dim": 2048, "num_cond_tokens": 77, "data_dim": 512,
    "num_latents": 256, "latents_dim": 1024, "num_processing_layers": 4, "num_blocks": 4, "patch_size": 2,
    "read_write_heads": 16, "compute_heads": 32, "data_mlp_multiplier": 4, "compute_dropout": 0,
    "rw_stochastic_depth": 0, "compute_stochastic_depth": 0, "num_text_registers": 16,
    "coherence_keys": rfx.REWARD_KEYS, "coherence_dropout": 0.0, "dropout_strategy": "binomial",
    "latent_mlp_multiplier": 4, "use_cond_rin_block": True, "concat_cond_token_to_latents": False,
    "use_self_conditioning": True,
}
PRECOND = {"num_latents": 256, "latents_dim": 1024, "do_normalization": "noise_driven", "sigma_data": 0.5,
           "do_gradnorm_reweighting": True, "logvar_channels": 128, "logvar_mlp_layers": 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--miro", default=os.path.join(os.path.dirname(SCRIPTS), ".build", "release", "miro"))
    ap.add_argument("--work", default="/tmp/miro-full-parity")
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    nnfx.check_versions()
    assert os.path.isfile(args.miro), f"build the CLI first (swift build -c release); not found: {args.miro}"
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rfx.install_stubs()
    rfx.install_torch113_shims()
    mods, _, _ = rfx.load_official(nnfx.find_wheel(args.wheel))
    R, P, PRE, POST, PIPE = mods["rin"], mods["preconditioning"], mods["preprocessing"], mods["postprocessing"], \
        mods["pipeline"]
    config = dict(rfx.CONFIG)
    config.update(network=NETWORK, preconditioning=PRECOND, data_resolution=32, img_resolution=256)
    config["data_preprocessing"] = dict(config["data_preprocessing"], input_key_mean="vae_embeddings_mean_256",
                                        input_key_std="vae_embeddings_std_256")
    folder = os.path.join(args.work, "folder")
    if os.path.isdir(args.work):
        shutil.rmtree(args.work)
    os.makedirs(args.work)

    t = time.time()
    torch.manual_seed(SEED)
    with torch.no_grad():
        net = R.CADRINTextCond(**NETWORK)
        pre = P.FlowPrecond(**PRECOND)
        nnfx.randomise_params(net, torch.Generator().manual_seed(SEED + 1), dtype=torch.float32)
        nnfx.randomise_params(pre, torch.Generator().manual_seed(SEED + 2), dtype=torch.float32)
        n_params = sum(p.numel() for p in net.parameters() if p.is_floating_point())
        state = {}
        for prefix, module in (("network", net), ("preconditioning", pre),
                               ("data_preprocessing", PRE.PrecomputedSDLatentPreconditioning(**config["data_preprocessing"])),
                               ("postprocessing", POST.VAEPostProcessing(**config["postprocessing"]))):
            state.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
        g = torch.Generator().manual_seed(SEED + 3)
        uncond = torch.randn(1, 2048, generator=g).numpy()
        rfx.write_folder(folder, state, config, uncond, torch.float32)
        del net, pre, state
    prompt = torch.randn(12, 2048, generator=g)
    np.save(os.path.join(args.work, "prompt.npy"), prompt.numpy())
    print(f"wrote {folder} ({n_params} network parameters) in {time.time() - t:.0f}s")

    t = time.time()
    pipe = PIPE.MiroPipeline.from_pretrained(folder)
    rfx.N_TOKENS = prompt.shape[0]
    pipe.tokenizer, pipe.text_encoder = rfx.StubTokenizer(), rfx.StubEncoder(prompt)
    captured = []
    pipe.postprocessing.register_forward_pre_hook(lambda _m, a: captured.append(a[0].detach().clone()))
    pipe("full parity", reward_targets=REWARDS, negative_reward_targets=NEGATIVE, num_inference_steps=args.steps,
         guidance_scale=7.0, num_images_per_prompt=args.batch, generator=torch.Generator().manual_seed(SEED),
         output_type="numpy")
    reference = captured[0]
    print(f"official MiroPipeline: {args.steps} step(s), batch {args.batch}, {time.time() - t:.0f}s; "
          f"latents {tuple(reference.shape)} max |x| {reference.abs().max().item():.4f}")
    del pipe

    t = time.time()
    ours_path = os.path.join(args.work, "swift_latents.npy")
    cmd = [args.miro, "sample", "--checkpoint", folder, "--text-embedding", os.path.join(args.work, "prompt.npy"),
           "--seed", str(SEED), "--steps", str(args.steps), "--guidance", "7", "-n", str(args.batch),
           "--save-latents", ours_path, "--no-preview", "--out", os.path.join(args.work, "out")]
    for k, v in REWARDS.items():
        cmd += ["--reward", f"{k}={v}"]
    for k, v in NEGATIVE.items():
        cmd += ["--negative-reward", f"{k}={v}"]
    print("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True)
    print(f"miro sample: {time.time() - t:.0f}s")
    ours = torch.from_numpy(np.load(ours_path))
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    diff = (ours - reference).abs().max().item()
    print(f"FULL CONFIG PARITY ({n_params} params, {args.steps} step(s), guidance 7, batch {args.batch}): "
          f"max |diff| {diff:.3e}, relative {diff / reference.abs().max().item():.3e}")
    if not args.keep:
        shutil.rmtree(args.work)


if __name__ == "__main__":
    main()
