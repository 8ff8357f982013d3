#!/usr/bin/python3
"""seqdiff vs PyTorch parity on the dna-small backbone.

For mode in (mdlm, ar): write a checkpoint with `seqdiff model init`,
perturb every tensor (so that biases and LayerNorm gains are not at their
trivial initial values and a mistake in them shows), then compare
  logits: `seqdiff model logits` vs `torch_ref.py logits` on 2 x 1024
          random tokens (ids 7..11 and some [MASK]=3); the figure of merit
          is max |diff| / max |logit|, which must be <= 1e-4;
  loss:   `seqdiff model loss` vs `torch_ref.py loss` on a fixed batch
          (mdlm with fixed t and mask files; ar with some PAD targets);
          relative difference must be <= 1e-4.
Exit status 1 on any failure. Needs numpy (and torch for torch_ref.py).

usage: parity.py SEQDIFF_BIN TORCH_REF_PY [WORKDIR]
SEQDIFF_DEVICE (cpu, cuda, cuda:N) picks seqdiff's backend; default cpu.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-4


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy()
    return out, meta


def write_st(path, tensors, meta):
    header, off, blobs = {}, 0, []
    for k, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    seqdiff, ref = sys.argv[1], sys.argv[2]
    work = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="seqdiff-parity-")
    os.makedirs(work, exist_ok=True)
    py = sys.executable
    dev = ["--device", os.environ.get("SEQDIFF_DEVICE", "cpu")]
    rng = np.random.default_rng(0)
    rows, L, V = 2, 1024, 12
    tokens = rng.integers(7, 12, size=(rows, L)).astype("<i4")
    tokens[rng.random((rows, L)) < 0.2] = 3  # some [MASK]
    tok_path = os.path.join(work, "tokens.i32")
    tokens.tofile(tok_path)
    # loss batch: clean tokens with a PAD tail on row 1
    x0 = rng.integers(7, 12, size=(rows, L)).astype("<i4")
    x0[1, L - 100:] = 4
    x0_path = os.path.join(work, "x0.i32")
    x0.tofile(x0_path)
    t = np.array([0.25, 0.8], dtype="<f4")
    t_path = os.path.join(work, "t.f32")
    t.tofile(t_path)
    masked = (rng.random((rows, L)) < t[:, None]).astype(np.uint8)
    m_path = os.path.join(work, "masked.u8")
    masked.tofile(m_path)

    ok = True
    for mode in ("mdlm", "ar"):
        ck = os.path.join(work, f"ckpt-{mode}")
        run([seqdiff, "model", "init", "--preset", "dna-small", "--mode", mode, "--seed", "1", "--out", ck])
        st = os.path.join(ck, "model.safetensors")
        tensors, meta = read_st(st)
        for k in tensors:
            tensors[k] = tensors[k] + rng.normal(0, 0.05, tensors[k].shape).astype(np.float32)
        write_st(st, tensors, meta)

        ours, theirs = os.path.join(work, f"logits-{mode}-seqdiff.f32"), os.path.join(work, f"logits-{mode}-torch.f32")
        run([seqdiff, "model", "logits", "--ckpt", ck, "--tokens", tok_path, "--rows", str(rows), "--output", ours, "--raw"] + dev)
        run([py, ref, "logits", "--ckpt", ck, "--tokens", tok_path, "--rows", str(rows), "--mode", mode, "--out", theirs])
        a = np.fromfile(ours, dtype="<f4").reshape(rows, L, V)
        b = np.fromfile(theirs, dtype="<f4").reshape(rows, L, V)
        diff = float(np.abs(a - b).max())
        scale = float(np.abs(b).max())
        rel = diff / scale
        good = rel <= TOL and np.isfinite(a).all()
        ok &= good
        attn = "causal" if mode == "ar" else "bidirectional"
        print(f"logits {mode:4s} ({attn:13s}): max|diff| {diff:.3e}  max|logit| {scale:.3e}  ratio {rel:.3e}  {'ok' if good else 'FAIL'} (<= {TOL:g})")

        lcmd = ["--ckpt", ck, "--tokens", x0_path, "--rows", str(rows)]
        extra = ["--t", t_path, "--masked", m_path] if mode == "mdlm" else []
        lo = json.loads(run([seqdiff, "model", "loss"] + lcmd + extra + dev))["loss"]
        lt = json.loads(run([py, ref, "loss", "--mode", mode] + lcmd + extra))["loss"]
        rel = abs(lo - lt) / abs(lt)
        good = rel <= TOL
        ok &= good
        print(f"loss   {mode:4s}: seqdiff {lo:.7f}  torch {lt:.7f}  rel diff {rel:.3e}  {'ok' if good else 'FAIL'} (<= {TOL:g})")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
