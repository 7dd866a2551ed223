"""Time Heun probability-flow sampling (64 steps) of 1e5 points on exact 2-D scores (overlap_2d).

Rows: the exact conditional score; exact CFG fused in one pass (``gmm.cfg_score``, what ``exact_cfg`` uses);
CFG through the generic wrapper (two score passes); and the baseline measured in the same run, the float32
no-log-sum-exp score of ``bench_score.py`` driving the same sampler. Ratios are time / baseline.
The issue's floor: under 10 s on 2 cores for the conditional score.

    python benchmarks/bench_sampling.py             # N = 1e5
    python benchmarks/bench_sampling.py --quick     # N = 1e4, a smoke run
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_score import Float32Eig

from sandbox import edm_sigmas, guidance, samplers, zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 1e4")
    args = parser.parse_args()
    torch.set_num_threads(2)
    n, steps = (10_000 if args.quick else 100_000), 64
    gmm = zoo.overlap_2d()
    sigmas = edm_sigmas(steps, 0.002, 80.0)
    x_init = gmm.sample(n, c=0, sigma=80.0, generator=0)
    naive = Float32Eig(gmm)
    routes = {
        "baseline: float32, no log-sum-exp (unconditional)": (lambda x, s: naive.score(x, s), x_init.float()),
        "exact conditional score (float64)": (guidance.conditional(gmm.score, 0), x_init),
        "exact CFG w=2, fused (exact_cfg)": (guidance.exact_cfg(gmm, 0, 2.0), x_init),
        "exact CFG w=2, generic wrapper (2 passes)": (guidance.CFG(guidance.conditional(gmm.score, 0),
                                                                  guidance.conditional(gmm.score, None), 2.0), x_init),
    }
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; Heun {steps} steps "
          f"({2 * steps - 1} score calls), N = {n}")
    base = None
    for name, (score, x) in routes.items():
        t0 = time.perf_counter()
        samplers.heun_ode(score, x, sigmas.to(x.dtype))
        t = time.perf_counter() - t0
        base = base or t
        print(f"  {name:<48} {t:7.2f} s   x{t / base:5.2f} of baseline")


if __name__ == "__main__":
    main()
