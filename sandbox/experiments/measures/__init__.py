"""The measures the experiments report, declared once: each key's table heading, its axis label and what a larger
value means. Separation, the atlas, the trained atlas, the DSM-vs-MCLR comparison and ``evaluate`` name their
columns by these keys and take their headings from here (``heading``, ``headings``); how each is computed, with its
interval, is in ``metrics`` (the function named by ``compute``).

A measure of one class's samples alone (``samples(gmm, x, c, seed) -> Estimate``: separation and diversity) is
computed by ``report`` for every sample of every experiment that asks for it: a separation sweep computes every
such measure registered when its config is made (``SweepConfig.measures``, part of its cache key). A new measure is
one new module in this folder (every module here is loaded, after the package's own below) or in a plug-in,
registering a ``Measure``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...core import plugins, provenance
from ...core.deferred import lazy
from ...core.mixtures import ClassConditionalGMM

metrics = lazy("sandbox.experiments.metrics")
Samples = Callable[[ClassConditionalGMM, torch.Tensor, int, int], "metrics.Estimate"]


@dataclass(frozen=True)
class Measure:
    """``key`` (the results' and the JSON's name), ``heading`` (tables), ``label`` (figure axes, mathtext),
    ``larger`` (what a larger value means), ``compute`` (the ``metrics`` function behind it, when there is one
    function) and ``samples`` (how it is computed from samples ``x: (n, d)`` of class ``c`` alone, with ``seed`` for
    any draw it makes; ``None``: it needs more, e.g. a reference sample)."""

    key: str
    heading: str
    label: str
    larger: str
    compute: str = ""
    samples: Samples | None = None


MEASURES: dict[str, Measure] = plugins.track({})
# a measure's key in a config (SweepConfig.measures) adds the code that computes it to the result's fingerprint
provenance.add_resolver(lambda key: [MEASURES[key].samples] if key in MEASURES and MEASURES[key].samples else ())


def register(measure: Measure) -> Measure:
    """Add ``measure`` (its key must be new)."""
    return plugins.add(MEASURES, getattr(measure, "key", None), measure, Measure, "measure")


def heading(key: str) -> str:
    """The table heading of measure ``key``."""
    if key not in MEASURES:
        raise ValueError(f"measures must be drawn from {list(MEASURES)}, got {key!r}")
    return MEASURES[key].heading


def headings(keys: tuple[str, ...]) -> dict[str, str]:
    """``{key: heading}`` for ``keys``, in their order."""
    return {key: heading(key) for key in keys}


def of_samples() -> tuple[str, ...]:
    """The keys of every registered measure computed from a class's samples alone, in registration order."""
    return tuple(key for key, measure in MEASURES.items() if measure.samples is not None)


def report(gmm: ClassConditionalGMM, x: torch.Tensor, c: int, keys: tuple[str, ...], seed: int = 0) -> dict:
    """``{key: Estimate}``: each measure of ``keys`` (``of_samples``) for samples ``x: (n, d)`` of class ``c``."""
    unknown = [key for key in keys if key not in of_samples()]
    if unknown:
        raise ValueError(f"keys must be measures of samples {list(of_samples())}, got {unknown}")
    return {key: MEASURES[key].samples(gmm, x, c, seed) for key in keys}


for _measure in (
    # separation: how far apart the classes are
    Measure("bayes_accuracy", "Bayes accuracy", "Bayes accuracy", "more separated", "bayes_accuracy",
            lambda gmm, x, c, seed: metrics.bayes_accuracy(gmm, x, c)),
    Measure("mean_posterior", "mean p(c|x)", r"mean $p(c\mid x)$", "more separated", "mean_posterior",
            lambda gmm, x, c, seed: metrics.mean_posterior(gmm, x, c)),
    Measure("log_ratio_mean", "log-ratio", r"$\log p(x\mid c) - \log p(x\mid c')$", "more separated", "log_ratio",
            lambda gmm, x, c, seed: metrics.log_ratio(gmm, x, c, "mean")),
    Measure("log_ratio_min", "min log-ratio", r"$\min_{c'} \log p(x\mid c) / p(x\mid c')$", "more separated",
            "log_ratio", lambda gmm, x, c, seed: metrics.log_ratio(gmm, x, c, "min")),
    Measure("leakage", "leakage", "leakage", "less separated", "bayes_accuracy",
            lambda gmm, x, c, seed: metrics.leakage(gmm, x, c)),
    Measure("log_ratio", "log-ratio (exact)", "exact log-ratio", "more separated", "log_ratio"),
    Measure("model_log_ratio", "model log-ratio", "model log-ratio", "more separated (by the nets' own scores)"),
    # diversity
    Measure("mode_coverage", "mode coverage", "mode coverage", "more diverse", "mode_coverage",
            lambda gmm, x, c, seed: metrics.mode_coverage(gmm, x, c, seed=seed)),
    Measure("entropy", "entropy (nats)", "entropy (nats)", "more diverse", "entropy",
            lambda gmm, x, c, seed: metrics.entropy(x)),
    Measure("covariance_trace", "covariance trace", "covariance trace", "more spread", "covariance_trace",
            lambda gmm, x, c, seed: metrics.covariance_trace(x, seed=seed)),
    # fidelity: distances to exact references
    Measure("energy_distance", "energy distance to q_0", r"energy distance to $q_0$", "further from the tilted target",
            "energy_distance"),
    Measure("ks_to_q0", "KS distance to q_0", r"KS distance to $q_0$", "further from the tilted target",
            "ks_distance"),
    Measure("energy_distance_cfg", "energy distance to CFG", "energy distance to CFG", "further from exact CFG",
            "energy_distance"),
    Measure("score_distance_cfg", "score distance to CFG", "score distance to CFG", "further from exact CFG"),
    Measure("x0_overshoot", "x0 overshoot (posterior sds)", "x0 overshoot (posterior sds)",
            "denoised estimates further outside the data"),
    # trained nets
    Measure("score_error", "score error to own optimum", "score error to own optimum",
            "further from the objective's exact optimum"),
    Measure("dsm_error", "DSM net's error to it", "DSM net's error to it", "the DSM net further from the optimum"),
    Measure("score_error_cfg", "score error to exact CFG", "score error to exact CFG", "further from exact CFG"),
    Measure("score_error_cond", "score error to s_c", r"score error to $s_c$", "further from the conditional score"),
    # cost
    Measure("passes", "net passes per sample", "net passes per sample", "costlier"),
    Measure("seconds_per_1000", "s per 1000 samples", "s per 1000 samples", "slower"),
):
    register(_measure)

# every other module of this folder declares more (a new measure is one module)
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["MEASURES", "Measure", "heading", "headings", "of_samples", "register", "report"]
