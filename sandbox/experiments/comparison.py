"""DSM vs MCLR with small networks, measured against the exact answers (``mclr-sandbox compare``).

Per seed: a DSM net (label dropout, so it also gives CFG), three MCLR fine-tunes of it (``mclr``: unweighted with
the capped negatives; ``weighted-mclr``: weighted with exact posterior weights; ``weighted-mclr-classifier``:
weighted with a learned noisy classifier's weights) and the classifier itself. Every row is a method of
``sandbox.methods`` on a source, sampled per class from the same noise with the Heun ODE:

    dsm / exact, cfg / exact (w), dsm / nets, cfg / nets (w), mclr / nets, weighted-mclr / nets,
    weighted-mclr-classifier / nets          (an objective on nets: its fine-tuned net, unguided)

Columns: Bayes accuracy, leakage, exact log-likelihood ratio (mean over other classes), entropy (diversity),
the model's own log-likelihood ratio (probability-flow ODE likelihoods of the row's field, for each label), the
score error against the exact CFG score and against the exact conditional score (``evaluation.score_error``),
and the energy distance to exact CFG(w) samples. Seeds are summarised by mean and standard deviation.

The acceptance of the weighted fine-tune (``acceptance``): the share of the Bayes-accuracy gap between the
DSM net at w = 0 and with CFG(w) that it closes at w = 0, whether it is closer (energy distance) to exact CFG
samples than the DSM net's unguided samples, and its score error against the exact CFG score relative to that of
the same DSM net with CFG applied at sampling (the inference-time route, the fair yardstick: docs/theory.md); what
is expected of it is ``yardsticks.compare_lines``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from tqdm.auto import tqdm

from .. import methods
from ..core.fields import Field, labelled
from ..core.schedules import edm_sigmas
from ..core.tables import estimate, format_table, number
from ..core.validation import as_int, as_number, as_seeds
from ..learn.checkpoints import cached_training, net_key
from ..learn.training import TrainConfig, TrainResult, train, train_classifier
from ..methods import samplers
from . import evaluation, measures, metrics

TUNES = ("weighted-mclr", "weighted-mclr-classifier", "mclr")
ROWS = (("dsm", "exact"), ("cfg", "exact"), ("dsm", "nets"), ("cfg", "nets"), *((t, "nets") for t in TUNES))
HEADINGS = measures.headings(("bayes_accuracy", "leakage", "log_ratio", "entropy", "model_log_ratio",
                              "score_error_cfg", "score_error_cond", "energy_distance_cfg"))
KEYS = tuple(HEADINGS)


@dataclass(frozen=True)
class CompareConfig:
    """What ``compare`` trains and measures (``n`` samples per class; ``n_likelihood`` for the ODE likelihoods)."""

    train: TrainConfig = field(default_factory=TrainConfig)
    w: float = 2.0
    lam: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)
    n: int = 2000
    n_likelihood: int = 200
    steps: int = 64

    def __post_init__(self) -> None:
        if not isinstance(self.train, TrainConfig):
            raise TypeError(f"train must be a TrainConfig, got {type(self.train).__name__}")
        as_number(self.w, "w", minimum=0.0)
        as_number(self.lam, "lam", minimum=0.0)
        as_seeds(self.seeds)
        as_int(self.n, "n", minimum=10)
        as_int(self.n_likelihood, "n_likelihood", minimum=2)
        as_int(self.steps, "steps", minimum=1)
        if self.n_likelihood > self.n:
            raise ValueError(f"n_likelihood must be at most n = {self.n}, got {self.n_likelihood}")

    def fast(self) -> CompareConfig:
        """Tiny training and sample sizes, one seed: tests and ``--fast`` (same code path)."""
        return replace(self, train=self.train.fast(), seeds=self.seeds[:1], n=300, n_likelihood=30, steps=24)


def train_all(config: CompareConfig, seed: int, progress: bool = True) -> dict[str, TrainResult]:
    """The DSM net, its three MCLR fine-tunes and the classifier, for one seed (cached on disk by configuration).

    Keyed by objective name (``"dsm"``, ``TUNES``) and ``"classifier"``."""
    base = replace(config.train, seed=seed)
    clf_config = base.for_classifier()
    out = {"dsm": cached_training(net_key(base), lambda: train(base, progress=progress)),
           "classifier": cached_training({"classifier": clf_config},
                                         lambda: train_classifier(clf_config, progress=progress))}
    tunes = {"mclr": (base.fine_tune("mclr", lam=config.lam), None),
             "weighted-mclr": (base.fine_tune("weighted-mclr", w=config.w), None),
             "weighted-mclr-classifier": (base.fine_tune("weighted-mclr-classifier", w=config.w),
                                          out["classifier"].model)}
    for name, (tune, classifier) in tunes.items():
        out[name] = cached_training(net_key(tune, base, clf_config if classifier else None),
                                    lambda tune=tune, classifier=classifier: train(
                                        tune, init=out["dsm"].model, classifier=classifier, progress=progress))
    return out


def row_name(method: str, source: str) -> str:
    """A row's name in tables and JSON: ``"cfg / exact"``."""
    return f"{method} / {source}"


def row_fields(config: CompareConfig, nets: dict[str, TrainResult]) -> dict[str, Callable[[int], Field]]:
    """``row name -> field_for(c)`` for every row of the table (``ROWS``), built by ``methods.field``."""
    sources = {"exact": config.train.mixture, "nets": {name: r.model for name, r in nets.items()}}
    return {row_name(m, s): (lambda c, m=m, s=s: methods.field(m, sources[s], c, w=config.w, lam=config.lam))
            for m, s in ROWS}


def evaluate(config: CompareConfig, nets: dict[str, TrainResult], seed: int,
             progress: bool = True) -> dict[str, dict[str, metrics.Estimate]]:
    """Every measure of the module docstring for every row, class-averaged, for one seed's nets."""
    gmm = config.train.mixture
    sigmas = edm_sigmas(config.steps, 0.002, 80.0)
    k = gmm.num_classes
    starts = [gmm.sample(config.n, c=c, sigma=80.0, generator=seed * 100 + c) for c in range(k)]
    reference = [samplers.heun_ode(methods.field("cfg", gmm, c, w=config.w), starts[c], sigmas) for c in range(k)]
    cfg_score = labelled(lambda c: methods.field("cfg", gmm, c, w=config.w))
    out = {}
    for row, make in tqdm(row_fields(config, nets).items(), desc="evaluate", disable=not progress, leave=False):
        per_class = []
        for c in range(k):
            with torch.no_grad():
                x = samplers.heun_ode(make(c), starts[c], sigmas)
            sub = x[:config.n_likelihood]
            own = evaluation.model_log_prob(make(c), gmm, sub, c, steps=config.steps)
            others = torch.stack([evaluation.model_log_prob(make(j), gmm, sub, j, steps=config.steps)
                                  for j in range(k) if j != c], 1)
            per_class.append({
                "bayes_accuracy": metrics.bayes_accuracy(gmm, x, c),
                "leakage": metrics.leakage(gmm, x, c),
                "log_ratio": metrics.log_ratio(gmm, x, c),
                "entropy": metrics.entropy(x),
                "model_log_ratio": metrics.normal_mean((own[:, None] - others).mean(1)),
                "energy_distance_cfg": metrics.energy_distance(x, reference[c], seed=seed),
            })
        summary = {key: metrics.Estimate.mean([p[key] for p in per_class]) for key in per_class[0]}
        field = labelled(make)
        summary["score_error_cfg"] = evaluation.score_error(field, cfg_score, gmm, n=config.n // 4, seed=seed)[1]
        summary["score_error_cond"] = evaluation.score_error(field, gmm.score, gmm, n=config.n // 4, seed=seed)[1]
        out[row] = summary
    return out


def acceptance(results: dict[str, dict[str, metrics.Estimate]]) -> dict[str, dict[str, float]]:
    """Gap closed, energy distances and score-error ratio for each fine-tune (module docstring)."""
    dsm0, dsm_cfg = results[row_name("dsm", "nets")], results[row_name("cfg", "nets")]
    gap = dsm_cfg["bayes_accuracy"].value - dsm0["bayes_accuracy"].value
    out = {}
    for name in TUNES:
        r = results[row_name(name, "nets")]
        out[name] = {
            "gap_closed": (r["bayes_accuracy"].value - dsm0["bayes_accuracy"].value) / gap if gap > 0 else float("nan"),
            "energy_distance_cfg": r["energy_distance_cfg"].value,
            "energy_distance_cfg_dsm": dsm0["energy_distance_cfg"].value,
            "score_error_ratio": r["score_error_cfg"].value / dsm0["score_error_cfg"].value,
            "score_error_route": r["score_error_cfg"].value / dsm_cfg["score_error_cfg"].value,
        }
    return out


def compare(config: CompareConfig = CompareConfig(), progress: bool = True) -> dict[str, object]:
    """Train and evaluate for every seed; return per-seed results, acceptance numbers and the seed summary."""
    per_seed, accept, timing = [], [], []
    for seed in config.seeds:
        nets = train_all(config, seed, progress)
        timing.append({name: r.seconds for name, r in nets.items()})
        res = evaluate(config, nets, seed, progress)
        per_seed.append(res)
        accept.append(acceptance(res))
    summary = {row: {key: _spread([r[row][key].value for r in per_seed]) for key in KEYS}
               for row in per_seed[0]}
    accept_summary = {name: {key: _spread([a[name][key] for a in accept]) for key in accept[0][name]}
                      for name in accept[0]}
    return {"per_seed": per_seed, "acceptance": accept, "timing": timing,
            "summary": summary, "acceptance_summary": accept_summary}


@dataclass(frozen=True)
class FigureConfig:
    """What the ``mlp_comparison`` figure draws for one seed's nets: the training curves of ``histories``, the
    score error per sigma against exact CFG of ``error_rows``, and ``n_panel`` samples per class of ``panels``."""

    compare: CompareConfig = field(default_factory=CompareConfig)
    seed: int = 0
    n_panel: int = 600
    histories: tuple[str, ...] = ("dsm", "weighted-mclr")
    error_rows: tuple[str, ...] = ("dsm / nets", "cfg / nets", "mclr / nets", "weighted-mclr-classifier / nets",
                                   "weighted-mclr / nets")
    panels: tuple[str, ...] = ("cfg / exact", "dsm / nets", "weighted-mclr / nets", "cfg / nets")

    def fast(self) -> FigureConfig:
        return replace(self, compare=self.compare.fast())

    def compute(self, progress: bool = False) -> dict[str, object]:
        config = self.compare
        gmm = config.train.mixture
        nets = train_all(config, self.seed, progress)
        rows = row_fields(config, nets)
        cfg_score = labelled(lambda c: methods.field("cfg", gmm, c, w=config.w))
        errors = {}
        for row in self.error_rows:
            per_sigma, _ = evaluation.score_error(labelled(rows[row]), cfg_score, gmm, n=config.n // 4, seed=self.seed)
            errors[row] = torch.tensor(list(per_sigma.items()), dtype=torch.float64)
        sigmas = edm_sigmas(config.steps, 0.002, 80.0)
        n = min(config.n, self.n_panel)
        samples = {}
        for row in self.panels:
            with torch.no_grad():
                samples[row] = [samplers.heun_ode(rows[row](c), gmm.sample(n, c=c, sigma=80.0, generator=c), sigmas)
                                for c in range(gmm.num_classes)]
        return {"histories": {k: torch.tensor(nets[k].history, dtype=torch.float64) for k in self.histories},
                "errors": errors, "samples": samples}


def _spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation over seeds (0 for one seed)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def table(result: dict[str, object]) -> str:
    """Rows x measures, ``mean ±sd`` over seeds (one seed: ``value [lo, hi]`` with the 95% interval)."""
    one_seed = len(result["per_seed"]) == 1
    header = ["method / source", *HEADINGS.values()]
    body = []
    for row, vals in result["summary"].items():
        if one_seed:
            est = result["per_seed"][0][row]
            cells = [f"{number(est[k].value)} [{number(est[k].lo, 3)}, {number(est[k].hi, 3)}]" for k in KEYS]
        else:
            cells = [estimate(*vals[k]) for k in KEYS]
        body.append([row, *cells])
    return format_table(header, body)


def as_json(result: dict[str, object]) -> dict[str, object]:
    """``result`` with every ``Estimate`` as a dict (for ``write_json``)."""
    return {**result,
            "per_seed": [{k: {m: e.as_dict() for m, e in v.items()} for k, v in r.items()} for r in result["per_seed"]],
            "summary": {k: {m: {"mean": v[0], "sd": v[1]} for m, v in vals.items()}
                        for k, vals in result["summary"].items()}}
