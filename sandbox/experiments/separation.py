"""What guidance does to samples of each class, measured against exact references (docs/theory.md, sections 2
and 7).

For every class ``c`` of a mixture (a zoo name, a mixture file or a ``ClassConditionalGMM``), one shared draw of
``x_T ~ p_{sigma_max}(.|c)`` is carried to sigma = 0 by the Heun probability-flow ODE under the exact field of each
method of ``sandbox.methods`` (its strength swept over ``ws`` or ``lams``), or drawn exactly for a reference
method; by default:

    cfg            s_c + w (s_c - s_u)                 (w = 0: the exact conditional score, i.e. perfect DSM)
    weighted-mclr  optimum of the sample-adaptive weighted MCLR objective  (= cfg: the theorem, as samples)
    mclr           optimum of unweighted MCLR with strength lam, s_c where it has none (``guidance.Optimum``)
    tilted         exact draws of q_0 ∝ p(x|c)^(1+w) p(x)^(-w)  (rejection sampling; what CFG is said to sample)

Each row's fidelity column is the energy distance to a fresh draw of ``q_0`` at the row's ``w`` (``lam`` rows:
``w = 0``, the conditional). For the ``tilted`` rows it is the exact-vs-exact level, the floor for the others.
Metrics are averaged over classes (intervals combined by ``Estimate.mean``). Sweeps are cached by their whole
config (``sandbox.cache``).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace

import torch

from .. import methods
from ..core import cache, sweeps, zoo
from ..core.fields import labelled
from ..core.schedules import edm_sigmas
from ..core.tables import estimate, format_table
from ..core.validation import as_int, as_number, as_scales
from ..methods import samplers
from ..methods.tilted import TiltedTarget
from . import evaluation, measures, metrics
from .metrics import Estimate

Tensor = torch.Tensor
COLUMNS = measures.headings((   # report key -> table heading
    "bayes_accuracy", "mean_posterior", "log_ratio_mean", "log_ratio_min", "leakage", "mode_coverage", "entropy",
    "covariance_trace", "energy_distance", "ks_to_q0", "energy_distance_cfg", "score_distance_cfg", "x0_overshoot",
    "seconds_per_1000"))
OVERSHOOT_PATHS = 200     # paths per class on which the atlas measures the x0 overshoot


SAMPLERS = ("heun", "paper")


@dataclass(frozen=True)
class SweepConfig:
    """Settings of a separation sweep (``n`` samples per class and method; ``methods``: names of
    ``sandbox.methods`` with an exact field or exact draws)."""

    mixture: zoo.MixtureSpec = "overlap_2d"
    ws: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0)
    lams: tuple[float, ...] = (0.25, 0.5, 1.0)
    methods: tuple[str, ...] = field(default_factory=lambda: methods.names(experiment="separation"))
    n: int = 10_000
    steps: int = 64
    sigma_max: float = 80.0
    sigma_min: float = 0.002
    seed: int = 0
    fidelity: bool = True          # energy distance to q_0 (and KS in 1-D); the costliest measure
    method_params: tuple[tuple[str, str, float | str], ...] = ()   # (method, parameter, value): ("apg", "eta", 0.5)
    to_cfg: bool = False           # also: energy and score distance to exact CFG at the same w, wall time
    # more rows: a method (of strength w) with other parameters, over ws: (("apg", (("eta", 0.5),)), ...)
    variants: tuple[tuple[str, tuple[tuple[str, float | str], ...]], ...] = ()
    # how a field is sampled: "heun" (EDM's Heun for every rule) or "paper" (each rule with the sampler of its
    # paper's frame, samplers.native: DDIM for VP rules, flow-matching Euler for rectified-flow ones)
    sampler: str = "heun"
    # the measures of each class's samples (measures.of_samples): every one registered when the config is made
    measures: tuple[str, ...] = field(default_factory=lambda: measures.of_samples())

    def fast(self) -> SweepConfig:
        """Small sizes, same code path (tests, ``--fast``)."""
        return replace(self, ws=(0.0, 2.0, 7.0), lams=(0.5,), n=2000, steps=32)

    @staticmethod
    def atlas(mixture: zoo.MixtureSpec = "crowded_4d", fast: bool = False) -> SweepConfig:
        """The guidance atlas on exact sources: the methods of experiment ``"atlas"`` over w in {0.5, 1, 2, 4}
        (methods of strength lam, when named, over lam in {0.5, 1, 2}), measured against exact CFG and exact q_0
        (rows of ``tilted`` are also what the data-level tilt samples); the full atlas adds each method's parameter
        sweep (``Method.sweep``, one parameter at a time: ``variants_of``)."""
        mixture = zoo.resolve(mixture)
        names = methods.names(experiment="atlas", dim=mixture.dim)
        config = SweepConfig(mixture=mixture, ws=(0.5, 1.0, 2.0, 4.0), lams=(0.5, 1.0, 2.0), methods=names, n=2000,
                             steps=32, to_cfg=True, variants=variants_of(names))
        return replace(config, ws=(1.0, 4.0), lams=(1.0,), n=400, steps=16, variants=()) if fast else config

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        usable = [m.name for m in methods.REGISTRY.values() if m.sampleable]
        unknown = [m for m in self.methods if m not in usable]
        if unknown:
            raise ValueError(f"methods must be drawn from {usable}, got {unknown}")
        as_scales(self.ws)
        for lam in self.lams:
            as_number(lam, "each of lams", minimum=0.0)
        as_int(self.n, "n", minimum=10)
        as_int(self.steps, "steps", minimum=1)
        as_int(self.seed, "seed", minimum=0)
        for method, name, value in self.method_params:
            if method not in self.methods:
                raise ValueError(f"method_params names {method!r}, which is not among methods {self.methods}")
            declared = methods.get(method)
            if name == declared.strength:     # the sweep sets it row by row
                others = ", ".join(p for p in declared.params if p != name) or "it has none"
                raise ValueError(f"method_params sets {method}.{name}, {method}'s strength, which the sweep sets for "
                                 f"each row (its ws or lams); set its other parameters ({others})")
            declared.bind(**{name: value})
        for method, params in self.variants:
            if method not in self.methods or methods.get(method).strength != "w":
                raise ValueError(f"variants name {method!r}: it must be among methods {self.methods}, of strength w")
            methods.get(method).bind(**dict(params))
        unknown = [key for key in self.measures if key not in measures.of_samples()]
        if unknown:
            raise ValueError(f"measures must be drawn from {list(measures.of_samples())}, got {unknown}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if not as_number(self.sigma_min, "sigma_min", 0.0, strict=True) < as_number(self.sigma_max, "sigma_max"):
            raise ValueError(f"need sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")


@cache.storable
@dataclass
class Row:
    """One method at one setting: class-averaged ``metrics`` and the ``per_class`` reports."""

    method: str
    w: float
    lam: float
    metrics: dict[str, Estimate]
    per_class: list[dict[str, Estimate]] = field(repr=False)
    ill_posed_fraction: float | None = None
    params: dict[str, float | str] = field(default_factory=dict)    # a variant's parameters (empty: the defaults)

    @property
    def label(self) -> str:
        """The method, with a variant's parameters: ``apg (eta=0.5)``."""
        return self.method + (f" ({', '.join(f'{k}={param_text(v)}' for k, v in self.params.items())})"
                              if self.params else "")

    def as_dict(self) -> dict[str, object]:
        return {"method": self.method, "w": self.w, "lam": self.lam, "params": self.params,
                "ill_posed_fraction": self.ill_posed_fraction,
                "metrics": {k: e.as_dict() for k, e in self.metrics.items()},
                "per_class": [{k: e.as_dict() for k, e in rep.items()} for rep in self.per_class]}

    @staticmethod
    def from_dict(data: dict[str, object]) -> Row:
        """Inverse of ``as_dict``."""
        def estimates(d: dict) -> dict[str, Estimate]:
            return {k: Estimate.from_dict(e) for k, e in d.items()}
        return Row(data["method"], data["w"], data["lam"], estimates(data["metrics"]),
                   [estimates(rep) for rep in data["per_class"]], data["ill_posed_fraction"],
                   dict(data.get("params", {})))


def param_text(v: float | str) -> str:
    """A parameter's value as labels write it: a choice as is, a number with ``:g``."""
    return v if isinstance(v, str) else f"{v:g}"


def variants_of(names: tuple[str, ...]) -> tuple[tuple[str, tuple[tuple[str, float | str], ...]], ...]:
    """Each named method's parameter sweep (``Method.sweep``): ``(method, params)`` per variant."""
    return tuple((m, tuple(variant.items())) for m in names for variant in methods.get(m).sweep)


def settings(config: SweepConfig) -> list[tuple[str, float, float, tuple[tuple[str, float | str], ...]]]:
    """``(method, w, lam, params)`` of every row: methods of strength ``w`` over ``ws``, those without a strength
    once (at w = 0), the methods of strength ``lam`` over ``lams``, and last the variants over ``ws``."""
    by_w = [(m, w, 0.0, ()) for m in config.methods if methods.get(m).strength != "lam"
            for w in (config.ws if methods.get(m).strength == "w" else (0.0,))]
    by_lam = [(m, 0.0, lam, ()) for m in config.methods if methods.get(m).strength == "lam" for lam in config.lams]
    return by_w + by_lam + [(m, w, 0.0, params) for m, params in config.variants for w in config.ws]


def defaults(rows: list[Row]) -> list[Row]:
    """The rows of methods at their default parameters (not the variants)."""
    return [r for r in rows if not r.params]


def sweep(config: SweepConfig = SweepConfig(), progress: bool = True) -> list[Row]:
    """Sample and measure every setting of ``config`` (``settings``); cached by the whole config."""
    return cache.cached("separation", config, lambda: _compute(config, progress),
                        encode=lambda rows: [r.as_dict() for r in rows],
                        decode=lambda rows: [Row.from_dict(r) for r in rows])


@dataclass(frozen=True)
class Setting:
    """One unit of a sweep: ``method`` at strength ``w`` (or ``lam``), every class."""

    config: SweepConfig
    method: str
    w: float
    lam: float
    params: tuple[tuple[str, float | str], ...] = ()       # a variant's parameters


def _start(config: SweepConfig, c: int) -> Tensor:
    """Class ``c``'s shared draw of ``x_T ~ p_{sigma_max}(.|c)``."""
    return config.mixture.sample(config.n, c=c, sigma=config.sigma_max, generator=config.seed + 1000 * c)


def cfg_reference(config: SweepConfig, w: float) -> list[Tensor]:
    """Exact CFG samples at ``w`` from each class's start: the reference of ``to_cfg``'s distances."""
    sigmas = edm_sigmas(config.steps, config.sigma_min, config.sigma_max)
    return [samplers.heun_ode(methods.field("cfg", config.mixture, c, w=w), _start(config, c), sigmas)
            for c in range(config.mixture.num_classes)]


def _own(config: SweepConfig, method: str, w: float, lam: float) -> SweepConfig:
    """``config`` as one unit depends on it: its own method, parameters and strength only, so that editing,
    adding or dropping another method (a plug-in's rule, say) or another ``w`` leaves the unit's cache key alone."""
    return replace(config, methods=(method,), ws=(w,), lams=(lam,), variants=(),
                   method_params=tuple(p for p in config.method_params if p[0] == method))


def _compute(config: SweepConfig, progress: bool) -> list[Row]:
    units = [Setting(_own(config, m, w, lam), m, w, lam, params) for m, w, lam, params in settings(config)]
    ws = sorted({u.w for u in units}) if config.to_cfg else []
    references = dict(zip(ws, sweeps.map(cfg_reference, [config] * len(ws), None, [f"cfg, w = {w:g}" for w in ws],
                                        "separation: CFG references", inputs=[(w,) for w in ws], progress=progress)))
    return sweeps.map(setting_row, units, "separation-setting",
                      [f"{u.method}{dict(u.params) or ''}, w = {u.w:g}, lam = {u.lam:g}" for u in units],
                      "separation", inputs=[(references.get(u.w),) for u in units], progress=progress)


def setting_row(unit: Setting, cfg_x: list[Tensor] | None) -> Row:
    """The row of one setting: every class sampled (or drawn exactly) and measured, then averaged over classes;
    ``cfg_x``: exact CFG samples at the setting's ``w`` per class (``cfg_reference``, for ``to_cfg``)."""
    config, method, w, lam = unit.config, unit.method, unit.w, unit.lam
    gmm = config.mixture
    sigmas = edm_sigmas(config.steps, config.sigma_min, config.sigma_max)
    reports, fractions = [], []
    spec = methods.get(method)
    for c in range(gmm.num_classes):
        seed = config.seed + 1000 * c
        target = TiltedTarget(gmm, c, w)
        t0 = time.perf_counter()
        score, extra = None, {}
        extra = {**{name: value for m, name, value in config.method_params if m == method}, **dict(unit.params)}
        if spec.draw is not None:
            x = methods.draw(method, gmm, c, config.n, seed + 2, w=w)
        elif spec.sample is not None:
            x = methods.sample(method, gmm, c, _start(config, c), sigmas, seed + 3, w=w, lam=lam, **extra)
        else:
            score = methods.field(method, gmm, c, w=w, lam=lam, **extra)
            run = samplers.heun_ode if config.sampler == "heun" else samplers.native(spec.frame)
            # the states of every step (steps + 1, n, d) where the overshoot is measured on them
            paths = samplers.path(run, score, _start(config, c), sigmas) if config.to_cfg else None
            x = run(score, _start(config, c), sigmas) if paths is None else paths[-1]
            fractions.append(getattr(score, "ill_posed_fraction", None))
        seconds = time.perf_counter() - t0
        report = measures.report(gmm, x, c, config.measures, seed=config.seed)
        if config.to_cfg:
            report["energy_distance_cfg"] = metrics.energy_distance(x, cfg_x[c], seed=config.seed)
            if score is not None:
                report["score_distance_cfg"] = evaluation.score_error(
                    labelled(lambda k, score=score: score),
                    labelled(lambda k, w=w: methods.field("cfg", gmm, k, w=w)),
                    gmm, n=max(50, config.n // 10), seed=config.seed, classes=(c,))[1]
            rate = 1000.0 * seconds / config.n
            report["seconds_per_1000"] = Estimate.exact(rate, "measured wall time")
            if score is not None:
                # the rule's denoiser, a fresh field (a stateful rule's state restarts) at the first paths' states
                fresh = methods.field(method, gmm, c, w=w, lam=lam, **extra)
                report["x0_overshoot"] = metrics.x0_overshoot(
                    gmm, paths.transpose(0, 1).contiguous()[:OVERSHOOT_PATHS], sigmas, c,
                    lambda x, s, fresh=fresh: x + (s * s)[:, None] * fresh(x, s))
        if config.fidelity:
            q0_x = target.sample(config.n, generator=seed + 1)
            report["energy_distance"] = metrics.energy_distance(x, q0_x, seed=config.seed)
            if gmm.dim == 1:
                report["ks_to_q0"] = metrics.ks_distance(x, target.cdf_1d)
        reports.append(report)
    averaged = {k: Estimate.mean([r[k] for r in reports]) for k in reports[0] if all(k in r for r in reports)}
    frac = sum(fractions) / len(fractions) if fractions and None not in fractions else None
    return Row(method, w, lam, averaged, reports, frac, dict(unit.params))


@dataclass(frozen=True)
class SampleConfig:
    """Samples of one method's exact field (or exact draws of a reference method) for each of ``classes``
    (default: all), each class from its own start ``x_T ~ p_{sigma_max}(.|c)`` drawn with seed ``seed + c``, with the
    first ``trajectories`` paths recorded: what the sample figures draw."""

    mixture: zoo.MixtureSpec = "overlap_2d"
    method: str = "cfg"
    w: float = 0.0
    lam: float = 0.0
    n: int = 1500
    steps: int = 64
    sigma_max: float = 80.0
    sigma_min: float = 0.002
    seed: int = 0
    trajectories: int = 0
    classes: tuple[int, ...] | None = None
    params: tuple[tuple[str, float | str], ...] = ()     # the method's other parameters, e.g. (("eta", 0.5),)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        methods.get(self.method).bind(**dict(self.params))
        as_number(self.w, "w", minimum=0.0)
        as_number(self.lam, "lam", minimum=0.0)
        as_int(self.n, "n", minimum=1)
        as_int(self.steps, "steps", minimum=1)
        as_int(self.trajectories, "trajectories", minimum=0)

    def compute(self, progress: bool = False) -> dict[str, list[Tensor]]:
        """``{"x": [(n, d) per class], "paths": [(trajectories, steps + 1, d) per class]}``."""
        gmm, spec = self.mixture, methods.get(self.method)
        out: dict[str, list[Tensor]] = {"x": [], "paths": []}
        for c in self.classes if self.classes is not None else range(gmm.num_classes):
            start = gmm.sample(self.n, c=c, sigma=self.sigma_max, generator=self.seed + c)
            grid = edm_sigmas(self.steps, self.sigma_min, self.sigma_max)
            if spec.draw is not None or spec.sample is not None:     # exact draws or a sampler-level rule: no paths
                out["x"].append(methods.draw(self.method, gmm, c, self.n, self.seed + c, w=self.w)
                                if spec.draw is not None else
                                methods.sample(self.method, gmm, c, start, grid, self.seed + c, w=self.w,
                                               **dict(self.params)))
                out["paths"].append(torch.empty(0, self.steps + 1, gmm.dim, dtype=torch.float64))
                continue
            field = methods.field(self.method, gmm, c, w=self.w, lam=self.lam, **dict(self.params))
            if not self.trajectories:
                out["x"].append(samplers.heun_ode(field, start, grid))
                out["paths"].append(torch.empty(0, self.steps + 1, gmm.dim, dtype=torch.float64))
                continue
            states = samplers.path(samplers.heun_ode, field, start, grid)          # (steps + 1, n, d)
            out["x"].append(states[-1])
            out["paths"].append(states[:, :self.trajectories].transpose(0, 1).contiguous())
        return out


def monotone(rows: list[Row], method: str, key: str, increasing: bool) -> list[str]:
    """Violations of monotonicity in ``w`` *beyond the intervals* (empty list: monotone within intervals).

    A step ``w_i -> w_{i+1}`` violates "non-decreasing" only if the later interval lies wholly below the
    earlier one (and conversely for "non-increasing").
    """
    seq = sorted((r for r in defaults(rows) if r.method == method), key=lambda r: r.w)
    bad = []
    for a, b in itertools.pairwise(seq):
        ea, eb = a.metrics[key], b.metrics[key]
        if (eb.hi < ea.lo) if increasing else (eb.lo > ea.hi):
            bad.append(f"{key} {'falls' if increasing else 'rises'} from w={a.w:g} ({ea}) to w={b.w:g} ({eb})")
    return bad


def trend_summary(rows: list[Row]) -> list[str]:
    """The w-sweep claims for CFG: accuracy non-decreasing, diversity (entropy) non-increasing."""
    lines = []
    for key, increasing, claim in (("bayes_accuracy", True, "Bayes accuracy non-decreasing in w"),
                                   ("entropy", False, "entropy (diversity) non-increasing in w")):
        bad = monotone(rows, "cfg", key, increasing)
        lines.append(f"{claim}: " + ("holds within intervals" if not bad else "VIOLATED: " + "; ".join(bad)))
    return lines


def table(rows: list[Row], columns: tuple[str, ...] | None = None, hide: tuple[str, ...] = ()) -> str:
    """A fixed-width table, ``value ±half-width`` per cell (``-`` where a row has no such measure); ``columns``:
    report keys to show (default: every key of ``COLUMNS`` that some row has, then any other measure they have, e.g.
    a plug-in's), less those in ``hide``."""
    found = dict.fromkeys(k for r in rows for k in r.metrics)
    keys = [k for k in (columns or (*COLUMNS, *(k for k in found if k not in COLUMNS))) if k in found and k not in hide]
    header = ["method", "w", "lambda", *[measures.heading(k) for k in keys]]

    def cell(r: Row, k: str) -> str:
        return estimate(r.metrics[k].value, r.metrics[k].half_width) if k in r.metrics else "-"

    return format_table(header, [[r.label, f"{r.w:g}", f"{r.lam:g}", *[cell(r, k) for k in keys]] for r in rows])


ATLAS_COLUMNS = ("bayes_accuracy", "mean_posterior", "entropy", "mode_coverage", "energy_distance_cfg",
                 "energy_distance", "score_distance_cfg", "x0_overshoot", "seconds_per_1000")


def as_json(rows: list[Row]) -> dict[str, object]:
    """The trend lines and every row (per class, with intervals) as plain data."""
    return {"trends": trend_summary(rows), "rows": [r.as_dict() for r in rows]}
