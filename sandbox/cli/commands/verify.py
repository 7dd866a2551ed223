"""``mclr-sandbox verify``: check that CFG is the optimum of weighted MCLR, six ways."""

from __future__ import annotations

import argparse
import time

from ...core.tables import format_table
from ...core.validation import SEED
from ..options import progress, typed
from ..output import emit
from ..registry import Command, register

UNRESOLVED = 3          # the exit code when some check is unresolved and none failed

EXAMPLES = """\
  mclr-sandbox verify --fast                # the theorem checked six ways, quick settings (< 60 s)
  mclr-sandbox verify --json results.json   # full grid, results also as JSON; exit 1 if any check fails
  mclr-sandbox verify --fast --mixture mine.json                  # the theorem on your own mixture
  mclr-sandbox verify --fast --only closed-form symbolic           # two of the checks"""


def run(args: argparse.Namespace) -> int:
    from ...experiments import verification

    t0 = time.perf_counter()
    config = verification.VerifyConfig(tuple(args.mixture) if args.mixture else None, args.fast, args.seed,
                                       tuple(args.only) if args.only else None)
    results = verification.run_all(fast=args.fast, progress=progress(args), mixtures=config.mixtures,
                                   seed=args.seed, checks=config.checks)
    shown = results if args.details else [r for r in results if not r.passed]
    rows = [(r.check, r.setting, f"{r.residual:.2e}", f"{r.tolerance:.2e}", r.status) for r in shown]
    failed = sum(r.status == "FAIL" for r in results)
    unresolved = sum(r.status == "unresolved" for r in results)
    one = config.mixtures[0] if config.mixtures and len(config.mixtures) == 1 else None
    text = verification.summary_table(results)
    if rows:
        text += "\n\n" + format_table(("check", "setting", "residual", "tolerance", "status"), rows)
    lines = [*config.skipped(), f"{len(results) - failed - unresolved}/{len(results)} checks passed, {failed} failed, "
             f"{unresolved} unresolved" + ("" if args.details else " (every row: --details)")]
    if unresolved:
        lines.append("unresolved: the check could not decide within its budget (its quadrature did not resolve, or "
                     "a trained field had not converged or could not tell the two scores apart): no evidence "
                     "against the theorem either way")
    emit(text, lines, t0, args, config, one, lambda: [r.as_dict() for r in results])
    return 1 if failed else UNRESOLVED if unresolved else 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mixture", nargs="+", metavar="NAME_OR_FILE",
                   help="check these mixtures (zoo names or .json files) instead of the zoo's")
    p.add_argument("--details", action="store_true", help="print every row (setting) of every check, not only "
                                                           "the per-check summary and the failures")
    p.add_argument("--only", nargs="+", metavar="CHECK",
                   help="run only these checks, by the names of the summary's first column (default: every one)")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0,
                   help="seed of every random draw (default 0): a new one re-draws the statistical checks")


register(Command(
    "verify", "check that CFG is the optimum of weighted MCLR, six ways",
    ("Check that the CFG score is the unique optimum of sample-adaptive weighted MCLR, six independent ways (closed "
     "form, quadrature, Monte Carlo, learning, symbolic, distribution). Each row passes, FAILs (a resolved residual "
     "above tolerance, or a statistical rejection) or is unresolved (the check's own numerics fell short within its "
     "budget). Exit 0 if all pass, 1 if any fails, 3 if some are unresolved and none fails."),
    EXAMPLES, run,
    options=options,
    fast="reduced grid and training (under a minute)",
    json="also write every result (with details) as JSON",
    sweeps=True))
