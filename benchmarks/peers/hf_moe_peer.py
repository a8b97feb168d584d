#!/usr/bin/env python3
"""The PyTorch peer of `bam export`'s mixture layouts: reads an exported Mixtral or Qwen2-MoE
folder (config.json, model.safetensors) and prints its logits, computed by a plain
implementation of the Hugging Face modeling code's semantics (written here, not imported:
transformers is not needed). Dense Llama-family and GPT-NeoX folders go through hf_peer.py's
implementations; bam-hf folders through python/bam_hf.py.

Semantics followed (modeling_mixtral / modeling_qwen2_moe):
- the Llama body: RMSNorm, rotate_half RoPE, repeat_kv GQA, sequential residual; Qwen2-MoE's
  q/k/v projections have biases;
- Mixtral's sparse block: p = softmax(gate(h)); the top-k p renormalised to sum 1; output
  sum_e p_e * w2(silu(w1 h) * w3 h);
- Qwen2-MoE's: the same, renormalised only when norm_topk_prob is true, plus the shared expert
  sigmoid(shared_expert_gate(h)) * shared_expert(h) (none when shared_expert_intermediate_size is 0);
  layer l is sparse unless listed in mlp_only_layers and when (l + 1) % decoder_sparse_step == 0.

Run with Debian's /usr/bin/python3 (python3-torch, python3-numpy):
    hf_moe_peer.py logits DIR --tokens '[[1, 2, 3]]'
prints {"logits": [B][T][V]} (float64 maths).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bam_hf import load_safetensors  # noqa: E402
from hf_peer import lin, llama_decoder, llama_logits, neox_logits, swiglu  # noqa: E402


def sparse_moe(h, g, prefix, names, E, k, renormalise):
    """The top-k mixture of SwiGLU experts; names = (gate, up, down) weight names of an expert."""
    probs = torch.softmax(lin(h, g(f"{prefix}.gate.weight")), dim=-1)  # [B, T, E]
    top, idx = probs.topk(k, dim=-1)
    if renormalise:
        top = top / top.sum(-1, keepdim=True)
    weights = torch.zeros_like(probs).scatter(-1, idx, top)
    out = 0
    for e in range(E):
        ep = f"{prefix}.experts.{e}."
        y = lin(F.silu(lin(h, g(ep + names[0]))) * lin(h, g(ep + names[1])), g(ep + names[2]))
        out = out + weights[..., e:e + 1] * y
    return out


def moe_logits(c, w, tokens):
    """Mixtral or Qwen2-MoE logits of tokens [B, T]: the Llama decoder with sparse MLP blocks."""
    if c["model_type"] == "mixtral":
        def mlp(l, g, h):
            return sparse_moe(h, g, "block_sparse_moe", ("w1.weight", "w3.weight", "w2.weight"), c["num_local_experts"], c["num_experts_per_tok"], True)
    else:
        def mlp(l, g, h):
            sparse = l not in c["mlp_only_layers"] and c["num_experts"] > 0 and (l + 1) % c["decoder_sparse_step"] == 0
            if not sparse:
                return swiglu(h, g, "mlp.")
            y = sparse_moe(h, g, "mlp", ("gate_proj.weight", "up_proj.weight", "down_proj.weight"), c["num_experts"], c["num_experts_per_tok"], c["norm_topk_prob"])
            if c["shared_expert_intermediate_size"] > 0:
                y = y + torch.sigmoid(lin(h, g("mlp.shared_expert_gate.weight"))) * swiglu(h, g, "mlp.shared_expert.")
            return y
    return llama_decoder(c, w, tokens, mlp)


LOGITS = {"mixtral": moe_logits, "qwen2_moe": moe_logits, "llama": llama_logits, "qwen2": llama_logits, "gpt_neox": neox_logits}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lg = sub.add_parser("logits", help="print the logits of an exported folder")
    lg.add_argument("folder")
    lg.add_argument("--tokens", required=True, help="JSON [B][T] token ids")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(os.path.join(args.folder, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    fn = LOGITS.get(config.get("model_type"))
    if fn is None:
        print(json.dumps({"ok": False, "error": f"model_type {config.get('model_type')!r} is not one this peer implements ({', '.join(LOGITS)})"}))
        sys.exit(2)
    weights = {k: v.to(torch.float64) for k, v in load_safetensors(os.path.join(args.folder, "model.safetensors")).items()}
    tokens = torch.tensor(json.loads(args.tokens), dtype=torch.long)
    with torch.no_grad():
        logits = fn(config, weights, tokens)
    json.dump({"logits": logits.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
