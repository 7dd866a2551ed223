"""Claims checked: its section of the results page."""

from __future__ import annotations

from .. import claims
from ..experiment import Experiment, Section, register


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


register(Experiment("claims", sections=(Section(
    "claims", "Claims checked",
    f"mclr-sandbox claims --replicates {claims.runner.REPLICATES[False]}: each published claim with its computed "
    f"verdict, under {claims.runner.REPLICATES[False]} seeds ({claims.runner.REPLICATES[True]} on the fast page)",
    _page),)))
