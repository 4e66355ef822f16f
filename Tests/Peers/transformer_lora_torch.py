"""One LoRA training step of FedSim's transformer in PyTorch (the peer figure for the transformer
benchmark; test-only, never used by FedSim).

The same model and step as Sources/Learning/Transformer: a byte-level Llama-shaped decoder (token
embedding, pre-norm RMSNorm, causal multi-head self-attention with rotary positions in Hugging Face's
rotate_half convention, SwiGLU MLP, final RMSNorm, untied head), base frozen, LoRA (y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ,
s = alpha/r) on the chosen projections, mean next-token cross-entropy, backward, gradient-norm clipping
at 1.0 and AdamW (β 0.9/0.999, ε 1e-8, weight decay 0) on A and B. float32, eager mode (no compile),
torch.set_num_threads(THREADS).

usage: transformer_lora_torch.py LAYERS WIDTH HEADS CONTEXT HIDDEN BATCH RANK TARGETS STEPS [THREADS]
       e.g. 4 128 4 64 344 16 8 q,v 50 2
prints one JSON line: {"steps_per_second": …, "ms_per_step": …, "loss": …, "threads": …}
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


class LoRALinear(torch.nn.Module):
    def __init__(self, d_in, d_out, rank, alpha, adapted):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(d_out, d_in) * 0.02, requires_grad=False)
        self.adapted = adapted
        if adapted:
            bound = 1 / math.sqrt(d_in)
            self.lora_A = torch.nn.Parameter(torch.empty(rank, d_in).uniform_(-bound, bound))
            self.lora_B = torch.nn.Parameter(torch.zeros(d_out, rank))
            self.scaling = alpha / rank

    def forward(self, x):
        y = x @ self.weight.t()
        if self.adapted:
            y = y + self.scaling * ((x @ self.lora_A.t()) @ self.lora_B.t())
        return y


def rms_norm(x, g, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def main():
    layers, width, heads, context, hidden, batch, rank = (int(a) for a in sys.argv[1:8])
    targets = set(sys.argv[8].split(","))
    steps = int(sys.argv[9])
    threads = int(sys.argv[10]) if len(sys.argv) > 10 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    vocab, hs = 256, width // heads
    emb = torch.randn(vocab, width) * 0.02
    head = torch.randn(vocab, width) * 0.02
    blocks = []
    for _ in range(layers):
        shapes = {"q": (width, width), "k": (width, width), "v": (width, width), "o": (width, width),
                  "gate": (width, hidden), "up": (width, hidden), "down": (hidden, width)}
        blocks.append({m: LoRALinear(i, o, rank, 2 * rank, m in targets) for m, (i, o) in shapes.items()})
    ones = torch.ones(width)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, hs, 2).float() / hs))
    freqs = torch.outer(torch.arange(context).float(), inv_freq)
    cos, sin = torch.cat((freqs, freqs), -1).cos(), torch.cat((freqs, freqs), -1).sin()
    mask = torch.full((context, context), float("-inf")).triu(1)
    params = [p for b in blocks for m in b.values() if m.adapted for p in (m.lora_A, m.lora_B)]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    data = torch.randint(0, vocab, (batch, context + 1))

    def step():
        x = emb[data[:, :-1]]
        for b in blocks:
            a = rms_norm(x, ones)
            q = b["q"](a).view(batch, context, heads, hs).transpose(1, 2)
            k = b["k"](a).view(batch, context, heads, hs).transpose(1, 2)
            v = b["v"](a).view(batch, context, heads, hs).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hs) + mask
            att = (s.softmax(-1) @ v).transpose(1, 2).reshape(batch, context, width)
            x = x + b["o"](att)
            m = rms_norm(x, ones)
            x = x + b["down"](F.silu(b["gate"](m)) * b["up"](m))
        logits = rms_norm(x, ones) @ head.t()
        loss = F.cross_entropy(logits.reshape(-1, vocab), data[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    best, loss = float("inf"), 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        best = min(best, (time.perf_counter() - start) / steps)
    print(json.dumps({"steps_per_second": 1 / best, "ms_per_step": 1000 * best, "loss": loss, "threads": threads}))


if __name__ == "__main__":
    main()
