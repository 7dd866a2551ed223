"""The guidance atlas, exact fields (crowded_4d): its section of the results page."""

from __future__ import annotations

from .. import separation
from ..experiment import TIME, Experiment, Section, block, register


def _page(fast: bool) -> str:
    config = separation.SweepConfig.atlas(fast=fast)
    rows = separation.sweep(config, progress=False)
    columns = tuple(k for k in separation.ATLAS_COLUMNS if k != "seconds_per_1000")
    times = ", ".join(f"{r.method} {r.metrics['seconds_per_1000'].value:.3g} s" for r in separation.defaults(rows)
                      if "seconds_per_1000" in r.metrics and r.w == config.ws[-1])
    swept = f" Then each rule's parameter sweep ({len(config.variants)} variants)." if config.variants else ""
    return (f"n = {config.n} per class, Heun {config.steps} steps, w in {list(config.ws)}.{swept}\n\n"
            + block(separation.table(rows, columns)) + f"\n\n{TIME}seconds per 1000 samples at w = "
            f"{config.ws[-1]:g}: {times}")


register(Experiment("atlas", sections=(Section(
    "atlas", "The guidance atlas, exact fields (crowded_4d)",
    "mclr-sandbox atlas --exact-only: every rule and training-time optimum of the atlas, sampled from its exact "
    "field, against exact CFG and exact q_0",
    _page),)))
