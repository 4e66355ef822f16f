"""FedSRD's server step in numpy, dense (the peer figure for `make bench`; test-only, never used by FedSim).

The same algorithm as FedSim's dense path (docs/FEDSRD.md): reconstruct ΔW = Σ p_i (ΔB_i·A + (B + ΔB_i)·ΔA_i),
then J alternations of relative-ridge fits, each followed by importance top-k at the download sparsity
(with one layer the kurtosis rule gives ρ = α), the 2·‖ΔW‖ guard on δA, and the relative residual.
Inputs are raw float32 files written by fedsim-bench; outputs δB, δA the same way, and one JSON line.

usage: fedsrd_numpy.py FOLDER ITERATIONS RIDGE SPARSITY
"""
import json
import sys
import time

import numpy as np


def load(folder, name, shape):
    return np.fromfile(f"{folder}/{name}", dtype=np.float32).reshape(shape)


def top_k_mask(scores, k):
    """Keep the k largest scores; ties go to the lower flat index (as FedSim does)."""
    flat = scores.ravel()
    n = flat.size
    if k >= n:
        return np.ones_like(flat, dtype=bool).reshape(scores.shape)
    threshold = np.partition(flat, n - k)[n - k]
    keep = flat > threshold
    need = k - int(keep.sum())
    if need > 0:
        keep[np.flatnonzero(flat == threshold)[:need]] = True
    return keep.reshape(scores.shape)


def kept(count, rho):
    return min(count, max(1, int(round((1 - rho) * count))))


def server_step(a, b, p, deltas_b, deltas_a, iterations, ridge, sparsity):
    r = a.shape[0]
    w = np.zeros((b.shape[0], a.shape[1]), dtype=np.float32)
    for pi, db, da in zip(p, deltas_b, deltas_a):
        w += pi * (db @ a + (b + db) @ da)
    gram_a = a @ a.T + np.float32(ridge * float(np.sum(a.astype(np.float64) ** 2)) / r) * np.eye(r, dtype=np.float32)
    w_at = w @ a.T
    delta_a = np.zeros_like(a)
    delta_b = np.zeros_like(b)
    for _ in range(max(1, iterations)):
        m = w_at - b @ (delta_a @ a.T)
        delta_b = np.linalg.solve(gram_a, m.T).T.astype(np.float32)
        scores = np.abs(delta_b) * np.linalg.norm(a, axis=1)[None, :]
        delta_b = np.where(top_k_mask(scores, kept(delta_b.size, sparsity)), delta_b, 0).astype(np.float32)
        b_star = b + delta_b
        norm2 = float(np.sum(b_star.astype(np.float64) ** 2))
        if norm2 == 0:
            delta_a = np.zeros_like(a)
        else:
            rhs = b_star.T @ (w - delta_b @ a)
            gram_b = b_star.T @ b_star + np.float32(ridge * norm2 / r) * np.eye(r, dtype=np.float32)
            delta_a = np.linalg.solve(gram_b, rhs).astype(np.float32)
        scores = np.abs(delta_a) * np.linalg.norm(b_star, axis=0)[:, None]
        delta_a = np.where(top_k_mask(scores, kept(delta_a.size, sparsity)), delta_a, 0).astype(np.float32)
    b_star = b + delta_b
    w_norm = float(np.linalg.norm(w))
    fitted = delta_b @ a + b_star @ delta_a
    halvings = 0
    while float(np.linalg.norm(fitted)) > 2 * w_norm and w_norm > 0 and halvings < 64:
        delta_a = delta_a * np.float32(0.5)
        fitted = delta_b @ a + b_star @ delta_a
        halvings += 1
    residual = float(np.linalg.norm(w - fitted)) / w_norm if w_norm > 0 else 0.0
    return delta_b, delta_a, residual


def main():
    folder, iterations, ridge, sparsity = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    meta = json.load(open(f"{folder}/meta.json"))
    d_out, d_in, r, n = meta["d_out"], meta["d_in"], meta["rank"], meta["clients"]
    a = load(folder, "a.f32", (r, d_in))
    b = load(folder, "b.f32", (d_out, r))
    p = np.fromfile(f"{folder}/p.f32", dtype=np.float32)
    deltas_b = [load(folder, f"client{i}_b.f32", (d_out, r)) for i in range(n)]
    deltas_a = [load(folder, f"client{i}_a.f32", (r, d_in)) for i in range(n)]
    # Best of three, as FedSim's side of the benchmark is timed.
    seconds = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        delta_b, delta_a, residual = server_step(a, b, p, deltas_b, deltas_a, iterations, ridge, sparsity)
        seconds = min(seconds, time.perf_counter() - start)
    delta_b.astype(np.float32).tofile(f"{folder}/numpy_delta_b.f32")
    delta_a.astype(np.float32).tofile(f"{folder}/numpy_delta_a.f32")
    print(json.dumps({"seconds": seconds, "residual": residual, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
