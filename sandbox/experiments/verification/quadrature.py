"""2. ``J_w[s_w + delta h] - J_w[s_w] = delta^2 E ||h||^2`` by composite Gauss-Legendre quadrature per mixture
component, with the smooth perturbations ``h`` it (and the Monte Carlo check) applies."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from ...core import zoo
from ...core.mixtures import ClassConditionalGMM
from ...core.quadrature import gaussian_nodes, standard_normal_rule
from ...core.zoo import MixtureSpec
from ...methods import objectives
from .registry import (
    FAST_QUADRATURE_RULES,
    GUIDANCE,
    MAX_PANELS,
    QUADRATURE_RULES,
    SIGMAS,
    VARIANTS,
    ZOO_2D,
    Check,
    CheckResult,
    register,
)

Tensor = torch.Tensor


def smooth_field(dim: int, num_classes: int, seed: int, length_scale: float = 1.0,
                 features: int = 4) -> Callable[[Tensor, Tensor], Tensor]:
    """A random smooth perturbation ``h(x, c) = A_c cos(Omega_c x / length_scale + b_c)``.

    ``x: (N, d)``, ``c: (N,)`` -> ``(N, d)``. Use ``length_scale ~ sqrt(1 + sigma^2)`` to match the data's
    spread at noise level sigma.
    """
    g = torch.Generator().manual_seed(seed)
    amp = torch.randn(num_classes, features, dim, dtype=torch.float64, generator=g) / math.sqrt(features)
    freq = 0.7 * torch.randn(num_classes, dim, features, dtype=torch.float64, generator=g) / length_scale
    phase = 2 * math.pi * torch.rand(num_classes, features, dtype=torch.float64, generator=g)

    def h(x: Tensor, c: Tensor) -> Tensor:
        arg = torch.einsum("nd,ndf->nf", x, freq[c]) + phase[c]
        return torch.einsum("nf,nfd->nd", torch.cos(arg), amp[c])

    return h


# ------------------------------------------------------------------------------------------ 2. quadrature


@dataclass
class ComponentNodes:
    """Quadrature nodes of one component ``N(mu, S + sigma^2 I)`` and the exact fields at them."""

    k: int
    phi: float
    x: Tensor            # [n, d]
    weight: Tensor       # [n]
    s_comp: Tensor       # [n, d] component score -(S + sigma^2 I)^-1 (x - mu)
    posterior: Tensor    # [n, K]
    s_classes: Tensor    # [n, K, d]
    s_u: Tensor          # [n, d]


def component_nodes(gmm: ClassConditionalGMM, sigma: float, rule: tuple[int, int]) -> list[ComponentNodes]:
    """Per mixture component: ``standard_normal_rule(d, *rule)`` nodes through its Cholesky factor, with the
    exact fields evaluated there."""
    nodes = standard_normal_rule(gmm.dim, *rule)
    eye = torch.eye(gmm.dim, dtype=torch.float64)
    out = []
    for k in range(gmm.num_classes):
        for mu, cov, phi in zip(gmm.means[k], gmm.dense_covs()[k], gmm.weights[k]):
            cov_s = cov + sigma**2 * eye
            x, wt = gaussian_nodes(mu, cov_s, nodes)
            out.append(ComponentNodes(k, float(phi), x, wt, -torch.linalg.solve(cov_s, (x - mu).T).T,
                                       gmm.class_posterior(x, sigma), gmm.class_scores(x, sigma),
                                       gmm.score(x, sigma)))
    return out


def quadrature_identity(gmm: ClassConditionalGMM, nodes: list[ComponentNodes], c: int, w: float, variant: str,
                        h: Callable[[Tensor, Tensor], Tensor], delta: float,
                        beta_scale: float = 1.0) -> tuple[float, float]:
    """``(J_w[s_w + delta h] - J_w[s_w], delta^2 E_{p_sigma(.|c)} ||h||^2)`` for label ``c``, by quadrature.

    ``J_w = sum_{k,m} (class weight) phi_km E_{x ~ N(mu_km, S_km + sigma^2 I)} E_{eps | x, km}[rw(x) l(s; x0, eps, c)]``
    with ``rw = alpha_w`` on class c and ``beta_w`` on negatives (docs/theory.md, section 5). Given ``x`` and a
    component, ``eps`` is Gaussian with mean ``-sigma s_km(x)``, so the loss difference integrates over eps to
    ``rw(x) [2 delta h . (s_w - s_km) + delta^2 ||h||^2]`` (the trace terms cancel). ``nodes`` come from
    ``component_nodes``; ``beta_scale`` multiplies ``beta_w`` (a deliberately wrong weight).
    """
    lhs, rhs = 0.0, 0.0
    for nd in nodes:
        left, right = identity_terms(gmm, nd, c, w, variant, h, delta, beta_scale)
        lhs += nd.phi * float((nd.weight * left).sum())
        rhs += nd.phi * float((nd.weight * right).sum())
    return lhs, rhs


def identity_terms(gmm: ClassConditionalGMM, nd: ComponentNodes, c: int, w: float, variant: str,
                   h: Callable[[Tensor, Tensor], Tensor], delta: float,
                   beta_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """The integrands of ``quadrature_identity`` at one component's points ``nd.x``: the loss difference
    ``rw(x) [2 delta h . (s_w - s_km) + delta^2 ||h||^2]`` and, on class ``c``'s components, ``delta^2 ||h||^2``
    (zeros elsewhere). -> ``(n,)``, ``(n,)``."""
    pi = gmm.class_probs
    s_c = nd.s_classes[:, c]
    s_w = s_c + w * (s_c - nd.s_u)
    alpha, beta = objectives.sample_adaptive_weights(nd.posterior[:, c], w, pi[c])
    beta = beta_scale * beta
    if variant == "mismatched":
        rw = alpha if nd.k == c else -float(pi[nd.k]) * beta
    else:
        rw = (1.0 + w) * (nd.k == c) - float(pi[nd.k]) * beta
    hx = h(nd.x, torch.full((nd.x.shape[0],), c, dtype=torch.long))
    h2 = hx.square().sum(1)
    left = rw * (2 * delta * (hx * (s_w - nd.s_comp)).sum(1) + delta**2 * h2)
    return left, delta**2 * h2 * float(nd.k == c)


def check_quadrature(mixtures: Iterable[MixtureSpec] = ZOO_2D, sigmas: Iterable[float] = SIGMAS,
                     ws: Iterable[float] = GUIDANCE, delta: float = 0.3, tol: float = 1e-8,
                     rules: dict[int, tuple[int, int]] | None = None, seed: int = 0,
                     max_panels: dict[int, int] | None = None, beta_scale: float = 1.0) -> list[CheckResult]:
    """Functional identity by quadrature, for both variants and every label, at each (mixture, sigma, w).

    ``rules[d] = (panels, order)`` of the composite Gauss-Legendre rule per axis, applied per mixture component in
    its own coordinates. Each component's share of every integral is computed with half the panels and with the
    rule; the change between successive rules gives its error estimate (``_error_estimate``). While the summed
    estimate of some integral exceeds ``tol`` (relative to the right-hand side) and the cell is not clearly failing,
    the panels of the component that contributes most to it are doubled, up to ``max_panels[d]`` (``MAX_PANELS``):
    a narrow component next to a wide one needs fine panels in the wide one's coordinates only. A cell passes when
    its residual ``|lhs - rhs| / |rhs|`` and its estimate are both within ``tol``, FAILs when the residual exceeds
    ``tol`` beyond the estimate, and is ``unresolved`` otherwise. ``beta_scale`` multiplies ``beta_w`` (a
    deliberately wrong weight: the check must fail).
    """
    rules, budget = rules or QUADRATURE_RULES, max_panels or MAX_PANELS
    results = []
    for gmm in map(zoo.resolve, mixtures):
        if gmm.dim not in rules:
            raise ValueError(f"quadrature rules exist for d in {sorted(rules)}; mixture {gmm.name} has d = {gmm.dim}")
        panels, order = rules[gmm.dim]
        k = gmm.num_classes
        comps = [(c, mu, cov, float(phi)) for c in range(k)
                 for mu, cov, phi in zip(gmm.means[c], gmm.dense_covs()[c], gmm.weights[c])]
        for sigma in sigmas:
            h = smooth_field(gmm.dim, k, seed, math.sqrt(1.0 + sigma**2))
            cells = [(variant, w) for variant in VARIANTS for w in ws]

            share = functools.partial(_component_share, gmm, sigma, comps, order, h, cells, delta, beta_scale)
            level = [max(1, panels // 2)] * len(comps)
            history = [[share(j, p), share(j, 2 * p)] for j, p in enumerate(level)]   # each component's levels
            level = [2 * p for p in level]
            while True:
                total = torch.stack([h_j[-1] for h_j in history]).sum(0)
                scale = total[-k:].abs().repeat(len(cells) + 1)          # each output relative to its label's rhs
                errors = torch.stack([_error_estimate(h_j) / scale for h_j in history])   # [components, outputs]
                estimate = errors.sum(0)
                gap = ((total[:-k] - total[-k:].repeat(len(cells))).abs() / scale[:-k])       # |lhs - rhs| / |rhs|
                # an output is decided once its estimate is below tol, or its gap exceeds tol beyond the estimate
                bound = estimate[:-k] + estimate[-k:].repeat(len(cells))
                undecided = (bound > tol) & (gap - bound <= tol)
                grow = [j for j in range(len(comps)) if 2 * level[j] <= budget[gmm.dim]]
                if not bool(undecided.any()) or not grow:
                    break
                j = max(grow, key=lambda j: float(errors[j].max()))
                level[j] *= 2
                history[j].append(share(j, level[j]))
            lhs, rhs = total[:-k].reshape(len(cells), k), total[-k:]
            for i, (variant, w) in enumerate(cells):
                residual = float(((lhs[i] - rhs).abs() / rhs.abs()).max())
                error = float(estimate[i * k:(i + 1) * k].max() + estimate[-k:].max())
                status = ("pass" if residual <= tol and error <= tol else
                          "FAIL" if residual - error > tol else "unresolved")
                results.append(CheckResult.of("quadrature", {"mixture": gmm.name, "variant": variant,
                                                             "sigma": sigma, "w": w},
                                              residual, tol, status == "pass",
                                              {"delta": delta, "lhs_rhs": list(zip(lhs[i].tolist(), rhs.tolist())),
                                               "panels": level, "order": order, "error_estimate": error,
                                               "beta_scale": beta_scale}, status))
    return results


def _error_estimate(levels: list[Tensor]) -> Tensor:
    """The error of the finest of a component's shares at successively doubled panels: the last change ``e``, or,
    once three levels show the change shrinking by a factor ``q < 1/2`` per doubling, ``e q / (1 - q)`` (the tail of
    a geometric series: composite Gauss rules converge that way once the panels resolve the integrand)."""
    last = (levels[-1] - levels[-2]).abs()
    if len(levels) < 3:
        return last
    q = last / (levels[-2] - levels[-3]).abs().clamp_min(1e-300)
    return torch.where(q < 0.5, last * q / (1 - q), last)


def _component_share(gmm: ClassConditionalGMM, sigma: float, comps: list[tuple[int, Tensor, Tensor, float]],
                     order: int, h: Callable[[Tensor, Tensor], Tensor], cells: list[tuple[str, float]], delta: float,
                     beta_scale: float, j: int, panels: int) -> Tensor:
    """Component ``j``'s weighted share of every integral of the quadrature identity with ``panels`` panels of
    ``order`` nodes per axis: the left-hand side per (cell, label), then the right-hand side per label.
    -> ``(len(cells) K + K,)``."""
    c_k, mu, cov, phi = comps[j]
    rule = (panels, order)
    cov_s = cov + sigma**2 * torch.eye(gmm.dim, dtype=torch.float64)
    x, weight = gaussian_nodes(mu, cov_s, standard_normal_rule(gmm.dim, *rule))
    nd = ComponentNodes(c_k, phi, x, weight, -torch.linalg.solve(cov_s, (x - mu).T).T, gmm.class_posterior(x, sigma),
                        gmm.class_scores(x, sigma), gmm.score(x, sigma))
    k = gmm.num_classes
    left = [identity_terms(gmm, nd, c, w, variant, h, delta, beta_scale)[0] for variant, w in cells for c in range(k)]
    right = [identity_terms(gmm, nd, c, 0.0, VARIANTS[0], h, delta)[1] for c in range(k)]
    return phi * (weight[None] * torch.stack([*left, *right])).sum(1)


register(Check("quadrature", check_quadrature, {"sigmas": (0.01, 1.0, 10.0), "ws": (0.0, 2.0, 7.0),
                                                "rules": FAST_QUADRATURE_RULES},
               max_dim=2, why="tensor-product rules need d <= 2"))
