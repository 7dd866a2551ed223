"""Frames: one diffusion written the standard ways, with exact maps between them (docs/theory.md, "Frames").

A frame is a choice of state, time and prediction. Each describes the same probability-flow ODE as the VE / EDM
frame, the sandbox's currency: state ``y = x0 + sigma eps``, time ``sigma``, field the score ``s(y, sigma)``.
The state of a frame is ``x = scale(sigma) y``, and every prediction is affine in the score at the VE state,

    prediction = a(sigma) s(y, sigma) + b(sigma) y,          s = (prediction - b y) / a        (sigma > 0)

    frame   prediction                     state x            time            a                    b
    score   s (EDM)                        y                  sigma           1                    0
    x0      D = E[x0 | y] (EDM denoiser)   y                  sigma           sigma^2              1
    eps     eps_hat (DDPM, DDIM, SD)       y / sqrt(1+s^2)    abar            -sigma               0
    v       alpha eps_hat - sigma_t x0     y / sqrt(1+s^2)    abar            -sigma sqrt(1+s^2)   -sigma / sqrt(1+s^2)
    flow    eps - x0 (rectified flow)      y / (1+sigma)      t               -sigma (1+sigma)     -1

with ``abar = 1 / (1 + sigma^2)`` (the VP ``alphas_cumprod``; ``alpha_t = sqrt(abar)``, ``sigma_t = sqrt(1 - abar)``)
and ``t = sigma / (1 + sigma)`` (``x_t = (1 - t) x0 + t eps``). Because the map is affine with the same ``b`` for
every class, a rule whose weights on the predictions sum to 1 (CFG, ICG, autoguidance, interval guidance) is the same
field in every frame; a rule with a nonlinear step (a projection, a norm, a std ratio, a zero prediction) is not.

A discrete VP schedule (``alphas_cumprod``: DDPM's linear, Stable Diffusion's scaled-linear, the cosine one, named
as diffusers names them) maps each timestep to one ``sigma = sqrt((1 - abar) / abar)`` (``timestep_sigmas``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .validation import as_batch_scalar, as_count

Tensor = torch.Tensor
Coefficient = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Frame:
    """One frame (module docstring): ``a``, ``b`` and ``scale`` are functions of ``sigma: (N, 1)``; ``time`` maps
    sigma to the frame's time and ``sigma_of`` back; ``sampler`` names the deterministic sampler its models are run
    with (``methods.samplers.NATIVE``: ``heun`` for EDM, ``ddim`` for VP models, ``flow-euler`` for rectified flow)."""

    name: str
    prediction: str
    reference: str
    a: Coefficient
    b: Coefficient
    scale: Coefficient
    time: Coefficient
    sigma_of: Coefficient
    sampler: str

    def predict(self, score: Tensor, y: Tensor, sigma: Tensor | float) -> Tensor:
        """The prediction of a field whose score at VE state ``y: (N, d)`` is ``score: (N, d)``."""
        s = _column(y, sigma)
        return self.a(s) * score + self.b(s) * y

    def score(self, prediction: Tensor, y: Tensor, sigma: Tensor | float) -> Tensor:
        """The score that integrates the same path as ``prediction`` (the inverse of ``predict``)."""
        s = _column(y, sigma)
        return (prediction - self.b(s) * y) / self.a(s)

    def state(self, y: Tensor, sigma: Tensor | float) -> Tensor:
        """The frame's state of VE state ``y: (N, d)``."""
        return self.scale(_column(y, sigma)) * y

    def ve_state(self, x: Tensor, sigma: Tensor | float) -> Tensor:
        """The VE state of the frame's state ``x: (N, d)`` (inverse of ``state``)."""
        return x / self.scale(_column(x, sigma))

    def model(self, field: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        """``field`` (a VE score field) as this frame's model: ``model(x: (N, d), time: (N,)) -> prediction``, the
        way a network trained in this frame is called."""
        def model(x: Tensor, time: Tensor) -> Tensor:
            sigma = self.sigma_of(as_batch_scalar(time, x.shape[0], x.dtype, x.device, "time")[:, None])[:, 0]
            y = self.ve_state(x, sigma)
            return self.predict(field(y, sigma), y, sigma)
        return model

    def field(self, model: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        """A model of this frame (``model(x, time) -> prediction``) as a VE score field ``(y, sigma) -> s``."""
        def field(y: Tensor, sigma: Tensor) -> Tensor:
            s = _column(y, sigma)
            return self.score(model(self.scale(s) * y, self.time(s)[:, 0]), y, s[:, 0])
        return field


def _one(sigma: Tensor) -> Tensor:
    return torch.ones_like(sigma)


def _vp_scale(sigma: Tensor) -> Tensor:
    return torch.rsqrt(1.0 + sigma * sigma)


REGISTRY: dict[str, Frame] = {f.name: f for f in (
    Frame("score", "score s (EDM)", "Song et al. 2021; Karras et al. 2022",
          a=_one, b=torch.zeros_like, scale=_one, time=lambda s: s, sigma_of=lambda s: s, sampler="heun"),
    Frame("x0", "denoiser D = E[x0 | x] (EDM)", "Karras et al. 2022",
          a=lambda s: s * s, b=_one, scale=_one, time=lambda s: s, sigma_of=lambda s: s, sampler="heun"),
    Frame("eps", "noise prediction eps (DDPM, DDIM, Stable Diffusion)", "Ho et al. 2020",
          a=lambda s: -s, b=torch.zeros_like, scale=_vp_scale,
          time=lambda s: 1.0 / (1.0 + s * s), sigma_of=lambda abar: torch.sqrt((1.0 - abar) / abar),
          sampler="ddim"),
    Frame("v", "v-prediction alpha eps - sigma_t x0", "Salimans and Ho 2022",
          a=lambda s: -s * torch.sqrt(1.0 + s * s), b=lambda s: -s * _vp_scale(s), scale=_vp_scale,
          time=lambda s: 1.0 / (1.0 + s * s), sigma_of=lambda abar: torch.sqrt((1.0 - abar) / abar),
          sampler="ddim"),
    Frame("flow", "velocity eps - x0 (rectified flow: SD3, Flux)", "Liu et al. 2023; Esser et al. 2024",
          a=lambda s: -s * (1.0 + s), b=lambda s: -torch.ones_like(s), scale=lambda s: 1.0 / (1.0 + s),
          time=lambda s: s / (1.0 + s), sigma_of=lambda t: t / (1.0 - t), sampler="flow-euler"),
)}
NAMES = tuple(REGISTRY)


def get(name: str) -> Frame:
    if name not in REGISTRY:
        raise ValueError(f"frame must be one of {list(NAMES)}, got {name!r}")
    return REGISTRY[name]


def convert(prediction: Tensor, source: str, target: str, y: Tensor, sigma: Tensor | float) -> Tensor:
    """A prediction of frame ``source`` at VE state ``y`` as the prediction of frame ``target``."""
    return get(target).predict(get(source).score(prediction, y, sigma), y, sigma)


# ---------------------------------------------------------------------------------------------- discrete VP schedules
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")


def alphas_cumprod(schedule: str = "scaled_linear", steps: int = 1000, beta_start: float | None = None,
                   beta_end: float | None = None) -> Tensor:
    """``abar_i = prod_{j <= i} (1 - beta_j)``, ``(steps,)`` float64, for a DDPM beta schedule named as diffusers
    names it: ``linear`` (Ho et al. 2020: betas linear from 1e-4 to 0.02), ``scaled_linear`` (Stable Diffusion: the
    square roots linear from 0.00085 to 0.012), ``squaredcos_cap_v2`` (Nichol and Dhariwal 2021: the cosine
    ``abar(t) = cos^2(pi/2 (t + 0.008) / 1.008)``, betas capped at 0.999)."""
    steps = as_count(steps, "steps")
    if schedule == "linear":
        betas = torch.linspace(beta_start or 1e-4, beta_end or 0.02, steps, dtype=torch.float64)
    elif schedule == "scaled_linear":
        betas = torch.linspace(math.sqrt(beta_start or 0.00085), math.sqrt(beta_end or 0.012), steps,
                               dtype=torch.float64) ** 2
    elif schedule == "squaredcos_cap_v2":
        def abar(t: Tensor) -> Tensor:
            return torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        t = torch.arange(steps + 1, dtype=torch.float64) / steps
        betas = (1.0 - abar(t[1:]) / abar(t[:-1])).clamp(max=0.999)
    else:
        raise ValueError(f"schedule must be one of {list(BETA_SCHEDULES)}, got {schedule!r}")
    return torch.cumprod(1.0 - betas, dim=0)


def timestep_sigmas(abar: Tensor) -> Tensor:
    """The VE noise level of each timestep of a VP schedule: ``sigma = sqrt((1 - abar) / abar)``."""
    if not isinstance(abar, Tensor) or not bool(((abar > 0) & (abar <= 1)).all()):
        raise ValueError("abar must be a tensor of alphas_cumprod, each in (0, 1]")
    return torch.sqrt((1.0 - abar) / abar)


def _column(y: Tensor, sigma: Tensor | float) -> Tensor:
    """``sigma`` as an ``(N, 1)`` column of ``y``'s dtype, each > 0 (the frames coincide at sigma = 0)."""
    if not isinstance(y, Tensor) or y.ndim != 2:
        raise ValueError(f"y must be a tensor of shape (N, d), got {getattr(y, 'shape', type(y).__name__)}")
    if isinstance(sigma, Tensor) and sigma.ndim == 2:
        sigma = sigma[:, 0]
    s = as_batch_scalar(sigma, y.shape[0], y.dtype, y.device, "sigma")
    if bool((s <= 0).any()):
        raise ValueError("sigma must be > 0 to change frames (the predictions coincide at sigma = 0)")
    return s[:, None]
