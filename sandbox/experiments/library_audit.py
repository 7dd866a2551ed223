"""diffusers' schedulers and guiders against exact answers: the audit (docs/theory.md, "Library code under exact
test").

Every scheduler of ``SCHEDULERS`` is run on the exact model from exact states and compared with the exact
probability-flow path (``library_paths.convergence``: error and empirical order); every stochastic one of
``STOCHASTIC`` is compared with the exact law its samples should have (``library_paths.law``). A guider is compared
with its paper's rule twice: pointwise, its guided prediction against the rule's at the same exact predictions
(``guider_error``), and through sampling, a scheduler stepping with its combination of the exact models against the
exact path of the rule (``convergence`` with ``guider`` and ``rule``). ``audit`` runs them all for ``mclr-sandbox
audit``; ``tables`` and ``lines`` print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..core import frames, zoo
from ..core.mixtures import ClassConditionalGMM
from ..core.tables import format_table
from ..core.validation import RISING_COUNTS, SEED, WHOLE, Limit, as_count, as_int
from .library_paths import convergence, law, orders, reference

__all__ = ["GUIDERS", "OUT_OF_SCOPE", "SCHEDULERS", "SIGMAS", "STOCHASTIC", "AuditConfig", "audit", "convergence",
           "guider_error", "law", "lines", "orders", "reference", "tables"]


# ---------------------------------------------------------------------------------------------- guiders
SIGMAS = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 14.0)      # where a guider's prediction is compared with the rule's


LAYOUTS = {"image": lambda p: p[:, :, None, None], "tokens": lambda p: p[:, None, :]}


def guider_error(guider: object, method: str, gmm: ClassConditionalGMM, c: int, prediction: str, w: float,
                 sigmas: tuple[float, ...] = SIGMAS, n: int = 256, seed: int = 0, layout: str = "image",
                 **params: float | str) -> float:
    """The largest relative difference between ``guider``'s guided prediction and the sandbox's rule ``method`` at
    strength ``w`` (this project's convention; ``params`` its other parameters), both as ``prediction`` (a frame's
    name: the predictions the guider combines, e.g. ``"eps"`` for Stable Diffusion) of
    the exact conditional and unconditional models of class ``c``: over exact states ``y ~ p_sigma(. | c)`` at each
    of ``sigmas``, ``max |g - r| / max |r|``. The guider is told each step (``set_state``) as a pipeline would, and
    given each ``d``-vector as a ``layout`` of ``LAYOUTS``: a ``d x 1 x 1`` image or one token of ``d`` channels
    (latents packed as Flux's and Qwen-Image's pipelines pack them)."""
    from .. import methods

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {tuple(LAYOUTS)}, got {layout!r}")
    predict, shape = frames.get(prediction), LAYOUTS[layout]
    worst = 0.0
    for i, sigma in enumerate(sigmas):
        y = gmm.sample(as_count(n, "n"), c=c, sigma=sigma, generator=as_int(seed, "seed", minimum=0) + i)
        s = torch.full((len(y),), float(sigma), dtype=torch.float64)
        cond, uncond = (predict.predict(gmm.score(y, s, k), y, s) for k in (c, None))
        guider.set_state(i, len(sigmas), torch.tensor(999 - i))
        guided = guider.forward(shape(cond), shape(uncond)).pred
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
    Scheduler("DPM-Solver++ 2M, ending at sigma_min", "DPMSolverMultistepScheduler",
              (*VP, ("final_sigmas_type", "sigma_min")), 2,
              "no last step into 0; from 15 steps its last step is second order (at 20 it spans log sigma 2.3, "
              "after steps of 0.6: the bump)"),
    Scheduler("UniPC", "UniPCMultistepScheduler", VP, None),
    Scheduler("FlowMatchEuler", "FlowMatchEulerDiscreteScheduler", (("shift", 3.0),), 1, "shift = 3, as SD3 ships it"),
    Scheduler("EDMEuler", "EDMEulerScheduler", (), 1),
    Scheduler("DDIM, as Stable Diffusion 1.5 ships it", "DDIMScheduler",
              (("beta_start", 0.00085), ("beta_end", 0.012), *VP, ("clip_sample", False), ("set_alpha_to_one", False),
               ("steps_offset", 1)), 1,
              "leading timesteps from 1: its first noise level grows with the steps, so runs cover different spans"),
)
STOCHASTIC = (          # compared with the exact law (library_paths.law): no path to follow
    Scheduler("Euler ancestral", "EulerAncestralDiscreteScheduler", VP),
    Scheduler("DDPM", "DDPMScheduler", (*VP, ("clip_sample", False)), note="clip_sample=False, as for DDIM"),
    Scheduler("DDPM, as shipped", "DDPMScheduler", VP,
              note="clip_sample=True (its default) clips x0 to [-1, 1]: a law apart at every step count"),
    Scheduler("DPM-Solver++ 2M SDE", "DPMSolverMultistepScheduler", (*VP, ("algorithm_type", "sde-dpmsolver++"))),
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
    layout: str = "image"     # how its d-vectors are shaped (guider_error)

    def make(self) -> object:
        return getattr(_diffusers().guiders, self.cls)(**dict(self.arguments))   # not all are exported at the top

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
    Guider("TangentialClassifierFreeGuidance", "TangentialClassifierFreeGuidance", (("guidance_scale", S),), "tcfg",
           S - 1, (("frame", "eps"),),
           note="differs at float32's precision: its SVD of [p_c; p_u] runs in float32 whatever the input's dtype"),
    Guider("MagnitudeAwareGuidance", "MagnitudeAwareGuidance", (("guidance_scale", S), ("alpha", 8.0)), "mambo-g",
           S - 1, (("alpha", 8.0), ("frame", "flow")), "flow", layout="tokens",
           note="given packed (tokens x channels) latents: on image or video latents (4 or 5 dimensions) it raises, "
                "since torch.norm's Frobenius norm takes at most two dims (torch 2.13)"),
)
GUIDED_SCHEDULER = SCHEDULERS[0]     # DDIM: guided sampling of the noise-prediction guiders runs with it
OUT_OF_SCOPE = (
    ("PerturbedAttentionGuidance, SkipLayerGuidance, SmoothedEnergyGuidance", "they change the network's layers; "
     "the exact model has none"),
    ("AutoGuidance", "a second, weaker network (the sandbox's autoguidance uses an exactly known degraded mixture)"),
    ("FrequencyDecoupledGuidance", "it filters image frequencies, which a d x 1 x 1 image does not have"),
    ("LTX2Guidance", "its other terms perturb the network's layers (spatio-temporal guidance) and its modalities "
     "(LTX-2's audio and video); its CFG part is ClassifierFreeGuidance's"),
    ("AdaptiveProjectedMixGuidance", "a recipe, not a rule (HunyuanImage 2.1's): CFG until a step index, then APG, "
     "both audited above"),
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
    law_n: int = 512            # samples per side of a scheduler's two-sample test against the exact law
    resamples: int = 999        # relabellings of its permutation test
    level: float = 0.01         # the test's level
    library: str = field(default_factory=installed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        object.__setattr__(self, "steps", RISING_COUNTS.check(self.steps, "audit.steps"))
        for name, limit in (("c", WHOLE), ("n", Limit(lo=2, whole=True)), ("seed", SEED),
                            ("law_n", Limit(lo=8, whole=True)), ("resamples", Limit(lo=19, whole=True)),
                            ("level", Limit(lo=0.0, hi=1.0, open=True))):
            limit.check(getattr(self, name), f"audit.{name}")
        if (self.resamples + 1) * self.level <= 1.0:     # its smallest p-value, 1 / (resamples + 1), must be < level
            raise ValueError(f"audit.resamples must exceed 1 / level - 1 = {1.0 / self.level - 1.0:g} for the test to "
                             f"be able to reject at level {self.level:g}, got {self.resamples}")
        if self.c >= self.mixture.num_classes:
            raise ValueError(f"audit.c must be a class of the mixture (0..{self.mixture.num_classes - 1}), got "
                             f"{self.c}")

    def fast(self) -> AuditConfig:
        """Three step counts, 64 states, 64 per side and 199 relabellings for the laws: seconds, the same code
        path."""
        return replace(self, steps=(5, 10, 20), n=64, law_n=64, resamples=199)


def audit(config: AuditConfig) -> dict[str, object]:
    """``{"schedulers": [{name, order, note, runs: [{steps, error, sigma_start}], orders}], "laws": [{name, note,
    runs: [LawRun fields]}], "level", "resamples", "guiders": [{name, rule, prediction, error, agrees, note,
    sampled?}], "out_of_scope"}`` (cached by the config and the code)."""
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
    laws = []
    for spec in (*SCHEDULERS, *STOCHASTIC):
        runs = law(spec.make, gmm, config.c, config.steps, config.law_n, config.seed, config.resamples, config.level)
        laws.append({"name": spec.name, "note": spec.note, "runs": [r.__dict__ for r in runs]})
    guiders = []
    for spec in GUIDERS:
        error = guider_error(spec.make(), spec.method, gmm, config.c, spec.prediction, spec.w, n=config.n,
                             seed=config.seed, layout=spec.layout, **dict(spec.params))
        row = {"name": spec.name, "rule": spec.method, "prediction": spec.prediction, "error": error,
               "agrees": error <= 1e-10, "note": spec.note}
        if spec.sampled and spec.prediction == "eps":       # sampled with DDIM, from a finite first noise level
            runs = convergence(GUIDED_SCHEDULER.make, gmm, config.c, config.steps, config.n, config.seed, spec.make,
                               spec.rule(gmm, config.c))
            row["sampled"] = {"scheduler": GUIDED_SCHEDULER.name, "runs": [r.__dict__ for r in runs],
                              "orders": orders(runs)}
        guiders.append(row)
    return {"diffusers": diffusers.__version__, "schedulers": schedulers, "laws": laws, "level": config.level,
            "resamples": config.resamples,
            "guiders": guiders,
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
    level = result["level"]
    laws = format_table(["scheduler, against the exact law", *(f"energy distance, {n} steps (p)" for n in steps),
                         f"differs at {level:g}", "note"],
                        [[r["name"], *(f"{run['distance']:.2g} ({run['p_value']:.3g})" for run in r["runs"]),
                          ", ".join(str(run["steps"]) for run in r["runs"] if run["p_value"] < level) or "none",
                          r["note"]] for r in result["laws"]])
    return schedulers + "\n\n" + laws + "\n\n" + guiders + "\n\n" + paths


def lines(result: dict[str, object]) -> list[str]:
    """What the tables mean, and what is out of scope."""
    out = [f"diffusers {result['diffusers']}: errors are RMS distances to the exact probability-flow path from the "
           f"same exact states, in data standard deviations; an order is the slope of -log error over log steps",
           f"against the exact law (every scheduler, and the stochastic ones, which have no path to follow): the "
           f"energy distance of the final samples to as many exact draws of the law they "
           f"should have, and (p) the p-value of the permutation test of equal laws ({result['resamples']} "
           f"relabellings): p below {result['level']:g} rejects equal laws at that level; the distance alone cannot "
           f"decide, being biased upwards (about 1/n) for equal laws too",
           "guided sampling: the scheduler steps with the guider's combination of the exact models' predictions, "
           "against the exact path of the paper's rule; a guider that is its paper's rule converges at the "
           "scheduler's order, one that is not stays apart (order near 0)",
           "from about 50 steps the second-order schedulers' errors fall slowly near 1e-3: DPM-Solver++ 2M takes "
           "its last step, into sigma = 0, at first order, from a noise level that shrinks only as n^(-1/2) on "
           "these linear-beta schedules, so its error falls as 1/n and dominates (ending at sigma_min instead, it "
           "keeps converging at second order); Heun's error even grows from 50 to 100 steps, not explained yet "
           "(suspected: its evaluation at sigma = 0 is given timestep 0, which is sigma 0.029 to a VP model)"]
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
