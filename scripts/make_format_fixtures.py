#!/usr/bin/env python3
"""Reference fixtures for MiroFormats (safetensors / .npy), and a checker for files written by the Swift code.

The Swift tests read every fixture bit-exactly and re-serialize them, expecting the same bytes as the
reference writers produced. `--verify DIR` is the other direction: Python reads what Swift wrote.

Pinned versions (asserted below):
  CPython 3.11 (Debian's /usr/bin/python3), numpy 1.24.2 (Debian python3-numpy),
  safetensors 0.7.0 (PyPI wheel), torch 1.13 (Debian, only for the bfloat16 rounding table).

Setup (once):
  /usr/bin/python3 -m pip install --target /tmp/pydeps safetensors==0.7.0

Regenerate Tests/MiroFormatsTests/Fixtures/ (run from the repository root):
  PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/make_format_fixtures.py

Verify files written by the Swift writers:
  MIRO_FORMATS_EXPORT_DIR=/tmp/miro-formats-export swift test --filter MiroFormatsTests.PythonExport
  PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/make_format_fixtures.py --verify /tmp/miro-formats-export

Sums in expected.json are accumulated sequentially in float64 in C order (not numpy's pairwise sum), the same
order the Swift summary uses, so they compare exactly. Floats are written with float.hex() to stay bit-exact.
"""
import io
import json
import math
import os
import struct
import sys

import numpy as np
import safetensors
from safetensors import deserialize, safe_open, serialize, serialize_file
from safetensors.numpy import load_file, save_file

assert sys.version_info[:2] == (3, 11), sys.version
assert np.__version__ == "1.24.2", np.__version__
assert safetensors.__version__ == "0.7.0", safetensors.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "MiroFormatsTests", "Fixtures")

# ---------------------------------------------------------------------------------------------------------------
# Element decoding, written independently of the Swift code (formula based, not bit tricks).


def minifloat(byte, ebits, mbits, bias):
    sign = -1.0 if byte & 0x80 else 1.0
    e = (byte >> mbits) & ((1 << ebits) - 1)
    m = byte & ((1 << mbits) - 1)
    if e == 0:
        return sign * math.ldexp(m, 1 - bias - mbits)
    return sign * math.ldexp((1 << mbits) + m, e - bias - mbits)


def fp8(byte, name):
    if name == "F8_E4M3":
        return math.nan if byte & 0x7F == 0x7F else minifloat(byte, 4, 3, 7)
    if name == "F8_E5M2":
        if byte & 0x7C == 0x7C:
            return math.nan if byte & 3 else (-math.inf if byte & 0x80 else math.inf)
        return minifloat(byte, 5, 2, 15)
    if name == "F8_E4M3FNUZ":
        return math.nan if byte == 0x80 else minifloat(byte, 4, 3, 8)
    if name == "F8_E5M2FNUZ":
        return math.nan if byte == 0x80 else minifloat(byte, 5, 2, 16)
    if name == "F8_E8M0":
        return math.nan if byte == 0xFF else math.ldexp(1.0, byte - 127)
    raise ValueError(name)


NUMPY_OF = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
            "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
            "I64": np.int64, "U64": np.uint64}


def values(dtype, raw):
    """Each element as a Python float, in C order."""
    if dtype in NUMPY_OF:
        return [float(x) for x in np.frombuffer(raw, dtype=NUMPY_OF[dtype]).astype(np.float64)]
    if dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return [float(x) for x in bits.view(np.float32).astype(np.float64)]
    if dtype.startswith("F8_"):
        return [fp8(b, dtype) for b in raw]
    return None  # F4, F6_*, C64: not summable


def sums(dtype, raw):
    vals = values(dtype, raw)
    if vals is None:
        return None
    s, a = 0.0, 0.0
    for v in vals:
        s += v
        a += abs(v)
    return s.hex(), a.hex()


def describe_safetensors(path):
    raw = open(path, "rb").read()
    with safe_open(path, framework="np") as f:
        metadata = f.metadata()
        order = list(f.offset_keys())
    tensors = {}
    for name, info in deserialize(raw):
        t = {"dtype": info["dtype"], "shape": list(info["shape"]), "hex": bytes(info["data"]).hex()}
        s = sums(info["dtype"], bytes(info["data"]))
        if s is not None:
            t["sum"], t["abs_sum"] = s
        tensors[name] = t
    return {"metadata": metadata, "order": order, "tensors": tensors}


NPY_NAME = {"<f2": "F16", "<f4": "F32", "<f8": "F64", "<i4": "I32", "<i8": "I64", "|b1": "BOOL", "|u1": "U8"}


def describe_npy(path):
    raw = open(path, "rb").read()
    arr = np.load(path)
    s, a = sums(NPY_NAME[arr.dtype.str], arr.tobytes())
    return {"descr": arr.dtype.str, "shape": list(arr.shape), "version": [raw[6], raw[7]],
            "hex": arr.tobytes().hex(), "sum": s, "abs_sum": a}


# ---------------------------------------------------------------------------------------------------------------
# Fixture generation


def f32(*xs):
    return np.array(xs, dtype=np.float32)


def make_safetensors(out):
    rng = np.random.default_rng(1234)
    mixed = {
        "layer.weight": (rng.standard_normal((3, 4)) * 3).astype(np.float32),
        "layer.bias": f32(-0.0, 1e-45, 3.0e38, -1.5),
        "half": np.array([[0.0, -0.0, 2.0 ** -24], [65504.0, -1.0009765625, 0.333251953125]], dtype=np.float16),
        "double": np.array([0.1, 1e-300, -2.5, 1e300, 7.0], dtype=np.float64),
        "ids": np.array([-(2 ** 62), 2 ** 53 + 1, 42], dtype=np.int64),
        "mask": np.array([[True, False], [True, True]]),
        "pixels": np.array([[0, 127, 255], [1, 2, 3]], dtype=np.uint8),
        "i8": np.array([-128, 127, 0], dtype=np.int8),
        "i16": np.array([-32768, 32767], dtype=np.int16),
        "u16": np.array([65535, 1], dtype=np.uint16),
        "i32": np.array([-(2 ** 31), 2 ** 31 - 1, 5], dtype=np.int32),
        "u32": np.array([2 ** 32 - 1], dtype=np.uint32),
        "u64": np.array([2 ** 64 - 1, 3], dtype=np.uint64),
        "scalar": np.array(2.75, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "empty_ids": np.zeros((0,), dtype=np.int64),
    }
    save_file(mixed, os.path.join(out, "mixed.safetensors"), metadata={"format": "np"})
    save_file({"only": f32(1, 2, 3)}, os.path.join(out, "no_metadata.safetensors"))
    save_file({}, os.path.join(out, "empty.safetensors"))
    save_file({"w": f32(1)}, os.path.join(out, "multi_metadata.safetensors"),
              metadata={"format": "pt", "miro.step": "1200", "miro.reward_keys": "aesthetic,clip"})

    # Dtypes numpy cannot hold go through the low-level API with raw bytes (same Rust writer as save_file).
    bf16 = f32(1.0, -2.5, 3.140625, 1e-3, 65280.0, -0.0).view(np.uint32) >> 16
    raw = {
        "bf16": {"dtype": "bfloat16", "shape": [2, 3], "data": bf16.astype("<u2").tobytes()},
        "e4m3": {"dtype": "float8_e4m3fn", "shape": [127], "data": bytes(range(0x00, 0x7F))},
        "e5m2": {"dtype": "float8_e5m2", "shape": [4, 31], "data": bytes(range(0x00, 0x7C))},
        "e8m0": {"dtype": "float8_e8m0fnu", "shape": [32], "data": bytes(range(0x70, 0x90))},
        "fp4": {"dtype": "float4_e2m1fn_x2", "shape": [2], "data": b"\x21\x43"},  # header says F4 [4]
        "complex": {"dtype": "complex64", "shape": [2], "data": f32(1, 2, 3, 4).tobytes()},
        "a.f32": {"dtype": "float32", "shape": [2], "data": f32(0.5, -0.25).tobytes()},
    }
    config = json.dumps({"name": "tiny é", "path": "a/b", "note": "tab\there"}) + "\n\u0001"
    serialize_file(raw, os.path.join(out, "raw_dtypes.safetensors"), metadata={"miro.config": config})


def make_sharded(out, max_shard_bytes=64):
    """transformers `shard_checkpoint` rule + `json.dumps(index, indent=2, sort_keys=True) + "\\n"`."""
    directory = os.path.join(out, "sharded")
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    tensors = [
        ("embed.weight", np.arange(8, dtype=np.float32).reshape(2, 4)),
        ("blocks.0.attn.weight", np.linspace(-1, 1, 12, dtype=np.float32)),
        ("blocks.0.attn.bias", f32(0.5, 0.25)),
        ("blocks.1.norm.weight", np.ones(10, dtype=np.float16)),
        ("head.weight", np.arange(-6, 6, dtype=np.float32).reshape(3, 4)),
    ]
    shards, size = [[]], 0
    for name, arr in tensors:
        if size + arr.nbytes > max_shard_bytes and shards[-1]:
            shards.append([])
            size = 0
        shards[-1].append((name, arr))
        size += arr.nbytes
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(dict(shard), os.path.join(directory, file), metadata={"format": "pt"})
        weight_map.update({name: file for name, _ in shard})
    index = {"metadata": {"total_size": sum(a.nbytes for _, a in tensors)}, "weight_map": weight_map}
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return {"index": "sharded/model.safetensors.index.json", "max_shard_bytes": max_shard_bytes,
            "order": [name for name, _ in tensors], "shard_metadata": {"format": "pt"},
            "tensors": {name: {"dtype": NPY_NAME[a.dtype.str], "shape": list(a.shape), "hex": a.tobytes().hex()}
                        for name, a in tensors}}


def aligned_header_shape():
    """A shape whose .npy header is already 64-aligned, so numpy adds a full 64 bytes of padding."""
    for ones in range(0, 20):
        for last in range(1, 200):
            shape = (2,) + (1,) * ones + (last,)
            buf = io.BytesIO()
            np.save(buf, np.zeros(shape, dtype=np.float32))
            hlen = struct.unpack("<H", buf.getvalue()[8:10])[0]
            if buf.getvalue()[10 + hlen - 65:10 + hlen - 1] == b" " * 64:
                return shape
    raise RuntimeError("no aligned shape found")


def make_npy(out):
    arrays = {
        "f2_2x3.npy": np.array([[0.5, -1.0, 65504.0], [2.0 ** -24, -0.0, 0.1]], dtype=np.float16),
        "f4_2x3x4.npy": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 3,
        "f8_5.npy": np.array([0.1, -0.2, 1e-310, 1e10, 3.0], dtype=np.float64),
        "i4_3.npy": np.array([-(2 ** 31), 7, 2 ** 31 - 1], dtype=np.int32),
        "i8_4.npy": np.array([-(2 ** 63), -1, 0, 2 ** 62], dtype=np.int64),
        "b1_2x2.npy": np.array([[True, False], [False, True]]),
        "u1_3x2.npy": np.array([[0, 255], [128, 1], [2, 3]], dtype=np.uint8),
        "f4_scalar.npy": np.array(-3.25, dtype=np.float32),
        "f4_empty.npy": np.zeros((0, 4), dtype=np.float32),
        "f4_long_dim.npy": np.arange(1000, dtype=np.float32) * 0.001,
        "f4_aligned_header.npy": np.full(aligned_header_shape(), 0.5, dtype=np.float32),
    }
    for name, arr in arrays.items():
        np.save(os.path.join(out, name), arr)
    for name, version in [("f4_v2.npy", (2, 0)), ("f4_v3.npy", (3, 0))]:
        with open(os.path.join(out, name), "wb") as f:
            np.lib.format.write_array(f, np.array([[1.5, -2.0]], dtype=np.float32), version=version)
    return sorted(list(arrays) + ["f4_v2.npy", "f4_v3.npy"])


def conversion_tables():
    import torch
    assert torch.__version__.startswith("1.13"), torch.__version__
    probes = [0x3F800000, 0x3F808000, 0x3F818000, 0x3F80FFFF, 0x3F800001, 0x7F7FFFFF, 0xFF7FFFFF,
              0x00000001, 0x80000001, 0x7F800000, 0xFF800000, 0x7FC00001, 0xFFC00000, 0x7F800001,
              0x477FE000, 0x477FF000, 0x477FEFFF, 0x33800000, 0x33000000, 0x33000001, 0x38800000, 0x387FC000,
              0x3DCCCCCD, 0xBDCCCCCD, 0x40490FDB, 0x00800000, 0x007FFFFF, 0x387FE000, 0x38000000, 0x37FFFFFF]
    rng = np.random.default_rng(7)
    probes += [int(x) for x in rng.integers(0, 2 ** 32, size=200, dtype=np.uint64)]
    as_f32 = np.array(probes, dtype=np.uint32).view(np.float32)
    bf16 = torch.from_numpy(as_f32.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    with np.errstate(over="ignore"):
        f16 = as_f32.astype(np.float16).view(np.uint16)
    return {
        "bf16": [[p, int(b)] for p, b in zip(probes, bf16)],
        "f16": [[p, int(h)] for p, h in zip(probes, f16)],
        "fp8": {name: [fp8(b, name).hex() for b in range(256)]
                for name in ["F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0"]},
    }


def generate():
    os.makedirs(FIXTURES, exist_ok=True)
    make_safetensors(FIXTURES)
    sharded = make_sharded(FIXTURES)
    npy_files = make_npy(FIXTURES)
    expected = {
        "versions": {"numpy": np.__version__, "safetensors": safetensors.__version__},
        "safetensors": {name: describe_safetensors(os.path.join(FIXTURES, name))
                        for name in ["mixed.safetensors", "no_metadata.safetensors", "empty.safetensors",
                                     "multi_metadata.safetensors", "raw_dtypes.safetensors"]},
        "sharded": sharded,
        "npy": {name: describe_npy(os.path.join(FIXTURES, name)) for name in npy_files},
        "conversions": conversion_tables(),
    }
    with open(os.path.join(FIXTURES, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(FIXTURES) for n in ns)
    print(f"wrote fixtures to {FIXTURES} ({total} bytes)")
    assert total < 200_000, total


# ---------------------------------------------------------------------------------------------------------------
# Verification of Swift-written files


# dtype names the Python binding's low-level `serialize` accepts (F4/F6/FNUZ have none or need reshaping).
BINDING_NAME = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "F16": "float16",
                "BF16": "bfloat16", "I32": "int32", "U32": "uint32", "F32": "float32", "F64": "float64",
                "I64": "int64", "U64": "uint64", "C64": "complex64", "F8_E4M3": "float8_e4m3fn",
                "F8_E5M2": "float8_e5m2", "F8_E8M0": "float8_e8m0fnu"}


def verify(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    failures, checks = [], 0

    def check(cond, what):
        nonlocal checks
        checks += 1
        if not cond:
            failures.append(what)

    for name, spec in manifest["safetensors"].items():
        path = os.path.join(directory, name)
        raw = open(path, "rb").read()
        got = {k: v for k, v in deserialize(raw)}
        check(sorted(got) == sorted(spec["tensors"]), f"{name}: tensor names {sorted(got)}")
        with safe_open(path, framework="np") as f:
            check(f.metadata() == spec["metadata"], f"{name}: metadata {f.metadata()}")
        for tname, t in spec["tensors"].items():
            info = got.get(tname, {})
            check(info.get("dtype") == t["dtype"], f"{name}/{tname}: dtype {info.get('dtype')}")
            check(list(info.get("shape", [])) == t["shape"], f"{name}/{tname}: shape {info.get('shape')}")
            check(bytes(info.get("data", b"")) == bytes.fromhex(t["hex"]), f"{name}/{tname}: bytes differ")
        if all(t["dtype"] in NUMPY_OF for t in spec["tensors"].values()):
            loaded = load_file(path)  # the numpy front end agrees too
            for tname, t in spec["tensors"].items():
                check(loaded[tname].tobytes() == bytes.fromhex(t["hex"]), f"{name}/{tname}: numpy load differs")
        rewritable = all(v["dtype"] in BINDING_NAME for v in got.values())
        if rewritable and (spec["metadata"] is None or len(spec["metadata"]) <= 1):  # Rust metadata order is random beyond one key
            flat = {k: {"dtype": BINDING_NAME[v["dtype"]], "shape": v["shape"], "data": bytes(v["data"])}
                    for k, v in got.items()}
            again = bytes(serialize(flat, metadata=spec["metadata"]))
            check(again == raw, f"{name}: Python re-serialization differs from the Swift bytes")

    for name, spec in manifest["npy"].items():
        path = os.path.join(directory, name)
        arr = np.load(path)
        check(arr.dtype.str == spec["descr"], f"{name}: descr {arr.dtype.str}")
        check(list(arr.shape) == spec["shape"], f"{name}: shape {arr.shape}")
        check(arr.tobytes() == bytes.fromhex(spec["hex"]), f"{name}: data differs")
        buf = io.BytesIO()
        np.save(buf, arr)
        check(buf.getvalue() == open(path, "rb").read(), f"{name}: np.save would write different bytes")

    for index_name, spec in manifest.get("sharded", {}).items():
        index_path = os.path.join(directory, index_name)
        index = json.load(open(index_path))
        base = os.path.dirname(index_path)
        check(sorted(index["weight_map"]) == sorted(spec["tensors"]), f"{index_name}: weight_map keys")
        total = 0
        for tname, t in spec["tensors"].items():
            shard = os.path.join(base, index["weight_map"][tname])
            info = dict(deserialize(open(shard, "rb").read())).get(tname, {})
            data = bytes(info.get("data", b""))
            total += len(data)
            check(info.get("dtype") == t["dtype"] and list(info.get("shape", [])) == t["shape"],
                  f"{index_name}/{tname}: dtype/shape {info.get('dtype')} {info.get('shape')}")
            check(data == bytes.fromhex(t["hex"]), f"{index_name}/{tname}: data differs")
        check(index["metadata"]["total_size"] == total, f"{index_name}: total_size")
        text = open(index_path).read()
        check(text == json.dumps(index, indent=2, sort_keys=True) + "\n", f"{index_name}: not transformers' formatting")

    for f in failures:
        print("FAIL", f)
    print(f"verify: {checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        sys.exit(verify(sys.argv[2]))
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)
