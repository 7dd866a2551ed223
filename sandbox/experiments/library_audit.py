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

A guider is compared with its paper's rule twice: pointwise, its guided prediction against the rule's at the same
exact predictions (``guider_error``), and through sampling, a scheduler stepping with its combination of the exact
models against the exact path of the rule (``convergence`` with ``guider`` and ``rule``). ``audit`` runs every
scheduler of ``SCHEDULERS`` and guider of ``GUIDERS`` for ``mclr-sandbox audit``; ``tables`` and ``lines`` print it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from scipy.integrate import solve_ivp

from ..core import frames, zoo
from ..core.fields import Field, conditional
from ..core.mixtures import ClassConditionalGMM
from ..core.tables import format_table
from ..core.validation import RISING_COUNTS, SEED, WHOLE, Limit, as_count, as_int
from ..methods.guidance import class_moments
from ..methods.library_models import LibraryModel, family

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


def run(scheduler: object, model: object, sample: Tensor) -> Tensor:
    """The samples ``scheduler`` ends at from ``sample`` (its state convention), calling ``model(model_input,
    timestep)`` as a pipeline does; ``set_timesteps`` must have been called."""
    scale = getattr(scheduler, "scale_model_input", None)        # flow-matching schedulers have none
    for t in scheduler.timesteps:
        model_input = sample if scale is None else scale(sample, t)
        sample = scheduler.step(model(model_input, t), t, sample).prev_sample
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
        scheduler = make()
        scheduler.set_timesteps(as_count(count, "each of steps"))
        model = LibraryModel(gmm, c, scheduler)
        sigma, until = first_sigma(scheduler, model), end_sigma(scheduler)
        if guider is not None:
            if not math.isfinite(sigma):
                raise ValueError("guided sampling is audited from a finite first noise level (a VP or EDM scheduler)")
            model = Guided(guider(), model, LibraryModel(gmm, None, scheduler), len(scheduler.timesteps))
        y = (torch.randn(n, gmm.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
             if not math.isfinite(sigma) else gmm.sample(n, c=c, sigma=sigma, generator=seed))
        end = run(scheduler, model, start(scheduler, y, sigma)).to(torch.float64) / _scale(scheduler, until)
        field = conditional(gmm.score, c) if rule is None else rule()
        exact = reference(field, y, sigma, until, class_moments(gmm, c)[0] if rule is None else None)
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


# ---------------------------------------------------------------------------------------------- the audit
INSTALL = "the audit runs diffusers' code: install it with  pip install 'mclr-sandbox[diffusers]'"


@dataclass(frozen=True)
class Scheduler:
    """A scheduler the audit runs: its diffusers class, the config it is built with, the order its method has (None:
    not stated) and what is notable about it."""

    name: str
    cls: str
    config: tuple[tuple[str, object], ...] = ()
    order: int | None = None
    note: str = ""

    def make(self) -> object:
        return getattr(_diffusers(), self.cls)(**dict(self.config))


VP = (("beta_schedule", "scaled_linear"),)
SCHEDULERS = (
    Scheduler("DDIM", "DDIMScheduler", (*VP, ("clip_sample", False)), 1,
              "clip_sample=False: the default clips x0 to [-1, 1], for images"),
    Scheduler("Euler", "EulerDiscreteScheduler", VP, 1),
    Scheduler("Heun", "HeunDiscreteScheduler", VP, 2),
    Scheduler("DPM-Solver++ 2M", "DPMSolverMultistepScheduler", VP, 2),
    Scheduler("UniPC", "UniPCMultistepScheduler", VP, None),
    Scheduler("FlowMatchEuler", "FlowMatchEulerDiscreteScheduler", (("shift", 3.0),), 1, "shift = 3, as SD3 ships it"),
    Scheduler("EDMEuler", "EDMEulerScheduler", (), 1),
)


@dataclass(frozen=True)
class Guider:
    """A guider compared with its paper's rule: its diffusers class and arguments at scale ``scale``, the sandbox's
    ``method`` at strength ``w`` with ``params``, the frame of the predictions it is given, and, where the two are
    known to differ, what each side computes (``note``)."""

    name: str
    cls: str
    arguments: tuple[tuple[str, object], ...]
    method: str
    w: float
    params: tuple[tuple[str, object], ...] = ()
    prediction: str = "eps"
    note: str = ""
    sampled: bool = True      # also sampled through a scheduler (its rule's exact path can be integrated)

    def make(self) -> object:
        return getattr(_diffusers(), self.cls)(**dict(self.arguments))

    def rule(self, gmm: ClassConditionalGMM, c: int) -> object:
        """A factory of the paper's rule as a field (fresh per run: a rule may keep state, as APG's momentum)."""
        from .. import methods

        return lambda: methods.field(self.method, gmm, c, w=self.w, **dict(self.params))


S = 4.0         # the guidance scale the guiders are compared at (diffusers' s; this project's w = s - 1)
GUIDERS = (
    Guider("ClassifierFreeGuidance", "ClassifierFreeGuidance", (("guidance_scale", S),), "cfg", S - 1),
    Guider("ClassifierFreeGuidance, guidance_rescale=0.7", "ClassifierFreeGuidance",
           (("guidance_scale", S), ("guidance_rescale", 0.7)), "cfg-rescale", S - 1, (("phi", 0.7), ("frame", "eps")),
           sampled=False),     # its std ratio over d = 2 coordinates is singular where they agree: no smooth path
    Guider("AdaptiveProjectedGuidance, eta=1", "AdaptiveProjectedGuidance",
           (("guidance_scale", S), ("eta", 1.0), ("adaptive_projected_guidance_rescale", 0.0)), "apg", S - 1,
           (("eta", 1.0), ("frame", "eps"))),
    Guider("AdaptiveProjectedGuidance, eta=0, r=2, original formulation", "AdaptiveProjectedGuidance",
           (("guidance_scale", S - 1), ("eta", 0.0), ("adaptive_projected_guidance_rescale", 2.0),
            ("use_original_formulation", True)), "apg", S - 1, (("eta", 0.0), ("r", 2.0), ("frame", "eps")),
           note="guidance_scale is the paper's s - 1 in the original formulation"),
    Guider("AdaptiveProjectedGuidance, eta=0", "AdaptiveProjectedGuidance",
           (("guidance_scale", S), ("eta", 0.0), ("adaptive_projected_guidance_rescale", 0.0)), "apg", S - 1,
           (("eta", 0.0), ("frame", "eps")),
           note="differs: diffusers p_u + s (D_orth + eta D_par), the paper p_c + (s - 1)(D_orth + eta D_par): "
                "(1 - eta) D_par apart"),
    Guider("ClassifierFreeZeroStarGuidance", "ClassifierFreeZeroStarGuidance",
           (("guidance_scale", S), ("zero_init_steps", 0)), "cfg-zero-star", S - 1, (("frame", "flow"),), "flow",
           note="differs slightly: alpha = <v_c, v_u> / (||v_u||^2 + 1e-8) in float32, the paper without 1e-8"),
)
GUIDED_SCHEDULER = SCHEDULERS[0]     # DDIM: guided sampling of the noise-prediction guiders runs with it
OUT_OF_SCOPE = (
    ("PerturbedAttentionGuidance, SkipLayerGuidance, SmoothedEnergyGuidance", "they change the network's layers; "
     "the exact model has none"),
    ("AutoGuidance", "a second, weaker network (the sandbox's autoguidance uses an exactly known degraded mixture)"),
    ("FrequencyDecoupledGuidance", "it filters image frequencies, which a d x 1 x 1 image does not have"),
    ("TangentialClassifierFreeGuidance", "no rule of the sandbox implements its paper yet"),
)


def installed() -> str:
    """The version of diffusers this process would audit ("" without it): part of the audit's cache key, since its
    results are that code's."""
    try:
        from importlib.metadata import version

        return version("diffusers")
    except Exception:          # not installed (PackageNotFoundError), or no metadata
        return ""


@dataclass(frozen=True)
class AuditConfig:
    """What the audit runs: every scheduler at each of ``steps`` from ``n`` exact states of class ``c`` of
    ``mixture``, and every guider at ``n`` exact states per noise level (draws from ``seed``), with the installed
    diffusers (``library``, its version)."""

    mixture: zoo.MixtureSpec = "overlap_2d"
    c: int = 0
    steps: tuple[int, ...] = (5, 10, 20, 50, 100)
    n: int = 256
    seed: int = 0
    library: str = field(default_factory=installed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        object.__setattr__(self, "steps", RISING_COUNTS.check(self.steps, "audit.steps"))
        for name, limit in (("c", WHOLE), ("n", Limit(lo=2, whole=True)), ("seed", SEED)):
            limit.check(getattr(self, name), f"audit.{name}")
        if self.c >= self.mixture.num_classes:
            raise ValueError(f"audit.c must be a class of the mixture (0..{self.mixture.num_classes - 1}), got "
                             f"{self.c}")

    def fast(self) -> AuditConfig:
        """Three step counts and 64 states: seconds, the same code path."""
        return replace(self, steps=(5, 10, 20), n=64)


def audit(config: AuditConfig) -> dict[str, object]:
    """``{"schedulers": [{name, order, note, runs: [{steps, error, sigma_start}], orders}], "guiders": [{name, rule,
    prediction, error, agrees, note}]}`` (cached by the config and the code)."""
    from ..core import cache

    return cache.cached("library-audit", config, lambda: _audit(config))


def _audit(config: AuditConfig) -> dict[str, object]:
    diffusers = _diffusers()
    if diffusers.__version__ != config.library:
        raise ValueError(f"audit.library names diffusers {config.library!r}, but {diffusers.__version__} is installed")
    gmm = config.mixture
    schedulers = []
    for spec in SCHEDULERS:
        runs = convergence(spec.make, gmm, config.c, config.steps, config.n, config.seed)
        schedulers.append({"name": spec.name, "order": spec.order, "note": spec.note,
                           "runs": [r.__dict__ for r in runs], "orders": orders(runs)})
    guiders = []
    for spec in GUIDERS:
        error = guider_error(spec.make(), spec.method, gmm, config.c, spec.prediction, spec.w, n=config.n,
                             seed=config.seed, **dict(spec.params))
        row = {"name": spec.name, "rule": spec.method, "prediction": spec.prediction, "error": error,
               "agrees": error <= 1e-10, "note": spec.note}
        if spec.sampled and spec.prediction == "eps":       # sampled with DDIM, from a finite first noise level
            runs = convergence(GUIDED_SCHEDULER.make, gmm, config.c, config.steps, config.n, config.seed, spec.make,
                               spec.rule(gmm, config.c))
            row["sampled"] = {"scheduler": GUIDED_SCHEDULER.name, "runs": [r.__dict__ for r in runs],
                              "orders": orders(runs)}
        guiders.append(row)
    return {"diffusers": diffusers.__version__, "schedulers": schedulers, "guiders": guiders,
            "out_of_scope": [{"name": name, "why": why} for name, why in OUT_OF_SCOPE]}


def tables(result: dict[str, object]) -> str:
    """The schedulers' errors and orders, then the guiders' agreement, as fixed-width tables."""
    steps = [r["steps"] for r in result["schedulers"][0]["runs"]]
    rows = [[r["name"], "-" if r["order"] is None else str(r["order"]),
             *(f"{run['error']:.3g}" for run in r["runs"]),
             ", ".join(f"{o:.2f}" for o in r["orders"]) or "-", r["note"]]
            for r in result["schedulers"]]
    schedulers = format_table(["scheduler", "its order", *(f"error, {n} steps" for n in steps),
                               "measured orders (between step counts)", "note"], rows)
    guiders = format_table(["guider", "rule (its frame)", "max relative difference", "agrees (1e-10)", "note"],
                           [[g["name"], f"{g['rule']} ({g['prediction']})", f"{g['error']:.2g}",
                             "yes" if g["agrees"] else "NO", g["note"]] for g in result["guiders"]])
    sampled = [g for g in result["guiders"] if "sampled" in g]
    paths = format_table(["guided sampling (DDIM)", *(f"error, {n} steps" for n in steps), "measured orders"],
                         [[g["name"], *(f"{r['error']:.3g}" for r in g["sampled"]["runs"]),
                           ", ".join(f"{o:.2f}" for o in g["sampled"]["orders"])] for g in sampled])
    return schedulers + "\n\n" + guiders + "\n\n" + paths


def lines(result: dict[str, object]) -> list[str]:
    """What the tables mean, and what is out of scope."""
    out = [f"diffusers {result['diffusers']}: errors are RMS distances to the exact probability-flow path from the "
           f"same exact states, in data standard deviations; an order is the slope of -log error over log steps",
           "guided sampling: the scheduler steps with the guider's combination of the exact models' predictions, "
           "against the exact path of the paper's rule; a guider that is its paper's rule converges at the "
           "scheduler's order, one that is not stays apart (order near 0)",
           "not yet explained: from about 50 steps the second-order schedulers' errors stop falling near 1e-3 (Heun's "
           "even grows from 50 to 100 steps); suspected: the last step, from the schedule's smallest noise level "
           "into 0, does not shrink with the step count"]
    out += [f"out of scope: {o['name']}: {o['why']}" for o in result["out_of_scope"]]
    return out


def _diffusers() -> object:
    """The diffusers package, or a one-line error saying how to install it."""
    try:
        import diffusers
    except ImportError:
        raise ValueError(INSTALL) from None
    import logging

    logging.getLogger("diffusers").setLevel(logging.ERROR)       # "guiders are experimental", once per guider
    return diffusers
