"""The measures the experiments report, declared once: each key's table heading, its axis label and what a larger
value means. Separation, the atlas, the trained atlas, the DSM-vs-MCLR comparison and ``evaluate`` name their
columns by these keys and take their headings from here (``heading``, ``headings``); how each is computed, with its
interval, is in ``metrics`` (the function named by ``compute``).

A plug-in may declare a measure of its own (``register``) and report it under its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import plugins


@dataclass(frozen=True)
class Measure:
    """``key`` (the results' and the JSON's name), ``heading`` (tables), ``label`` (figure axes, mathtext),
    ``larger`` (what a larger value means) and ``compute`` (the ``metrics`` function behind it, when there is one
    function)."""

    key: str
    heading: str
    label: str
    larger: str
    compute: str = ""


MEASURES: dict[str, Measure] = plugins.track({})


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


for _measure in (
    # separation: how far apart the classes are
    Measure("bayes_accuracy", "Bayes accuracy", "Bayes accuracy", "more separated", "bayes_accuracy"),
    Measure("mean_posterior", "mean p(c|x)", r"mean $p(c\mid x)$", "more separated", "mean_posterior"),
    Measure("log_ratio_mean", "log-ratio", r"$\log p(x\mid c) - \log p(x\mid c')$", "more separated", "log_ratio"),
    Measure("log_ratio_min", "min log-ratio", r"$\min_{c'} \log p(x\mid c) / p(x\mid c')$", "more separated",
            "log_ratio"),
    Measure("leakage", "leakage", "leakage", "less separated", "bayes_accuracy"),
    Measure("log_ratio", "log-ratio (exact)", "exact log-ratio", "more separated", "log_ratio"),
    Measure("model_log_ratio", "model log-ratio", "model log-ratio", "more separated (by the nets' own scores)"),
    # diversity
    Measure("mode_coverage", "mode coverage", "mode coverage", "more diverse", "mode_coverage"),
    Measure("entropy", "entropy (nats)", "entropy (nats)", "more diverse", "entropy"),
    Measure("covariance_trace", "covariance trace", "covariance trace", "more spread", "covariance_trace"),
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
