"""``mclr-sandbox evaluate``: measure a trained checkpoint against its mixture's exact answers."""

from __future__ import annotations

import argparse
import time

from ...core.tables import format_table
from ...core.validation import SEED
from ..options import typed
from ..output import emit
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox evaluate --checkpoint nets/gft.pt          # a trained net against its mixture's exact answers
  mclr-sandbox evaluate --fast --checkpoint nets/dsm.pt --json eval.json"""


def run(args: argparse.Namespace) -> int:
    from ...experiments import measures, net_evaluation
    from ...learn import checkpoints

    t0 = time.perf_counter()
    result = checkpoints.load(args.checkpoint)
    config = net_evaluation.EvaluateConfig(seed=args.seed)
    config = config.fast() if args.fast else config
    measured = net_evaluation.evaluate(result, config)
    gmm = result.config.mixture
    if measured["kind"] == "classifier":
        rows = [(f"{r['sigma']:.3g}", str(r["kl_to_exact"]), str(r["agrees_with_bayes"])) for r in measured["rows"]]
        text = format_table(("sigma", "KL to the exact posterior", "agrees with the Bayes label"), rows)
    else:
        keys = ("score_error", "score_error_cfg", "bayes_accuracy", "mean_posterior", "entropy", "mode_coverage",
                "energy_distance_cfg")
        text = format_table(("w", *(measures.heading(k) for k in keys)),
                            [(f"{r['w']:g}", *(str(r[k]) for k in keys)) for r in measured["rows"]])
    print(f"{args.checkpoint}: a {measured['objective']} net on {gmm.name} ({gmm.fingerprint}); 95% intervals")
    emit(text, [], t0, args, {"checkpoint": str(args.checkpoint), "evaluate": config}, gmm,
            lambda: {**measured, "rows": [_plain_row(r) for r in measured["rows"]]})
    return 0


def _plain_row(row: dict) -> object:
    from ...core import cache

    return cache.plain({k: v.as_dict() if hasattr(v, "as_dict") else v for k, v in row.items()})


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a checkpoint written by train")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0, help="seed of every draw (default 0)")


register(Command(
    "evaluate", "measure a trained checkpoint against its mixture's exact answers",
    ("Measure a trained checkpoint against the exact answers of the mixture it carries: score error per sigma to its "
     "own objective's exact optimum and to exact CFG, and separation, diversity and distance to exact CFG of its "
     "samples, with intervals (a classifier: KL to the exact noisy posterior)."),
    EXAMPLES, run,
    options=options,
    fast="fewer samples and points (seconds)",
    json="also write every number (with intervals) as JSON"))
