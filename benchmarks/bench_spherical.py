"""Exact score and class posterior of a mixture of isotropic Gaussian classes at scale (issue: N = 10,000 points,
K = 1024 classes, d = 2048, float64), each as a ratio to one ``(N x d) @ (d x K)`` matrix product of the same sizes
timed in the same run: the physical floor of the computation (every squared distance needs that product).

    python benchmarks/bench_spherical.py [--n N] [--k K] [--d D] [--device cpu|cuda] [--repeats R]

The score needs two such products (distances, then the responsibility-weighted means) and the posterior one, so
about 2x and 1x are the ideal ratios; the diagonal path (no rotation, O(N K d) elementwise) is timed on a smaller
size for comparison, and the full path is not (its (N, d, K) temporaries and d x d rotations do not fit).
"""

from __future__ import annotations

import argparse
import time

import torch

from sandbox import ClassConditionalGMM


def best_of(fn, repeats: int, device: torch.device) -> float:
    """Minimum wall time over ``repeats`` runs after one warm-up (synchronising on CUDA)."""
    times = []
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=1024)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    means = torch.randn(args.k, 1, args.d, dtype=torch.float64, generator=g) * (4.0 / args.d ** 0.5)
    variances = 0.5 + torch.rand(args.k, 1, dtype=torch.float64, generator=g)
    gmm = ClassConditionalGMM(list(means), list(variances), [torch.ones(1, dtype=torch.float64)] * args.k,
                              covariance_type="spherical", device=device)
    x = gmm.sample(args.n, sigma=0.5, generator=torch.Generator(device).manual_seed(1))
    mu = means[:, 0].to(device)
    floor = best_of(lambda: x @ mu.T, args.repeats, device)
    score = best_of(lambda: gmm.score(x, 0.5), args.repeats, device)
    post = best_of(lambda: gmm.class_posterior(x, 0.5), args.repeats, device)
    print(f"N = {args.n}, K = {args.k}, d = {args.d}, float64, {device}, {torch.get_num_threads()} threads")
    print(f"(N x d) @ (d x K) floor   {floor:8.3f} s")
    print(f"score                     {score:8.3f} s   ratio {score / floor:5.2f}")
    print(f"class posterior           {post:8.3f} s   ratio {post / floor:5.2f}")
    print(f"score + class posterior   {score + post:8.3f} s   ratio {(score + post) / floor:5.2f}")
    small = slice(0, max(1, args.n // 10))
    diag = ClassConditionalGMM(list(means), [v.expand(1, args.d) for v in variances],
                               [torch.ones(1, dtype=torch.float64)] * args.k, covariance_type="diag", device=device)
    t_diag = best_of(lambda: diag.score(x[small], 0.5), 1, device)
    t_sph = best_of(lambda: gmm.score(x[small], 0.5), 1, device)
    print(f"diag path, N = {x[small].shape[0]}: score {t_diag:.3f} s ({t_diag / t_sph:.1f}x the spherical path)")


if __name__ == "__main__":
    main()
