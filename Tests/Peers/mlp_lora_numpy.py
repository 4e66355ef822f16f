"""The proxy's local training step in numpy (the peer figure for `make bench`; test-only, never used by FedSim).

The same step as FedSim's Learning target: an MLP with a frozen base (ReLU hidden layers), LoRA on every
linear layer (z = h·Wᵀ + b + s·(h·Aᵀ)·Bᵀ, s = alpha/r), softmax cross-entropy, backward to A and B only,
Adam (β₁ 0.9, β₂ 0.999, ε 1e-8). float32 throughout, BLAS through numpy's matmul.

usage: mlp_lora_numpy.py WIDTHS RANK ALPHA BATCH STEPS      e.g. 784,256,128,10 8 16 32 2000
prints one JSON line: {"samples_per_second": …, "seconds": …, "loss": …}
"""
import json
import sys
import time

import numpy as np


def main():
    widths = [int(x) for x in sys.argv[1].split(",")]
    rank, alpha, batch, steps = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    rng = np.random.default_rng(1)
    L = len(widths) - 1
    W = [(rng.standard_normal((widths[l + 1], widths[l])) * np.sqrt(2 / widths[l])).astype(np.float32) for l in range(L)]
    b = [np.zeros(widths[l + 1], dtype=np.float32) for l in range(L)]
    A = [(rng.standard_normal((rank, widths[l])) / np.sqrt(widths[l])).astype(np.float32) for l in range(L)]
    B = [np.zeros((widths[l + 1], rank), dtype=np.float32) for l in range(L)]
    s = np.float32(alpha / rank)
    n = 4096
    X = rng.standard_normal((n, widths[0])).astype(np.float32)
    Y = rng.integers(0, widths[-1], n)
    params = A + B
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps, lr = np.float32(0.9), np.float32(0.999), np.float32(1e-8), np.float32(1e-3)
    loss = 0.0
    start = time.perf_counter()
    for t in range(1, steps + 1):
        i = (t * batch) % (n - batch)
        h, y = X[i:i + batch], Y[i:i + batch]
        inputs, us, zs = [], [], []
        for l in range(L):
            inputs.append(h)
            u = h @ A[l].T
            z = h @ W[l].T + b[l] + s * (u @ B[l].T)
            us.append(u)
            zs.append(z)
            h = np.maximum(z, 0) if l < L - 1 else z
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = float(-np.log(p[np.arange(batch), y]).mean())
        g = p
        g[np.arange(batch), y] -= 1
        g /= batch
        gA, gB = [None] * L, [None] * L
        for l in reversed(range(L)):
            gB[l] = s * (g.T @ us[l])
            du = s * (g @ B[l])
            gA[l] = du.T @ inputs[l]
            if l > 0:
                dh = g @ W[l] + du @ A[l]
                g = dh * (zs[l - 1] > 0)
        grads = gA + gB
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        for k in range(len(params)):
            m[k] = b1 * m[k] + (1 - b1) * grads[k]
            v[k] = b2 * v[k] + (1 - b2) * grads[k] * grads[k]
            params[k] -= lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps)
    seconds = time.perf_counter() - start
    print(json.dumps({"samples_per_second": steps * batch / seconds, "seconds": seconds, "loss": loss}))


if __name__ == "__main__":
    main()
