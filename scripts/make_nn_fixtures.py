#!/usr/bin/python3
"""Generate float64 reference fixtures for the Swift port of MIRO's transformer layers.

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    pip download --no-deps miro-t2i==0.1.4 -d /tmp/wheels      # only if the wheel is not there yet
    pip install --no-deps --target /tmp/pydeps einops==0.8.0    # pure-python wheel, any pip works
    PYTHONPATH=/tmp/pydeps /usr/bin/python3 scripts/make_nn_fixtures.py \
        --wheel /tmp/wheels/miro_t2i-0.1.4-py3-none-any.whl

  * Interpreter: Debian's /usr/bin/python3 (3.11) with the Debian packages
    python3-torch 1.13.1+dfsg (reports torch.__version__ == "1.13.0a0") and
    python3-numpy 1.24.2, plus einops 0.8.0 on PYTHONPATH (asserted below).
  * The official MIRO code is read straight out of the PyPI wheel miro-t2i==0.1.4
    (`--wheel PATH`, or env MIRO_WHEEL, or ./.whl/ or /tmp/wheels/). Only
    miro/models/networks/transformers.py is executed (as a standalone module, from the
    zip, after checking its RECORD hash). miro/models/networks/rin.py is only *parsed*
    (ast) to assert the exact SelfAttentionBlock / CrossAttentionBlock kwargs MIRO uses.
    No MIRO code is copied into this repository.
  * torch 1.13 has no F.scaled_dot_product_attention (MIRO requires torch>=2.1), so a
    float64 math reference is installed before the module is loaded (see sdpa_reference):
    softmax(q @ k^T * scale + bias) @ v, bool attn_mask True = attend (False -> -inf),
    scale defaults to 1/sqrt(E); like torch>=2.5 (_safe_softmax, pytorch PR #133882) a
    query row whose keys are ALL masked gets probability 0 everywhere, i.e. attention
    output 0 (torch 2.1-2.4's math backend returns NaN there instead).
  * Output: Tests/MiroNNTests/Fixtures/nn/*.safetensors (override with --out), written by
    hand below (no `safetensors` dependency): u64 LE header length, JSON header padded
    with spaces to a multiple of 8, raw little-endian data in sorted key order.
  * Deterministic: re-running reproduces the files byte for byte.

Fixture schema (one file per case; F64 unless noted):
  param.<state_dict key>   every entry of module.state_dict(), exactly torch's key names;
                           bool entries (attention_mask_dummy, shape (1,1)) are BOOL.
                           ALL float parameters are randomised (see randomise_params) so a
                           wrong key mapping shows up.
  input.<name>             forward inputs; masks are BOOL (True = valid token / attend)
  output.<name>            output of the official module, as-is. NOTE: the official RMSNorm
                           does x.float() (-> float32!) before normalising and casts back,
                           so in cases containing RMSNorm these carry float32 rounding
                           (~1e-7 relative).
  output_f64norm.<name>    only in cases containing RMSNorm: same forward, but RMSNorm
                           evaluated entirely in float64 (official _norm on the float64 input,
                           times weight). Use this one for tight float64 tolerances.
  __metadata__: {"config": <JSON: class, constructor kwargs, derived dims, forward calls,
                 semantics notes>, "generator": <script + versions + wheel/source hashes>}
"""

import argparse
import ast
import base64
import contextlib
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import types
import zipfile

import numpy as np
import torch
import torch.nn as nn

SCRIPT = "scripts/make_nn_fixtures.py"
MIRO_VERSION = "0.1.4"
WHEEL_NAME = "miro_t2i-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "637c2a634005c5a1f9cd01533472da3cfb14ab0838930087ce7aff5334d48f5c"
NUMPY_VERSION = "1.24.2"
TORCH_VERSION = "1.13.1"
EINOPS_VERSION = "0.8.0"
SEED = 4321
TRANSFORMERS_PY = "miro/models/networks/transformers.py"
RIN_PY = "miro/models/networks/rin.py"

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroNNTests", "Fixtures", "nn")


# --------------------------------------------------------------------------- versions
def debian_torch_version():
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "python3-torch"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except Exception:
        return None


def check_versions():
    assert np.__version__ == NUMPY_VERSION, f"need numpy {NUMPY_VERSION}, got {np.__version__}"
    tv = torch.__version__
    deb = debian_torch_version()
    if tv.split("+")[0] == TORCH_VERSION:
        pass
    elif tv.split("+")[0] == "1.13.0a0" and deb and deb.startswith(TORCH_VERSION + "+"):
        pass  # Debian's python3-torch 1.13.1 build reports this version string
    else:
        raise AssertionError(f"need torch {TORCH_VERSION}, got {tv} (dpkg python3-torch: {deb})")
    try:
        import einops
    except ImportError:
        sys.exit(f"einops missing: pip install --no-deps --target /tmp/pydeps einops=={EINOPS_VERSION} "
                 f"and run with PYTHONPATH=/tmp/pydeps")
    assert einops.__version__ == EINOPS_VERSION, f"need einops {EINOPS_VERSION}, got {einops.__version__}"
    return tv, deb, einops.__version__


# --------------------------------------------------------------------------- SDPA reference
SDPA_DOC = ("F.scaled_dot_product_attention emulated in float64 (torch 1.13 lacks it): "
            "s = (q @ k^T) * scale, scale = explicit arg (MIRO passes 1/sqrt(head_dim)); bool attn_mask: "
            "False -> s = -inf; float mask would be added; p = softmax(s, -1); rows whose scores are ALL -inf "
            "-> p = 0 (torch>=2.5 _safe_softmax; torch 2.1-2.4 math backend gives NaN); out = p @ v. "
            "attn_mask (B,Lq,Lk) is unsqueezed to (B,1,Lq,Lk) by CrossAttentionOp and broadcast over heads.")


def sdpa_reference(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    assert dropout_p == 0.0 and not is_causal
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    s = torch.matmul(query, key.transpose(-2, -1)) * scale
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            s = s.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            s = s + attn_mask
    p = torch.softmax(s, dim=-1)
    fully_masked = torch.isneginf(s).all(dim=-1, keepdim=True)
    p = torch.where(fully_masked, torch.zeros_like(p), p)
    return torch.matmul(p, value)


# --------------------------------------------------------------------------- wheel
def find_wheel(arg):
    cands = [arg, os.environ.get("MIRO_WHEEL"),
             os.path.join(REPO_ROOT, ".whl", WHEEL_NAME), os.path.join("/tmp/wheels", WHEEL_NAME)]
    for c in cands:
        if c and os.path.isfile(c):
            return c
    sys.exit(f"miro-t2i wheel not found; run: pip download --no-deps miro-t2i=={MIRO_VERSION} "
             f"-d /tmp/wheels  (then pass --wheel /tmp/wheels/{WHEEL_NAME})")


def read_checked(zf, record, path):
    src = zf.read(path)
    rec = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(src).digest()).rstrip(b"=").decode()
    assert record.get(path) == rec, f"RECORD hash mismatch for {path}"
    return src


def open_wheel(wheel_path):
    """Checks the wheel (sha256 pin, version) and returns (ZipFile, RECORD {path: hash}, wheel sha256)."""
    with open(wheel_path, "rb") as f:
        wheel_sha = hashlib.sha256(f.read()).hexdigest()
    assert wheel_sha == WHEEL_SHA256, f"unexpected wheel sha256 {wheel_sha}"
    zf = zipfile.ZipFile(wheel_path)
    meta = zf.read(f"miro_t2i-{MIRO_VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {MIRO_VERSION}\n" in meta, f"wheel is not miro-t2i {MIRO_VERSION}"
    record = {}
    for line in zf.read(f"miro_t2i-{MIRO_VERSION}.dist-info/RECORD").decode().splitlines():
        parts = line.split(",")
        if len(parts) >= 2 and parts[1]:
            record[parts[0]] = parts[1]
    return zf, record, wheel_sha


def exec_official(wheel_path, paths):
    """Executes official files (e.g. "miro/models/loss.py") straight out of the wheel, RECORD hashes
    checked, as modules of stub packages (miro/__init__.py is never run: it imports the pipeline, which
    needs PIL/diffusers). Returns ({leaf module name: module}, wheel sha256, {path: source sha256})."""
    zf, record, wheel_sha = open_wheel(wheel_path)
    packages = sorted({p[:-3].replace("/", ".").rsplit(".", 1)[0] for p in paths})
    for pkg in sorted({".".join(q.split(".")[:i]) for q in packages for i in range(1, q.count(".") + 2)}):
        if pkg in sys.modules and getattr(sys.modules[pkg], "__path__", None) == []:
            continue
        m = types.ModuleType(pkg)
        m.__path__ = []
        sys.modules[pkg] = m
        if "." in pkg:
            parent, leaf = pkg.rsplit(".", 1)
            setattr(sys.modules[parent], leaf, m)
    mods, hashes = {}, {}
    for path in paths:
        src = read_checked(zf, record, path)
        hashes[path] = hashlib.sha256(src).hexdigest()
        name = path[:-3].replace("/", ".")
        mod = types.ModuleType(name)
        mod.__file__ = f"{wheel_path}!/{path}"
        sys.modules[name] = mod
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
        parent, leaf = name.rsplit(".", 1)
        setattr(sys.modules[parent], leaf, mod)
        mods[leaf] = mod
    return mods, wheel_sha, hashes


def load_official(wheel_path):
    """Exec miro/models/networks/transformers.py from the wheel; return (module, rin.py source, hashes)."""
    zf, record, wheel_sha = open_wheel(wheel_path)
    hashes = {}
    tsrc = read_checked(zf, record, TRANSFORMERS_PY)
    rsrc = read_checked(zf, record, RIN_PY)
    hashes[TRANSFORMERS_PY] = hashlib.sha256(tsrc).hexdigest()
    hashes[RIN_PY] = hashlib.sha256(rsrc).hexdigest()

    # installed unconditionally (torch 1.13 lacks it; on newer torch force the documented semantics)
    torch.nn.functional.scaled_dot_product_attention = sdpa_reference
    mod = types.ModuleType("miro.models.networks.transformers")
    mod.__file__ = f"{wheel_path}!/{TRANSFORMERS_PY}"
    exec(compile(tsrc, mod.__file__, "exec"), mod.__dict__)
    return mod, rsrc.decode(), wheel_sha, hashes


# --------------------------------------------------------------------------- rin.py kwargs (ast)
def rin_block_kwargs(rin_src):
    """Return {site: {kw: source}} for the SelfAttentionBlock / CrossAttentionBlock calls in rin.py."""
    tree = ast.parse(rin_src)
    sites = {}
    for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                call, tgt = node.value, node.targets[0]
                name = ast.unparse(tgt)
                if isinstance(call.func, ast.Name) and call.func.id in ("CrossAttentionBlock",):
                    sites[f"{cls.name}.{name}"] = (call.func.id, {k.arg: ast.unparse(k.value) for k in call.keywords})
                else:  # nn.ModuleList([SelfAttentionBlock(...) for _ in ...])
                    for sub in ast.walk(call):
                        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and \
                                sub.func.id == "SelfAttentionBlock":
                            sites[f"{cls.name}.{name}"] = (sub.func.id, {k.arg: ast.unparse(k.value)
                                                                         for k in sub.keywords})
    return sites


# --------------------------------------------------------------------------- safetensors
DT = {"F64": ("<f8", 8), "BOOL": ("|b1", 1)}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for key in sorted(tensors):
        t = tensors[key]
        if t.dtype == torch.bool:
            arr, dt = np.ascontiguousarray(t.numpy().astype(np.bool_)), "BOOL"
        else:
            assert t.dtype == torch.float64, (key, t.dtype)
            arr, dt = np.ascontiguousarray(t.numpy().astype("<f8")), "F64"
        b = arr.tobytes()
        header[key] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little"))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors_pure(path):
    """numpy-free reader: returns {key: (dtype, shape, flat python list)}, metadata."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base, out, end = 8 + n, {}, 0
    for k in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        v = header[k]
        s, e = v["data_offsets"]
        assert s == end, f"gap/overlap at {k}"
        end = e
        count = math.prod(v["shape"])
        raw = data[base + s:base + e]
        if v["dtype"] == "F64":
            assert len(raw) == 8 * count
            vals = list(struct.unpack(f"<{count}d", raw))
        elif v["dtype"] == "BOOL":
            assert len(raw) == count and set(raw) <= {0, 1}
            vals = [bool(x) for x in raw]
        else:
            raise AssertionError(v["dtype"])
        out[k] = (v["dtype"], v["shape"], vals)
    assert base + end == len(data)
    return out, meta


def to_torch(entry):
    dtype, shape, vals = entry
    return torch.tensor(vals, dtype=torch.bool if dtype == "BOOL" else torch.float64).reshape(shape)


# --------------------------------------------------------------------------- helpers
def randomise_params(module, g, dtype=torch.float64):
    """Randomise every float parameter (not torch's / MIRO's defaults) so key mix-ups show. The draws are in
    torch's default dtype; `dtype` is what every float tensor of the module must then be (float32 for the
    release fixtures, which build their modules at the default dtype)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dtype == torch.bool:
                continue
            leaf = name.rsplit(".", 1)[-1]
            if p.dim() >= 2:  # Linear weights (out, in): keep activations O(1)
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))
            elif leaf.startswith("layer_scale"):
                p.copy_(torch.empty(p.shape).uniform_(0.2, 1.0, generator=g))
            elif leaf == "weight":  # RMSNorm / LayerNorm gains
                p.copy_(torch.empty(p.shape).uniform_(0.5, 1.5, generator=g))
            else:  # biases (linear and LayerNorm)
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    for k, v in module.state_dict().items():
        if v.dtype != torch.bool:
            assert v.dtype == dtype, (k, v.dtype)


PARAM_INIT_DOC = ("all float params randomised, torch.Generator seeded per case: Linear weight ~ N(0,1)/sqrt(fan_in); "
                  "norm weights ~ U(0.5,1.5); biases (linear, LayerNorm) ~ 0.3*N(0,1); layer_scale_* ~ U(0.2,1.0)")


def random_mask(shape, g, p_false=0.35):
    m = torch.rand(shape, generator=g) >= p_false
    m[..., 0] = True  # at least one True per row
    flat = m.reshape(-1, shape[-1])
    assert flat.any(dim=-1).all() and not m.all(), "mask must have some False, no all-False row"
    return m


def class_name(c):
    return f"{c.__module__}.{c.__qualname__}" if isinstance(c, type) else c


def jsonable_kwargs(kw):
    out = {}
    for k, v in kw.items():
        out[k] = class_name(v) if isinstance(v, type) else v
    return out


@contextlib.contextmanager
def rmsnorm_in_float64(T):
    """Temporarily evaluate the official RMSNorm without its float32 round trip."""
    orig = T.RMSNorm.forward

    def forward(self, x):
        out = self._norm(x)
        return out * self.weight if self.elementwise_affine else out

    T.RMSNorm.forward = forward
    try:
        yield
    finally:
        T.RMSNorm.forward = orig


def has_rmsnorm(T, module):
    return any(isinstance(m, T.RMSNorm) for m in module.modules())


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch_v, deb_v, einops_v = check_versions()
    torch.set_default_dtype(torch.float64)
    T, rin_src, wheel_sha, src_hashes = load_official(find_wheel(args.wheel))
    os.makedirs(args.out, exist_ok=True)

    # ---- what MIRO's rin.py actually passes (asserted, recorded in every config)
    sites = rin_block_kwargs(rin_src)
    text_site = sites["CADRINTextCond.self.transformers_blocks"]
    assert text_site[0] == "SelfAttentionBlock"
    text_kw_src = text_site[1]
    assert text_kw_src == {
        "dim_qkv": "latents_dim", "num_heads": "16", "mlp_multiplier": "4", "dropout": "0.0",
        "stochastic_depth": "0.0", "use_biases": "True", "use_layer_scale": "True", "layer_scale_value": "0.1",
        "use_qkv_biases": "True", "use_qk_norm": "False", "use_swiglu": "False", "norm_layer": "nn.LayerNorm",
    }, text_kw_src
    rin_sites = {k: v[1] for k, v in sites.items() if k.startswith("RINBlock")}
    for k in ("RINBlock.self.retriever_ca", "RINBlock.self.processer_sa", "RINBlock.self.writer_ca",
              "RINBlockCond.self.retrieve_cond"):
        assert k in rin_sites, (k, sorted(sites))
    # RIN blocks never override qkv-bias / qk-norm / swiglu / norm_layer -> module defaults
    for k, kw in rin_sites.items():
        assert not ({"use_qkv_biases", "use_qk_norm", "use_swiglu", "norm_layer", "attention_dim"} & set(kw)), k
    miro_usage = {"text_transformer_blocks": text_kw_src, "rin_blocks": rin_sites}

    generator = (f"{SCRIPT}; torch {torch_v} (debian python3-torch {deb_v}); numpy {np.__version__}; "
                 f"einops {einops_v}; python {sys.version.split()[0]}; miro-t2i {MIRO_VERSION} wheel sha256 "
                 f"{wheel_sha}; sources {json.dumps(src_hashes, sort_keys=True)}")
    rms_doc = ("official RMSNorm: y = (x.float() * rsqrt(mean(x.float()^2, -1) + eps)).type_as(x) * weight; "
               "x.float() is float32 even for float64 input -> output.* carries float32 rounding; "
               "output_f64norm.* = same forward with RMSNorm computed in float64")
    summary = []

    def save(fname, module, ctor, ctor_kwargs, inputs, outputs, forward_doc, extra=None, outputs64=None):
        tensors = {f"param.{k}": v.detach().clone() for k, v in module.state_dict().items()}
        tensors.update({f"input.{k}": v for k, v in inputs.items()})
        tensors.update({f"output.{k}": v.detach() for k, v in outputs.items()})
        if outputs64:
            tensors.update({f"output_f64norm.{k}": v.detach() for k, v in outputs64.items()})
        for k, v in tensors.items():
            assert v.dtype in (torch.float64, torch.bool), (k, v.dtype)
            if v.dtype == torch.float64:
                assert torch.isfinite(v).all(), k
        config = dict(
            class_=f"miro.models.networks.transformers.{ctor}", constructor_kwargs=jsonable_kwargs(ctor_kwargs),
            forward=forward_doc, seed=SEED, dtype="float64 (torch.set_default_dtype)", mode="eval()",
            param_init=PARAM_INIT_DOC, sdpa=SDPA_DOC,
            param_shapes={k: list(v.shape) for k, v in module.state_dict().items()},
            miro_rin_py_usage=miro_usage,
        )
        config["class"] = config.pop("class_")
        if outputs64:
            config["rmsnorm"] = rms_doc
        if extra:
            config.update(extra)
        meta = {"config": json.dumps(config, sort_keys=True), "generator": generator}
        path = os.path.join(args.out, fname)
        write_safetensors(path, tensors, meta)

        # ---- numpy-free sanity check: reload, compare bit-exactly, rebuild module from the file
        back, meta_back = read_safetensors_pure(path)
        assert meta_back == meta and set(back) == set(tensors), fname
        for k, v in tensors.items():
            assert back[k][1] == list(v.shape), k
            assert back[k][0] == ("BOOL" if v.dtype == torch.bool else "F64"), k
            assert back[k][2] == v.reshape(-1).tolist(), k
        fresh = getattr(T, ctor)(**ctor_kwargs).eval()
        sd = {k[len("param."):]: to_torch(e) for k, e in back.items() if k.startswith("param.")}
        fresh.load_state_dict(sd, strict=True)
        summary.append((fname, os.path.getsize(path), len(tensors)))
        return fresh, {k[len("input."):]: to_torch(e) for k, e in back.items() if k.startswith("input.")}, \
            {k: to_torch(e) for k, e in back.items() if k.startswith("output")}

    def gen(i):
        return torch.Generator().manual_seed(SEED + i)

    def check_same(fresh_out, back, key):
        assert torch.equal(fresh_out, back[key]), key

    # 1. RMSNorm
    g = gen(1)
    kw = dict(hidden_size=8, eps=1e-6)
    m = T.RMSNorm(**kw).eval()
    randomise_params(m, g)
    x = torch.randn(2, 3, 8, generator=g)
    with torch.no_grad():
        y = m(x)
        y64 = m._norm(x) * m.weight
    assert (y - y64).abs().max() > 0  # the float32 round trip is visible
    fresh, inp, back = save("rmsnorm.safetensors", m, "RMSNorm", kw, {"x": x}, {"y": y},
                            "y = module(x)", outputs64={"y": y64})
    with torch.no_grad():
        check_same(fresh(inp["x"]), back, "output.y")

    # 2. SwiGLU
    g = gen(2)
    kw = dict(dim_model=16, dropout=0.0, activation=nn.SiLU, hidden_layer_multiplier=4)
    m = T.SwiGLU(**kw).eval()
    randomise_params(m, g)
    assert m.linear_out.in_features == 256
    x = torch.randn(2, 5, 16, generator=g)
    with torch.no_grad():
        y = m(x)
    fresh, inp, back = save("swiglu.safetensors", m, "SwiGLU", kw, {"x": x}, {"y": y}, "y = module(x)",
                            extra=dict(hidden=256, note="h = linear_packed(x); x1, x2 = h.chunk(2, -1) "
                                       "(x1 = first 256 channels); y = linear_out(x1 * SiLU(x2)); "
                                       "hidden = int(mult*dim*2/3) rounded UP to a multiple of 256"))
    with torch.no_grad():
        check_same(fresh(inp["x"]), back, "output.y")

    # 3. FusedMLP
    g = gen(3)
    kw = dict(dim_model=16, dropout=0.0, activation=nn.GELU, hidden_layer_multiplier=4)
    m = T.FusedMLP(**kw).eval()
    randomise_params(m, g)
    x = torch.randn(2, 5, 16, generator=g)
    with torch.no_grad():
        y = m(x)
    fresh, inp, back = save("fused_mlp.safetensors", m, "FusedMLP", kw, {"x": x}, {"y": y}, "y = module(x)",
                            extra=dict(note="y = linear_2(GELU(linear_1(x))), nn.GELU() exact erf form"))
    with torch.no_grad():
        check_same(fresh(inp["x"]), back, "output.y")

    # 4./5. SelfAttentionBlock (RIN processer flavour, text-conditioning flavour)
    sa_cases = [
        ("self_attention_block_rin.safetensors", 4, dict(dim_qkv=32, num_heads=4)),
        ("self_attention_block_text.safetensors", 5, dict(
            dim_qkv=32, num_heads=4, mlp_multiplier=4, dropout=0.0, stochastic_depth=0.0, use_biases=True,
            use_layer_scale=True, layer_scale_value=0.1, use_qkv_biases=True, use_qk_norm=False,
            use_swiglu=False, norm_layer=nn.LayerNorm)),
    ]
    for fname, i, kw in sa_cases:
        g = gen(i)
        m = T.SelfAttentionBlock(**kw).eval()
        randomise_params(m, g)
        tokens = torch.randn(2, 7, 32, generator=g)
        mask = random_mask((2, 7), g)
        with torch.no_grad():
            outs = {"masked": m(tokens, token_mask=mask), "unmasked": m(tokens)}
            outs64 = None
            if has_rmsnorm(T, m):
                with rmsnorm_in_float64(T):
                    outs64 = {"masked": m(tokens, token_mask=mask), "unmasked": m(tokens)}
            # key-only masking: changing masked-out tokens changes only their own rows
            t2 = tokens.clone()
            t2[~mask] += 10.0
            o2 = m(t2, token_mask=mask)
            assert torch.allclose(o2[mask], outs["masked"][mask], rtol=0, atol=1e-12)
        fresh, inp, back = save(
            fname, m, "SelfAttentionBlock", kw, {"tokens": tokens, "token_mask": mask}, outs,
            {"masked": "module(tokens, token_mask=token_mask)", "unmasked": "module(tokens)"},
            outputs64=outs64,
            extra=dict(attention_dim=32, head_dim=8,
                       mask_semantics="attention_mask[b,i,j] = token_mask[b,j] (keys only; every query row, "
                                      "also padded ones, is computed and attends to the valid keys)",
                       qk_norm=("nn.LayerNorm(head_dim, eps=1e-6) (affine, shared by all heads) applied to "
                                "q and k per head" if kw.get("use_qk_norm", True) else "none")))
        with torch.no_grad():
            check_same(fresh(inp["tokens"], token_mask=inp["token_mask"]), back, "output.masked")
            check_same(fresh(inp["tokens"]), back, "output.unmasked")

    # 6. CrossAttentionBlock (two width orders)
    ca_cases = [
        ("cross_attention_block.safetensors", 6, dict(dim_q=32, dim_kv=48, num_heads=4), 6, 9),
        ("cross_attention_block_wide_q.safetensors", 7, dict(dim_q=48, dim_kv=32, num_heads=4), 6, 9),
    ]
    for fname, i, kw, lq, lk in ca_cases:
        g = gen(i)
        m = T.CrossAttentionBlock(**kw).eval()
        randomise_params(m, g)
        attn_dim = min(kw["dim_q"], kw["dim_kv"])
        assert m.ca.attention_dim == attn_dim == 32
        to_tokens = torch.randn(2, lq, kw["dim_q"], generator=g)
        from_tokens = torch.randn(2, lk, kw["dim_kv"], generator=g)
        from_mask = random_mask((2, lk), g)
        to_mask = random_mask((2, lq), g)
        calls = {
            "masked": lambda mm, a, b, tm, fm: mm(a, b, from_token_mask=fm),
            "both_masks": lambda mm, a, b, tm, fm: mm(a, b, to_token_mask=tm, from_token_mask=fm),
            "unmasked": lambda mm, a, b, tm, fm: mm(a, b),
        }
        with torch.no_grad():
            outs = {k: f(m, to_tokens, from_tokens, to_mask, from_mask) for k, f in calls.items()}
            with rmsnorm_in_float64(T):
                outs64 = {k: f(m, to_tokens, from_tokens, to_mask, from_mask) for k, f in calls.items()}
            # a False to_token_mask entry makes that query row fully masked -> attention output 0
            # -> the row is to + out.bias, then the FFN residual
            rows = ~to_mask
            exp = to_tokens + m.ca.out.bias
            exp = exp + m.ffn(m.middle_ln(exp))
            assert torch.allclose(outs["both_masks"][rows], exp[rows], rtol=0, atol=1e-12)
            assert torch.allclose(outs["both_masks"][to_mask], outs["masked"][to_mask], rtol=0, atol=1e-12)
        fresh, inp, back = save(
            fname, m, "CrossAttentionBlock", kw,
            {"to_tokens": to_tokens, "from_tokens": from_tokens, "from_token_mask": from_mask,
             "to_token_mask": to_mask}, outs,
            {"masked": "module(to_tokens, from_tokens, from_token_mask=from_token_mask)",
             "both_masks": "module(to_tokens, from_tokens, to_token_mask=to_token_mask, "
                           "from_token_mask=from_token_mask)",
             "unmasked": "module(to_tokens, from_tokens)"},
            outputs64=outs64,
            extra=dict(attention_dim=attn_dim, head_dim=attn_dim // 4,
                       ffn_hidden=m.ffn.linear_out.in_features,
                       mask_semantics="attention_mask[b,i,j] = to_token_mask[b,i] AND from_token_mask[b,j]; "
                                      "a missing mask is attention_mask_dummy.expand(B,L) (all True). Rows i "
                                      "with to_token_mask False are fully masked -> attention output 0 "
                                      "(torch>=2.5) so output row = to + out.bias + ffn(middle_ln(to + out.bias))",
                       qk_norm="nn.LayerNorm(head_dim, eps=1e-6) (affine, shared by all heads) on q and k"))
        with torch.no_grad():
            for k, f in calls.items():
                check_same(f(fresh, inp["to_tokens"], inp["from_tokens"], inp["to_token_mask"],
                             inp["from_token_mask"]), back, f"output.{k}")

    # 7. raw CrossAttentionOp
    g = gen(8)
    kw = dict(attention_dim=16, num_heads=2, dim_q=24, dim_kv=20, is_sa=False, use_qk_norm=True)
    m = T.CrossAttentionOp(**kw).eval()
    randomise_params(m, g)
    x_to = torch.randn(2, 5, 24, generator=g)
    x_from = torch.randn(2, 6, 20, generator=g)
    amask = random_mask((2, 5, 6), g)
    with torch.no_grad():
        outs = {"masked": m(x_to, x_from, attention_mask=amask), "unmasked": m(x_to, x_from)}
    fresh, inp, back = save(
        "attention_op_cross.safetensors", m, "CrossAttentionOp", kw,
        {"x_to": x_to, "x_from": x_from, "attention_mask": amask}, outs,
        {"masked": "module(x_to, x_from, attention_mask=attention_mask)", "unmasked": "module(x_to, x_from)"},
        extra=dict(head_dim=8, note="use_biases=True (out has bias), use_qkv_biases=False (q, kv no bias); "
                                    "k, v = kv(x_from).chunk(2, -1); heads split as '(h d)'; "
                                    "q_norm/k_norm = nn.LayerNorm(8, eps=1e-6)"))
    with torch.no_grad():
        check_same(fresh(inp["x_to"], inp["x_from"], attention_mask=inp["attention_mask"]), back, "output.masked")
        check_same(fresh(inp["x_to"], inp["x_from"]), back, "output.unmasked")

    total = 0
    for fname, size, n in summary:
        total += size
        print(f"{fname:42s} {size:8d} bytes  {n:4d} tensors")
    print(f"{'total':42s} {total:8d} bytes")
    print("rin.py text blocks:", json.dumps(text_kw_src))
    for k, v in rin_sites.items():
        print(f"rin.py {k}:", json.dumps(v))


if __name__ == "__main__":
    main()
