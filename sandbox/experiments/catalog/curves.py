"""Learning curves of the trained fine-tunes: ``mclr-sandbox curves`` and its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ...core.validation import RISING_COUNTS
from ..experiment import Experiment, Option, Section, block, bullets, register, sized

learning_curves = lazy("sandbox.experiments.learning_curves")
curve_fits = lazy("sandbox.experiments.curve_fits")


def _config(fast: bool) -> learning_curves.CurvesConfig:
    return sized(learning_curves.CurvesConfig(), fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    result = learning_curves.run(config, progress=False)
    return (f"{len(config.nets.seeds)} seed(s) per point; budgets {', '.join(map(str, config.budgets))} fine-tune "
            f"steps; widths {', '.join(map(str, config.widths))}; the atlas's recipe otherwise.\n\n"
            + block(curve_fits.table(result)) + "\n\n" + bullets(curve_fits.lines(result)))


register(Experiment(
    "curves",
    sections=(Section("curves", "Learning curves of the fine-tunes",
                      "mclr-sandbox curves: each fine-tune's error to exact CFG against its training budget and "
                      "width, against the same width's DSM net with CFG at inference; mean and 95% t-interval over "
                      "seeds", _page),),
    summary="learning curves: fine-tunes against budget and width",
    description="Train the trained atlas's fine-tunes (weighted MCLR, GFT, model guidance, data tilt) at several "
                "budgets and widths, each run with its own schedule, and measure each one's error to its exact "
                "optimum and to exact CFG against the DSM net of the same width with CFG at inference; fit a power "
                "law in the budget and say at which budget each meets that yardstick.",
    examples="""\
  mclr-sandbox curves --fast                           # one mixture, tiny budgets and widths (seconds)
  mclr-sandbox curves --workers 2 --json curves.json   # the full grid (tens of minutes); every number as JSON
  mclr-sandbox curves --budgets 500 1500 --widths 64 128 --set nets.seeds=0,1
  mclr-sandbox curves --fast --mixture mine.json      # your own mixture""",
    config=_config,
    run=lambda config, progress: learning_curves.run(config, progress),
    header=lambda config, result: (f"{', '.join(m.name for m in config.mixtures)}; {len(config.nets.seeds)} "
                                   f"seed(s) per point"),
    mixture=lambda config, result: config.mixtures[0] if len(config.mixtures) == 1 else None,
    table=lambda result: curve_fits.table(result),
    lines=lambda result: curve_fits.lines(result),
    as_json=lambda result: result,
    options=(Option("--mixture", "mixtures", "zoo names or mixture .json files, each a grid of its own (default: "
                    "crowded_4d overlap_2d; with --fast the last one)", many=True, metavar="NAME_OR_FILE", reads=True),
             Option("--budgets", "budgets", "fine-tune steps, increasing (default 500 1500 4500)",
                    limit=RISING_COUNTS, many=True, metavar="N"),
             Option("--widths", "widths", "hidden widths, increasing (default 32 64 128)", limit=RISING_COUNTS,
                    many=True, metavar="N")),
    fast="one mixture, one seed, tiny budgets and widths (seconds)",
    json="also write every net's errors as JSON"))
