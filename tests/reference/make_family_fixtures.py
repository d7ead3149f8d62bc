#!/usr/bin/env python3
"""Writes tests/data/families/: one tiny random-weight model of every family the tool runs, with
its tokenizer, its GGUF conversion by llama.cpp's own converter, and reference numbers from
Hugging Face transformers (the reference for every family switch, DESIGN.md 6).

Fixtures (hidden 64, 2 layers, 4 query heads over 2 KV heads, MLP 128, a BPE tokenizer of a few
hundred tokens trained on the C4 sample):
  llama3        LlamaForCausalLM, rope_parameters llama3 (factor 8, original context 32), untied, BF16;
                byte-level BPE with Llama 3's Split regex and ignore_merges
  llama-linear  LlamaForCausalLM, linear RoPE scaling x4, tied, F16; SentencePiece BPE with
                byte_fallback and the legacy Prepend+Replace tokenizer.json (Llama 2 style)
  qwen2         Qwen2ForCausalLM, q/k/v biases, rope_theta 1e6, tied, F16; NFC + Qwen's Split regex
  qwen3         Qwen3ForCausalLM, q/k head norms, head_dim 32 (hidden / heads is 16), untied, F32
  mistral       MistralForCausalLM, sliding_window 16, BF16 in two shards; SentencePiece BPE with
                byte_fallback and the Metaspace (prepend_scheme first) tokenizer.json
Weights are drawn larger than transformers' initialization (std 0.25, norms and biases random) so
that every switch moves perplexity by percents: the script checks that removing each one does.

Per fixture, reference.json holds: the token ids of the first TEXT_BYTES bytes of WikiText-2 test
(tokenizers library, no special tokens), perplexity by the tool's protocol (no BOS,
non-overlapping windows of CTX tokens, every position after the first scored) from transformers in
float32 with eager attention, 32 greedy ids after a 20-token prompt (KV cache, no EOS stop), and the
ids of many strings for the tokenizer tests. Mistral also has the numbers without its window: the
GGUF conversion drops it (llama.cpp writes Mistral as "llama" without a window).

Developer tool only; CI uses the committed fixtures and needs no Python. Needs torch, transformers,
tokenizers, sentencepiece, safetensors, and llama.cpp's convert_hf_to_gguf.py with its gguf-py
(the vendor/llama.cpp folder of the llama-cpp-python sdist: pip download --no-deps --no-binary
:all: llama-cpp-python==0.3.36).
Usage: tests/reference/make_family_fixtures.py --llama-cpp DIR [--out tests/data/families]
"""
import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
TEXT_BYTES = 6000
CTX = 64           # longer than Mistral's window (16) and Llama 3's original context (32)
PROMPT = 20
GREEDY_STEPS = 32

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

sys.path.insert(0, str(ROOT / "scripts"))
from make_tokenizer_fixture import BPE_TEXTS  # noqa: E402  (the 46 strings of the SmolLM2 fixture)

EXTRA_TEXTS = [
    "e\u0301 composed by NFC: \u00e9 vs e\u0301, A\u030a vs \u00c5, \u1100\u1161 jamo",
    "\u2126 ohm and \u212b angstrom signs",
    "<|begin_of_text|>Hello<|eot_id|>",
    "<s>Hello</s> <unk>",
    "unseen characters fall back to bytes: \u6f22\u5b57 \U0001f642 \u0394\u03a9",
    "DON'T Won'T they'LL",
    "numbers 1 12 123 1234 12345 123456",
    "  leading spaces then text",
    "tab\tseparated\tvalues\n",
    "trailing newline\n",
]


def texts():
    return list(BPE_TEXTS) + EXTRA_TEXTS


# ----------------------------------------------------------------------------------- tokenizers

def training_lines():
    text = (SHARED / "c4" / "c4-sample.utf8").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def byte_level_tokenizer(kind, vocab_size, specials):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(ignore_merges=(kind == "llama3")))
    regex = LLAMA3_REGEX if kind == "llama3" else QWEN2_REGEX
    if kind == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(training_lines(), trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def sentencepiece_tokenizer(folder, vocab_size, legacy, train=True):
    """tokenizer.model (SentencePiece BPE with byte fallback, as Llama 2 / Mistral ship it; trained
    unless train is false) and its tokenizer.json as transformers converts it (legacy: the
    Prepend+Replace normalizer; else Metaspace)."""
    import importlib

    import sentencepiece as spm
    from transformers.convert_slow_tokenizer import LlamaConverter
    from transformers.tokenization_utils_base import generate_merges

    cst = importlib.import_module("transformers.convert_slow_tokenizer")  # the module, not the function of that name

    if not getattr(cst.SentencePieceExtractor, "_fixture_patch", False):
        # transformers 5.24's SpmConverter passes the (piece, score) list where extract() expects a
        # model type; what it means is merges ordered by piece score, as SentencePiece merges.
        original = cst.SentencePieceExtractor.extract

        def extract(self, model_type=None, **kwargs):
            if isinstance(model_type, list):
                vocab = {p.piece: i for i, p in enumerate(self.proto.pieces)}
                return vocab, generate_merges(vocab, dict(model_type))
            return original(self, model_type, **kwargs)

        cst.SentencePieceExtractor.extract = extract
        cst.SentencePieceExtractor._fixture_patch = True

    if train:
        corpus = folder / "corpus.txt"
        corpus.write_text("\n".join(training_lines()), encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(folder / "tokenizer"), vocab_size=vocab_size, model_type="bpe",
            byte_fallback=True, split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, add_dummy_prefix=True,
            normalization_rule_name="identity", remove_extra_whitespaces=False, character_coverage=0.995,
            num_threads=1, minloglevel=2)
        corpus.unlink()
        (folder / "tokenizer.vocab").unlink()

    class Original:  # what LlamaConverter reads from a slow tokenizer
        vocab_file = str(folder / "tokenizer.model")
        add_prefix_space = True

        def __init__(self):
            self.legacy = legacy
            self.sp = spm.SentencePieceProcessor(model_file=self.vocab_file)

        def convert_ids_to_tokens(self, i):
            return self.sp.id_to_piece(i)

    tok = LlamaConverter(Original()).converted()
    return tok


def write_tokenizer_files(folder, tok, config):
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


# ---------------------------------------------------------------------------------------- models

def build_model(family, vocab, torch_dtype, seed):
    import torch
    import transformers

    common = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6,
                  hidden_act="silu")
    if family == "llama3":
        cfg = transformers.LlamaConfig(**common, tie_word_embeddings=False, rope_parameters={
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
        cls = transformers.LlamaForCausalLM
    elif family == "llama-linear":
        cfg = transformers.LlamaConfig(**common, tie_word_embeddings=True,
                                       rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0})
        cls = transformers.LlamaForCausalLM
    elif family == "qwen2":
        cfg = transformers.Qwen2Config(**common, tie_word_embeddings=True, use_sliding_window=False,
                                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
        cls = transformers.Qwen2ForCausalLM
    elif family == "qwen3":
        cfg = transformers.Qwen3Config(**common, head_dim=32, tie_word_embeddings=False, use_sliding_window=False,
                                       attention_bias=False,
                                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
        cls = transformers.Qwen3ForCausalLM
    elif family == "mistral":
        cfg = transformers.MistralConfig(**common, sliding_window=16, tie_word_embeddings=False,
                                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        cls = transformers.MistralForCausalLM
    else:
        raise ValueError(family)
    torch.manual_seed(seed)
    model = cls(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(0.25 * torch.randn_like(p))
    return model.to(torch_dtype)


def load_fp32(folder, **overrides):
    import torch
    import transformers

    cfg = transformers.AutoConfig.from_pretrained(folder)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, config=cfg, dtype=torch.float32,
                                                              attn_implementation="eager")
    return model.eval()


def perplexity(model, ids):
    import torch

    n = len(ids) // CTX
    nll, count = 0.0, 0
    with torch.no_grad():
        for w in range(n):
            x = torch.tensor([ids[w * CTX:(w + 1) * CTX]])
            logits = model(x).logits[0].double()
            nll += torch.nn.functional.cross_entropy(logits[:-1], x[0, 1:], reduction="sum").item()
            count += CTX - 1
    return {"ppl": math.exp(nll / count), "nll_sum": nll, "predicted": count, "windows": n}


def greedy(model, prompt):
    import torch

    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=True)
        cache, ids = out.past_key_values, []
        nxt = int(out.logits[0, -1].argmax())
        for _ in range(GREEDY_STEPS):
            ids.append(nxt)
            out = model(torch.tensor([[nxt]]), past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            nxt = int(out.logits[0, -1].argmax())
    return ids


def check_sensitive(name, base, other, what):
    change = abs(other - base) / base
    print(f"  {name}: without {what}: ppl {other:.4f} vs {base:.4f} ({100 * change:.1f}%)")
    if change < 0.01:
        sys.exit(f"{name}: {what} moves perplexity by only {100 * change:.2f}%: the fixture would not test it")


# ------------------------------------------------------------------------------------------ GGUF

CONVERT = r"""
import sys
sys.path.insert(0, sys.argv[1] + "/gguf-py")
sys.path.insert(0, sys.argv[1])
pre = sys.argv[2]
import convert_hf_to_gguf as c
from conversion.base import TextModel
if pre != "-":
    # The converter names a byte-level pre-tokenizer by hashing what it does to a test string and
    # refuses unknown hashes; these tokenizers were trained here, with exactly that family's regex.
    TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
sys.argv = ["convert_hf_to_gguf.py"] + sys.argv[3:]
c.main()
"""


def convert_gguf(llama_cpp, folder, out, outtype, pre):
    subprocess.run([sys.executable, "-c", CONVERT, str(llama_cpp), pre, str(folder), "--outfile", str(out),
                    "--outtype", outtype], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -------------------------------------------------------------------------------------- fixtures

FIXTURES = {
    # name: (tokenizer kind, torch dtype, GGUF outtype, llama.cpp pre-tokenizer name, shard size)
    "llama3": ("llama3", "bfloat16", "bf16", "llama-bpe", None),
    "llama-linear": ("spm-legacy", "float16", "f16", "-", None),
    "qwen2": ("qwen2", "float16", "f16", "qwen2", None),
    "qwen3": ("qwen2", "float32", "f32", "qwen2", None),
    "mistral": ("spm", "bfloat16", "bf16", "-", "200KB"),
}


def make_fixture(name, out_root, llama_cpp, seed):
    import torch

    tok_kind, dtype, outtype, pre, shard = FIXTURES[name]
    folder = out_root / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    legacy_tok = None
    if tok_kind == "llama3":
        tok = byte_level_tokenizer("llama3", 420, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"])
        tok_config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "add_bos_token": True,
                      "tokenizer_class": "PreTrainedTokenizerFast"}
    elif tok_kind == "qwen2":
        tok = byte_level_tokenizer("qwen2", 420, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        tok_config = {"bos_token": None, "eos_token": "<|endoftext|>", "add_bos_token": False,
                      "tokenizer_class": "Qwen2Tokenizer"}
    else:
        tok = sentencepiece_tokenizer(folder, 700, legacy=(tok_kind == "spm-legacy"))
        # llama.cpp reads the GGUF's SentencePiece vocabulary as SentencePiece does, which is
        # transformers' legacy conversion of the same tokenizer.model.
        legacy_tok = sentencepiece_tokenizer(folder, 700, legacy=True, train=False) if tok_kind == "spm" else None
        tok_config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                      "add_eos_token": False, "legacy": tok_kind == "spm-legacy", "tokenizer_class": "LlamaTokenizer"}
    write_tokenizer_files(folder, tok, tok_config)
    vocab = (tok.get_vocab_size() + 31) // 32 * 32  # padded, as real embeddings are

    model = build_model(name, vocab, getattr(torch, dtype), seed)
    model.save_pretrained(folder, max_shard_size=shard or "1GB")
    for junk in ("generation_config.json",):
        (folder / junk).unlink(missing_ok=True)

    text = (SHARED / "wikitext-2-raw" / "wiki.test.raw").read_bytes()[:TEXT_BYTES].decode("utf-8", errors="ignore")
    ids = tok.encode(text, add_special_tokens=False).ids
    ref = load_fp32(folder)
    ppl = perplexity(ref, ids)
    print(f"{name}: {len(ids)} tokens, ppl {ppl['ppl']:.4f} over {ppl['windows']} windows of {CTX}")
    result = {
        "family": name, "text_bytes": TEXT_BYTES, "ctx": CTX, "eval_ids": ids, "eval": ppl,
        "prompt_ids": ids[:PROMPT], "greedy_ids": greedy(ref, ids[:PROMPT]),
        "tokenizer_cases": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts()],
    }

    if legacy_tok is not None:
        result["eval_ids_legacy"] = legacy_tok.encode(text, add_special_tokens=False).ids
        result["tokenizer_cases_legacy"] = [{"text": t, "ids": legacy_tok.encode(t, add_special_tokens=False).ids}
                                            for t in texts()]

    # Each switch must matter, or the fixture tests nothing.
    if name == "llama3" or name == "llama-linear":
        check_sensitive(name, ppl["ppl"], perplexity(load_fp32(folder, rope_parameters={
            "rope_type": "default", "rope_theta": ref.config.rope_parameters["rope_theta"]}), ids)["ppl"], "RoPE scaling")
    if name == "mistral":
        full = load_fp32(folder, sliding_window=None)
        result["eval_full_attention"] = perplexity(full, ids)
        result["greedy_ids_full_attention"] = greedy(full, ids[:PROMPT])
        check_sensitive(name, ppl["ppl"], result["eval_full_attention"]["ppl"], "the sliding window")
    if name in ("qwen2", "qwen3"):
        probe = load_fp32(folder)
        with torch.no_grad():
            for layer in probe.model.layers:
                attn = layer.self_attn
                if name == "qwen2":
                    for lin in (attn.q_proj, attn.k_proj, attn.v_proj):
                        lin.bias.zero_()
                else:
                    attn.q_norm.weight.fill_(1.0)
                    attn.k_norm.weight.fill_(1.0)
        check_sensitive(name, ppl["ppl"], perplexity(probe, ids)["ppl"], "biases" if name == "qwen2" else "q/k norm weights")

    gguf = folder / "model.gguf"
    convert_gguf(llama_cpp, folder, gguf, outtype, pre)
    (folder / "reference.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"  {folder.relative_to(ROOT)}: {size / 1024:.0f} KiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-cpp", type=Path, required=True, help="llama.cpp source folder (convert_hf_to_gguf.py)")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "families")
    ap.add_argument("--only", nargs="*", default=list(FIXTURES), help="fixture names")
    args = ap.parse_args()
    for name in args.only:
        make_fixture(name, args.out, args.llama_cpp, seed=1000 + list(FIXTURES).index(name))


if __name__ == "__main__":
    main()
