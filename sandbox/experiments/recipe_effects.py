"""What is read from the training-recipe runs (``training_recipe``): each change's effect against the recipe, seed
by seed, its table and its summary. Outside the cached code: editing it never retrains.

A change's verdict: ``helps`` when the interval of its error ratio lies below ``1 - NEGLIGIBLE``, ``hurts`` above
``1 + NEGLIGIBLE``, ``no effect`` inside ``[1 - NEGLIGIBLE, 1 + NEGLIGIBLE]``, else ``undecided``. A change of less
than half a percent is of no use to anyone, and it is what last-bit differences between CPUs can move after a
training run: so a verdict never turns on it.
"""

from __future__ import annotations

import math

from ..core.tables import format_table
from . import metrics
from .training_recipe import BASE
from .yardsticks import spread

NEGLIGIBLE = 0.005
MARKS = {"helps": " -", "hurts": " +", "no effect": " =", "undecided": ""}


def effects(result: dict[str, object]) -> list[dict[str, object]]:
    """Each (variant, average, method): its error (RMS over strengths, mean over seeds) and the seed-paired ratio
    to the recipe's ``ema`` (geometric mean over seeds, 95% t-interval), with a verdict; the recipe's own rows carry
    its errors only."""
    per: dict[tuple[str, str, str, int], list[float]] = {}
    residual: dict[tuple[str, str], float] = {}
    for r in result["rows"]:
        per.setdefault((r["variant"], r["average"], r["method"], r["seed"]), []).append(r["own"])
        key = (r["variant"], r["average"])
        residual[key] = max(residual.get(key, 0.0), r["residual"])
    rms = {k: math.sqrt(sum(v * v for v in values) / len(values)) for k, values in per.items()}
    out = []
    for variant, average, method in dict.fromkeys(k[:3] for k in rms):
        seeds = sorted(k[3] for k in rms if k[:3] == (variant, average, method))
        values = [rms[variant, average, method, s] for s in seeds]
        row = {"variant": variant, "average": average, "method": method, "error": sum(values) / len(values),
               "residual": residual[variant, average]}
        if (variant, average) != BASE:
            mean, half = spread([math.log(rms[variant, average, method, s] / rms[(*BASE, method, s)])
                                 for s in seeds])
            row["ratio"] = metrics.Estimate(math.exp(mean), math.exp(mean - half), math.exp(mean + half),
                                            f"geometric mean over {len(seeds)} seeds, t-interval")
            row["verdict"] = verdict(row["ratio"])
        out.append(row)
    return out


def verdict(ratio: metrics.Estimate) -> str:
    """``helps``, ``hurts``, ``no effect`` or ``undecided`` (module docstring)."""
    if ratio.hi < 1 - NEGLIGIBLE:
        return "helps"
    if ratio.lo > 1 + NEGLIGIBLE:
        return "hurts"
    if 1 - NEGLIGIBLE <= ratio.lo and ratio.hi <= 1 + NEGLIGIBLE:
        return "no effect"
    return "undecided"


def _cell(e: dict[str, object]) -> str:
    if "ratio" not in e:
        return f"{e['error']:.4f}"
    r = e["ratio"]
    return f"{r.value:.3f} [{r.lo:.3f}, {r.hi:.3f}]{MARKS[e['verdict']]}"


def table(result: dict[str, object]) -> str:
    """One row per variant and average: the recipe's errors, then every other row's seed-paired ratio to them
    (``-`` helps, ``+`` hurts, ``=`` no effect: ``verdict``); ``.`` where a variant changes nothing of that net."""
    rows = effects(result)
    methods = list(dict.fromkeys(e["method"] for e in rows))
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for e in rows:
        cells.setdefault((e["variant"], e["average"]), {})[e["method"]] = _cell(e)
    residual = {(e["variant"], e["average"]): e["residual"] for e in rows}
    return format_table(("variant", "average", "max residual", *methods),
                        [(v, a, f"{residual[v, a]:.1%}" if a.startswith("power") else "",
                          *(c.get(m, ".") for m in methods)) for (v, a), c in cells.items()])


def lines(result: dict[str, object]) -> list[str]:
    """Per change (a variant at the recipe's average, or an average of the recipe's runs): which nets it helps and
    hurts; and the recipe's own errors."""
    rows = effects(result)
    out = []
    for e in (e for e in rows if (e["variant"], e["average"]) == BASE):
        out.append(f"recipe, {e['method']}: error {e['error']:.4f}")
    changes = dict.fromkeys((e["variant"], e["average"]) for e in rows if "ratio" in e and (
        e["variant"] == BASE[0] or e["average"] == BASE[1]))
    for variant, average in changes:
        mine = [e for e in rows if (e["variant"], e["average"]) == (variant, average)]
        name = variant if variant != BASE[0] else f"average {average}"
        said = {v: [e["method"] for e in mine if e["verdict"] == v] for v in MARKS}
        parts = [f"{v} {', '.join(m)}" for v, m in said.items() if m]
        out.append(f"{name}: {'; '.join(parts)}")
    return out
