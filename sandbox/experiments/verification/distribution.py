"""6. ``q_0`` maximises ``E_q[log p(c|x)] - KL(q || p(.|c)) / w`` on a grid."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ...core import zoo
from ...core.zoo import MixtureSpec
from ...methods.tilted import TiltedTarget
from .registry import (
    ZOO_2D,
    Check,
    CheckResult,
    grid_points,
    register,
)

Tensor = torch.Tensor


def alignment_objective(q: Tensor, log_post_c: Tensor, log_p_c: Tensor, w: float) -> float:
    """``F[q] = sum_i q_i log p(c|x_i) - (1/w) sum_i q_i log(q_i / p_i(c))`` for grid masses ``q`` (sum 1)."""
    log_ref = torch.log_softmax(log_p_c, 0)
    # xlogy: a mass that underflowed to 0 contributes 0 (0 log 0 = 0), never NaN
    return float((q * log_post_c).sum() - (torch.special.xlogy(q, q) - q * log_ref).sum() / w)


def check_distribution(mixtures: Iterable[MixtureSpec] = ZOO_2D, ws: Iterable[float] = (0.5, 2.0, 7.0),
                       n_grid: int = 201, perturbations: int = 20, tol: float = 1e-10,
                       seed: int = 0) -> list[CheckResult]:
    """On a discrete measure: ``F[q_0] = log Z / w`` and ``F[q_0] - F[q] = KL(q || q_0) / w > 0`` for perturbed
    ``q``. In d <= 2 the measure is a grid (``n_grid`` nodes in 1D, ``n_grid // 2`` per axis in 2D) with masses
    proportional to ``p(x|c)``; beyond, importance sampling: ``n_grid^2`` draws of ``p(x|c)`` with equal masses,
    on which ``q_0`` is the tilted density's ratio to ``p(x|c)``. Either way the identities are exact algebra on the
    measure, checked to ``tol``."""
    results = []
    for gmm in map(zoo.resolve, mixtures):
        g = torch.Generator().manual_seed(seed)
        for c in range(gmm.num_classes):
            if gmm.dim <= 2:
                x = grid_points(gmm, n_grid if gmm.dim == 1 else n_grid // 2)
                log_p_c = gmm.log_prob(x, 0.0, c)                 # cell masses ∝ density (uniform grid)
                reference = torch.zeros(x.shape[0], dtype=torch.float64)
            else:
                x = gmm.sample(n_grid**2, c=c, generator=seed + 7 * c)
                log_p_c = torch.zeros(x.shape[0], dtype=torch.float64)   # draws of p(x|c): equal masses
                reference = gmm.log_prob(x, 0.0, c)               # q_0's density relative to the draws' law
            log_post_c = gmm.log_class_posterior(x, 0.0)[:, c]
            for w in ws:
                log_q0 = TiltedTarget(gmm, c, w).log_unnormalised(x) - reference
                q0 = torch.softmax(log_q0, 0)
                # log Z of the discrete Gibbs form: q0 ∝ p_c(x) p(c|x)^w on the grid
                log_z = float(torch.logsumexp(torch.log_softmax(log_p_c, 0) + w * log_post_c, 0))
                f0 = alignment_objective(q0, log_post_c, log_p_c, w)
                # relative to the size of the terms F sums (F itself nears 0 when the classes barely overlap)
                log_ref = torch.log_softmax(log_p_c, 0)
                scale = float((q0 * log_post_c.abs() + (torch.special.xlogy(q0, q0).abs() + q0 * log_ref.abs()) / w)
                              .sum())
                worst = abs(f0 - log_z / w) / max(scale, abs(log_z / w))
                maximal = True
                for _ in range(perturbations):
                    q = torch.softmax(log_q0 + 0.3 * torch.randn(x.shape[0], dtype=torch.float64, generator=g), 0)
                    gap = f0 - alignment_objective(q, log_post_c, log_p_c, w)
                    kl = float((torch.special.xlogy(q, q) - torch.special.xlogy(q, q0)).sum()) / w
                    maximal &= gap > 0
                    worst = max(worst, abs(gap - kl) / kl)
                results.append(CheckResult.of("distribution", {"mixture": gmm.name, "c": c, "w": w}, worst, tol,
                                              worst <= tol and maximal, {"F_q0": f0, "logZ_over_w": log_z / w}))
    return results


register(Check("distribution", check_distribution, {"ws": (2.0,)}))
