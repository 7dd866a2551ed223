"""``mclr-sandbox separation``: inter-class separation and diversity of CFG, MCLR and the tilted target."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from ...core.validation import SEED
from ..options import MIXTURE_HELP, method_params, param_flags, progress, typed
from ..output import emit
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox separation --fast            # what CFG / MCLR / the tilted target do to each class, quick
  mclr-sandbox separation --mixture teaching_1d --json sep.json
  mclr-sandbox separation --fast --mixture mine.json              # your own mixture (ClassConditionalGMM.save)"""


def run(args: argparse.Namespace) -> int:
    from ...experiments.separation import SweepConfig, as_json, sweep, table, trend_summary

    t0 = time.perf_counter()
    config = SweepConfig(mixture=args.mixture, seed=args.seed)
    config = replace(config, methods=tuple(args.methods)) if args.methods else config
    config = config.fast() if args.fast else config
    config = replace(config, method_params=method_params(args.params), sampler=args.sampler)
    rows = sweep(config, progress=progress(args))
    gmm = config.mixture
    print(f"{gmm.name} ({gmm.fingerprint}): n = {config.n} per class, Heun {config.steps} steps, metrics averaged "
          f"over classes, 95% intervals")
    emit(table(rows), trend_summary(rows), t0, args, config, gmm, lambda: as_json(rows))
    return 0


def options(p: argparse.ArgumentParser) -> None:
    from ... import methods

    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE", help=MIXTURE_HELP)
    p.add_argument("--methods", nargs="+", metavar="NAME",
                   help="methods with an exact field or exact draws, plug-ins' included (default: "
                        f"{' '.join(methods.names(experiment='separation'))})")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0, help="seed of every draw (default 0)")
    param_flags(p)


register(Command(
    "separation", "inter-class separation and diversity of CFG, MCLR and the tilted target",
    ("Sample each class with the exact fields of CFG and the MCLR optima and exact draws of the tilted target, over w "
     "and lambda, and measure separation, diversity and fidelity with intervals."),
    EXAMPLES, run,
    options=options,
    fast="fewer samples and w values (seconds, same code path)",
    json="also write every row (per class, with intervals) as JSON",
    sweeps=True))
