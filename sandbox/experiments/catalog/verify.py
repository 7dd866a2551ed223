"""The theorem, checked six ways: its section of the results page."""

from __future__ import annotations

from .. import verification
from ..experiment import Experiment, Section, block, register


def _page(fast: bool) -> str:
    results = verification.run_all(fast=fast, progress=False)
    passed = sum(r.passed for r in results)
    return block(verification.summary_table(results)) + f"\n\n{passed}/{len(results)} checks passed."


register(Experiment("verify", sections=(Section(
    "verify", "The theorem, checked six ways",
    "mclr-sandbox verify: every check on the zoo's mixtures",
    _page),)))
