#!/usr/bin/env python3
"""Writes the small valid seed files of fuzz/seeds/<target>/ (run once; the output is committed).
The export seed is a real export of stories260K, copied by scripts/fuzz.sh when it can make one."""
import json, os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata: header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blob

put("fuzz_safetensors", "two_tensors.safetensors", safetensors({
    "a": ("F32", [2, 3], struct.pack("<6f", *range(6))),
    "b": ("F16", [4], struct.pack("<4e", 1, -2, 0.5, 1e4)),
}, {"format": "pt"}))

def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def gguf(kv, tensors):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, (typ, val) in kv.items():
        out += gguf_string(key) + struct.pack("<I", typ)
        if typ == 8: out += gguf_string(val)
        elif typ == 4: out += struct.pack("<I", val)
        elif typ == 6: out += struct.pack("<f", val)
        elif typ == 9:
            et, items = val
            out += struct.pack("<IQ", et, len(items))
            for it in items:
                out += gguf_string(it) if et == 8 else struct.pack("<f" if et == 6 else "<i", it)
    offset = 0
    datas = []
    for name, ne, raw in tensors:
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", 0, offset)
        datas.append(raw)
        offset += (len(raw) + 31) // 32 * 32
    out += b"\0" * ((32 - len(out) % 32) % 32)
    for raw in datas:
        out += raw + b"\0" * ((32 - len(raw) % 32) % 32)
    return out

tokens = ["<unk>", "<s>", "</s>"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + [" ", "he", "ll", "o"]
put("fuzz_gguf", "tiny_llama.gguf", gguf({
    "general.architecture": (8, "llama"),
    "llama.embedding_length": (4, 8), "llama.feed_forward_length": (4, 16), "llama.block_count": (4, 1),
    "llama.attention.head_count": (4, 2), "llama.attention.head_count_kv": (4, 2), "llama.context_length": (4, 16),
    "llama.attention.layer_norm_rms_epsilon": (6, 1e-5),
    "tokenizer.ggml.model": (8, "llama"),
    "tokenizer.ggml.tokens": (9, (8, tokens)),
    "tokenizer.ggml.scores": (9, (6, [0.0] * len(tokens))),
}, [("token_embd.weight", [8, len(tokens)], struct.pack("<%df" % (8 * len(tokens)), *([0.01] * (8 * len(tokens)))))]))

# llama2.c: 7 int32 header, then the weights of dim 8, hidden 16, 1 layer, 2 heads, vocab 4, seq 4.
dim, hidden, layers, heads, kv, vocab, seq = 8, 16, 1, 2, 2, 4, 4
head = dim // heads
n = (vocab * dim + layers * dim + layers * dim * dim * 2 + layers * dim * kv * head * 2 + layers * dim +
     layers * hidden * dim * 3 + dim + seq * head // 2 * 2)
put("fuzz_llama2c", "tiny.bin", struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq) +
    struct.pack("<%df" % n, *([0.02] * n)))
tok = struct.pack("<i", 8)
for i, piece in enumerate([b"<unk>", b"<s>", b"</s>", b" a"]):
    tok += struct.pack("<fi", float(i), len(piece)) + piece
put("fuzz_llama2c", "tokenizer.bin", tok)

put("fuzz_config_json", "smollm2.json", json.dumps({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
    "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152,
    "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000, "tie_word_embeddings": True,
    "hidden_act": "silu"}))

vocab_map = {c: i for i, c in enumerate(["h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello"])}
put("fuzz_tokenizer_json", "tiny_bpe.json", json.dumps({
    "version": "1.0", "added_tokens": [{"id": 12, "content": "<|endoftext|>", "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": vocab_map, "merges": ["h e", "l l", "he ll", "hell o"]}}))

# A sharded safetensors model: the fuzzed input is model.safetensors.index.json; the two shards it
# names are written by the target itself (fuzz_sharded_index.cpp) with these tensors.
put("fuzz_sharded_index", "two_shards.json", json.dumps({
    "metadata": {"total_size": 40},
    "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                   "c": "model-00002-of-00002.safetensors"}}))

# An analysis file of a tiny Llama (dim 16, ffn 24, 1 layer, 2 heads sharing 1 KV head of 8), tiles
# 16 x 16, group 8, widths 2 and 4. Without the checksum key, so that mutated tables are parsed
# instead of failing their checksum (a second seed has a key that lists nothing).
def analysis_seed(checksums, cfg=None):
    cfg = cfg or {"architecture": "llama", "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1,
           "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "vocab_size": 32, "max_seq_len": 64,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True}
    shapes = [("q_proj", 16, 16), ("k_proj", 8, 16), ("v_proj", 8, 16), ("o_proj", 16, 16),
              ("gate_proj", 24, 16), ("up_proj", 24, 16), ("down_proj", 16, 24)]
    tensors, matrices = {}, []
    for kind, (short, rows, cols) in enumerate(shapes):
        section = "self_attn" if kind < 4 else "mlp"
        name = "model.layers.0.%s.%s.weight" % (section, short)
        gr, gc = (rows + 15) // 16, (cols + 15) // 16
        tiles = gr * gc
        matrices.append({"name": name, "layer": 0, "kind": kind, "rows": rows, "cols": cols, "tile_rows": 16,
                         "tile_cols": 16, "group": 8, "grid_rows": gr, "grid_cols": gc, "fisher_total": 1.5,
                         "top10_share_before": 0.2, "top10_share_after": 0.3, "factored_corr": 0.8,
                         "factored_log_corr": 0.7})
        cost = [v for t in range(tiles) for v in (0.5 + t, 0.1 + t)]
        tensors["cost.original." + name] = ("F64", [tiles, 2], struct.pack("<%dd" % len(cost), *cost))
        tensors["cost.reordered." + name] = ("F64", [tiles, 2], struct.pack("<%dd" % len(cost), *cost))
        tensors["fisher.original." + name] = ("F64", [tiles], struct.pack("<%dd" % tiles, *range(tiles)))
        tensors["fisher.reordered." + name] = ("F64", [tiles], struct.pack("<%dd" % tiles, *range(tiles)))
    perm = lambda n: struct.pack("<%dq" % n, *reversed(range(n)))
    tensors["perm.hidden"] = ("I64", [16], perm(16))
    tensors["perm.ffn.0"] = ("I64", [24], perm(24))
    tensors["perm.heads.0"] = ("I64", [1], perm(1))
    tensors["perm.v_dims.0"] = ("I64", [8], perm(8))
    meta = {"format": "scalebits-analysis", "format_version": 2 if "architectures" in cfg else 1, "model_path": "tiny.gguf",
            "fingerprint": {"size": 1234, "hash": "00000000deadbeef"}, "config": cfg,
            "options": {"calib_text": "calib.txt", "samples": 2, "seq_len": 16, "seed": "000000000000002a",
                        "tile_rows": 16, "tile_cols": 16, "group": 8, "widths": [2, 4], "reorder_heads": True,
                        "device": "cpu"},
            "widths": [2, 4], "calib_loss": 3.5, "seconds": 1.0, "unquantized_bytes": 4096, "layers": 1,
            "matrices": matrices}
    metadata = {"scalebits.analysis": json.dumps(meta)}
    if checksums: metadata["scalebits.checksums"] = "{}"
    return safetensors(tensors, metadata)

put("fuzz_analysis", "tiny.sba", analysis_seed(False))
put("fuzz_analysis", "tiny_empty_checksums.sba", analysis_seed(True))

# Format version 2 records the config as Hugging Face fields: a Qwen2 of the same shapes.
put("fuzz_analysis", "tiny_qwen2_v2.sba", analysis_seed(False, {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16, "intermediate_size": 24,
    "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "vocab_size": 32,
    "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
    "hidden_act": "silu", "use_sliding_window": False}))

# The model families (issue 13): config.json forms with each family's switches.
base = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 448, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-6, "hidden_act": "silu"}
put("fuzz_config_json", "llama3.json", json.dumps(dict(base, architectures=["LlamaForCausalLM"], rope_parameters={
    "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
    "original_max_position_embeddings": 32})))
put("fuzz_config_json", "llama_linear_bias.json", json.dumps(dict(base, architectures=["LlamaForCausalLM"],
    rope_theta=10000.0, rope_scaling={"type": "linear", "factor": 4.0}, attention_bias=True, mlp_bias=True)))
put("fuzz_config_json", "freq_factors.json", json.dumps(dict(base, architectures=["LlamaForCausalLM"],
    rope_scaling={"rope_type": "freq_factors", "freq_factors": [1.0, 1.0, 2.5, 8.0, 8.0, 8.0, 8.0, 8.0]})))
put("fuzz_config_json", "qwen2.json", json.dumps(dict(base, architectures=["Qwen2ForCausalLM"], model_type="qwen2",
    use_sliding_window=True, max_window_layers=0, sliding_window=64, tie_word_embeddings=True)))
put("fuzz_config_json", "qwen3.json", json.dumps(dict(base, architectures=["Qwen3ForCausalLM"], model_type="qwen3",
    head_dim=32, layer_types=["full_attention", "full_attention"], attention_bias=False)))
put("fuzz_config_json", "mistral.json", json.dumps(dict(base, architectures=["MistralForCausalLM"],
    model_type="mistral", sliding_window=16)))

# GGUF: a qwen3 with q/k head norms and a llama with q/k/v/o biases and rope_freqs (Llama 3 scaling as
# llama.cpp stores it); dim 8, 1 layer, 2 heads of 4.
def f32(n, v=0.01):
    return struct.pack("<%df" % n, *([v] * n))
def tiny_gguf(arch, extra_kv, extra_tensors):
    kv = {"general.architecture": (8, arch),
          arch + ".embedding_length": (4, 8), arch + ".feed_forward_length": (4, 16), arch + ".block_count": (4, 1),
          arch + ".attention.head_count": (4, 2), arch + ".attention.head_count_kv": (4, 2),
          arch + ".context_length": (4, 16), arch + ".attention.layer_norm_rms_epsilon": (6, 1e-6),
          "tokenizer.ggml.model": (8, "gpt2"), "tokenizer.ggml.pre": (8, "qwen2" if arch != "llama" else "llama-bpe"),
          "tokenizer.ggml.tokens": (9, (8, ["h", "e", "l", "o", "\u0120", "he", "ll"])),
          "tokenizer.ggml.merges": (9, (8, ["h e", "l l"]))}
    kv.update(extra_kv)
    tensors = [("token_embd.weight", [8, 7], f32(56)), ("output_norm.weight", [8], f32(8, 1.0)),
               ("blk.0.attn_norm.weight", [8], f32(8, 1.0)), ("blk.0.ffn_norm.weight", [8], f32(8, 1.0))]
    for name, ne in (("attn_q", [8, 8]), ("attn_k", [8, 8]), ("attn_v", [8, 8]), ("attn_output", [8, 8]),
                     ("ffn_gate", [8, 16]), ("ffn_up", [8, 16]), ("ffn_down", [16, 8])):
        tensors.append(("blk.0.%s.weight" % name, ne, f32(ne[0] * ne[1])))
    return gguf(kv, tensors + extra_tensors)
put("fuzz_gguf", "tiny_qwen3.gguf", tiny_gguf("qwen3", {"qwen3.attention.key_length": (4, 4)},
    [("blk.0.attn_q_norm.weight", [4], f32(4, 1.0)), ("blk.0.attn_k_norm.weight", [4], f32(4, 1.0))]))
put("fuzz_gguf", "tiny_llama_bias_freqs.gguf", tiny_gguf("llama", {},
    [("blk.0.%s.bias" % n, [8], f32(8)) for n in ("attn_q", "attn_k", "attn_v", "attn_output")] +
    [("rope_freqs.weight", [2], f32(2, 2.0))]))

# tokenizer.json: Qwen style (NFC, Split regex, ByteLevel without its regex) and the two SentencePiece
# forms (Metaspace "first"; legacy Prepend + Replace), with byte fallback.
qwen_vocab = {c: i for i, c in enumerate(["h", "e", "l", "o", "\u0120", "1", "he", "ll"])}
put("fuzz_tokenizer_json", "tiny_qwen.json", json.dumps({
    "version": "1.0", "added_tokens": [{"id": 8, "content": "<|im_start|>", "special": True}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}| ?\\p{L}+|\\s+"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": qwen_vocab, "merges": [["h", "e"], ["l", "l"]], "ignore_merges": False}}))
spm_tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["\u2581", "h", "e", "l", "o", "he", "ll", "\u2581he"]
spm_vocab = {t: i for i, t in enumerate(spm_tokens)}
spm_decoder = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
spm_model = {"type": "BPE", "vocab": spm_vocab, "merges": [["h", "e"], ["l", "l"], ["\u2581", "he"]], "unk_token": "<unk>",
             "fuse_unk": True, "byte_fallback": True, "ignore_merges": False}
spm_added = [{"id": 1, "content": "<s>", "special": True}, {"id": 2, "content": "</s>", "special": True}]
put("fuzz_tokenizer_json", "tiny_spm_metaspace.json", json.dumps({
    "version": "1.0", "added_tokens": spm_added, "normalizer": None,
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
    "decoder": spm_decoder, "model": spm_model}))
put("fuzz_tokenizer_json", "tiny_spm_legacy.json", json.dumps({
    "version": "1.0", "added_tokens": spm_added,
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None, "decoder": spm_decoder, "model": spm_model}))
