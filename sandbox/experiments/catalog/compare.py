"""DSM vs MCLR nets: ``mclr-sandbox compare`` and its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ...core.validation import SEED
from ..experiment import MIXTURE_HELP, Experiment, Option, Section, block, bullets, register, sized

comparison = lazy("sandbox.experiments.comparison")
yardsticks = lazy("sandbox.experiments.yardsticks")


def _config(fast: bool) -> comparison.CompareConfig:
    config = comparison.CompareConfig()
    return sized(config, fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    result = comparison.compare(config, progress=False)
    return (f"w = {config.w:g}, seeds {list(config.seeds)}.\n\n" + block(comparison.table(result)) + "\n\n"
            + bullets(yardsticks.compare_lines(result)))


def _header(config: comparison.CompareConfig, result: dict) -> str:
    gmm = config.train.mixture
    return (f"{gmm.name} ({gmm.fingerprint}), w = {config.w:g}, seeds {list(config.seeds)}: mean ±sd over seeds "
            f"(one seed: 95% interval)")


register(Experiment(
    "compare",
    sections=(Section("compare", "DSM vs MCLR nets (overlap_2d)",
                      "mclr-sandbox compare: a DSM net and its MCLR fine-tunes against the exact conditional and CFG "
                      "answers", _page),),
    summary="DSM vs MCLR nets against the exact conditional and CFG answers",
    description="Train a DSM net and its MCLR fine-tunes (cached) and measure every net against the exact conditional "
                "and CFG answers, over seeds.",
    examples="""\
  mclr-sandbox compare --fast               # DSM vs MCLR nets against the exact answers, quick
  mclr-sandbox compare --json compare.json  # three seeds (about 20 min from an empty cache)
  mclr-sandbox compare --fast --mixture mine.json --json out.json""",
    config=_config,
    run=lambda config, progress: comparison.compare(config, progress=progress),
    header=_header,
    table=lambda result: comparison.table(result),
    lines=lambda result: yardsticks.compare_lines(result),
    as_json=lambda result: comparison.as_json(result),
    mixture=lambda config, result: config.train.mixture,
    # given seeds are used as given, with --fast too
    options=(Option("--seeds", "seeds", "training seeds, each an int >= 0 (default 0 1 2; with --fast, 0)",
                    limit=SEED, many=True),
             Option("--mixture", "train.mixture", MIXTURE_HELP, default="overlap_2d", metavar="NAME_OR_FILE",
                    reads=True)),
    sweeps=False,
    fast="tiny training, one seed (seconds, same code path)",
    json="also write every number (per seed, with intervals) as JSON"))
