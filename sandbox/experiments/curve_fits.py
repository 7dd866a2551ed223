"""What the learning curves say (``learning_curves``' results, read; outside their cached code, so editing this never
retrains): seeds summarised by their mean and its 95% Student-t interval (``yardsticks.spread``); over the budgets a
power law ``error ~ a B^(-b)`` fitted to the seeds' mean error to exact CFG by least squares in log-log (``rate`` is
``b``); and the budget at which it meets the DSM + CFG error of the same width: measured (the first budget at or
below it), extrapolated along the fit (said so), or never (the fit does not fall).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import methods
from ..core.tables import format_table
from .yardsticks import REACH, spread


def summary(result: dict[str, object]) -> dict[tuple, dict[str, tuple[float, float]]]:
    """``(mixture, method, width, budget, w) -> {"own"|"cfg": (mean, half-width)}`` over seeds."""
    cells: dict[tuple, dict[str, list[float]]] = {}
    for r in result["rows"]:
        cell = cells.setdefault((r["mixture"], r["method"], r["width"], r["budget"], r["w"]), {"own": [], "cfg": []})
        for part in ("own", "cfg"):
            if r[part] is not None:
                cell[part].append(r[part])
    return {k: {part: spread(v) for part, v in cell.items() if v} for k, cell in cells.items()}


FAR = 100       # a line read off beyond this many times the largest budget says only that it is that far


@dataclass(frozen=True)
class Fit:
    """A power law ``error ~ a B^(-rate)`` over the budgets, and where it meets ``reference``: ``reach`` the budget
    (None: never, the fit does not fall), ``how`` ``"measured"`` (a measured error at or below it), ``"fitted"`` (the
    line crosses it inside the budgets), ``"extrapolated"`` (beyond them) or ``"far"`` (beyond ``FAR`` times the
    largest: a number read off so far out means nothing)."""

    rate: float
    reference: float
    reach: float | None
    how: str

    def says(self) -> str:
        """The budget, as the table prints it."""
        if self.reach is None:
            return "never"
        if self.how == "far":
            return f"> {FAR}x the budgets"
        return f"{self.reach:.0f}" if self.how == "measured" else f"~{self.reach:.3g} ({self.how})"


def fit(budgets: list[int], errors: list[float], reference: float) -> Fit:
    """Least squares of ``log error`` on ``log budget``; the budget where it meets ``reference``."""
    slope, intercept = np.polyfit(np.log(budgets), np.log(errors), 1)
    below = [b for b, e in zip(budgets, errors) if e <= reference]
    if below:
        return Fit(float(-slope), reference, float(below[0]), "measured")
    if slope >= 0:
        return Fit(float(-slope), reference, None, "never")
    reach = math.exp((math.log(reference) - intercept) / slope)
    how = "fitted" if reach <= budgets[-1] else "extrapolated" if reach <= FAR * budgets[-1] else "far"
    return Fit(float(-slope), reference, reach, how)


def fits(result: dict[str, object], factor: float = 1.0) -> dict[tuple, Fit]:
    """``(mixture, method, width, w) -> Fit`` of each fine-tune's error to exact CFG against ``factor`` times the
    DSM + CFG error of the same width (``yardsticks.REACH``: the trained atlas's expectation)."""
    summ = summary(result)
    budgets = budgets_of(summ)
    out = {}
    for mixture, method, width, budget, w in summ:
        if budget != budgets[0]:
            continue
        errors = [summ[mixture, method, width, b, w]["cfg"][0] for b in budgets]
        out[mixture, method, width, w] = fit(budgets, errors,
                                             factor * summ[mixture, "dsm+cfg", width, None, w]["cfg"][0])
    return out


def table(result: dict[str, object]) -> str:
    """One row per mixture, fine-tune, ``w`` and width: the error to exact CFG at each budget (mean ± half-width
    over seeds), the DSM + CFG yardstick, the fitted rate and the budgets at which the fine-tune meets it and comes
    within ``REACH`` of it; for fine-tunes whose optimum is not CFG, the error to their own optimum at the largest
    budget."""
    summ, fitted, near = summary(result), fits(result), fits(result, REACH)
    budgets = budgets_of(summ)

    def cell(value: tuple[float, float]) -> str:
        return f"{value[0]:.3g} ±{value[1]:.2g}"

    rows = []
    for key, f in fitted.items():
        mixture, method, width, w = key
        own = summ[mixture, method, width, budgets[-1], w]["own"]
        aims = methods.get(method).same_as == "cfg"        # else CFG is not its target: no budget to meet it
        rows.append([mixture, method, f"{w:g}", str(width),
                     *(cell(summ[mixture, method, width, b, w]["cfg"]) for b in budgets),
                     cell(summ[mixture, "dsm+cfg", width, None, w]["cfg"]), f"{f.rate:.2f}",
                     near[key].says() if aims else "not its target", f.says() if aims else "-",
                     "-" if aims else cell(own)])
    return format_table(["mixture", "fine-tune", "w", "width", *(f"to CFG, {b} steps" for b in budgets),
                         "DSM + CFG", "rate", f"within {REACH}x at", "meets it at",
                         f"own optimum, {budgets[-1]} steps"], rows)


def lines(result: dict[str, object]) -> list[str]:
    """What the table says: the floors, and per mixture, fine-tune and ``w`` at the widest net, when it comes within
    ``REACH`` of the yardstick and when it meets it."""
    summ, fitted, near = summary(result), fits(result), fits(result, REACH)
    widths = sorted({k[2] for k in summ})
    floors = {(m, wd): summ[m, "dsm", wd, None, None]["own"][0] for m, _, wd, _, _ in summ}
    out = ["errors are RMS sigma |s_net - s*| over exact noisy points; each budget is what a run of that length gives "
           "(under a constant rate, one run's EMA at each budget); DSM + CFG is the same width's DSM net with CFG at "
           "inference (two passes per step); rate b of error ~ B^-b over the budgets; budgets with ~ are read off "
           f"the fitted line; {REACH}x is the trained atlas's expectation",
           "the DSM net's error to s_c (the floor of its width): " + ", ".join(
               f"{m} width {wd}: {v:.3g}" for (m, wd), v in sorted(floors.items()))]
    for key, f in fitted.items():
        mixture, method, width, w = key
        if width != widths[-1]:
            continue
        if methods.get(method).same_as == "cfg":
            out.append(f"{mixture}, {method}, w = {w:g}, width {width}: within {REACH}x of DSM + CFG "
                       f"({f.reference:.3g}) at {near[key].says()} steps, level with it at {f.says()}")
        else:      # its optimum is not CFG: how close it gets to its own, next to the DSM net's floor
            own = [summ[mixture, method, width, b, w]["own"][0] for b in budgets_of(summ)]
            out.append(f"{mixture}, {method}, w = {w:g}, width {width}: its optimum is not CFG; error to its own "
                       f"optimum " + " -> ".join(f"{e:.3g}" for e in own) + " over the budgets (DSM net's floor "
                       f"{floors[mixture, width]:.3g})")
    return out


def budgets_of(summ: dict[tuple, object]) -> list[int]:
    """The budgets of a summary, increasing."""
    return sorted({k[3] for k in summ if k[3] is not None})
