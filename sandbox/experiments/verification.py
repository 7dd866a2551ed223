"""The theorem checked six ways (docs/theory.md, section 6): CFG is the unique optimum of sample-adaptive weighted
MCLR.

Each check returns ``CheckResult`` rows (check, setting, residual, tolerance, status, details). A row's status is
``pass``, ``FAIL`` (a resolved residual above its tolerance, or a statistical rejection: evidence against the
theorem) or ``unresolved`` (the check's own numerics could not resolve the quantity within its stated budget: no
evidence either way, never reported as a failure):

1. ``closed-form``   pointwise minimiser from class densities and class scores vs ``cfg_score`` (one row per
                     (mixture, sigma, w): both negative-sampling variants have the same pointwise coefficients);
2. ``quadrature``    ``J_w[s_w + delta h] - J_w[s_w] = delta^2 E_{p_sigma(.|c)} ||h||^2`` by composite
                     Gauss-Legendre quadrature per mixture component (the eps-integral in closed form: given
                     x and a component, eps is Gaussian), 1D and 2D; the rule's panels are doubled until two
                     successive rules agree to the tolerance (its error estimate) or the budget is spent;
3. ``monte-carlo``   the same identity from the *sampled* training loss, inside simultaneous 99% intervals;
4. ``learning``      an MLP field trained by SGD on the sampled weighted loss ends closer to ``s_w`` than to
                     ``s_c`` and than a DSM-trained field at equal budget does; the DSM field closer to ``s_c``;
5. ``symbolic``      sympy solves the pointwise quadratic for 1D Gaussian classes and simplifies
                     ``minimiser - CFG score`` to exactly 0;
6. ``distribution``  ``q_0 ∝ p(x|c)^(1+w) p(x)^(-w)`` maximises ``E_q[log p(c|x)] - KL(q || p(.|c)) / w`` on a grid.

Every check takes mixtures as zoo names, mixture files or ``ClassConditionalGMM`` objects. The data behind the
theorem figures are experiments of their own (``ResidualsConfig``, ``ParabolaConfig``, ``LearningTraceConfig``:
frozen configs, run through the cache by ``cache.run``).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace

import torch
from scipy import stats

from ..core import sweeps, zoo
from ..core.mixtures import ClassConditionalGMM
from ..core.quadrature import gaussian_nodes, quasi_normal_rule, standard_normal_rule
from ..core.validation import as_int
from ..core.zoo import MixtureSpec
from ..learn import training
from ..methods import objectives, theory
from ..methods.tilted import TiltedTarget
from . import evaluation
from .metrics import Estimate

Tensor = torch.Tensor

SIGMAS = (0.01, 0.05, 0.2, 1.0, 3.0, 10.0)
GUIDANCE = (0.0, 0.5, 2.0, 7.0)
VARIANTS = objectives.VARIANTS
QUADRATURE_RULES = {1: (100, 12), 2: (30, 10)}  # (panels, Gauss-Legendre order) per axis, by dimension
FAST_QUADRATURE_RULES = {1: (60, 10), 2: (20, 10)}  # still ~1e-10 on the zoo; for --fast runs
# the refinement budget: at most this many panels per axis and component (2D: 160 x 10 nodes per axis, 2.6M)
MAX_PANELS = {1: 1600, 2: 160}
STATUSES = ("pass", "FAIL", "unresolved")
ZOO_2D = ("teaching_1d", "overlap_2d")


@dataclass
class CheckResult:
    """One row of a check: ``params`` are the settings used (``setting`` is them as text)."""

    check: str
    setting: str
    residual: float
    tolerance: float
    passed: bool
    details: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    status: str = ""          # "pass", "FAIL" or "unresolved" (default: from ``passed``)

    def __post_init__(self) -> None:
        self.status = self.status or ("pass" if self.passed else "FAIL")
        if self.status not in STATUSES or self.passed != (self.status == "pass"):
            raise ValueError(f"status must be one of {STATUSES} and agree with passed, got {self.status!r}, "
                             f"passed={self.passed}")

    @classmethod
    def of(cls, check: str, params: dict, residual: float, tolerance: float, passed: bool,
           details: dict | None = None, status: str = "") -> CheckResult:
        """Build a row whose ``setting`` reads ``"overlap_2d mismatched sigma=0.2 w=7"`` from ``params``."""
        setting = " ".join(str(v) if isinstance(v, str) else f"{k}={v:g}" for k, v in params.items())
        return cls(check, setting, residual, tolerance, passed, details or {}, params, status)

    def as_dict(self) -> dict:
        return asdict(self)


def relative_error(estimate: Tensor, reference: Tensor) -> float:
    """``max_i ||e_i - r_i|| / max(||r_i||, 1e-6 rms(||r||))``: relative per point, floored near zeros of ``r``."""
    if reference.numel() == 0:
        return 0.0
    ref_norm = reference.norm(dim=-1)
    floor = 1e-6 * float(ref_norm.square().mean().sqrt())
    return float(((estimate - reference).norm(dim=-1) / ref_norm.clamp_min(floor)).max())


def grid_points(gmm: ClassConditionalGMM, n: int) -> Tensor:
    """A regular grid of ``n`` nodes per axis over ``gmm.extent()`` (any d: ``n^d`` points)."""
    axes = [torch.linspace(a, b, n, dtype=torch.float64) for a, b in gmm.extent()]
    return torch.cartesian_prod(*axes).reshape(-1, gmm.dim)


def evaluation_points(gmm: ClassConditionalGMM, sigma: float, n_grid: int, n_random: int, seed: int = 0) -> Tensor:
    """A regular grid over the mixture's extent (d <= 2) plus samples of ``p_sigma`` and wide points."""
    grid = grid_points(gmm, n_grid) if gmm.dim <= 2 else torch.empty(0, gmm.dim, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    near = gmm.sample(n_random, sigma=sigma, generator=g)
    wide = (4.0 + 2.0 * sigma) * torch.randn(n_random, gmm.dim, dtype=torch.float64, generator=g)
    return torch.cat([grid, near, wide])


# ------------------------------------------------------------------------------------------ 1. closed form


def check_closed_form(mixtures: Iterable[MixtureSpec] = ("teaching_1d", "overlap_2d", "branching_2d"),
                      sigmas: Iterable[float] = SIGMAS, ws: Iterable[float] = GUIDANCE, n_grid: int = 61,
                      n_random: int = 1000, tol: float = 1e-10) -> list[CheckResult]:
    """Weighted-MCLR minimiser (densities + class scores) vs ``cfg_score`` (responsibilities), every label."""
    results = []
    for gmm in map(zoo.resolve, mixtures):
        for sigma in sigmas:
            x = evaluation_points(gmm, sigma, n_grid, n_random)
            for w in ws:
                err = max(relative_error(theory.minimiser(gmm, x, sigma, c, "weighted-mclr", w=w).minimiser,
                                         gmm.cfg_score(x, sigma, c, w)) for c in range(gmm.num_classes))
                results.append(CheckResult.of("closed-form", {"mixture": gmm.name, "sigma": sigma, "w": w},
                                              err, tol, err <= tol, {"points": x.shape[0]}))
    return results


# ------------------------------------------------------------------------------------------ fields h


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


# ------------------------------------------------------------------------------------------ 3. Monte Carlo


def monte_carlo_identity(gmm: ClassConditionalGMM, sigma: float, w: float, variant: str,
                         h: Callable[[Tensor, Tensor], Tensor], delta: float, n: int, seed: int,
                         beta_scale: float = 1.0) -> tuple[float, float]:
    """Mean and standard error of the sampled ``loss(s_w + delta h) - loss(s_w)`` over rows of the joint data.

    Its expectation is ``delta^2 sum_c pi_c E_{p_sigma(.|c)} ||h(., c)||^2`` when the weights are right.
    ``beta_scale`` multiplies the negative weights (a deliberately wrong weight for the power check).
    """
    g = torch.Generator().manual_seed(seed)
    x0, y = gmm.sample_joint(n, g)
    eps = torch.randn(n, gmm.dim, dtype=torch.float64, generator=g)
    if variant == "mismatched":
        c_neg = objectives.mismatched_labels(y, gmm.num_classes, g)
    else:
        c_neg = objectives.uniform_labels(n, gmm.num_classes, g)

    def s_w(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        return gmm.cfg_score(x, s, c, w)

    def s_pert(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        return gmm.cfg_score(x, s, c, w) + delta * h(x, c)

    args = (x0, eps, sigma, y, c_neg, w, gmm.class_posterior, gmm.num_classes, variant)
    t1 = objectives.weighted_mclr_terms(s_pert, *args)
    t0 = objectives.weighted_mclr_terms(s_w, *args)
    diff = t1.pos_weight * (t1.pos_loss - t0.pos_loss) - beta_scale * t1.neg_weight * (t1.neg_loss - t0.neg_loss)
    return float(diff.mean()), float(diff.std() / math.sqrt(n))


def predicted_quadratic(gmm: ClassConditionalGMM, nodes: list[ComponentNodes],
                        h: Callable[[Tensor, Tensor], Tensor], delta: float) -> float:
    """``delta^2 sum_c pi_c E_{p_sigma(.|c)} ||h(., c)||^2`` by per-component quadrature."""
    total = 0.0
    for nd in nodes:
        hx = h(nd.x, torch.full((nd.x.shape[0],), nd.k, dtype=torch.long))
        total += float(gmm.class_probs[nd.k]) * nd.phi * float((nd.weight * hx.square().sum(1)).sum())
    return delta**2 * total


def predicted_quadratic_any_d(gmm: ClassConditionalGMM, sigma: float, h: Callable[[Tensor, Tensor], Tensor],
                               delta: float, n: int = 2**16) -> tuple[float, float]:
    """``predicted_quadratic`` and its own standard error: by the tensor Gauss-Legendre rule in d <= 2 (error
    negligible: 0), beyond by randomised quasi-Monte Carlo per component (``n`` nodes, two independent scrambles:
    their mean, and half their difference as the error)."""
    if gmm.dim in QUADRATURE_RULES:
        return predicted_quadratic(gmm, component_nodes(gmm, sigma, QUADRATURE_RULES[gmm.dim]), h, delta), 0.0
    estimates = []
    for scramble in (0, 1):
        total = 0.0
        for k in range(gmm.num_classes):
            for mu, cov, phi in zip(gmm.means[k], gmm.dense_covs()[k], gmm.weights[k]):
                x, weight = gaussian_nodes(mu, cov + sigma**2 * torch.eye(gmm.dim, dtype=torch.float64),
                                           quasi_normal_rule(gmm.dim, n, seed=scramble))
                hx = h(x, torch.full((n,), k, dtype=torch.long))
                total += float(gmm.class_probs[k]) * float(phi) * float((weight * hx.square().sum(1)).sum())
        estimates.append(delta**2 * total)
    return 0.5 * (estimates[0] + estimates[1]), 0.5 * abs(estimates[0] - estimates[1])


def check_monte_carlo(mixtures: Iterable[MixtureSpec] = ZOO_2D, sigmas: Iterable[float] = SIGMAS,
                      ws: Iterable[float] = GUIDANCE, n: int = 200_000, delta: float = 1.5, level: float = 0.99,
                      beta_scale: float = 1.0, seed: int = 0) -> list[CheckResult]:
    """Sampled-loss identity in every cell, judged with simultaneous (Bonferroni) ``level`` intervals.

    The residual is ``|mean - predicted| / se`` and the tolerance the Bonferroni z-value.
    """
    models = [zoo.resolve(m) for m in mixtures]
    cells = [(i, sigma, variant, w) for i in range(len(models)) for sigma in sigmas for variant in VARIANTS for w in ws]
    z_crit = float(stats.norm.ppf(1 - (1 - level) / (2 * len(cells))))
    results = []
    predictions: dict[tuple[int, float], tuple[Callable[[Tensor, Tensor], Tensor], float]] = {}
    for i, (m, sigma, variant, w) in enumerate(cells):
        gmm = models[m]
        if (m, sigma) not in predictions:   # h and the predicted value depend on (mixture, sigma) only
            h = smooth_field(gmm.dim, gmm.num_classes, seed, math.sqrt(1.0 + sigma**2))
            predictions[m, sigma] = (h, *predicted_quadratic_any_d(gmm, sigma, h, delta))
        h, pred, pred_se = predictions[m, sigma]
        mean, se = monte_carlo_identity(gmm, sigma, w, variant, h, delta, n, seed + 1 + i, beta_scale)
        z = abs(mean - pred) / math.hypot(se, pred_se)
        results.append(CheckResult.of("monte-carlo", {"mixture": gmm.name, "variant": variant, "sigma": sigma, "w": w},
                                      z, z_crit, z <= z_crit,
                                      {"mean": mean, "se": se, "predicted": pred, "predicted_se": pred_se, "n": n,
                                       "level": level,
                                       "cells": len(cells), "beta_scale": beta_scale}))
    return results


def training_optimum_identity(gmm: ClassConditionalGMM, sigma: float, objective: str, w: float,
                              h: Callable[[Tensor, Tensor], Tensor], delta: float, n: int, seed: int,
                              coefficient_scale: float = 1.0) -> tuple[float, float, float]:
    """For ``objective`` in ``("gft", "model-guidance")`` at guidance ``w``: mean and standard error of the sampled
    ``loss(s* + delta h) - loss(s*)`` over rows of the joint data, ``s*`` its claimed optimum (the CFG score at
    ``w``), and the curvature factor ``k`` such that the expectation is ``k delta^2 sum_c pi_c E_c ||h||^2``
    (``beta^2`` for GFT, 1 for model guidance). ``coefficient_scale`` scales the stopped-gradient term (a
    deliberately wrong coefficient: ``(1 - beta)`` for GFT, ``w_mg`` for model guidance)."""
    g = torch.Generator().manual_seed(seed)
    x0, y = gmm.sample_joint(n, g)
    eps = torch.randn(n, gmm.dim, dtype=torch.float64, generator=g)

    def s_star(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        return gmm.cfg_score(x, s, c, w)

    def s_pert(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        return gmm.cfg_score(x, s, c, w) + delta * h(x, c)

    if objective == "gft":
        beta = 1.0 / (1.0 + w)

        def uncond(x: Tensor, s: Tensor) -> Tensor:
            return coefficient_scale * gmm.score(x, s)

        losses = [objectives.gft_loss(f, x0, eps, sigma, y, beta, uncond, gmm.num_classes) for f in (s_pert, s_star)]
        factor = beta**2
    elif objective == "model-guidance":
        w_mg = w / (1.0 + w)

        def direction(x: Tensor, s: Tensor, c: Tensor) -> Tensor:   # the stopped-gradient term at the fixed point
            return coefficient_scale * (s_star(x, s, c) - gmm.score(x, s))

        losses = [objectives.model_guidance_loss(f, x0, eps, sigma, y, w_mg, direction, gmm.num_classes)
                  for f in (s_pert, s_star)]
        factor = 1.0
    else:
        raise ValueError(f"objective must be 'gft' or 'model-guidance', got {objective!r}")
    diff = losses[0] - losses[1]
    return float(diff.mean()), float(diff.std() / math.sqrt(n)), factor


def check_training_optima(mixtures: Iterable[MixtureSpec] = ZOO_2D, sigmas: Iterable[float] = (0.2, 1.0, 3.0),
                          ws: Iterable[float] = (0.5, 2.0), n: int = 100_000, delta: float = 1.0,
                          level: float = 0.99, coefficient_scale: float = 1.0, seed: int = 0) -> list[CheckResult]:
    """GFT's optimum and model guidance's fixed point (both the CFG score) against their sampled losses: the loss
    rises by ``k delta^2 E||h||^2`` around them, judged with simultaneous (Bonferroni) ``level`` intervals; with
    ``coefficient_scale != 1`` the claim is false and should be rejected."""
    models = [zoo.resolve(m) for m in mixtures]
    cells = [(i, sigma, objective, w) for i in range(len(models)) for sigma in sigmas
             for objective in ("gft", "model-guidance") for w in ws]
    z_crit = float(stats.norm.ppf(1 - (1 - level) / (2 * len(cells))))
    results, predictions = [], {}
    for j, (m, sigma, objective, w) in enumerate(cells):
        gmm = models[m]
        if (m, sigma) not in predictions:
            h = smooth_field(gmm.dim, gmm.num_classes, seed, math.sqrt(1.0 + sigma**2))
            predictions[m, sigma] = h, predicted_quadratic(gmm, component_nodes(gmm, sigma, QUADRATURE_RULES[gmm.dim]),
                                                           h, delta)
        h, pred = predictions[m, sigma]
        mean, se, factor = training_optimum_identity(gmm, sigma, objective, w, h, delta, n, seed + 1 + j,
                                                     coefficient_scale)
        z = abs(mean - factor * pred) / se
        results.append(CheckResult.of("training optimum", {"mixture": gmm.name, "objective": objective,
                                                           "sigma": sigma, "w": w},
                                      z, z_crit, z <= z_crit,
                                      {"mean": mean, "se": se, "predicted": factor * pred, "n": n,
                                       "coefficient_scale": coefficient_scale}))
    return results


# ------------------------------------------------------------------------------------------ 4. learning


class ConditionalField(torch.nn.Module):
    """A flexible field ``s(x, c)`` at one noise level: one small MLP per label (no capacity shared between
    labels). Input ``x / sqrt(1 + sigma^2)``, output ``sigma s`` (unit scale at every sigma); float32 inside,
    float64 out."""

    def __init__(self, dim: int, num_classes: int, sigma: float, width: int = 128, depth: int = 3) -> None:
        super().__init__()

        def mlp() -> torch.nn.Sequential:
            layers: list[torch.nn.Module] = []
            for i in range(depth):
                layers += [torch.nn.Linear(dim if i == 0 else width, width), torch.nn.SiLU()]
            return torch.nn.Sequential(*layers, torch.nn.Linear(width, dim))

        self.nets = torch.nn.ModuleList(mlp() for _ in range(num_classes))
        self.sigma, self.dim = sigma, dim

    def forward(self, x: Tensor, sigma: Tensor | float, c: Tensor) -> Tensor:
        inp = (x / math.sqrt(1.0 + self.sigma**2)).float()
        out = torch.empty(x.shape[0], self.dim, dtype=torch.float32, device=x.device)
        for k, net in enumerate(self.nets):
            rows = c == k
            if bool(rows.any()):
                out[rows] = net(inp[rows])
        return out.double() / self.sigma


def train_field(gmm: ClassConditionalGMM, sigma: float, objective: str, w: float, steps: int, batch: int,
                seed: int, lr: float = 3e-3, width: int = 128, progress: bool = False,
                record: Callable[[int, torch.nn.Module], None] | None = None,
                record_every: int = 50, ema: float = 0.995) -> tuple[ConditionalField, list[float]]:
    """Fit a ``ConditionalField`` at one ``sigma`` on a sampled objective over rows of the joint data, with the
    package's one training loop (``training.fit``: Adam, cosine decay, EMA of the weights with decay ``ema``).

    ``objective``: ``"dsm"`` (label = the row's class) or ``"weighted-mclr"`` (with mismatched negatives and exact
    posterior weights). Returns the EMA field and the loss per step (times ``sigma^2``, which is O(1) at every
    sigma). ``record(step, field)`` is called every ``record_every`` steps and at the end (``training.fit``).
    """
    if objective not in ("dsm", "weighted-mclr"):
        raise ValueError(f"objective must be 'dsm' or 'weighted-mclr', got {objective!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    field = ConditionalField(gmm.dim, gmm.num_classes, sigma, width=width)
    half = batch // 2

    def step_loss() -> Tensor:
        x0, y = gmm.sample_joint(half, g)
        eps = torch.randn(half, gmm.dim, dtype=torch.float64, generator=g)
        # antithetic pairs (x0, eps), (x0, -eps): same expectation, and the eps / sigma noise in the
        # gradient cancels to first order, which matters most at small sigma
        x0, eps, y = torch.cat([x0, x0]), torch.cat([eps, -eps]), torch.cat([y, y])
        if objective == "dsm":
            loss = objectives.dsm_loss(field, x0, eps, sigma, y, gmm.num_classes)
        else:
            c_neg = objectives.mismatched_labels(y[:half], gmm.num_classes, g).repeat(2)
            loss = objectives.weighted_mclr_loss(field, x0, eps, sigma, y, c_neg, w, gmm.class_posterior,
                                                 gmm.num_classes, "mismatched")
        return loss.mean() * sigma**2

    model, losses, _ = training.fit(field, step_loss, steps, lr, ema, f"train {objective} sigma={sigma:g}", progress,
                                    record, record_every)
    return model, losses


def rms(a: Tensor, b: Tensor) -> float:
    """``sqrt(mean_i ||a_i - b_i||^2)``."""
    return float((a - b).square().sum(1).mean().sqrt())


def learning_errors(gmm: ClassConditionalGMM, field: ConditionalField, sigma: float, w: float, c: int,
                    n: int = 20_000, seed: int = 123) -> dict[str, Estimate]:
    """RMS errors under ``x ~ p_sigma(.|c)`` with 95% intervals: field vs ``s_w``, field vs ``s_c``, and ``s_c`` vs
    ``s_w`` (``evaluation.rms``)."""
    x = gmm.sample(n, c=c, sigma=sigma, generator=seed)
    s_w, s_c = gmm.cfg_score(x, sigma, c, w), gmm.score(x, sigma, c)
    with torch.no_grad():
        learned = field(x, sigma, torch.full((n,), c, dtype=torch.long))
    return {"vs_s_w": evaluation.rms((learned - s_w).square().sum(1)),
            "vs_s_c": evaluation.rms((learned - s_c).square().sum(1)),
            "s_c_vs_s_w": evaluation.rms((s_c - s_w).square().sum(1))}


def check_learning(mixture: MixtureSpec = "overlap_2d", sigmas: Iterable[float] = (0.5, 1.0, 2.0), w: float = 2.0,
                   steps: int = 1500, batch: int = 4096, seed: int = 0, progress: bool = False) -> list[CheckResult]:
    """Weighted MCLR -> ``s_w`` and DSM -> ``s_c``, judged by comparison at equal budget, for every label.

    Both fields train for ``steps`` steps of ``batch`` rows. The theorem predicts that the weighted field ends
    closer to ``s_w`` than to ``s_c`` and closer to ``s_w`` than the DSM field does, and that the DSM field ends
    closer to ``s_c`` than to ``s_w``; each "closer" must hold with the two errors' 95% intervals apart (RMS under
    ``p_sigma(.|c)``), whatever the absolute accuracy a small net reaches on the mixture. A row passes when its
    comparisons hold for every label; it FAILs when one is reversed, intervals apart, by a field that converged (its
    error to its target fell by less than 5% over the last quarter of the budget); otherwise (overlapping intervals:
    the net cannot tell the two scores apart, or a field still improving) it is ``unresolved``. The residual is the
    worst label's ``error(field, target) / error(field, other score)`` (tolerance 1); the absolute accuracy
    ``error(field, target) / ||s_c - s_w||`` is in the details.
    """
    gmm = zoo.resolve(mixture)
    results = []
    for sigma in sigmas:
        fields, trace = {}, {}
        for objective, target in (("weighted-mclr", "vs_s_w"), ("dsm", "vs_s_c")):
            seen: list[float] = []

            def record(step: int, model: torch.nn.Module, target: str = target, seen: list = seen,
                       sigma: float = sigma) -> None:
                seen.append(max(learning_errors(gmm, model, sigma, w, c, n=2000)[target].value
                                for c in range(gmm.num_classes)))

            fields[objective], losses = train_field(gmm, sigma, objective, w, steps, batch, seed, progress=progress,
                                                    record=record, record_every=max(1, (3 * steps) // 4))
            trace[objective] = (seen, losses)
        errors = {name: {c: learning_errors(gmm, f, sigma, w, c) for c in range(gmm.num_classes)}
                  for name, f in fields.items()}
        for objective, target, other in (("weighted-mclr", "vs_s_w", "vs_s_c"), ("dsm", "vs_s_c", "vs_s_w")):
            mine = errors[objective]
            # (nearer, farther) pairs of errors the theorem orders
            pairs = [(e[target], e[other]) for e in mine.values()]
            if objective == "weighted-mclr":   # ... and closer to s_w than the DSM field is
                pairs += [(mine[c]["vs_s_w"], errors["dsm"][c]["vs_s_w"]) for c in mine]
            seen, losses = trace[objective]
            improving = len(seen) >= 3 and seen[-1] < 0.95 * seen[-2]
            if all(near.hi < far.lo for near, far in pairs):
                status = "pass"
            elif any(near.lo > far.hi for near, far in pairs) and not improving:
                status = "FAIL"                # an ordering reversed, intervals apart, by a field that converged
            else:
                status = "unresolved"          # intervals overlap, or the field was still improving
            ratio = max(e[target].value / e[other].value for e in mine.values())
            accuracy = max(e[target].value / e["s_c_vs_s_w"].value for e in mine.values())
            results.append(CheckResult.of(
                "learning", {"mixture": gmm.name, "objective": objective, "sigma": sigma, "w": w},
                ratio, 1.0, status == "pass",
                {"errors": {c: {k: v.as_dict() for k, v in e.items()} for c, e in mine.items()},
                 "accuracy": accuracy, "still_improving": improving, "error_trace": seen, "steps": steps,
                 "batch": batch, "losses": losses[:: max(1, steps // 200)]}, status))
    return results


# ------------------------------------------------------------------------------------------ 5. symbolic


def symbolic_minimiser(num_classes: int = 2, variant: str = "mismatched"):
    """sympy derivation for 1D Gaussian classes ``p_k = N(x; m_k, v_k + sigma^2)`` with prior ``pi_k``.

    1. DSM step: for a Gaussian class, ``eps | x`` has mean ``sigma (x - m_k) / (v_k + sigma^2)``, which is
       ``-sigma s_k(x)`` (checked), so ``E[l | x, k] = (s - s_k)^2 + const``.
    2. The weighted objective's pointwise quadratic ``Q(s) = sum_k a_k (s - s_k)^2``, with ``a_k`` the class
       density times the row weight of docs/theory.md section 5, is solved for ``s`` (``dQ/ds = 0``), keeping
       ``p_k`` and ``s_k`` as symbols so the algebra stays rational.
    3. ``s* - (s_c + w (s_c - s_u))`` is brought to one fraction and cancelled; then the Gaussian ``p_k``
       and ``s_k`` are substituted. Returns ``(s_star, s_cfg, difference)``, ``difference`` a sympy expression.
    """
    import sympy as sp

    x, s = sp.symbols("x s", real=True)
    sig, w = sp.Symbol("sigma", positive=True), sp.Symbol("w", nonnegative=True)
    m = sp.symbols(f"m0:{num_classes}", real=True)
    v = sp.symbols(f"v0:{num_classes}", positive=True)
    p = sp.symbols(f"p0:{num_classes}", positive=True)        # class densities p_sigma(x | k)
    sk = sp.symbols(f"s0:{num_classes}", real=True)           # class scores s_k(x)
    pis = list(sp.symbols(f"pi0:{num_classes - 1}", positive=True))
    pis.append(1 - sum(pis))
    gauss = [sp.exp(-(x - m[k]) ** 2 / (2 * (v[k] + sig**2))) / sp.sqrt(2 * sp.pi * (v[k] + sig**2))
             for k in range(num_classes)]
    gauss_scores = [sp.diff(sp.log(gauss[k]), x) for k in range(num_classes)]
    for k in range(num_classes):                               # step 1: E[eps | x, k] = -sigma s_k
        eps_mean = sig * (x - m[k]) / (v[k] + sig**2)            # Cov(eps, x) Var(x)^-1 (x - m_k)
        if sp.simplify(eps_mean / sig + gauss_scores[k]) != 0:
            raise AssertionError("Gaussian conditioning step failed")
    c = 0
    p_u = sum(pis[k] * p[k] for k in range(num_classes))
    r = pis[c] * p[c] / p_u
    alpha, beta = 1 + w * (1 - r), w * r / pis[c]
    # J_w^c (docs/theory.md section 5): positives weigh p(x|c); negatives sum_{c'} pi_c' p(x|c')
    # (all c' if unconditional)
    if variant == "mismatched":
        coeff = [p[c] * alpha] + [-pis[k] * p[k] * beta for k in range(1, num_classes)]
    else:
        coeff = [(1 + w) * p[c] - pis[c] * p[c] * beta] + [-pis[k] * p[k] * beta for k in range(1, num_classes)]
    quadratic = sum(coeff[k] * (s - sk[k]) ** 2 for k in range(num_classes))
    (s_star,) = sp.solve(sp.diff(quadratic, s), s)              # step 2
    s_u = sum(pis[k] * p[k] * sk[k] for k in range(num_classes)) / p_u
    s_cfg = sk[c] + w * (sk[c] - s_u)
    difference = sp.cancel(sp.together(s_star - s_cfg))          # step 3
    difference = sp.cancel(difference.subs({**dict(zip(p, gauss)), **dict(zip(sk, gauss_scores))}))
    return s_star, s_cfg, difference


def check_symbolic(classes: Iterable[int] = (2, 3)) -> list[CheckResult]:
    results = []
    for k in classes:
        for variant in VARIANTS:
            _, _, diff = symbolic_minimiser(k, variant)
            results.append(CheckResult.of("symbolic", {"classes": "1D Gaussians", "K": k, "variant": variant},
                                          0.0 if diff == 0 else math.inf, 0.0, diff == 0, {"difference": str(diff)}))
    return results


# ------------------------------------------------------------------------------------------ 6. distribution


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


# ------------------------------------------------------------------------------------------ all


FAST_SETTINGS: dict[str, dict[str, object]] = {   # --fast: reduced sizes, same code paths (well under a minute)
    "closed form": {"n_grid": 31, "n_random": 300},
    "quadrature": {"sigmas": (0.01, 1.0, 10.0), "ws": (0.0, 2.0, 7.0), "rules": FAST_QUADRATURE_RULES},
    "Monte Carlo": {"sigmas": (0.05, 1.0), "ws": (0.5, 2.0), "n": 40_000},
    "learning": {"sigmas": (1.0,), "steps": 800, "batch": 2048},
    "symbolic": {"classes": (2,)},
    "distribution": {"ws": (2.0,)},
}
GRID_CHECKS = ("quadrature",)   # needs d <= 2 (tensor-product rules); the others run in any dimension


@dataclass(frozen=True)
class VerifyConfig:
    """The six checks of ``mclr-sandbox verify``. ``mixtures``: what to check (default: each check's zoo mixtures);
    a mixture with d > 2 skips the quadrature check (``GRID_CHECKS``). ``fast``: ``FAST_SETTINGS``. ``seed``: the
    seed of every random draw of the checks that make any (a new seed re-draws the statistical checks)."""

    mixtures: tuple[MixtureSpec, ...] | None = None
    fast: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        as_int(self.seed, "seed", minimum=0)
        if self.mixtures is not None:
            if not self.mixtures:
                raise ValueError("mixtures must be None (the zoo's) or name at least one mixture")
            _resolved(self, "mixtures")

    def plan(self) -> list[tuple[str, Callable[[], list[CheckResult]]]]:
        """``(label, run)`` for every check to run, in order."""
        given = self.mixtures
        low = None if given is None else tuple(g for g in given if g.dim <= 2)
        plan: list[tuple[str, Callable[[], list[CheckResult]]]] = []
        for label, check in (("closed form", check_closed_form), ("quadrature", check_quadrature),
                             ("Monte Carlo", check_monte_carlo), ("learning", check_learning),
                             ("symbolic", check_symbolic), ("distribution", check_distribution)):
            settings = dict(FAST_SETTINGS[label] if self.fast else {})
            if "seed" in inspect.signature(check).parameters:
                settings["seed"] = self.seed
            if label == "learning":
                plan += [(label, functools.partial(check, *([] if g is None else [g]), **settings))
                         for g in (given or (None,))]
            elif label == "symbolic" or given is None:
                plan.append((label, functools.partial(check, **settings)))
            elif label != "quadrature" or low:
                plan.append((label, functools.partial(check, given if label != "quadrature" else low, **settings)))
        return plan

    def skipped(self) -> list[str]:
        """Why checks of the plan are missing for some mixtures (empty for the default plan)."""
        high = [g.name for g in self.mixtures or () if g.dim > 2]
        return [f"{', '.join(GRID_CHECKS)} skipped for {', '.join(high)} (tensor-product rules need d <= 2)"] \
            if high else []

    def compute(self, progress: bool = False) -> list[CheckResult]:
        """Every check of the plan, each a unit of one sweep (``sandbox.core.sweeps``: on workers with
        ``--workers``), never cached: ``verify`` checks afresh on every run."""
        plan = self.plan()
        units = [CheckUnit(self, i) for i in range(len(plan))]
        parts = sweeps.map(run_check, units, None, [label for label, _ in plan], "verify", progress=progress)
        return [row for part in parts for row in part]


@dataclass(frozen=True)
class CheckUnit:
    """One unit of ``verify``: the ``index``-th check of ``config``'s plan."""

    config: VerifyConfig
    index: int


def run_check(unit: CheckUnit) -> list[CheckResult]:
    return unit.config.plan()[unit.index][1]()


def summary_table(results: list[CheckResult]) -> str:
    """One row per check: rows passed (and unresolved), the worst residual relative to its tolerance, that residual
    and where it is; where every residual is rounding noise (below ``tables.FLOOR``) no setting is named, since
    which one rounds worst differs from CPU to CPU."""
    from ..core.tables import FLOOR, format_table

    rows = []
    for check in dict.fromkeys(r.check for r in results):
        mine = [r for r in results if r.check == check]
        worst = max(mine, key=lambda r: r.residual / r.tolerance if r.tolerance > 0 else math.inf * (r.residual > 0))
        level = worst.details.get("level")
        rows.append((check, f"{sum(r.passed for r in mine)}/{len(mine)}",
                     str(sum(r.status == "unresolved" for r in mine)), f"{worst.residual:.2e}",
                     f"{worst.tolerance:.2e}", "-" if level is None else f"{level:g} simultaneous",
                     worst.setting if worst.residual >= FLOOR else f"- (every residual below {FLOOR:g})"))
    return format_table(("check", "passed", "unresolved", "worst residual", "tolerance", "level", "at"), rows)


def run_all(fast: bool = False, progress: bool = True, mixtures: tuple[MixtureSpec, ...] | None = None,
            seed: int = 0) -> list[CheckResult]:
    """Every check (``VerifyConfig(mixtures, fast, seed).compute``)."""
    return VerifyConfig(mixtures, fast, seed).compute(progress)


# ------------------------------------------------------------------------------------------ figure data (experiments)


def _resolved(config: object, *names: str) -> None:
    """Replace the mixture specs in fields ``names`` of a frozen config by mixtures (keys then use fingerprints)."""
    for name in names:
        value = getattr(config, name)
        resolved = tuple(map(zoo.resolve, value)) if isinstance(value, tuple) else zoo.resolve(value)
        object.__setattr__(config, name, resolved)


def residual_table(results: list[CheckResult]) -> Tensor:
    """``(sigma, w, residual)`` rows of check results, ``(R, 3)`` float64: what the residual figure draws."""
    return torch.tensor([[r.params["sigma"], r.params["w"], r.residual] for r in results], dtype=torch.float64)


@dataclass(frozen=True)
class ResidualsConfig:
    """The closed-form and quadrature residuals over (sigma, w) behind the ``theorem_residuals`` figure."""

    closed_mixtures: tuple[MixtureSpec, ...] = ("teaching_1d", "overlap_2d", "branching_2d")
    quad_mixtures: tuple[MixtureSpec, ...] = ZOO_2D
    sigmas: tuple[float, ...] = SIGMAS
    ws: tuple[float, ...] = GUIDANCE
    quad_sigmas: tuple[float, ...] = SIGMAS
    quad_ws: tuple[float, ...] = GUIDANCE
    n_grid: int = 61
    n_random: int = 1000
    rules: tuple[tuple[int, tuple[int, int]], ...] = tuple(QUADRATURE_RULES.items())

    def __post_init__(self) -> None:
        _resolved(self, "closed_mixtures", "quad_mixtures")

    def fast(self) -> ResidualsConfig:
        return replace(self, n_grid=21, n_random=200, quad_sigmas=(0.01, 1.0, 10.0), quad_ws=(0.0, 2.0, 7.0),
                       rules=tuple(FAST_QUADRATURE_RULES.items()))

    def compute(self, progress: bool = False) -> dict[str, Tensor]:
        closed = check_closed_form(self.closed_mixtures, self.sigmas, self.ws, self.n_grid, self.n_random)
        quad = check_quadrature(self.quad_mixtures, self.quad_sigmas, self.quad_ws, rules=dict(self.rules))
        return {"closed": residual_table(closed), "quadrature": residual_table(quad)}


@dataclass(frozen=True)
class ParabolaConfig:
    """``J_w[s_w + delta h] - J_w[s_w]`` against delta by quadrature (``theorem_parabolas`` figure): curves for
    each ``w``, the predicted parabola at ``ws[1]``, and the same with ``beta_w`` scaled by ``beta_scale``."""

    mixture: MixtureSpec = "overlap_2d"
    sigma: float = 0.3
    c: int = 0
    ws: tuple[float, ...] = (0.0, 2.0, 7.0)
    deltas: int = 41
    rule: tuple[int, int] = QUADRATURE_RULES[2]
    beta_scale: float = 1.1
    seed: int = 0

    def __post_init__(self) -> None:
        _resolved(self, "mixture")

    def fast(self) -> ParabolaConfig:
        return replace(self, deltas=9, rule=(16, 8))

    def compute(self, progress: bool = False) -> dict[str, Tensor]:
        gmm, sigma = self.mixture, self.sigma
        nodes = component_nodes(gmm, sigma, self.rule)
        h = smooth_field(gmm.dim, gmm.num_classes, self.seed, math.sqrt(1 + sigma**2))
        deltas = torch.linspace(-1.0, 1.0, self.deltas, dtype=torch.float64)

        def curve(w: float, part: int, beta_scale: float = 1.0) -> Tensor:
            return torch.tensor([quadrature_identity(gmm, nodes, self.c, w, "mismatched", h, float(d),
                                                     beta_scale=beta_scale)[part] for d in deltas], dtype=torch.float64)

        return {"deltas": deltas, "vals": torch.stack([curve(w, 0) for w in self.ws]),
                "pred": curve(self.ws[1], 1), "wrong": curve(self.ws[1], 0, self.beta_scale)}


@dataclass(frozen=True)
class LearningTraceConfig:
    """Errors of a ``train_field`` run against ``s_w`` and ``s_c`` along training (``learning_curves`` figure), for
    each of ``objectives``: rows ``(step, vs_s_w, vs_s_c, s_c_vs_s_w)``."""

    mixture: MixtureSpec = "overlap_2d"
    objectives: tuple[str, ...] = ("weighted-mclr", "dsm")
    sigma: float = 1.0
    w: float = 2.0
    c: int = 0
    steps: int = 1500
    batch: int = 4096
    lr: float = 3e-3
    width: int = 128
    ema: float = 0.995
    points: int = 30
    n_eval: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        _resolved(self, "mixture")

    def fast(self) -> LearningTraceConfig:
        return replace(self, steps=200, batch=512)

    def compute(self, progress: bool = False) -> dict[str, Tensor]:
        gmm, traces = self.mixture, {}
        for objective in self.objectives:
            trace: list[tuple[int, float, float, float]] = []

            def record(step: int, field: torch.nn.Module, trace: list = trace) -> None:
                e = learning_errors(gmm, field, self.sigma, self.w, self.c, n=self.n_eval)
                trace.append((step, e["vs_s_w"].value, e["vs_s_c"].value, e["s_c_vs_s_w"].value))

            train_field(gmm, self.sigma, objective, self.w, self.steps, self.batch, self.seed, lr=self.lr,
                        width=self.width, progress=progress, record=record,
                        record_every=max(1, self.steps // self.points), ema=self.ema)
            traces[objective] = torch.tensor(trace, dtype=torch.float64)
        return traces
