"""Samplers in the VE / EDM frame, as plain functions of (score callable, x_init, sigmas).

A field here is ``score(x: (N, d), sigma: (N,)) -> (N, d)`` (``sandbox.fields.Field``); bind a class or guidance
with the wrappers in ``sandbox.guidance``. A k-diffusion-style denoiser ``D(x, sigma)`` (e.g. a ``Denoiser`` net,
``lambda x, s: net(x, s, c)``) drives them through ``fields.from_denoiser(D)``. ``sigmas`` is a decreasing 1-D
tensor, usually ending at 0 (``schedules.edm_sigmas``); ``x_init`` should be a draw of ``p_{sigmas[0]}``.

    probability-flow ODE   dx/dsigma = -sigma s(x, sigma)   (Euler, Heun; ``flow_euler``: Euler in the flow frame;
                           ``native(frame)``: the one a frame's models are run with)
    reverse SDE (VE)       x_{i+1} = x_i + (sigma_i^2 - sigma_{i+1}^2) s(x_i, sigma_i)
                                     + sqrt(sigma_i^2 - sigma_{i+1}^2) z,   z ~ N(0, I)
    predictor-corrector    an Euler ODE step of one field, then Langevin steps of another at sigma_{i+1},
                           x += eps s'(x, sigma_{i+1}) + sqrt(2 eps) z,  eps = (sigma_i^2 - sigma_{i+1}^2) / 2

Two sampler-level guidance variants (they are not fields):

    cfg_pp     CFG++ (Chung et al. 2024), a DDIM-type step that denoises with the guided denoiser
               D_lam = D_u + lam (D_c - D_u) and renoises with the unconditional noise prediction:
               x_{i+1} = D_lam(x_i) + sigma_{i+1} (x_i - D_u(x_i)) / sigma_i
    gibbs      Gibbs-like refinement (classifier-free Gibbs-like guidance, 2025): ``rounds`` times, noise the
               samples to ``sigma_star`` and run the guided ODE back to 0

The SDE's drift and noise split into the ODE's half of the drift and a Langevin step of size eps, so the SDE under
``s_c + w (s_c - s_u)`` is, as the steps shrink, the predictor-corrector sampler with predictor ``s_c`` and corrector
``s_c + 2w (s_c - s_u)`` (Bradley & Nakkiran's reading of CFG, docs/theory.md, section 13): both draw the same ``z``
per step from the same generator, so the two can be compared path by path.

Every sampler takes a ``callback``, called after each step with a ``Step`` (as k-diffusion's samplers do): the step's
index, its noise levels, the state it reached and the denoiser's estimate ``D = x + sigma^2 s`` it stepped with.
``path(sampler, ...)`` collects every iterate with one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..core import frames
from ..core.fields import Field
from ..core.schedules import edm_sigmas
from ..core.validation import as_callable, as_generator, as_int, as_number

Tensor = torch.Tensor


@dataclass(frozen=True)
class Step:
    """What a sampler reports to its ``callback`` after step ``i``: from noise level ``sigma`` to ``sigma_next`` it
    reached ``x: (N, d)``; ``denoised: (N, d)`` is the denoiser's estimate ``D = x_i + sigma^2 s(x_i, sigma)`` the step
    started from (the guided one for a guided field; ``None`` where the step has none: ``integrate``'s general
    drift, a Gibbs round)."""

    i: int
    sigma: Tensor
    sigma_next: Tensor
    x: Tensor
    denoised: Tensor | None = None


Callback = Callable[[Step], None]


def euler_ode(score: Field, x: Tensor, sigmas: Tensor, callback: Callback | None = None,
              progress: bool = False) -> Tensor:
    """Euler steps of the probability-flow ODE: ``x += (sigma_{i+1} - sigma_i) (-sigma_i s(x, sigma_i))``."""
    return _ode(score, x, sigmas, callback, progress, heun=False)


def heun_ode(score: Field, x: Tensor, sigmas: Tensor, callback: Callback | None = None,
             progress: bool = False) -> Tensor:
    """Heun (EDM Algorithm 1, deterministic): Euler predictor, trapezoidal corrector except into sigma = 0."""
    return _ode(score, x, sigmas, callback, progress, heun=True)


def flow_euler(score: Field, x: Tensor, sigmas: Tensor, callback: Callback | None = None,
               progress: bool = False) -> Tensor:
    """Euler steps in the rectified-flow frame, as the SD3 and Flux pipelines step (``frames``): with
    ``t = sigma / (1 + sigma)`` and ``x_t = x / (1 + sigma)``, ``x_t += (t_{i+1} - t_i) v(x_t, t_i)``,
    ``v = -x - sigma (1 + sigma) s(x, sigma)``. States in and out (and in a ``Step``) are VE states, as every
    sampler's. (Deterministic DDIM is ``euler_ode``: its step ``D + sigma_{i+1} eps_hat`` is the Euler step in
    ``x / alpha_t`` and ``sigma``, Karras et al. 2022.)"""
    sigmas = _check(x, sigmas, callback, score=score)
    flow = frames.get("flow")
    for i in tqdm(range(len(sigmas) - 1), desc="flow euler", disable=not progress, leave=False):
        s, s_next = sigmas[i], sigmas[i + 1]
        score_i = _evaluate(score, x, s)
        v = flow.predict(score_i, x, s)
        x_next = (x / (1 + s) + (s_next / (1 + s_next) - s / (1 + s)) * v) * (1 + s_next)
        x = _report(callback, i, s, s_next, x_next, x + s * s * score_i)
    return x


NATIVE = {"heun": heun_ode, "ddim": euler_ode, "flow-euler": flow_euler}     # frames.Frame.sampler -> sampler


def native(frame: str) -> Callable[..., Tensor]:
    """The deterministic sampler models of ``frame`` are run with (``frames.Frame.sampler``): EDM's Heun for the score
    and x0 frames, DDIM (``euler_ode``) for the VP ones, Euler in ``t`` for rectified flow."""
    return NATIVE[frames.get(frame).sampler]


def euler_maruyama(score: Field, x: Tensor, sigmas: Tensor, generator: torch.Generator | int | None = None,
                   callback: Callback | None = None, progress: bool = False) -> Tensor:
    """Euler-Maruyama steps of the VE reverse SDE (module docstring); no noise is added into sigma = 0."""
    sigmas = _check(x, sigmas, callback, score=score)
    g = as_generator(generator, x.device)
    for i in tqdm(range(len(sigmas) - 1), desc="sde", disable=not progress, leave=False):
        s, s_next = sigmas[i], sigmas[i + 1]
        var = s * s - s_next * s_next
        score_i = _evaluate(score, x, s)
        x_next = x + var * score_i
        if s_next > 0:
            x_next = x_next + var.sqrt() * torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=g)
        x = _report(callback, i, s, s_next, x_next, x + s * s * score_i)
    return x


def predictor_corrector(predictor: Field, corrector: Field, x: Tensor, sigmas: Tensor,
                        generator: torch.Generator | int | None = None, corrector_steps: int = 1,
                        callback: Callback | None = None, progress: bool = False) -> Tensor:
    """Per step: Euler ODE step of ``predictor`` from sigma_i to sigma_{i+1}, then ``corrector_steps`` Langevin
    steps of ``corrector`` at sigma_{i+1} with eps = (sigma_i^2 - sigma_{i+1}^2) / 2 each (module docstring); no
    correction at sigma = 0. With one corrector step the noise is drawn exactly as ``euler_maruyama`` draws it."""
    sigmas = _check(x, sigmas, callback, predictor=predictor, corrector=corrector)
    corrector_steps = as_int(corrector_steps, "corrector_steps", minimum=1)
    g = as_generator(generator, x.device)
    for i in tqdm(range(len(sigmas) - 1), desc="pc", disable=not progress, leave=False):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = _drift(predictor, x, s)
        x_next = x + (s_next - s) * d
        if s_next > 0:
            eps = 0.5 * (s * s - s_next * s_next)
            for _ in range(corrector_steps):
                x_next = x_next + eps * _evaluate(corrector, x_next, s_next) \
                    + (2 * eps).sqrt() * torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=g)
        x = _report(callback, i, s, s_next, x_next, x - s * d)
    return x


def cfg_pp(cond: Field, uncond: Field, lam: float, x: Tensor, sigmas: Tensor,
           callback: Callback | None = None, progress: bool = False) -> Tensor:
    """CFG++ steps (module docstring) with denoisers ``D = x + sigma^2 s`` of the two fields; at ``lam = 1`` the
    denoiser is the conditional one and the renoising still the unconditional one. Into sigma = 0 the step is
    ``D_lam``."""
    sigmas = _check(x, sigmas, callback, cond=cond, uncond=uncond)
    lam = as_number(lam, "lam")
    for i in tqdm(range(len(sigmas) - 1), desc="cfg++", disable=not progress, leave=False):
        s, s_next = sigmas[i], sigmas[i + 1]
        d_u = x + s * s * _evaluate(uncond, x, s)
        d_c = x + s * s * _evaluate(cond, x, s)
        guided = d_u + lam * (d_c - d_u)
        x = _report(callback, i, s, s_next, guided + (s_next / s) * (x - d_u), guided)
    return x


def gibbs(score: Field, x: Tensor, sigma_star: float, steps: int, rounds: int,
          generator: torch.Generator | int | None = None, callback: Callback | None = None,
          progress: bool = False) -> Tensor:
    """Gibbs-like refinement of samples ``x`` (module docstring): ``rounds`` times ``x <- ODE_score(x + sigma_star z)``,
    the Heun ODE of ``score`` over the EDM grid of ``steps`` steps from ``sigma_star`` to 0. ``callback`` receives
    each round's result (``Step.i`` the round, from ``sigma_star`` to 0)."""
    sigma_star = as_number(sigma_star, "sigma_star", minimum=0.0, strict=True)
    rounds = as_int(rounds, "rounds", minimum=0)
    grid = edm_sigmas(as_int(steps, "steps", minimum=1), min(0.002, sigma_star / 2), sigma_star)
    grid = _check(x, grid, callback, score=score)
    g = as_generator(generator, x.device)
    for i in tqdm(range(rounds), desc="gibbs", disable=not progress, leave=False):
        noisy = x + sigma_star * torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=g)
        x = _report(callback, i, grid[0], grid[-1], _steps(lambda y, s: _drift(score, y, s), noisy, grid, None, False,
                                                           heun=True))
    return x


def _ode(score: Field, x: Tensor, sigmas: Tensor, callback: Callback | None, progress: bool, heun: bool) -> Tensor:
    sigmas = _check(x, sigmas, callback, score=score)
    return _steps(lambda y, s: _drift(score, y, s), x, sigmas, callback, progress, heun, denoised=True)


def integrate(drift: Callable[[Tensor, Tensor], Tensor], x: Tensor, sigmas: Tensor, heun: bool = True,
              callback: Callback | None = None, progress: bool = False) -> Tensor:
    """Euler or Heun (EDM Algorithm 1) steps of ``dx/dsigma = drift(x, sigma)`` along ``sigmas``, decreasing to
    sample or increasing to run the flow forward (a likelihood's augmented state ``(x, int div f)``); Heun's
    corrector is skipped into sigma = 0. ``x: (N, k)``, ``drift(x, sigma: scalar) -> (N, k)``; ``callback`` gets each
    step without a denoised estimate (the drift need not be a score's). The samplers' ODE steps are this loop with
    the drift ``-sigma s(x, sigma)``."""
    as_callable(drift, "drift", "drift(x: (N, k), sigma) -> (N, k)")
    if isinstance(sigmas, Tensor) and sigmas.ndim == 1 and sigmas.numel() >= 2 and bool((sigmas.diff() > 0).all()):
        sigmas = _check(x, sigmas.flip(0), callback, monotone=True).flip(0)       # forward: the same checks, reversed
    else:
        sigmas = _check(x, sigmas, callback, monotone=True)
    return _steps(drift, x, sigmas, callback, progress, heun)


def _steps(drift: Callable[[Tensor, Tensor], Tensor], x: Tensor, sigmas: Tensor, callback: Callback | None,
           progress: bool, heun: bool, denoised: bool = False) -> Tensor:
    """The one loop of the ODE steps (``integrate``), on a checked state and grid; with ``denoised`` the drift is a
    score's, ``-sigma s``, and the step's denoised estimate ``x + sigma^2 s = x - sigma drift`` is reported."""
    for i in tqdm(range(len(sigmas) - 1), desc="heun" if heun else "euler", disable=not progress, leave=False):
        s, s_next = sigmas[i], sigmas[i + 1]
        d0 = d = drift(x, s)
        if heun and s_next > 0:
            d = 0.5 * (d + drift(x + (s_next - s) * d, s_next))
        x = _report(callback, i, s, s_next, x + (s_next - s) * d, x - s * d0 if denoised else None)
    return x


def _drift(score: Field, x: Tensor, s: Tensor) -> Tensor:
    """``dx/dsigma = -sigma s(x, sigma)``."""
    return -s * _evaluate(score, x, s)


def _evaluate(score: Field, x: Tensor, s: Tensor) -> Tensor:
    """``score(x, sigma)``, refused unless it has the shape of ``x`` and is finite (never silently broadcast)."""
    out = score(x, s.expand(x.shape[0]))
    if not isinstance(out, Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the field must return a tensor of shape {tuple(x.shape)} (that of x), got {got} "
                         f"at sigma={float(s):.4g}")
    if not bool(torch.isfinite(out).all()):
        raise FloatingPointError(f"the field returned non-finite values at sigma={float(s):.4g}")
    return out


def _report(callback: Callback | None, i: int, sigma: Tensor, sigma_next: Tensor, x: Tensor,
            denoised: Tensor | None = None) -> Tensor:
    """``x``, after telling ``callback`` about step ``i``."""
    if callback is not None:
        callback(Step(i, sigma, sigma_next, x, denoised))
    return x


def path(sampler: Callable[..., Tensor], *args: object, **kwargs: object) -> Tensor:
    """Every iterate of ``sampler(*args, **kwargs)`` (one of this module's, its arguments as it takes them): the
    start, then each step's state, ``(steps + 1, N, d)``."""
    start = next((a for a in args if isinstance(a, Tensor) and a.ndim == 2), None)
    if start is None:
        raise ValueError("path needs the sampler's starting state x: (N, d) among its positional arguments")
    states = [start.detach().clone()]
    sampler(*args, callback=lambda step: states.append(step.x.detach().clone()), **kwargs)
    return torch.stack(states)


def _check(x: Tensor, sigmas: Tensor, callback: Callback | None = None, monotone: bool = False,
           **fields: object) -> Tensor:
    """Validate the state, the sigma grid (strictly decreasing), the callback and each field (by its parameter name);
    ``monotone``: the message of a grid that may run either way (``integrate``)."""
    for name, field in fields.items():
        as_callable(field, name, "field(x: (N, d), sigma: (N,)) -> (N, d)")
    if callback is not None:
        as_callable(callback, "callback", "callback(step: samplers.Step) -> None")
    if not isinstance(x, Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a tensor of shape (N, d), got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating tensor, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite; it contains NaN or Inf")
    if not isinstance(sigmas, Tensor) or sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas must be a 1-D tensor with at least 2 noise levels")
    if not bool(torch.isfinite(sigmas).all()) or bool((sigmas < 0).any()) or bool((sigmas.diff() >= 0).any()):
        raise ValueError(f"sigmas must be finite, >= 0 and strictly {'monotone' if monotone else 'decreasing'}")
    return sigmas.to(dtype=x.dtype, device=x.device)
