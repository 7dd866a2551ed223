"""Pointwise minimisers of DSM-type objectives, in closed form from class densities and class scores.

Any objective that is a weighted sum of DSM terms is, at each noisy point ``x``, a quadratic in the value
``s(x)`` of the field for label ``c`` (docs/theory.md, section 3):

    Q_x(s) = sum_k a_k(x) || s - s_k(x) ||^2 + const(x),

where ``a_k(x)`` is the density of class-``k`` data at ``x`` times the row weight that class-``k`` rows carry
for label ``c``. If ``A(x) = sum_k a_k(x) > 0`` the unique minimiser is the weighted mean of class scores

    s*(x) = sum_k a_k(x) s_k(x) / A(x);

if ``A(x) <= 0`` the objective is unbounded below in ``s(x)`` and has no minimiser.

Coefficients are given up to a positive factor per point (it cancels in ``s*`` and keeps the sign of
``A``), in terms of ``rho_k = pi_k p_sigma(x|k) / p_sigma(x)`` computed from the log class densities.
For label ``c`` and a noisy classifier ``r = r_c(x)`` setting the weights (exact: ``r = rho_c``):

    dsm             a_c = rho_c
    mclr (lambda)   a_c = (1 + lambda) rho_c,            a_k = -lambda / (K - 1) rho_k   (k != c)
    weighted-mclr   a_c = (1 + w (1 - r)) rho_c,         a_k = -w r rho_k                 (k != c)

Both negative-sampling variants of weighted MCLR (``objectives.VARIANTS``: mismatched negatives, or
unconditional ones with ``a_c = (1 + w) rho_c - w r rho_c``, the same number) have these coefficients; they
differ only in how negatives are sampled, hence in variance. With exact weights ``A = rho_c`` and
``s* = s_c + w (s_c - s_u)``: the CFG score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_batch_scalar, as_class_ids, as_number, as_points, as_probability_table

Tensor = torch.Tensor
OBJECTIVES = ("dsm", "mclr", "weighted-mclr")


@dataclass(frozen=True)
class PointwiseQuadratic:
    """``Q_x(s) = A(x) ||s||^2 - 2 s . b(x) + const`` at each row, up to a positive per-row factor.

    ``coefficients: (N, K)`` the ``a_k`` scaled so that ``max_k |a_k| = 1`` per row (the common factor
    cancels in the minimiser and keeps the sign of ``A``; it also avoids underflow far from class ``c``);
    ``total: (N,)`` their sum, ``A`` up to that factor; ``minimiser: (N, d)`` is ``b / A`` where
    ``well_posed`` (``A > 0``) and NaN elsewhere, on purpose: there is no minimiser there.
    """

    coefficients: Tensor
    total: Tensor
    minimiser: Tensor
    well_posed: Tensor


def objective_coefficients(gmm: ClassConditionalGMM, x: Tensor, sigma: float | Tensor, c: int | Tensor,
                           objective: str, w: float | Tensor = 0.0, lam: float = 0.0,
                           posterior: Tensor | None = None) -> Tensor:
    """The coefficients ``a_k(x)`` of the module table, scaled per row so that ``max_k |a_k| = 1``. -> ``(N, K)``.

    Computed in log-space from ``log rho_k = log pi_k + log p_sigma(x|k) - log p_sigma(x)``.
    ``posterior: (N, K)`` replaces the exact noisy classifier inside the weights (not inside ``rho``).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    _mixture(gmm)
    x = as_points(x, gmm.dim, gmm.dtype, gmm.device)
    n, k = x.shape[0], gmm.num_classes
    cls = as_class_ids(c, n, k, gmm.device)
    w = as_batch_scalar(w, n, gmm.dtype, gmm.device, "w")[:, None]
    lam = as_number(lam, "lam", minimum=0.0)
    log_rho = gmm.log_class_posterior(x, sigma)                                   # [N, K]
    if posterior is None:
        log_r = log_rho
    else:
        log_r = as_probability_table(posterior, "posterior", (n, k)).to(log_rho).log()
    is_c = torch.nn.functional.one_hot(cls, k).bool()                             # [N, K]
    if objective == "dsm":
        log_abs = torch.where(is_c, log_rho, -math.inf)
    elif objective == "mclr":
        if k < 2:
            raise ValueError("mclr needs at least 2 classes")
        log_weight = torch.tensor([math.log1p(lam), math.log(lam) - math.log(k - 1) if lam > 0 else -math.inf],
                                  dtype=log_rho.dtype, device=log_rho.device)
        log_abs = log_rho + torch.where(is_c, log_weight[0], log_weight[1])
    else:
        # weighted-mclr (either variant): a_c = rho_c (1 + w (1 - r_c)),  a_k = -w r_c rho_k  (k != c)
        log_r_c = log_r.gather(1, cls[:, None])
        log_pos = log_rho + torch.log1p(w * (1.0 - log_r_c.exp()))
        log_neg = w.log() + log_r_c + log_rho
        log_abs = torch.where(is_c, log_pos, log_neg)
    sign = torch.where(is_c, 1.0, -1.0).to(log_rho.dtype)
    top = log_abs.amax(1, keepdim=True)
    return sign * torch.exp(log_abs - torch.where(torch.isfinite(top), top, 0.0))


def pointwise_quadratic(coefficients: Tensor, class_scores: Tensor) -> PointwiseQuadratic:
    """Minimiser ``sum_k a_k s_k / sum_k a_k`` where ``A = sum_k a_k > 0``.

    ``coefficients: (N, K)``, ``class_scores: (N, K, d)``.
    """
    total = coefficients.sum(1)
    well_posed = total > 0
    b = torch.einsum("nk,nkd->nd", coefficients, class_scores)
    safe = torch.where(well_posed, total, torch.ones_like(total))
    minimiser = torch.where(well_posed[:, None], b / safe[:, None], torch.full_like(b, math.nan))
    return PointwiseQuadratic(coefficients, total, minimiser, well_posed)


def minimiser(gmm: ClassConditionalGMM, x: Tensor, sigma: float | Tensor, c: int | Tensor, objective: str,
              w: float | Tensor = 0.0, lam: float = 0.0, posterior: Tensor | None = None) -> PointwiseQuadratic:
    """The pointwise quadratic of ``objective`` for label ``c`` at ``x: (N, d)``, from densities and class scores."""
    coefficients = objective_coefficients(gmm, x, sigma, c, objective, w=w, lam=lam, posterior=posterior)
    return pointwise_quadratic(coefficients, gmm.class_scores(x, sigma))


def mclr_coefficient(gmm: ClassConditionalGMM, x: Tensor, sigma: float | Tensor, c: int | Tensor,
                     lam: float) -> Tensor:
    """``A(x) / p_sigma(x) = (1 + lam) rho_c - lam / (K - 1) (1 - rho_c)`` of unweighted MCLR. -> ``(N,)``.

    Where it is ``<= 0`` the unweighted objective has no minimiser (the ill-posed region).
    """
    if _mixture(gmm).num_classes < 2:
        raise ValueError("mclr_coefficient needs a mixture with at least 2 classes (MCLR compares classes)")
    lam = as_number(lam, "lam", minimum=0.0)
    x = as_points(x, gmm.dim, gmm.dtype, gmm.device)
    n = x.shape[0]
    rho_c = gmm.class_posterior(x, sigma).gather(1, as_class_ids(c, n, gmm.num_classes, gmm.device)[:, None])[:, 0]
    return (1.0 + lam) * rho_c - lam / (gmm.num_classes - 1) * (1.0 - rho_c)


def _mixture(gmm: object) -> ClassConditionalGMM:
    if not isinstance(gmm, ClassConditionalGMM):
        raise TypeError(f"gmm must be a ClassConditionalGMM (the mixture whose optimum is computed), got "
                        f"{type(gmm).__name__}")
    return gmm
