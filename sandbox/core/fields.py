"""The two field signatures every layer shares (score form, VE frame ``x = x0 + sigma eps``):

    Field           field(x: (N, d), sigma: (N,)) -> (N, d)             one class fixed: what samplers integrate
    LabelledField   field(x: (N, d), sigma: (N,), c: (N,)) -> (N, d)    a label per row: ``gmm.score``, ``net.score``,
                                                                        what objectives train and evaluations compare

``methods.field`` hands out ``Batched`` fields, which also take ``sigma`` as one number for every row (as the
mixture's own scores do). ``conditional`` fixes the label of a labelled field; ``labelled`` turns a per-class field
builder back into a labelled field; ``from_denoiser`` turns a denoiser ``D(x, sigma)`` (the k-diffusion convention:
``net(x, sigma)`` returns the denoised estimate) into a field by Tweedie, ``s = (D - x) / sigma^2``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Tensor = torch.Tensor
Field = Callable[[Tensor, Tensor], Tensor]
LabelledField = Callable[[Tensor, Tensor, Tensor], Tensor]


def conditional(field: Callable[..., Tensor], c: int | Tensor | None) -> Field:
    """Fix the label: ``field(x, sigma, c)`` -> ``f(x, sigma)`` (e.g. ``conditional(gmm.score, 0)``; ``c=None`` is
    the unconditional score of a mixture or the null class of a net)."""
    def bound(x: Tensor, sigma: Tensor) -> Tensor:
        return field(x, sigma, c)
    return bound


def from_denoiser(denoiser: Callable[[Tensor, Tensor], Tensor]) -> Field:
    """The score field of a denoiser ``D(x: (N, d), sigma: (N,)) -> (N, d)``: ``(D - x) / sigma^2`` (sigma > 0; the
    samplers evaluate fields only at sigma > 0)."""
    def field(x: Tensor, sigma: Tensor) -> Tensor:
        return (denoiser(x, sigma) - x) / (sigma * sigma)[:, None]
    return field


def labelled(field_for: Callable[[int], Field]) -> LabelledField:
    """``f(x, sigma, c)`` from a builder ``field_for(c) -> Field``: rows are grouped by their label."""
    def field(x: Tensor, sigma: Tensor, c: Tensor) -> Tensor:
        out = torch.empty_like(x)
        for k in torch.unique(c).tolist():
            rows = c == k
            out[rows] = field_for(int(k))(x[rows], sigma[rows]).to(x.dtype)
        return out
    return field


class Batched:
    """``field`` that also takes ``sigma`` as a number or a 0-d tensor, broadcast to ``(N,)`` (a rule's own
    arithmetic is written for ``(N,)``); every attribute is the wrapped field's (``APG``'s state, ``Optimum``'s
    ``ill_posed_fraction``)."""

    def __init__(self, field: Field) -> None:
        self.field = field

    def __call__(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        if not isinstance(sigma, Tensor) or sigma.ndim == 0:
            sigma = torch.full((x.shape[0],), float(sigma), dtype=x.dtype, device=x.device)
        return self.field(x, sigma)

    def __getattr__(self, name: str) -> object:
        return getattr(self.__dict__["field"], name)
