"""The exact mixture as the model a diffusion library's scheduler or guider calls (diffusers' interface).

A diffusers scheduler calls ``model(sample, timestep)`` on the sample its ``scale_model_input`` made and expects the
prediction its config names (``prediction_type``). ``LibraryModel(gmm, c, scheduler)`` answers exactly, for class
``c`` (``None``: the unconditional model): it reads the noise level the timestep stands for as the scheduler defines
it, the VE state behind the sample, and returns the exact prediction of that state (``frames``), in float64:

    family  schedulers (e.g.)          timestep t                        model input          prediction
    vp      DDIM, DDPM, Euler, Heun,   a timestep of alphas_cumprod:     x = y / sqrt(1+s^2)  epsilon, v_prediction
            DPM-Solver, UniPC, LMS     s = sqrt((1 - abar_t) / abar_t),                       or sample (x0)
                                       linear in t between integers
    flow    FlowMatchEuler, -Heun      t = T u, u the flow time          x_u = y / (1 + s)    velocity eps - x0
                                       (s = u / (1 - u))
    edm     EDMEuler, EDM DPM-Solver   t = log(s) / 4 (c_noise)          c_in y               F: D = c_skip y + c_out F

with ``y = x0 + s eps`` the VE state (``T = num_train_timesteps``; ``c_in``, ``c_skip``, ``c_out`` EDM's
preconditioning at the scheduler's ``sigma_data``). Between integer timesteps the noise level is interpolated linearly
in ``s``, as diffusers' Euler-type schedulers do (``interpolation_type="linear"``). The flow model at ``u = 1`` (pure
noise, ``s`` infinite) returns ``x - E[x0]``, the limit of ``(x_u - D) / u``.

Samples of any shape ``(N, ...)`` with ``d`` numbers per row are taken (a ``d``-vector as a ``d x 1 x 1`` image);
the prediction has the sample's shape and dtype. Nothing here imports diffusers: a scheduler is any object with its
interface (``config.prediction_type``, ``alphas_cumprod`` or ``config.sigma_data`` or a flow-matching config).
"""

from __future__ import annotations

import math

import torch

from ..core import frames
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_batch_scalar
from .guidance import class_moments

Tensor = torch.Tensor
FAMILIES = ("vp", "flow", "edm")
PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}     # diffusers' prediction_type -> frame


def family(scheduler: object) -> str:
    """Which timestep and input convention ``scheduler`` follows (module docstring), from its interface."""
    config = getattr(scheduler, "config", None)
    if config is None:
        raise TypeError(f"scheduler must have a diffusers-style config, got {type(scheduler).__name__}")
    if hasattr(scheduler, "precondition_outputs") and "sigma_data" in config:
        return "edm"
    if getattr(scheduler, "alphas_cumprod", None) is not None:
        return "vp"
    if "shift" in config and "num_train_timesteps" in config:
        return "flow"
    raise ValueError(f"scheduler {type(scheduler).__name__} follows none of the conventions {list(FAMILIES)}")


class LibraryModel:
    """``model(sample, timestep) -> prediction``: the exact class-``c`` model of ``gmm`` as ``scheduler`` calls it
    (module docstring)."""

    def __init__(self, gmm: ClassConditionalGMM, c: int | None, scheduler: object) -> None:
        if not isinstance(gmm, ClassConditionalGMM):
            raise TypeError(f"gmm must be a ClassConditionalGMM, got {type(gmm).__name__}")
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < gmm.num_classes):
            raise ValueError(f"c must be None or a class of the mixture in [0, {gmm.num_classes}), got {c!r}")
        self.gmm, self.c, self.scheduler, self.family = gmm, c, scheduler, family(scheduler)
        self.prediction = scheduler.config.get("prediction_type", "flow" if self.family == "flow" else "epsilon")
        if self.family == "vp" and self.prediction not in PREDICTIONS:
            raise ValueError(f"a VP scheduler's prediction_type must be one of {list(PREDICTIONS)}, got "
                             f"{self.prediction!r}")
        if self.family == "edm" and self.prediction not in ("epsilon", "v_prediction"):
            raise ValueError(f"an EDM scheduler's prediction_type must be 'epsilon' or 'v_prediction', got "
                             f"{self.prediction!r}")
        if self.family == "vp":
            abar = torch.as_tensor(scheduler.alphas_cumprod, dtype=torch.float64).cpu()
            self.table = frames.timestep_sigmas(abar)            # sigma of each integer timestep

    def sigma(self, timestep: Tensor | float, n: int = 1) -> Tensor:
        """The VE noise level ``(n,)`` float64 that ``timestep`` (a number or ``(n,)``) stands for."""
        t = as_batch_scalar(torch.as_tensor(timestep, dtype=torch.float64).cpu(), n, torch.float64,
                            torch.device("cpu"), "timestep", minimum=-math.inf)
        if self.family == "edm":
            return torch.exp(4.0 * t)
        if self.family == "flow":
            u = t / float(self.scheduler.config.num_train_timesteps)
            if bool(((u <= 0) | (u > 1)).any()):
                raise ValueError(f"a flow timestep must be in (0, num_train_timesteps], got {timestep!r}")
            return u / (1.0 - u)                                   # inf at u = 1
        last = self.table.numel() - 1
        if bool(((t < 0) | (t > last)).any()):
            raise ValueError(f"timestep must be in [0, {last}], got {timestep!r}")
        lo = t.floor().clamp(max=last - 1).long()
        return self.table[lo] + (t - lo) * (self.table[lo + 1] - self.table[lo])

    def __call__(self, sample: Tensor, timestep: Tensor | float, *args: object, **kwargs: object) -> Tensor:
        if not isinstance(sample, Tensor) or sample.ndim < 2 or sample[0].numel() != self.gmm.dim:
            raise ValueError(f"sample must be a tensor (N, ...) with {self.gmm.dim} numbers per row, got "
                             f"{getattr(sample, 'shape', type(sample).__name__)}")
        x = sample.reshape(sample.shape[0], -1).to(torch.float64).cpu()
        sigma = self.sigma(timestep, x.shape[0])
        return self._predict(x, sigma).to(sample).reshape(sample.shape)

    def _predict(self, x: Tensor, sigma: Tensor) -> Tensor:
        gmm = self.gmm
        if self.family == "flow":
            finite = torch.isfinite(sigma)
            out = x - class_moments(gmm, self.c)[0]              # u = 1: x is pure noise
            if bool(finite.any()):
                y, s = x[finite] * (1.0 + sigma[finite, None]), sigma[finite]
                out[finite] = frames.get("flow").predict(gmm.score(y, s, self.c), y, s)
            return out
        if self.family == "edm":
            data = float(self.scheduler.config.sigma_data)
            s = sigma[:, None]
            y = x * torch.sqrt(s * s + data * data)                 # the input is c_in y
            denoised = y + s * s * gmm.score(y, sigma, self.c)
            skip, out = data * data / (s * s + data * data), s * data / torch.sqrt(s * s + data * data)
            sign = 1.0 if self.prediction == "epsilon" else -1.0
            return (denoised - skip * y) / (sign * out)
        y = frames.get("eps").ve_state(x, sigma)                  # every VP model sees the VP state
        return frames.get(PREDICTIONS[self.prediction]).predict(gmm.score(y, sigma, self.c), y, sigma)


def as_image(x: Tensor) -> Tensor:
    """``x: (N, d)`` as ``(N, d, 1, 1)`` images, the shape an image scheduler or guider expects."""
    return x.reshape(*x.shape, 1, 1)


__all__ = ["FAMILIES", "PREDICTIONS", "LibraryModel", "as_image", "family"]
