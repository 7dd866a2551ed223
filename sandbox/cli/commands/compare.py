"""``mclr-sandbox compare``: DSM vs MCLR nets against the exact conditional and CFG answers."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from ...core.validation import SEED
from ..options import MIXTURE_HELP, progress, typed
from ..output import emit
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox compare --fast               # DSM vs MCLR nets against the exact answers, quick
  mclr-sandbox compare --json compare.json  # three seeds (about 20 min from an empty cache)
  mclr-sandbox compare --fast --mixture mine.json --json out.json"""


def run(args: argparse.Namespace) -> int:
    from ...experiments.comparison import CompareConfig, acceptance_lines, as_json, compare, table
    from ...learn.training import TrainConfig

    t0 = time.perf_counter()
    config = CompareConfig(train=TrainConfig(mixture=args.mixture))
    config = config.fast() if args.fast else config
    if args.seeds is not None:     # given seeds are used as given, with --fast too
        config = replace(config, seeds=tuple(args.seeds))
    result = compare(config, progress=progress(args))
    gmm = config.train.mixture
    print(f"{gmm.name} ({gmm.fingerprint}), w = {config.w:g}, seeds {list(config.seeds)}: mean ±sd over seeds "
          f"(one seed: 95% interval)")
    emit(table(result), acceptance_lines(result), t0, args, config, gmm, lambda: as_json(result))
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=typed(SEED, "--seeds"), nargs="+",
                   help="training seeds, each an int >= 0 (default 0 1 2; with --fast, 0)")
    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE", help=MIXTURE_HELP)


register(Command(
    "compare", "DSM vs MCLR nets against the exact conditional and CFG answers",
    ("Train a DSM net and its MCLR fine-tunes (cached) and measure every net against the exact conditional and CFG "
     "answers, over seeds."),
    EXAMPLES, run,
    options=options,
    fast="tiny training, one seed (seconds, same code path)",
    json="also write every number (per seed, with intervals) as JSON"))
