#!/usr/bin/env python3
"""Scores a Hugging Face folder (an `export --format hf` result, or any model folder) with
transformers, by the tool's perplexity protocol: the whole text tokenized once without special
tokens, cut into non-overlapping windows of CTX tokens (the tail dropped), every position after the
first of each window scored, ppl = exp(mean NLL). float32, eager attention, CPU.

Developer tool only (the check that an hf export loads and scores in transformers as it does in the
tool); CI needs no Python. Needs torch and transformers.
Usage: tests/reference/hf_folder_ppl.py FOLDER TEXT [--ctx 512] [--max-windows K] [--json]
"""
import argparse
import json
import math
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--max-windows", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_grad_enabled(False)
    tok = AutoTokenizer.from_pretrained(a.folder)
    model = AutoModelForCausalLM.from_pretrained(a.folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with open(a.text, encoding="utf-8") as f:
        ids = tok(f.read(), add_special_tokens=False)["input_ids"]
    windows = len(ids) // a.ctx
    if a.max_windows:
        windows = min(windows, a.max_windows)
    if windows == 0:
        raise SystemExit(f"{a.text}: {len(ids)} tokens, fewer than one window of {a.ctx}")
    t0 = time.time()
    nll, scored = 0.0, 0
    for w in range(windows):
        x = torch.tensor(ids[w * a.ctx:(w + 1) * a.ctx]).unsqueeze(0)
        logits = model(x).logits[0, :-1].double()
        nll += torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum").item()
        scored += a.ctx - 1
    out = {
        "folder": a.folder,
        "transformers_model": type(model).__name__,
        "tokens": len(ids),
        "windows": windows,
        "ctx": a.ctx,
        "ppl": math.exp(nll / scored),
        "seconds": time.time() - t0,
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{out['transformers_model']}: ppl {out['ppl']:.4f} over {windows} windows of {a.ctx} tokens "
              f"({len(ids)} tokens in the text)")


if __name__ == "__main__":
    main()
