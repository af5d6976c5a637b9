#!/usr/bin/env python3
"""Tiny enriched webdataset shards (MIRO's official layout) and reference values for MiroData's WebDataset tests.

What is written (official format: data/preprocess_data.py stage 3 via webdataset's TarWriter, method.md §2.4):
  per sample, members in TarWriter order (sorted extensions):
    {key}.flan_t5_xl_embeddings.npy            (n_tokens, D) float16   (np.save, format 1.0)
    {key}.jpg / {key}.txt                       a few placeholder bytes / the caption
    {key}.json                                  json.dumps(meta): width/height, the 7 scores, synthetic_* scores,
                                                synthetic captions (+ cc12m-style fields)
    {key}.synthetic_flan_t5_xl_embeddings.npy  (n_tokens', D) float16
    {key}.vae_embeddings_mean_256.npy / ..._std_256.npy   (4, 32, 32) float16
  shard-000000.tar  PAX format (Python's default; plain ustar headers unless needed) - incl. a missing score,
                    a 200-px image (filtered), a NaN score (json.dumps writes the NaN literal), 20 text tokens
  shard-000001.tar  USTAR format - a long path split into the 155-byte prefix field, a sample without the
                    synthetic embedding, one without width/height, one missing its VAE std member
  shard-000002.tar  GNU format - long names via '././@LongLink' (typeflag L)
  shard-000003.tar  PAX format with a global header (typeflag g) and long names via pax 'x' path records
  shard-000004.tar  one sample with malformed JSON, one with an .npy whose data is too short
  shard-000005.tar  the file is cut inside its last member's data (truncated archive)
  wids-index.json   {"__kind__": "wids-shard-index-v1", "wids_version": 1, "shardlist": [{"url", "nsamples"}]}
                    with relative urls; nsamples counted like the official `_count_samples_in_tar`
  expected.json     per-sample expectations (ok / filtered / corrupt reason, scores, token counts, float sums),
                    CPython `random.Random` reference draws, the official `ShardExclusiveSampler` orders, and the
                    official `build_coherence_bins_cache.py` selections with edges and cache bytes (edges via the
                    float32 re-implementation of `_compute_bins` in scripts/make_bins_fixtures.py)

Output is deterministic (numpy PCG64 seed, fixed tar mtime/uid/gid/uname).

Pinned versions (asserted): CPython 3.11 (Debian's /usr/bin/python3), numpy 1.24.2.

Run from the repository root:
  /usr/bin/python3 scripts/make_shard_fixtures.py
      -> Tests/MiroDataTests/Fixtures/shards/ (D = 64, about 0.7 MB)
  /usr/bin/python3 scripts/make_shard_fixtures.py --bench 16 64 --text-dim 2048 --out /tmp/miro-bench-shards
      -> 16 clean shards of 64 samples at the real D = 2048 (about 1 GB; for loader throughput measurements)
"""
import argparse
import io
import json
import math
import os
import random
import sys
import tarfile

import numpy as np

assert sys.version_info[:2] == (3, 11), f"pinned to CPython 3.11, got {sys.version}"
assert np.__version__ == "1.24.2", f"pinned to numpy 1.24.2, got {np.__version__}"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_bins_fixtures as binsref  # noqa: E402  (float32 re-implementation of _compute_bins)

REWARDS = ["clip_score", "aesthetic_score", "image_reward_score", "pick_a_score_score",
           "hpsv2_score", "vqa_score", "sciscore_score"]
RANGES = {"clip_score": (0.12, 0.27), "aesthetic_score": (0.35, 0.8), "image_reward_score": (0.1, 0.9),
          "pick_a_score_score": (0.17, 0.24), "hpsv2_score": (0.15, 0.33), "vqa_score": (0.0, 1.0),
          "sciscore_score": (0.18, 0.31)}
MTIME = 1_700_000_000
JPEG = b"\xff\xd8\xff\xe0" + b"fixture-not-a-real-jpeg" + b"\xff\xd9"
WORDS = "a red cube on a wooden table next to a small green sphere under soft morning light".split()


def f32(x):
    """Scores go through a float32 tensor and float() in the preprocessing, so they are float32 values."""
    return float(np.float32(x))


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def caption(rng, n):
    return " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), n))


def make_sample(rng, key, d, *, n_tokens=None, width=512, height=384, drop_scores=(), nan_scores=(),
                synthetic=True, wh=True):
    n = int(n_tokens if n_tokens is not None else rng.integers(3, 13))
    ns = int(rng.integers(4, 15))
    meta = {"caption": caption(rng, 6), "url": f"https://example.org/{key}.jpg", "key": key, "status": "success",
            "error_message": None}
    if wh:
        meta.update({"width": width, "height": height, "original_width": width * 2, "original_height": height * 2})
    for r in REWARDS:
        lo, hi = RANGES[r]
        if r not in drop_scores:
            meta[r] = f32(rng.uniform(lo, hi)) if r not in nan_scores else float("nan")
            meta["synthetic_" + r] = f32(rng.uniform(lo, hi))
    meta["synthetic_caption"] = caption(rng, 14)
    meta["short_synthetic_caption"] = caption(rng, 5)
    arrays = {
        "flan_t5_xl_embeddings.npy": (rng.standard_normal((n, d)) * 0.5).astype(np.float16),
        "vae_embeddings_mean_256.npy": rng.standard_normal((4, 32, 32)).astype(np.float16),
        "vae_embeddings_std_256.npy": (np.abs(rng.standard_normal((4, 32, 32))) * 0.05 + 0.01).astype(np.float16),
    }
    if synthetic:
        arrays["synthetic_flan_t5_xl_embeddings.npy"] = (rng.standard_normal((ns, d)) * 0.5).astype(np.float16)
    members = {k: npy_bytes(v) for k, v in arrays.items()}
    members["json"] = json.dumps(meta).encode("utf-8")
    members["txt"] = meta["caption"].encode("utf-8")
    members["jpg"] = JPEG
    return {"key": key, "meta": meta, "arrays": arrays, "members": members}


def write_tar(path, samples, fmt, pax_headers=None, truncate_tail=0):
    buf = io.BytesIO()
    kwargs = {"format": fmt}
    if pax_headers:
        kwargs["pax_headers"] = pax_headers
    with tarfile.open(fileobj=buf, mode="w", **kwargs) as tf:
        for s in samples:
            for ext in sorted(s["members"]):  # webdataset TarWriter writes sorted(obj.keys())
                data = s["members"][ext]
                ti = tarfile.TarInfo(s["key"] + "." + ext)
                ti.size, ti.mtime, ti.mode = len(data), MTIME, 0o444
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = "bigdata"
                tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    if truncate_tail:
        # Cut inside the last member's data: drop the end-of-archive blocks, the padding and part of the data.
        last = samples[-1]["members"][sorted(samples[-1]["members"])[-1]]
        end_of_data = raw.rfind(last) + len(last)
        raw = raw[:end_of_data - truncate_tail]
    with open(path, "wb") as f:
        f.write(raw)


def official_count(path):
    """_count_samples_in_tar: distinct name[:name.index('.')] over the regular members.

    Python's tarfile refuses to list an archive that ends inside a member ("unexpected end of data"), so for the
    truncated shard the official index builder fails; there the count of WIDS's own reader (MMIndexedTar, which
    walks the headers of whatever is present) is used: every header present counts.
    """
    keys = set()
    try:
        with tarfile.open(path, "r") as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
    except tarfile.ReadError:
        names = []
        with open(path, "rb") as f:
            raw = f.read()
        offset = 0
        while offset + 512 <= len(raw) and raw[offset:offset + 512].count(0) != 512:
            header = raw[offset:offset + 512]
            size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
            if header[156:157] in (b"0", b"\0"):
                names.append(header[0:100].rstrip(b"\0").decode("utf-8"))
            offset += 512 + (size + 511) // 512 * 512
    for name in names:
        if "." in name:
            keys.add(name[: name.index(".")])
    return len(keys)


def f16_sum(a):
    return float(np.sum(a.astype(np.float64)))


def expectation(s, outcome):
    meta, arrays = s["meta"], s["arrays"]
    syn = arrays.get("synthetic_flan_t5_xl_embeddings.npy")
    return {
        "key": s["key"], "expect": outcome,
        "width": meta.get("width"), "height": meta.get("height"),
        "scores": {r: meta.get(r) for r in REWARDS},
        "synthetic_scores": {r: meta.get("synthetic_" + r) for r in REWARDS},
        "text_tokens": int(arrays["flan_t5_xl_embeddings.npy"].shape[0]),
        "synthetic_text_tokens": None if syn is None else int(syn.shape[0]),
        "sums": {"vae_mean": f16_sum(arrays["vae_embeddings_mean_256.npy"]),
                 "vae_std": f16_sum(arrays["vae_embeddings_std_256.npy"]) if "vae_embeddings_std_256.npy" in arrays else None,
                 "text": f16_sum(arrays["flan_t5_xl_embeddings.npy"]),
                 "synthetic_text": None if syn is None else f16_sum(syn)},
        "first": {"vae_mean": [float(x) for x in arrays["vae_embeddings_mean_256.npy"].reshape(-1)[:4]],
                  "text": [float(x) for x in arrays["flan_t5_xl_embeddings.npy"].reshape(-1)[:4]]},
    }


def python_random_reference():
    out = []
    for seed in [42, 0, 2 ** 40 + 5, -7, 3407]:
        r = random.Random(seed)
        entry = {"seed": seed, "random": [r.random() for _ in range(5)],
                 "getrandbits": [r.getrandbits(k) for k in (1, 7, 32, 33, 64)]}
        entry["randbelow"] = [r._randbelow(n) for n in (1, 2, 3, 10, 1000, 2 ** 31 + 11)]
        entry["sample_small"] = r.sample(range(100), 10)
        entry["sample_large"] = r.sample(range(10 ** 6), 10)
        entry["sample_k"] = r.sample(range(40), 40)
        x = list(range(30))
        r.shuffle(x)
        entry["shuffle"] = x
        entry["after"] = r.random()
        out.append(entry)
    return out


def official_sampler(lengths, num_workers, rank, world, seed, epoch, shuffle):
    """ShardExclusiveSampler.__iter__ up to the per-worker index lists (global indices -> (shard, local))."""
    cum = np.cumsum([0] + lengths)
    rng = random.Random(seed + epoch)
    spr = len(lengths) // world
    start = rank * spr
    end = (rank + 1) * spr if rank < world - 1 else len(lengths)
    num_shards = end - start
    rank_shards = list(range(start, end))
    rng.shuffle(rank_shards)
    spw = num_shards // num_workers
    lists = []
    for w in range(num_workers):
        ws = w * spw
        we = (w + 1) * spw if w < num_workers - 1 else num_shards
        lists.append(rank_shards[ws:we])
    workers = []
    for shard_list in lists:
        visits = []
        if shuffle:
            rng.shuffle(shard_list)
        for s in shard_list:
            lo, hi = int(cum[s]), int(cum[s + 1])
            idx = list(range(lo, hi))
            if shuffle:
                rng.shuffle(idx)
            visits.append({"shard": s, "order": [i - lo for i in idx]})
        workers.append(visits)
    return workers


def official_bins(tar_paths, scores, synthetic_prob, max_samples, num_bins, seed, samples_per_tar=None):
    """scripts/build_coherence_bins_cache.py with per-tar results pooled in sorted tar order."""
    if samples_per_tar is None:
        samples_per_tar = max(1, max_samples // len(tar_paths) + 1)
    pooled = {s: [] for s in scores}
    for i, tar_path in enumerate(tar_paths):
        rng = random.Random(seed + i)
        out = {s: [] for s in scores}
        try:
            with tarfile.open(tar_path, "r") as tf:
                members = [m for m in tf.getmembers() if m.name.endswith(".json")]
                if samples_per_tar is not None and samples_per_tar < len(members):
                    members = rng.sample(members, samples_per_tar)
                for m in members:
                    try:
                        f = tf.extractfile(m)
                        if f is None:
                            continue
                        meta = json.loads(f.read().decode("utf-8"))
                    except Exception:
                        continue
                    use_synth = synthetic_prob > 0 and rng.random() < synthetic_prob
                    if use_synth:
                        for s in scores:
                            sk = f"synthetic_{s}"
                            if sk in meta:
                                meta[s] = meta[sk]
                    for s in scores:
                        if s in meta and isinstance(meta[s], (int, float)):
                            out[s].append(float(meta[s]))
        except Exception as e:
            print(f"[warn] failed reading {tar_path}: {e}")
        for s in scores:
            pooled[s].extend(out[s])
    rng = random.Random(seed)
    for s in scores:
        if len(pooled[s]) > max_samples:
            pooled[s] = rng.sample(pooled[s], max_samples)
    bins = {}
    for s in scores:
        if not pooled[s]:
            continue
        edges = binsref.compute_bins(pooled[s], num_bins, "quantile")
        if edges is not None:
            bins[s] = [float(x) for x in edges]
    name = f"coherence_bins_{num_bins}_bins_{'-'.join(sorted(scores))}_synthetic_prob_{synthetic_prob}.json"
    return {"scores": scores, "synthetic_prob": synthetic_prob, "max_samples": max_samples, "num_bins": num_bins,
            "seed": seed, "samples_per_tar": samples_per_tar,
            "pooled": {s: [None if math.isnan(v) else v for v in pooled[s]] for s in scores},
            "pooled_nan": {s: sum(1 for v in pooled[s] if math.isnan(v)) for s in scores},
            "file": name, "edges": bins, "cache": json.dumps(bins)}


def write_index(out, files):
    index = {"__kind__": "wids-shard-index-v1", "wids_version": 1,
             "shardlist": [{"url": f, "nsamples": official_count(os.path.join(out, f))} for f in files]}
    with open(os.path.join(out, "wids-index.json"), "w") as f:
        json.dump(index, f)
    return index


def fixtures(out, d):
    rng = np.random.default_rng(20260101)
    long_dir = "cc12m_subset_with_a_deliberately_long_directory_name/and_another_nested_directory_level_for_good_measure"
    shards = []  # (file, format name, tar format, kwargs, [(sample, outcome)])

    s0 = [(make_sample(rng, "000000000", d), "ok"),
          (make_sample(rng, "000000001", d, drop_scores=("vqa_score",)), "ok"),
          (make_sample(rng, "000000002", d, width=200), "filtered:below_min_size"),
          (make_sample(rng, "000000003", d, nan_scores=("sciscore_score",)), "ok"),
          (make_sample(rng, "000000004", d, n_tokens=20), "ok")]
    shards.append(("shard-000000.tar", "pax", tarfile.PAX_FORMAT, {}, s0))

    s1 = [(make_sample(rng, long_dir + "/000000010", d), "ok"),
          (make_sample(rng, "000000011", d, synthetic=False), "ok"),
          (make_sample(rng, "000000012", d, wh=False), "ok"),
          (make_sample(rng, "000000013", d), "corrupt:missing_member")]
    del s1[3][0]["members"]["vae_embeddings_std_256.npy"]
    del s1[3][0]["arrays"]["vae_embeddings_std_256.npy"]
    shards.append(("shard-000001.tar", "ustar", tarfile.USTAR_FORMAT, {}, s1))

    s2 = [(make_sample(rng, long_dir + "/and_a_third_one_to_pass_the_gnu_limit/000000020", d), "ok"),
          (make_sample(rng, "000000021", d), "ok"),
          (make_sample(rng, long_dir + "/and_a_third_one_to_pass_the_gnu_limit/000000022", d, height=255),
           "filtered:below_min_size"),
          (make_sample(rng, "000000023", d), "ok")]
    shards.append(("shard-000002.tar", "gnu", tarfile.GNU_FORMAT, {}, s2))

    s3 = [(make_sample(rng, "000000030", d), "ok"),
          (make_sample(rng, long_dir + "/pax_path_record_" + "x" * 40 + "/000000031", d), "ok"),
          (make_sample(rng, "000000032", d), "ok"),
          (make_sample(rng, "000000033", d), "ok")]
    shards.append(("shard-000003.tar", "pax-global", tarfile.PAX_FORMAT,
                   {"pax_headers": {"comment": "miro-swift shard fixture"}}, s3))

    s4 = [(make_sample(rng, "000000040", d), "ok"),
          (make_sample(rng, "000000041", d), "corrupt:malformed_json"),
          (make_sample(rng, "000000042", d), "corrupt:bad_npy"),
          (make_sample(rng, "000000043", d), "ok")]
    s4[1][0]["members"]["json"] = s4[1][0]["members"]["json"][:-25]  # cut mid-object
    good = s4[2][0]["members"]["flan_t5_xl_embeddings.npy"]
    s4[2][0]["members"]["flan_t5_xl_embeddings.npy"] = good[:len(good) - 2 * d]  # one row short
    shards.append(("shard-000004.tar", "pax", tarfile.PAX_FORMAT, {}, s4))

    s5 = [(make_sample(rng, "000000050", d), "ok"),
          (make_sample(rng, "000000051", d), "ok"),
          (make_sample(rng, "000000052", d), "ok"),
          (make_sample(rng, "000000053", d), "corrupt:truncated_member")]
    shards.append(("shard-000005.tar", "pax-truncated", tarfile.PAX_FORMAT, {"truncate_tail": 1000}, s5))

    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith(".tar") or name.endswith(".json"):
            os.remove(os.path.join(out, name))
    files = []
    for file, _, fmt, kwargs, samples in shards:
        write_tar(os.path.join(out, file), [s for s, _ in samples], fmt, **kwargs)
        files.append(file)
    index = write_index(out, files)
    lengths = [e["nsamples"] for e in index["shardlist"]]
    tar_paths = [os.path.join(out, f) for f in files]
    expected = {
        "text_dim": d, "reward_names": REWARDS, "min_image_size": 256,
        "shards": [{"file": f, "format": fmtname, "nsamples": n, "keys": [s["key"] for s, _ in samples],
                    "samples": [expectation(s, o) for s, o in samples]}
                   for (f, fmtname, _, _, samples), n in zip(shards, lengths)],
        "python_random": python_random_reference(),
        "sampler": [{"seed": seed, "epoch": ep, "rank": rk, "world_size": ws, "num_workers": nw, "shuffle": sh,
                     "workers": official_sampler(lengths, nw, rk, ws, seed, ep, sh)}
                    for (seed, ep, rk, ws, nw, sh) in [(0, 0, 0, 1, 2, True), (0, 1, 0, 1, 2, True),
                                                       (5, 3, 0, 1, 4, True), (0, 0, 1, 2, 2, True),
                                                       (0, 2, 0, 1, 3, False)]],
        "bins": [official_bins(tar_paths, REWARDS, 0.5, 100000, 64, 42),
                 official_bins(tar_paths, REWARDS, 0.5, 7, 64, 42),
                 official_bins(tar_paths, ["aesthetic_score", "clip_score"], 0.0, 100000, 8, 3, samples_per_tar=3)],
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out))
    print(f"wrote {len(files)} shards + wids-index.json + expected.json to {out} ({total / 1e6:.2f} MB)")


def bench(out, d, n_shards, per_shard):
    rng = np.random.default_rng(7)
    os.makedirs(out, exist_ok=True)
    files = []
    for s in range(n_shards):
        samples = [make_sample(rng, f"{s:05d}{i:04d}", d, n_tokens=int(rng.integers(20, 121)))
                   for i in range(per_shard)]
        file = f"bench-{s:06d}.tar"
        write_tar(os.path.join(out, file), samples, tarfile.PAX_FORMAT)
        files.append(file)
    write_index(out, files)
    print(f"wrote {n_shards} shards x {per_shard} samples (D = {d}) to {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(ROOT, "Tests", "MiroDataTests", "Fixtures", "shards"))
    p.add_argument("--text-dim", type=int, default=64, help="width D of the T5 embeddings (2048 officially)")
    p.add_argument("--bench", nargs=2, type=int, metavar=("SHARDS", "SAMPLES"),
                   help="write clean benchmark shards instead of the test fixtures")
    args = p.parse_args()
    if args.bench:
        bench(args.out, args.text_dim, *args.bench)
    else:
        fixtures(args.out, args.text_dim)


if __name__ == "__main__":
    main()
