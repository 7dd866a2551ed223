"""3. The same identity from the sampled training loss, inside simultaneous 99% intervals; and the training
optima of the other objectives from their sampled losses."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from scipy import stats

from ...core import zoo
from ...core.mixtures import ClassConditionalGMM
from ...core.quadrature import gaussian_nodes, quasi_normal_rule
from ...core.zoo import MixtureSpec
from ...methods import objectives
from .quadrature import ComponentNodes, component_nodes, smooth_field
from .registry import GUIDANCE, QUADRATURE_RULES, SIGMAS, VARIANTS, ZOO_2D, Check, CheckResult, register

Tensor = torch.Tensor


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
    diff = (t1.pos_weight * (t1.pos_loss - t0.pos_loss)
            - (beta_scale * t1.neg_weight * (t1.neg_loss - t0.neg_loss)).mean(1))
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


register(Check("monte-carlo", check_monte_carlo, {"sigmas": (0.05, 1.0), "ws": (0.5, 2.0), "n": 40_000}))
