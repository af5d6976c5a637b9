"""Fixtures for the CLIP (open_clip + Hugging Face) and BERT WordPiece tokenizers of MiroTokenizers.

HOW TO RUN (Debian /usr/bin/python3 3.11 with python3-torch 1.13, no network needed after the downloads):

    pip install --no-deps --target /work/pydeps-tok transformers==4.40.2 tokenizers==0.19.1 sentencepiece==0.2.0 \
        huggingface_hub==0.23.0 safetensors==0.4.3 regex pyyaml requests tqdm filelock fsspec packaging
    pip install --no-deps --target /work/pydeps-clip open_clip_torch==2.24.0 ftfy==6.2.0 wcwidth==0.2.13
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=/work/pydeps-clip:/work/pydeps-tok \
        /usr/bin/python3 scripts/make_clip_bert_tokenizer_fixtures.py

Writes Tests/MiroTokenizersTests/Fixtures/clip/:
- bpe_simple_vocab_16e6.txt.gz: copied unchanged from the open_clip_torch 2.24.0 wheel (the real CLIP merges);
- gz_facts.json: the decompressed length, SHA-256 and first lines (for the inflate test);
- expected.json: for every text of the hard set, open_clip's `SimpleTokenizer` ids (77, zero padded; run with ftfy)
  and `CLIPTokenizerFast` ids + attention mask (`padding="max_length", truncation=True, max_length=77`) built from
  vocab.json + merges.txt derived from the .gz exactly as open_clip builds its vocabulary (the Swift test derives
  the same two files, so they are not stored);
and Tests/MiroTokenizersTests/Fixtures/bert/: a small uncased vocab.txt and expected.json with `BertTokenizer` and
`BertTokenizerFast` ids + masks (`padding="max_length", truncation=True, max_length=35`, ImageReward's call).

It also regenerates two Swift data files from the references themselves: Sources/MiroTokenizers/HTMLEntityTables.swift
(CPython 3.11's `html` tables) and Sources/MiroTokenizers/FtfyTables.swift (ftfy 6.2.0's per-character fixers).
"""
import gzip
import hashlib
import html
import html.entities
import importlib.util
import json
import os
import shutil
import sys
import unicodedata

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import ftfy
import tokenizers
import transformers
from transformers import BertTokenizer, BertTokenizerFast, CLIPTokenizerFast

assert transformers.__version__ == "4.40.2", transformers.__version__
assert tokenizers.__version__ == "0.19.1", tokenizers.__version__
assert ftfy.__version__ == "6.2.0", ftfy.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_CLIP = os.path.join(ROOT, "Tests/MiroTokenizersTests/Fixtures/clip")
OUT_BERT = os.path.join(ROOT, "Tests/MiroTokenizersTests/Fixtures/bert")


def load_open_clip_tokenizer_module():
    """open_clip's tokenizer.py on its own (the package __init__ pulls in timm/torchvision)."""
    import importlib.metadata as md
    assert md.version("open_clip_torch") == "2.24.0", md.version("open_clip_torch")
    spec = importlib.util.find_spec("open_clip")
    folder = os.path.dirname(spec.origin)
    mod_spec = importlib.util.spec_from_file_location("open_clip_tokenizer", os.path.join(folder, "tokenizer.py"))
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module, os.path.join(folder, "bpe_simple_vocab_16e6.txt.gz")


HARD_TEXTS = [
    ("plain", "a photo of a cat"),
    ("case_contractions", "A Photo Of THE Cat's toys, they're GREAT!!! I'm you'll we'd it's can't they've"),
    ("accents", "Café naïve résumé Ångström façade"),
    ("combining", "e\u0301cole cafe\u0301 with combining accents"),
    ("cjk", "東京タワーの夜景 and 北京 한국어"),
    ("emoji", "emoji 🐱🚀 test 👍🏽 ❤️"),
    ("punctuation_runs", "punctuation runs ... !!! ?!? --- (a) [b] {c} <d> a_b-c/d\\e|f~g`h^i"),
    ("numbers", "numbers 12345 3.14 1,000,000 ½ ² ٣"),
    ("html", "HTML &amp; entities &lt;b&gt; &quot;quoted&quot; &#39;apos&#39; &#x27;hex&#x27; &nbsp;space &amp;amp; &copy 5 &lt 6 &#128; &bogus;"),
    ("whitespace", "  repeated    spaces\tand\ttabs\nnewlines\r\n  end  "),
    ("uppercase", "UPPERCASE SHOUTING TEXT WITH ÉCLAIRS"),
    ("long", " ".join(["a very long caption about a red fox jumping over the lazy brown dog near a river"] * 6)),
    ("empty", ""),
    ("only_spaces", "   \t  "),
    ("special_literal", "a <|endoftext|> b <|startoftext|>c"),
    ("zero_width", "zero\u200bwidth soft\u00adhyphen control\x07char nul\x00x"),
    ("compat", "ﬁ ligature and Ｆｕｌｌｗｉｄｔｈ ＡＢＣ"),
    ("turkish_german", "İstanbul ß Straße"),
    ("mojibake", "mojibake cafÃ© naÃ¯ve"),
    ("quotes", "Hello, world! 'quoted' \"double\" “curly” ‘single’ — dash"),
    ("long_word", "x" + "abc" * 40 + " short"),
    ("apostrophes", "''s rock'n'roll o'clock 'twas"),
    ("html_ftfy", "&NTILDE;o &AMP; &amp;amp;amp; &#x1F600; &#12ab; &Eacute; &eacute &notit; &#0; &#x110000; a&NewLine;b&Tab;c&newline;"),
    ("html_lt_line", "first line &amp;amp;\nsecond <b>bold</b> &amp;amp;"),
    ("c1_controls", "price \x80 5 \x93quoted\x94 \u2028next\u0085line"),
]


FUZZ_POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
    + list(" " * 20) + list("\t\n\r")
    + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") * 2
    + list("éèêëàâäôöûüçñÅßøæœÉÈÀ") + ["e\u0301", "a\u0308", "\u0301"]
    + list("東京北夜景の日本語中文한국어ひらがなカタカナ") + list("αβγδΔΩπ") + list("абвгдЖЯ") + list("אבגعربية")
    + list("🐱🚀👍🏽❤️😀🎉") + ["\u200b", "\u00ad", "\u00a0", "\u3000", "\u2028", "\x07", "\x85", "\ufeff"]
    + list("“”‘’—–…·•½²³٣०") + list("ﬁﬂＡＢＣ１２３")
    + ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&nbsp;", "&eacute", "&copy;", "'s", "'ll", "'re", "n't"]
    + ["photo", "of", "a", "the", "cat", "dog", "red", "fox", "river", "jumping", "café", "GREAT", "Hello"] * 4
)


def fuzz_texts(n=160, seed=1234):
    """Seeded random texts over FUZZ_POOL (clean Unicode: no mojibake, which ftfy would repair)."""
    import random
    rng = random.Random(seed)
    texts = []
    for k in range(n):
        length = rng.choice([1, 3, 8, 20, 40, 90])
        texts.append("".join(rng.choice(FUZZ_POOL) for _ in range(length)))
    return texts


def hex_scalars(t):
    """A replacement as space-separated hex code points (a Swift multi-line literal cannot hold a raw line break)."""
    return " ".join("%X" % ord(c) for c in t)


def write_html_tables(path):
    """Sources/MiroTokenizers/HTMLEntityTables.swift from CPython's html module tables."""
    lines = ["%s|%s" % (k, hex_scalars(v)) for k, v in sorted(html.entities.html5.items())]
    assert all(k.isascii() and "|" not in k for k in html.entities.html5)
    with open(path, "w", encoding="utf-8") as f:
        f.write("/// The HTML5 named character references and the numeric-reference fix-ups of CPython %d.%d's `html` module\n"
                "/// (`html.entities.html5`, `html._invalid_charrefs`, `html._invalid_codepoints`). open_clip cleans every\n"
                "/// caption with `html.unescape(html.unescape(text))`, so the whole table is needed to match it.\n"
                "/// Generated by scripts/make_clip_bert_tokenizer_fixtures.py (`write_html_tables`); do not edit.\n"
                % sys.version_info[:2])
        f.write("enum HTMLEntityTables {\n")
        f.write("    /// `name|replacement` lines, the replacement as hex code points; names ending in `;` need the semicolon,\n"
                "    /// the others (legacy names) do not.\n")
        f.write('    static let named: String = """\n' + "\n".join(lines) + '\n"""\n\n')
        f.write("    /// `html._invalid_charrefs`: numeric references that HTML maps to another character (Windows-1252).\n")
        f.write("    static let invalidCharrefs: [UInt32: [UInt32]] = [\n")
        for k in sorted(html._invalid_charrefs):
            f.write("        %d: [%s],\n" % (k, ", ".join("0x%X" % ord(c) for c in html._invalid_charrefs[k])))
        f.write("    ]\n\n    /// `html._invalid_codepoints`: numeric references that decode to nothing.\n")
        f.write("    static let invalidCodepoints: Set<UInt32> = [\n")
        inv = sorted(html._invalid_codepoints)
        for i in range(0, len(inv), 12):
            f.write("        " + ", ".join("0x%X" % x for x in inv[i:i + 12]) + ",\n")
        f.write("    ]\n}\n")


FTFY_CHAR_FIXERS = ["fix_c1_controls", "fix_latin_ligatures", "fix_character_width", "uncurl_quotes",
                    "fix_line_breaks", "remove_control_chars"]


def write_ftfy_tables(path):
    """Sources/MiroTokenizers/FtfyTables.swift: what ftfy 6.2.0's per-character fixers (in fix_and_explain's order)
    do to every code point they change."""
    from ftfy import fixes

    lines = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        out = ch
        for name in FTFY_CHAR_FIXERS:
            out = getattr(fixes, name)(out)
        if out != ch:
            lines.append("%X|%s" % (cp, hex_scalars(out)))
    with open(path, "w", encoding="utf-8") as f:
        f.write("/// What ftfy 6.2.0's per-character fixers (%s, applied in `fix_and_explain`'s order) do to\n"
                "/// each code point they change: `code point|replacement code points`, all hex (empty = removed). Generated by\n"
                "/// scripts/make_clip_bert_tokenizer_fixtures.py (`write_ftfy_tables`); do not edit.\n"
                % ", ".join(FTFY_CHAR_FIXERS))
        f.write('enum FtfyTables {\n    static let characterFixes: String = """\n')
        f.write("\n".join(lines) + '\n"""\n}\n')
    print("ftfy table:", len(lines), "code points")


def derive_hf_files(gz_path, folder):
    """vocab.json + merges.txt as open_clip's SimpleTokenizer builds its vocabulary, with HF's special names."""
    oc, _ = load_open_clip_tokenizer_module()
    merges = gzip.open(gz_path).read().decode("utf-8").split("\n")
    merges = merges[1:49152 - 256 - 2 + 1]
    vocab = list(oc.bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(dict(zip(vocab, range(len(vocab)))), f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder


BERT_WORDS = """the a an of and to in is it photo cat cats dog fox red brown lazy over jumping near river very long
caption about hello world quoted double ##s ##ing ##ed ##er ##ly ##n ##t can you we they i ll re ve d m toys great
cafe naive resume angstrom facade ecole with accents combining emoji test punctuation runs numbers html entities
space end repeated spaces and tabs newlines uppercase shouting text eclairs zero width soft hyphen control char
ligature full istanbul strasse rock roll clock twas short mojibake single dash apos hex amp lt gt quot copy bogus
東 京 北 夜 景 の ##ー ##タ ##ワ 한 ##국 ##어 1 2 3 4 5 ##1 ##2 ##3 ##4 ##5 ##0 0 14 000 ½ ² x ##x ##abc abc
##a ##b ##c ##d ##e ##f ##g ##h ##i ##j ##k ##l ##m ##o ##p ##q ##r ##u ##v ##w ##y ##z
a b c d e f g h j k l n o p q r s t u v w y z""".split()


def write_bert_vocab(folder):
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["“", "”", "‘", "’", "—", "…"]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + punct
    for w in BERT_WORDS:
        if w not in tokens:
            tokens.append(w)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    return path


def main():
    write_html_tables(os.path.join(ROOT, "Sources/MiroTokenizers/HTMLEntityTables.swift"))
    write_ftfy_tables(os.path.join(ROOT, "Sources/MiroTokenizers/FtfyTables.swift"))
    oc, gz_path = load_open_clip_tokenizer_module()
    os.makedirs(OUT_CLIP, exist_ok=True)
    shutil.copyfile(gz_path, os.path.join(OUT_CLIP, "bpe_simple_vocab_16e6.txt.gz"))
    raw = gzip.open(gz_path).read()
    text = raw.decode("utf-8")
    facts = {
        "length": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "line_count": len(text.split("\n")),
        "first_lines": text.split("\n")[:4],
        "line_48894": text.split("\n")[48894],
    }
    with open(os.path.join(OUT_CLIP, "gz_facts.json"), "w", encoding="utf-8") as f:
        json.dump(facts, f, ensure_ascii=False, indent=1)

    simple = oc.SimpleTokenizer(gz_path)
    hf_dir = derive_hf_files(gz_path, "/tmp/miro_clip_hf")
    fast = CLIPTokenizerFast(vocab_file=os.path.join(hf_dir, "vocab.json"), merges_file=os.path.join(hf_dir, "merges.txt"),
                             pad_token="<|endoftext|>")
    assert fast.bos_token_id == 49406 and fast.eos_token_id == 49407 and fast.pad_token_id == 49407
    cases = []
    for name, t in HARD_TEXTS:
        oc_ids = simple([t])[0].tolist()
        hf = fast(t, padding="max_length", truncation=True, max_length=77)
        hf_unpadded = fast(t)["input_ids"]
        nfc = unicodedata.normalize("NFC", t)
        cases.append({
            "name": name, "text": t,
            "ftfy_changes": ftfy.fix_text(nfc) != nfc,
            "open_clip": {"ids77": oc_ids, "ids": [simple.sot_token_id] + simple.encode(t) + [simple.eot_token_id]},
            "hf_fast": {"ids77": hf["input_ids"], "mask77": hf["attention_mask"], "ids": hf_unpadded},
        })
        print(name, len(hf_unpadded), "tokens", "ftfy_changes" if cases[-1]["ftfy_changes"] else "",
              "open_clip==hf" if oc_ids[:len(hf_unpadded)] == hf["input_ids"][:len(hf_unpadded)] else "open_clip!=hf")
    batch_names = ["plain", "accents", "empty"]
    batch_texts = [t for n, t in HARD_TEXTS if n in batch_names]
    batch = fast(batch_texts, padding=True, truncation=True, max_length=77)
    longest = {"texts": batch_texts, "ids": batch["input_ids"], "mask": batch["attention_mask"]}
    fuzz = []
    for t in fuzz_texts():
        nfc = unicodedata.normalize("NFC", t)
        fuzz.append({"text": t, "ftfy_changes": ftfy.fix_text(nfc) != nfc,
                     "open_clip": simple([t])[0].tolist(),
                     "hf_fast": fast(t, padding="max_length", truncation=True, max_length=77)["input_ids"]})
    with open(os.path.join(OUT_CLIP, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"fuzz": fuzz, "hf_fast_padding_longest": longest, "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                                "open_clip_torch": "2.24.0", "ftfy": ftfy.__version__},
                   "cases": cases}, f, ensure_ascii=False, indent=0)

    vocab_path = write_bert_vocab(OUT_BERT)
    slow = BertTokenizer(vocab_path, do_lower_case=True)
    bfast = BertTokenizerFast(vocab_path, do_lower_case=True)
    bcases = []
    for name, t in HARD_TEXTS:
        s = slow(t, padding="max_length", truncation=True, max_length=35)
        fz = bfast(t, padding="max_length", truncation=True, max_length=35)
        bcases.append({"name": name, "text": t,
                       "slow": {"ids": slow(t)["input_ids"], "ids35": s["input_ids"], "mask35": s["attention_mask"]},
                       "fast": {"ids": bfast(t)["input_ids"], "ids35": fz["input_ids"], "mask35": fz["attention_mask"]}})
        print("bert", name, "slow==fast" if s["input_ids"] == fz["input_ids"] else "slow!=fast")
    bfuzz = []
    for t in fuzz_texts():
        bfuzz.append({"text": t, "slow": slow(t)["input_ids"], "fast": bfast(t)["input_ids"]})
    print("bert fuzz slow!=fast:", sum(c["slow"] != c["fast"] for c in bfuzz))
    with open(os.path.join(OUT_BERT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"fuzz": bfuzz, "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
                   "cases": bcases}, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
