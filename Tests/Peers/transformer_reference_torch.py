"""Reference values for FedSim's transformer from PyTorch in float64 (test-only; FedSim never runs Python).

Builds the model of Sources/Learning/Transformer with weights given by formulas (so no weights need to
be exchanged), written as Hugging Face's Llama computes it (RMSNorm, rotate_half RoPE, causal softmax
attention, SwiGLU, untied head), runs two windows of "Hello, RoPE world!" and prints the mean
next-byte loss of the base and of the adapted model and, for each base tensor (base alone) and
each LoRA tensor (adapted model), two figures of its gradient: the
projection Σ_j g_j·sin(0.5 j + 1) and the Euclidean norm. Tests/LearningTests/TransformerReferenceTests.swift
holds the printed numbers.

usage: transformer_reference_torch.py      prints JSON
"""
import json
import math

import torch

torch.set_default_dtype(torch.float64)
L, D, H, T, V, FF, R, ALPHA = 2, 16, 2, 8, 256, 24, 2, 4.0
HS = D // H
MODULES = ["q", "k", "v", "o", "gate", "up", "down"]
SHAPES = {"q": (D, D), "k": (D, D), "v": (D, D), "o": (D, D), "gate": (FF, D), "up": (FF, D), "down": (D, FF)}
TARGETS = ["q", "v", "down"]


def formula(shape, t, gain=False):
    j = torch.arange(math.prod(shape), dtype=torch.float64)
    x = torch.sin(0.37 * j + 1.3 * t + 0.1)
    return ((1 + 0.2 * x) if gain else 0.05 * x).reshape(shape).requires_grad_(True)


def main():
    t = 0
    names, tensors = [], []

    def add(name, shape, gain=False):
        nonlocal t
        w = formula(shape, t, gain)
        names.append(name); tensors.append(w); t += 1
        return w

    emb = add("model.embed_tokens.weight", (V, D))
    layers = []
    for i in range(L):
        p = f"model.layers.{i}."
        w = {m: add(p + ("self_attn." if m in "qkvo" else "mlp.") + m + "_proj.weight", SHAPES[m]) for m in MODULES}
        w["n1"] = add(p + "input_layernorm.weight", (D,), True)
        w["n2"] = add(p + "post_attention_layernorm.weight", (D,), True)
        layers.append(w)
    norm = add("model.norm.weight", (D,), True)
    head = add("lm_head.weight", (V, D))
    lora, lora_names = [], []
    e = 0
    for i in range(L):
        d = {}
        for m in MODULES:
            if m not in TARGETS:
                continue
            out_f, in_f = SHAPES[m]
            ja, jb = torch.arange(R * in_f, dtype=torch.float64), torch.arange(out_f * R, dtype=torch.float64)
            a = (0.1 * torch.sin(0.23 * ja + 0.7 * e)).reshape(R, in_f).requires_grad_(True)
            b = (0.05 * torch.cos(0.29 * jb + 0.5 * e)).reshape(out_f, R).requires_grad_(True)
            d[m] = (a, b)
            base = f"base_model.model.model.layers.{i}." + ("self_attn." if m in "qkvo" else "mlp.") + m + "_proj"
            lora += [a, b]; lora_names += [base + ".lora_A.weight", base + ".lora_B.weight"]
            e += 1
        layers[i]["lora"] = d

    def rms(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g

    def lin(x, w, m, adapted):
        y = x @ w[m].t()
        if adapted and m in w["lora"]:
            a, b = w["lora"][m]
            y = y + (ALPHA / R) * ((x @ a.t()) @ b.t())
        return y

    inv = 1.0 / (10000 ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS))
    fr = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    cos, sin = torch.cat((fr, fr), -1).cos(), torch.cat((fr, fr), -1).sin()

    def rot(x):
        return torch.cat((-x[..., HS // 2:], x[..., :HS // 2]), -1)

    data = torch.tensor(list(b"Hello, RoPE world!"), dtype=torch.long).reshape(2, T + 1)
    mask = torch.full((T, T), float("-inf")).triu(1)

    def loss_of(adapted):
        x = emb[data[:, :-1]]
        for w in layers:
            a = rms(x, w["n1"])
            q, k, v = (lin(a, w, m, adapted).view(2, T, H, HS).transpose(1, 2) for m in "qkv")
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            att = ((q @ k.transpose(-1, -2)) / math.sqrt(HS) + mask).softmax(-1) @ v
            x = x + lin(att.transpose(1, 2).reshape(2, T, D), w, "o", adapted)
            m = rms(x, w["n2"])
            x = x + lin(torch.nn.functional.silu(lin(m, w, "gate", adapted)) * lin(m, w, "up", adapted), w, "down", adapted)
        logits = rms(x, norm) @ head.t()
        return torch.nn.functional.cross_entropy(logits.reshape(-1, V), data[:, 1:].reshape(-1))

    base_loss = loss_of(False)
    base_loss.backward()
    base_grads = [w.grad.clone() for w in tensors]
    loss = loss_of(True)
    for w in tensors:
        w.grad = None
    loss.backward()

    def figures(g):
        g = g.reshape(-1)
        j = torch.arange(g.numel(), dtype=torch.float64)
        return [float((g * torch.sin(0.5 * j + 1)).sum()), float(g.norm())]

    print(json.dumps({"base_loss": float(base_loss), "loss": float(loss),
                      "base": {n: figures(g) for n, g in zip(names, base_grads)},
                      "lora": {n: figures(w.grad) for n, w in zip(lora_names, lora)}}))


if __name__ == "__main__":
    main()
