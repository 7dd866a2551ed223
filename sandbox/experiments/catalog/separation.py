"""Separation and diversity: ``mclr-sandbox separation`` and its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ...core.validation import SEED
from ..experiment import (
    MIXTURE_HELP,
    PARAM,
    SAMPLER,
    Experiment,
    Option,
    Section,
    block,
    bullets,
    register,
    sized,
)

separation = lazy("sandbox.experiments.separation")


def _config(fast: bool) -> separation.SweepConfig:
    config = separation.SweepConfig()
    return sized(config, fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    rows = separation.sweep(config, progress=False)
    return (f"n = {config.n} per class, Heun {config.steps} steps.\n\n"
            + block(separation.table(rows, hide=("seconds_per_1000",)))
            + "\n\n" + bullets(separation.trend_summary(rows)))


def _header(config: separation.SweepConfig, rows: list) -> str:
    gmm = config.mixture
    return (f"{gmm.name} ({gmm.fingerprint}): n = {config.n} per class, Heun {config.steps} steps, metrics averaged "
            f"over classes, 95% intervals")


def _methods_help() -> str:
    from ... import methods

    return ("methods with an exact field or exact draws, plug-ins' included (default: "
            f"{' '.join(methods.names(experiment='separation'))})")


register(Experiment(
    "separation",
    sections=(Section("separation", "Separation and diversity on overlap_2d",
                      "mclr-sandbox separation: CFG, the MCLR optima and exact q_0 over w and lambda, class-averaged, "
                      "95% intervals", _page),),
    summary="inter-class separation and diversity of CFG, MCLR and the tilted target",
    description="Sample each class with the exact fields of CFG and the MCLR optima and exact draws of the tilted "
                "target, over w and lambda, and measure separation, diversity and fidelity with intervals.",
    examples="""\
  mclr-sandbox separation --fast            # what CFG / MCLR / the tilted target do to each class, quick
  mclr-sandbox separation --mixture teaching_1d --json sep.json
  mclr-sandbox separation --fast --mixture mine.json              # your own mixture (ClassConditionalGMM.save)""",
    config=_config,
    run=lambda config, progress: separation.sweep(config, progress=progress),
    header=_header,
    table=lambda result: separation.table(result),
    lines=lambda result: separation.trend_summary(result),
    as_json=lambda result: separation.as_json(result),
    mixture=lambda config, rows: config.mixture,
    options=(Option("--mixture", "mixture", MIXTURE_HELP, default="overlap_2d", metavar="NAME_OR_FILE", reads=True),
             Option("--methods", "methods", _methods_help, many=True, metavar="NAME"),
             Option("--seed", "seed", "seed of every draw (default 0)", limit=SEED, default=0),
             PARAM, SAMPLER),
    fast="fewer samples and w values (seconds, same code path)",
    json="also write every row (per class, with intervals) as JSON"))
