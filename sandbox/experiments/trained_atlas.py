"""The guidance atlas from trained networks: every training-time method as a small net fine-tuned from the DSM net
through the one training loop, against its own exact optimum and against exact CFG and exact ``q_0`` samples.

Per seed: the DSM net (label dropout, so "DSM net + CFG" is a row too), a noisy classifier, and one fine-tune per
method of ``methods`` conditioned on the strength ``w`` (one net for every ``w`` in ``ws``, as GFT is by design;
``sandbox.training``), plus unweighted MCLR at ``lam`` (negatives capped). For every method and ``w``:

    score error      RMS ``sigma ||s_net - s*||`` over x ~ p_sigma(.|c), every class, sigma on a log grid in
                     [0.02, 20]: ``s*`` the method's exact pointwise optimum (``methods.field`` on the mixture; for
                     the data-level tilt, q_0 noised to sigma by quadrature or quasi-Monte Carlo; none for capped
                     MCLR, whose uncapped optimum does not exist where A(x) <= 0)
    DSM error        the same for the DSM net's unguided conditional score: the error of not fine-tuning at all
    samples          Heun ODE from the same starts: unguided for a fine-tune, two passes per step for DSM + CFG;
                     Bayes accuracy, mean p(c|x), entropy, mode coverage, energy distance to exact CFG samples and to
                     exact q_0 samples at the same ``w``
    cost             network passes per sample (counted) and wall time per 1000 samples

``dsm`` and ``mclr`` rows have no ``w``: their samples are measured against each ``w``'s references. Seeds are
summarised by the mean and its 95% Student-t interval. The run is cached by its whole config (``sandbox.cache``),
each net by its training config.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import torch

from .. import methods
from ..core import cache, sweeps, zoo
from ..core.fields import Field
from ..core.mixtures import ClassConditionalGMM
from ..core.schedules import edm_sigmas
from ..core.validation import as_int, as_number, as_scales, as_seeds
from ..learn.checkpoints import cached_training, net_key
from ..learn.training import TrainConfig, TrainResult, train, train_classifier
from ..methods import samplers
from ..methods.tilted import TiltedTarget
from . import evaluation, measures, metrics
from .metrics import Estimate

Tensor = torch.Tensor
UNGUIDED = ("dsm", "mclr")        # rows without a strength: measured against each w's references
SIGMA_MAX, SIGMA_MIN = 80.0, 0.002
SAMPLE_MEASURES = ("bayes_accuracy", "mean_posterior", "entropy", "mode_coverage")    # of each class's samples


def trainable_per_w() -> tuple[str, ...]:
    """What the trained atlas can fine-tune (one net for every w): methods with a loss and strength ``w``."""
    return methods.names(trainable=True, strength="w")


@dataclass(frozen=True)
class NetsConfig:
    """What the nets part of the atlas trains and measures: ``train`` the DSM net's config (its mixture is the
    atlas's), ``tune_steps`` per fine-tune, ``n`` samples per class, ``n_error`` points per class and sigma for
    score errors, ``steps`` Heun steps."""

    train: TrainConfig = field(default_factory=lambda: TrainConfig(mixture="crowded_4d"))
    ws: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    methods: tuple[str, ...] = field(default_factory=lambda: methods.names(experiment="atlas-nets"))
    lam: float = 1.0
    tune_steps: int = 1500
    seeds: tuple[int, ...] = (0, 1, 2)
    n: int = 1000
    n_error: int = 50
    steps: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.train, TrainConfig):
            raise TypeError(f"train must be a TrainConfig, got {type(self.train).__name__}")
        usable = trainable_per_w()
        unknown = [m for m in self.methods if m not in usable]
        if unknown:
            raise ValueError(f"methods must be drawn from the trainable methods of strength w {usable}, got {unknown}")
        as_scales(self.ws)
        as_number(self.lam, "lam", minimum=0.0)
        as_seeds(self.seeds)
        for name, minimum in (("tune_steps", 1), ("n", 10), ("n_error", 2), ("steps", 1)):
            as_int(getattr(self, name), name, minimum)

    @property
    def mixture(self) -> ClassConditionalGMM:
        return self.train.mixture

    def fast(self) -> NetsConfig:
        """Short training, two strengths, one seed, small samples: tests and ``--fast`` (same code path)."""
        return replace(self, train=replace(self.train, steps=400, batch=256), ws=(1.0, 4.0), tune_steps=200,
                       seeds=self.seeds[:1], n=200, n_error=10, steps=16)

    def with_mixture(self, mixture: zoo.MixtureSpec) -> NetsConfig:
        return replace(self, train=replace(self.train, mixture=mixture))

    def tune(self, objective: str, seed: int) -> TrainConfig:
        """The fine-tune config of ``objective`` for ``seed`` (strength-conditioned unless unweighted MCLR)."""
        base = replace(self.train, seed=seed)
        changes = {"lam": self.lam} if objective == "mclr" else {"ws": self.ws}
        return replace(base.fine_tune(objective, **changes), steps=self.tune_steps)


@dataclass(frozen=True)
class Net:
    """One training unit: the DSM net (``name = "dsm"``), the noisy classifier (``"classifier"``) or the fine-tune
    of a method, for ``seed``."""

    config: NetsConfig
    seed: int
    name: str


def train_net(unit: Net, dsm: TrainResult | None = None, classifier: TrainResult | None = None) -> TrainResult:
    """Train ``unit``'s net (cached by its training config, ``cached_training``); a fine-tune starts from ``dsm``
    and, when its method needs one, uses ``classifier`` (the same seed's)."""
    base = replace(unit.config.train, seed=unit.seed)
    clf = base.for_classifier()
    if unit.name == "dsm":
        return cached_training(net_key(base), lambda: train(base, progress=False))
    if unit.name == "classifier":
        return cached_training({"classifier": clf}, lambda: train_classifier(clf, progress=False))
    tune = unit.config.tune(unit.name, unit.seed)
    uses = "classifier" in methods.get(unit.name).needs
    return cached_training(net_key(tune, base, clf if uses else None),
                           lambda: train(tune, init=dsm.model, classifier=classifier.model if uses else None,
                                         progress=False))


def train_nets(config: NetsConfig, progress: bool = False) -> dict[int, dict[str, TrainResult]]:
    """Every seed's DSM net and classifier, then every fine-tune (two sweeps of ``Net`` units): ``seed -> name ->
    TrainResult``."""
    bases = [Net(config, seed, name) for seed in config.seeds for name in ("dsm", "classifier")]
    first = sweeps.map(train_net, bases, None, [f"seed {u.seed}, {u.name}" for u in bases],
                      "atlas nets: DSM, classifier", cost=[2 if u.name == "dsm" else 1 for u in bases],
                      progress=progress)
    done = {(u.seed, u.name): r for u, r in zip(bases, first)}
    tunes = [Net(config, seed, name) for seed in config.seeds for name in (*config.methods, "mclr")]
    second = sweeps.map(train_net, tunes, None, [f"seed {u.seed}, {u.name}" for u in tunes], "atlas nets: fine-tunes",
                       inputs=[(done[u.seed, "dsm"], done[u.seed, "classifier"]) for u in tunes], progress=progress)
    done |= {(u.seed, u.name): r for u, r in zip(tunes, second)}
    return {seed: {name: r for (s, name), r in done.items() if s == seed} for seed in config.seeds}


def error_points(gmm: ClassConditionalGMM, n_error: int) -> list[tuple[float, int, Tensor]]:
    """Where score errors are measured: ``(sigma, c, x ~ p_sigma(.|c))`` with ``n_error`` points, every sigma of
    ``evaluation.ERROR_SIGMAS`` and class, from one fixed seed (the same for every seed of nets)."""
    g = torch.Generator().manual_seed(12345)
    return [(s, c, gmm.sample(n_error, c=c, sigma=s, generator=g))
            for s in evaluation.ERROR_SIGMAS for c in range(gmm.num_classes)]


@dataclass(frozen=True)
class Optimum:
    """One unit: the exact field of ``method`` at ``w`` (and ``lam``) at the ``error_points`` of the mixture."""

    mixture: ClassConditionalGMM
    n_error: int
    lam: float
    method: str
    w: float


def optimum_scores(unit: Optimum) -> list[Tensor]:
    """The field's values, one tensor per error point set."""
    return [methods.field(unit.method, unit.mixture, c, w=unit.w, lam=unit.lam)(x, torch.full((len(x),), s,
            dtype=x.dtype)) for s, c, x in error_points(unit.mixture, unit.n_error)]


def optima(config: NetsConfig, progress: bool = False) -> dict[tuple[str, float], list[Tensor]]:
    """Every exact optimum the score errors are measured against, ``(method, w) -> optimum_scores``: CFG at w = 0
    (the DSM net's own, s_c), CFG and each method at every ``w``."""
    wanted = [("cfg", 0.0), *((m, w) for w in config.ws for m in ("cfg", *config.methods))]
    units = [Optimum(config.mixture, config.n_error, config.lam, m, w) for m, w in dict.fromkeys(wanted)]
    values = sweeps.map(optimum_scores, units, "atlas-optimum", [f"{u.method}, w = {u.w:g}" for u in units],
                       "atlas: exact optima", progress=progress)
    return {(u.method, u.w): v for u, v in zip(units, values)}


def run(config: NetsConfig, progress: bool = True) -> dict[str, object]:
    """Train and measure every seed (cached by the whole config; every net, optimum and seed's measurement is a unit
    of its own, ``sandbox.core.sweeps``): ``{"sigmas", "seeds": [{"rows", "train_seconds"}]}``, each row ``{"method",
    "w", "measures": {key: Estimate dict}, "per_sigma": {"net", "dsm"}}``."""
    return cache.cached("atlas-nets", config, lambda: _compute(config, progress))


@dataclass(frozen=True)
class Measure:
    """One unit: the samples and score errors of every method's nets of ``seed``."""

    config: NetsConfig
    seed: int


def _compute(config: NetsConfig, progress: bool) -> dict[str, object]:
    targets = optima(config, progress)
    nets = train_nets(config, progress)
    units = [Measure(config, seed) for seed in config.seeds]
    rows = sweeps.map(measure_seed, units, "atlas-measure", [f"seed {u.seed}" for u in units], "atlas: measures",
                     inputs=[({n: r.model for n, r in nets[u.seed].items()}, targets) for u in units],
                     progress=progress)
    return {"sigmas": list(evaluation.ERROR_SIGMAS),
            "seeds": [{"rows": r, "train_seconds": {name: n.seconds for name, n in nets[seed].items()}}
                      for seed, r in zip(config.seeds, rows)]}


def measure_seed(unit: Measure, models: dict[str, torch.nn.Module],
                 optimum: dict[tuple[str, float], list[Tensor]]) -> list[dict[str, object]]:
    """Every row of one seed: each method's samples against the references at its ``w``, and its score errors
    against its exact optimum (from ``optima``)."""
    config, seed = unit.config, unit.seed
    gmm, k = config.mixture, config.mixture.num_classes
    points = error_points(gmm, config.n_error)
    grid = edm_sigmas(config.steps, SIGMA_MIN, SIGMA_MAX)
    starts = [gmm.sample(config.n, c=c, sigma=SIGMA_MAX, generator=seed * 100 + c) for c in range(k)]
    exact_cfg = {(c, w): samplers.heun_ode(methods.field("cfg", gmm, c, w=w), starts[c], grid)
                 for w in config.ws for c in range(k)}
    q0 = {(c, w): TiltedTarget(gmm, c, w).sample(config.n, generator=seed * 100 + 50 + c)
          for w in config.ws for c in range(k)}
    with torch.no_grad():
        dsm_scores = [models["dsm"].score(x, torch.full((len(x),), s, dtype=x.dtype), c) for s, c, x in points]

    def sample(method: str, w: float) -> tuple[list[Tensor], float, float]:
        """Samples per class, network passes per sample, seconds per 1000 samples."""
        calls = [0]
        hooks = [m.backbone.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
                 for m in models.values() if hasattr(m, "backbone")]
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                xs = [samplers.heun_ode(methods.field(method, models, c, w=w, lam=config.lam), starts[c], grid)
                      for c in range(k)]
        finally:
            for h in hooks:
                h.remove()
        seconds = time.perf_counter() - t0
        return xs, calls[0] / k, 1000.0 * seconds / (k * config.n)

    rows = []
    settings = [(m, None) for m in UNGUIDED] + [(m, w) for w in config.ws for m in ("cfg", *config.methods)]
    for method, w in settings:
        xs, passes, rate = sample(method, 0.0 if w is None else w)
        for ref_w in (config.ws if w is None else (w,)):
            measured = {"passes": Estimate.exact(passes, "counted"),
                        "seconds_per_1000": Estimate.exact(rate, "measured wall time")}
            reports = []
            for c in range(k):
                report = measures.report(gmm, xs[c], c, SAMPLE_MEASURES, seed=seed)
                report["energy_distance_cfg"] = metrics.energy_distance(xs[c], exact_cfg[c, ref_w], seed=seed)
                report["energy_distance"] = metrics.energy_distance(xs[c], q0[c, ref_w], seed=seed)
                reports.append(report)
            measured |= {key: Estimate.mean([r[key] for r in reports]) for key in reports[0]}
            per_sigma = {}
            if method != "mclr":   # capped MCLR has no pointwise optimum where the uncapped one is ill-posed
                # the own optimum: CFG for DSM + CFG, s_c for DSM
                target = optimum["cfg" if method == "dsm" else method, 0.0 if method == "dsm" else ref_w]
                own = [methods.field(method, models, c, w=ref_w, lam=config.lam) for c in range(k)]
                for name, values in (("net", [_eval(own[c], x, s) for s, c, x in points]), ("dsm", dsm_scores)):
                    squares = [s * s * (v.to(t) - t).square().sum(1)
                               for (s, _, _), v, t in zip(points, values, target)]
                    per_sigma[name] = [float(torch.cat(squares[i:i + k]).mean().sqrt())
                                       for i in range(0, len(squares), k)]
                    measured["score_error" if name == "net" else "dsm_error"] = evaluation.rms(torch.cat(squares))
            rows.append({"method": method, "w": ref_w, "measures": {key: e.as_dict() for key, e in measured.items()},
                         "per_sigma": per_sigma})
    return rows


def _eval(field: Field, x: Tensor, sigma: float) -> Tensor:
    with torch.no_grad():
        return field(x, torch.full((len(x),), sigma, dtype=x.dtype))
