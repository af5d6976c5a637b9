#!/usr/bin/python3
"""Reference side of the ImageReward v1.0 speed comparison: the image-reward 1.5 package's own `ImageReward`
(BLIP ViT-L/16 + med BERT with cross-attention + MLP) at full size with random weights, `score_gard` on
224² pixels and 35-token prompts, timed after a warm-up, in float32 on the CPU.

HOW TO RUN: the same stack as scripts/make_imagereward_fixtures.py (its docstring has the pip commands):

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-blip /usr/bin/python3 \
        scripts/bench_imagereward_reference.py --wheel /tmp/ir-wheels/image_reward-1.5-py3-none-any.whl [--batch 4]

The Swift side: MIRO_IMAGEREWARD_TIMING=1 swift test -c release --skip-build --filter ImageRewardTimingTests.
Both use libtorch's default intra-op threads unless --threads is given. To time the reference on the libtorch the
Swift build links (PyPI's torch 2.15.0 in .deps/pytorch-2.15.0-python), put that first on PYTHONPATH and pass
--stub-torchvision (Debian's torchvision is built for torch 1.13).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import importlib.machinery  # noqa: E402
import types  # noqa: E402


class _AnyMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        member = _AnyMeta(name, (cls,), {})  # distinct per name: timm builds dicts keyed by enum members
        setattr(cls, name, member)
        return member


class _Any(metaclass=_AnyMeta):
    """Any torchvision name: a class whose every attribute is itself and whose instances do nothing."""
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return None


class _Stub(types.ModuleType):
    """Stands in for torchvision, whose transforms only preprocessing (not timed) and timm's data module import:
    Debian's torchvision is built for torch 1.13 and aborts beside PyPI's torch 2.15."""
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        member = _AnyMeta(name, (_Any,), {})
        setattr(self, name, member)
        return member


class _StubFinder:
    """Serves every `torchvision.*` import as a `_Stub` module."""
    def find_spec(self, name, path=None, target=None):
        if name != "torchvision" and not name.startswith("torchvision."):
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


if "--stub-torchvision" in sys.argv:
    sys.meta_path.insert(0, _StubFinder())

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_imagereward_fixtures as fx  # noqa: E402  (version checks, wheel loading, tokenizer stub)
import torch  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel", required=True)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--stub-torchvision", action="store_true",
                        help="run on PyPI's torch 2.15 (the libtorch the Swift build links) without Debian's torchvision")
    args = parser.parse_args()
    assert fx.transformers.__version__ == fx.TRANSFORMERS_VERSION and fx.timm.__version__ == fx.TIMM_VERSION
    if args.threads:
        torch.set_num_threads(args.threads)
    vit, blip_pretrain, image_reward, _ = fx.load_package(args.wheel)
    tmp = tempfile.mkdtemp()
    vocab = os.path.join(tmp, "vocab.txt")
    fx.write_vocab(vocab)
    blip_pretrain.init_tokenizer = lambda: fx.make_tokenizer(vocab)  # only bert-base-uncased's would be downloaded
    med = os.path.join(tmp, "med_config.json")
    with open(med, "w") as f:  # BLIP's published med_config.json
        json.dump(dict(fx.MED_CONFIG, hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                       num_hidden_layers=12, max_position_embeddings=512, vocab_size=30524), f)
    torch.manual_seed(0)
    model = image_reward.ImageReward(med_config=med, device="cpu").eval()
    b = args.batch
    pixels = torch.randn(b, 3, 224, 224)
    ids = torch.randint(0, 30522, (b, 35))
    mask = torch.ones(b, 35, dtype=torch.long)
    with torch.no_grad():
        model.score_gard(ids, mask, pixels)
        runs = 3
        start = time.perf_counter()
        for _ in range(runs):
            model.score_gard(ids, mask, pixels)
        seconds = (time.perf_counter() - start) / runs
    print(f"reference ImageReward full size, batch {b}: {seconds:.3f} s/batch, {b / seconds:.2f} images/s "
          f"({torch.get_num_threads()} threads, torch {torch.__version__})")


if __name__ == "__main__":
    main()
