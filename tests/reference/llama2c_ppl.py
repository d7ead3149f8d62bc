#!/usr/bin/env python3
"""Independent perplexity reference for llama2.c checkpoints (numpy only).

Written from the llama2.c format description, sharing no code with the C++ engine: it reads the
checkpoint and tokenizer.bin itself, tokenizes as llama2.c's run.c does (dummy prefix space,
UTF-8 code points, byte fallback, repeatedly merge the leftmost best-scoring pair; no BOS), runs the
decoder in float64 with the interleaved-pair RoPE of the original format, and prints perplexity as
DESIGN.md 2.5 defines it. Used to check `scalebits-cli eval` (tests/reference/README).

usage: llama2c_ppl.py MODEL.bin TOKENIZER.bin TEXT --max-bytes N --ctx C
"""
import argparse
import heapq
import json
import struct

import numpy as np


def load_tokenizer(path, vocab_size):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, vocab, scores = 4, [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        vocab.append(data[off:off + n])
        scores.append(score)
        off += n
    return vocab, scores


def encode(text_bytes, vocab, scores):
    lookup = {}
    for i, piece in enumerate(vocab):
        lookup.setdefault(piece, i)
    ids = [lookup[b" "]] if text_bytes else []
    i = 0
    while i < len(text_bytes):
        j = i + 1
        while j < len(text_bytes) and (text_bytes[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        cp = text_bytes[i:j]
        if cp in lookup:
            ids.append(lookup[cp])
        else:
            ids.extend(b + 3 for b in cp)
        i = j
    # Merge the best-scoring adjacent pair, leftmost on ties, until none is in the vocabulary.
    n = len(ids)
    tok = list(ids)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    alive = [True] * n
    heap = []

    def push(a):
        b = nxt[a]
        if b < n:
            m = lookup.get(vocab[tok[a]] + vocab[tok[b]])
            if m is not None:
                heapq.heappush(heap, (-scores[m], a, tok[a], tok[b], m))

    for a in range(n - 1):
        push(a)
    while heap:
        _, a, ta, tb, m = heapq.heappop(heap)
        b = nxt[a] if a < n else n
        if not alive[a] or b >= n or tok[a] != ta or tok[b] != tb:
            continue
        tok[a] = m
        alive[b] = False
        nxt[a] = nxt[b]
        if nxt[b] < n:
            prv[nxt[b]] = a
        if prv[a] >= 0:
            push(prv[a])
        push(a)
    return [tok[i] for i in range(n) if alive[i]]


def load_model(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(data, dtype=np.float32, offset=28).astype(np.float64)
    hd = dim // n_heads
    pos = 0

    def take(*shape):
        nonlocal pos
        size = int(np.prod(shape))
        out = w[pos:pos + size].reshape(shape)
        pos += size
        return out

    m = {"dim": dim, "hidden": hidden, "layers": n_layers, "heads": n_heads, "kv": n_kv, "vocab": vocab, "hd": hd}
    m["emb"] = take(vocab, dim)
    m["rms_att"] = take(n_layers, dim)
    m["wq"] = take(n_layers, n_heads * hd, dim)
    m["wk"] = take(n_layers, n_kv * hd, dim)
    m["wv"] = take(n_layers, n_kv * hd, dim)
    m["wo"] = take(n_layers, dim, n_heads * hd)
    m["rms_ffn"] = take(n_layers, dim)
    m["w1"] = take(n_layers, hidden, dim)
    m["w2"] = take(n_layers, dim, hidden)
    m["w3"] = take(n_layers, hidden, dim)
    m["rms_final"] = take(dim)
    pos += seq * hd  # freq_cis_real and freq_cis_imag, unused
    m["wcls"] = m["emb"] if shared else take(vocab, dim)
    return m


def rmsnorm(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w


def rope_interleaved(x, positions, hd):
    # x: (T, heads, hd); pairs (2i, 2i+1) rotate by pos * 10000^(-2i/hd)
    i = np.arange(0, hd, 2)
    freq = 1.0 / (10000.0 ** (i / hd))
    ang = positions[:, None] * freq[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def forward(m, ids):
    T = len(ids)
    hd, H, KV = m["hd"], m["heads"], m["kv"]
    x = m["emb"][ids]
    positions = np.arange(T, dtype=np.float64)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(m["layers"]):
        h = rmsnorm(x, m["rms_att"][l])
        q = (h @ m["wq"][l].T).reshape(T, H, hd)
        k = (h @ m["wk"][l].T).reshape(T, KV, hd)
        v = (h @ m["wv"][l].T).reshape(T, KV, hd)
        q, k = rope_interleaved(q, positions, hd), rope_interleaved(k, positions, hd)
        out = np.empty((T, H, hd))
        for head in range(H):
            kv = head // (H // KV)
            att = q[:, head, :] @ k[:, kv, :].T / np.sqrt(hd) + mask
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            out[:, head, :] = att @ v[:, kv, :]
        x = x + out.reshape(T, H * hd) @ m["wo"][l].T
        h = rmsnorm(x, m["rms_ffn"][l])
        g = h @ m["w1"][l].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ m["w3"][l].T)) @ m["w2"][l].T
    return rmsnorm(x, m["rms_final"]) @ m["wcls"].T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tokenizer")
    ap.add_argument("text")
    ap.add_argument("--max-bytes", type=int, default=0)
    ap.add_argument("--ctx", type=int, default=256)
    a = ap.parse_args()
    m = load_model(a.model)
    vocab, scores = load_tokenizer(a.tokenizer, m["vocab"])
    data = open(a.text, "rb").read()
    if a.max_bytes:
        cut = a.max_bytes
        while cut > 0 and cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        data = data[:cut]
    ids = encode(data, vocab, scores)
    windows = len(ids) // a.ctx
    nll = 0.0
    for w in range(windows):
        seg = ids[w * a.ctx:(w + 1) * a.ctx]
        logits = forward(m, np.array(seg))
        logits = logits - logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        nll -= sum(logp[t, seg[t + 1]] for t in range(a.ctx - 1))
    predicted = windows * (a.ctx - 1)
    print(json.dumps({"tokens": len(ids), "windows": windows, "predicted": predicted,
                      "ppl": float(np.exp(nll / predicted)), "first_ids": ids[:16]}))


if __name__ == "__main__":
    main()
