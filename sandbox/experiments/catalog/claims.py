"""Published claims, measured: ``mclr-sandbox claims`` and its section of the results page."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.deferred import lazy
from ...core.validation import COUNT, SEED
from ..experiment import Experiment, Option, Section, assignments, register

claims = lazy("sandbox.experiments.claims")


@dataclass(frozen=True)
class ClaimsRun:
    """Which claims (``only``; None: all), under which settings: ``fast``, the ``set`` changes
    (``CLAIM.SETTING=VALUE``), one ``seed`` for all (None: each claim's own) and ``replicates`` seeds each."""

    only: tuple[str, ...] | None = None
    fast: bool = False
    set: tuple[str, ...] = ()
    seed: int | None = None
    replicates: int = 1


def _run(config: ClaimsRun, progress: bool) -> dict[str, Any]:
    verdicts = claims.run(config.only, fast=config.fast,
                          announce=lambda line: print(f"mclr-sandbox claims: {line}", file=sys.stderr),
                          changes=assignments(list(config.set)), seed=config.seed, replicates=config.replicates)
    return {"config": config, "verdicts": verdicts}


def _lines(outcome: dict[str, Any], counterexamples: str | None = None) -> list[str]:
    verdicts, replicates = outcome["verdicts"], outcome["config"].replicates
    by = {v: [name for name, verdict in verdicts.items() if verdict.verdict == v] for v in claims.VERDICTS}
    return [f"{len(by[claims.HOLDS]) + len(by[claims.CAVEAT])} of {len(verdicts)} claims hold (with or without a "
            f"caveat)" + "".join(f"; {label}: {', '.join(by[v])}" for v, label in
                                 ((claims.FAILS, "failing"), (claims.UNDECIDED, "undecided")) if by[v])
            + (f"; each under {replicates} seeds" if replicates > 1 else "")]


def _counterexamples(outcome: dict[str, Any], counterexamples: str | None = None) -> list[str]:
    """Each counterexample mixture found, written as ``counterexamples/<claim>.json``."""
    if counterexamples is None:
        return []
    found = claims.counterexamples(outcome["verdicts"])
    for name, gmm in found.items():
        gmm.save(Path(counterexamples) / f"{name}.json")
    return [f"wrote {len(found)} counterexample mixture file(s) to {counterexamples}"
            + (f": {', '.join(found)}" if found else "")]


def _page(fast: bool) -> str:
    verdicts = claims.run(fast=fast, replicates=claims.runner.REPLICATES[fast])
    rows = "\n".join(f"| {name} | {claims.REGISTRY[name].reference} | **{v.verdict}** | {claims.tally(v)} | "
                     f"{v.reason} |" for name, v in verdicts.items())
    replicates = claims.runner.REPLICATES[fast]
    k = claims.quorum(replicates)
    return (f"Each claim measured under {replicates} seeds (its own, then steps of {claims.STRIDE}); a verdict "
            f"stands when at least {k} of them say it and every other seed is undecided (one seed's verdict is wrong "
            f"with probability at most 5%, so {k} or more wrong seeds of {replicates} have probability below 5%); "
            f"seeds that say different verdicts make it `undecided`: the claim sits at its threshold.\n\n"
            "| claim | reference | verdict | seeds | the numbers that decided it (a seed that says the verdict) |\n"
            "|---|---|---|---|---|\n" + rows)


register(Experiment(
    "claims",
    sections=(Section(
        "claims", "Claims checked",
        lambda: f"mclr-sandbox claims --replicates {claims.runner.REPLICATES[False]}: each published claim with its "
        f"computed verdict, under {claims.runner.REPLICATES[False]} seeds ({claims.runner.REPLICATES[True]} on the "
        "fast page)", _page),),
    summary="published claims about guidance, each with a computed verdict",
    description="Published claims about guidance, each measured on exact mixtures: the paper, the precise statement "
                "tested, and a verdict computed from the numbers (holds / fails / holds with a caveat).",
    examples="""\
  mclr-sandbox claims --fast                # every registered claim about guidance, with its verdict, quick
  mclr-sandbox claims --json claims.json    # full sizes; verdicts with their numbers and intervals as JSON
  mclr-sandbox claims --only cfg-is-not-q0 helps-on-average
  mclr-sandbox claims --counterexamples figures/counterexamples   # each counterexample as a mixture file
  mclr-sandbox claims --workers 2 --set monotone-over-mixtures.count=1000      # bigger, on 2 local workers""",
    config=lambda fast: ClaimsRun(fast=fast), run=_run,
    table=lambda outcome, counterexamples=None: claims.table(outcome["verdicts"]),
    lines=_lines, after=_counterexamples,
    as_json=lambda outcome: claims.as_json(outcome["verdicts"]),
    options=(Option("--only", "only", "these claims only (default: every registered one)", many=True, metavar="NAME"),
             Option("--counterexamples", "counterexamples", "write every counterexample mixture found as "
                    "DIR/<name>.json (a --mixture file)", metavar="DIR", view=True),
             Option("--set", "set", "change one setting of a claim's config, e.g. monotone-over-mixtures.count=10000 "
                    "or fades-in-high-d.phase_dims=2,4,8,16; repeatable (the settings of a claim: its JSON's config)",
                    repeat=True, metavar="CLAIM.SETTING=VALUE", read=tuple),
             Option("--seed", "seed", "every claim's seed (an int >= 0; default: each claim's own): redraws every "
                    "sample", limit=SEED, metavar="S"),
             Option("--replicates", "replicates", "measure each claim under R seeds (its seed, then steps of 1000) "
                    "and show how many agree; a claim whose seeds disagree is undecided (default 1)", limit=COUNT,
                    default=1, metavar="R")),
    fast="smaller samples and grids (seconds, same code path)",
    json="also write every verdict with its statement and numbers as JSON"))
