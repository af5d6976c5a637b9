#!/usr/bin/python3
"""Generate the parity fixtures of the Swift SDXL VAE (diffusers `AutoencoderKL`), TAESDXL
(diffusers `AutoencoderTiny`) and MIRO's latent (de)normalisation (Sources/MiroVAE).

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    apt-get install -y python3-torch python3-numpy          # torch 1.13.1 (reports 1.13.0a0), numpy 1.24.2
    pip download --no-deps -d /tmp/vae-wheels diffusers==0.27.2 safetensors==0.4.3 huggingface_hub==0.23.0 \
        importlib_metadata==10.2.0 zipp==4.1.2 filelock==4.3.2 packaging==26.4 pyyaml==6.0.4 \
        regex==2026.12.2 requests==2.34.2 tqdm==4.70.1 fsspec==2026.9.0 typing_extensions==4.16.0 \
        urllib3==2.8.0 idna==3.21 certifi==2026.10.19.post1 charset_normalizer==3.5.3
    pip install --no-deps --target /work/pydeps-vae /tmp/vae-wheels/*.whl
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-vae \
        /usr/bin/python3 scripts/make_vae_fixtures.py [--wheel PATH/miro_t2i-0.1.4-py3-none-any.whl]

  * Versions asserted: torch 1.13.1 (Debian), numpy 1.24.2, diffusers 0.27.2, safetensors 0.4.3,
    huggingface_hub 0.23.0. Nothing is downloaded from a hub: every model is built from a config with a
    fixed seed and random weights, and written with diffusers' own `save_pretrained`.
  * torch 1.13 has no F.scaled_dot_product_attention, so diffusers 0.27.2 picks its classic `AttnProcessor`
    (baddbmm, softmax upcast to float32): no shim is installed.
  * The miro-t2i 0.1.4 wheel (sha256 pinned, RECORD hashes checked) is read for
    miro/models/postprocessing.py and miro/models/preprocessing.py, executed straight out of the wheel as
    modules of stub packages (preprocessing.py imports `miro.utils.misc.print0`: a stub that prints).
  * Reference numbers of the networks are computed in float64 (the weights are float32 or float16 values,
    so the conversion is exact); the attention softmax still runs in float32 (diffusers' upcast_softmax
    casts to float32), which is far below the 1e-4 tolerance. The official postprocessing (uint8 images)
    runs in float32 as MiroPipeline runs it.
  * Deterministic: re-running reproduces every file byte for byte.

Output (Tests/MiroVAETests/Fixtures/, override with --out):
  vae_tiny/                      AutoencoderKL save_pretrained (config.json + diffusion_pytorch_model.safetensors,
                                 fp32): block_out_channels [8, 16, 16], layers_per_block 1, norm_num_groups 4
  vae_tiny_ldm.safetensors       the same tensors under the original LDM names (sdxl_vae.safetensors layout:
                                 down/up/block/mid.attn_1 with 1x1-conv q/k/v/proj_out, up index reversed)
  vae_tiny_oldattn.safetensors   the same tensors with the pre-0.14 diffusers attention names query/key/value/proj_attn
  taesdxl_random_fp16/           AutoencoderTiny with the REAL TAESDXL config, random weights, saved in float16
  taesd_tiny/                    AutoencoderTiny with the TAESDXL structure but 8 channels (fp32)
  taesd_tiny_encoder.safetensors, taesd_tiny_decoder.safetensors
                                 the same tensors as madebyollin/taesd's taesdxl_{encoder,decoder}.pth name them
                                 ({i}.X and {i+1}.X), converted to safetensors
  keys/sdxl-vae-keys.tsv, keys/taesdxl-keys.tsv
                                 name, shape, dtype of the full-size models built from their real configs
  vae_expected.safetensors       F32 (U8 for images) inputs and reference outputs:
      kl.input.images (3,3,16,24) in [-1,1]; kl.encode.{mean,std,logvar} (3,4,4,6)
      kl.input.latents (2,4,5,3); kl.decode.sample (2,3,20,12)
      post.cw.{latents,scale,bias,images}      VAEDecoderPostProcessing(vae, channel_wise_normalisation=True,
                                               max_batch_size=2) on 3 network latents -> uint8 (3,20,12,3)
      post.global.{latents,scale,bias,images}  the same with channel_wise_normalisation=False, 1 latent
      pre.{mean,std,noise}                     stored posterior (float16-rounded as shards store it) and the
                                               torch.randn_like draw PrecomputedSDLatentPreconditioning makes
      pre.cw.{sample,mean_only}, pre.global.sample   its x_0 outputs (vae_sample True / False)
      taesdxl.input.images (1,3,64,64); taesdxl.encode.latents (1,4,8,8)
      taesdxl.input.latents (1,4,8,8) (magnitudes up to ~6: the tanh clamp matters); taesdxl.decode.sample (1,3,64,64)
      taesd_tiny.{input.images, encode.latents, input.latents, decode.sample}  same shapes, the 8-channel model
    __metadata__: generator (versions, hashes), params (parameter counts of the full-size models)
"""

import argparse
import base64
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import types
import zipfile

import numpy as np
import torch

SCRIPT = "scripts/make_vae_fixtures.py"
TORCH_VERSION = "1.13.1"
NUMPY_VERSION = "1.24.2"
DIFFUSERS_VERSION = "0.27.2"
SAFETENSORS_VERSION = "0.4.3"
HUB_VERSION = "0.23.0"
MIRO_VERSION = "0.1.4"
WHEEL_NAME = "miro_t2i-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "637c2a634005c5a1f9cd01533472da3cfb14ab0838930087ce7aff5334d48f5c"
SEED = 2121

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroVAETests", "Fixtures")
SHARED_KEYS = os.path.join(os.path.dirname(REPO_ROOT), "shared", "docs", "keys")

# stabilityai/sdxl-vae config.json (the keys diffusers reads; components.md §2)
SDXL_VAE_CONFIG = dict(
    in_channels=3, out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    block_out_channels=[128, 256, 512, 512], layers_per_block=2, act_fn="silu", latent_channels=4,
    norm_num_groups=32, sample_size=1024, scaling_factor=0.13025, force_upcast=True,
)
TINY_KL_CONFIG = dict(
    in_channels=3, out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
    block_out_channels=[8, 16, 16], layers_per_block=1, act_fn="silu", latent_channels=4,
    norm_num_groups=4, sample_size=16, scaling_factor=0.13025, force_upcast=True,
)
# madebyollin/taesdxl config.json (components.md §2)
TAESDXL_CONFIG = dict(
    in_channels=3, out_channels=3,
    encoder_block_out_channels=[64, 64, 64, 64], decoder_block_out_channels=[64, 64, 64, 64],
    act_fn="relu", latent_channels=4, upsampling_scaling_factor=2,
    num_encoder_blocks=[1, 3, 3, 3], num_decoder_blocks=[3, 3, 3, 1],
    latent_magnitude=3, latent_shift=0.5, force_upcast=False, scaling_factor=1.0,
)
TINY_TAESD_CONFIG = dict(TAESDXL_CONFIG, encoder_block_out_channels=[8] * 4, decoder_block_out_channels=[8] * 4)


# --------------------------------------------------------------------------- versions
def debian_torch_version():
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-torch"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return None


def check_versions():
    import diffusers
    import huggingface_hub
    import safetensors
    assert np.__version__ == NUMPY_VERSION, f"need numpy {NUMPY_VERSION}, got {np.__version__}"
    tv, deb = torch.__version__, debian_torch_version()
    ok = tv.split("+")[0] == TORCH_VERSION or (
        tv.split("+")[0] == "1.13.0a0" and deb and deb.startswith(TORCH_VERSION + "+"))
    assert ok, f"need torch {TORCH_VERSION}, got {tv} (dpkg python3-torch: {deb})"
    assert diffusers.__version__ == DIFFUSERS_VERSION, f"need diffusers {DIFFUSERS_VERSION}, got {diffusers.__version__}"
    assert safetensors.__version__ == SAFETENSORS_VERSION, f"need safetensors {SAFETENSORS_VERSION}"
    assert huggingface_hub.__version__ == HUB_VERSION, f"need huggingface_hub {HUB_VERSION}"
    return {"torch": tv, "python3-torch": deb, "numpy": np.__version__, "diffusers": diffusers.__version__,
            "safetensors": safetensors.__version__, "huggingface_hub": huggingface_hub.__version__}


# --------------------------------------------------------------------------- official code from the wheel
def find_wheel(arg):
    for c in [arg, os.environ.get("MIRO_WHEEL"), os.path.join(REPO_ROOT, ".whl", WHEEL_NAME),
              os.path.join(os.path.dirname(REPO_ROOT), "main", ".whl", WHEEL_NAME), os.path.join("/tmp/wheels", WHEEL_NAME)]:
        if c and os.path.isfile(c):
            return c
    sys.exit(f"miro-t2i wheel not found; run: pip download --no-deps miro-t2i=={MIRO_VERSION} -d /tmp/wheels")


def exec_official(wheel_path, paths):
    """Executes official files straight out of the wheel (sha256 and RECORD hashes checked) as modules of
    stub packages; miro/__init__.py is never run. Returns ({leaf: module}, wheel sha256, {path: sha256})."""
    with open(wheel_path, "rb") as f:
        wheel_sha = hashlib.sha256(f.read()).hexdigest()
    assert wheel_sha == WHEEL_SHA256, f"unexpected wheel sha256 {wheel_sha}"
    zf = zipfile.ZipFile(wheel_path)
    record = {}
    for line in zf.read(f"miro_t2i-{MIRO_VERSION}.dist-info/RECORD").decode().splitlines():
        parts = line.split(",")
        if len(parts) >= 2 and parts[1]:
            record[parts[0]] = parts[1]
    for pkg in ["miro", "miro.models", "miro.utils"]:
        m = types.ModuleType(pkg)
        m.__path__ = []
        sys.modules[pkg] = m
        if "." in pkg:
            setattr(sys.modules[pkg.rsplit(".", 1)[0]], pkg.rsplit(".", 1)[1], m)
    misc = types.ModuleType("miro.utils.misc")
    misc.print0 = print  # the official print0 prints on rank 0 only
    sys.modules["miro.utils.misc"] = misc
    mods, hashes = {}, {}
    for path in paths:
        src = zf.read(path)
        rec = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(src).digest()).rstrip(b"=").decode()
        assert record.get(path) == rec, f"RECORD hash mismatch for {path}"
        hashes[path] = hashlib.sha256(src).hexdigest()
        name = path[:-3].replace("/", ".")
        mod = types.ModuleType(name)
        mod.__file__ = f"{wheel_path}!/{path}"
        sys.modules[name] = mod
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
        mods[name.rsplit(".", 1)[1]] = mod
    return mods, wheel_sha, hashes


# --------------------------------------------------------------------------- helpers
def randomize(model, gen):
    """Every parameter random (GroupNorm affine included), scaled so activations stay O(1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p[0].numel()))
            elif name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


def ldm_name(key, n_blocks):
    """diffusers AutoencoderKL name -> original LDM/SGM name (inverse of the Swift rule list)."""
    k = key
    k = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", k)
    k = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.", r"encoder.down.\1.downsample.conv.", k)
    m = re.match(r"^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers\.0\.conv)\.(.*)$", k)
    if m:
        b = n_blocks - 1 - int(m.group(1))
        k = f"decoder.up.{b}.block.{m.group(3)}" if m.group(2) == "resnets" else f"decoder.up.{b}.upsample.conv.{m.group(3)}"
    k = k.replace("mid_block.resnets.0.", "mid.block_1.").replace("mid_block.resnets.1.", "mid.block_2.")
    for new, old in [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]:
        k = k.replace(f"mid_block.attentions.0.{new}.", f"mid.attn_1.{old}.")
    k = k.replace(".conv_shortcut.", ".nin_shortcut.").replace(".conv_norm_out.", ".norm_out.")
    return k


def old_attention_name(key):
    for new, old in [("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")]:
        key = key.replace(f"mid_block.attentions.0.{new}.", f"mid_block.attentions.0.{old}.")
    return key


def key_tsv(model):
    return "".join(f"{k}\t{'x'.join(str(s) for s in v.shape)}\t{str(v.dtype).replace('torch.', '')}\n"
                   for k, v in model.state_dict().items())


def f32(t):
    return t.detach().to(torch.float32).contiguous()


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--wheel", default=None)
    args = ap.parse_args()
    versions = check_versions()
    torch.set_num_threads(1)  # deterministic reductions
    from diffusers import AutoencoderKL, AutoencoderTiny
    from safetensors.torch import save_file

    mods, wheel_sha, hashes = exec_official(find_wheel(args.wheel), [
        "miro/models/postprocessing.py", "miro/models/preprocessing.py"])
    out = args.out
    os.makedirs(os.path.join(out, "keys"), exist_ok=True)
    expected = {}

    # --- full-size key sets and parameter counts (shapes only matter; init is diffusers' own)
    params = {}
    for name, cls, cfg in [("sdxl-vae", AutoencoderKL, SDXL_VAE_CONFIG), ("taesdxl", AutoencoderTiny, TAESDXL_CONFIG)]:
        model = cls(**cfg)
        tsv = key_tsv(model)
        params[name] = sum(p.numel() for p in model.parameters())
        with open(os.path.join(out, "keys", f"{name}-keys.tsv"), "w") as f:
            f.write(tsv)
        shared = os.path.join(SHARED_KEYS, f"{name}-keys.tsv")
        if os.path.isfile(shared):
            with open(shared) as f:
                assert f.read() == tsv, f"{name}: key set differs from {shared}"
        del model
    assert params == {"sdxl-vae": 83_653_863, "taesdxl": 2_445_063}, params
    print("full-size params", params)

    gen = torch.Generator().manual_seed(SEED)

    # --- tiny AutoencoderKL
    kl = AutoencoderKL(**TINY_KL_CONFIG).eval()
    randomize(kl, gen)
    folder = os.path.join(out, "vae_tiny")
    shutil.rmtree(folder, ignore_errors=True)
    kl.save_pretrained(folder, safe_serialization=True)
    state = {k: v.contiguous() for k, v in kl.state_dict().items()}
    n = len(TINY_KL_CONFIG["block_out_channels"])
    ldm = {}
    for k, v in state.items():
        nk = ldm_name(k, n)
        if ".mid.attn_1." in nk and nk.endswith(".weight") and v.ndim == 2:
            v = v[:, :, None, None].contiguous()  # LDM stores the attention projections as 1x1 convs
        ldm[nk] = v
    assert len(ldm) == len(state)
    save_file(ldm, os.path.join(out, "vae_tiny_ldm.safetensors"))
    save_file({old_attention_name(k): v for k, v in state.items()}, os.path.join(out, "vae_tiny_oldattn.safetensors"))

    images = torch.rand((3, 3, 16, 24), generator=gen) * 2 - 1
    latents = torch.randn((2, 4, 5, 3), generator=gen) * 2
    kl64 = AutoencoderKL(**TINY_KL_CONFIG).eval()
    kl64.load_state_dict(state)
    kl64 = kl64.double()
    with torch.no_grad():
        dist = kl64.encode(images.double()).latent_dist
        expected["kl.input.images"] = f32(images)
        expected["kl.encode.mean"] = f32(dist.mean)
        expected["kl.encode.std"] = f32(dist.std)
        expected["kl.encode.logvar"] = f32(dist.logvar)
        expected["kl.input.latents"] = f32(latents)
        expected["kl.decode.sample"] = f32(kl64.decode(latents.double()).sample)

    # --- official latent (de)normalisation around the tiny VAE (float32, as MiroPipeline runs it)
    post_mod, pre_mod = mods["postprocessing"], mods["preprocessing"]
    for tag, cw, count in [("cw", True, 3), ("global", False, 1)]:
        post = post_mod.VAEDecoderPostProcessing(vae=kl, channel_wise_normalisation=cw, max_batch_size=2)
        x = torch.randn((count, 4, 5, 3), generator=gen) * 0.6
        with torch.no_grad():
            imgs = post(x)
        assert imgs.dtype == np.uint8 and imgs.shape == (count, 20, 12, 3), (imgs.dtype, imgs.shape)
        expected[f"post.{tag}.latents"] = f32(x)
        expected[f"post.{tag}.scale"] = f32(post.scale)
        expected[f"post.{tag}.bias"] = f32(post.bias)
        expected[f"post.{tag}.images"] = torch.from_numpy(np.ascontiguousarray(imgs))

    # stored posterior as the shards hold it: float16 (dist.mean.half()), read back as float32
    mean16 = expected["kl.encode.mean"].half().float()
    std16 = expected["kl.encode.std"].half().float()
    expected["pre.mean"], expected["pre.std"] = mean16, std16
    torch.manual_seed(SEED + 1)
    noise = torch.randn_like(mean16)
    expected["pre.noise"] = noise
    for tag, cw in [("cw", True), ("global", False)]:
        pre = pre_mod.PrecomputedSDLatentPreconditioning(vae_sample=True, channel_wise_normalisation=cw)
        torch.manual_seed(SEED + 1)  # the same randn_like draw as `noise`
        expected[f"pre.{tag}.sample"] = f32(pre({"vae_embeddings_mean": mean16, "vae_embeddings_std": std16})["x_0"])
    pre = pre_mod.PrecomputedSDLatentPreconditioning(vae_sample=False, channel_wise_normalisation=True)
    expected["pre.cw.mean_only"] = f32(pre({"vae_embeddings_mean": mean16, "vae_embeddings_std": std16})["x_0"])

    # --- TAESDXL, real config, random weights stored in float16
    taesd = AutoencoderTiny(**TAESDXL_CONFIG).eval()
    randomize(taesd, gen)
    taesd = taesd.half()
    folder = os.path.join(out, "taesdxl_random_fp16")
    shutil.rmtree(folder, ignore_errors=True)
    taesd.save_pretrained(folder, safe_serialization=True)
    taesd64 = taesd.double()  # float16 values, exactly
    timg = torch.rand((1, 3, 64, 64), generator=gen) * 2 - 1
    tlat = torch.randn((1, 4, 8, 8), generator=gen) * 2.5
    with torch.no_grad():
        expected["taesdxl.input.images"] = f32(timg)
        expected["taesdxl.encode.latents"] = f32(taesd64.encode(timg.double()).latents)
        expected["taesdxl.input.latents"] = f32(tlat)
        expected["taesdxl.decode.sample"] = f32(taesd64.decode(tlat.double()).sample)

    # --- tiny TAESD: diffusers folder + madebyollin/taesd naming
    tiny = AutoencoderTiny(**TINY_TAESD_CONFIG).eval()
    randomize(tiny, gen)
    folder = os.path.join(out, "taesd_tiny")
    shutil.rmtree(folder, ignore_errors=True)
    tiny.save_pretrained(folder, safe_serialization=True)
    tstate = {k: v.contiguous() for k, v in tiny.state_dict().items()}
    enc = {re.sub(r"^encoder\.layers\.", "", k): v for k, v in tstate.items() if k.startswith("encoder.")}
    dec = {}
    for k, v in tstate.items():
        m = re.match(r"^decoder\.layers\.(\d+)\.(.*)$", k)
        if m:
            dec[f"{int(m.group(1)) + 1}.{m.group(2)}"] = v  # taesd's decoder index 0 is the Clamp
    assert len(enc) + len(dec) == len(tstate)
    save_file(enc, os.path.join(out, "taesd_tiny_encoder.safetensors"))
    save_file(dec, os.path.join(out, "taesd_tiny_decoder.safetensors"))
    tiny64 = tiny.double()
    simg = torch.rand((1, 3, 64, 64), generator=gen) * 2 - 1
    slat = torch.randn((1, 4, 8, 8), generator=gen) * 2.5
    with torch.no_grad():
        expected["taesd_tiny.input.images"] = f32(simg)
        expected["taesd_tiny.encode.latents"] = f32(tiny64.encode(simg.double()).latents)
        expected["taesd_tiny.input.latents"] = f32(slat)
        expected["taesd_tiny.decode.sample"] = f32(tiny64.decode(slat.double()).sample)

    for k, v in expected.items():
        if v.dtype != torch.uint8:
            assert torch.isfinite(v).all(), k
            print(f"{k:32s} {tuple(v.shape)} max|x| {v.abs().max().item():.4g}")
    metadata = {
        "generator": json.dumps({"script": SCRIPT, "seed": SEED, "versions": versions, "wheel_sha256": wheel_sha,
                                 "official_sources_sha256": hashes}, sort_keys=True),
        "params": json.dumps(params, sort_keys=True),
    }
    save_file(expected, os.path.join(out, "vae_expected.safetensors"), metadata=metadata)
    total = 0
    for root, _, files in os.walk(out):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
