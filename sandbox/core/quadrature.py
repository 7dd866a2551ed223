"""Quadrature for expectations under Gaussians: composite Gauss-Legendre rules on the standard normal, mapped
through a component's Cholesky factor.

    E_{x ~ N(mu, S)} f(x) ~ sum_i v_i f(mu + L xi_i),     S = L L^T,

with ``(xi_i, v_i)`` a tensor-product rule for ``N(0, I_d)``: ``panels`` equal panels of ``order`` Gauss-Legendre
nodes per axis on ``[-half_width, half_width]``, weights times the normal density. Small panels resolve steep
features of ``f`` (posterior transitions) that one global Gauss-Hermite rule converges on only slowly; each
component is integrated in its own coordinates, so a component of sd 1e-3 next to one of sd 2 is resolved as well
as either alone. Rules grow as ``(panels * order)^d``: for d <= 2 (or 3 with small rules); in higher dimension
``quasi_normal_rule`` gives randomised quasi-Monte Carlo nodes (scrambled Sobol points through the normal inverse
CDF, equal weights) for the same role.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .validation import as_int, as_number

Tensor = torch.Tensor


def standard_normal_rule(dim: int, panels: int, order: int, half_width: float = 9.0) -> tuple[Tensor, Tensor]:
    """Nodes ``(n, d)`` and weights ``(n,)`` with ``sum_i v_i f(xi_i) ~ E_{xi ~ N(0, I_d)} f(xi)`` (float64).

    Nodes whose weight underflows (below 1e-300 of the largest) are dropped."""
    dim, panels, order = as_int(dim, "dim", 1), as_int(panels, "panels", 1), as_int(order, "order", 1)
    half_width = as_number(half_width, "half_width", minimum=0.0, strict=True)
    t, wt = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(-half_width, half_width, panels + 1)
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    nodes = (mid[:, None] + half[:, None] * t[None, :]).ravel()
    weights = (half[:, None] * wt[None, :]).ravel() * np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi)
    grids = np.meshgrid(*([nodes] * dim), indexing="ij")
    wgrids = np.meshgrid(*([weights] * dim), indexing="ij")
    xi = np.stack([gr.ravel() for gr in grids], axis=1)
    w = np.prod(np.stack([wg.ravel() for wg in wgrids], axis=1), axis=1)
    keep = w > 1e-300 * w.max()
    return torch.as_tensor(xi[keep]), torch.as_tensor(w[keep])


def quasi_normal_rule(dim: int, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n`` (even) nodes for ``N(0, I_d)`` with weights ``1/n`` (float64): ``n/2`` scrambled Sobol points mapped by
    the inverse normal CDF, and their mirror images. The mirror makes every odd moment exact (the mean is exactly
    0), which matters where a posterior of width sigma is divided by sigma^2 (the noised score at small sigma);
    the rest converges like quasi-Monte Carlo, error ~ ``n^-1`` for smooth integrands against Monte Carlo's
    ``n^-1/2``. ``standard_normal_rule``'s role in any dimension."""
    dim, n = as_int(dim, "dim", 1), as_int(n, "n", 2)
    if n % 2:
        raise ValueError(f"n must be even (nodes come in mirrored pairs), got {n}")
    half = n // 2
    u = torch.quasirandom.SobolEngine(dim, scramble=True, seed=as_int(seed, "seed", 0)).draw(half, dtype=torch.float64)
    # Sobol points can touch 0 exactly; keep them inside (0, 1) so every node is finite
    z = math.sqrt(2.0) * torch.erfinv(2.0 * u.clamp(0.25 / half, 1.0 - 0.25 / half) - 1.0)
    return torch.cat([z, -z]), torch.full((n,), 1.0 / n, dtype=torch.float64)


def gaussian_nodes(mean: Tensor, cov: Tensor, rule: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """The nodes ``mu + L xi_i`` and weights ``v_i`` of ``rule`` (``standard_normal_rule``) for ``N(mean, cov)``."""
    xi, v = rule
    return mean + xi.to(mean) @ torch.linalg.cholesky(cov).T, v.to(mean)


@dataclass(frozen=True)
class AdaptiveResult:
    """``E_{N(mean, cov)} f ~ value`` with an error estimate ``error``, and the final panels in standard
    coordinates: ``lo: (P, d)``, ``width: (P, d)``, each with its share ``panel_value: (P,)`` of the value."""

    value: float
    error: float
    lo: Tensor
    width: Tensor
    panel_value: Tensor


def adaptive_expectation(f: Callable[[Tensor], Tensor], mean: Tensor, cov: Tensor, rtol: float = 1e-11,
                         order: int = 8, initial: int = 8, half_width: float = 9.0,
                         max_evaluations: int = 20_000_000,
                         features: tuple[Tensor, Tensor] | None = None) -> AdaptiveResult:
    """``E_{x ~ N(mean, cov)} f(x)`` for a bounded ``f: (n, d) -> (n,)``, ``d <= 2``, by adaptive cubature.

    In standard coordinates ``xi`` (``x = mean + L xi``) the box ``[-half_width, half_width]^d`` starts as
    ``initial^d`` panels; on each, the tensor Gauss-Legendre rules of ``order`` and ``order - 3`` nodes per axis
    are compared, and panels are bisected along every axis where they disagree most, until the summed
    disagreement is at most ``rtol`` times the value (or ``max_evaluations`` is spent: then ``error`` says how
    far it got). A feature of ``f`` far narrower than the panels can hide between all nodes, so known ones are
    given as ``features = (centres: (h, d), scales: (h,))`` in x-space (for a mixture posterior: the other
    components' means and smallest standard deviations): panels within 8 scales of a centre are bisected until
    they are no wider than the scale before the adaptive loop starts."""
    d = mean.shape[0]
    if d > 2:
        raise ValueError(f"adaptive cubature is for d <= 2, got d = {d}")
    chol = torch.linalg.cholesky(cov)
    rules = [_panel_rule(k, d, mean) for k in (order, order - 3)]
    edges = torch.linspace(-half_width, half_width, initial + 1, dtype=mean.dtype, device=mean.device)
    lo = torch.cartesian_prod(*([edges[:-1]] * d)).reshape(-1, d)
    width = torch.full_like(lo, float(edges[1] - edges[0]))
    if features is not None:
        lo, width = _seed(lo, width, *features, mean, chol)
    done_value, done_error, evaluations = 0.0, 0.0, 0
    kept: list[tuple[Tensor, Tensor, Tensor]] = []   # accepted panels: lo, width, value
    while True:
        sums = []
        for t, wt in rules:
            xi = lo[:, None, :] + width[:, None, :] * t[None]                                   # [P, k^d, d]
            v = wt[None] * width.prod(1, keepdim=True) * torch.exp(-0.5 * xi.square().sum(2)) / (2 * math.pi) ** (d / 2)
            sums.append((v * f(mean + xi.reshape(-1, d) @ chol.T).reshape(v.shape)).sum(1))
            evaluations += v.numel()
        fine, coarse = sums
        err = (fine - coarse).abs()
        value = done_value + float(fine.sum())
        budget = rtol * abs(value)
        if done_error + float(err.sum()) <= budget or evaluations >= max_evaluations:
            refine = torch.zeros_like(err, dtype=torch.bool)
        else:   # the worst panels, while they are still wider than rounding can resolve
            refine = (err > budget / err.numel()) & (width[:, 0] > 1e-9 * half_width)
        keep = ~refine
        done_value += float(fine[keep].sum())
        done_error += float(err[keep].sum())
        kept.append((lo[keep], width[keep], fine[keep]))
        if not bool(refine.any()):
            break
        lo, width = _bisect(lo[refine], width[refine])
    return AdaptiveResult(done_value, done_error, *(torch.cat(parts) for parts in zip(*kept)))


def _panel_rule(order: int, d: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Gauss-Legendre nodes on the unit cube ``[0, 1]^d`` (``(k^d, d)``) and their weights ``(k^d,)``."""
    t, wt = np.polynomial.legendre.leggauss(order)
    t, wt = torch.as_tensor(0.5 * (t + 1.0)).to(like), torch.as_tensor(0.5 * wt).to(like)
    nodes = torch.cartesian_prod(*([t] * d)).reshape(-1, d)
    weights = torch.cartesian_prod(*([wt] * d)).reshape(-1, d).prod(1)
    return nodes, weights


def _seed(lo: Tensor, width: Tensor, centres: Tensor, scales: Tensor, mean: Tensor,
          chol: Tensor) -> tuple[Tensor, Tensor]:
    """Bisect the panels near each feature until they are no wider than its scale (in standard coordinates)."""
    xi = torch.linalg.solve_triangular(chol, (centres.to(mean) - mean).T, upper=False).T          # [h, d]
    # a length s in x is at most s / sqrt(smallest eigenvalue) in xi
    s_xi = scales.to(mean) / torch.linalg.eigvalsh(chol @ chol.T)[0].sqrt()                        # [h]
    done_lo, done_width = [], []
    while lo.shape[0]:
        near = ((lo[:, None, :] - 8 * s_xi[None, :, None] <= xi[None]) &
                (xi[None] <= lo[:, None, :] + width[:, None, :] + 8 * s_xi[None, :, None])).all(2)   # [P, h]
        split = (near & (width[:, :1] > s_xi[None, :])).any(1)
        done_lo.append(lo[~split])
        done_width.append(width[~split])
        lo, width = _bisect(lo[split], width[split])
    return torch.cat(done_lo), torch.cat(done_width)


def _bisect(lo: Tensor, width: Tensor) -> tuple[Tensor, Tensor]:
    """Each panel ``[lo, lo + width]`` split in half along every axis: ``2^d`` children per panel."""
    d = lo.shape[1]
    half = width / 2
    corners = torch.cartesian_prod(*([torch.tensor([0.0, 1.0], dtype=lo.dtype, device=lo.device)] * d)).reshape(-1, d)
    children = lo[:, None, :] + corners[None] * half[:, None, :]
    return children.reshape(-1, d), half[:, None, :].expand_as(children).reshape(-1, d)
