#!/usr/bin/python3
"""Generate float64 reference fixtures for the Swift optimizer / LR-schedule port.

HOW TO RUN (from the repository root, Debian bookworm python, no venv):

    pip download --no-deps miro-t2i==0.1.4 -d /tmp/wheels   # only if the wheel is not there yet
    /usr/bin/python3 scripts/make_optim_fixtures.py --wheel /tmp/wheels/miro_t2i-0.1.4-py3-none-any.whl

  * Interpreter: Debian's /usr/bin/python3 (3.11) with the Debian packages
    python3-torch 1.13.1+dfsg (reports torch.__version__ == "1.13.0a0")
    and python3-numpy 1.24.2 (`apt-get install python3-torch python3-numpy`).
  * The official MIRO code is read straight out of the PyPI wheel miro-t2i==0.1.4
    (`--wheel PATH`, or env MIRO_WHEEL, or ./.whl/ or /tmp/wheels/). Only
    miro/utils/optimizers.py (class Lamb) and miro/utils/lr_scheduler.py
    (class WarmupCosineDecayLR) are loaded, by executing those two files from the
    zip; miro/__init__.py is NOT imported (it pulls in diffusers etc.). No MIRO
    code is copied into this repository.
  * Output: Tests/MiroNNTests/Fixtures/optim/*.safetensors (override with --out).
    The safetensors files are written by hand below (no `safetensors` dependency):
    u64 LE header length, JSON header padded with spaces to a multiple of 8,
    raw little-endian data, tensors laid out in sorted key order.
  * The script is deterministic: re-running it reproduces the files byte for byte.

Fixture schema (every tensor dtype F64):
  init.<p>             parameter p before step 0
  grad.<k>.<p>         gradient fed to p at optimizer step k (k = 0..n-1); produced
                       by autograd of the toy loss at the CURRENT parameters, with a
                       few gradients overwritten by exact zeros (see config.zero_grads)
  param.<k>.<p>        value of p AFTER optimizer step k
  lr.<k>               shape (1,): param_group["lr"] in effect while step k ran
                       (identical in every group here)
  exp_avg.<n-1>.<p>    optimizer state after the last step
  exp_avg_sq.<n-1>.<p>
  __metadata__: {"config": <JSON string>, "generator": <script + versions>}
lr_schedule.safetensors: `lr` (41,) = get_lr(1.0, s), s=0..40, warmup 5, total 40,
  rate 0.8; `lr_nowarmup` (11,) = get_lr(1.0, s), s=0..10, warmup 0, total 10, rate 1.0.
"""

import argparse
import hashlib
import base64
import json
import os
import subprocess
import sys
import types
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_nn_fixtures as nnfx  # noqa: E402  (the checked wheel reader)

SCRIPT = "scripts/make_optim_fixtures.py"
MIRO_VERSION = "0.1.4"
WHEEL_NAME = "miro_t2i-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "637c2a634005c5a1f9cd01533472da3cfb14ab0838930087ce7aff5334d48f5c"
NUMPY_VERSION = "1.24.2"
TORCH_VERSION = "1.13.1"
PARAM_NAMES = ["w1", "b1", "norm", "w2", "zero"]
SEED = 1234

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroNNTests", "Fixtures", "optim")


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
    return tv, deb


# --------------------------------------------------------------------------- wheel
def find_wheel(arg):
    cands = [arg, os.environ.get("MIRO_WHEEL"),
             os.path.join(REPO_ROOT, ".whl", WHEEL_NAME), os.path.join("/tmp/wheels", WHEEL_NAME)]
    for c in cands:
        if c and os.path.isfile(c):
            return c
    sys.exit(f"miro-t2i wheel not found; run: pip download --no-deps miro-t2i=={MIRO_VERSION} "
             f"-d /tmp/wheels  (then pass --wheel /tmp/wheels/{WHEEL_NAME})")


def load_official(wheel_path):
    """Exec miro/utils/{optimizers,lr_scheduler}.py from the wheel as standalone modules."""
    zf, record, wheel_sha = nnfx.open_wheel(wheel_path)
    mods, hashes = {}, {}
    for name in ("optimizers", "lr_scheduler"):
        path = f"miro/utils/{name}.py"
        src = nnfx.read_checked(zf, record, path)
        hashes[path] = hashlib.sha256(src).hexdigest()
        mod = types.ModuleType(f"miro.utils.{name}")
        mod.__file__ = f"{wheel_path}!/{path}"
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
        mods[name] = mod
    return mods["optimizers"].Lamb, mods["lr_scheduler"].WarmupCosineDecayLR, wheel_sha, hashes


# --------------------------------------------------------------------------- safetensors
def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for key in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[key], dtype="<f8"))
        b = arr.tobytes()
        header[key] = {"dtype": "F64", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little"))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out, end_max = {}, 0
    for k, v in header.items():
        assert v["dtype"] == "F64"
        s, e = v["data_offsets"]
        end_max = max(end_max, e)
        out[k] = np.frombuffer(data[base + s:base + e], dtype="<f8").reshape(v["shape"])
    assert base + end_max == len(data)
    return out, meta


# --------------------------------------------------------------------------- toy problem
def toy_problem():
    g = torch.Generator().manual_seed(SEED)
    d = torch.float64
    x = torch.randn(8, 5, generator=g, dtype=d)
    target = torch.randn(8, 3, generator=g, dtype=d)
    init = {
        "w1": 0.5 * torch.randn(5, 4, generator=g, dtype=d),
        "b1": 0.1 * torch.randn(4, generator=g, dtype=d),
        "norm": 1.0 + 0.05 * torch.randn(4, generator=g, dtype=d),
        "w2": 0.5 * torch.randn(4, 3, generator=g, dtype=d),
        "zero": torch.zeros(3, dtype=d),  # all-zero weights: LAMB weight_norm == 0 -> trust ratio 1
    }
    return x, target, init


def loss_fn(p, x, target):
    out = ((x @ p["w1"] + p["b1"]) * p["norm"]).tanh() @ p["w2"] + p["zero"]
    return ((out - target) ** 2).mean()


LOSS_DOC = ("out = ((x@w1 + b1) * norm).tanh() @ w2 + zero; loss = mean((out-target)^2); "
            f"x (8,5), target (8,3), torch.Generator seed {SEED}, float64")


def run_case(make_opt, n_steps, zero_grads, scheduler_factory=None):
    """Run n_steps of the optimizer on the toy problem.

    zero_grads: {step: [param names]} whose gradient is replaced by exact zeros.
    scheduler_factory(opt) -> sched: stepped MIRO/Lightning style, i.e. AFTER optimizer
    step k with sched.step(global_step) where global_step = k + 1; it is never stepped
    before the first optimizer step.
    """
    x, target, init = toy_problem()
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = make_opt(params)
    sched = scheduler_factory(opt) if scheduler_factory else None
    t = {f"init.{k}": v.numpy().copy() for k, v in init.items()}
    losses = []
    for k in range(n_steps):
        for p in params.values():
            p.grad = None
        loss = loss_fn(params, x, target)
        losses.append(loss.item())
        loss.backward()
        for name in zero_grads.get(k, []):
            params[name].grad = torch.zeros_like(params[name])
        for name, p in params.items():
            t[f"grad.{k}.{name}"] = p.grad.detach().numpy().copy()
        lrs = [g["lr"] for g in opt.param_groups]
        assert all(lr == lrs[0] for lr in lrs)
        t[f"lr.{k}"] = np.array([lrs[0]], dtype=np.float64)
        opt.step()
        global_step = k + 1  # Lightning: optimizer step progress already incremented
        if sched is not None:
            sched.step(global_step)
        for name, p in params.items():
            t[f"param.{k}.{name}"] = p.detach().numpy().copy()
    last = n_steps - 1
    for name, p in params.items():
        st = opt.state[p]
        t[f"exp_avg.{last}.{name}"] = st["exp_avg"].numpy().copy()
        t[f"exp_avg_sq.{last}.{name}"] = st["exp_avg_sq"].numpy().copy()
    for v in t.values():
        assert v.dtype == np.float64 and np.all(np.isfinite(v))
    return t, losses


# --------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", default=None)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch_v, deb_v = check_versions()
    Lamb, WarmupCosineDecayLR, wheel_sha, src_hashes = load_official(find_wheel(args.wheel))
    os.makedirs(args.out, exist_ok=True)

    generator = (f"{SCRIPT}; torch {torch_v} (debian python3-torch {deb_v}); numpy {np.__version__}; "
                 f"python {sys.version.split()[0]}; miro-t2i {MIRO_VERSION} wheel sha256 {wheel_sha}; "
                 f"sources {json.dumps(src_hashes, sort_keys=True)}")
    sched_doc = ("MIRO DiffusionModule.configure_optimizers returns {'scheduler': s, 'interval': 'step'} and "
                 "lr_scheduler_step calls scheduler.step(self.global_step). Lightning calls it after each "
                 "optimizer step, when global_step already counts that step. So optimizer step k (0-based) runs "
                 "with lr = base_lr for k == 0 (the scheduler is never stepped before the first step and its "
                 "constructor does not touch the lr) and lr = get_lr(base_lr, k) for k >= 1.")
    A, B = ["w1", "w2", "zero"], ["b1", "norm"]
    summary = []

    def save(fname, tensors, config):
        if "init.w1" in tensors:  # optimizer fixture
            config = dict(config, param_names=PARAM_NAMES, loss=LOSS_DOC,
                          param_shapes={k: list(tensors[f"init.{k}"].shape) for k in PARAM_NAMES})
        meta = {"config": json.dumps(config, sort_keys=True), "generator": generator}
        path = os.path.join(args.out, fname)
        write_safetensors(path, tensors, meta)
        back, meta_back = read_safetensors(path)
        assert meta_back == meta and set(back) == set(tensors)
        for k in tensors:
            assert np.array_equal(back[k], tensors[k])
        summary.append((fname, os.path.getsize(path), len(tensors)))
        return path

    # 1. LAMB, MIRO two groups, coupled L2 wd, WarmupCosineDecayLR stepped Lightning style
    lamb_cfg = dict(lr=1e-2, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01, decouple=False, adam=False)
    zero_grads = {3: ["b1"]}

    def mk_lamb_miro(p):
        groups = [
            {"params": [p[n] for n in A], "weight_decay": 0.01, "layer_adaptation": True},
            {"params": [p[n] for n in B], "weight_decay": 0.0, "layer_adaptation": False},
        ]
        return Lamb(groups, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, decouple=False)

    sched_cfg = dict(warmup_steps=3, total_steps=20, rate=0.8)
    t, losses = run_case(mk_lamb_miro, 12, zero_grads,
                         lambda o: WarmupCosineDecayLR(o, **sched_cfg))
    # sanity: lr.k == base for k == 0, get_lr(base, k) otherwise
    ref = WarmupCosineDecayLR(None, **sched_cfg)
    for k in range(12):
        exp = 1e-2 if k == 0 else ref.get_lr(1e-2, k)
        assert t[f"lr.{k}"][0] == exp, (k, t[f"lr.{k}"][0], exp)
    save("lamb_miro.safetensors", t, dict(
        optimizer="miro.utils.optimizers.Lamb", optimizer_kwargs=lamb_cfg, steps=12,
        groups=[{"params": A, "weight_decay": 0.01, "layer_adaptation": True},
                {"params": B, "weight_decay": 0.0, "layer_adaptation": False}],
        scheduler="miro.utils.lr_scheduler.WarmupCosineDecayLR", scheduler_kwargs=sched_cfg,
        scheduler_stepping=sched_doc, zero_grads={str(k): v for k, v in zero_grads.items()},
        losses=losses))

    # 2. LAMB decoupled wd, single group without layer_adaptation key (-> wd > 0 -> True)
    zero_grads_dec = {0: ["w2"], 3: ["b1"]}  # w2 at step 0: adam_step == 0 -> adam_norm == 0 -> trust 1

    def mk_lamb_dec(p):
        return Lamb([{"params": [p[n] for n in PARAM_NAMES]}], lr=5e-3, betas=(0.9, 0.999), eps=1e-8,
                    weight_decay=0.05, decouple=True)

    t, losses = run_case(mk_lamb_dec, 6, zero_grads_dec)
    save("lamb_decoupled.safetensors", t, dict(
        optimizer="miro.utils.optimizers.Lamb",
        optimizer_kwargs=dict(lr=5e-3, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.05, decouple=True, adam=False),
        steps=6, groups=[{"params": PARAM_NAMES, "weight_decay": 0.05, "layer_adaptation": None,
                          "layer_adaptation_effective": True}],
        scheduler=None, scheduler_stepping="constant lr",
        zero_grads={str(k): v for k, v in zero_grads_dec.items()}, losses=losses))

    # 3. torch AdamW, single group and two groups
    adamw_kwargs = dict(lr=1e-2, betas=[0.9, 0.999], eps=1e-8, weight_decay=0.01, amsgrad=False)

    def mk_adamw(p):
        return torch.optim.AdamW([p[n] for n in PARAM_NAMES], lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=0.01)

    t, losses = run_case(mk_adamw, 6, zero_grads)
    save("adamw.safetensors", t, dict(
        optimizer="torch.optim.AdamW", optimizer_kwargs=adamw_kwargs, steps=6,
        groups=[{"params": PARAM_NAMES, "weight_decay": 0.01}], scheduler=None,
        scheduler_stepping="constant lr", zero_grads={str(k): v for k, v in zero_grads.items()},
        losses=losses))

    def mk_adamw_groups(p):
        return torch.optim.AdamW([{"params": [p[n] for n in A], "weight_decay": 0.01},
                                  {"params": [p[n] for n in B], "weight_decay": 0.0}],
                                 lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)

    t, losses = run_case(mk_adamw_groups, 6, zero_grads)
    save("adamw_groups.safetensors", t, dict(
        optimizer="torch.optim.AdamW", optimizer_kwargs=adamw_kwargs, steps=6,
        groups=[{"params": A, "weight_decay": 0.01}, {"params": B, "weight_decay": 0.0}], scheduler=None,
        scheduler_stepping="constant lr", zero_grads={str(k): v for k, v in zero_grads.items()},
        losses=losses))

    # 4. LR schedule
    s1 = WarmupCosineDecayLR(None, warmup_steps=5, total_steps=40, rate=0.8)
    s2 = WarmupCosineDecayLR(None, warmup_steps=0, total_steps=10, rate=1.0)
    lr = np.array([s1.get_lr(1.0, s) for s in range(41)], dtype=np.float64)
    lr_nw = np.array([s2.get_lr(1.0, s) for s in range(11)], dtype=np.float64)
    save("lr_schedule.safetensors", {"lr": lr, "lr_nowarmup": lr_nw}, dict(
        function="miro.utils.lr_scheduler.WarmupCosineDecayLR.get_lr(lr=1.0, step=s)",
        lr=dict(warmup_steps=5, total_steps=40, rate=0.8, steps=list(range(41))),
        lr_nowarmup=dict(warmup_steps=0, total_steps=10, rate=1.0, steps=list(range(11))),
        scheduler_stepping=sched_doc))

    total = 0
    for fname, size, n in summary:
        total += size
        print(f"{fname:28s} {size:7d} bytes  {n:4d} tensors")
    print(f"{'total':28s} {total:7d} bytes")
    assert total < 100_000
    lm, _ = read_safetensors(os.path.join(args.out, "lamb_miro.safetensors"))
    print("lamb_miro lr.k:", [float(lm[f"lr.{k}"][0]) for k in range(12)])
    print("lamb_miro zero after step 0:", lm["param.0.zero"], " w1[0,:] after step 11:", lm["param.11.w1"][0])
    print("lr_schedule lr[:7]:", lr[:7], " lr[40]:", lr[40], " lr_nowarmup[0], [10]:", lr_nw[0], lr_nw[10])


if __name__ == "__main__":
    main()
