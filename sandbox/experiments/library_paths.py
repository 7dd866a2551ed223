"""Library schedulers run on the exact model, against exact answers (diffusers' interface; docs/theory.md, "Library
code under exact test").

A scheduler is run as a diffusers pipeline runs it, on the exact model of class ``c`` (``library_models``):
``set_timesteps(steps)``, then for each timestep ``model_input = scale_model_input(sample, t)``, ``sample =
step(model(model_input, t), t, sample).prev_sample``. It starts from states ``y ~ p_{sigma_0}(. | c)`` drawn exactly
at the noise level of its first timestep, written in its own convention (``start``).

A deterministic scheduler's final samples are compared with the exact probability-flow path from the same states,
integrated by scipy's DOP853 to a tolerance far below the errors measured (``reference``), in the flow frame's
coordinates (``u = sigma / (1 + sigma)``, ``x_u = y / (1 + sigma)``), where it is smooth down to the data and up to
pure noise (``u = 1``). The error is the RMS over samples of the distance to the reference, in units of the data's
standard deviation (the root of the mean per-coordinate variance of ``p(x | c)``); the empirical order of
convergence is the slope of ``-log error`` against ``log steps`` between consecutive step counts (``convergence``).

What every scheduler's final samples should be is a law, ``p_sigma_end(x | c)``: they are compared with exact draws
of it by the energy distance (with its bootstrap interval) and a permutation test of equal laws (scipy's
``permutation_test``): ``law``. For a stochastic scheduler, which has no path to follow, that is the only test.
"""

from __future__ import annotations

import inspect
import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp
from scipy.stats import permutation_test

from ..core import frames
from ..core.fields import Field, conditional
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_count, as_int, as_number
from ..methods.guidance import class_moments
from ..methods.library_models import LibraryModel, family
from . import metrics

Tensor = torch.Tensor
RTOL = 1e-11          # the reference ODE's tolerances, in units of the state (the data are O(1))
# the reference stops here instead of at sigma = 0 (where a rule that changes frames is not defined): the rest of the
# path moves a state by about sigma^2 |s| / 2, below 1e-15 for data whose components are not degenerate
SIGMA_FLOOR = 1e-9


def _scale(scheduler: object, sigma: float) -> float:
    """The factor from VE states to ``scheduler``'s samples at ``sigma``: VP states for schedulers that step them
    (``init_noise_sigma == 1``: DDIM, DPM-Solver, UniPC), VE states for those that step ``x0 + sigma eps`` (Euler,
    Heun, LMS, the EDM ones), flow states for flow matching."""
    kind = family(scheduler)
    if kind == "flow":
        return 1.0 / (1.0 + sigma) if math.isfinite(sigma) else 1.0
    if kind == "vp" and float(scheduler.init_noise_sigma) == 1.0:
        return 1.0 / math.sqrt(1.0 + sigma * sigma)
    return 1.0


def start(scheduler: object, y: Tensor, sigma: float) -> Tensor:
    """The sample ``scheduler`` starts from for VE states ``y: (N, d)`` at ``sigma`` (``inf``: ``y`` is the pure
    noise of a flow-matching start), in its own state convention."""
    return y * _scale(scheduler, sigma)


def end_sigma(scheduler: object) -> float:
    """The VE noise level ``scheduler``'s final samples are at (after ``set_timesteps``): its last sigma, 0 for most;
    the schedule's first timestep's for DDIM without ``set_alpha_to_one`` (as Stable Diffusion ships it); 0 for
    DDPM, whose last step returns its x0 prediction."""
    final = getattr(scheduler, "final_alpha_cumprod", None)
    if final is not None:
        abar = float(final)
        return math.sqrt((1.0 - abar) / abar)
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is None:          # DDPM: its last step returns the x0 it predicts
        return 0.0
    last = float(sigmas[-1])
    return last / (1.0 - last) if family(scheduler) == "flow" else last


def first_sigma(scheduler: object, model: LibraryModel) -> float:
    """The VE noise level of ``scheduler``'s first timestep (after ``set_timesteps``)."""
    return float(model.sigma(scheduler.timesteps[0]))


def run(scheduler: object, model: object, sample: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """The samples ``scheduler`` ends at from ``sample`` (its state convention), calling ``model(model_input,
    timestep)`` as a pipeline does; ``set_timesteps`` must have been called. A stochastic scheduler draws its noise
    from ``generator``."""
    scale = getattr(scheduler, "scale_model_input", None)        # flow-matching schedulers have none
    takes = "generator" in inspect.signature(scheduler.step).parameters      # deterministic ones may not
    noise = {"generator": generator} if generator is not None and takes else {}
    for t in scheduler.timesteps:
        model_input = sample if scale is None else scale(sample, t)
        sample = scheduler.step(model(model_input, t), t, sample, **noise).prev_sample
    return sample


class Guided:
    """``guider``'s combination of the exact conditional and unconditional models, as one model that tells the
    guider each step (``set_state``) as a pipeline does."""

    def __init__(self, guider: object, cond: LibraryModel, uncond: LibraryModel, steps: int) -> None:
        self.guider, self.cond, self.uncond, self.steps, self.step = guider, cond, uncond, steps, 0

    def __call__(self, model_input: Tensor, timestep: Tensor) -> Tensor:
        self.guider.set_state(self.step, self.steps, timestep)
        self.step += 1
        return self.guider.forward(self.cond(model_input, timestep), self.uncond(model_input, timestep)).pred


def reference(field: Field, y: Tensor, sigma: float, until: float = 0.0, mean: Tensor | None = None) -> Tensor:
    """The exact probability-flow path of the VE score ``field`` from VE states ``y: (N, d)`` at ``sigma`` down to
    ``until``, as VE states, by DOP853 in flow coordinates: ``dx/du = v(x_u, u)``, the field's flow velocity. From pure
    noise (``sigma = inf``: ``y`` is ``eps``) the velocity at ``u = 1`` is ``x - E[x0]``: ``mean`` is ``E[x0]``."""
    n, d = y.shape
    flow = frames.get("flow")
    if not math.isfinite(sigma) and mean is None:
        raise ValueError("a path from pure noise (sigma = inf) needs mean, E[x0] of its law")

    def velocity(u: float, state: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(state).reshape(n, d)
        if u >= 1.0:
            return (x - mean).reshape(-1).numpy()
        s = torch.full((n, 1), u / (1.0 - u), dtype=torch.float64)
        ve = x * (1.0 + s)
        # the flow frame's prediction a s + b y (frames), written out so that u = 0 (sigma = 0) is included
        return (flow.a(s) * field(ve, s[:, 0]) + flow.b(s) * ve).reshape(-1).numpy()

    u0 = 1.0 if not math.isfinite(sigma) else sigma / (1.0 + sigma)
    x0 = (y if not math.isfinite(sigma) else y / (1.0 + sigma)).to(torch.float64).reshape(-1).numpy()
    end = max(until, SIGMA_FLOOR)
    solved = solve_ivp(velocity, (u0, end / (1.0 + end)), x0, method="DOP853", rtol=RTOL, atol=RTOL)
    if not solved.success:
        raise RuntimeError(f"the reference ODE did not converge: {solved.message}")
    return torch.from_numpy(solved.y[:, -1]).reshape(n, d) * (1.0 + end)


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


def prepared(make: object, gmm: ClassConditionalGMM, c: int | None, steps: int, n: int, seed: int
             ) -> tuple[object, LibraryModel, float, float, Tensor]:
    """A fresh scheduler from ``make()`` set to ``steps``, the exact model it calls, the noise levels it starts and
    ends at, and ``n`` exact VE states of class ``c`` at the start (pure noise from a flow-matching start), drawn with
    ``seed``."""
    scheduler = make()
    scheduler.set_timesteps(as_count(steps, "each of steps"))
    model = LibraryModel(gmm, c, scheduler)
    sigma, until = first_sigma(scheduler, model), end_sigma(scheduler)
    y = (torch.randn(n, gmm.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
         if not math.isfinite(sigma) else gmm.sample(n, c=c, sigma=sigma, generator=seed))
    return scheduler, model, sigma, until, y


def convergence(make: object, gmm: ClassConditionalGMM, c: int | None, steps: tuple[int, ...], n: int = 256,
                seed: int = 0, guider: object = None, rule: object = None) -> list[Run]:
    """``make()`` -> a fresh scheduler, run at each step count of ``steps`` from exact states of class ``c``
    (``n`` of them, drawn with ``seed``) and compared with the exact path from the same states. With ``guider`` (a
    factory: a fresh guider per run), the scheduler steps with its combination of the exact conditional and
    unconditional predictions (``Guided``), and the exact path is that of ``rule()``, the VE score field the guider
    should be (the paper's rule: ``methods.field``): it converges at the scheduler's order if it is that rule."""
    n, seed = as_count(n, "n"), as_int(seed, "seed", minimum=0)
    if (guider is None) != (rule is None):
        raise ValueError("guider and rule go together: the guided sampler and the field it should follow")
    scale = data_scale(gmm, c)
    out = []
    for count in steps:
        scheduler, model, sigma, until, y = prepared(make, gmm, c, count, n, seed)
        if guider is not None:
            if not math.isfinite(sigma):
                raise ValueError("guided sampling is audited from a finite first noise level (a VP or EDM scheduler)")
            model = Guided(guider(), model, LibraryModel(gmm, None, scheduler), len(scheduler.timesteps))
        end = run(scheduler, model, start(scheduler, y, sigma)).to(torch.float64) / _scale(scheduler, until)
        field = conditional(gmm.score, c) if rule is None else rule()
        exact = reference(field, y, sigma, until, class_moments(gmm, c)[0] if rule is None else None)
        out.append(Run(count, float((end - exact).square().sum(1).mean().sqrt()) / scale, sigma))
    return out


def orders(runs: list[Run]) -> list[float]:
    """The empirical order between consecutive step counts: ``log(e_i / e_{i+1}) / log(n_{i+1} / n_i)``."""
    return [math.log(a.error / b.error) / math.log(b.steps / a.steps) for a, b in itertools.pairwise(runs)]


@dataclass(frozen=True)
class LawRun:
    """One stochastic scheduler at one step count: the energy distance of its final samples to exact draws of the law
    they should have (estimate and 95% interval), the p-value of the permutation test that the two laws are equal, and
    the noise levels it started and ended at."""

    steps: int
    distance: float
    low: float
    high: float
    p_value: float
    threshold: float
    sigma_start: float
    sigma_end: float


def law(make: object, gmm: ClassConditionalGMM, c: int | None, steps: tuple[int, ...], n: int = 512, seed: int = 0,
        resamples: int = 999, level: float = 0.01) -> list[LawRun]:
    """``make()`` -> a fresh scheduler (stochastic or not), run at each step count of ``steps`` from ``n`` exact
    states of class ``c`` at its first noise level (pure noise for a flow-matching start; drawn with ``seed``, a
    stochastic scheduler's noise from ``seed + 1``), against ``n`` exact
    draws of ``p_sigma_end(x | c)`` at the noise level it ends at (``seed + 2``): the energy distance ``2 E|X - Y| -
    E|X - X'| - E|Y - Y'|`` with its bootstrap interval (``metrics.energy_distance``), and the permutation test of
    equal laws on the same statistic (``equal_laws``: its p-value, and the distance above which it rejects at
    ``level``). The interval alone cannot decide: the statistic is biased upwards (about ``1 / n``), so it sits
    above 0 for equal laws too."""
    n, seed = as_count(n, "n"), as_int(seed, "seed", minimum=0)
    resamples, level = as_int(resamples, "resamples", minimum=19), as_number(level, "level", 0.0, 1.0, True)
    if (resamples + 1) * level <= 1.0:          # its smallest p-value, 1 / (resamples + 1), must be below level
        raise ValueError(f"resamples must exceed 1 / level - 1 = {1.0 / level - 1.0:g} for the test to be able to "
                         f"reject at level {level:g}, got {resamples}")
    out = []
    for count in steps:
        scheduler, model, sigma, until, y = prepared(make, gmm, c, count, n, seed)
        noise = torch.Generator().manual_seed(seed + 1)
        end = run(scheduler, model, start(scheduler, y, sigma), noise).to(torch.float64) / _scale(scheduler, until)
        exact = gmm.sample(n, c=c, sigma=until, generator=seed + 2)
        distance = metrics.energy_distance(end, exact, seed=seed)
        out.append(LawRun(count, distance.value, distance.lo, distance.hi,
                          *equal_laws(end, exact, resamples, seed, level), sigma, until))
    return out


def equal_laws(x: Tensor, y: Tensor, resamples: int = 999, seed: int = 0, level: float = 0.01
               ) -> tuple[float, float]:
    """The permutation test that ``x: (N, d)`` and ``y: (M, d)`` are drawn from one law, with the energy distance as
    its statistic (large values reject; scipy's ``permutation_test``, ``resamples`` random relabellings of the pooled
    points, whose distances are computed once): ``(p_value, threshold)``, the threshold the ``1 - level`` quantile of
    the statistic over relabellings (the distance the test resolves at this size). When the laws are equal a p-value
    falls below ``level`` with probability at most ``level``."""
    pooled = torch.cat([x, y]).to(torch.float64)
    dist = torch.cdist(pooled, pooled).numpy()

    def energy(i: np.ndarray, j: np.ndarray) -> float:
        return 2.0 * dist[np.ix_(i, j)].mean() - dist[np.ix_(i, i)].mean() - dist[np.ix_(j, j)].mean()

    labels = (np.arange(len(x)), np.arange(len(x), len(pooled)))
    test = permutation_test(labels, energy, permutation_type="independent", vectorized=False, n_resamples=resamples,
                            alternative="greater", random_state=np.random.default_rng(seed))
    return float(test.pvalue), float(np.quantile(test.null_distribution, 1.0 - level))
