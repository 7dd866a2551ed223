"""Learning curves of the trained fine-tunes: how close each objective's net gets to its exact optimum and to exact
CFG as its training budget and its width grow, against what the same architecture reaches by the inference route.

For each mixture, width and seed the recipe is the trained atlas's (``trained_atlas.NetsConfig``, its DSM net and
strength-conditioned fine-tunes, the same training loop), with the width and the fine-tune's steps (its budget)
changed. A budget is what a user who trains that long gets: under the recipe's constant learning rate the run of
``B`` steps is the first ``B`` steps of a longer one, so each curve is one run of the largest budget with its EMA
net kept at the others (``training.train_budgets``: the same nets bit for bit, each cached under its own training
config; a recipe whose runs depend on their length, cosine decay, trains a run per budget). At ``width`` and budget
``B`` every net is
measured as the atlas measures it, the RMS over ``x ~ p_sigma(. | c)`` of ``sigma |s_net - s*|`` (every class,
sigma on ``evaluation.ERROR_SIGMAS``):

    own     s* the objective's exact pointwise optimum at ``w`` (``methods.field``: CFG for weighted MCLR, GFT and
            model guidance; the noised tilted ``q_0`` for the data tilt)
    cfg     s* exact CFG at ``w``
    dsm     the DSM net's conditional score against ``s_c`` (the architecture's floor at that width)
    dsm+cfg the DSM net with CFG at inference against exact CFG: the yardstick (``yardsticks``)

Nets are cached by their training config (shared with the trained atlas where the recipe is the same), the
measurements by the whole config; what is read from them (seeds' intervals, fitted rates, the page's table) is
``curve_fits``, outside the cached code, so that editing it never retrains.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from .. import methods
from ..core import cache, sweeps, zoo
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import RISING_COUNTS
from ..learn.checkpoints import cached_training, net_key
from ..learn.training import TrainResult, train_budgets
from .trained_atlas import Net, NetsConfig, error_points, optima, train_net

Tensor = torch.Tensor


def curve_methods() -> tuple[str, ...]:
    """The fine-tunes the curves follow: the trained atlas's, but those that need a learned classifier (a second
    net whose own curve would confound the first)."""
    return tuple(m for m in methods.names(experiment="atlas-nets") if "classifier" not in methods.get(m).needs)


@dataclass(frozen=True)
class CurvesConfig:
    """``nets``: the recipe (the trained atlas's: its DSM training, strengths ``ws``, seeds, measurement sizes);
    ``mixtures``; ``budgets``: fine-tune steps, increasing; ``widths``: hidden widths, increasing."""

    nets: NetsConfig = field(default_factory=lambda: NetsConfig(methods=curve_methods()))
    mixtures: tuple[zoo.MixtureSpec, ...] = ("crowded_4d", "overlap_2d")
    budgets: tuple[int, ...] = (500, 1500, 4500)
    widths: tuple[int, ...] = (32, 64, 128)

    def __post_init__(self) -> None:
        if not isinstance(self.nets, NetsConfig):
            raise TypeError(f"curves.nets must be a NetsConfig, got {type(self.nets).__name__}")
        if not self.mixtures:
            raise ValueError("curves.mixtures must name at least one mixture")
        object.__setattr__(self, "mixtures", tuple(zoo.resolve(m) for m in self.mixtures))
        object.__setattr__(self, "budgets", RISING_COUNTS.check(self.budgets, "curves.budgets"))
        object.__setattr__(self, "widths", RISING_COUNTS.check(self.widths, "curves.widths"))
        if len(self.budgets) < 2:
            raise ValueError(f"curves.budgets needs at least two budgets for a rate, got {self.budgets}")

    def fast(self) -> CurvesConfig:
        """The last mixture (overlap_2d by default: the cheapest), one seed, two tiny budgets and widths: tests and
        ``--fast`` (same code path)."""
        nets = replace(self.nets.fast(), train=replace(self.nets.train, steps=100, batch=256))
        return replace(self, nets=nets, mixtures=self.mixtures[-1:], budgets=(10, 20), widths=(8, 16))

    def recipe(self, mixture: ClassConditionalGMM, width: int, budget: int) -> NetsConfig:
        """The atlas recipe at this mixture, width and fine-tune budget."""
        return replace(self.nets, train=replace(self.nets.train, mixture=mixture, width=width), tune_steps=budget)


@dataclass(frozen=True)
class Point:
    """One measurement unit: every net of one mixture, width and seed (all budgets)."""

    config: CurvesConfig
    mixture: ClassConditionalGMM
    width: int
    seed: int


def run(config: CurvesConfig, progress: bool = True) -> dict[str, object]:
    """Train and measure every point (cached by the whole config; nets by their training configs): ``{"rows": [{
    "mixture", "width", "seed", "method", "budget", "w", "own", "cfg"}]}``, with ``method`` ``"dsm"`` (``own``: to
    ``s_c``) and ``"dsm+cfg"`` (to exact CFG) at ``budget`` None."""
    return cache.cached("learning-curves", config, lambda: _compute(config, progress))


def _compute(config: CurvesConfig, progress: bool) -> dict[str, object]:
    seeds, names = config.nets.seeds, config.nets.methods
    bases = [Net(config.recipe(m, width, config.budgets[0]), seed, "dsm")
             for m in config.mixtures for width in config.widths for seed in seeds]
    dsm = sweeps.map(train_net, bases, None, [_label(u) for u in bases], "curves: DSM nets",
                     cost=[u.config.train.width for u in bases], progress=progress)
    by_base = {(u.config.mixture.fingerprint, u.config.train.width, u.seed): r for u, r in zip(bases, dsm)}
    tunes = [Curve(config.recipe(m, width, config.budgets[-1]), seed, name, config.budgets) for m in config.mixtures
             for width in config.widths for seed in seeds for name in names]
    tuned = sweeps.map(train_curve, tunes, None, [_label(u) for u in tunes], "curves: fine-tunes",
                       cost=[u.config.tune_steps * u.config.train.width for u in tunes],
                       inputs=[(by_base[u.config.mixture.fingerprint, u.config.train.width, u.seed],)
                               for u in tunes], progress=progress)
    models: dict[tuple, torch.nn.Module] = {}
    for u, runs in zip(tunes, tuned):
        for budget, r in zip(u.budgets, runs):
            models[u.config.mixture.fingerprint, u.config.train.width, u.seed, u.name, budget] = r.model
    targets = {m.fingerprint: optima(config.recipe(m, config.widths[0], config.budgets[0]), progress)
               for m in config.mixtures}
    units = [Point(config, m, width, seed) for m in config.mixtures for width in config.widths for seed in seeds]
    rows = sweeps.map(measure, units, "curves-measure", [f"{u.mixture.name}, width {u.width}, seed {u.seed}"
                                                         for u in units], "curves: measures",
                      inputs=[(by_base[u.mixture.fingerprint, u.width, u.seed].model,
                               {(n, b): models[u.mixture.fingerprint, u.width, u.seed, n, b]
                                for n in names for b in config.budgets}, targets[u.mixture.fingerprint])
                              for u in units], progress=progress)
    return {"rows": [row for point in rows for row in point]}


@dataclass(frozen=True)
class Curve:
    """One training unit: the fine-tune ``name`` of ``seed`` at every one of ``budgets`` (``config.tune_steps`` the
    largest)."""

    config: NetsConfig
    seed: int
    name: str
    budgets: tuple[int, ...]


def train_curve(unit: Curve, dsm: TrainResult) -> list[TrainResult]:
    """The fine-tune at each budget, from ``dsm``: each net cached under its own key (``net_key``, as the trained
    atlas caches it), the missing ones trained together (``training.train_budgets``)."""
    tune = unit.config.tune(unit.name, unit.seed)
    base = replace(unit.config.train, seed=unit.seed)
    runs: dict[int, TrainResult] = {}

    def run(budget: int) -> TrainResult:
        if not runs:        # the first net not in the cache: train every budget (cached ones are read, not redone)
            runs.update(train_budgets(tune, unit.budgets, init=dsm.model, progress=False))
        return runs[budget]

    return [cached_training(net_key(replace(tune, steps=b), base), lambda b=b: run(b)) for b in unit.budgets]


def _label(unit: Net | Curve) -> str:
    c = unit.config
    steps = f", {'/'.join(map(str, unit.budgets))} steps" if isinstance(unit, Curve) else ""
    return f"{c.mixture.name}, width {c.train.width}, seed {unit.seed}, {unit.name}{steps}"


def measure(unit: Point, dsm: torch.nn.Module, tuned: dict[tuple[str, int], torch.nn.Module],
            target: dict[tuple[str, float], list[Tensor]]) -> list[dict[str, object]]:
    """The rows of one point (``errors``, with each fine-tune's budget)."""
    key = {"mixture": unit.mixture.name, "width": unit.width, "seed": unit.seed}
    return [key | row for row in errors(unit.config.nets, unit.mixture, dsm, tuned, target, "budget")]


def errors(nets: NetsConfig, gmm: ClassConditionalGMM, dsm: torch.nn.Module,
           tuned: dict[tuple[str, object], torch.nn.Module], target: dict[tuple[str, float], list[Tensor]],
           tag: str) -> list[dict[str, object]]:
    """The DSM net against ``s_c``, DSM + CFG against CFG at every ``w`` of ``nets``, and every fine-tune
    ``tuned[name, label]`` at every ``w`` against its own optimum and against CFG: rows ``{"method", tag, "w",
    "own", "cfg"}`` (``tag`` the column of ``label``; None for the DSM rows)."""
    points = error_points(gmm, nets.n_error)
    # one call per class on all of its points (every sigma): small nets are dominated by the cost of a call
    of_class = {c: [i for i, (_, k, _) in enumerate(points) if k == c] for c in range(gmm.num_classes)}
    x = {c: torch.cat([points[i][2] for i in r]) for c, r in of_class.items()}
    sigma = {c: torch.cat([torch.full((len(points[i][2]),), points[i][0], dtype=x[c].dtype) for i in r])
             for c, r in of_class.items()}

    def error(models: dict[str, torch.nn.Module], method: str, w: float, optimum: list[Tensor]) -> float:
        squares = []
        with torch.no_grad():
            for c, r in of_class.items():
                t = torch.cat([optimum[i] for i in r])
                s = methods.field(method, models, c, w=w)(x[c], sigma[c]).to(t)
                squares.append(sigma[c] ** 2 * (s - t).square().sum(1))
        return float(torch.cat(squares).mean().sqrt())

    floor = error({"dsm": dsm}, "dsm", 0.0, target["cfg", 0.0])
    rows = [{"method": "dsm", tag: None, "w": None, "own": floor, "cfg": None}]
    for w in nets.ws:
        inference = error({"dsm": dsm}, "cfg", w, target["cfg", w])
        rows.append({"method": "dsm+cfg", tag: None, "w": w, "own": inference, "cfg": inference})
        for (name, label), model in tuned.items():
            models = {"dsm": dsm, name: model}
            own = error(models, name, w, target[name, w])
            to_cfg = own if methods.get(name).same_as == "cfg" else error(models, name, w, target["cfg", w])
            rows.append({"method": name, tag: label, "w": w, "own": own, "cfg": to_cfg})
    return rows
