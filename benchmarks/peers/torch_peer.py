#!/usr/bin/env python3
"""The PyTorch peer of bam's model: the same architecture, config JSON, parameter names and data,
used only for side-by-side numbers (benchmarks/train.ts) and as an independent check of bam's
model code (benchmarks/test/pytorch-peer.test.ts compares logits to 1e-4).

Architecture (BAM paper, Zhang et al. 2024, arXiv:2408.08274, section 3; docs/method.md): decoder-only,
parallel blocks h = RMSNorm(x); y = x + Attn(h) + FFN(h) (sequential as an option), scale-only
RMSNorm, RoPE with the half-split (GPT-NeoX / HF Llama) layout, SwiGLU FFN, untied LM head unless
tieEmbeddings. Mixtures: soft or top-k MoA (BAM-full: own Wq, Wk, Wv, Wo per expert; BAM-KV-shared:
one Wk, Wv), top-k MoE FFN (softmax before top-k without renormalisation, or after = renormalised).
Weights are stored [in, out] (x @ W), named as in docs/internals.md.

Install (Debian bookworm; nothing else in bam needs Python):
    apt-get install -y python3-torch python3-numpy
Run with /usr/bin/python3. Commands (each prints one JSON line on stdout):
    torch_peer.py info
    torch_peer.py logits --checkpoint DIR --tokens FILE --batch B --seq-len T --out FILE
    torch_peer.py train --config FILE --data FILE --batch B --seq-len T --steps S [--runs R]
                        [--init DIR] [--threads N] [--lr 1e-3] [--warmup 1]
    torch_peer.py score --checkpoint DIR --sequences FILE --batch B [--runs R] [--threads N]
Token files are little-endian int32, row-major; logits files little-endian float32 [B, T, V].
The train data file holds `steps` batches, each inputs [B, T] then targets [B, T].
The score sequences file is JSON {"sequences": [[id, ...], ...], "scored": [n, ...]}: for each
sequence, the sum of the log-probs of its last n tokens is returned (batched as bam's `scoreTokens`).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

# One BLAS thread per torch thread: OpenBLAS's own pool fights torch's (see benchmarks/README.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# OpenMP threads that spin while waiting collapse throughput ~10x when the CPU is shared (measured:
# 2 threads under load average 8 ran at 250 tokens/s spinning, 4,000 passive); sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as err:  # pragma: no cover - reported to the caller as JSON
    print(json.dumps({"ok": False, "error": f"{err}", "hint": "apt-get install -y python3-torch python3-numpy, then run with /usr/bin/python3"}))
    sys.exit(3)


class PeerError(Exception):
    """An error the caller can act on (bad input, unsupported config)."""


# ----------------------------------------------------------------------------- safetensors

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32}


def read_safetensors(path):
    """Parses a safetensors file with plain Python + numpy: 8-byte LE header length, JSON header,
    then the raw little-endian data. BF16 is widened to float32 by a 16-bit shift."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise PeerError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf8"))
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        buf = raw[base + start : base + end]
        shape = entry["shape"]
        if entry["dtype"] == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif entry["dtype"] in _DTYPES:
            arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<"))
        else:
            raise PeerError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
        out[name] = arr.reshape(shape).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- the model


def param_shapes(c):
    """Every parameter name and shape of a config, as packages/core/src/model/params.ts."""
    V, D, H, Hkv, L, Fw = c["vocabSize"], c["dModel"], c["nHeads"], c["nKvHeads"], c["nLayers"], c["dFF"]
    Dh = D // H
    attn, ffn, routing = c["attention"], c["ffn"], c["routing"]
    shapes = {"embed.weight": (V, D)}
    for l in range(L):
        p = f"layers.{l}"
        if c["block"] == "parallel":
            shapes[f"{p}.norm.scale"] = (D,)
        else:
            shapes[f"{p}.norm1.scale"] = (D,)
            shapes[f"{p}.norm2.scale"] = (D,)
        q, kv, o = (D, H * Dh), (D, Hkv * Dh), (H * Dh, D)
        if attn["kind"] == "dense":
            shapes.update({f"{p}.attn.wq": q, f"{p}.attn.wk": kv, f"{p}.attn.wv": kv, f"{p}.attn.wo": o})
        else:
            if attn["kvShared"]:
                shapes.update({f"{p}.attn.wk": kv, f"{p}.attn.wv": kv})
            for e in range(attn["numExperts"]):
                pe = f"{p}.attn.experts.{e}"
                shapes[f"{pe}.wq"] = q
                if not attn["kvShared"]:
                    shapes.update({f"{pe}.wk": kv, f"{pe}.wv": kv})
                shapes[f"{pe}.wo"] = o
            if not routing["tieAttentionToFfn"] and not routing["shareAcrossLayers"]:
                shapes[f"{p}.attn.router"] = (D, attn["numExperts"])
        ffn_names = lambda pf: {f"{pf}.w_gate": (D, Fw), f"{pf}.w_up": (D, Fw), f"{pf}.w_down": (Fw, D)}
        if ffn["kind"] == "dense":
            shapes.update(ffn_names(f"{p}.ffn"))
        else:
            for e in range(ffn["numExperts"]):
                shapes.update(ffn_names(f"{p}.ffn.experts.{e}"))
            if ffn["router"]["kind"] != "hash" and not routing["shareAcrossLayers"]:
                shapes[f"{p}.ffn.router"] = (D, ffn["numExperts"])
    if routing["shareAcrossLayers"]:
        if ffn["kind"] == "moe" and ffn["router"]["kind"] != "hash":
            shapes["routers.ffn"] = (D, ffn["numExperts"])
        if attn["kind"] == "moa" and not routing["tieAttentionToFfn"]:
            shapes["routers.attn"] = (D, attn["numExperts"])
    shapes["final_norm.scale"] = (D,)
    if not c["tieEmbeddings"]:
        shapes["lm_head.weight"] = (D, V)
    return shapes


def check_supported(c):
    ffn = c["ffn"]
    if ffn["kind"] == "moe" and ffn["router"]["kind"] != "topk":
        raise PeerError(f"the peer implements top-k FFN routing only, not '{ffn['router']['kind']}'")


def rope_tables(T, Dh, base):
    half = Dh // 2
    t = np.arange(T, dtype=np.float64)[:, None]
    i = np.arange(half, dtype=np.float64)[None, :]
    angle = t * np.power(base, -2.0 * i / Dh)  # float64, rounded once to float32 as bam does
    return torch.from_numpy(np.cos(angle).astype(np.float32)), torch.from_numpy(np.sin(angle).astype(np.float32))


class PeerModel(torch.nn.Module):
    """bam's model in PyTorch; parameters by bam name in `self.p` (dots are not allowed in module names)."""

    def __init__(self, config, weights=None, seed=0):
        super().__init__()
        check_supported(config)
        self.c = config
        shapes = param_shapes(config)
        if weights is not None:
            missing = [n for n in shapes if n not in weights]
            extra = [n for n in weights if n not in shapes]
            if missing or extra:
                raise PeerError(f"weights do not match the config: missing {missing[:5]}, unexpected {extra[:5]}")
            for n, s in shapes.items():
                if tuple(weights[n].shape) != tuple(s):
                    raise PeerError(f"tensor {n}: expected shape {list(s)}, got {list(weights[n].shape)}")
        g = torch.Generator().manual_seed(seed)
        self.names = list(shapes)
        self.params = torch.nn.ParameterList()
        self.p = {}
        std = config["initStd"]
        for n, s in shapes.items():
            if weights is not None:
                t = torch.from_numpy(np.ascontiguousarray(weights[n]))
            elif n.endswith(".scale"):
                t = torch.ones(s)
            else:
                sd = std / math.sqrt(2 * config["nLayers"]) if n.endswith(".wo") or n.endswith(".w_down") else std
                t = torch.randn(s, generator=g) * sd
            param = torch.nn.Parameter(t.clone())
            self.params.append(param)
            self.p[n] = param
        self.rope_cache = {}

    def rope(self, T):
        if T not in self.rope_cache:
            self.rope_cache[T] = rope_tables(T, self.c["dModel"] // self.c["nHeads"], self.c["ropeBase"])
        return self.rope_cache[T]

    def rms(self, x, scale):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c["normEps"]) * scale

    @staticmethod
    def apply_rope(x, cos, sin):  # x [B, T, H, Dh]
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        c, s = cos[None, :, None, :], sin[None, :, None, :]
        return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)

    def kv(self, h, wk, wv, B, T):
        c = self.c
        Hkv, Dh = c["nKvHeads"], c["dModel"] // c["nHeads"]
        cos, sin = self.rope(T)
        k = self.apply_rope((h @ wk).view(B, T, Hkv, Dh), cos, sin).transpose(1, 2)  # [B, Hkv, T, Dh]
        v = (h @ wv).view(B, T, Hkv, Dh).transpose(1, 2)  # [B, Hkv, T, Dh]
        rep = c["nHeads"] // Hkv
        if rep > 1:  # query head h reads kv head h // rep (Llama's repeat_kv order)
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        return k, v

    def mha(self, h, wq, wo, k, v, B, T, mask):
        c = self.c
        H, Dh = c["nHeads"], c["dModel"] // c["nHeads"]
        cos, sin = self.rope(T)
        q = self.apply_rope((h @ wq).view(B, T, H, Dh), cos, sin).transpose(1, 2)  # [B, H, T, Dh]
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(Dh) + mask, dim=-1)  # [B, H, T, T]
        o = (att @ v).transpose(1, 2).reshape(B * T, H * Dh)  # [N, H*Dh]
        return o @ wo  # [N, D]

    def router_logits(self, h, l, part, B, T):
        routing = self.c["routing"]
        w = self.p[f"routers.{part}"] if routing["shareAcrossLayers"] else self.p[f"layers.{l}.{part}.router"]
        pe = routing["perExample"]
        if pe is None:
            return h @ w  # [N, E]
        P = min(pe["prefixTokens"], T)
        pooled = h.view(B, T, -1)[:, :P].mean(1)  # [B, D]
        return (pooled @ w)[:, None, :].expand(B, T, w.shape[1]).reshape(B * T, w.shape[1])

    @staticmethod
    def topk_route(logits, k, normalize):
        """gates [N, E], top choice [N], probs [N, E] (softmax over all experts)."""
        probs = torch.softmax(logits, -1)
        idx = torch.topk(probs, k, dim=-1).indices  # [N, k], best first
        mask = torch.zeros_like(probs).scatter_(1, idx, 1.0)
        if normalize == "before":
            gates = probs * mask
        else:
            gates = torch.softmax(logits + (1 - mask) * -1e9, -1) * mask
        return gates, idx[:, 0], probs, mask

    @staticmethod
    def router_losses(probs, top, logits):
        E = probs.shape[1]
        f = F.one_hot(top, E).float().mean(0)  # fraction of tokens whose top choice is e
        lb = E * (f * probs.mean(0)).sum()  # Switch Transformer eq. 4
        z = torch.logsumexp(logits, -1).pow(2).mean()  # ST-MoE router z-loss
        return lb, z

    def attention(self, h, l, B, T, mask):
        c, p = self.c, self.p
        a = c["attention"]
        pre = f"layers.{l}.attn"
        if a["kind"] == "dense":
            k, v = self.kv(h, p[f"{pre}.wk"], p[f"{pre}.wv"], B, T)
            return self.mha(h, p[f"{pre}.wq"], p[f"{pre}.wo"], k, v, B, T, mask), None
        tied = c["routing"]["tieAttentionToFfn"]
        logits = self.router_logits(h, l, "ffn" if tied else "attn", B, T)
        if a["router"]["kind"] == "soft":
            probs = torch.softmax(logits, -1)
            gates, top, mask_e = probs, probs.argmax(-1), None
        else:
            gates, top, probs, mask_e = self.topk_route(logits, a["router"]["k"], "after")
        used = range(a["numExperts"]) if mask_e is None else [j for j in range(a["numExperts"]) if mask_e[:, j].sum() > 0]
        shared = self.kv(h, p[f"{pre}.wk"], p[f"{pre}.wv"], B, T) if a["kvShared"] else None
        out = torch.zeros_like(h)
        for j in used:
            pe = f"{pre}.experts.{j}"
            k, v = shared if shared is not None else self.kv(h, p[f"{pe}.wk"], p[f"{pe}.wv"], B, T)
            out = out + self.mha(h, p[f"{pe}.wq"], p[f"{pe}.wo"], k, v, B, T, mask) * gates[:, j : j + 1]
        return out, None if tied else self.router_losses(probs, top, logits)

    def swiglu(self, x, pre):
        p = self.p
        return (F.silu(x @ p[f"{pre}.w_gate"]) * (x @ p[f"{pre}.w_up"])) @ p[f"{pre}.w_down"]

    def ffn(self, h, l, B, T):
        f = self.c["ffn"]
        if f["kind"] == "dense":
            return self.swiglu(h, f"layers.{l}.ffn"), None
        logits = self.router_logits(h, l, "ffn", B, T)
        gates, top, probs, mask = self.topk_route(logits, f["router"]["k"], f["router"]["normalize"])
        out = torch.zeros_like(h)
        for e in range(f["numExperts"]):
            rows = mask[:, e].nonzero(as_tuple=True)[0]  # tokens routed to expert e
            if rows.numel() == 0:
                continue
            y = self.swiglu(h.index_select(0, rows), f"layers.{l}.ffn.experts.{e}") * gates.index_select(0, rows)[:, e : e + 1]
            out = out.index_add(0, rows, y)
        return out, self.router_losses(probs, top, logits)

    def forward(self, tokens):
        """tokens [B, T] int64 -> logits [B, T, V], load-balance and z losses summed over layers."""
        c, p = self.c, self.p
        B, T = tokens.shape
        x = p["embed.weight"][tokens.reshape(-1)]  # [N, D]
        mask = torch.triu(torch.full((T, T), -1e9), diagonal=1)
        lb = torch.zeros(())
        z = torch.zeros(())
        for l in range(c["nLayers"]):
            if c["block"] == "parallel":
                h = self.rms(x, p[f"layers.{l}.norm.scale"])
                a, aa = self.attention(h, l, B, T, mask)
                f, fa = self.ffn(h, l, B, T)
                x = x + a + f
            else:
                a, aa = self.attention(self.rms(x, p[f"layers.{l}.norm1.scale"]), l, B, T, mask)
                x = x + a
                f, fa = self.ffn(self.rms(x, p[f"layers.{l}.norm2.scale"]), l, B, T)
                x = x + f
            for aux in (aa, fa):
                if aux is not None:
                    lb, z = lb + aux[0], z + aux[1]
        h = self.rms(x, p["final_norm.scale"])
        logits = h @ (p["embed.weight"].t() if c["tieEmbeddings"] else p["lm_head.weight"])
        return logits.view(B, T, -1), lb, z


# ----------------------------------------------------------------------------- commands


def read_int32(path, count, what):
    data = np.fromfile(path, dtype="<i4")
    if data.size != count:
        raise PeerError(f"{what} file {path} holds {data.size} int32 values, expected {count}")
    return data


def load_checkpoint(dir_):
    manifest_path = os.path.join(dir_, "checkpoint.json")
    if not os.path.exists(manifest_path):
        raise PeerError(f"{manifest_path}: not found (a bam checkpoint directory holds checkpoint.json and model.safetensors)")
    with open(manifest_path) as f:
        config = json.load(f)["config"]
    return config, read_safetensors(os.path.join(dir_, "model.safetensors"))


def cmd_info(_args):
    return {"torch": torch.__version__, "numpy": np.__version__, "threads": torch.get_num_threads(), "python": sys.version.split()[0]}


def cmd_logits(args):
    config, weights = load_checkpoint(args.checkpoint)
    model = PeerModel(config, weights)
    B, T = args.batch, args.seq_len
    tokens = torch.from_numpy(read_int32(args.tokens, B * T, "tokens").reshape(B, T).astype(np.int64))
    with torch.no_grad():
        logits, lb, z = model(tokens)
    logits.numpy().astype("<f4").tofile(args.out)
    return {"shape": list(logits.shape), "loadBalance": float(lb), "zLoss": float(z), "variant": variant_name(config)}


def variant_name(c):
    if c["attention"]["kind"] == "moa":
        return "bam-kv-shared" if c["attention"]["kvShared"] else "bam-full"
    return "btx" if c["ffn"]["kind"] == "moe" else "dense"


def learning_rate(peak, warmup, step, total, min_ratio=0.1):
    """packages/core/src/train/schedule.ts: linear warm-up, cosine to min_ratio * peak."""
    lo = min_ratio * peak
    if step <= warmup:
        return peak if warmup == 0 else peak * max(step, 0) / warmup
    span = total - 1 - warmup
    if span <= 0:
        return peak
    return lo + (peak - lo) * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


def cmd_train(args):
    with open(args.config) as f:
        config = json.load(f)
    B, T, S = args.batch, args.seq_len, args.steps
    data = read_int32(args.data, S * 2 * B * T, "training data").reshape(S, 2, B, T).astype(np.int64)
    init = load_checkpoint(args.init)[1] if args.init else None
    aux = config["aux"]
    runs = []
    per_cpu = []
    losses = []
    for r in range(args.runs + 1):  # run 0 is a 2-step warm-up
        steps = 2 if r == 0 else S
        model = PeerModel(config, init, seed=r)
        decay = [q for n, q in zip(model.names, model.params) if q.dim() >= 2]
        no_decay = [q for n, q in zip(model.names, model.params) if q.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
        t0 = time.perf_counter()
        c0 = time.process_time()  # CPU time of every thread of this process
        last = []
        for s in range(steps):
            for g in opt.param_groups:
                g["lr"] = learning_rate(args.lr, args.warmup, s, steps)
            inputs = torch.from_numpy(data[s, 0])
            targets = torch.from_numpy(data[s, 1])
            logits, lb, z = model(inputs)
            nll = F.cross_entropy(logits.view(B * T, -1), targets.view(-1), ignore_index=-1)
            loss = nll + aux["loadBalance"] * lb + aux["zLoss"] * z
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            last.append(loss.item())
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        if r > 0:
            runs.append(B * T * steps / dt)
            per_cpu.append(B * T * steps / cpu)
            losses.append([round(x, 5) for x in (last[0], last[-1])])
    return {"tokensPerSecond": [round(x, 1) for x in runs], "tokensPerCpuSecond": [round(x, 1) for x in per_cpu], "firstLastLoss": losses, "threads": torch.get_num_threads(), "variant": variant_name(config)}


def score_sequences(model, sequences, scored, batch):
    """bam's `scoreTokens` batching (packages/core/src/inference/score.ts): longest first (ties in
    input order), batches of `batch` right-padded with id 0 to the batch's longest input; returns,
    per sequence, the sum of ln p of its last `scored` tokens (a float64 sum, as bam's in JS)."""
    order = sorted((i for i, s in enumerate(sequences) if len(s) > 1), key=lambda i: (-len(sequences[i]), i))
    sums = [0.0] * len(sequences)
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        T = len(sequences[rows[0]]) - 1
        inputs = torch.zeros((len(rows), T), dtype=torch.int64)
        targets = torch.zeros((len(rows), T), dtype=torch.int64)
        for b, i in enumerate(rows):
            s = torch.tensor(sequences[i], dtype=torch.int64)
            inputs[b, : len(s) - 1] = s[:-1]
            targets[b, : len(s) - 1] = s[1:]
        logits, _, _ = model(inputs)
        logp = torch.log_softmax(logits, dim=-1).gather(2, targets.unsqueeze(2)).squeeze(2)  # [B, T]
        lp = logp.numpy().astype(np.float64)
        for b, i in enumerate(rows):
            n = len(sequences[i]) - 1
            sums[i] = float(lp[b, n - scored[i] : n].sum())
    return sums


def cmd_score(args):
    config, weights = load_checkpoint(args.checkpoint)
    model = PeerModel(config, weights)
    with open(args.sequences) as f:
        req = json.load(f)
    sequences, scored = req["sequences"], req["scored"]
    if len(scored) != len(sequences):
        raise PeerError(f"{args.sequences}: {len(sequences)} sequences but {len(scored)} scored counts")
    for i, (s, n) in enumerate(zip(sequences, scored)):
        if not 0 <= n <= max(len(s) - 1, 0) or len(s) > config["maxSeqLen"] + 1:
            raise PeerError(f"sequence {i}: {len(s)} tokens with {n} scored; scoring takes up to maxSeqLen + 1 = {config['maxSeqLen'] + 1} tokens and at most all but the first")
    tokens = sum(scored)
    runs, per_cpu, sums = [], [], None
    with torch.no_grad():
        for r in range(args.runs + 1):  # run 0 is the warm-up
            t0 = time.perf_counter()
            c0 = time.process_time()  # CPU time of every thread of this process
            sums = score_sequences(model, sequences, scored, args.batch)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            if r > 0:
                runs.append(tokens / dt)
                per_cpu.append(tokens / cpu)
    return {"logprobs": sums, "tokens": tokens, "tokensPerSecond": [round(x, 1) for x in runs], "tokensPerCpuSecond": [round(x, 1) for x in per_cpu], "threads": torch.get_num_threads(), "variant": variant_name(config)}


def main():
    ap = argparse.ArgumentParser(description="PyTorch peer of bam's model (see the module docstring)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info")
    lg = sub.add_parser("logits")
    lg.add_argument("--checkpoint", required=True)
    lg.add_argument("--tokens", required=True)
    lg.add_argument("--batch", type=int, required=True)
    lg.add_argument("--seq-len", type=int, required=True)
    lg.add_argument("--out", required=True)
    tr = sub.add_parser("train")
    tr.add_argument("--config", required=True)
    tr.add_argument("--data", required=True)
    tr.add_argument("--batch", type=int, required=True)
    tr.add_argument("--seq-len", type=int, required=True)
    tr.add_argument("--steps", type=int, required=True)
    tr.add_argument("--runs", type=int, default=3)
    tr.add_argument("--init")
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--warmup", type=int, default=1)
    sc = sub.add_parser("score")
    sc.add_argument("--checkpoint", required=True)
    sc.add_argument("--sequences", required=True)
    sc.add_argument("--batch", type=int, required=True)
    sc.add_argument("--runs", type=int, default=1)
    for p in (lg, tr, sc):
        p.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if hasattr(args, "threads"):
        torch.set_num_threads(args.threads)
    try:
        out = {"info": cmd_info, "logits": cmd_logits, "train": cmd_train, "score": cmd_score}[args.cmd](args)
        print(json.dumps({"ok": True, **out}))
    except PeerError as err:
        print(json.dumps({"ok": False, "error": str(err)}))
        sys.exit(2)


if __name__ == "__main__":
    main()
