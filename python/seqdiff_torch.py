#!/usr/bin/python3
"""Load a seqdiff checkpoint as a PyTorch module.

    import torch, seqdiff_torch
    model = seqdiff_torch.load("runs/mdlm")            # ema.safetensors when present
    logits = model(torch.tensor([[7, 8, 3, 10]]))       # (1, 4, vocab_size)
    logits = model(tokens, t=torch.tensor([0.5]))       # time-conditioned mdlm

A checkpoint is a directory with config.json and model.safetensors (and
ema.safetensors when training kept an EMA); a run directory works too (its
checkpoint/ is used). The module's state_dict names and shapes are exactly
the checkpoint's tensor names, so load_state_dict reads the file as it is.
docs/pytorch.md describes the tensors, the vocabulary and what the logits
mean.

The model is the backbone of seqdiff's nn package (nn/model.go), written
plainly: pre-LayerNorm transformer, rotary position embedding (rotate-half,
base 10000) on q and k, bias-free qkv and attention output projections,
GELU (tanh) MLP of width 4 d_model with biases, final LayerNorm, untied
output head with bias; causal attention for mode ar, bidirectional for mdlm
and mlm. With time_conditioning (mdlm) the blocks are DiT adaLN blocks
driven by c = silu(time_embed(sinusoidal(1000 t))).

Needs only torch (>= 1.13; the fused attention of torch >= 2 is used when
present). The safetensors files are read by the few lines below, so the
safetensors package is not needed.

CLI (prints the logits, writes them, or checks them against seqdiff's):

    seqdiff_torch.py CKPT --ids 7,8,3,10 [--t 0.5]
    seqdiff_torch.py CKPT --tokens batch.i32 --rows 2 [--t-file t.f32] -o logits.f32
    seqdiff_torch.py CKPT --tokens batch.i32 --rows 2 --check seqdiff-logits.f32
"""
import argparse
import array
import json
import math
import os
import struct
import sys
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT_VERSION = 1  # the newest config.json format_version this reads
TIME_FREQ_DIM = 256  # size of the sinusoidal time embedding (DiT's)
LN_EPS = 1e-5

# DNA vocabulary (package vocab): specials first, then the bases.
DNA_TOKENS = ["[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N"]
MASK, PAD = 3, 4


@dataclass
class Config:
    """config.json: the keys the forward pass depends on (others, such as
    "training" and "preset", are ignored)."""
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    seq_len: int
    mode: str = "mdlm"  # mdlm, ar (causal) or mlm
    mask_id: int = MASK
    pad_id: int = PAD
    tokenizer: str = "dna-char"
    time_conditioning: bool = False
    format_version: int = 1

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in known})
        cfg.validate()
        return cfg

    def validate(self):  # as nn.Config.Validate
        if self.format_version > FORMAT_VERSION:
            raise ValueError(f"format_version {self.format_version} is newer than this script reads ({FORMAT_VERSION})")
        if self.mode not in ("mdlm", "ar", "mlm"):
            raise ValueError(f"mode {self.mode!r}: want mdlm, ar or mlm")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model {self.d_model} must split into n_heads {self.n_heads} heads of even size")
        if self.time_conditioning and self.mode != "mdlm":
            raise ValueError(f"time_conditioning on a {self.mode} model: only mdlm is conditioned on t")

    @property
    def causal(self):
        return self.mode == "ar"


# ----------------------------------------------------------------- model
def rotary_tables(length, head_dim, device):
    """cos and sin (length, head_dim) for rotate-half RoPE, base 10000.

    Rounded the way seqdiff's CPU kernel rounds them (inverse frequencies
    and angles in float32, cos and sin in float64), so far positions agree
    to the last bit rather than drifting apart.
    """
    e = torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim
    inv = 1.0 / torch.pow(10000.0, e.double()).float()
    angles = (torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]).double()
    cos, sin = angles.cos().float(), angles.sin().float()
    return torch.cat([cos, cos], -1).to(device), torch.cat([sin, sin], -1).to(device)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def timestep_embedding(t):
    """DiT's sinusoidal embedding (B, 256) of 1000 t: [cos | sin] of
    1000 t 10000^(-k/128), k < 128, in float64 as seqdiff computes it.
    Scaling t in [0, 1] to DiT's [0, 1000] lets the fast frequencies
    resolve nearby times."""
    half = TIME_FREQ_DIM // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    args = 1000 * t.double()[:, None] * freqs[None, :]
    return torch.cat([args.cos(), args.sin()], dim=-1).float()


def modulate(x, shift, scale):
    return x * (1 + scale) + shift


def attention(q, k, v, causal, key_mask):
    """softmax(q k^T / sqrt(hd)) v over the keys a query may see: those at or
    before it when causal, and those key_mask (B, L bool, or None) keeps."""
    L = q.shape[-2]
    allowed = None  # (B, 1, L|1, L) bool, or None for "every key" (or plain causal)
    if key_mask is not None:
        allowed = key_mask[:, None, None, :]
        if causal:
            allowed = allowed & torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2: fused kernels
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, is_causal=causal and allowed is None)
    else:
        if causal and allowed is None:
            allowed = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        y = scores.softmax(dim=-1) @ v
    if key_mask is not None:
        # seqdiff gives a query that sees no valid key a zero output; the
        # softmax over no key is NaN here.
        y = y.masked_fill(~allowed.any(dim=-1, keepdim=True), 0.0)
    return y


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x, rope, causal, key_mask):
        B, L, C = x.shape
        hd = C // self.n_heads
        # (B, H, L, hd) each: head h is columns h*hd .. (h+1)*hd of its third
        q, k, v = (z.view(B, L, self.n_heads, hd).transpose(1, 2) for z in self.qkv(x).split(C, dim=-1))
        cos, sin = (r.to(q.dtype) for r in rope)  # float32 tables, for a model cast to half or double
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        y = attention(q, k, v, causal, key_mask)
        return self.out(y.transpose(1, 2).reshape(B, L, C))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc1 = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.fc2 = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    """Pre-LayerNorm block; with time conditioning MDLM's DDiT block:

        shift1, scale1, gate1, shift2, scale2, gate2 = adaLN_modulation(c)
        x += gate1 * attn(ln1(x) * (1 + scale1) + shift1)
        x += gate2 * mlp(ln2(x) * (1 + scale2) + shift2)
    """

    def __init__(self, cfg):
        super().__init__()
        C = cfg.d_model
        self.ln1 = nn.LayerNorm(C, eps=LN_EPS)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(C, eps=LN_EPS)
        self.mlp = MLP(cfg)
        self.adaLN_modulation = nn.Linear(C, 6 * C) if cfg.time_conditioning else None

    def forward(self, x, rope, causal, key_mask, c):
        if c is None:
            x = x + self.attn(self.ln1(x), rope, causal, key_mask)
            return x + self.mlp(self.ln2(x))
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c)[:, None, :].chunk(6, dim=-1)
        x = x + gate1 * self.attn(modulate(self.ln1(x), shift1, scale1), rope, causal, key_mask)
        return x + gate2 * self.mlp(modulate(self.ln2(x), shift2, scale2))


class FinalNorm(nn.Module):
    """final_ln: a LayerNorm, followed with time conditioning by the shift
    and scale of final_ln.adaLN_modulation(c) (hence a module of its own:
    the checkpoint nests that Linear under final_ln)."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.d_model
        self.weight = nn.Parameter(torch.ones(C))
        self.bias = nn.Parameter(torch.zeros(C))
        self.adaLN_modulation = nn.Linear(C, 2 * C) if cfg.time_conditioning else None

    def forward(self, x, c):
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, LN_EPS)
        if c is None:
            return x
        shift, scale = self.adaLN_modulation(c)[:, None, :].chunk(2, dim=-1)
        return modulate(x, shift, scale)


class TimeEmbedding(nn.Module):
    """time_embed: the MLP (256 -> C -> C, SiLU between) on the sinusoidal
    embedding of t; named mlp.0 and mlp.2 as in DiT and MDLM."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg.d_model
        self.mlp = nn.Sequential(nn.Linear(TIME_FREQ_DIM, C), nn.SiLU(), nn.Linear(C, C))

    def forward(self, t):
        # The embedding in float64 on the CPU (not every device has float64).
        w = self.mlp[0].weight
        return self.mlp(timestep_embedding(t.cpu()).to(w.device, w.dtype))


class SeqdiffLM(nn.Module):
    """The seqdiff backbone. forward(tokens (B, L) ids, t (B) or a number in
    [0, 1], key_mask (B, L), 1 = a key attention may see) -> logits
    (B, L, vocab_size)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.final_ln = FinalNorm(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.time_embed = TimeEmbedding(cfg) if cfg.time_conditioning else None

    def forward(self, tokens, t=None, key_mask=None):
        cfg = self.cfg
        B, L = tokens.shape
        if L > cfg.seq_len:
            raise ValueError(f"length {L} exceeds the model's seq_len {cfg.seq_len}")
        if tokens.numel() and not (0 <= int(tokens.min()) and int(tokens.max()) < cfg.vocab_size):
            raise ValueError(f"token ids must lie in [0, {cfg.vocab_size})")
        c = None
        if self.time_embed is not None:
            # t = 0 (clean input) when not given, as seqdiff's Forward.
            t = torch.zeros(B) if t is None else torch.as_tensor(t, dtype=torch.float32).reshape(-1)
            if len(t) not in (1, B):
                raise ValueError(f"{len(t)} times for {B} rows: want one per row or one for all")
            t = t.expand(B)
            if not bool(((t >= 0) & (t <= 1)).all()):
                raise ValueError("t must lie in [0, 1]")
            c = F.silu(self.time_embed(t))
        if key_mask is not None:
            key_mask = key_mask.to(device=tokens.device, dtype=torch.bool)
        rope = rotary_tables(L, cfg.d_model // cfg.n_heads, tokens.device)
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, rope, cfg.causal, key_mask, c)
        return self.head(self.final_ln(x, c))


# -------------------------------------------------------------- loading
_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """{name: float32 tensor} of a .safetensors file: an 8-byte
    little-endian header length, a JSON header mapping each name to its
    dtype, shape and [begin, end) data_offsets, then the data
    (little-endian, row-major). seqdiff writes F32 only."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())  # writable, as torch.frombuffer prefers
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has dtype {e['dtype']}, want a float type")
        dtype = _DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        count = (end - begin) // torch.tensor([], dtype=dtype).element_size()
        out[name] = torch.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(e["shape"]).float()
    return out


def checkpoint_dir(path):
    """path itself when it holds config.json, else a run directory's latest
    checkpoint (path/checkpoint), as seqdiff resolves --ckpt."""
    if not os.path.exists(os.path.join(path, "config.json")) and os.path.exists(os.path.join(path, "checkpoint", "config.json")):
        return os.path.join(path, "checkpoint")
    return path


def load(path, ema=True, device="cpu"):
    """The model of the checkpoint (or run directory) at path, in eval mode:
    the EMA weights when ema is set and the checkpoint has them (as every
    seqdiff command; ema=False is its --raw), else the trained weights.
    model.weights_file says which file was read."""
    d = checkpoint_dir(path)
    with open(os.path.join(d, "config.json")) as f:
        cfg = Config.from_dict(json.load(f))
    name = "ema.safetensors" if ema and os.path.exists(os.path.join(d, "ema.safetensors")) else "model.safetensors"
    model = SeqdiffLM(cfg)
    try:
        model.load_state_dict(read_safetensors(os.path.join(d, name)))
    except RuntimeError as err:  # names or shapes that do not fit config.json
        raise ValueError(f"{os.path.join(d, name)}: {err}") from None
    model.weights_file = name
    return model.to(device).eval()


# ------------------------------------------------------------------ cli
def read_raw(path, fmt, rows=None):
    a = array.array(fmt)
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    if rows is not None and (len(a) == 0 or len(a) % rows):
        sys.exit(f"{path}: {len(a)} values do not split into {rows} equal rows")
    return a


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpt", help="checkpoint or run directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ids", help="one row of comma-separated token ids (DNA: A=7 C=8 G=9 T=10 N=11 [MASK]=3)")
    src.add_argument("--tokens", help="int32 little-endian token ids, rows x L (as seqdiff model logits reads)")
    p.add_argument("--rows", type=int, default=1, help="rows in --tokens")
    p.add_argument("--t", help="time-conditioned mdlm: diffusion time, one for all rows or a comma list (default 0)")
    p.add_argument("--t-file", help="time-conditioned mdlm: float32 little-endian time per row (seqdiff model logits --t)")
    p.add_argument("--key-mask", help="uint8 rows x L, 1 for a key attention may see, 0 for padding")
    p.add_argument("--raw", action="store_true", help="the trained weights even when the checkpoint has an EMA")
    p.add_argument("-o", "--out", help="write the logits as float32 little-endian (rows, L, V)")
    p.add_argument("--check", metavar="FILE", help="compare with seqdiff model logits output for the same input")
    p.add_argument("--tol", type=float, default=1e-5, help="--check: largest max|diff| / max|logit| accepted")
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    model = load(a.ckpt, ema=not a.raw, device=a.device)
    cfg = model.cfg
    if a.ids is not None:
        rows, ids = 1, [int(s) for s in a.ids.split(",")]
    else:
        rows, ids = a.rows, read_raw(a.tokens, "i", a.rows)
    tokens = torch.tensor(list(ids), dtype=torch.long).reshape(rows, -1).to(a.device)
    t = None
    if a.t is not None or a.t_file is not None:
        if not cfg.time_conditioning:
            sys.exit(f"--t: {a.ckpt} is not time-conditioned; its logits do not depend on t")
        t = torch.tensor([float(s) for s in a.t.split(",")] if a.t is not None else list(read_raw(a.t_file, "f")))
    key_mask = None
    if a.key_mask is not None:
        with open(a.key_mask, "rb") as f:
            key_mask = torch.tensor(list(f.read()), dtype=torch.uint8)
        if key_mask.numel() != tokens.numel():
            sys.exit(f"{a.key_mask}: {key_mask.numel()} bytes, want {tokens.numel()} (rows x L)")
        key_mask = key_mask.reshape(tokens.shape) != 0
    with torch.no_grad():
        logits = model(tokens, t, key_mask).float().cpu()

    flat = logits.reshape(-1).tolist()
    if a.out:
        out = array.array("f", flat)
        if sys.byteorder != "little":
            out.byteswap()
        with open(a.out, "wb") as f:
            out.tofile(f)
        print(f"wrote {a.out}: logits {tuple(logits.shape)}, {model.weights_file}")
    if a.check:
        theirs = read_raw(a.check, "f")
        if len(theirs) != len(flat):
            sys.exit(f"--check {a.check}: {len(theirs)} logits, want {len(flat)} {tuple(logits.shape)}")
        diff = max(abs(x - y) for x, y in zip(flat, theirs))
        scale = max(abs(y) for y in theirs)
        rel = diff / scale if scale > 0 else diff
        ok = rel <= a.tol
        print(f"check {a.check}: max|diff| {diff:.3g}, max|logit| {scale:.3g}, relative {rel:.3g} "
              f"{'<=' if ok else '>'} {a.tol:g}: {'ok' if ok else 'MISMATCH'}")
        sys.exit(0 if ok else 1)
    if not a.out:
        print_logits(logits, tokens, cfg, model.weights_file, a.ckpt)


def print_logits(logits, tokens, cfg, weights_file, ckpt):
    dna = cfg.tokenizer == "dna-char" and cfg.vocab_size == len(DNA_TOKENS)
    name = (lambda i: DNA_TOKENS[i]) if dna else str
    attn = "causal" if cfg.causal else "bidirectional"
    print(f"# {ckpt} ({weights_file}): {cfg.mode}, {attn} attention, logits over {cfg.vocab_size} ids")
    if cfg.mode == "mdlm":
        print(f"# mdlm: the {name(cfg.mask_id)} logit is never used (SUBS): softmax over the others")
    print("row\tpos\ttoken\t" + "\t".join(name(i) for i in range(cfg.vocab_size)))
    for r in range(logits.shape[0]):
        for i in range(logits.shape[1]):
            vals = "\t".join(f"{v:.5f}" for v in logits[r, i].tolist())
            print(f"{r}\t{i}\t{name(int(tokens[r, i]))}\t{vals}")


if __name__ == "__main__":
    main()
