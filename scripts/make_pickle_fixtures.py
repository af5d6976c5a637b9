#!/usr/bin/python3
"""PyTorch `.pt` zip checkpoints written by `torch.save`, for the restricted unpickler in MiroFormats.

HOW TO RUN (from the repository root, Debian bookworm python, no venv, no extra wheels):

    /usr/bin/python3 scripts/make_pickle_fixtures.py

  * Interpreter: Debian's /usr/bin/python3 (3.11) with the Debian packages python3-torch 1.13.1+dfsg
    (reports torch.__version__ == "1.13.0a0") and python3-numpy 1.24.2 (asserted below). No pip installs.
  * Output: Tests/MiroFormatsTests/Fixtures/pickle/ (override with --out):
      plain.pt        a flat dict: float32 / float16 / bfloat16 / int64 / bool tensors, a transposed
                      (non-contiguous) view, two views sharing one storage (one with a storage offset),
                      a 0-d scalar and an empty tensor
      nested.pt       {"state_dict": OrderedDict(...), "epoch": 7, "name": "tiny", "lr": 0.5}
      mlp.pt          nn.Module.state_dict() of a tiny MLP shaped like the LAION aesthetic predictor
                      (Linear/Dropout/.../Linear) with the `_metadata` attribute torch attaches
      params.pt       {"w": nn.Parameter, "b": nn.Parameter(requires_grad=False)} (_rebuild_parameter)
      module.pt       torch.save(nn.Linear(2, 2)): the whole module, whose class global must be refused
      malicious.pt    a torch-shaped zip whose data.pkl is hand-written protocol-2 bytes calling os.system
                      via GLOBAL + REDUCE (never executed by anyone: the bytes are only written here)
      malicious4.pt   the same with builtins.eval through protocol-4 STACK_GLOBAL
      deflated.pt     plain.pt re-zipped with DEFLATE (torch never compresses): must be refused
      expected.json   per file: the tensors in state-dict order, flattened names, dtype, shape, strides,
                      storage offset and the C-order bytes of each tensor (hex), plus the refusals expected
  * Deterministic: fixed seeds and zip timestamps; re-running reproduces every file byte for byte.
"""
import argparse
import collections
import io
import json
import os
import pickletools
import struct
import sys
import zipfile

import numpy as np
import torch

assert sys.version_info[:2] == (3, 11), sys.version
assert torch.__version__.startswith("1.13"), torch.__version__
assert np.__version__ == "1.24.2", np.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
          torch.bool: "BOOL"}


def contiguous_hex(t):
    # bfloat16 has no numpy dtype: view the raw bits as int16 first.
    c = t.detach().contiguous()
    if c.dtype == torch.bfloat16:
        c = c.view(torch.int16)
    return c.numpy().tobytes().hex()


def describe(tensors):
    return [{"name": name, "dtype": DTYPES[t.dtype], "shape": list(t.shape), "strides": list(t.stride()),
             "storage_offset": t.storage_offset(), "hex": contiguous_hex(t)} for name, t in tensors]


def flat(prefix, value, out):
    if isinstance(value, torch.Tensor):
        out.append((prefix, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            flat(f"{prefix}.{k}" if prefix else str(k), v, out)


def plain_dict():
    g = torch.Generator().manual_seed(22)
    base = torch.randn(3, 4, generator=g)
    shared = torch.arange(10, dtype=torch.float32) * 0.25 - 1.0
    return {
        "f32": torch.randn(2, 3, generator=g),
        "f16": torch.randn(4, generator=g).to(torch.float16),
        "bf16": torch.randn(2, 2, generator=g).to(torch.bfloat16),
        "i64": torch.tensor([[1, -2, 3], [2**40, -(2**62), 0]], dtype=torch.int64),
        "flags": torch.tensor([True, False, True, True]),
        "transposed": base.t(),                       # shape [4, 3], strides [1, 4]
        "shared_a": shared[:6].view(2, 3),            # storage offset 0
        "shared_b": shared[4:].view(3, 2),            # same storage, offset 4
        "every_other": shared[1::2],                  # stride 2, offset 1
        "scalar": torch.tensor(3.5, dtype=torch.float64),
        "empty": torch.zeros(0, 5),
    }


def mlp_state_dict():
    torch.manual_seed(5)
    # The LAION aesthetic MLP is Linear(768,1024) Dropout Linear(1024,128) Dropout Linear(128,64) Dropout
    # Linear(64,16) Linear(16,1) under `layers`; the same structure with small widths.
    model = torch.nn.Module()
    model.layers = torch.nn.Sequential(
        torch.nn.Linear(8, 6), torch.nn.Dropout(0.2), torch.nn.Linear(6, 4), torch.nn.Dropout(0.2),
        torch.nn.Linear(4, 3), torch.nn.Dropout(0.1), torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    return model.state_dict()


def entry(name, compression=zipfile.ZIP_STORED):
    # A fixed timestamp keeps the hand-made zips byte-identical between runs.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compression
    return info


def torch_like_zip(path, stem, pickle_bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(entry(f"{stem}/data.pkl"), pickle_bytes)
        z.writestr(entry(f"{stem}/byteorder"), "little")
        z.writestr(entry(f"{stem}/version"), "3\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests/MiroFormatsTests/Fixtures/pickle"))
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    expected = {"generator": f"scripts/make_pickle_fixtures.py, torch {torch.__version__}, numpy {np.__version__}",
                "files": {}}

    def save(name, obj, ignored):
        path = os.path.join(out, name)
        torch.save(obj, path)
        tensors = []
        flat("", obj, tensors)
        expected["files"][name] = {"tensors": describe(tensors), "ignored": ignored}
        # torch's own reader agrees with what we describe
        back = torch.load(path)
        again = []
        flat("", back, again)
        assert [n for n, _ in again] == [n for n, _ in tensors]

    plain = plain_dict()
    save("plain.pt", plain, [])
    torch.manual_seed(7)
    nested = {"state_dict": collections.OrderedDict(
        [("encoder.weight", torch.randn(3, 2)), ("encoder.bias", torch.randn(3)),
         ("head.weight", torch.randn(1, 3).to(torch.float16))]), "epoch": 7, "name": "tiny", "lr": 0.5}
    save("nested.pt", nested, ["epoch", "name", "lr"])
    save("mlp.pt", mlp_state_dict(), [])
    g = torch.Generator().manual_seed(9)
    params = {"w": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
              "b": torch.nn.Parameter(torch.randn(2, generator=g), requires_grad=False)}
    save("params.pt", params, [])

    torch.save(torch.nn.Linear(2, 2), os.path.join(out, "module.pt"))

    # Protocol 2, exactly what a hostile data.pkl would hold: os.system("echo pwned") when unpickled by Python.
    evil = (b"\x80\x02" + b"}q\x00" + b"X\x01\x00\x00\x00xq\x01"
            + b"cos\nsystem\nq\x02" + b"X\x0a\x00\x00\x00echo pwned" + b"\x85" + b"R" + b"s" + b".")
    pickletools.dis(evil, out=io.StringIO())  # well-formed (disassembled, never loaded)
    torch_like_zip(os.path.join(out, "malicious.pt"), "malicious", evil)
    # Protocol 4: STACK_GLOBAL builtins.eval, with FRAME and MEMOIZE.
    body = (b"\x8c\x08builtins\x94" + b"\x8c\x04eval\x94" + b"\x93\x94"
            + b"\x8c\x031+1\x94" + b"\x85\x94" + b"R\x94" + b".")
    evil4 = b"\x80\x04" + b"\x95" + struct.pack("<Q", len(body)) + body
    pickletools.dis(evil4, out=io.StringIO())
    torch_like_zip(os.path.join(out, "malicious4.pt"), "malicious4", evil4)

    with zipfile.ZipFile(os.path.join(out, "plain.pt")) as src, \
            zipfile.ZipFile(os.path.join(out, "deflated.pt"), "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(entry(info.filename, zipfile.ZIP_DEFLATED), src.read(info.filename))

    expected["refused"] = {"module.pt": "torch.nn.modules.linear.Linear", "malicious.pt": "os.system",
                           "malicious4.pt": "builtins.eval"}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"wrote {len(os.listdir(out))} files, {total} bytes, to {out}")


if __name__ == "__main__":
    main()
