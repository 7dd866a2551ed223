"""Published claims, measured: ``mclr-sandbox claims`` and its section of the results page."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core import zoo
from ...core.deferred import lazy
from ...core.validation import COUNT, SEED
from ..experiment import Experiment, Option, Section, assignments, register

claims = lazy("sandbox.experiments.claims")


def claims_zoo() -> tuple[str, ...]:
    """The zoo's names (what a claim's ``mixtures`` takes)."""
    return tuple(zoo.ZOO)


@dataclass(frozen=True)
class ClaimsRun:
    """Which claims (``only``; None: all), under which settings: ``fast``, the ``set`` changes
    (``CLAIM.SETTING=VALUE``), one ``seed`` for all (None: each claim's own) and ``replicates`` seeds each; the
    claims about the data's geometry also on each zoo mixture of ``data`` (none: ``("none",)``)."""

    only: tuple[str, ...] | None = None
    fast: bool = False
    set: tuple[str, ...] = ()
    seed: int | None = None
    replicates: int = 1
    data: tuple[str, ...] = zoo.REAL_DATA


def _run(config: ClaimsRun, progress: bool) -> dict[str, Any]:
    def announce(line: str) -> None:
        print(f"mclr-sandbox claims: {line}", file=sys.stderr)

    verdicts = claims.run(config.only, fast=config.fast, announce=announce, changes=assignments(list(config.set)),
                          seed=config.seed, replicates=config.replicates)
    data = tuple(m for m in config.data if m != "none")
    found = claims.on_data(config.only, data, fast=config.fast, announce=announce, seed=config.seed,
                           replicates=config.replicates) if data else {}
    return {"config": config, "verdicts": verdicts, "on_data": found}


def _table(outcome: dict[str, Any], counterexamples: str | None = None) -> str:
    text = claims.table(outcome["verdicts"])
    if not outcome["on_data"]:
        return text
    return (f"{text}\n\nThe claims about the data's geometry on other data (mixtures fitted to real data sets):\n"
            + claims.data_table(outcome["on_data"]))


def _lines(outcome: dict[str, Any], counterexamples: str | None = None) -> list[str]:
    verdicts, replicates = outcome["verdicts"], outcome["config"].replicates
    by = {v: [name for name, verdict in verdicts.items() if verdict.verdict == v] for v in claims.VERDICTS}
    on_data = [f"{name} {verdict.verdict} on {m}" for name, per in outcome["on_data"].items()
               for m, verdict in per.items()]
    return [f"{len(by[claims.HOLDS]) + len(by[claims.CAVEAT])} of {len(verdicts)} claims hold (with or without a "
            f"caveat)" + "".join(f"; {label}: {', '.join(by[v])}" for v, label in
                                 ((claims.FAILS, "failing"), (claims.UNDECIDED, "undecided")) if by[v])
            + (f"; each under {replicates} seeds" if replicates > 1 else ""),
            *([f"on real data: {'; '.join(on_data)}"] if on_data else [])]


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
            "|---|---|---|---|---|\n" + rows + "\n\n" + _data_page(fast))


def _data_page(fast: bool) -> str:
    """The claims about the data's geometry on mixtures fitted to real data (``zoo``: digits, wine)."""
    replicates = claims.DATA_REPLICATES[fast]
    found = claims.on_data(None, zoo.REAL_DATA, fast=fast, replicates=replicates)
    rows = "\n".join(f"| {name} | {m} | **{v.verdict}** | {claims.tally(v)} | {v.reason} |"
                     for name, per in found.items() for m, v in per.items())
    return (f"**On real data.** The claims about the data's geometry, each measured on a mixture fitted to a real "
            f"data set (`mclr-sandbox fit`; zoo {', '.join(zoo.REAL_DATA)}) in place of its own, under "
            + (f"{replicates} seeds (a verdict needs {claims.quorum(replicates)} of them)" if replicates > 1 else
               "one seed") + ". The fit is a model of the "
            "data: these verdicts are exact for the model, whose geometry is the data's.\n\n"
            "| claim | on | verdict | seeds | the numbers that decided it |\n|---|---|---|---|---|\n" + rows)


register(Experiment(
    "claims",
    sections=(Section(
        "claims", "Claims checked",
        lambda: f"mclr-sandbox claims --replicates {claims.runner.REPLICATES[False]}: each published claim with its "
        f"computed verdict, under {claims.runner.REPLICATES[False]} seeds ({claims.runner.REPLICATES[True]} on the "
        "fast page)", _page),),
    summary="published claims about guidance, each with a computed verdict",
    description="Published claims about guidance, each measured on exact mixtures: the paper, the precise statement "
                "tested, and a verdict computed from the numbers (holds, fails, holds with a caveat, or undecided "
                "where the intervals do not settle it); the claims about the data's geometry also on mixtures "
                "fitted to real data (--data).",
    examples="""\
  mclr-sandbox claims --fast                # every registered claim about guidance, with its verdict, quick
  mclr-sandbox claims --json claims.json    # full sizes; verdicts with their numbers and intervals as JSON
  mclr-sandbox claims --only cfg-is-not-q0 helps-on-average
  mclr-sandbox claims --fast --only speciation-time --data digits digits_pca     # on mixtures fitted to real data
  mclr-sandbox claims --counterexamples figures/counterexamples   # each counterexample as a mixture file
  mclr-sandbox claims --workers 2 --set monotone-over-mixtures.count=1000      # bigger, on 2 local workers""",
    config=lambda fast: ClaimsRun(fast=fast), run=_run,
    table=_table, lines=_lines, after=_counterexamples,
    as_json=lambda outcome: claims.as_json(outcome["verdicts"], outcome["on_data"]),
    options=(Option("--only", "only", "these claims only (default: every registered one)", many=True, metavar="NAME"),
             Option("--counterexamples", "counterexamples", "write every counterexample mixture found as "
                    "DIR/<name>.json (a --mixture file)", metavar="DIR", view=True),
             Option("--set", "set", "change one setting of a claim's config, e.g. monotone-over-mixtures.count=10000 "
                    "or fades-in-high-d.phase_dims=2,4,8,16; repeatable (the settings of a claim: its JSON's config)",
                    repeat=True, metavar="CLAIM.SETTING=VALUE", read=tuple),
             Option("--seed", "seed", "every claim's seed (an int >= 0; default: each claim's own): redraws every "
                    "sample", limit=SEED, metavar="S"),
             Option("--data", "data", "also measure the claims about the data's geometry on these zoo mixtures in "
                    f"place of their own (default: {' '.join(zoo.REAL_DATA)}, fitted to real data; none: skip)",
                    many=True, choices=(*claims_zoo(), "none"), metavar="NAME"),
             Option("--replicates", "replicates", "measure each claim under R seeds (its seed, then steps of 1000) "
                    "and show how many agree; a claim whose seeds disagree is undecided (default 1)", limit=COUNT,
                    default=1, metavar="R")),
    fast="smaller samples and grids (seconds, same code path)",
    json="also write every verdict with its statement and numbers as JSON"))
