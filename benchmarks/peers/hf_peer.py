#!/usr/bin/env python3
"""The Hugging Face-layout peer of `bam import`: writes small random models in the layouts bam
imports, and their reference logits from a plain PyTorch implementation of the Hugging Face
modeling code's semantics (written here, not imported: transformers is not needed).

Fixtures (each a folder under --out):
  llama, llama-f16, llama-bf16  Llama: GQA (4 query heads, 2 key/value heads), untied head,
                                RMSNorm, RoPE rotate_half, SwiGLU; the f16/bf16 variants store the
                                same weights rounded to that dtype (the reference uses the rounded
                                values)
  qwen2                         Qwen2: q/k/v biases, tied embeddings, weights in two shards with
                                model.safetensors.index.json
  neox                          GPT-NeoX: parallel residual, LayerNorm with bias, partial rotary
                                (rotary_pct 0.25), fused query_key_value laid out [H, 3, Dh], exact
                                GeLU MLP, untied embed_out, embedding padded past the tokenizer
  neox-seq                      GPT-NeoX with use_parallel_residual false and hidden_act gelu_new
  llama2c                       llama2.c model.bin (untied, GQA) and tokenizer.bin; the reference
                                follows run.c (interleaved RoPE pairs, RMSNorm eps 1e-5)
Each folder also holds reference.json: {"tokens": [B][T], "logits": [B][T][V]} (float64 maths).
The Hugging Face folders share one byte-level BPE tokenizer.json written by hand.

Semantics followed (Hugging Face transformers' modeling_llama / modeling_qwen2 /
modeling_gpt_neox): rotate_half RoPE with inv_freq = base^(-arange(0, dim, 2)/dim) over the rotary
dims, repeat_kv (query head h reads key/value head h // (H/Hkv)), RMSNorm
x * rsqrt(mean(x^2) + eps) * weight, LayerNorm with biased variance, softmax(q k^T / sqrt(Dh)) with a
causal mask, GPT-NeoX's qkv.view(B, T, H, 3*Dh) split.

Run with Debian's /usr/bin/python3 (python3-torch, python3-numpy):
    hf_peer.py fixtures --out DIR [--seed 0]
prints one JSON line: {"ok": true, "fixtures": [...]}.
"""
import argparse
import json
import math
import os
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as err:  # pragma: no cover - reported to the caller as JSON
    print(json.dumps({"ok": False, "error": f"{err}", "hint": "apt-get install -y python3-torch python3-numpy, then run with /usr/bin/python3"}))
    sys.exit(3)

torch.set_default_dtype(torch.float64)

# ----------------------------------------------------------------------------- files


def write_safetensors(path, tensors, dtype="F32"):
    """Writes {name: float tensor} as safetensors in `dtype` (F32, F16 or BF16)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32)
        if dtype == "F32":
            raw = t.numpy().astype("<f4").tobytes()
        elif dtype == "F16":
            raw = t.numpy().astype("<f2").tobytes()
        elif dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def rounded(tensors, dtype):
    """The weights as a `dtype` file stores them, back in float64."""
    if dtype == "F32":
        return {k: v.to(torch.float32).to(torch.float64) for k, v in tensors.items()}
    target = torch.float16 if dtype == "F16" else torch.bfloat16
    return {k: v.to(torch.float32).to(target).to(torch.float64) for k, v in tensors.items()}


def bytes_to_unicode():
    """GPT-2's byte-level alphabet: each byte as a printable unicode character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def write_tokenizer_json(path):
    """A byte-level BPE tokenizer.json: ids 0..255 the bytes, merges making 'th', 'the', 'Ġthe',
    'ca', then <|endoftext|> as an added special token (261 ids)."""
    alphabet = bytes_to_unicode()
    vocab = {alphabet[b]: b for b in range(256)}
    merges = [("t", "h"), ("th", "e"), ("Ġ", "the"), ("c", "a")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    eot = len(vocab)
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return eot + 1


def write_reference(path, tokens, logits):
    with open(path, "w") as f:
        json.dump({"tokens": tokens.tolist(), "logits": logits.tolist()}, f)


# ----------------------------------------------------------------------------- the peer's maths


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(T, dim, base):
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, dim]
    return emb.cos(), emb.sin()


def apply_rope(x, cos, sin, rot):
    """x [B, heads, T, Dh]: the first `rot` dims rotated (rotate_half layout), the rest passed."""
    xr, xp = x[..., :rot], x[..., rot:]
    return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)


def attention(q, k, v):
    """q [B, H, T, Dh]; k, v [B, Hkv, T, Dh] repeated to H heads in repeat_kv's order."""
    H, Hkv = q.shape[1], k.shape[1]
    k = k.repeat_interleave(H // Hkv, dim=1)
    v = v.repeat_interleave(H // Hkv, dim=1)
    T = q.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v


def lin(x, w, b=None):
    """PyTorch's Linear: w [out, in]."""
    y = x @ w.T
    return y if b is None else y + b


def swiglu(h, g, prefix):
    """Llama's MLP (gate_proj, up_proj, down_proj under `prefix`)."""
    return lin(F.silu(lin(h, g(prefix + "gate_proj.weight"))) * lin(h, g(prefix + "up_proj.weight")), g(prefix + "down_proj.weight"))


def llama_decoder(c, w, tokens, mlp):
    """The Llama-family decoder (modeling_llama semantics) with the layer's MLP given as
    `mlp(layer, g, h)`, `g` reading that layer's tensors: Llama / Mistral / Qwen2 pass SwiGLU,
    Mixtral and Qwen2-MoE their sparse blocks."""
    D, H, Hkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    Dh = D // H
    eps = c["rms_norm_eps"]
    B, T = tokens.shape
    cos, sin = rope_cos_sin(T, Dh, c["rope_theta"])
    x = w["model.embed_tokens.weight"][tokens]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        g = lambda n: w.get(p + n)  # noqa: E731
        h = rms_norm(x, g("input_layernorm.weight"), eps)
        q = lin(h, g("self_attn.q_proj.weight"), g("self_attn.q_proj.bias")).view(B, T, H, Dh).transpose(1, 2)
        k = lin(h, g("self_attn.k_proj.weight"), g("self_attn.k_proj.bias")).view(B, T, Hkv, Dh).transpose(1, 2)
        v = lin(h, g("self_attn.v_proj.weight"), g("self_attn.v_proj.bias")).view(B, T, Hkv, Dh).transpose(1, 2)
        q, k = apply_rope(q, cos, sin, Dh), apply_rope(k, cos, sin, Dh)
        o = attention(q, k, v).transpose(1, 2).reshape(B, T, D)
        x = x + lin(o, g("self_attn.o_proj.weight"), g("self_attn.o_proj.bias"))
        x = x + mlp(l, g, rms_norm(x, g("post_attention_layernorm.weight"), eps))
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def llama_logits(c, w, tokens):
    """Llama / Mistral / Qwen2 (modeling_llama semantics)."""
    return llama_decoder(c, w, tokens, lambda l, g, h: swiglu(h, g, "mlp."))


def neox_logits(c, w, tokens):
    """GPT-NeoX (modeling_gpt_neox semantics)."""
    D, H = c["hidden_size"], c["num_attention_heads"]
    Dh = D // H
    rot = int(Dh * c["rotary_pct"])
    eps = c["layer_norm_eps"]
    act = {"gelu": lambda t: F.gelu(t), "gelu_new": lambda t: F.gelu(t, approximate="tanh")}[c["hidden_act"]]
    B, T = tokens.shape
    cos, sin = rope_cos_sin(T, rot, c["rotary_emb_base"])
    x = w["gpt_neox.embed_in.weight"][tokens]
    for l in range(c["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        g = lambda n: w[p + n]

        def attn(h):
            qkv = lin(h, g("attention.query_key_value.weight"), g("attention.query_key_value.bias")).view(B, T, H, 3 * Dh).permute(0, 2, 1, 3)
            q, k, v = qkv[..., :Dh], qkv[..., Dh:2 * Dh], qkv[..., 2 * Dh:]
            q, k = apply_rope(q, cos, sin, rot), apply_rope(k, cos, sin, rot)
            o = attention(q, k, v).transpose(1, 2).reshape(B, T, D)
            return lin(o, g("attention.dense.weight"), g("attention.dense.bias"))

        def mlp(h):
            return lin(act(lin(h, g("mlp.dense_h_to_4h.weight"), g("mlp.dense_h_to_4h.bias"))), g("mlp.dense_4h_to_h.weight"), g("mlp.dense_4h_to_h.bias"))

        ln1 = lambda t: layer_norm(t, g("input_layernorm.weight"), g("input_layernorm.bias"), eps)
        ln2 = lambda t: layer_norm(t, g("post_attention_layernorm.weight"), g("post_attention_layernorm.bias"), eps)
        if c["use_parallel_residual"]:
            x = x + attn(ln1(x)) + mlp(ln2(x))
        else:
            x = x + attn(ln1(x))
            x = x + mlp(ln2(x))
    x = layer_norm(x, w["gpt_neox.final_layer_norm.weight"], w["gpt_neox.final_layer_norm.bias"], eps)
    return x @ w["embed_out.weight"].T


# ----------------------------------------------------------------------------- fixtures


def randn(gen, *shape, std=0.2, mean=0.0):
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * std + mean


def llama_weights(gen, c, qkv_bias):
    D, H, Hkv, L, Fh, V = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
    Dh = D // H
    w = {"model.embed_tokens.weight": randn(gen, V, D, std=0.5), "model.norm.weight": randn(gen, D, std=0.1, mean=1.0)}
    for l in range(L):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = randn(gen, D, std=0.1, mean=1.0)
        w[p + "post_attention_layernorm.weight"] = randn(gen, D, std=0.1, mean=1.0)
        w[p + "self_attn.q_proj.weight"] = randn(gen, H * Dh, D)
        w[p + "self_attn.k_proj.weight"] = randn(gen, Hkv * Dh, D)
        w[p + "self_attn.v_proj.weight"] = randn(gen, Hkv * Dh, D)
        w[p + "self_attn.o_proj.weight"] = randn(gen, D, H * Dh)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = randn(gen, H * Dh, std=0.1)
            w[p + "self_attn.k_proj.bias"] = randn(gen, Hkv * Dh, std=0.1)
            w[p + "self_attn.v_proj.bias"] = randn(gen, Hkv * Dh, std=0.1)
        w[p + "mlp.gate_proj.weight"] = randn(gen, Fh, D)
        w[p + "mlp.up_proj.weight"] = randn(gen, Fh, D)
        w[p + "mlp.down_proj.weight"] = randn(gen, D, Fh)
    if not c["tie_word_embeddings"]:
        w["lm_head.weight"] = randn(gen, V, D)
    return w


def neox_weights(gen, c):
    D, L, Fh, V = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
    w = {"gpt_neox.embed_in.weight": randn(gen, V, D, std=0.5), "embed_out.weight": randn(gen, V, D),
         "gpt_neox.final_layer_norm.weight": randn(gen, D, std=0.1, mean=1.0), "gpt_neox.final_layer_norm.bias": randn(gen, D, std=0.1)}
    for l in range(L):
        p = f"gpt_neox.layers.{l}."
        for n in ("input_layernorm", "post_attention_layernorm"):
            w[p + n + ".weight"] = randn(gen, D, std=0.1, mean=1.0)
            w[p + n + ".bias"] = randn(gen, D, std=0.1)
        w[p + "attention.query_key_value.weight"] = randn(gen, 3 * D, D)
        w[p + "attention.query_key_value.bias"] = randn(gen, 3 * D, std=0.1)
        w[p + "attention.dense.weight"] = randn(gen, D, D)
        w[p + "attention.dense.bias"] = randn(gen, D, std=0.1)
        w[p + "mlp.dense_h_to_4h.weight"] = randn(gen, Fh, D)
        w[p + "mlp.dense_h_to_4h.bias"] = randn(gen, Fh, std=0.1)
        w[p + "mlp.dense_4h_to_h.weight"] = randn(gen, D, Fh)
        w[p + "mlp.dense_4h_to_h.bias"] = randn(gen, D, std=0.1)
    return w


def write_hf(folder, config, weights, dtype, logits_fn, tokens, tokenizer_src, shards=1):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(tokenizer_src, "rb") as src, open(os.path.join(folder, "tokenizer.json"), "wb") as dst:
        dst.write(src.read())
    stored = rounded(weights, dtype)
    names = sorted(stored)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), stored, dtype)
    else:
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: stored[n] for n in names[s::shards]}
            write_safetensors(os.path.join(folder, fname), part, dtype)
            weight_map.update({n: fname for n in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    write_reference(os.path.join(folder, "reference.json"), tokens, logits_fn(config, stored, tokens))


# llama2.c ------------------------------------------------------------------------------


LLAMA2C_PIECES = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0)] + [(f"<0x{b:02X}>", 0.0) for b in range(256)] + [
    (" ", -10.0), ("t", -10.0), ("h", -10.0), ("e", -10.0), ("c", -10.0), ("a", -10.0),
    ("he", -1.0), (" t", -2.0), (" the", -3.0), ("at", -1.5), ("cat", -2.5), (" cat", -3.5)]


def write_llama2c_tokenizer(path):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p.encode()) for p, _ in LLAMA2C_PIECES)))
        for piece, score in LLAMA2C_PIECES:
            raw = piece.encode("utf-8")
            f.write(struct.pack("<fi", score, len(raw)))
            f.write(raw)


def llama2c_logits(p, w, tokens):
    """run.c's forward: interleaved RoPE pairs, RMSNorm eps 1e-5, SwiGLU w2(silu(w1 x) * w3 x)."""
    D, Fh, L, H, Hkv = p["dim"], p["hidden_dim"], p["n_layers"], p["n_heads"], p["n_kv_heads"]
    Dh = D // H
    B, T = tokens.shape
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    freq = 1.0 / (10000.0 ** (torch.arange(0, Dh, 2, dtype=torch.float64) / Dh))  # [Dh/2]
    ang = pos * freq  # [T, Dh/2]
    fcr, fci = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]

    def rope(x):  # x [B, T, heads, Dh]: rotate pairs (2i, 2i+1)
        v0, v1 = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = v0 * fcr - v1 * fci
        out[..., 1::2] = v0 * fci + v1 * fcr
        return out

    x = w["tok"][tokens]
    for l in range(L):
        h = rms_norm(x, w["rms_att"][l], 1e-5)
        q = rope((h @ w["wq"][l].T).view(B, T, H, Dh)).transpose(1, 2)
        k = rope((h @ w["wk"][l].T).view(B, T, Hkv, Dh)).transpose(1, 2)
        v = (h @ w["wv"][l].T).view(B, T, Hkv, Dh).transpose(1, 2)
        x = x + attention(q, k, v).transpose(1, 2).reshape(B, T, D) @ w["wo"][l].T
        h = rms_norm(x, w["rms_ffn"][l], 1e-5)
        x = x + (F.silu(h @ w["w1"][l].T) * (h @ w["w3"][l].T)) @ w["w2"][l].T
    x = rms_norm(x, w["rms_final"], 1e-5)
    return x @ w["wcls"].T


def write_llama2c(folder, gen, tokens):
    os.makedirs(folder, exist_ok=True)
    p = {"dim": 32, "hidden_dim": 40, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": len(LLAMA2C_PIECES), "seq_len": 16}
    D, Fh, L, H, Hkv, V, T = (p[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"))
    Dh = D // H
    w = {"tok": randn(gen, V, D, std=0.5), "rms_att": randn(gen, L, D, std=0.1, mean=1.0), "wq": randn(gen, L, H * Dh, D),
         "wk": randn(gen, L, Hkv * Dh, D), "wv": randn(gen, L, Hkv * Dh, D), "wo": randn(gen, L, D, H * Dh),
         "rms_ffn": randn(gen, L, D, std=0.1, mean=1.0), "w1": randn(gen, L, Fh, D), "w2": randn(gen, L, D, Fh), "w3": randn(gen, L, Fh, D),
         "rms_final": randn(gen, D, std=0.1, mean=1.0), "wcls": randn(gen, V, D)}
    w = rounded(w, "F32")
    with open(os.path.join(folder, "model.bin"), "wb") as f:
        # Negative vocab_size: the head is its own matrix (untied).
        f.write(struct.pack("<7i", D, Fh, L, H, Hkv, -V, T))
        for key in ("tok", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3", "rms_final"):
            f.write(w[key].to(torch.float32).numpy().astype("<f4").tobytes())
        f.write(np.zeros(T * Dh, dtype="<f4").tobytes())  # freq_cis_real and freq_cis_imag, unused
        f.write(w["wcls"].to(torch.float32).numpy().astype("<f4").tobytes())
    write_llama2c_tokenizer(os.path.join(folder, "tokenizer.bin"))
    write_reference(os.path.join(folder, "reference.json"), tokens, llama2c_logits(p, w, tokens))


def cmd_fixtures(args):
    out = args.out
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)
    tok_path = os.path.join(out, "tokenizer.json")
    n_tok = write_tokenizer_json(tok_path)
    tokens = torch.randint(0, n_tok, (2, 7), generator=gen)
    llama = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": n_tok, "hidden_size": 32, "intermediate_size": 40,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
             "rms_norm_eps": 1e-5, "rope_theta": 500.0, "hidden_act": "silu", "tie_word_embeddings": False, "rope_scaling": None,
             "attention_bias": False, "mlp_bias": False, "torch_dtype": "float32"}
    lw = llama_weights(gen, llama, qkv_bias=False)
    for name, dtype in (("llama", "F32"), ("llama-f16", "F16"), ("llama-bf16", "BF16")):
        write_hf(os.path.join(out, name), llama, lw, dtype, llama_logits, tokens, tok_path)
    qwen = {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": n_tok, "hidden_size": 32, "intermediate_size": 48,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 64,
            "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": True,
            "use_sliding_window": False, "sliding_window": 32, "max_window_layers": 2}
    write_hf(os.path.join(out, "qwen2"), qwen, llama_weights(gen, qwen, qkv_bias=True), "F32", llama_logits, tokens, tok_path, shards=2)
    neox = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": n_tok + 3, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 64, "rotary_pct": 0.25,
            "rotary_emb_base": 10000, "layer_norm_eps": 1e-5, "use_parallel_residual": True, "hidden_act": "gelu", "tie_word_embeddings": False}
    write_hf(os.path.join(out, "neox"), neox, neox_weights(gen, neox), "F32", neox_logits, tokens, tok_path)
    neox_seq = dict(neox, use_parallel_residual=False, hidden_act="gelu_new", rotary_pct=0.5)
    write_hf(os.path.join(out, "neox-seq"), neox_seq, neox_weights(gen, neox_seq), "F32", neox_logits, tokens, tok_path)
    l2c_tokens = torch.randint(0, len(LLAMA2C_PIECES), (2, 7), generator=gen)
    write_llama2c(os.path.join(out, "llama2c"), gen, l2c_tokens)
    print(json.dumps({"ok": True, "fixtures": ["llama", "llama-f16", "llama-bf16", "qwen2", "neox", "neox-seq", "llama2c"], "tokenizerIds": n_tok}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixtures", help="write the fixture folders and their reference logits")
    fx.add_argument("--out", required=True)
    fx.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cmd_fixtures(args)


if __name__ == "__main__":
    main()
