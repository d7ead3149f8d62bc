#!/usr/bin/env python3
"""Writes tests/data/tokenizer/smollm2_fixture.json: reference token ids for the C++ tokenizers.

Byte-level BPE: the reference is Hugging Face `tokenizers`, built from the SmolLM2 GGUF's own
vocabulary and merges with SmolLM2's published pre-tokenizer (Digits(individual_digits) then
ByteLevel with the GPT-2 regex), ByteLevel decoder and its control tokens as special tokens.

llama2.c tok512: there is no library reference, so the ids come from a direct, deliberately naive
re-statement of llama2.c's encode() (rescan every pair, merge the best score, leftmost on ties),
which the C++ heap-based version must agree with.

Developer tool only (pip install tokenizers gguf); the build never runs it.
Usage: scripts/make_tokenizer_fixture.py [--gguf PATH] [--tok512 PATH] [--out PATH]
"""
import argparse
import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BPE_TEXTS = [
    "Hello world",
    "Hello, world! How are you?",
    " leading space",
    "trailing space ",
    "  two leading spaces and two trailing  ",
    "multiple    spaces   inside",
    "tabs\tand\t\ttabs",
    "line one\nline two\n\nline four\n",
    "\n\n\nleading newlines",
    "windows\r\nline endings\r\n",
    "It's a dog's life, isn't it? We're sure they've left; I'm sure you'll see, he'd go.",
    "IT'S UPPER CASE CONTRACTIONS DON'T SPLIT THE SAME",
    "1234567890",
    "The year 2024 had 366 days and 3.14159 is pi.",
    "Phone: +1 (555) 123-4567, total $1,234,567.89",
    "version 1.2.3-rc4 build 00042",
    "café résumé naïve façade Ångström",
    "Ünïcödé àccénts ÀÉÎÕÜ",
    "日本語のテキストです。",
    "中文分词测试：你好，世界！",
    "한국어 텍스트",
    "Русский текст, ещё немного.",
    "مرحبا بالعالم",
    "שלום עולם",
    "Emoji: 😀🎉👍🏽 and 👨‍👩‍👧‍👦 family",
    "Math: ∑ x² ≤ ∞, ½ + ¼ = ¾",
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) { sum += x[i]; }",
    "#include <stdio.h>\nint main(void) { printf(\"hi\\n\"); return 0; }",
    "if x!=y and not(z>=3): print('ok')",
    "Punctuation!!! ??? ... --- *** ### @@@",
    "\"Quoted\" 'single' `backtick` «guillemets» „low“",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
    "<|endoftext|>",
    "text<|endoftext|>more text",
    "<|im_start|><|im_end|>",
    "<repo_name>scalebits<file_sep>main.cpp",
    "<|im_start notquite|> <|im_end",
    "URL: https://example.com/path?query=1&b=two#frag",
    "email@example.org, user.name+tag@domain.co.uk",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "a",
    " ",
    "\n",
    "   \n   \t  ",
    "Zero\u200bwidth\u00a0nbsp and\u3000ideographic space",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "= = Robert Boulter = = \n Robert Boulter is an English film , television and theatre actor . \n",
]

# Bytes SmolLM2's vocabulary has no token for (a few control characters) are dropped by the
# reference, so these do not round-trip; "decoded" records what the reference gives back.
BPE_LOSSY_TEXTS = [
    "control\x04chars\x13dropped\x1d",
]

TOK512_TEXTS = [
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "The cat sat on the mat.",
    "hello\nworld",
    "Tom said, \"I'm happy!\"",
    "naïve café",
    "日本",
    "  two spaces",
]


def gguf_vocab(path):
    from gguf import GGUFReader

    r = GGUFReader(str(path))

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = strings("tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    pre = bytes(r.fields["tokenizer.ggml.pre"].parts[r.fields["tokenizer.ggml.pre"].data[0]]).decode()
    return tokens, merges, types, pre


def hf_tokenizer(tokens, merges, types):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    specials = [tokens[i] for i, t in enumerate(types) if t == 3]  # GGUF CONTROL
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3_pieces(texts):
    """Llama-3's Split pre-tokenizer (no vocabulary needed): the words each text is cut into."""
    from tokenizers import Regex, pre_tokenizers

    split = pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False)
    return [{"text": t, "pieces": [p for p, _ in split.pre_tokenize_str(t)]} for t in texts]


def llama2c_vocab(path):
    data = Path(path).read_bytes()
    pos, vocab, scores = 4, [], []
    while pos < len(data):
        score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        vocab.append(data[pos:pos + n])
        scores.append(score)
        pos += n
    return vocab, scores


def llama2c_encode(vocab, scores, text, bos):
    """llama2.c's encode(), restated naively in Python on bytes."""
    lookup = {}
    for i, v in enumerate(vocab):
        lookup.setdefault(v, i)
    raw = text.encode("utf-8")
    ids = [1] if bos else []
    if raw:
        ids.append(lookup[b" "])
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        piece = raw[i:j]
        if piece in lookup:
            ids.append(lookup[piece])
        else:
            ids.extend(b + 3 for b in piece)
        i = j
    while True:
        best = (-1e10, -1, -1)
        for k in range(len(ids) - 1):
            merged = lookup.get(vocab[ids[k]] + vocab[ids[k + 1]])
            if merged is not None and scores[merged] > best[0]:
                best = (scores[merged], merged, k)
        if best[2] < 0:
            return ids
        ids[best[2]:best[2] + 2] = [best[1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--tok512", default=ROOT.parent / "shared/data/stories260K/tok512.bin")
    ap.add_argument("--out", default=ROOT / "tests/data/tokenizer/smollm2_fixture.json")
    args = ap.parse_args()

    tokens, merges, types, pre = gguf_vocab(args.gguf)
    tok = hf_tokenizer(tokens, merges, types)
    bpe_cases = []
    for text in BPE_TEXTS + BPE_LOSSY_TEXTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        decoded = tok.decode(ids, skip_special_tokens=False)
        assert (decoded == text) == (text in BPE_TEXTS), f"unexpected HF round trip for {text!r}"
        bpe_cases.append({"text": text, "ids": ids, "decoded": decoded})

    vocab, scores = llama2c_vocab(args.tok512)
    # Plus a few real lines, long enough that many merges compete.
    wiki = Path(args.tok512).parent.parent / "wikitext-2-raw/wiki.test.raw"
    lines = [l for l in wiki.read_text(encoding="utf-8").split("\n") if 20 < len(l) < 300][:6]
    spm_cases = [{"text": t, "bos": True, "ids": llama2c_encode(vocab, scores, t, True)}
                 for t in TOK512_TEXTS + lines]
    spm_cases.append({"text": "", "bos": True, "ids": llama2c_encode(vocab, scores, "", True)})
    spm_cases.append({"text": "Once upon a time", "bos": False,
                      "ids": llama2c_encode(vocab, scores, "Once upon a time", False)})

    out = {
        "about": "Reference ids; regenerate with scripts/make_tokenizer_fixture.py (HF tokenizers "
                 "for SmolLM2, a naive llama2.c encode() for tok512).",
        "smollm2": {"gguf": Path(args.gguf).name, "pre": pre, "vocab_size": len(tokens),
                    "merges": len(merges), "cases": bpe_cases},
        "tok512": {"vocab_size": len(vocab), "cases": spm_cases},
        "llama3_pretokenizer": {"pattern": LLAMA3_PATTERN, "cases": llama3_pieces(BPE_TEXTS)},
    }
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(bpe_cases)} SmolLM2 cases, {len(spm_cases)} tok512 cases")


if __name__ == "__main__":
    main()
