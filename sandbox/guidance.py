"""Guidance as wrappers around fields (not flags inside samplers).

Each wrapper returns a sampler-ready ``Field``: ``score(x: (N, d), sigma: (N,)) -> (N, d)`` (``sandbox.fields``).
"""

from __future__ import annotations

import torch

from . import theory
from .fields import Field, conditional
from .mixtures import ClassConditionalGMM
from .validation import as_number

Tensor = torch.Tensor
__all__ = ["CFG", "Optimum", "conditional", "exact_cfg"]


class CFG:
    """``s_w = s_cond + w (s_cond - s_uncond)``, optionally only for sigma in ``[sigma_lo, sigma_hi]``
    (guidance in a limited interval; elsewhere the conditional score is returned)."""

    def __init__(self, cond: Field, uncond: Field, w: float, sigma_lo: float = 0.0,
                 sigma_hi: float = float("inf")) -> None:
        if not callable(cond) or not callable(uncond):
            raise TypeError("cond and uncond must be fields: callables (x, sigma) -> score")
        w = as_number(w, "w", minimum=0.0)
        sigma_lo = as_number(sigma_lo, "sigma_lo", minimum=0.0)
        if isinstance(sigma_hi, bool) or not isinstance(sigma_hi, (int, float)) or not sigma_hi >= sigma_lo:
            raise ValueError(f"sigma_hi must be a number >= sigma_lo = {sigma_lo}, got {sigma_hi!r}")
        self.cond, self.uncond, self.w, self.sigma_lo, self.sigma_hi = cond, uncond, w, sigma_lo, sigma_hi

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        s_c = self.cond(x, sigma)
        if self.w == 0:
            return s_c
        active = ((sigma >= self.sigma_lo) & (sigma <= self.sigma_hi)).to(x.dtype)[:, None]
        return s_c + active * self.w * (s_c - self.uncond(x, sigma))


def exact_cfg(gmm: ClassConditionalGMM, c: int, w: float, sigma_lo: float = 0.0,
              sigma_hi: float = float("inf")) -> Field:
    """CFG on the exact conditional and unconditional scores of ``gmm`` (one fused pass without an interval)."""
    guided = CFG(conditional(gmm.score, c), conditional(gmm.score, None), w, sigma_lo, sigma_hi)
    if sigma_lo > 0 or sigma_hi < float("inf"):
        return guided
    return lambda x, sigma: gmm.cfg_score(x, sigma, c, w)


class Optimum:
    """The pointwise optimum of ``objective`` (``theory.OBJECTIVES``) for label ``c``, as a score field.

    Unweighted MCLR (``objective="mclr"``, strength ``lam``) has no optimum where ``A(x) <= 0`` (docs/theory.md,
    section 4). There ``ill_posed="raise"`` raises and ``ill_posed="conditional"`` falls back to the DSM optimum ``s_c``
    (the field a finite fine-tune leaves unchanged); ``ill_posed_fraction`` records the share of evaluations
    that fell back, over the calls so far.
    """

    def __init__(self, gmm: ClassConditionalGMM, c: int, objective: str, w: float = 0.0, lam: float = 0.0,
                 ill_posed: str = "raise") -> None:
        if ill_posed not in ("raise", "conditional"):
            raise ValueError(f"ill_posed must be 'raise' or 'conditional', got {ill_posed!r}")
        if objective not in theory.OBJECTIVES:
            raise ValueError(f"objective must be one of {theory.OBJECTIVES}, got {objective!r}")
        w, lam = as_number(w, "w", minimum=0.0), as_number(lam, "lam", minimum=0.0)
        self.gmm, self.c, self.objective, self.w, self.lam, self.ill_posed = gmm, c, objective, w, lam, ill_posed
        self._evaluations = self._fallbacks = 0

    @property
    def ill_posed_fraction(self) -> float:
        return self._fallbacks / max(self._evaluations, 1)

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        q = theory.minimiser(self.gmm, x, sigma, self.c, self.objective, w=self.w, lam=self.lam)
        bad = ~q.well_posed
        self._evaluations += x.shape[0]
        self._fallbacks += int(bad.sum())
        if not bool(bad.any()):
            return q.minimiser
        if self.ill_posed == "raise":
            raise ValueError(f"{self.objective} (lam={self.lam}) has no optimum at {int(bad.sum())} of {x.shape[0]} "
                             f"points (A(x) <= 0); pass ill_posed='conditional' to fall back to s_c there")
        return torch.where(bad[:, None], self.gmm.score(x, sigma, self.c), q.minimiser)
