"""Production code under exact test: diffusers' schedulers against the exact probability-flow path, its guiders
against their papers' rules (``mclr-sandbox audit``; needs the diffusers extra)."""

from __future__ import annotations

import numpy as np

from ...experiments import experiment
from ...experiments.library_audit import audit
from .. import plotting as P
from ..plotting import plt
from .registry import figure


@figure("library_audit", "diffusers' schedulers: error to the exact probability-flow path against steps, with order "
        "lines; its guiders: difference from their papers' rules", needs="diffusers")
def library_audit_figure(fast: bool = False) -> plt.Figure:
    """Draws ``library_audit.audit``'s results (what ``mclr-sandbox audit`` prints)."""
    config = experiment.config("audit", fast)
    result = audit(config)
    with P.style():
        fig, (left, right) = P.new_figure(P.DOUBLE_COLUMN, 3.6, ncols=2, width_ratios=(1.0, 1.0))
        steps = np.array([r["steps"] for r in result["schedulers"][0]["runs"]], dtype=float)
        # a scheduler's other configs ("DDIM, as ... ships it") share its colour, dashed with hollow markers
        bases = list(dict.fromkeys(row["name"].split(",")[0] for row in result["schedulers"]))
        for row in result["schedulers"]:
            base = row["name"].split(",")[0]
            variant = base != row["name"]
            left.loglog(steps, [r["error"] for r in row["runs"]], "o" if row["order"] != 2 else "s",
                        ls="--" if variant else "-", mfc="none" if variant else None,
                        color=P.class_color(bases.index(base)), lw=1.0, ms=3, label=row["name"])
        top = max(r["runs"][0]["error"] for r in result["schedulers"])
        for order, ls in ((1, ":"), (2, "--")):        # reference slopes through the largest first error
            left.loglog(steps, top * (steps / steps[0]) ** -order, ls, color="0.4", lw=0.8, label=f"order {order}")
        left.set_xticks(steps, [f"{n:g}" for n in steps])
        left.minorticks_off()
        left.set_xlabel("steps")
        left.set_ylabel("RMS error to the exact path (data sds)")
        fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=5.5)
        guiders = result["guiders"]
        floor = 1e-17        # a difference of exactly 0 drawn at the bottom of the log axis
        values = [max(g["error"], floor) for g in guiders]
        y = np.arange(len(guiders))
        right.barh(y, values, color=["0.55" if g["agrees"] else "#c0392b" for g in guiders])
        right.axvline(1e-10, color="k", lw=0.8, ls="--")
        right.text(1.3e-10, -0.75, "agrees below 1e-10", fontsize=5.5, va="bottom")
        right.set_xscale("log")
        right.set_xlim(floor, 10.0)
        right.set_yticks(y, [g["name"].replace("Guidance", "") for g in guiders], fontsize=5.5)
        right.set_ylim(len(guiders) - 0.5, -1.0)
        right.set_xlabel("largest relative difference from the paper")
        fig.suptitle(f"diffusers {result['diffusers']} on the exact {config.mixture.name}, class {config.c}",
                     fontsize=8)
    return fig
