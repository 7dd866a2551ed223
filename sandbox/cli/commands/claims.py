"""``mclr-sandbox claims``: published claims about guidance, each with a computed verdict."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ...core.validation import COUNT, SEED
from ...experiments.experiment import assignments
from ..options import typed
from ..output import emit
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox claims --fast                # every registered claim about guidance, with its verdict, quick
  mclr-sandbox claims --json claims.json    # full sizes; verdicts with their numbers and intervals as JSON
  mclr-sandbox claims --only cfg-is-not-q0 helps-on-average
  mclr-sandbox claims --counterexamples figures/counterexamples   # each counterexample as a mixture file
  mclr-sandbox claims --workers 2 --set monotone-over-mixtures.count=1000      # bigger, on 2 local workers"""


def run(args: argparse.Namespace) -> int:
    from ...experiments import claims

    t0 = time.perf_counter()
    verdicts = claims.run(tuple(args.only) if args.only else None, fast=args.fast,
                          announce=lambda line: print(f"mclr-sandbox claims: {line}", file=sys.stderr),
                          changes=assignments(args.changes), seed=args.seed, replicates=args.replicates)
    by = {v: [name for name, verdict in verdicts.items() if verdict.verdict == v] for v in claims.VERDICTS}
    lines = [f"{len(by[claims.HOLDS]) + len(by[claims.CAVEAT])} of {len(verdicts)} claims hold (with or without a "
             f"caveat)" + "".join(f"; {label}: {', '.join(by[v])}" for v, label in
                                  ((claims.FAILS, "failing"), (claims.UNDECIDED, "undecided")) if by[v])
             + (f"; each under {args.replicates} seeds" if args.replicates > 1 else "")]
    if args.counterexamples is not None:
        found = claims.counterexamples(verdicts)
        for name, gmm in found.items():
            gmm.save(Path(args.counterexamples) / f"{name}.json")
        lines.append(f"wrote {len(found)} counterexample mixture file(s) to {args.counterexamples}"
                     + (f": {', '.join(found)}" if found else ""))
    emit(claims.table(verdicts), lines, t0, args, {"only": args.only, "fast": args.fast, "set": args.changes,
                                                      "seed": args.seed, "replicates": args.replicates},
            None, lambda: claims.as_json(verdicts))
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", nargs="+", metavar="NAME", help="these claims only (default: every registered one)")
    p.add_argument("--counterexamples", metavar="DIR",
                   help="write every counterexample mixture found as DIR/<name>.json (a --mixture file)")
    p.add_argument("--set", action="append", default=[], metavar="CLAIM.SETTING=VALUE", dest="changes",
                   help="change one setting of a claim's config, e.g. monotone-over-mixtures.count=10000 or "
                        "fades-in-high-d.phase_dims=2,4,8,16; repeatable (the settings of a claim: its JSON's "
                        "config)")
    p.add_argument("--seed", type=typed(SEED, "--seed"), metavar="S",
                   help="every claim's seed (an int >= 0; default: each claim's own): redraws every sample")
    p.add_argument("--replicates", type=typed(COUNT, "--replicates"), default=1, metavar="R",
                   help="measure each claim under R seeds (its seed, then steps of 1000) and show how many agree; "
                        "a claim whose seeds disagree is undecided (default 1)")


register(Command(
    "claims", "published claims about guidance, each with a computed verdict",
    ("Published claims about guidance, each measured on exact mixtures: the paper, the precise statement tested, and a "
     "verdict computed from the numbers (holds / fails / holds with a caveat)."),
    EXAMPLES, run,
    options=options,
    fast="smaller samples and grids (seconds, same code path)",
    json="also write every verdict with its statement and numbers as JSON",
    sweeps=True))
