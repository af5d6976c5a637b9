#!/usr/bin/python3
"""Generate the parity fixtures of the Swift SentencePiece / T5 tokenizer (Sources/MiroTokenizers).

HOW TO RUN (from the repository root, Debian bookworm /usr/bin/python3 3.11, no torch needed):

    mkdir -p /tmp/wheels-tok && cd /tmp/wheels-tok
    /usr/bin/python3 -m pip download --no-deps transformers==4.40.2 tokenizers==0.19.1 sentencepiece==0.2.0 \
        huggingface_hub==0.23.0 safetensors==0.4.3 numpy==1.24.2 protobuf==4.25.9 regex filelock tqdm \
        packaging pyyaml requests fsspec urllib3 idna charset_normalizer certifi typing_extensions
    /usr/bin/python3 -m pip install --no-deps --target /work/pydeps-tok /tmp/wheels-tok/*.whl
    cd - && HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-tok \
        /usr/bin/python3 scripts/make_tokenizer_fixtures.py

  * Pinned and asserted: transformers 4.40.2, tokenizers 0.19.1, sentencepiece 0.2.0 (protobuf only for the
    slow -> fast converter). Nothing is downloaded from a hub.
  * A SentencePiece unigram model is trained like T5's (model_type=unigram, normalization_rule_name=nmt_nfkc,
    pad 0, eos 1, unk 2, no bos, no byte fallback) on a corpus this script writes from a fixed seed (English,
    accented Latin, some CJK and full-width text). Training uses one thread and no shuffling, so re-running
    gives the same spiece.model.
  * T5Tokenizer (slow, sentencepiece) and T5TokenizerFast (tokenizers) wrap it and `save_pretrained` into
    slow/ and fast/. fast/tokenizer_config.json loses the `add_prefix_space` key that 4.40 writes (the real
    google/flan-t5-xl config has none; with it, from_pretrained would rebuild from spiece.model instead of
    reading tokenizer.json), and fast/ keeps no spiece.model (the Swift test of "tokenizer.json is preferred"
    copies both into one folder itself).
  * "first" outputs: fast/tokenizer.json with the pre-tokenizer's prepend_scheme "always" replaced by "first"
    (what converters write for legacy=False), through the tokenizers library; the test makes the same file.
  * legacy/tokenizer.json is fast/tokenizer.json rewritten in the older converter layout that the real
    google/flan-t5-xl repository ships (normalizer Sequence[Precompiled, Replace(" {2,}" -> " ")],
    pre_tokenizer Sequence[WhitespaceSplit, Metaspace{replacement, add_prefix_space: true}]), with the flags of
    four added tokens varied (lstrip/rstrip, normalized, single_word) so every AddedVocabulary rule runs; its
    expected ids come from the tokenizers library itself (Tokenizer.from_file), truncation/padding enabled as
    transformers does.

Output (Tests/MiroTokenizersTests/Fixtures/, override with --out):
  slow/    spiece.model, tokenizer_config.json, special_tokens_map.json   (T5Tokenizer.save_pretrained)
  fast/    tokenizer.json, tokenizer_config.json, special_tokens_map.json (T5TokenizerFast.save_pretrained)
  legacy/  tokenizer.json                                                 (older layout, see above)
  serde/   tokenizer.json  a 6-piece Unigram whose two scores serde_json reads 1 ulp off (see SERDE_TOKENIZER)
  spm_precision/ spiece.model  a 6-piece model on which sentencepiece's float/double arithmetic decides
  user_defined/  spiece.model  400 pieces with USER_DEFINED symbols and a 4-rule custom charsmap
  expected.json  {"versions", "max_lengths", "cases": [{"name", "text", "slow", "fast", "legacy"}], ...}
      each of slow/fast/legacy/first: {"ids": unpadded input_ids with </s>,
                                 "L<n>": {"ids", "mask"} for padding="max_length", truncation=True, max_length=n}
      "disagreements": names of the cases where slow and fast ids differ (unpadded).
      "serde": {"text", "ids"}: what tokenizers gives with serde/tokenizer.json.
      "spm_precision": {"text", "ids"}: what T5Tokenizer gives with spm_precision/spiece.model.
      "user_defined": [{"text", "ids"}]: what T5Tokenizer gives with user_defined/spiece.model.
"""

import argparse
import io
import json
import os
import random
import shutil
import sys

EXPECTED_VERSIONS = {"transformers": "4.40.2", "tokenizers": "0.19.1", "sentencepiece": "0.2.0"}
SEED = 2126
VOCAB_SIZE = 1200
MAX_LENGTHS = [16, 64]
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "MiroTokenizersTests", "Fixtures")


def check_versions():
    import sentencepiece
    import tokenizers
    import transformers
    got = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
           "sentencepiece": sentencepiece.__version__}
    for name, want in EXPECTED_VERSIONS.items():
        assert got[name] == want, f"need {name} {want}, got {got[name]}"
    return got


# --------------------------------------------------------------------------- corpus
ENGLISH = ("a photo of the cat dog bird house tree car red blue green small large old young man woman child "
           "sitting standing running on in under near with beside garden street city mountain river lake sky "
           "painting drawing portrait landscape sunset morning evening light dark bright beautiful detailed "
           "high quality render artwork style colorful black white yellow orange purple flower table chair "
           "window door book cup glass water fire snow rain cloud forest beach ocean boat train plane road "
           "final flight office effect difficult").split()
ACCENTED = ("café crème brûlée naïve façade déjà vu élève être garçon señor niño año mañana jalapeño über "
            "schön straße grün fünf mädchen ångström smörgåsbord øl æble coração não ação português "
            "kraków łódź żółć český příliš žluťoučký").split()
CJK = ["猫", "狗", "一只", "坐在", "椅子", "上", "中文", "测试", "日本語", "テキスト", "です", "の", "写真",
       "美しい", "山", "川", "空", "花", "東京", "北京"]
FULLWIDTH = ["ＡＢＣ", "１２３", "（括弧）", "！", "？", "ｶﾀｶﾅ"]
PUNCT = [".", ",", "!", "?", ";", ":", "-", "(", ")", "\"", "'", "—", "…"]


def make_corpus(rng):
    lines = []
    for _ in range(6000):
        words = []
        for _ in range(rng.randint(3, 14)):
            r = rng.random()
            if r < 0.62:
                words.append(rng.choice(ENGLISH))
            elif r < 0.80:
                words.append(rng.choice(ACCENTED))
            elif r < 0.90:
                words.append("".join(rng.choice(CJK) for _ in range(rng.randint(1, 3))))
            elif r < 0.93:
                words.append(rng.choice(FULLWIDTH))
            elif r < 0.97:
                words.append(str(rng.randint(0, 2026)))
            else:
                words.append(rng.choice(PUNCT))
        line = " ".join(words)
        if rng.random() < 0.5:
            line = line[0].upper() + line[1:]
        lines.append(line + rng.choice([".", "", "!", "?"]))
    return lines


def train_spm(lines):
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=VOCAB_SIZE, model_type="unigram",
        normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=1.0, num_threads=1, shuffle_input_sentence=False, seed_sentencepiece_size=100000,
        minloglevel=2)
    return model.getvalue()


# --------------------------------------------------------------------------- hard text set
def hard_texts():
    long_sentence = ("A very detailed painting of an old house beside the river under a bright morning sky, "
                     "with café tables, señor García's garden and 东京 lights. ")
    return [
        ("plain", "A photo of a cat sitting on a red chair."),
        ("accents", "Crème brûlée, naïve café, Ångström, façade — déjà vu!"),
        ("fullwidth", "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３ and ｶﾀｶﾅ ｈａｌｆ"),
        ("ligatures", "The ﬁnal ﬂight: ﬀ ﬃ ﬄ ligatures ﬁ"),
        ("emoji", "Emoji: 😀🎉👍🏽 👨‍👩‍👧 done ❤️ 🇫🇷"),
        ("cjk", "中文测试：一只猫坐在椅子上。日本語のテキストです。"),
        ("hangul_arabic", "한국어 텍스트 مرحبا שלום"),
        ("tabs_newlines", "tabs\tand\nnewlines\r\n and   repeated    spaces"),
        ("leading_trailing", "   leading and trailing spaces   "),
        ("empty", ""),
        ("only_spaces", "     "),
        ("only_tab", "\t"),
        ("long", long_sentence * 12),
        ("eos_inside", "Hello </s> world"),
        ("eos_end", "end with </s>"),
        ("eos_only", "</s>"),
        ("sentinels", "<extra_id_3> in the middle <extra_id_3>"),
        ("sentinel_glued", "x<extra_id_0>y and a  <extra_id_1>  b"),
        ("sentinel_adjacent", "<extra_id_99><extra_id_0> not <extra_id_100> nor <extra_id_3 >"),
        ("pad_unk_text", "<pad><unk> text"),
        ("leading_special", " </s>start"),
        ("combining", "e\u0301 a\u0308 o\u0302\u0323 n\u0303 cafe\u0301"),
        ("combining_long", "a\u0301\u0302\u0303\u0304 ﬁ\u0301 x\u0308\u0308"),
        ("decomposed_hangul", "\u1100\u1161\u11a8 \u1100\u1161"),
        ("nbsp", "non\u00a0breaking\u00a0space, narrow\u202fnbsp, \u3000ideographic\u3000space"),
        ("zero_width", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom"),
        ("fullwidth_specials", "＜/s＞ and ＜extra_id_3＞ and ＜pad＞"),
        ("metaspace_char", "▁already▁escaped ▁ text ▁▁"),
        ("compat", "Ⅻ x² H₂O ℃ ㎏ ㍻ ½ ™ …"),
        ("mixed", "HELLO world 12345 3.14159 !!!???... https://example.com/a_b?c=1"),
        ("controls", "bell\x07 unit\x1f sep\x1c end"),
        ("unknown_runs", "😀😀😀 ☃☃ ∰∰ x"),
        ("many_spaces_specials", "  a  </s>  b  <extra_id_5>  c  "),
        ("normalized_specials", "＜extra_id_42＞ and ＜unk＞, a <extra_id_42> b<extra_id_3>c  <extra_id_3>  d"),
        ("single_word_sentinel", "w<extra_id_0> <extra_id_0>w <extra_id_0> é<extra_id_0>. (<extra_id_0>)"),
    ]


RANDOM_POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()[]{}/@#%&*+=_~") * 3
    + [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c"]
    + list("éèêëàâäîïôöùûüçñÅØßæœłżčšřğışÆŒ")
    + [chr(c) for c in range(0x300, 0x370, 7)]                       # combining marks
    + list("ﬀﬁﬂﬃﬄﬅﬆ") + [chr(c) for c in range(0xFF01, 0xFF5F, 5)]     # ligatures, full-width forms
    + [chr(c) for c in range(0xFF61, 0xFFA0, 4)]                     # half-width katakana
    + list("¹²³⁴₀₁₂℃℉㎏㎞㍻㍿ⅠⅡⅢⅫⅰⅱ①②⑳½¼™℠…‥ſﬅ") + ["K", "Å", "Ω"]   # compatibility forms
    + CJK + list("猫犬鳥雨雪龍愛") + list("한국어텍스트") + ["\u1100\u1161", "\u1100\u1161\u11a8"]
    + ["😀", "🎉", "👍🏽", "👨‍👩‍👧", "❤️", "🇫🇷", "1️⃣", "☃", "∰", "𝔘𝔫𝔦", "🏳️‍🌈"]
    + ["\u00a0", "\u2002", "\u2009", "\u200a", "\u3000", "\u202f", "\u205f", "\u1680", "\u0085"]
    + ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f"]
    + ["</s>", "<pad>", "<unk>", "<extra_id_3>", "<extra_id_42>", "<extra_id_0>", "▁", "▁▁", "<", ">", "＜/s＞"]
    + ["\x01", "\x07", "\x1b", "\x1f", "\x7f", "\x00"]
    + ["مرحبا", "שלום", "नमस्ते", "क्षि", "สวัสดี", "Ελληνικά", "Русский"]
)


def random_texts(rng, count=48):
    """Texts drawn from RANDOM_POOL (fixed seed): every pairing of the hard characters above, in context."""
    texts = []
    for k in range(count):
        n = rng.randint(1, 24)
        texts.append((f"random_{k:02d}", "".join(rng.choice(RANDOM_POOL) for _ in range(n))))
    return texts


def to_list(x):
    return [int(v) for v in x]


def encode_transformers(tok, texts):
    out = []
    full = tok(texts)["input_ids"]
    padded = {n: tok(texts, max_length=n, padding="max_length", truncation=True) for n in MAX_LENGTHS}
    for i in range(len(texts)):
        rec = {"ids": to_list(full[i])}
        for n in MAX_LENGTHS:
            rec[f"L{n}"] = {"ids": to_list(padded[n]["input_ids"][i]), "mask": to_list(padded[n]["attention_mask"][i])}
        out.append(rec)
    return out


def encode_backend(path, texts):
    """The tokenizers library alone, set up as transformers sets it for padding='max_length', truncation=True."""
    from tokenizers import Tokenizer
    out = [{} for _ in texts]
    tok = Tokenizer.from_file(path)
    for i, enc in enumerate(tok.encode_batch(texts)):
        out[i]["ids"] = to_list(enc.ids)
    for n in MAX_LENGTHS:
        tok = Tokenizer.from_file(path)
        tok.enable_truncation(max_length=n, stride=0, strategy="longest_first", direction="right")
        tok.enable_padding(length=n, pad_id=0, pad_token="<pad>", pad_type_id=0, direction="right")
        for i, enc in enumerate(tok.encode_batch(texts)):
            out[i][f"L{n}"] = {"ids": to_list(enc.ids), "mask": to_list(enc.attention_mask)}
    return out


def legacy_layout(fast_json):
    """fast/tokenizer.json in the older converter layout (google/flan-t5-xl's tokenizer.json)."""
    data = json.loads(fast_json)
    norm = data["normalizer"]
    assert norm["type"] == "Sequence", norm["type"]
    pre = [n for n in norm["normalizers"] if n["type"] == "Precompiled"]
    assert len(pre) == 1
    data["normalizer"] = {"type": "Sequence", "normalizers": [
        pre[0], {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    meta = data["pre_tokenizer"]
    assert meta["type"] == "Metaspace", meta
    data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": meta["replacement"], "add_prefix_space": True}]}
    data["decoder"] = {"type": "Metaspace", "replacement": meta["replacement"], "add_prefix_space": True}
    # Vary the added-token flags so that every matching rule of AddedVocabulary runs somewhere (the real
    # flan-t5-xl file has them all false but `special`).
    flags = {"<extra_id_3>": {"lstrip": True, "rstrip": True}, "<extra_id_42>": {"normalized": True},
             "<unk>": {"normalized": True}, "<extra_id_0>": {"single_word": True}}
    for token in data["added_tokens"]:
        token.update(flags.get(token["content"], {}))
    return json.dumps(data, ensure_ascii=False, indent=2)


# Two pieces whose scores serde_json (tokenizers' JSON reader, no float_roundtrip) reads as the same f64 although
# the texts denote neighbouring doubles: a correctly rounded reader prefers "▁a" + "b", tokenizers ties and keeps
# "▁ab".
FIRST_FROM, FIRST_TO = '"prepend_scheme": "always"', '"prepend_scheme": "first"'
SERDE_TOKENIZER = """{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": true},
"post_processor": null, "decoder": null,
"model": {"type": "Unigram", "unk_id": 2, "vocab": [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0],
["\u2581ab", -7.4981303215026855], ["\u2581a", -7.498130321502685], ["b", 0.0]], "byte_fallback": false}}
"""


def serde_case(out):
    from tokenizers import Tokenizer
    os.makedirs(os.path.join(out, "serde"), exist_ok=True)
    path = os.path.join(out, "serde", "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(SERDE_TOKENIZER)
    assert float("-7.4981303215026855") < float("-7.498130321502685")  # correctly rounded: "▁a" + "b" wins
    ids = Tokenizer.from_file(path).encode("ab").ids
    assert ids == [3], ids
    return {"text": "ab", "ids": ids}


def spm_precision_case(out):
    """A 6-piece model where sentencepiece's arithmetic decides: "▁a" + "b" ties "▁ab" in float32, but the
    reference adds and compares a piece's score in double (then stores float), so "▁a" + "b" wins."""
    import numpy as np
    import sentencepiece as spm
    from transformers import T5Tokenizer
    from transformers.utils import sentencepiece_model_pb2_new as pb
    m = pb.ModelProto()
    for piece, score, kind in [("<pad>", 0.0, 3), ("</s>", 0.0, 3), ("<unk>", 0.0, 2),
                               ("\u2581ab", float(np.float32(-1.0) - np.float32(2.0 ** -23)), 1),
                               ("\u2581a", -1.0, 1), ("b", float(np.float32(-3 * 2.0 ** -25)), 1)]:
        p = m.pieces.add()
        p.piece, p.score, p.type = piece, score, kind
    m.trainer_spec.model_type, m.trainer_spec.unk_id = 1, 2
    m.trainer_spec.pad_id, m.trainer_spec.eos_id, m.trainer_spec.bos_id = 0, 1, -1
    m.normalizer_spec.name, m.normalizer_spec.add_dummy_prefix = "identity", True
    os.makedirs(os.path.join(out, "spm_precision"), exist_ok=True)
    path = os.path.join(out, "spm_precision", "spiece.model")
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    a, b, ab = np.float32(-1.0), np.float32(m.pieces[5].score), np.float32(m.pieces[3].score)
    assert a + b == ab and float(a) + float(b) > float(ab)  # a float32 tie, not a double one
    assert spm.SentencePieceProcessor(model_file=path).encode("ab") == [4, 5]
    ids = T5Tokenizer(path)("ab")["input_ids"]
    assert ids == [4, 5, 1], ids
    return {"text": "ab", "ids": ids}


USER_DEFINED_TEXTS = ["the ﬁnal [SEP] ﬁ", "[SEP][SEP]x", "a[SEP]b Ａ cafe\u0301 e\u0301\u0301", "x x x", "ｆｉ ﬁ",
                      "ﬁﬁ ﬁx x▁x", "  [SEP]  ", "e\u0301ﬁ\u3000\u3000end", ""]


def user_defined_case(out, lines):
    """A small model with USER_DEFINED pieces (kept verbatim by the normalizer, scored length * max - 0.1) and a
    custom normalization_rule_tsv (a tiny charsmap, one rule of two characters), through T5Tokenizer."""
    import sentencepiece as spm
    from transformers import T5Tokenizer
    os.makedirs(os.path.join(out, "user_defined"), exist_ok=True)
    rules = os.path.join(out, "_rules.tsv")
    with open(rules, "w") as f:
        f.write("FB01\t66 69\nFF21\t41\n65 301\tE9\n3000\t20\n")  # ﬁ→fi, Ａ→A, e+◌́→é, U+3000→space
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines[:3000]), model_writer=model, vocab_size=400, model_type="unigram",
        normalization_rule_tsv=rules, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0,
        num_threads=1, shuffle_input_sentence=False, user_defined_symbols=["ﬁ", "[SEP]", "\u2581x\u2581"],
        minloglevel=2)
    os.remove(rules)
    path = os.path.join(out, "user_defined", "spiece.model")
    with open(path, "wb") as f:
        f.write(model.getvalue())
    tok = T5Tokenizer(path)
    return [{"text": t, "ids": to_list(tok(t)["input_ids"])} for t in USER_DEFINED_TEXTS]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    versions = check_versions()
    from transformers import T5Tokenizer, T5TokenizerFast

    rng = random.Random(SEED)
    corpus = make_corpus(rng)
    model_bytes = train_spm(corpus)

    out = args.out
    for sub in ["slow", "fast", "legacy"]:
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, sub))
    work = os.path.join(out, "_work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    spiece = os.path.join(work, "spiece.model")
    with open(spiece, "wb") as f:
        f.write(model_bytes)

    slow = T5Tokenizer(spiece, model_max_length=512)
    slow.save_pretrained(os.path.join(out, "slow"))
    fast = T5TokenizerFast(vocab_file=spiece, model_max_length=512, from_slow=True)
    fast.save_pretrained(os.path.join(out, "fast"))
    shutil.rmtree(work)
    os.remove(os.path.join(out, "fast", "spiece.model"))
    cfg_path = os.path.join(out, "fast", "tokenizer_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg.pop("add_prefix_space", None)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    for name in ["added_tokens.json"]:
        for sub in ["slow", "fast"]:
            p = os.path.join(out, sub, name)
            if os.path.exists(p):
                os.remove(p)
    with open(os.path.join(out, "fast", "tokenizer.json"), encoding="utf-8") as f:
        fast_json = f.read()
    with open(os.path.join(out, "legacy", "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(legacy_layout(fast_json))

    # Reload as users do: from the saved folders.
    slow = T5Tokenizer.from_pretrained(os.path.join(out, "slow"))
    fast = T5TokenizerFast.from_pretrained(os.path.join(out, "fast"))
    assert not isinstance(slow, T5TokenizerFast) and fast.is_fast
    # The reloaded backend equals the saved file, except that serde_json (without float_roundtrip) reads some
    # 17-digit scores 1 ulp off: the Swift reader parses scores the same way (SerdeJSONFloat.swift).
    reloaded, saved = json.loads(fast.backend_tokenizer.to_str()), json.loads(fast_json)
    reloaded_vocab, saved_vocab = reloaded["model"].pop("vocab"), saved["model"].pop("vocab")
    assert reloaded == saved, "fast reloaded != saved json"
    assert [p for p, _ in reloaded_vocab] == [p for p, _ in saved_vocab]
    assert all(abs(a - b) <= 1e-14 * abs(b) for (_, a), (_, b) in zip(reloaded_vocab, saved_vocab))

    cases = hard_texts() + random_texts(random.Random(SEED + 1))
    texts = [t for _, t in cases]
    slow_out = encode_transformers(slow, texts)
    fast_out = encode_transformers(fast, texts)
    backend_out = encode_backend(os.path.join(out, "fast", "tokenizer.json"), texts)
    assert backend_out == fast_out, "tokenizers backend != T5TokenizerFast"
    legacy_out = encode_backend(os.path.join(out, "legacy", "tokenizer.json"), texts)
    # The Metaspace `prepend_scheme: first` of `legacy=False` converters, not committed as a file: the test
    # rewrites fast/tokenizer.json the same way (the first occurrence is the pre-tokenizer's, the second the
    # decoder's).
    first_path = os.path.join(out, "_first.json")
    assert fast_json.count(FIRST_FROM) == 2 and fast_json.index(FIRST_FROM) < fast_json.index('"decoder"')
    with open(first_path, "w", encoding="utf-8") as f:
        f.write(fast_json.replace(FIRST_FROM, FIRST_TO, 1))
    first_out = encode_backend(first_path, texts)
    os.remove(first_path)

    records, disagreements, legacy_diffs = [], [], []
    for (name, text), s, f_, l, fi in zip(cases, slow_out, fast_out, legacy_out, first_out):
        records.append({"name": name, "text": text, "slow": s, "fast": f_, "legacy": l, "first": fi})
        if s["ids"] != f_["ids"]:
            disagreements.append(name)
        if l["ids"] != f_["ids"]:
            legacy_diffs.append(name)
    expected = {
        "generator": "scripts/make_tokenizer_fixtures.py",
        "versions": versions,
        "vocab_size": slow.sp_model.get_piece_size(),
        "len_tokenizer": len(slow),
        "max_lengths": MAX_LENGTHS,
        "cases": records,
        "disagreements": disagreements,
        "legacy_differs_from_fast": legacy_diffs,
        "serde": serde_case(out),
        "spm_precision": spm_precision_case(out),
        "user_defined": user_defined_case(out, corpus),
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
    print("vocab", expected["vocab_size"], "len", expected["len_tokenizer"])
    print("slow/fast disagree on:", disagreements)
    print("legacy layout differs from fast on:", legacy_diffs)
    for name, text in cases:
        if name in disagreements or name in legacy_diffs:
            r = next(r for r in records if r["name"] == name)
            print(f"  {name}: slow {r['slow']['ids']}\n  {' ' * len(name)}  fast {r['fast']['ids']}"
                  f"\n  {' ' * len(name)}  legacy {r['legacy']['ids']}")


if __name__ == "__main__":
    sys.exit(main())
