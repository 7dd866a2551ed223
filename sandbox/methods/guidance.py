"""Guidance as wrappers around fields (not flags inside samplers).

Each wrapper returns a sampler-ready ``Field``: ``score(x: (N, d), sigma: (N,)) -> (N, d)`` (``sandbox.fields``).
A rule's signature is its schema (``validation.declared``): after the fields it combines, each parameter with its
limit and default, checked on construction; the method registry builds its exact and its nets' versions from the
same declaration.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Annotated

import torch

from ..core import frames
from ..core.fields import Field, conditional
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import NONNEGATIVE, POSITIVE, REAL, SEED, UNIT, Limit, as_count, as_number, declared
from . import theory

Tensor = torch.Tensor
__all__ = [
    "APG",
    "CFG",
    "SCHEDULES",
    "TIMES",
    "WINDOW",
    "CFGZeroStar",
    "ClassifierGuidance",
    "FeedbackGuidance",
    "IndependentConditionGuidance",
    "LinearCFG",
    "MagnitudeAwareCFG",
    "Optimum",
    "RescaledCFG",
    "ScheduledCFG",
    "TangentialCFG",
    "autoguidance",
    "class_moments",
    "conditional",
    "exact_cfg",
    "guidance_weight",
    "inflated",
    "model_guidance_iterates",
    "predictions",
    "schedule_time",
]


OPEN_END = Limit(lo=0.0, open=True, infinite=True)     # a window's upper end: positive, or inf for none


@declared(("sigma_lo", "sigma_hi"))
class CFG:
    """``s_w = s_cond + w (s_cond - s_uncond)``, optionally only for sigma in ``[sigma_lo, sigma_hi]``
    (guidance in a limited interval; elsewhere the conditional score is returned)."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 sigma_lo: Annotated[float, NONNEGATIVE] = 0.0, sigma_hi: Annotated[float, OPEN_END] = math.inf
                 ) -> None:
        if not callable(cond) or not callable(uncond):
            raise TypeError("cond and uncond must be fields: callables (x, sigma) -> score")
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


def inflated(gmm: ClassConditionalGMM, c: int, kappa: float) -> Field:
    """Class ``c``'s score of the same mixture with every covariance inflated by ``kappa^2 I``: at noise sigma, the
    class score at ``sqrt(sigma^2 + kappa^2)`` (an exactly known 'degraded model' for autoguidance)."""
    return lambda x, sigma: gmm.score(x, torch.sqrt(sigma * sigma + kappa * kappa), c)


@declared()
def autoguidance(gmm: ClassConditionalGMM, c: int, w: Annotated[float, NONNEGATIVE] = 0.0,
                 kappa: Annotated[float, POSITIVE] = 0.5) -> Field:
    """Autoguidance (Karras et al. 2024) on the exact mixture: ``s_c + w (s_c - s~_c)``, the degraded model's class
    score ``s~_c`` being the mixture's with covariances + ``kappa^2 I`` (``inflated``)."""
    return CFG(conditional(gmm.score, c), inflated(gmm, c, kappa), w)


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


@declared()
class ClassifierGuidance:
    """``s_u + (1 + w) grad_x log p_sigma(c | x)`` (Dhariwal & Nichol 2021, in this project's ``w``), the gradient by
    autograd of ``log_posterior(x, sigma) -> (N, K)``. With the exact noisy classifier it is the CFG score
    (``grad log p_sigma(c|x) = s_c - s_u``); with a learned one it is not."""

    def __init__(self, uncond: Field, log_posterior: Callable[[Tensor, Tensor], Tensor], c: int,
                 w: Annotated[float, NONNEGATIVE] = 0.0) -> None:
        self.uncond, self.log_posterior, self.c, self.w = uncond, log_posterior, int(c), w

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        with torch.enable_grad():
            y = x.detach().requires_grad_(True)
            grad = torch.autograd.grad(self.log_posterior(y, sigma)[:, self.c].sum(), y)[0]
        return self.uncond(x, sigma) + (1.0 + self.w) * grad.to(x.dtype)


FRAME = Limit(choices=frames.NAMES)      # where a rule with a nonlinear step applies it


@declared()
class APG:
    """Adaptive projected guidance (Sadat et al. 2024), on the predictions ``p`` of ``frame`` (its paper's: the
    denoised prediction ``D = x + sigma^2 s``, ``frames``):

        Delta = p_c - p_u;  Delta <- Delta + momentum Delta_prev  (the previous call's; momentum < 0 in the paper);
        Delta <- Delta min(1, r / ||Delta||)  (r = 0: no rescaling);
        Delta_par = (<Delta, p_c> / ||p_c||^2) p_c,  Delta_orth = Delta - Delta_par;
        p = p_c + w (Delta_orth + eta Delta_par),  returned as its score.

    Norms are per row. The momentum makes it stateful: build one per sampling run (``methods.field`` does).
    ``eta = 1, r = 0, momentum = 0`` is CFG (in every frame)."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 eta: Annotated[float, UNIT] = 0.0, r: Annotated[float, NONNEGATIVE] = 0.0,
                 momentum: Annotated[float, Limit(lo=-1.0, hi=1.0)] = 0.0, frame: Annotated[str, FRAME] = "x0") -> None:
        self.cond, self.uncond, self.frame = cond, uncond, frames.get(frame)
        self.w, self.eta, self.r, self.momentum = w, eta, r, momentum
        self._previous: Tensor | None = None

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        p_c, p_u = predictions(self.frame, self.cond, self.uncond, x, sigma)
        delta = p_c - p_u
        if self.momentum != 0.0 and self._previous is not None and self._previous.shape == delta.shape:
            delta = delta + self.momentum * self._previous
        self._previous = delta
        if self.r > 0:
            delta = delta * torch.clamp(self.r / delta.norm(dim=1, keepdim=True).clamp_min(1e-300), max=1.0)
        par = (delta * p_c).sum(1, keepdim=True) / p_c.square().sum(1, keepdim=True).clamp_min(1e-300) * p_c
        return self.frame.score(p_c + self.w * (delta - par + self.eta * par), x, sigma)


def predictions(frame: frames.Frame, cond: Field, uncond: Field, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """The conditional and unconditional predictions of ``frame`` at VE state ``x: (N, d)``: where a rule with a
    nonlinear step works."""
    return frame.predict(cond(x, sigma), x, sigma), frame.predict(uncond(x, sigma), x, sigma)


@declared()
class IndependentConditionGuidance:
    """Independent condition guidance, ICG (Sadat et al. 2024): ``s_c + w (s_c - s_k)``, the guide being the
    conditional score at a label ``k ~ pi`` drawn independently of the data. ``label="random"`` draws ``k`` afresh
    for every row at every call, as the paper samples it (from ``seed``: build one per sampling run, as
    ``methods.field`` does); ``label="expected"`` uses its expectation ``sum_k pi_k s_k``. ``score(x, sigma, c)`` is
    a labelled field (``c: (N,)``), ``prior: (K,)`` the labels' law."""

    def __init__(self, score: Callable[[Tensor, Tensor, Tensor], Tensor], c: int, prior: Tensor,
                 w: Annotated[float, NONNEGATIVE] = 0.0,
                 label: Annotated[str, Limit(choices=("random", "expected"))] = "random",
                 seed: Annotated[float, SEED] = 0.0) -> None:
        self.score, self.c, self.prior, self.label, self.w = score, int(c), prior, label, w
        self.generator = torch.Generator().manual_seed(int(seed))

    def guide(self, x: Tensor, sigma: Tensor) -> Tensor:
        """The guide ``s_k`` (one random ``k`` per row) or its expectation: ``(N, d)``."""
        n, prior = x.shape[0], self.prior.to(torch.float64).cpu()
        if self.label == "random":
            k = torch.multinomial(prior, n, replacement=True, generator=self.generator).to(x.device)
            return self.score(x, sigma, k)
        return sum(float(p) * self.score(x, sigma, torch.full((n,), k, device=x.device))
                   for k, p in enumerate(prior))

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        s_c = self.score(x, sigma, torch.full((x.shape[0],), self.c, device=x.device))
        return s_c + self.w * (s_c - self.guide(x, sigma))


@declared()
class CFGZeroStar:
    """CFG-Zero* (Fan et al. 2025) on the predictions ``v`` of ``frame`` (its paper's: rectified-flow velocities
    ``v = eps - x0``, ``frames``): per row ``alpha = <v_c, v_u> / ||v_u||^2``, ``v = alpha v_u + (1 + w) (v_c -
    alpha v_u)``, and zero-init: a zero prediction for ``sigma >= sigma_zero`` (its zeroed first steps;
    ``sigma_zero = 0``: none). In the flow frame a zero velocity holds ``x_t`` fixed, the VE score
    ``-y / (sigma (1 + sigma))``; in the score frame it is ``s = 0``."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 sigma_zero: Annotated[float, NONNEGATIVE] = 0.0, frame: Annotated[str, FRAME] = "flow") -> None:
        self.cond, self.uncond, self.frame = cond, uncond, frames.get(frame)
        self.w, self.sigma_zero = w, sigma_zero

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        v_c, v_u = predictions(self.frame, self.cond, self.uncond, x, sigma)
        alpha = (v_c * v_u).sum(1, keepdim=True) / v_u.square().sum(1, keepdim=True).clamp_min(1e-300)
        guided = alpha * v_u + (1.0 + self.w) * (v_c - alpha * v_u)
        if self.sigma_zero > 0:
            guided = torch.where((sigma >= self.sigma_zero)[:, None], torch.zeros_like(guided), guided)
        return self.frame.score(guided, x, sigma)


def model_guidance_iterates(s_c: Tensor, s_u: Tensor, w_mg: float, rounds: int) -> list[Tensor]:
    """The self-referential target of model guidance (Tang et al. 2025) as an iteration, each round fitting the
    previous round's target: ``s_0 = s_c``, ``s_{k+1} = s_c + w_mg (s_k - s_u)``. Its error to the fixed point
    ``s* = s_u + (s_c - s_u) / (1 - w_mg)`` shrinks by exactly ``w_mg`` per round; for ``w_mg >= 1`` it grows."""
    w_mg = as_number(w_mg, "w_mg", minimum=0.0)
    iterates = [s_c]
    for _ in range(as_count(rounds, "rounds")):
        iterates.append(s_c + w_mg * (iterates[-1] - s_u))
    return iterates


# ---------------------------------------------------------------------------------------------- the 2024-2026 rules
@declared()
class RescaledCFG:
    """CFG with ``guidance_rescale`` phi (Lin et al. 2024) on the predictions ``p`` of ``frame`` (its paper's:
    v-prediction; diffusers applies it to whatever its model predicts): per row, the guided prediction's standard
    deviation over its ``d`` coordinates (``d - 1`` degrees of freedom, as ``torch.std``) matched to the conditional
    one's, blended:

        g = p_c + w (p_c - p_u);   p = phi g std(p_c) / std(g) + (1 - phi) g.

    A row with ``std(g) = 0`` is left unrescaled. Needs ``d >= 2``."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 phi: Annotated[float, UNIT] = 0.7, frame: Annotated[str, FRAME] = "v") -> None:
        self.cond, self.uncond, self.frame, self.w, self.phi = cond, uncond, frames.get(frame), w, phi

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        if x.shape[1] < 2:
            raise ValueError(f"guidance_rescale needs d >= 2 (a standard deviation over a row's coordinates), got "
                             f"d = {x.shape[1]}")
        p_c, p_u = predictions(self.frame, self.cond, self.uncond, x, sigma)
        guided = p_c + self.w * (p_c - p_u)
        spread = guided.std(dim=1, keepdim=True)
        ratio = torch.where(spread > 0, p_c.std(dim=1, keepdim=True) / torch.where(spread > 0, spread, 1.0), 1.0)
        return self.frame.score(self.phi * guided * ratio + (1.0 - self.phi) * guided, x, sigma)


@declared()
class TangentialCFG:
    """Tangential damping CFG, TCFG (Kwon et al. 2025) on the predictions ``p`` of ``frame`` (its paper's: the
    noise prediction, which is the score times ``-sigma``, so the two frames give one rule): per row, the
    unconditional prediction keeps only its component along ``v_1``, the first right singular vector of the
    ``2 x d`` matrix ``[p_c; p_u]`` (the direction both predictions share; the second, "tangential" one is damped),
    and CFG uses it:

        p_u' = (p_u . v_1) v_1;   p = p_c + w (p_c - p_u').

    ``v_1`` is the top eigenvector of the ``2 x 2`` Gram matrix ``G = [p_c; p_u][p_c; p_u]^T`` mapped back,
    ``v_1 = [p_c; p_u]^T u_1 / |.|``, so ``p_u' = (p_u . a) a / |a|^2`` with ``a = u_11 p_c + u_12 p_u``: float64,
    no SVD. Where the two singular values are equal (``p_c`` and ``p_u`` orthogonal and of one length) ``v_1`` is
    not unique and the rule is discontinuous; any choice is the paper's."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 frame: Annotated[str, FRAME] = "eps") -> None:
        self.cond, self.uncond, self.frame, self.w = cond, uncond, frames.get(frame), w

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        p_c, p_u = predictions(self.frame, self.cond, self.uncond, x, sigma)
        gram = torch.stack([torch.stack([(p_c * p_c).sum(1), (p_c * p_u).sum(1)], 1),
                            torch.stack([(p_c * p_u).sum(1), (p_u * p_u).sum(1)], 1)], 1)     # (N, 2, 2)
        u = torch.linalg.eigh(gram).eigenvectors[..., -1]                                    # top: (N, 2)
        a = u[:, :1] * p_c + u[:, 1:] * p_u                                                  # along v_1
        norm2 = (a * a).sum(1, keepdim=True)
        damped = torch.where(norm2 > 0, (p_u * a).sum(1, keepdim=True) / torch.where(norm2 > 0, norm2, 1.0), 0.0) * a
        return self.frame.score(p_c + self.w * (p_c - damped), x, sigma)


@declared()
class MagnitudeAwareCFG:
    """MAMBO-G (Zhu et al. 2025), magnitude-aware guidance, on the predictions ``p`` of ``frame`` (its paper's: the
    flow velocity): per row, the strength is damped by the size of the guidance update relative to the
    unconditional prediction, over the row's ``d`` coordinates,

        r = |p_c - p_u| / |p_u|;   p = p_c + w exp(-alpha r) (p_c - p_u)

    (the paper's scale ``1 + (s_max - 1) exp(-alpha r)`` with ``w = s_max - 1``). A row with ``p_u = 0`` gets
    ``r = inf``: no guidance."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 alpha: Annotated[float, NONNEGATIVE] = 8.0, frame: Annotated[str, FRAME] = "flow") -> None:
        self.cond, self.uncond, self.frame, self.w, self.alpha = cond, uncond, frames.get(frame), w, alpha

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        p_c, p_u = predictions(self.frame, self.cond, self.uncond, x, sigma)
        shift = p_c - p_u
        size = p_u.norm(dim=1, keepdim=True)
        ratio = torch.where(size > 0, shift.norm(dim=1, keepdim=True) / torch.where(size > 0, size, 1.0), math.inf)
        return self.frame.score(p_c + self.w * torch.exp(-self.alpha * ratio) * shift, x, sigma)


SCHEDULES = ("constant", "linear", "cosine", "exponential", "window")
TIMES = ("ddpm", "log-sigma", "flow")


WINDOW = (0.28, 5.42)     # the sigma interval where interval guidance applies CFG (Kynkaanniemi et al. 2024, EDM2)


@functools.lru_cache(maxsize=1)
def _ddpm_log_sigmas() -> Tensor:
    """``log sigma`` of the 1000 timesteps of Stable Diffusion's scaled-linear schedule (``frames``), increasing;
    computed once (a schedule is evaluated at every sampler step; callers copy it with ``.to``, never write it)."""
    return frames.timestep_sigmas(frames.alphas_cumprod("scaled_linear", 1000)).log()


def schedule_time(time: str, sigma: Tensor, sigma_min: float = 0.002, sigma_max: float = 80.0) -> Tensor:
    """The time a guidance schedule runs in, 1 at the start of sampling and 0 at its end, clipped to ``[0, 1]``;
    ``sigma: (N,)`` -> ``(N,)``:

        ddpm        t / T, the DDPM timestep of sigma in Stable Diffusion's scaled-linear schedule (T = 1000 steps;
                    t / T = i / 999 at the i-th timestep's sigma, linear in log sigma between them): the sampler's
                    time of the models Wang et al. 2024 schedule
        log-sigma   log(sigma / sigma_min) / log(sigma_max / sigma_min)
        flow        sigma / (1 + sigma), rectified flow's t"""
    if time not in TIMES:
        raise ValueError(f"time must be one of {TIMES}, got {time!r}")
    if time == "flow":
        return sigma / (1.0 + sigma)
    if time == "log-sigma":
        return (torch.log(sigma / sigma_min) / math.log(sigma_max / sigma_min)).clamp(0.0, 1.0)
    grid = _ddpm_log_sigmas().to(sigma)
    position = torch.searchsorted(grid, sigma.log().clamp(float(grid[0]), float(grid[-1])).contiguous())
    i = position.clamp(1, grid.numel() - 1)
    lo, hi = grid[i - 1], grid[i]
    fraction = ((sigma.log().clamp(float(grid[0]), float(grid[-1])) - lo) / (hi - lo)).clamp(0.0, 1.0)
    return ((i - 1).to(sigma.dtype) + fraction) / (grid.numel() - 1)


def guidance_weight(schedule: str, w: float, sigma: Tensor, sigma_min: float, sigma_max: float,
                    decay: float = 2.0, sigma_lo: float = WINDOW[0], sigma_hi: float = WINDOW[1],
                    w_out: float = -0.5, time: str = "log-sigma") -> Tensor:
    """``w(sigma)`` of a guidance schedule over the time ``t = schedule_time(time, sigma, sigma_min, sigma_max)``
    (1 at the start of sampling, 0 at its end). ``sigma: (N,)`` -> ``(N,)``.

        constant      w
        linear        2 w (1 - t)                rising toward low noise, mean w over t (Wang et al. 2024)
        cosine        w (1 + cos(pi t))          rising toward low noise, mean w over t
        exponential   w exp(-decay (1 - t))      decaying from w as sampling proceeds (C^2FG-style)
        window        w for sigma in [sigma_lo, sigma_hi], w_out (may be negative) outside (Ventura et al. 2026)"""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    t = schedule_time(time, sigma, sigma_min, sigma_max)
    if schedule == "constant":
        return torch.full_like(sigma, w)
    if schedule == "linear":
        return 2.0 * w * (1.0 - t)
    if schedule == "cosine":
        return w * (1.0 + torch.cos(math.pi * t))
    if schedule == "exponential":
        return w * torch.exp(-decay * (1.0 - t))
    inside = (sigma >= sigma_lo) & (sigma <= sigma_hi)
    return torch.where(inside, torch.full_like(sigma, w), torch.full_like(sigma, w_out))


@declared(("sigma_min", "sigma_max"), ("sigma_lo", "sigma_hi"))
class ScheduledCFG:
    """``s_c + w(sigma) (s_c - s_u)`` with ``w(sigma)`` from ``guidance_weight`` over ``schedule_time(time, ...)``
    (``sigma_min``, ``sigma_max`` span the log-sigma time; ``decay`` shapes the exponential schedule, ``sigma_lo``,
    ``sigma_hi`` and ``w_out`` the window)."""

    def __init__(self, cond: Field, uncond: Field, w: Annotated[float, NONNEGATIVE] = 0.0,
                 schedule: Annotated[str, Limit(choices=SCHEDULES)] = "linear",
                 time: Annotated[str, Limit(choices=TIMES)] = "ddpm", sigma_min: Annotated[float, POSITIVE] = 0.002,
                 sigma_max: Annotated[float, POSITIVE] = 80.0, decay: Annotated[float, POSITIVE] = 2.0,
                 sigma_lo: Annotated[float, NONNEGATIVE] = WINDOW[0], sigma_hi: Annotated[float, POSITIVE] = WINDOW[1],
                 w_out: Annotated[float, REAL] = -0.5) -> None:
        self.cond, self.uncond, self.schedule, self.time, self.w = cond, uncond, schedule, time, w
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.shape = {"decay": decay, "sigma_lo": sigma_lo, "sigma_hi": sigma_hi, "w_out": w_out}

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        s_c = self.cond(x, sigma)
        w = guidance_weight(self.schedule, self.w, sigma, self.sigma_min, self.sigma_max, time=self.time,
                            **self.shape)
        return s_c + w.to(x.dtype)[:, None] * (s_c - self.uncond(x, sigma))


@declared()
class FeedbackGuidance:
    """Feedback guidance, FBG (Koulischer et al. 2025), with the exact posterior in place of the tracked one. FBG
    reads the conditional model as corrupted additively, ``pi p(x|c) + (1 - pi) p(x)`` (``pi``: the share of the
    true conditional, the authors' parameter and default 0.95); undoing it gives ``s_u + lambda (s_c - s_u)`` with
    the per-state scale of the authors' code (FelixKoulischer/FBG_using_edm2, ``R / (R - (1 - pi))``)

        lambda(x, sigma) = R / (R - (1 - pi)),  R = p_sigma(x|c) / p_sigma(x) = P(c | x) / pi_c,

    large where the class is unlikely, 1 where it is certain. In this project's ``w``: ``w(x, sigma) = lambda - 1``,
    capped at ``w`` (also where ``R <= 1 - pi``, where the correction has no solution).
    ``log_posterior(x, sigma) -> (N, K)``; ``log_prior``: ``log pi_c``."""

    def __init__(self, cond: Field, uncond: Field, log_posterior: Callable[[Tensor, Tensor], Tensor], c: int,
                 log_prior: float, w: Annotated[float, NONNEGATIVE] = 0.0, pi: Annotated[float, UNIT] = 0.95) -> None:
        self.cond, self.uncond, self.log_posterior, self.c = cond, uncond, log_posterior, int(c)
        self.log_prior, self.w, self.pi = float(log_prior), w, pi

    def scale(self, x: Tensor, sigma: Tensor) -> Tensor:
        """``w(x, sigma)``: ``(N,)``."""
        ratio = (1.0 - self.pi) * torch.exp(self.log_prior - self.log_posterior(x, sigma)[:, self.c])   # (1 - pi) / R
        w = ratio / (1.0 - ratio).clamp_min(torch.finfo(x.dtype).tiny)
        return torch.where(ratio < 1.0, w.clamp(max=self.w), torch.full_like(w, self.w))

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        s_c = self.cond(x, sigma)
        return s_c + self.scale(x, sigma)[:, None] * (s_c - self.uncond(x, sigma))


@declared()
class LinearCFG:
    """The linear approximation of CFG (Li, Wang and Qu 2025): the guidance term ``s_c - s_u`` replaced by that of
    Gaussian approximations, class ``N(mu_c, S_c)`` and data ``N(mu, S)`` (the mixture's moments):

        s = s_c + w g,   g = s^G_c - s^G_u = A_c (mu_c - mu) + M (x - mu),
        A = (S + sigma^2 I)^-1,  A_c = (S_c + sigma^2 I)^-1,  M = A - A_c

    ``terms`` splits ``g`` into the mean shift ``A_c (mu_c - mu)`` and the positive and negative contrastive terms
    ``M_+ (x - mu)``, ``M_- (x - mu)`` (``M``'s eigen-directions of positive and negative eigenvalue: where the class
    is narrower than the data, guidance pulls toward its mean; where wider, it pushes out)."""

    def __init__(self, cond: Field, gmm: ClassConditionalGMM, c: int, w: Annotated[float, NONNEGATIVE] = 0.0) -> None:
        self.cond, self.w = cond, w
        (self.mu_c, self.cov_c), (self.mu, self.cov) = class_moments(gmm, c), class_moments(gmm, None)

    def terms(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Mean shift, positive and negative contrastive terms, each ``(N, d)``."""
        eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        s2 = (sigma * sigma).to(x.dtype)[:, None, None]
        a_c = torch.linalg.inv(self.cov_c.to(x) + s2 * eye)                          # (N, d, d)
        m = torch.linalg.inv(self.cov.to(x) + s2 * eye) - a_c
        lam, u = torch.linalg.eigh(m)
        along = torch.einsum("nji,nj->ni", u, x - self.mu.to(x))                      # U^T (x - mu)
        pos = torch.einsum("nij,nj->ni", u, lam.clamp(min=0.0) * along)
        neg = torch.einsum("nij,nj->ni", u, lam.clamp(max=0.0) * along)
        return torch.einsum("nij,j->ni", a_c, (self.mu_c - self.mu).to(x)), pos, neg

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        shift, pos, neg = self.terms(x, sigma)
        return self.cond(x, sigma) + self.w * (shift + pos + neg)


def class_moments(gmm: ClassConditionalGMM, c: int | None) -> tuple[Tensor, Tensor]:
    """Mean ``(d,)`` and covariance ``(d, d)`` of class ``c`` (``None``: of the whole mixture), float64:
    ``sum_j phi_j mu_j`` and ``sum_j phi_j (S_j + mu_j mu_j^T) - mean mean^T``."""
    classes = range(gmm.num_classes) if c is None else (c,)
    weight = torch.cat([gmm.class_probs[k] * gmm.weights[k] for k in classes]) if c is None else gmm.weights[c]
    weight = weight / weight.sum()
    mu = torch.cat([gmm.means[k] for k in classes])
    covs = torch.cat([gmm.dense_covs()[k] for k in classes])
    mean = weight @ mu
    centred = mu - mean
    return mean, torch.einsum("j,jab->ab", weight, covs) + torch.einsum("j,ja,jb->ab", weight, centred, centred)
