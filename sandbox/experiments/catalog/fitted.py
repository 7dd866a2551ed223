"""Mixtures fitted to real data (``mclr-sandbox fit``; the zoo's digits, digits_pca and wine): their section of the
results page."""

from __future__ import annotations

from ...core import cache
from ...core.deferred import lazy
from ..experiment import Experiment, Section, register, sized

fitted_data = lazy("sandbox.experiments.fitted_data")


def _config(fast: bool):
    return sized(fitted_data.HeldoutConfig(), fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    rows = cache.run(config)
    lines = "\n".join(
        f"| {r['data']} | {r['d']} | {r['classes']} | {r['rows']} | {', '.join(map(str, r['components']))} "
        f"({r['chosen_by']}) | {r['mixture']:.2f} | {r['gaussian']:.2f} | {r['mixture'] - r['gaussian']:+.2f} | "
        f"{r['better']} of {r['classes']} |" for r in rows)
    return (f"A share of {config.fraction:g} of each class held out (seed {config.seed}), the fit repeated on the "
            "rest; held-out log-likelihood in nats per row (mean over classes), by the exact `log_prob(x, c)`. "
            "The fitted mixtures are models of the data: every number the sandbox computes from them is exact for "
            "the model.\n\n"
            "| data | d | classes | rows | components per class | held-out log-lik: mixture | one Gaussian per "
            "class | difference | classes where the mixture is better |\n|---|---|---|---|---|---|---|---|---|\n"
            + lines)


register(Experiment("fitted", sections=(Section(
    "fitted", "Mixtures fitted to real data",
    "mclr-sandbox fit DATA --labels COLUMN --out mix.json (the zoo's digits, digits_pca and wine are such fits): "
    "held-out log-likelihood against one Gaussian per class", _page),), config=_config))
