"""Noise schedules. The VE / EDM frame ``x = x0 + sigma eps`` is native; VP maps onto it.

A VP marginal ``x_t = a_t x0 + s_t eps`` is the VE marginal at ``sigma = s_t / a_t`` scaled by ``a_t``
(docs/theory.md, section 1):

    p_t(x)      = a_t^-d p_sigma(x / a_t)
    score_t(x)  = score_sigma(x / a_t) / a_t
    E[x0 | x_t] = denoise_sigma(x / a_t)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .validation import as_count

Tensor = torch.Tensor


def edm_sigmas(num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
               append_zero: bool = True, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> Tensor:
    """EDM (Karras et al. 2022) steps ``sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho``.

    Returns ``(num_steps,)`` decreasing sigmas, plus a final 0 when ``append_zero`` (``(num_steps + 1,)``).
    """
    n = as_count(num_steps, "num_steps")
    if n < 1:
        raise ValueError(f"num_steps must be >= 1, got {n}")
    if not (0.0 < sigma_min <= sigma_max < math.inf):
        raise ValueError(f"sigma_min and sigma_max must satisfy 0 < sigma_min <= sigma_max < inf, "
                         f"got {sigma_min}, {sigma_max}")
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho}")
    frac = torch.linspace(0.0, 1.0, n, dtype=dtype, device=device) if n > 1 else torch.zeros(1, dtype=dtype,
                                                                                                device=device)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sigmas = (hi + frac * (lo - hi)) ** rho
    if append_zero:
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas


class VPSchedule:
    """Variance-preserving schedule ``x_t = alpha(t) x0 + sigma(t) eps``, ``alpha^2 + sigma^2 = 1``, t in [0, 1].

    ``kind="linear"``: ``log alpha(t) = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2`` (VP-SDE);
    ``kind="cosine"``: ``alpha(t) = cos(pi/2 (t + s)/(1 + s)) / cos(pi/2 s/(1 + s))`` (alpha(1) = 0, so
    ``ve_sigma(1)`` is infinite; sample on t < 1).
    """

    def __init__(self, kind: str = "linear", beta_min: float = 0.1, beta_max: float = 20.0,
                 cosine_offset: float = 0.008) -> None:
        if kind not in ("linear", "cosine"):
            raise ValueError(f"kind must be 'linear' or 'cosine', got {kind!r}")
        if not 0 <= beta_min <= beta_max:
            raise ValueError(f"beta_min and beta_max must satisfy 0 <= beta_min <= beta_max, "
                             f"got {beta_min}, {beta_max}")
        if not cosine_offset > 0:
            raise ValueError(f"cosine_offset must be > 0, got {cosine_offset}")
        self.kind, self.beta_min, self.beta_max, self.cosine_offset = kind, beta_min, beta_max, cosine_offset

    def alpha(self, t: Tensor) -> Tensor:
        """Signal scale ``a_t``; ``t: (N,)`` in [0, 1]."""
        t = _unit_interval(t)
        if self.kind == "linear":
            return torch.exp(-0.25 * t * t * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min)
        s = self.cosine_offset
        return torch.cos(0.5 * math.pi * (t + s) / (1 + s)) / math.cos(0.5 * math.pi * s / (1 + s))

    def sigma(self, t: Tensor) -> Tensor:
        """Noise scale ``s_t = sqrt(1 - a_t^2)``."""
        return torch.sqrt(torch.clamp(1.0 - self.alpha(t) ** 2, min=0.0))

    def ve_sigma(self, t: Tensor) -> Tensor:
        """The equivalent VE noise level ``sigma = s_t / a_t``."""
        return self.sigma(t) / self.alpha(t)


def vp_score(score_fn: Callable[..., Tensor], x_t: Tensor, alpha: float | Tensor, sigma_t: float | Tensor,
             **kwargs: object) -> Tensor:
    """Score of the VP marginal from a VE score: ``score_t(x) = score_fn(x / a_t, s_t / a_t) / a_t``."""
    a, s = _vp_pair(alpha, sigma_t)
    return score_fn(x_t / _col(a), s / a, **kwargs) / _col(a)


def vp_denoise(denoise_fn: Callable[..., Tensor], x_t: Tensor, alpha: float | Tensor, sigma_t: float | Tensor,
               **kwargs: object) -> Tensor:
    """``E[x0 | x_t] = denoise_fn(x_t / a_t, s_t / a_t)`` (the posterior mean is frame-free)."""
    a, s = _vp_pair(alpha, sigma_t)
    return denoise_fn(x_t / _col(a), s / a, **kwargs)


def vp_log_prob(log_prob_fn: Callable[..., Tensor], x_t: Tensor, alpha: float | Tensor, sigma_t: float | Tensor,
                **kwargs: object) -> Tensor:
    """``log p_t(x) = log p_sigma(x / a_t) - d log a_t`` with ``sigma = s_t / a_t``."""
    a, s = _vp_pair(alpha, sigma_t)
    log_a = torch.log(torch.as_tensor(a, dtype=x_t.dtype, device=x_t.device))
    return log_prob_fn(x_t / _col(a), s / a, **kwargs) - x_t.shape[1] * log_a


def _vp_pair(alpha: float | Tensor, sigma_t: float | Tensor) -> tuple[float | Tensor, float | Tensor]:
    for name, v, lo in (("alpha", alpha, "> 0"), ("sigma_t", sigma_t, ">= 0")):
        t = torch.as_tensor(v)
        bad = (t <= 0) if name == "alpha" else (t < 0)
        if not bool(torch.isfinite(t).all()) or bool(bad.any()):
            raise ValueError(f"{name} must be finite and {lo}, got {v}")
    return alpha, sigma_t


def _col(a: float | Tensor) -> float | Tensor:
    """Per-sample ``(N,)`` scale as a column ``(N, 1)`` so it broadcasts over ``x: (N, d)``."""
    return a[:, None] if isinstance(a, Tensor) and a.ndim == 1 else a


def _unit_interval(t: Tensor) -> Tensor:
    t = torch.as_tensor(t, dtype=torch.float64) if not isinstance(t, Tensor) else t
    if not bool(torch.isfinite(t).all()) or bool(((t < 0) | (t > 1)).any()):
        raise ValueError("t must lie in [0, 1]")
    return t
