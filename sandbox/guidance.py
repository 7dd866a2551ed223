"""Guidance as wrappers around score callables (not flags inside samplers).

Each wrapper returns a sampler-ready ``score(x: (N, d), sigma: (N,)) -> (N, d)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .mixtures import ClassConditionalGMM

Tensor = torch.Tensor
ScoreFn = Callable[[Tensor, Tensor], Tensor]


def conditional(score3: Callable[..., Tensor], c: int | Tensor) -> ScoreFn:
    """Bind a class: ``score3(x, sigma, c)`` -> ``score(x, sigma)`` (e.g. ``conditional(gmm.score, 0)``)."""
    def score(x: Tensor, sigma: Tensor) -> Tensor:
        return score3(x, sigma, c)
    return score


class CFG:
    """``s_w = s_cond + w (s_cond - s_uncond)``, optionally only for sigma in ``[sigma_lo, sigma_hi]``
    (guidance in a limited interval; elsewhere the conditional score is returned)."""

    def __init__(self, cond: ScoreFn, uncond: ScoreFn, w: float, sigma_lo: float = 0.0,
                 sigma_hi: float = float("inf")) -> None:
        if not w >= 0:
            raise ValueError(f"w must be >= 0, got {w}")
        if not 0 <= sigma_lo <= sigma_hi:
            raise ValueError(f"need 0 <= sigma_lo <= sigma_hi, got {sigma_lo}, {sigma_hi}")
        self.cond, self.uncond, self.w, self.sigma_lo, self.sigma_hi = cond, uncond, w, sigma_lo, sigma_hi

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        s_c = self.cond(x, sigma)
        if self.w == 0:
            return s_c
        active = ((sigma >= self.sigma_lo) & (sigma <= self.sigma_hi)).to(x.dtype)[:, None]
        return s_c + active * self.w * (s_c - self.uncond(x, sigma))


def exact_cfg(gmm: ClassConditionalGMM, c: int, w: float, sigma_lo: float = 0.0,
              sigma_hi: float = float("inf")) -> CFG:
    """CFG on the exact conditional and unconditional scores of ``gmm``."""
    return CFG(conditional(gmm.score, c), conditional(gmm.score, None), w, sigma_lo, sigma_hi)
