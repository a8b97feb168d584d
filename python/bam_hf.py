#!/usr/bin/env python3
"""Run a bam model exported with `bam export CKPT --format bam-hf --out DIR` in PyTorch, without bam.

Standalone: needs only torch and numpy (no transformers, no safetensors package). The layout is
documented in docs/export.md; in short, `config.json` has `model_type: "bam"` and these fields:

  vocab_size, hidden_size, num_attention_heads, num_key_value_heads, head_dim, num_hidden_layers,
  intermediate_size, rope_theta, rotary_dim (rotated dims per head, rotate_half layout),
  norm ("rms" | "layernorm"), norm_eps, mlp ("swiglu" | "gelu" | "gelu-tanh"),
  block ("parallel" | "sequential"), parallel_norms ("shared" | "separate"),
  qkv_bias, attn_out_bias, ffn_bias, tie_word_embeddings,
  attention: {"kind": "dense"} | {"kind": "moa", "num_experts", "kv_shared",
              "router": {"kind": "soft"} | {"kind": "topk", "k"}, "tied_to_ffn_router"}
  ffn: {"kind": "dense"} | {"kind": "moe", "num_experts",
        "router": {"kind": "topk", "k", "normalize": "before" | "after"}}

and `model.safetensors` holds PyTorch Linear weights [out, in] under Hugging Face-style names:
model.embed_tokens.weight, model.layers.{l}.input_layernorm.{weight,bias} (and
post_attention_layernorm), model.layers.{l}.self_attn.{q,k,v,o}_proj.{weight,bias},
model.layers.{l}.self_attn.experts.{e}.{q,k,v,o}_proj.weight (a kv-shared mixture keeps one
k_proj/v_proj), model.layers.{l}.self_attn.router.weight [E, D],
model.layers.{l}.mlp.{gate,up,down}_proj.{weight,bias}, model.layers.{l}.mlp.experts.{e}.*,
model.layers.{l}.mlp.router.weight [E, D], model.norm.{weight,bias}, lm_head.weight.

Semantics (bam's, docs/method.md): a parallel block is y = x + Attn(h) + FFN(h), h = Norm(x) (or
two norms with parallel_norms "separate"); a sequential one y' = x + Attn(Norm1(x)),
y = y' + FFN(Norm2(y')). Attention experts: MoA(h) = sum_j g_j(h) MHA_j(h) with g = softmax(h W_r)
(soft), or the top-k of it renormalised. FFN experts: p = softmax(h W_r); "before" keeps the
top-k p as they are (the BAM paper's top-1: each output is scaled by p_top), "after" takes a
softmax over the chosen logits (Mixtral's). Both routers read the same normed h as their layer.

Usage as a module:
    from bam_hf import BamForCausalLM
    model = BamForCausalLM.from_folder("DIR")
    logits = model(torch.tensor([[1, 2, 3]]))  # [B, T, V]
From the command line (prints {"logits": [B][T][V]}):
    bam_hf.py DIR --tokens '[[1, 2, 3]]' [--float64]
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def load_safetensors(path):
    """{name: float32 torch tensor} from a safetensors file (F32, F16, BF16, F64)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        buf = raw[base + start:base + end]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]).copy())
    return out


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Norm(nn.Module):
    """RMSNorm x / sqrt(mean(x^2) + eps) * w, or LayerNorm with a bias."""

    def __init__(self, dim, kind, eps):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if kind == "layernorm" else None

    def forward(self, x):
        if self.kind == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mlp(nn.Module):
    """SwiGLU down(silu(gate(h)) * up(h)), or the GeLU MLP down(gelu(up(h)))."""

    def __init__(self, c):
        super().__init__()
        D, Fh, bias = c["hidden_size"], c["intermediate_size"], c["ffn_bias"]
        self.kind = c["mlp"]
        if self.kind == "swiglu":
            self.gate_proj = nn.Linear(D, Fh, bias=bias)
        self.up_proj = nn.Linear(D, Fh, bias=bias)
        self.down_proj = nn.Linear(Fh, D, bias=bias)

    def forward(self, h):
        if self.kind == "swiglu":
            return self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))
        return self.down_proj(F.gelu(self.up_proj(h), approximate="tanh" if self.kind == "gelu-tanh" else "none"))


class AttentionExpert(nn.Module):
    def __init__(self, D, H, Hkv, Dh, own_kv):
        super().__init__()
        self.q_proj = nn.Linear(D, H * Dh, bias=False)
        self.o_proj = nn.Linear(H * Dh, D, bias=False)
        if own_kv:
            self.k_proj = nn.Linear(D, Hkv * Dh, bias=False)
            self.v_proj = nn.Linear(D, Hkv * Dh, bias=False)


class Attention(nn.Module):
    """Dense multi-head attention (GQA, RoPE over rotary_dim), or a mixture of attention experts."""

    def __init__(self, c):
        super().__init__()
        D, H = c["hidden_size"], c["num_attention_heads"]
        self.H, self.Hkv, self.Dh, self.rot = H, c["num_key_value_heads"], c["head_dim"], c["rotary_dim"]
        self.base = c["rope_theta"]
        a = c["attention"]
        self.moa = a["kind"] == "moa"
        if not self.moa:
            self.q_proj = nn.Linear(D, H * self.Dh, bias=c["qkv_bias"])
            self.k_proj = nn.Linear(D, self.Hkv * self.Dh, bias=c["qkv_bias"])
            self.v_proj = nn.Linear(D, self.Hkv * self.Dh, bias=c["qkv_bias"])
            self.o_proj = nn.Linear(H * self.Dh, D, bias=c["attn_out_bias"])
            return
        self.kv_shared, self.router_spec, self.tied = a["kv_shared"], a["router"], a["tied_to_ffn_router"]
        if self.kv_shared:
            self.k_proj = nn.Linear(D, self.Hkv * self.Dh, bias=False)
            self.v_proj = nn.Linear(D, self.Hkv * self.Dh, bias=False)
        self.experts = nn.ModuleList([AttentionExpert(D, H, self.Hkv, self.Dh, not self.kv_shared) for _ in range(a["num_experts"])])
        if not self.tied:
            self.router = nn.Linear(D, a["num_experts"], bias=False)

    def _rope(self, x):
        """x [B, heads, T, Dh]: the first rotary_dim dims rotated (rotate_half), the rest passed."""
        T = x.shape[2]
        inv = 1.0 / (self.base ** (torch.arange(0, self.rot, 2, dtype=torch.float64) / self.rot))
        ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        emb = torch.cat((ang, ang), dim=-1).to(x.dtype)
        xr, xp = x[..., :self.rot], x[..., self.rot:]
        return torch.cat((xr * emb.cos() + _rotate_half(xr) * emb.sin(), xp), dim=-1)

    def _mha(self, h, q_proj, k_proj, v_proj, o_proj):
        B, T, _ = h.shape
        q = self._rope(q_proj(h).view(B, T, self.H, self.Dh).transpose(1, 2))
        k = self._rope(k_proj(h).view(B, T, self.Hkv, self.Dh).transpose(1, 2))
        v = v_proj(h).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        # Query head i reads key/value head i // (H / Hkv) (Hugging Face's repeat_kv order).
        k = k.repeat_interleave(self.H // self.Hkv, dim=1)
        v = v.repeat_interleave(self.H // self.Hkv, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.Dh)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        o = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        return o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.Dh))

    def forward(self, h, ffn_router_logits=None):
        if not self.moa:
            return self._mha(h, self.q_proj, self.k_proj, self.v_proj, self.o_proj)
        logits = ffn_router_logits if self.tied else self.router(h)  # [B, T, E]
        if self.router_spec["kind"] == "soft":
            gates = torch.softmax(logits, dim=-1)
        else:
            gates = route_topk(logits, self.router_spec["k"], "after")
        out = 0
        for j, e in enumerate(self.experts):
            k_proj = self.k_proj if self.kv_shared else e.k_proj
            v_proj = self.v_proj if self.kv_shared else e.v_proj
            out = out + gates[..., j:j + 1] * self._mha(h, e.q_proj, k_proj, v_proj, e.o_proj)
        return out


def route_topk(logits, k, normalize):
    """Gates [.., E]: top-k of softmax(logits), kept as they are ("before") or renormalised ("after")."""
    probs = torch.softmax(logits, dim=-1)
    idx = probs.topk(k, dim=-1).indices
    mask = torch.zeros_like(probs).scatter(-1, idx, 1.0)
    if normalize == "before":
        return probs * mask
    return torch.softmax(logits.masked_fill(mask == 0, float("-inf")), dim=-1)


class MoeFfn(nn.Module):
    """A mixture of MLP experts under a top-k router."""

    def __init__(self, c):
        super().__init__()
        f = c["ffn"]
        self.spec = f["router"]
        self.experts = nn.ModuleList([Mlp(c) for _ in range(f["num_experts"])])
        self.router = nn.Linear(c["hidden_size"], f["num_experts"], bias=False)

    def forward(self, h):
        gates = route_topk(self.router(h), self.spec["k"], self.spec["normalize"])
        # Every expert runs on every token here (clarity over speed); unchosen ones have gate 0.
        return sum(gates[..., e:e + 1] * ex(h) for e, ex in enumerate(self.experts))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.parallel = c["block"] == "parallel"
        self.separate = not self.parallel or c["parallel_norms"] == "separate"
        self.input_layernorm = Norm(c["hidden_size"], c["norm"], c["norm_eps"])
        if self.separate:
            self.post_attention_layernorm = Norm(c["hidden_size"], c["norm"], c["norm_eps"])
        self.self_attn = Attention(c)
        self.mlp = MoeFfn(c) if c["ffn"]["kind"] == "moe" else Mlp(c)

    def _attn(self, h):
        tied = self.self_attn.moa and self.self_attn.tied
        return self.self_attn(h, self.mlp.router(h) if tied else None)

    def forward(self, x):
        if self.parallel:
            h = self.input_layernorm(x)
            h2 = self.post_attention_layernorm(x) if self.separate else h
            return x + self._attn(h) + self.mlp(h2)
        x = x + self._attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class BamModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = Norm(c["hidden_size"], c["norm"], c["norm_eps"])


class BamForCausalLM(nn.Module):
    """A bam-hf model: forward(tokens [B, T] int64) -> logits [B, T, V]."""

    def __init__(self, config):
        super().__init__()
        if config.get("model_type") != "bam":
            raise ValueError(f"config.json has model_type {config.get('model_type')!r}; this module loads bam-hf exports (model_type 'bam')")
        self.config = config
        self.model = BamModel(config)
        self.tied = config["tie_word_embeddings"]
        if not self.tied:
            self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)

    @classmethod
    def from_folder(cls, folder, dtype=torch.float32):
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        model = cls(config)
        state = load_safetensors(os.path.join(folder, "model.safetensors"))
        # A shared router is exported into every layer, so the state dict matches one-to-one.
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{folder}: weights do not match config.json (missing {missing[:3]}, unexpected {unexpected[:3]})")
        return model.to(dtype).eval()

    def forward(self, tokens):
        x = self.model.embed_tokens(tokens)
        for layer in self.model.layers:
            x = layer(x)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return x @ head.T


def main():
    ap = argparse.ArgumentParser(description="Print the logits of a bam-hf export for the given token ids.")
    ap.add_argument("folder")
    ap.add_argument("--tokens", required=True, help="JSON [B][T] token ids")
    ap.add_argument("--float64", action="store_true", help="compute in float64 (reference precision)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = BamForCausalLM.from_folder(args.folder, torch.float64 if args.float64 else torch.float32)
    with torch.no_grad():
        logits = model(torch.tensor(json.loads(args.tokens), dtype=torch.long))
    json.dump({"logits": logits.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
