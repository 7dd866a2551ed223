"""What each part of the training recipe buys: the switches of ``training.TrainConfig``, measured on the trained
atlas's nets.

The recipe is the trained atlas's (``NetsConfig``: its DSM net, then strength-conditioned fine-tunes of the curves'
objectives), with every run keeping edm2's power-EMA snapshots (``averaging``). A *training variant* changes one
switch for every run it applies to and trains again:

    recipe          the atlas's: Adam at a constant rate, EDM's loss weighting, one drawn negative label, EMA 0.999
    cosine-lr       the learning rate decayed to 0 over the run by a cosine
    eps-weighting   omega(sigma) = sigma^2 (the epsilon-prediction loss) instead of EDM's
    all-negatives   the MCLR-type fine-tunes average their negative term over all K - 1 labels (the same
                    objective without the draw: ``objectives``); other runs are the recipe's

An *average* is what a run returns, chosen after training from the same run: ``ema`` (the fixed EMA of decay
``ema``, the package's default), ``last`` (the last iterate) or ``power <sigma_rel>`` (edm2's power-function EMA of
that relative width, reconstructed post hoc; 0.05 and 0.10 are the kept profiles themselves). Every fine-tune of a
variant starts from that variant's DSM net as the recipe returns it (its ``ema``), and the average is applied to
both the DSM net and the fine-tune, so a row is a recipe a user could train with.

Each net is measured as the learning curves measure it (``learning_curves.errors``: RMS of ``sigma |s_net - s*|``
over ``x ~ p_sigma(.|c)``): the DSM net against ``s_c`` (``dsm``), with CFG at inference against exact CFG
(``dsm+cfg``), each fine-tune against its own exact optimum; each method's error is the RMS over the strengths.
A change is judged against the recipe *seed by seed* (the same seed's nets share their data and initial weights):
the geometric mean over seeds of ``error(change) / error(recipe)`` with its 95% t-interval on the log scale, and a
verdict (``recipe_effects.verdict``: ``helps``, ``hurts``, ``no effect`` or ``undecided``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from .. import methods
from ..core import cache, sweeps
from ..learn import averaging
from ..learn.checkpoints import cached_training, net_key
from ..learn.training import TrainConfig, TrainResult, averaged, train
from .learning_curves import curve_methods, errors
from .trained_atlas import NetsConfig, optima

Tensor = torch.Tensor
VARIANTS: dict[str, dict[str, str]] = {
    "recipe": {},
    "cosine-lr": {"lr_schedule": "cosine"},
    "eps-weighting": {"weighting": "eps"},
    "all-negatives": {"negatives": "all"},
}
BASE = ("recipe", "ema")


@dataclass(frozen=True)
class RecipeConfig:
    """``nets``: the recipe (the trained atlas's, with ``snapshots`` power-EMA snapshots per run); ``variants``
    (``VARIANTS``, the recipe first); ``sigma_rels``: the power averages compared."""

    nets: NetsConfig = field(default_factory=lambda: NetsConfig(
        train=TrainConfig(mixture="crowded_4d", snapshots=16), methods=curve_methods()))
    variants: tuple[str, ...] = tuple(VARIANTS)
    sigma_rels: tuple[float, ...] = (0.05, 0.10, 0.20)

    def __post_init__(self) -> None:
        if not isinstance(self.nets, NetsConfig):
            raise TypeError(f"recipe.nets must be a NetsConfig, got {type(self.nets).__name__}")
        if self.nets.train.snapshots < 1:
            raise ValueError("recipe.nets.train.snapshots must be >= 1 (the power averages are made from them)")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants or self.variants[0] != "recipe" or len(set(self.variants)) != len(
                self.variants):
            raise ValueError(f"recipe.variants must start with 'recipe' and name each of {list(VARIANTS)} at most "
                             f"once, got {self.variants}")
        for s in self.sigma_rels:
            try:
                averaging.gamma_of(s)           # a width a power profile has
            except (TypeError, ValueError) as err:
                raise ValueError(f"recipe.sigma_rels: {err}") from None
        object.__setattr__(self, "sigma_rels", tuple(float(s) for s in self.sigma_rels))
        if len(self.nets.seeds) < 2:
            raise ValueError("recipe.nets.seeds needs two seeds or more (changes are judged seed by seed)")

    def fast(self) -> RecipeConfig:
        """Two seeds, tiny nets and runs, two strengths, weighted MCLR the one fine-tune: tests and ``--fast`` (same
        code path)."""
        nets = self.nets.fast()
        nets = replace(nets, train=replace(nets.train, steps=60, batch=128, width=16), tune_steps=30,
                       seeds=self.nets.seeds[:2], n_error=8, methods=("weighted-mclr",))
        return replace(self, nets=nets)

    def averages(self) -> tuple[str, ...]:
        return ("ema", "last", *(f"power {s:g}" for s in self.sigma_rels))

    def train_config(self, variant: str, objective: str, seed: int) -> TrainConfig:
        """The training config of one run: the recipe's DSM net or fine-tune of ``objective``, with ``variant``'s
        change where it applies."""
        config = replace(self.nets.train, seed=seed) if objective == "dsm" else self.nets.tune(objective, seed)
        change = dict(VARIANTS[variant])
        if "negatives" in change and not methods.get(objective).negatives:
            change.pop("negatives")
        return replace(config, **change)

    def methods_of(self, variant: str) -> tuple[str, ...]:
        """The fine-tunes ``variant`` changes (all-negatives: those that draw negatives)."""
        if "negatives" in VARIANTS[variant]:
            return tuple(m for m in self.nets.methods if methods.get(m).negatives)
        return self.nets.methods


@dataclass(frozen=True)
class Run:
    """One training unit: ``name``'s net (``"dsm"`` or a fine-tune) of ``variant`` and ``seed``."""

    config: RecipeConfig
    variant: str
    seed: int
    name: str


def train_run(unit: Run, dsm: TrainResult | None = None) -> TrainResult:
    """``unit``'s net, cached by its training config (a fine-tune also by its DSM net's)."""
    config = unit.config.train_config(unit.variant, unit.name, unit.seed)
    if unit.name == "dsm":
        return cached_training(net_key(config), lambda: train(config, progress=False))
    base = unit.config.train_config(unit.variant, "dsm", unit.seed)
    return cached_training(net_key(config, base), lambda: train(config, init=dsm.model, progress=False))


@dataclass(frozen=True)
class Point:
    """One measurement unit: every average of the nets of one variant and seed."""

    config: RecipeConfig
    variant: str
    seed: int


def run(config: RecipeConfig, progress: bool = True) -> dict[str, object]:
    """Train and measure every variant and seed (cached by the whole config; nets by their training configs):
    ``{"rows": [{"variant", "average", "seed", "method", "w", "own", "residual"}]}`` (``residual``: the post-hoc
    reconstruction's, largest over the point's nets)."""
    return cache.cached("training-recipe", config, lambda: _compute(config, progress))


def _dsm_variant(config: RecipeConfig, variant: str) -> str:
    """The variant whose DSM net ``variant`` uses (all-negatives changes no DSM run: the recipe's)."""
    return "recipe" if "negatives" in VARIANTS[variant] else variant


def _compute(config: RecipeConfig, progress: bool) -> dict[str, object]:
    seeds = config.nets.seeds
    bases = [Run(config, v, seed, "dsm") for v in config.variants if _dsm_variant(config, v) == v for seed in seeds]
    dsm = dict(zip(((u.variant, u.seed) for u in bases),
                   sweeps.map(train_run, bases, None, [f"{u.variant}, seed {u.seed}, dsm" for u in bases],
                              "recipe: DSM nets", progress=progress)))
    tunes = [Run(config, v, seed, name) for v in config.variants for seed in seeds for name in config.methods_of(v)]
    tuned = sweeps.map(train_run, tunes, None, [f"{u.variant}, seed {u.seed}, {u.name}" for u in tunes],
                       "recipe: fine-tunes", inputs=[(dsm[_dsm_variant(config, u.variant), u.seed],) for u in tunes],
                       progress=progress)
    nets = {(u.variant, u.seed, u.name): r for u, r in zip(tunes, tuned)}
    targets = optima(config.nets, progress)
    units = [Point(config, v, seed) for v in config.variants for seed in seeds]
    rows = sweeps.map(measure, units, "recipe-measure", [f"{u.variant}, seed {u.seed}" for u in units],
                      "recipe: measures",
                      inputs=[(dsm[_dsm_variant(config, u.variant), u.seed],
                               {n: nets[u.variant, u.seed, n] for n in config.methods_of(u.variant)}, targets)
                              for u in units], progress=progress)
    return {"rows": [row for point in rows for row in point]}


def measure(unit: Point, dsm: TrainResult, tuned: dict[str, TrainResult],
            target: dict[tuple[str, float], list[Tensor]]) -> list[dict[str, object]]:
    """Every average of this variant's nets, measured (module docstring)."""
    config, rows = unit.config, []
    for average in config.averages():
        dsm_net, residual = pick(dsm, average)
        models = {}
        for name, result in tuned.items():
            models[name, None], r = pick(result, average)
            residual = max(residual, r)
        for row in errors(config.nets, config.nets.mixture, dsm_net, models, target, "label"):
            if row["method"] in ("dsm", "dsm+cfg") and _dsm_variant(config, unit.variant) != unit.variant:
                continue            # the recipe's DSM net: its rows are the recipe's
            rows.append({"variant": unit.variant, "average": average, "seed": unit.seed, "method": row["method"],
                         "w": row["w"], "own": row["own"], "residual": residual})
    return rows


def pick(result: TrainResult, average: str) -> tuple[torch.nn.Module, float]:
    """The net ``average`` (``RecipeConfig.averages``) returns from ``result``'s run, and its reconstruction
    residual."""
    if average == "ema":
        return result.model, 0.0
    chosen, residual = averaged(result, None if average == "last" else float(average.removeprefix("power ")))
    return chosen.model, residual
