#!/usr/bin/env python3
"""Reference fixtures for MiroData's reward binning (`RewardBins`): edges, conditioning values, cache bytes.

What is reproduced (official MIRO code, github.com/nicolas-dufour/miro @ 547003a):
  * `_compute_bins(values, num_bins, strategy, ...)` in data/text_wids_dataset.py, called by both
    `compute_coherence_bins` (the dataset) and scripts/build_coherence_bins_cache.py with
    `torch.tensor(vals, dtype=torch.float32)`:
        unique_values = torch.unique(values)
        "quantile": if len(unique_values) < num_bins + 1 -> torch.linspace(min, max, num_bins + 1)
                    else torch.quantile(unique_values, q=torch.linspace(0, 1, num_bins + 1))
                    (RuntimeError, e.g. > 2**24 elements -> the same linspace fallback)
        "uniform":  torch.linspace(min, max, num_bins + 1)
        bins[0] = 0.0; bins[-1] = 1.0; bins = torch.unique(bins)     (dedupe + sort)
    Everything is float32. torch is not imported for the fixtures (the official training code is not in
    the wheel and torch is not pinned here); its float32 kernels are re-implemented below in numpy:
      - torch.quantile (aten/src/ATen/native/Sorting.cpp, linear): rank = q * (n - 1) in float32,
        below = trunc(rank), above = ceil(rank), weight = rank - below, then lerp(lo, hi, weight)
        (aten/src/ATen/native/cpu/LerpKernel.cpp) = one fused multiply-add:
        |w| < 0.5 ? fma(w, hi - lo, lo) : fma(w - 1, hi - lo, hi).
      - torch.linspace (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp, scalar since torch 2.1):
        step = (end - start) / (steps - 1); i < steps // 2 ? fma(step, i, start) : fma(-step, steps - 1 - i, end).
      "fused" is what the CPU kernels compute on AVX2 / AVX512 (the -mfma builds contract a + b * c) and
      on aarch64; a pre-AVX2 x86 CPU running torch's DEFAULT kernels would round twice instead.
  * discretisation in TextWIDSDataset.__getitem__:
        bucket_index = torch.bucketize(torch.tensor(value, dtype=torch.float32), self.bins[score_name]).item()
        value = max(0, bucket_index - 1) / (self.actual_num_bins - 1)          # Python float, then float32
    bucketize(right=False) = number of edges e with !(e >= v), i.e. edges strictly below v (a NaN score
    compares "not >=" with every edge and lands past the last edge). A missing score gives float("nan").
  * the cache: json.dumps({name: edges.tolist()}) (default separators ", " / ": ", no indent, no trailing
    newline, insertion order = the configured reward order), file name
    f"coherence_bins_{B}_bins_{'-'.join(sorted(names))}_synthetic_prob_{p}.json" with p a Python float
    (so 0.5 -> "0.5", 0.0 -> "0.0").
  Deliberate deviation (documented in RewardBins.swift): non-finite values are dropped before fitting.

`--check-torch` (optional, needs torch >= 2.1 importable; numpy pin not asserted in that mode) runs the
official `_compute_bins` body with real torch on the fixture sets plus random trials and compares it with
the re-implementation bit for bit. Checked with torch 2.5.1+cu124 (CPU capability AVX2).

Pinned versions for generating (asserted below): CPython 3.11 (Debian's /usr/bin/python3), numpy 1.24.2.
Regenerate Tests/MiroDataTests/Fixtures/bins/ (run from the repository root):
  /usr/bin/python3 scripts/make_bins_fixtures.py
Cross-check against torch (any python with torch):
  python3 scripts/make_bins_fixtures.py --check-torch
"""
import json
import math
import os
import struct
import sys
from fractions import Fraction

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "MiroDataTests", "Fixtures", "bins")
F32 = np.float32


# ----------------------------------------------------------------------------------------------
# float32 primitives
# ----------------------------------------------------------------------------------------------
def round_f32(x: Fraction) -> np.float32:
    """Correctly rounded (nearest, ties to even) exact rational -> float32 (finite, normal range)."""
    c = F32(float(x))  # may be off by one ulp through double rounding; fix below
    best = None
    for cand in (np.nextafter(c, F32(-np.inf)), c, np.nextafter(c, F32(np.inf))):
        d = abs(Fraction(float(cand)) - x)
        if best is None or d < best[0] or (d == best[0] and int(cand.view(np.uint32)) % 2 == 0):
            best = (d, cand)
    return F32(best[1])


def fma32(a, b, c) -> np.float32:
    """float32 fused multiply-add, exactly rounded once."""
    a, b, c = F32(a), F32(b), F32(c)
    if a == 0 or b == 0:
        return F32(F32(a * b) + c)  # exact product 0 (sign rules do not matter for our finite inputs)
    return round_f32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def torch_linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """torch.linspace(start, end, steps) with dtype float32 on CPU (RangeFactoriesKernel.cpp, torch >= 2.1).

    The kernel is scalar: step = (end - start) / (steps - 1); element i is start + step * i for
    i < steps // 2, else end - step * (steps - i - 1). The per-capability kernels are compiled with FMA
    contraction (AVX2 / AVX512 builds, aarch64), so each element is one fused multiply-add.
    """
    start, end = F32(start), F32(end)
    out = np.zeros(steps, dtype=F32)
    if steps == 1:
        out[0] = start
        return out
    step = F32(F32(end - start) / F32(steps - 1))
    halfway = steps // 2
    for i in range(steps):
        if i < halfway:
            out[i] = fma32(step, F32(i), start)
        else:
            out[i] = fma32(F32(-step), F32(steps - i - 1), end)
    return out


def torch_quantile_linear_f32(sorted_values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """torch.quantile(values, q) (linear) for 1-D float32 values, already sorted, no NaN.

    Sorting.cpp: ranks = q * last_index (float32), ranks_below = ranks.toType(kLong), weights =
    ranks - ranks_below, ranks_above = ranks.ceil_(), then values_below.lerp_(values_above, weights).
    LerpKernel.cpp: |w| < 0.5 ? lo + w * (hi - lo) : hi - (hi - lo) * (1 - w); both the vector kernel
    (explicit vec::fmadd) and the contracted scalar tail evaluate it as one fused multiply-add.
    """
    n = len(sorted_values)
    last = F32(n - 1)
    out = np.zeros(len(q), dtype=F32)
    for k, qk in enumerate(q):
        rank = F32(F32(qk) * last)
        below = int(rank)  # trunc == floor for rank >= 0
        above = int(math.ceil(float(rank)))
        w = F32(rank - F32(below))
        lo, hi = sorted_values[below], sorted_values[above]
        d = F32(hi - lo)
        out[k] = fma32(w, d, lo) if abs(w) < 0.5 else fma32(F32(w - F32(1)), d, hi)
    return out


def finite_f32(values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    a = a[~np.isnan(a)].astype(F32)  # torch.tensor(vals, dtype=torch.float32): round to nearest
    return a[np.isfinite(a)]


def compute_bins(values, num_bins: int, strategy: str) -> np.ndarray:
    """Re-implementation of the official `_compute_bins` (quantile / uniform) in float32."""
    u = np.unique(finite_f32(values))  # torch.unique: sorted, -0.0 == 0.0
    u = np.where(u == 0, F32(0), u).astype(F32)
    if len(u) == 0:
        return None
    if strategy == "uniform" or len(u) < num_bins + 1 or len(u) > 2 ** 24:
        bins = torch_linspace_f32(float(u.min()), float(u.max()), num_bins + 1)
    elif strategy == "quantile":
        q = torch_linspace_f32(0.0, 1.0, num_bins + 1)
        bins = torch_quantile_linear_f32(u, q)
    else:
        raise ValueError(strategy)
    bins[0] = F32(0.0)
    bins[-1] = F32(1.0)
    bins = np.unique(bins)
    bins = np.where(bins == 0, F32(0), bins).astype(F32)
    return bins if len(bins) >= 2 else None


def conditioning_value(score, edges: np.ndarray, num_bins: int) -> np.float32:
    if score is None:
        return F32(np.nan)
    v = F32(score)  # torch.tensor(value, dtype=torch.float32)
    idx = int(np.sum(~(edges >= v)))  # cus_lower_bound: !(mid_val >= val)
    return F32(max(0, idx - 1) / (num_bins - 1))


def cache_name(names, num_bins, synth_prob, strategy="quantile"):
    s = "-".join(sorted(names))
    if strategy == "quantile":
        return f"coherence_bins_{num_bins}_bins_{s}_synthetic_prob_{synth_prob}.json"
    if strategy == "uniform":
        return f"coherence_bins_{num_bins}_bins_{s}_strategy_uniform_synthetic_prob_{synth_prob}.json"
    raise ValueError(strategy)


# ----------------------------------------------------------------------------------------------
# synthetic value sets
# ----------------------------------------------------------------------------------------------
def make_sets():
    rng = np.random.default_rng(20240611)
    sets = {}
    # a normalised reward in [0, 1] (e.g. aesthetic (a - 1) / 9): continuous, skewed
    sets["beta_reward"] = rng.beta(2.0, 5.0, 5000)
    # leaves [0, 1] on both sides (e.g. ImageReward (r + 2) / 4): forced 0/1 edges get re-sorted
    v = rng.normal(0.55, 0.3, 4000)
    sets["outside_unit"] = v
    # heavy ties: 4000 draws over 300 values on a 1/1000 grid, plus a few NaNs that must be dropped
    grid = np.round(rng.uniform(0.2, 0.8, 300), 3)
    t = rng.choice(grid, 4000, p=rng.dirichlet(np.full(300, 0.3)))
    t[[5, 77, 901]] = np.nan
    sets["heavy_ties"] = t
    # only 40 distinct values -> uniform (linspace) fallback
    few = np.round(rng.uniform(0.05, 0.9, 40), 6)
    sets["few_unique"] = rng.choice(few, 3000)
    # 70 consecutive float32 values near 0.7 -> interpolated quantiles collide, dedupe shrinks the edges
    base = np.float32(0.7)
    ulps = [np.float32(base)]
    for _ in range(69):
        ulps.append(np.nextafter(ulps[-1], np.float32(1)))
    sets["ulp_cluster"] = rng.choice(np.array(ulps, dtype=np.float64), 2000)
    # 129 unique values whose 1/64 and 63/64 quantiles are exactly -0.0 and 1.0: the forced first / last
    # edges duplicate them and torch.unique drops the copies -> 63 edges (also exercises -0.0 == 0.0)
    inner = np.sort(rng.uniform(0.01, 0.99, 123))
    uniq = np.concatenate([[-0.2, -0.1, -0.0], inner, [1.0, 1.1, 1.2]])
    sets["dedupe"] = rng.permutation(np.concatenate([uniq, rng.choice(uniq, 871)]))
    return sets


CASES = [  # (case name, value set, num_bins, strategy)
    ("beta_reward", "beta_reward", 64, "quantile"),
    ("outside_unit", "outside_unit", 64, "quantile"),
    ("heavy_ties", "heavy_ties", 64, "quantile"),
    ("few_unique", "few_unique", 64, "quantile"),
    ("ulp_cluster", "ulp_cluster", 64, "quantile"),
    ("beta_reward_uniform", "beta_reward", 64, "uniform"),
    ("outside_unit_b16", "outside_unit", 16, "quantile"),
    ("dedupe", "dedupe", 64, "quantile"),
]


def probes_for(edges: np.ndarray):
    """Scores to discretise: exact edges, float32 and float64 neighbours, out of range, NaN, inf, missing."""
    ps = [None, float("nan"), float("inf"), float("-inf"), -0.5, -0.0, 0.0, 1e-30, 1.0, 1.5, 1e30]
    for e in edges[:: max(1, len(edges) // 12)].tolist() + [float(edges[1]), float(edges[-2])]:
        e32 = F32(e)
        ps += [float(e32), float(np.nextafter(e32, F32(-np.inf))), float(np.nextafter(e32, F32(np.inf)))]
        # doubles just around the float32 edge: round to the edge in float32 (not strictly above it)
        ps += [float(np.nextafter(float(e32), np.inf)), float(np.nextafter(float(e32), -np.inf))]
        # halfway to the next float32 (ties-to-even decides)
        up = np.nextafter(e32, F32(np.inf))
        ps += [float((Fraction(float(e32)) + Fraction(float(up))) / 2)]
    rng = np.random.default_rng(7)
    ps += rng.uniform(-0.1, 1.1, 40).tolist()
    return ps


def hex64(x: float) -> str:
    return "%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


def bits32(x) -> int:
    return int(np.asarray(x, dtype=F32).view(np.uint32))


def repr_table():
    rng = np.random.default_rng(99)
    xs = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.30000000000000004, 1e-05, 1e-4, 0.0001234, 1e-05 * 3, 1.5e-05,
          123456789.0, 1e15, 1e16, 1e17, 9007199254740992.0, 9007199254740993.0, 1234567890123456.7,
          12345678901234567.0, 1e22, 1e23, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
          0.5, 0.25, 2.0 ** -20, 2.0 ** 60, 100.0, 1e100, 1.0 / 3.0, 2.0 / 3.0, 0.015625, 0.984375,
          float(F32(0.1)), float(F32(1e-5)), float(F32(0.7)), 9.999999999999999e-05, 0.00010000000000000002]
    xs += [float(x) for x in rng.random(150).astype(F32)]
    xs += [float(x) for x in (rng.random(60) * 10.0 ** rng.integers(-12, 20, 60))]
    xs += [float(x) for x in (-rng.random(20) * 10.0 ** rng.integers(-8, 8, 20)).astype(F32)]
    # random bit patterns (finite only)
    bits = rng.integers(0, 2 ** 63 - 1, 200, dtype=np.int64)
    for b in bits:
        x = struct.unpack("<d", struct.pack("<q", int(b)))[0]
        if math.isfinite(x):
            xs.append(x)
    return [[hex64(x), repr(x)] for x in xs]


def generate():
    assert sys.version_info[:2] == (3, 11), sys.version
    assert np.__version__ == "1.24.2", np.__version__
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    sets = make_sets()
    for name, vals in sets.items():
        with open(os.path.join(OUT, f"values_{name}.f64"), "wb") as fh:
            fh.write(np.asarray(vals, dtype="<f8").tobytes())

    cases = []
    fitted = {}
    for case, set_name, nb, strategy in CASES:
        vals = sets[set_name]
        edges = compute_bins(vals, nb, strategy)
        fitted[case] = edges
        u = np.unique(finite_f32(vals))
        probes = probes_for(edges)
        cases.append({
            "name": case, "values": f"values_{set_name}.f64", "count": len(vals), "num_bins": nb,
            "strategy": strategy, "unique_f32": int(len(u)),
            "fallback_uniform": bool(strategy == "quantile" and len(u) < nb + 1),
            "edges_f32_bits": [bits32(e) for e in edges],
            "probes_f64_hex": [None if p is None else hex64(p) for p in probes],
            "expected_f32_bits": [bits32(conditioning_value(p, edges, nb)) for p in probes],
        })

    # cache file exactly as build_coherence_bins_cache.py writes it (insertion order = --scores order)
    order = ["clip_score", "aesthetic_score", "image_reward_score", "hpsv2_score"]
    from_case = {"clip_score": "beta_reward", "aesthetic_score": "outside_unit",
                 "image_reward_score": "heavy_ties", "hpsv2_score": "few_unique"}
    bins = {s: [float(x) for x in fitted[from_case[s]].tolist()] for s in order}
    fname = cache_name(order, 64, 0.5)
    with open(os.path.join(OUT, fname), "w") as fh:
        fh.write(json.dumps(bins))

    names = [
        {"rewards": order, "num_bins": 64, "synth_prob": 0.5, "strategy": "quantile"},
        {"rewards": ["vqa_score", "clip_score"], "num_bins": 64, "synth_prob": 0.0, "strategy": "quantile"},
        {"rewards": ["b", "a"], "num_bins": 8, "synth_prob": 1e-05, "strategy": "uniform"},
        {"rewards": ["sciscore_score"], "num_bins": 32, "synth_prob": 0.25, "strategy": "quantile"},
        {"rewards": ["x"], "num_bins": 64, "synth_prob": 1.0, "strategy": "quantile"},
        {"rewards": ["x"], "num_bins": 64, "synth_prob": 0.1 + 0.2, "strategy": "quantile"},
    ]
    for n in names:
        n["synth_prob_hex"] = hex64(n["synth_prob"])
        n["expected"] = cache_name(n["rewards"], n["num_bins"], n["synth_prob"], n["strategy"])

    expected = {
        "generator": "scripts/make_bins_fixtures.py",
        "numpy": np.__version__,
        "cases": cases,
        "cache": {"file": fname, "order": order, "from_case": from_case, "num_bins": 64, "synth_prob": 0.5},
        "file_names": names,
        "repr_table": repr_table(),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, separators=(",", ":"))
        fh.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes to {OUT}")
    assert total < 300_000, total


# ----------------------------------------------------------------------------------------------
# cross-check with real torch
# ----------------------------------------------------------------------------------------------
def official_compute_bins_torch(torch, values, num_bins, strategy):
    """The official `_compute_bins` body (quantile / uniform branches), verbatim semantics."""
    unique_values = torch.unique(values)
    if strategy == "uniform":
        bins = torch.linspace(unique_values.min().item(), unique_values.max().item(), num_bins + 1)
    elif strategy == "quantile":
        if len(unique_values) < num_bins + 1:
            bins = torch.linspace(unique_values.min().item(), unique_values.max().item(), num_bins + 1)
        else:
            try:
                bins = torch.quantile(unique_values, q=torch.linspace(0, 1, num_bins + 1))
            except RuntimeError:
                bins = torch.linspace(unique_values.min().item(), unique_values.max().item(), num_bins + 1)
    bins[0] = 0.0
    bins[-1] = 1.0
    bins = torch.unique(bins)
    return None if len(bins) < 2 else bins


def check_torch():
    import torch
    print("torch", torch.__version__, "cpu capability", torch.backends.cpu.get_cpu_capability())
    rng = np.random.default_rng(1)
    sets = make_sets()
    trials = [(v, nb, st) for _, s, nb, st in CASES for v in [sets[s]]]
    for _ in range(300):
        n = int(rng.integers(2, 3000))
        kind = rng.integers(0, 4)
        if kind == 0:
            v = rng.beta(rng.uniform(0.3, 5), rng.uniform(0.3, 5), n)
        elif kind == 1:
            v = rng.normal(rng.uniform(-2, 2), rng.uniform(1e-4, 3), n)
        elif kind == 2:
            v = np.round(rng.uniform(0, 1, n), int(rng.integers(1, 4)))
        else:
            v = rng.uniform(-1e3, 1e3, n) * 10.0 ** rng.integers(-6, 3)
        nb = int(rng.choice([4, 8, 16, 63, 64, 100, 128]))
        st = "uniform" if rng.random() < 0.3 else "quantile"
        trials.append((v, nb, st))
    bad = 0
    for v, nb, st in trials:
        fin = finite_f32(v)
        ref = official_compute_bins_torch(torch, torch.tensor(fin.astype(np.float64).tolist(), dtype=torch.float32), nb, st)
        mine = compute_bins(v, nb, st)
        a = ref.numpy().view(np.uint32).tolist()
        b = mine.view(np.uint32).tolist()
        if a != b:
            bad += 1
            print("MISMATCH", st, nb, len(fin), [(x, y) for x, y in zip(a, b) if x != y][:5], len(a), len(b))
            continue
        # conditioning values through real torch.bucketize
        probes = probes_for(mine)
        for p in probes:
            if p is None:
                continue
            idx = torch.bucketize(torch.tensor(p, dtype=torch.float32), ref).item()
            want = torch.tensor(max(0, idx - 1) / (nb - 1), dtype=torch.float32).numpy().view(np.uint32)
            got = conditioning_value(p, mine, nb).view(np.uint32)
            if int(want) != int(got):
                bad += 1
                print("BUCKET MISMATCH", p, int(want), int(got))
        # json round-trip of .tolist()
        assert json.loads(json.dumps(ref.tolist())) == [float(x) for x in mine.tolist()]
    print(f"{len(trials)} trials, {bad} mismatches")
    return bad == 0


if __name__ == "__main__":
    if "--check-torch" in sys.argv:
        sys.exit(0 if check_torch() else 1)
    generate()
