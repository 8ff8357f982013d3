#!/usr/bin/env python3
"""Markdown learning-curve table from seqdiff pretrain metrics.jsonl logs.

usage: scripts/learning-curve.py NAME=RUNDIR/metrics.jsonl ...
Rows: every step with a valid loss; columns per run: mean train loss over the
steps since the previous row, valid loss (nats/token), tokens, elapsed.
"""
import json, math, sys

runs = []
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    rows, acc = {}, []
    for line in open(path):
        m = json.loads(line)
        if m.get("loss") is not None:
            acc.append(m["loss"])
        if m.get("valid_loss") is not None:
            rows[m["step"]] = (sum(acc) / len(acc) if acc else float("nan"), m["valid_loss"], m["tokens"], m["elapsed"])
            acc = []
    runs.append((name, rows))

steps = sorted(set(s for _, r in runs for s in r))
head = "| step | " + " | ".join(f"{n} train | {n} valid (ppl) | {n} tokens | {n} elapsed" for n, _ in runs) + " |"
print(head)
print("|" + "---|" * (1 + 4 * len(runs)))
for s in steps:
    cells = [str(s)]
    for _, r in runs:
        if s in r:
            tr, va, tok, el = r[s]
            cells += [f"{tr:.4f}", f"{va:.4f} ({math.exp(va):.3f})", f"{tok/1e6:.2f}M", f"{el/60:.1f} min"]
        else:
            cells += ["", "", "", ""]
    print("| " + " | ".join(cells) + " |")
