"""Time ``ClassConditionalGMM.score`` against two baselines measured in the same run.

Baselines, each computing the unconditional score grad log p_sigma(x) with per-sample sigma:
  (a) autograd through ``torch.distributions.MixtureSameFamily`` log-densities (float64);
  (b) a float32 eigendecomposition score without log-sum-exp (the usual quick toy implementation).

Setting: K = 3 classes x 8 components, d in {2, 16}, N in {1e5, 1e6}, sigma ~ logUniform(1e-2, 10).
Prints times, ratios (time / ours) and the max error of every route against float64 ``score``.

    python benchmarks/bench_score.py             # the full table
    python benchmarks/bench_score.py --quick     # N = 1e4 only, a smoke run
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial

import torch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from sandbox import ClassConditionalGMM, random_mixture


def autograd_score(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: torch.Tensor, chunk: int = 20_000):
    """(a) grad of MixtureSameFamily log_prob; chunked because each row has its own covariances."""
    means = torch.cat(gmm.means)                                          # [C, d]
    covs = torch.cat(gmm.covs)                                            # [C, d, d]
    logits = torch.cat([p.log() + w.log() for p, w in zip(gmm.class_probs, gmm.weights)])
    eye = torch.eye(gmm.dim, dtype=x.dtype)
    out = []
    for i in range(0, x.shape[0], chunk):
        xi = x[i:i + chunk].clone().requires_grad_(True)
        si = sigma[i:i + chunk]
        comp = MultivariateNormal(means, covs + (si ** 2)[:, None, None, None] * eye)   # batch [n, C]
        mix = MixtureSameFamily(Categorical(logits=logits.expand(xi.shape[0], -1)), comp)
        (g,) = torch.autograd.grad(mix.log_prob(xi).sum(), xi)
        out.append(g)
    return torch.cat(out)


class Float32Eig:
    """(b) float32, eigendecomposition once, densities by plain ``exp`` (no log-sum-exp)."""

    def __init__(self, gmm: ClassConditionalGMM) -> None:
        means, covs = torch.cat(gmm.means), torch.cat(gmm.covs)
        lam, rot = torch.linalg.eigh(covs)
        w = torch.cat([p * wk for p, wk in zip(gmm.class_probs, gmm.weights)])
        self.rot_cat = rot.permute(1, 0, 2).reshape(gmm.dim, -1).float()  # [d, C*d]
        self.mu_rot = torch.einsum("cj,cji->ci", means, rot).float()        # [C, d]
        self.lam = lam.float()
        self.w = (w / (2 * math.pi) ** (gmm.dim / 2)).float()

    def score(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        c, d = self.lam.shape
        z = (x @ self.rot_cat).view(-1, c, d) - self.mu_rot
        v = self.lam + (sigma ** 2)[:, None, None]
        zv = z / v
        dens = self.w * torch.exp(-0.5 * (z * zv).sum(-1)) / v.prod(-1).sqrt()
        r = dens / dens.sum(-1, keepdim=True)
        return -((r[..., None] * zv).flatten(1) @ self.rot_cat.T)


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def max_rel_error(est: torch.Tensor, ref: torch.Tensor) -> tuple[float, int]:
    bad = int((~torch.isfinite(est)).any(-1).sum())
    ok = torch.isfinite(est).all(-1)
    err = (est[ok].double() - ref[ok]).norm(dim=-1) / ref[ok].norm(dim=-1).clamp_min(1e-300)
    return float(err.max()) if err.numel() else math.nan, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 1e4 only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-autograd-above", type=int, default=100_000,
                        help="time (a) only up to this N (it is the slow route)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    sizes = [10_000] if args.quick else [100_000, 1_000_000]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; times in s (best of {args.repeats})")
    header = (f"{'d':>3} {'N':>9} | {'ours f64':>9} {'(a) autograd':>12} {'(b) f32':>9} | "
              f"{'(a)/ours':>8} {'ours/(b)':>8} | {'err (a)':>8} {'err (b)':>8} {'NaN (b)':>7}")
    print(header)
    print("-" * len(header))
    for d in (2, 16):
        gmm = random_mixture(num_classes=3, components=8, dim=d, seed=d, spread=4.0)
        fast = Float32Eig(gmm)
        for n in sizes:
            g = torch.Generator().manual_seed(n + d)
            x = gmm.sample(n, sigma=0.0, generator=g)
            sigma = torch.exp(torch.empty(n, dtype=torch.float64).uniform_(math.log(1e-2), math.log(10.0),
                                                                           generator=g))
            x = x + sigma[:, None] * torch.randn(n, d, dtype=torch.float64, generator=g)
            x32, s32 = x.float(), sigma.float()
            t_ours = best_time(partial(gmm.score, x, sigma), args.repeats)
            t_b = best_time(partial(fast.score, x32, s32), args.repeats)
            ref = gmm.score(x, sigma)
            err_b, nan_b = max_rel_error(fast.score(x32, s32), ref)
            if n <= args.skip_autograd_above:
                t_a = best_time(partial(autograd_score, gmm, x, sigma), 1)
                err_a, _ = max_rel_error(autograd_score(gmm, x, sigma), ref)
                a_cols = f"{t_a:12.3f}", f"{t_a / t_ours:8.1f}", f"{err_a:8.1e}"
            else:
                a_cols = f"{'-':>12}", f"{'-':>8}", f"{'-':>8}"
            print(f"{d:>3} {n:>9} | {t_ours:9.3f} {a_cols[0]} {t_b:9.3f} | {a_cols[1]} {t_ours / t_b:8.2f} | "
                  f"{a_cols[2]} {err_b:8.1e} {nan_b:>7}")
    print("\nfar from the data (|x| = 1e3 in random directions, sigma = 1e-2), rows with NaN/Inf out of 10,000:")
    for d in (2, 16):
        gmm = random_mixture(num_classes=3, components=8, dim=d, seed=d, spread=4.0)
        g = torch.Generator().manual_seed(0)
        x = 1e3 * torch.nn.functional.normalize(torch.randn(10_000, d, dtype=torch.float64, generator=g), dim=1)
        sigma = torch.full((10_000,), 1e-2, dtype=torch.float64)
        bad_ours = int((~torch.isfinite(gmm.score(x, sigma))).any(-1).sum())
        bad_b = int((~torch.isfinite(Float32Eig(gmm).score(x.float(), sigma.float()))).any(-1).sum())
        print(f"  d = {d:>2}: ours {bad_ours}, (b) {bad_b}")


if __name__ == "__main__":
    main()
