"""Library schedulers against the exact probability-flow path (diffusers' interface; docs/theory.md, "Library code
under exact test").

A scheduler is run as a diffusers pipeline runs it, on the exact model of class ``c`` (``library_models``):
``set_timesteps(steps)``, then for each timestep ``model_input = scale_model_input(sample, t)``, ``sample =
step(model(model_input, t), t, sample).prev_sample``. It starts from states ``y ~ p_{sigma_0}(. | c)`` drawn exactly
at the noise level of its first timestep, written in its own convention (``start``), and its final samples are
compared with the exact probability-flow path from the same states, integrated by scipy's DOP853 to a tolerance far
below the errors measured (``reference``). The ODE is integrated in the flow frame's coordinates (``u = sigma / (1 +
sigma)``, ``x_u = y / (1 + sigma)``), where it is smooth down to the data and up to pure noise (``u = 1``).

The error is the RMS over samples of the distance to the reference, in units of the data's standard deviation (the
root of the mean per-coordinate variance of ``p(x | c)``); the empirical order of convergence is the slope of
``-log error`` against ``log steps`` between consecutive step counts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from ..core import frames
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_count, as_int
from ..methods.guidance import class_moments
from ..methods.library_models import LibraryModel, family

Tensor = torch.Tensor
RTOL = 1e-11          # the reference ODE's tolerances, in units of the state (the data are O(1))


def start(scheduler: object, y: Tensor, sigma: float) -> Tensor:
    """The sample ``scheduler`` starts from for VE states ``y: (N, d)`` at noise level ``sigma``, in its own state
    convention: VP states for schedulers that step them (``init_noise_sigma == 1``: DDIM, DPM-Solver, UniPC), VE
    states for those that step ``x0 + sigma eps`` (Euler, Heun, LMS, the EDM ones), flow states for flow matching."""
    kind = family(scheduler)
    if kind == "flow":
        return y / (1.0 + sigma) if math.isfinite(sigma) else y
    if kind == "vp" and float(scheduler.init_noise_sigma) == 1.0:
        return y / math.sqrt(1.0 + sigma * sigma)
    return y


def first_sigma(scheduler: object, model: LibraryModel) -> float:
    """The VE noise level of ``scheduler``'s first timestep (after ``set_timesteps``)."""
    return float(model.sigma(scheduler.timesteps[0]))


def run(scheduler: object, model: LibraryModel, sample: Tensor) -> Tensor:
    """The samples ``scheduler`` ends at from ``sample`` (its state convention), calling ``model`` as a pipeline
    does; ``set_timesteps`` must have been called."""
    scale = getattr(scheduler, "scale_model_input", None)        # flow-matching schedulers have none
    for t in scheduler.timesteps:
        model_input = sample if scale is None else scale(sample, t)
        sample = scheduler.step(model(model_input, t), t, sample).prev_sample
    return sample


def reference(gmm: ClassConditionalGMM, c: int | None, y: Tensor, sigma: float) -> Tensor:
    """The exact probability-flow path of class ``c`` from VE states ``y: (N, d)`` at ``sigma`` (``inf``: ``y`` is
    pure noise ``eps``) down to sigma = 0, by DOP853 in flow coordinates: ``dx/du = E[eps - x0 | x_u]``."""
    n, d = y.shape
    flow = frames.get("flow")
    mean = class_moments(gmm, c)[0]

    def velocity(u: float, state: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(state).reshape(n, d)
        if u >= 1.0:
            return (x - mean).reshape(-1).numpy()
        s = torch.full((n, 1), u / (1.0 - u), dtype=torch.float64)
        ve = x * (1.0 + s)
        # the flow frame's prediction a s + b y (frames), written out so that u = 0 (sigma = 0) is included
        return (flow.a(s) * gmm.score(ve, s[:, 0], c) + flow.b(s) * ve).reshape(-1).numpy()

    u0 = 1.0 if not math.isfinite(sigma) else sigma / (1.0 + sigma)
    x0 = (y if not math.isfinite(sigma) else y / (1.0 + sigma)).to(torch.float64).reshape(-1).numpy()
    solved = solve_ivp(velocity, (u0, 0.0), x0, method="DOP853", rtol=RTOL, atol=RTOL)
    if not solved.success:
        raise RuntimeError(f"the reference ODE did not converge: {solved.message}")
    return torch.from_numpy(solved.y[:, -1]).reshape(n, d)


def data_scale(gmm: ClassConditionalGMM, c: int | None) -> float:
    """The data's standard deviation: the root of the mean per-coordinate variance of ``p(x | c)``."""
    return float(torch.diagonal(class_moments(gmm, c)[1]).mean().sqrt())


@dataclass(frozen=True)
class Run:
    """One scheduler at one step count: its RMS error to the exact path (in data standard deviations) and the
    noise level it started from."""

    steps: int
    error: float
    sigma_start: float


def convergence(make: object, gmm: ClassConditionalGMM, c: int | None, steps: tuple[int, ...], n: int = 256,
                seed: int = 0) -> list[Run]:
    """``make()`` -> a fresh scheduler, run at each step count of ``steps`` from exact states of class ``c``
    (``n`` of them, drawn with ``seed``) and compared with the exact path from the same states."""
    n, seed = as_count(n, "n"), as_int(seed, "seed", minimum=0)
    scale = data_scale(gmm, c)
    out = []
    for count in steps:
        scheduler = make()
        scheduler.set_timesteps(as_count(count, "each of steps"))
        model = LibraryModel(gmm, c, scheduler)
        sigma = first_sigma(scheduler, model)
        y = (torch.randn(n, gmm.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
             if not math.isfinite(sigma) else gmm.sample(n, c=c, sigma=sigma, generator=seed))
        end = run(scheduler, model, start(scheduler, y, sigma)).to(torch.float64)
        exact = reference(gmm, c, y, sigma)
        out.append(Run(count, float((end - exact).square().sum(1).mean().sqrt()) / scale, sigma))
    return out


def orders(runs: list[Run]) -> list[float]:
    """The empirical order between consecutive step counts: ``log(e_i / e_{i+1}) / log(n_{i+1} / n_i)``."""
    return [math.log(a.error / b.error) / math.log(b.steps / a.steps) for a, b in itertools.pairwise(runs)]


# ---------------------------------------------------------------------------------------------- guiders
SIGMAS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 14.0)      # where a guider's prediction is compared with the rule's


def guider_error(guider: object, method: str, gmm: ClassConditionalGMM, c: int, prediction: str, w: float,
                 sigmas: tuple[float, ...] = SIGMAS, n: int = 256, seed: int = 0, **params: float | str) -> float:
    """The largest relative difference between ``guider``'s guided prediction and the sandbox's rule ``method`` at
    strength ``w`` (this project's convention; ``params`` its other parameters), both as ``prediction`` (a frame's
    name: the predictions the guider combines, e.g. ``"eps"`` for Stable Diffusion) of
    the exact conditional and unconditional models of class ``c``: over exact states ``y ~ p_sigma(. | c)`` at each
    of ``sigmas``, ``max |g - r| / max |r|``. The guider is told each step (``set_state``) as a pipeline would."""
    from .. import methods

    predict = frames.get(prediction)
    worst = 0.0
    for i, sigma in enumerate(sigmas):
        y = gmm.sample(as_count(n, "n"), c=c, sigma=sigma, generator=as_int(seed, "seed", minimum=0) + i)
        s = torch.full((len(y),), float(sigma), dtype=torch.float64)
        cond, uncond = (predict.predict(gmm.score(y, s, k), y, s) for k in (c, None))
        guider.set_state(i, len(sigmas), torch.tensor(999 - i))
        guided = guider.forward(cond.reshape(*cond.shape, 1, 1), uncond.reshape(*uncond.shape, 1, 1)).pred
        rule = methods.field(method, gmm, c, w=w, **params)
        expected = predict.predict(rule(y, s), y, s)
        worst = max(worst, float((guided.reshape(cond.shape).to(torch.float64) - expected).abs().max()
                                 / expected.abs().max()))
    return worst
