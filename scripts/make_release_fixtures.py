#!/usr/bin/python3
"""Generate the parity fixtures of the Swift reader/writer of official MIRO checkpoint folders
(Sources/MiroRelease) and of `miro sample` on such folders.

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    pip download --no-deps miro-t2i==0.1.4 -d /tmp/wheels            # only if the wheel is not there yet
    pip install --no-deps --target /tmp/pydeps einops==0.8.0 safetensors==0.7.0 packaging==24.2
    PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/make_release_fixtures.py \
        --wheel /tmp/wheels/miro_t2i-0.1.4-py3-none-any.whl

  * Same interpreter and pinned versions as scripts/make_model_fixtures.py (python3-torch 1.13.1,
    numpy 1.24.2, einops 0.8.0) plus safetensors 0.7.0 (all asserted). The official code is executed
    straight out of the wheel (RECORD hashes checked), as modules of stub packages: pipeline.py,
    models/{preprocessing,postprocessing,preconditioning,scheduler,sampler}.py,
    models/networks/{positional_embeddings,transformers,rin}.py and utils/misc.py. No MIRO code is
    copied into this repository.
  * Stubs (none of them touches the numbers compared): `PIL.Image` (imported by pipeline.py, unused with
    output_type="numpy"), `diffusers.AutoencoderKL.from_pretrained` (the SDXL VAE: a stub whose decode
    records its input and returns zeros), a stub tokenizer + T5 encoder installed as
    `pipe.tokenizer` / `pipe.text_encoder` (so the real `_ensure_text_encoder` returns early and the real
    `_encode_prompts` runs: padding="max_length" to max_text_len, mask = attention_mask, then
    repeat_interleave for num_images_per_prompt). The stub encoder returns the fixture's prompt
    embedding in the first n positions and ZEROS at the padded positions (a real T5 returns values
    there; the network masks them out everywhere, see Sources/MiroRelease/ReleasePipeline.swift).
  * torch 1.13 shims: F.scaled_dot_product_attention = the math reference of make_nn_fixtures.py
    (float32 here); `torch.cuda.is_bf16_supported` (raises on a CPU-only 1.13) returns False; and
    `torch.amp.autocast` returns a null context when it is disabled or targets CUDA (1.13 raises on
    the pipeline's disabled CPU float32 autocast; torch >= 2.1 accepts it and does nothing).
  * The folder is written as scripts/convert_and_upload_to_hf.py does: config.json = build_clean_config's
    dict (`json.dump(config, f, indent=2)`, key order and value types as that function produces them from
    configs/config.yaml + configs/experiment/multi_cad.yaml), model.safetensors = `save_file` of the
    network./preconditioning./data_preprocessing./postprocessing. tensors (floats cast to the chosen dtype,
    bool masks kept), uncond_embedding.npy float32. Then the folder is loaded with the REAL
    `MiroPipeline.from_pretrained(folder)` (strict for network and preconditioning) and run.
  * Deterministic: re-running reproduces every file byte for byte.

Output (Tests/MiroReleaseTests/Fixtures/, override with --out):
  release_small/                     official folder, fp32 weights, random (not trained) values
  release_small/variant_fp16/        the same weights in fp16 (MiroPipeline.from_pretrained(variant=...))
  text_embedding.npy                 float16 (5, 32): a stand-in "flan_t5_xl_embeddings.npy" prompt embedding
  release_small_expected.safetensors F32 (masks BOOL):
      forward.input.{x, gamma, text, text_mask, rewards, previous_latents}
      forward.{out, latents}         pipe.preconditioning(pipe.network, batch) of the fp32 folder
      forward_fp16.{out, latents}    the same batch through the variant_fp16 folder
      sample.latents                 (2, 4, 8, 8) latents MiroPipeline.__call__ hands to postprocessing
      sample.vae_input               what postprocessing then hands to the VAE: (latents - bias) / scale
      sample.noise                   torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(seed))
    __metadata__: config (the config.json text), cases (JSON: seeds, settings), generator (versions, hashes)
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import types
import zipfile

import numpy as np
import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402  (version checks, SDPA reference, wheel lookup)

SCRIPT = "scripts/make_release_fixtures.py"
SAFETENSORS_VERSION = "0.7.0"
SEED = 31337
REPO_ROOT = os.path.dirname(SCRIPTS)
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroReleaseTests", "Fixtures")
OFFICIAL_FILES = [
    "miro/utils/misc.py",
    "miro/models/networks/positional_embeddings.py",
    "miro/models/networks/transformers.py",
    "miro/models/networks/rin.py",
    "miro/models/preconditioning.py",
    "miro/models/preprocessing.py",
    "miro/models/postprocessing.py",
    "miro/models/scheduler.py",
    "miro/models/sampler.py",
    "miro/pipeline.py",
]
REWARD_KEYS = ["clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score", "hpsv2_score",
               "vqa_score", "sciscore_score"]
# Key order and value types as build_clean_config() produces them from configs/config.yaml merged with
# configs/experiment/multi_cad.yaml (base keys in yaml order, experiment-only keys appended; the three
# dropout/stochastic-depth values are the yaml integers 0, coherence_dropout the float 0.0).
NETWORK = {
    "data_size": 8, "num_input_channels": 4, "label_dim": 32, "num_cond_tokens": 77, "data_dim": 16,
    "num_latents": 8, "latents_dim": 32, "num_processing_layers": 1, "num_blocks": 1, "patch_size": 2,
    "read_write_heads": 4, "compute_heads": 4, "data_mlp_multiplier": 4, "compute_dropout": 0,
    "rw_stochastic_depth": 0, "compute_stochastic_depth": 0, "num_text_registers": 4,
    "coherence_keys": REWARD_KEYS, "coherence_dropout": 0.0, "dropout_strategy": "binomial",
    "latent_mlp_multiplier": 4, "use_cond_rin_block": True, "concat_cond_token_to_latents": False,
    "use_self_conditioning": True,
}
PRECOND = {"num_latents": 8, "latents_dim": 32, "do_normalization": "noise_driven", "sigma_data": 0.5,
           "do_gradnorm_reweighting": True, "logvar_channels": 128, "logvar_mlp_layers": 0}
IMG_RES = 64
CONFIG = {
    "network": NETWORK,
    "preconditioning": PRECOND,
    "data_preprocessing": {"input_key_mean": f"vae_embeddings_mean_{IMG_RES}",
                           "input_key_std": f"vae_embeddings_std_{IMG_RES}", "output_key_root": "x_0",
                           "vae_sample": True, "channel_wise_normalisation": True, "model_type": "sdxl"},
    "postprocessing": {"channel_wise_normalisation": True, "model_type": "sdxl"},
    "scheduler": {"start": 1, "end": 0, "clip_min": 1e-9},
    "coherence_keys": list(REWARD_KEYS),
    "sampler_defaults": {"num_steps": 50, "guidance_scale": 7.0, "sigma_data": 0.5},
    "data_resolution": 8,
    "img_resolution": IMG_RES,
    "max_text_len": 77,
    "model_type": "sdxl",
    "vae_repo": "stabilityai/sdxl-vae",
    "text_encoder_repo": "google/flan-t5-xl",
}
N_TOKENS = 5
SAMPLE = dict(prompt="a fixture prompt", steps=4, guidance=7.0, num_images_per_prompt=2, seed=SEED + 7,
              reward_targets={"aesthetic_score": 0.25, "clip_score": 0.75, "vqa_score": 0.5},
              negative_reward_targets={"hpsv2_score": 0.5, "sciscore_score": 1.0})


# --------------------------------------------------------------------------- official code + stubs
def install_stubs():
    pil = types.ModuleType("PIL")
    pil_image = types.ModuleType("PIL.Image")

    class Image:  # only a name pipeline.py imports (type hints); never called with output_type="numpy"
        @staticmethod
        def fromarray(_):
            raise AssertionError("PIL stub: use output_type='numpy'")

    pil_image.Image = Image
    pil_image.fromarray = Image.fromarray
    pil.Image = pil_image
    sys.modules["PIL"], sys.modules["PIL.Image"] = pil, pil_image

    diffusers = types.ModuleType("diffusers")

    class StubVAE(torch.nn.Module):
        """Stands in for the SDXL VAE; records what it is asked to decode."""
        inputs = []

        def decode(self, z):
            StubVAE.inputs.append(z.detach().clone())
            return types.SimpleNamespace(sample=torch.zeros(z.shape[0], 3, 8 * z.shape[2], 8 * z.shape[3]))

    class AutoencoderKL:
        @staticmethod
        def from_pretrained(name, *a, **kw):
            assert name == "stabilityai/sdxl-vae", name
            return StubVAE()

    diffusers.AutoencoderKL = AutoencoderKL
    sys.modules["diffusers"] = diffusers
    transformers = types.ModuleType("transformers")  # never imported: tokenizer/encoder are preset

    def _no_download(*a, **kw):
        raise AssertionError("transformers stub: the fixture presets pipe.tokenizer / pipe.text_encoder")

    transformers.AutoTokenizer = types.SimpleNamespace(from_pretrained=_no_download)
    transformers.T5EncoderModel = types.SimpleNamespace(from_pretrained=_no_download)
    sys.modules["transformers"] = transformers
    return StubVAE


def install_torch113_shims():
    torch.nn.functional.scaled_dot_product_attention = nnfx.sdpa_reference
    torch.cuda.is_bf16_supported = lambda: False
    original = torch.amp.autocast

    def autocast(device_type, dtype=None, enabled=True, cache_enabled=None):
        if not enabled or (device_type == "cuda" and not torch.cuda.is_available()):
            return contextlib.nullcontext()
        return original(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    torch.amp.autocast = autocast


def load_official(wheel_path):
    return nnfx.exec_official(wheel_path, OFFICIAL_FILES)


# --------------------------------------------------------------------------- helpers
class StubTokenizer:
    """`tokenizer(prompts, return_tensors="pt", padding="max_length", max_length=L, truncation=True)`:
    every prompt is N_TOKENS tokens long (ids are irrelevant; the stub encoder ignores them)."""

    def __call__(self, prompts, return_tensors, padding, max_length, truncation):
        assert return_tensors == "pt" and padding == "max_length" and truncation
        n = min(N_TOKENS, max_length)
        mask = torch.zeros(len(prompts), max_length, dtype=torch.long)
        mask[:, :n] = 1
        return {"input_ids": torch.arange(max_length).repeat(len(prompts), 1), "attention_mask": mask}


class StubEncoder(torch.nn.Module):
    def __init__(self, embedding):
        super().__init__()
        self.embedding = embedding  # (n, D) float32

    def forward(self, input_ids, attention_mask):
        b, length = input_ids.shape
        out = torch.zeros(b, length, self.embedding.shape[1])
        n = int(attention_mask[0].sum())
        out[:, :n] = self.embedding[:n]
        return types.SimpleNamespace(last_hidden_state=out)


def write_safetensors_sorted(path, tensors, metadata):
    """safetensors with a reproducible header: safetensors' own save_file serialises `metadata` from a hash
    map (its key order changes from run to run); here metadata first, then tensors in sorted order."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        dtype = {torch.float32: "F32", torch.bool: "BOOL"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def write_folder(folder, state, config, uncond, dtype):
    """scripts/convert_and_upload_to_hf.py stage_checkpoint: save_file + json.dump(indent=2) + np.save."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    out = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(out, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    np.save(os.path.join(folder, "uncond_embedding.npy"), uncond.astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch_v, deb_v, einops_v = nnfx.check_versions()
    import safetensors
    assert safetensors.__version__ == SAFETENSORS_VERSION, f"need safetensors {SAFETENSORS_VERSION}"
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)  # deterministic reductions
    StubVAE = install_stubs()
    install_torch113_shims()
    mods, wheel_sha, src_hashes = load_official(nnfx.find_wheel(args.wheel))
    R, P, PRE, POST, PIPE = mods["rin"], mods["preconditioning"], mods["preprocessing"], mods["postprocessing"], \
        mods["pipeline"]

    # ---- the weights, as a training checkpoint would hold them (random values, official modules)
    torch.manual_seed(SEED)
    net = R.CADRINTextCond(**NETWORK)
    pre = P.FlowPrecond(**PRECOND)
    nnfx.randomise_params(net, torch.Generator().manual_seed(SEED + 1), dtype=torch.float32)
    nnfx.randomise_params(pre, torch.Generator().manual_seed(SEED + 2), dtype=torch.float32)
    data_pre = PRE.PrecomputedSDLatentPreconditioning(**CONFIG["data_preprocessing"])
    post = POST.VAEPostProcessing(**CONFIG["postprocessing"])
    # extract_inference_state: ema_network.* -> network.*, preconditioning.*, data_preprocessing.*,
    # postprocessing.* without vae.*
    state = {}
    for prefix, module in (("network", net), ("preconditioning", pre), ("data_preprocessing", data_pre),
                           ("postprocessing", post)):
        for k, v in module.state_dict().items():
            state[f"{prefix}.{k}"] = v.detach().clone()
    n_params = sum(v.numel() for k, v in state.items() if k.startswith("network.") and v.is_floating_point())

    folder = os.path.join(args.out, "release_small")
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    g = torch.Generator().manual_seed(SEED + 3)
    uncond = torch.randn(1, NETWORK["label_dim"], generator=g).numpy()  # stands in for the (1, 2048) EOS embedding
    write_folder(folder, state, CONFIG, uncond, torch.float32)
    write_folder(os.path.join(folder, "variant_fp16"), state, CONFIG, uncond, torch.float16)
    prompt_emb16 = torch.randn(N_TOKENS, NETWORK["label_dim"], generator=g).to(torch.float16).numpy()
    np.save(os.path.join(args.out, "text_embedding.npy"), prompt_emb16)
    prompt_emb = torch.from_numpy(prompt_emb16.astype(np.float32))

    # ---- the REAL loader
    pipe = PIPE.MiroPipeline.from_pretrained(folder)
    pipe16 = PIPE.MiroPipeline.from_pretrained(folder, variant="variant_fp16")
    for p in (pipe, pipe16):
        assert p.coherence_keys == tuple(REWARD_KEYS)
        assert p.network.latents.dtype == torch.float32
    assert torch.equal(pipe.data_preprocessing.scale, data_pre.scale)
    assert torch.equal(pipe.postprocessing.bias, post.bias)
    with torch.no_grad():
        for k, v in pipe.network.state_dict().items():
            assert torch.equal(v, state[f"network.{k}"]), k

    tensors, cases = {}, {}

    def put(name, t):
        t = t.detach().clone().contiguous()
        assert t.dtype in (torch.float32, torch.bool), (name, t.dtype)
        assert name not in tensors, name
        tensors[name] = t

    # ---- (a) one preconditioned forward on a fixed batch (as the sampler calls it)
    g = torch.Generator().manual_seed(SEED + 4)
    B, L = 2, CONFIG["max_text_len"]
    x = torch.randn(B, 4, 8, 8, generator=g)
    gamma = torch.tensor([0.3, 0.85])
    text = torch.zeros(B, L, NETWORK["label_dim"])
    text[0, :5] = torch.randn(5, NETWORK["label_dim"], generator=g)
    text[1, :3] = torch.randn(3, NETWORK["label_dim"], generator=g)
    mask = torch.zeros(B, L, dtype=torch.bool)
    mask[0, :5] = True
    mask[1, :3] = True
    rewards = torch.tensor([[1.0, 0.25, 0.5, 0.0, 1.0, 0.75, 0.125], [0.0, 1.0, 0.3, 0.6, 0.9, 0.1, 1.0]])
    prev = 0.5 * torch.randn(B, NETWORK["num_latents"], NETWORK["latents_dim"], generator=g)
    for k, v in [("x", x), ("gamma", gamma), ("text", text), ("text_mask", mask), ("rewards", rewards),
                 ("previous_latents", prev)]:
        put(f"forward.input.{k}", v)

    def batch():
        b = {"y": x.clone(), "gamma": gamma.clone(), "text_tokens_embeddings": text.clone(),
             "text_tokens_mask": mask.clone(), "previous_latents": prev.clone()}
        b.update({f"{k}_coherence": rewards[:, i].clone() for i, k in enumerate(REWARD_KEYS)})
        return b

    with torch.no_grad():
        out, z = pipe.preconditioning(pipe.network, batch())
        out16, z16 = pipe16.preconditioning(pipe16.network, batch())
    put("forward.out", out)
    put("forward.latents", z)
    put("forward_fp16.out", out16)
    put("forward_fp16.latents", z16)
    cases["forward"] = ("pipe.preconditioning(pipe.network, batch), eval mode, batch = y: input.x, gamma: "
                        "input.gamma, text_tokens_embeddings: input.text (zero-padded to 77), text_tokens_mask: "
                        "input.text_mask, <key>_coherence: input.rewards[:, i], previous_latents: "
                        "input.previous_latents; forward_fp16: the same through the variant_fp16 folder")

    # ---- (b) MiroPipeline.__call__ with a fixed prompt embedding
    pipe.tokenizer, pipe.text_encoder = StubTokenizer(), StubEncoder(prompt_emb)
    captured = []
    pipe.postprocessing.register_forward_pre_hook(lambda _m, a: captured.append(a[0].detach().clone()))
    StubVAE.inputs.clear()
    gen = torch.Generator().manual_seed(SAMPLE["seed"])
    noise = torch.randn(SAMPLE["num_images_per_prompt"], 4, 8, 8, generator=torch.Generator().manual_seed(SAMPLE["seed"]))
    images = pipe(SAMPLE["prompt"], reward_targets=SAMPLE["reward_targets"],
                  negative_reward_targets=SAMPLE["negative_reward_targets"], num_inference_steps=SAMPLE["steps"],
                  guidance_scale=SAMPLE["guidance"], num_images_per_prompt=SAMPLE["num_images_per_prompt"],
                  generator=gen, output_type="numpy")
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8
    assert len(captured) == 1 and len(StubVAE.inputs) == 1
    latents, vae_input = captured[0], StubVAE.inputs[0]
    assert latents.shape == (2, 4, 8, 8) and torch.isfinite(latents).all()
    assert not torch.equal(latents[0], latents[1])  # two different noise draws
    put("sample.latents", latents)
    put("sample.vae_input", vae_input)
    put("sample.noise", noise)
    cases["sample"] = dict(
        call=f"MiroPipeline.from_pretrained(release_small)({SAMPLE['prompt']!r}, "
             f"reward_targets={SAMPLE['reward_targets']}, negative_reward_targets={SAMPLE['negative_reward_targets']}, "
             f"num_inference_steps={SAMPLE['steps']}, guidance_scale={SAMPLE['guidance']}, "
             f"num_images_per_prompt={SAMPLE['num_images_per_prompt']}, "
             f"generator=torch.Generator().manual_seed({SAMPLE['seed']}), output_type='numpy')",
        text="the prompt encodes to text_embedding.npy (float16 -> float32) in positions 0..4, zeros at 5..76, "
             "mask True for 0..4 (stub tokenizer/encoder, real _encode_prompts)",
        negative="uncond_embedding.npy (1, 32) with an all-True mask, expanded to the batch (real __call__)",
        latents="the input of pipe.postprocessing (forward pre-hook)",
        vae_input="the input of the stub VAE's decode: (latents - postprocessing.bias) / postprocessing.scale",
        **{k: v for k, v in SAMPLE.items()})
    cases["notes"] = dict(
        weights=f"random values: Linear weights N(0,1)/sqrt(fan_in), norm weights U(0.5,1.5), biases 0.3*N(0,1), "
                f"layer_scale U(0.2,1.0); Fourier buffers as sampled by the constructors "
                f"(torch.manual_seed({SEED})); {n_params} network params",
        sdpa=nnfx.SDPA_DOC + " (run in float32 here)",
        threads="torch.set_num_threads(1)")

    generator = (f"{SCRIPT}; torch {torch_v} (debian python3-torch {deb_v}); numpy {np.__version__}; "
                 f"einops {einops_v}; safetensors {safetensors.__version__}; python {sys.version.split()[0]}; "
                 f"miro-t2i {nnfx.MIRO_VERSION} wheel sha256 {wheel_sha}; sources {json.dumps(src_hashes, sort_keys=True)}")
    with open(os.path.join(folder, "config.json")) as f:
        config_text = f.read()
    meta = {"config": config_text, "cases": json.dumps(cases, sort_keys=True), "generator": generator}
    path = os.path.join(args.out, "release_small_expected.safetensors")
    write_safetensors_sorted(path, tensors, meta)
    from safetensors.torch import load_file
    back = load_file(path)
    assert set(back) == set(tensors) and all(torch.equal(back[k], v) for k, v in tensors.items())
    sizes = {os.path.join(dp, p): os.path.getsize(os.path.join(dp, p)) for dp, _, fs in os.walk(args.out) for p in fs}
    print(f"{args.out}: {sum(sizes.values())} bytes in {len(sizes)} files; {n_params} network params; "
          f"latents max |x| {latents.abs().max().item():.4f}")


if __name__ == "__main__":
    main()
