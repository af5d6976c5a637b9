#!/usr/bin/python3
"""Generate the end-to-end parity fixture of `miro sample` / `ReleasePipeline.generate(prompt:...)`: a tiny
random but COMPLETE MiroPipeline (official MIRO folder + T5 encoder-decoder with its SentencePiece tokenizer
+ AutoencoderKL), run by the real `MiroPipeline.__call__` of miro-t2i 0.1.4 -> uint8 images.

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    apt-get install -y python3-torch python3-numpy          # torch 1.13.1 (reports 1.13.0a0), numpy 1.24.2
    pip download --no-deps -d /tmp/e2e-wheels transformers==4.40.2 tokenizers==0.19.1 sentencepiece==0.2.0 \
        protobuf==4.25.9 diffusers==0.27.2 safetensors==0.4.3 huggingface_hub==0.23.0 einops==0.8.0 \
        importlib_metadata==10.2.0 zipp==4.1.2 filelock==4.3.2 packaging==26.4 pyyaml==6.0.4 \
        regex==2026.12.2 requests==2.34.2 tqdm==4.70.1 fsspec==2026.9.0 typing_extensions==4.16.0 \
        urllib3==2.8.0 idna==3.21 certifi==2026.10.19.post1 charset_normalizer==3.5.3
    pip install --no-deps --target /tmp/pydeps-e2e /tmp/e2e-wheels/*.whl
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/tmp/pydeps-e2e \
        /usr/bin/python3 scripts/make_pipeline_fixtures.py [--wheel PATH/miro_t2i-0.1.4-py3-none-any.whl]

  * Versions asserted: torch 1.13.1 (Debian), numpy 1.24.2, einops 0.8.0, transformers 4.40.2,
    tokenizers 0.19.1, sentencepiece 0.2.0, diffusers 0.27.2, safetensors 0.4.3, huggingface_hub 0.23.0.
    Nothing is downloaded: every model is built from a config with fixed seeds and random weights.
  * The official code runs straight out of the miro-t2i wheel as scripts/make_release_fixtures.py runs it
    (same module list, same torch-1.13 shims: F.scaled_dot_product_attention = make_nn_fixtures.sdpa_reference,
    cuda.is_bf16_supported -> False, a disabled autocast is a null context). The shim is installed before
    diffusers builds the VAE, so its attention runs AttnProcessor2_0 through the same reference.
    `PIL` (not installed; pipeline.py imports it for type hints) is a stub installed AFTER diffusers and
    transformers are imported (their availability checks see no PIL, as on this machine).
  * The folder is built as make_release_fixtures.py builds release_small (official CADRINTextCond /
    FlowPrecond / preprocessing / postprocessing modules, randomise_params, build_clean_config key order),
    with label_dim = the T5's d_model (32), max_text_len 16, data_resolution 8.
  * text_encoder/: T5ForConditionalGeneration (tiny config below, gated-gelu like FLAN-T5, tied embeddings)
    save_pretrained (safetensors, fp32) + the tokenizer: T5TokenizerFast(vocab_file=Tests/MiroTokenizersTests/
    Fixtures/slow/spiece.model) converted, then re-read from its tokenizer.json alone and save_pretrained
    (tokenizer.json + configs, no spiece.model: 258 KB less, and its tokenizer_config.json has no
    "add_prefix_space", so AutoTokenizer reads tokenizer.json as for google/flan-t5-xl). Ids asserted equal.
  * vae/: AutoencoderKL (3 blocks of 8 channels: latent 8x8 -> image 32x32) save_pretrained, fp32; its conv_out is
    scaled so the images span the whole 0..255 range (random decoders are nearly flat otherwise).
  * uncond_embedding.npy: the tiny T5's encoding of "" (the `</s>` token), as flan_t5_xl_uncond.npy is
    FLAN-T5-XL's.
  * The pipeline is the REAL `MiroPipeline.from_pretrained(folder, text_encoder=folder/text_encoder)`, with
    `diffusers.AutoencoderKL.from_pretrained("stabilityai/sdxl-vae")` redirected to folder/vae during the call;
    the real `_ensure_text_encoder` then loads AutoTokenizer + T5EncoderModel from text_encoder/.
  * Deterministic: torch.set_num_threads(1); re-running reproduces every file.

Output (Tests/MiroPipelineTests/Fixtures/pipeline/, override with --out):
  miro_tiny/                     the official folder (config.json, model.safetensors, uncond_embedding.npy)
  miro_tiny/text_encoder/        the T5 + tokenizer folder (as a Hugging Face repository holds them)
  miro_tiny/vae/                 the AutoencoderKL folder
  <case>.images.npy              uint8 (B, 32, 32, 3): what MiroPipeline.__call__(output_type="numpy") returns
  <case>.embedding.npy           float32 (n, 32): the T5 last hidden state of the prompt's real tokens
  <case>.latents.npy             float32 (B, 4, 8, 8): the sampler's output (input of postprocessing)
  cases.json                     per case: prompt, seed, steps, guidance, reward targets, images per prompt,
                                 token count, whether truncated; plus versions
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import types

import numpy as np
import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import make_nn_fixtures as nnfx  # noqa: E402  (version checks, SDPA reference, wheel lookup, randomise_params)
import make_release_fixtures as rel  # noqa: E402  (official module list, shims, folder writer)

SCRIPT = "scripts/make_pipeline_fixtures.py"
VERSIONS = {"transformers": "4.40.2", "tokenizers": "0.19.1", "sentencepiece": "0.2.0", "diffusers": "0.27.2",
            "safetensors": "0.4.3", "huggingface_hub": "0.23.0"}
SEED = 2121
REPO_ROOT = os.path.dirname(SCRIPTS)
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroPipelineTests", "Fixtures", "pipeline")
SPIECE = os.path.join(REPO_ROOT, "Tests", "MiroTokenizersTests", "Fixtures", "slow", "spiece.model")
D_MODEL = 32
MAX_TEXT_LEN = 16
T5_CONFIG = dict(vocab_size=1300, d_model=D_MODEL, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=1,
                 num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
                 feed_forward_proj="gated-gelu", tie_word_embeddings=True, dropout_rate=0.0,
                 decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
VAE_CONFIG = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=4,
                  block_out_channels=[8, 8, 8], down_block_types=["DownEncoderBlock2D"] * 3,
                  up_block_types=["UpDecoderBlock2D"] * 3, sample_size=32, scaling_factor=0.13025)
NETWORK = dict(rel.NETWORK, label_dim=D_MODEL, num_cond_tokens=MAX_TEXT_LEN, data_mlp_multiplier=2,
               latent_mlp_multiplier=2)
IMG_RES = 32
CONFIG = dict(rel.CONFIG, network=NETWORK, max_text_len=MAX_TEXT_LEN, img_resolution=IMG_RES,
              data_preprocessing=dict(rel.CONFIG["data_preprocessing"], input_key_mean=f"vae_embeddings_mean_{IMG_RES}",
                                      input_key_std=f"vae_embeddings_std_{IMG_RES}"),
              sampler_defaults={"num_steps": 4, "guidance_scale": 3.0, "sigma_data": 0.5})
LONG = ("A very long prompt about a small red fox jumping over the lazy brown dog in a green field under a "
        "blue sky with white clouds, painted in oil, highly detailed, dramatic light")
CASES = [
    dict(name="cat", prompt="A photo of a cat sitting on a red chair.", seed=7, steps=4, guidance=3.0,
         num_images_per_prompt=2, reward_targets={"aesthetic_score": 0.9, "clip_score": 0.6},
         negative_reward_targets={}),
    dict(name="long", prompt=LONG, seed=11, steps=4, guidance=3.0, num_images_per_prompt=1,
         reward_targets={"hpsv2_score": 0.75}, negative_reward_targets={"vqa_score": 0.25}),
    dict(name="empty", prompt="", seed=13, steps=3, guidance=1.5, num_images_per_prompt=1,
         reward_targets={}, negative_reward_targets={}),
]


def check_versions():
    torch_v, deb_v, einops_v = nnfx.check_versions()
    import diffusers
    import huggingface_hub
    import safetensors
    import sentencepiece
    import tokenizers
    import transformers
    got = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
           "sentencepiece": sentencepiece.__version__, "diffusers": diffusers.__version__,
           "safetensors": safetensors.__version__, "huggingface_hub": huggingface_hub.__version__}
    assert got == VERSIONS, f"need {VERSIONS}, got {got}"
    return dict(got, torch=torch_v, debian_torch=deb_v, einops=einops_v, numpy=np.__version__,
                python=sys.version.split()[0])


def install_pil_stub():
    pil = types.ModuleType("PIL")
    pil_image = types.ModuleType("PIL.Image")

    class Image:  # a name pipeline.py imports; never called with output_type="numpy"
        @staticmethod
        def fromarray(_):
            raise AssertionError("PIL stub: use output_type='numpy'")

    pil_image.Image = Image
    pil_image.fromarray = Image.fromarray
    pil.Image = pil_image
    sys.modules.setdefault("PIL", pil)
    sys.modules.setdefault("PIL.Image", pil_image)


def build_text_encoder(folder):
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    # converted from the SentencePiece model, then re-read from its tokenizer.json alone: the saved folder holds
    # tokenizer.json (no 258 KB spiece.model) and a tokenizer_config.json without "add_prefix_space", so
    # AutoTokenizer reads tokenizer.json as it does for google/flan-t5-xl
    converted = T5TokenizerFast(vocab_file=SPIECE, extra_ids=100)
    with tempfile.TemporaryDirectory() as tmp:
        converted.save_pretrained(tmp)
        tok = T5TokenizerFast(tokenizer_file=os.path.join(tmp, "tokenizer.json"), extra_ids=100)
    assert len(tok) == len(converted) <= T5_CONFIG["vocab_size"], (len(tok), len(converted))
    for case in CASES:
        assert tok(case["prompt"])["input_ids"] == converted(case["prompt"])["input_ids"], case["prompt"]
    torch.manual_seed(SEED + 10)
    model = T5ForConditionalGeneration(T5Config(**T5_CONFIG)).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    assert not os.path.exists(os.path.join(folder, "spiece.model"))
    with open(os.path.join(folder, "tokenizer_config.json")) as f:
        assert "add_prefix_space" not in json.load(f)
    return model


def build_vae(folder):
    from diffusers import AutoencoderKL

    torch.manual_seed(SEED + 20)
    vae = AutoencoderKL(**VAE_CONFIG).eval()
    with torch.no_grad():
        # a random decoder is nearly flat around 0: widen it so the uint8 images use the whole range
        vae.decoder.conv_out.weight.mul_(6.0)
        vae.decoder.conv_out.bias.copy_(0.2 * torch.randn(3, generator=torch.Generator().manual_seed(SEED + 21)))
    vae.save_pretrained(folder, safe_serialization=True)
    return vae


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    versions = check_versions()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    rel.install_torch113_shims()  # before diffusers builds attention processors
    import diffusers  # noqa: F401  (availability checks run before the PIL stub exists)
    import transformers  # noqa: F401
    from diffusers import AutoencoderKL
    from transformers import AutoTokenizer, T5EncoderModel
    install_pil_stub()
    mods, wheel_sha, src_hashes = rel.load_official(nnfx.find_wheel(args.wheel))
    R, P, PRE, POST, PIPE = mods["rin"], mods["preconditioning"], mods["preprocessing"], mods["postprocessing"], \
        mods["pipeline"]

    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    folder = os.path.join(args.out, "miro_tiny")
    te_dir, vae_dir = os.path.join(folder, "text_encoder"), os.path.join(folder, "vae")
    os.makedirs(folder)

    # ---- components
    build_text_encoder(te_dir)
    build_vae(vae_dir)
    tok = AutoTokenizer.from_pretrained(te_dir)
    enc = T5EncoderModel.from_pretrained(te_dir).eval()
    with torch.no_grad():
        t = tok([""], return_tensors="pt")
        assert t["input_ids"].tolist() == [[1]], t
        uncond = enc(**t).last_hidden_state[0].float().numpy()  # (1, D): `</s>` only

    # ---- the MIRO folder (as make_release_fixtures.py builds release_small)
    torch.manual_seed(SEED)
    net = R.CADRINTextCond(**NETWORK)
    pre = P.FlowPrecond(**rel.PRECOND)
    nnfx.randomise_params(net, torch.Generator().manual_seed(SEED + 1), dtype=torch.float32)
    nnfx.randomise_params(pre, torch.Generator().manual_seed(SEED + 2), dtype=torch.float32)
    data_pre = PRE.PrecomputedSDLatentPreconditioning(**CONFIG["data_preprocessing"])
    post = POST.VAEPostProcessing(**CONFIG["postprocessing"])
    state = {}
    for prefix, module in (("network", net), ("preconditioning", pre), ("data_preprocessing", data_pre),
                           ("postprocessing", post)):
        for k, v in module.state_dict().items():
            state[f"{prefix}.{k}"] = v.detach().clone()
    rel.write_folder(folder, state, CONFIG, uncond, torch.float32)

    # ---- the REAL loader, the SDXL VAE download redirected to the tiny one
    original = AutoencoderKL.from_pretrained

    def redirected(name, *a, **kw):
        assert name == "stabilityai/sdxl-vae", name
        return original(vae_dir)

    AutoencoderKL.from_pretrained = staticmethod(redirected)
    try:
        pipe = PIPE.MiroPipeline.from_pretrained(folder, text_encoder=te_dir)
    finally:
        AutoencoderKL.from_pretrained = original
    assert pipe.text_encoder is None
    captured = []
    pipe.postprocessing.register_forward_pre_hook(lambda _m, a: captured.append(a[0].detach().clone()))
    encoded = []

    cases_out = []
    for case in CASES:
        captured.clear()
        images = pipe(case["prompt"], reward_targets=case["reward_targets"] or None,
                      negative_reward_targets=case["negative_reward_targets"] or None,
                      num_inference_steps=case["steps"], guidance_scale=case["guidance"],
                      num_images_per_prompt=case["num_images_per_prompt"],
                      generator=torch.Generator().manual_seed(case["seed"]), output_type="numpy")
        b = case["num_images_per_prompt"]
        assert images.shape == (b, 32, 32, 3) and images.dtype == np.uint8, (images.shape, images.dtype)
        assert len(captured) == 1
        # the prompt's embedding as _encode_prompts computes it, rows of the mask's ones
        full = pipe.tokenizer([case["prompt"]], return_tensors="pt")["input_ids"].shape[1]
        tk = pipe.tokenizer([case["prompt"]], return_tensors="pt", padding="max_length", max_length=MAX_TEXT_LEN,
                            truncation=True)
        with torch.no_grad():
            hidden = pipe.text_encoder(input_ids=tk["input_ids"], attention_mask=tk["attention_mask"]).last_hidden_state
        n = int(tk["attention_mask"].sum())
        np.save(os.path.join(args.out, f"{case['name']}.images.npy"), images)
        np.save(os.path.join(args.out, f"{case['name']}.embedding.npy"), hidden[0, :n].float().numpy())
        np.save(os.path.join(args.out, f"{case['name']}.latents.npy"), captured[0].float().numpy())
        hist = np.bincount(images.reshape(-1), minlength=256)
        cases_out.append(dict(case, tokens=n, untruncated_tokens=full, truncated=full > MAX_TEXT_LEN,
                              ids=tk["input_ids"][0].tolist()))
        encoded.append(f"{case['name']}: {n} tokens (of {full}), pixels {images.min()}..{images.max()}, "
                       f"{int((hist > 0).sum())} distinct levels")
    assert cases_out[1]["truncated"] and not cases_out[0]["truncated"]

    meta = dict(generator=SCRIPT, versions=versions, miro_t2i=nnfx.MIRO_VERSION, wheel_sha256=wheel_sha,
                sources=src_hashes, t5_config=T5_CONFIG, vae_config=VAE_CONFIG,
                call="MiroPipeline.from_pretrained(miro_tiny, text_encoder=miro_tiny/text_encoder)(prompt, "
                     "reward_targets=..., negative_reward_targets=..., num_inference_steps=steps, "
                     "guidance_scale=guidance, num_images_per_prompt=..., "
                     "generator=torch.Generator().manual_seed(seed), output_type='numpy')",
                cases=cases_out)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    sizes = {os.path.join(dp, p): os.path.getsize(os.path.join(dp, p)) for dp, _, fs in os.walk(args.out) for p in fs}
    print(f"{args.out}: {sum(sizes.values())} bytes in {len(sizes)} files")
    print("\n".join(encoded))


if __name__ == "__main__":
    main()
