"""One LoRA training step of FedSim's transformer in PyTorch, and its evaluation forward (the peer
figures of the transformer benchmark; test-only, never used by FedSim).

The same model and step as Sources/Learning/Transformer: a byte-level Llama-shaped decoder (token
embedding, pre-norm RMSNorm with gains, causal multi-head self-attention with rotary positions in
Hugging Face's rotate_half convention, SwiGLU MLP, final RMSNorm, untied head), base frozen, LoRA
(y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ, s = alpha/r) on the chosen projections, mean next-token cross-entropy,
backward, gradient-norm clipping and AdamW / Adam / SGD+momentum on A and B with the scenario's
settings. float32, eager mode (no compile).

The weights, the training batch and the evaluation windows are FedSim's (written by fedsim-bench), so
both sides compute the same step: the peer prints the losses of its first steps for comparison.

Threads: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to THREADS before torch
loads (Debian's torch does its products in the system OpenBLAS), then torch.set_num_threads(THREADS)
and torch.set_num_interop_threads(THREADS). "omp_wait_policy" (optional, e.g. "PASSIVE") sets
OMP_WAIT_POLICY: with the default, OpenMP's idle threads spin, which on a machine shared with other
work can make 2 threads far slower than 1.

usage: transformer_lora_torch.py SPEC.json
  SPEC: {"layers", "width", "heads", "context", "vocabulary", "hidden", "norm_epsilon", "rope_theta",
         "rank", "alpha", "targets": [...], "batch", "optimizer": {"name": "adamw"|"adam"|"sgd", "lr",
         "beta1", "beta2", "eps", "weight_decay", "momentum"}, "max_grad_norm" (or null),
         "repeat_seconds" (each repeat runs about this long, from the warm-up's pace), "repeats", "warmup", "threads", "omp_wait_policy", "eval_windows", "eval_chunk", "data": FILE}
  FILE: float32 little-endian: embedding; per layer q, k, v, o, gate, up, down (out × in, row-major),
        input norm, post-attention norm; final norm; head; then per adapted site (layer by layer, in
        module order) A (r × in) and B (out × r); then int32: the batch (batch × (context + 1)
        tokens), then the evaluation windows (eval_windows × (context + 1)).
prints one JSON line: {"steps_per_second" (median over repeats), "rates": [...], "losses": [first
  steps], "eval_tokens_per_second", "eval_loss", "threads", "kernel", "torch"}
"""
import json
import os
import statistics
import sys

SPEC = json.load(open(sys.argv[1]))
THREADS = int(SPEC["threads"])
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(THREADS)
if SPEC.get("omp_wait_policy"):
    os.environ["OMP_WAIT_POLICY"] = SPEC["omp_wait_policy"]

import ctypes  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MODULES = ["q", "k", "v", "o", "gate", "up", "down"]


def openblas_kernel():
    """The kernel family of the OpenBLAS loaded into this process, or "n/a"."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "n/a"


def rms_norm(x, g, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def main():
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(THREADS)
    s = SPEC
    layers, d, heads, ctx, vocab, ff = (int(s[k]) for k in ("layers", "width", "heads", "context", "vocabulary", "hidden"))
    eps, rank, batch = float(s["norm_epsilon"]), int(s["rank"]), int(s["batch"])
    targets, scaling, hs = set(s["targets"]), float(s["alpha"]) / rank, d // heads
    shapes = {"q": (d, d), "k": (d, d), "v": (d, d), "o": (d, d), "gate": (ff, d), "up": (ff, d), "down": (d, ff)}
    raw = open(s["data"], "rb").read()
    offset = 0

    def floats(*shape):
        nonlocal offset
        n = math.prod(shape)
        t = torch.frombuffer(bytearray(raw[offset:offset + 4 * n]), dtype=torch.float32).reshape(shape).clone()
        offset += 4 * n
        return t

    def ints(*shape):
        nonlocal offset
        n = math.prod(shape)
        t = torch.frombuffer(bytearray(raw[offset:offset + 4 * n]), dtype=torch.int32).reshape(shape).long()
        offset += 4 * n
        return t

    emb = floats(vocab, d)
    blocks = []
    for _ in range(layers):
        b = {m: floats(*shapes[m]) for m in MODULES}
        b["attention_norm"], b["mlp_norm"] = floats(d), floats(d)
        blocks.append(b)
    final_norm, head = floats(d), floats(vocab, d)
    params = []
    for b in blocks:
        for m in MODULES:
            if m in targets:
                out, inp = shapes[m]
                a, bb = floats(rank, inp).requires_grad_(True), floats(out, rank).requires_grad_(True)
                b["lora_" + m] = (a, bb)
                params += [a, bb]
    initial = [p.detach().clone() for p in params]
    data = ints(batch, ctx + 1)
    held = ints(int(s["eval_windows"]), ctx + 1)
    assert offset == len(raw), f"{len(raw) - offset} bytes left over in {s['data']}"

    inv_freq = 1.0 / (float(s["rope_theta"]) ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    freqs = torch.outer(torch.arange(ctx, dtype=torch.float64), inv_freq)
    cos = torch.cat((freqs, freqs), -1).cos().float()
    sin = torch.cat((freqs, freqs), -1).sin().float()
    mask = torch.full((ctx, ctx), float("-inf")).triu(1)

    def linear(b, m, x):
        y = x @ b[m].t()
        if m in targets:
            a, bb = b["lora_" + m]
            y = y + scaling * ((x @ a.t()) @ bb.t())
        return y

    def loss_of(windows):
        n, t = windows.shape[0], windows.shape[1] - 1
        x = emb[windows[:, :-1]]
        c, sn, mk = cos[:t], sin[:t], mask[:t, :t]
        for b in blocks:
            a = rms_norm(x, b["attention_norm"], eps)
            q = linear(b, "q", a).view(n, t, heads, hs).transpose(1, 2)
            k = linear(b, "k", a).view(n, t, heads, hs).transpose(1, 2)
            v = linear(b, "v", a).view(n, t, heads, hs).transpose(1, 2)
            q, k = q * c + rotate_half(q) * sn, k * c + rotate_half(k) * sn
            att = ((q @ k.transpose(-1, -2)) / math.sqrt(hs) + mk).softmax(-1) @ v
            x = x + linear(b, "o", att.transpose(1, 2).reshape(n, t, d))
            m = rms_norm(x, b["mlp_norm"], eps)
            x = x + linear(b, "down", F.silu(linear(b, "gate", m)) * linear(b, "up", m))
        logits = rms_norm(x, final_norm, eps) @ head.t()
        return F.cross_entropy(logits.reshape(-1, vocab), windows[:, 1:].reshape(-1), reduction="sum") / (n * t)

    o = s["optimizer"]
    if o["name"] == "adamw":
        opt = torch.optim.AdamW(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"])
    elif o["name"] == "adam":
        opt = torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"])
    else:
        opt = torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"])
    clip = s.get("max_grad_norm")

    def step():
        loss = loss_of(data)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return loss.item()

    start = time.perf_counter()
    losses = [step() for _ in range(int(s["warmup"]))]
    per_step = (time.perf_counter() - start) / len(losses)
    steps = max(3, min(10000, math.ceil(float(s["repeat_seconds"]) / max(per_step, 1e-9))))
    rates = []
    for _ in range(int(s["repeats"])):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps / (time.perf_counter() - start))

    # Evaluation as FedSim evaluates: the held-out windows in chunks, forward only, mean loss.
    chunk = int(s["eval_chunk"])

    def evaluate():
        with torch.no_grad():
            total = sum(loss_of(held[i:i + chunk]).item() * held[i:i + chunk].shape[0] for i in range(0, held.shape[0], chunk))
        return total / held.shape[0]

    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():  # evaluate the adapter FedSim evaluates: the initial one
        for p, p0 in zip(params, initial):
            p.copy_(p0)
    start = time.perf_counter()
    eval_loss = evaluate()
    evaluations = max(1, min(10000, math.ceil(float(s["repeat_seconds"]) / max(time.perf_counter() - start, 1e-9))))
    eval_rates = []
    for _ in range(int(s["repeats"])):
        start = time.perf_counter()
        for _ in range(evaluations):
            evaluate()
        eval_rates.append(evaluations * held.shape[0] * ctx / (time.perf_counter() - start))
    print(json.dumps({"steps_per_second": statistics.median(rates), "rates": rates, "losses": losses,
                      "eval_tokens_per_second": statistics.median(eval_rates), "eval_loss": eval_loss,
                      "threads": torch.get_num_threads(), "kernel": openblas_kernel(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
