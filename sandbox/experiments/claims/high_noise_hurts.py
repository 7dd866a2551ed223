"""Claim high-noise-hurts (Kynkaanniemi et al. 2024): guidance at high noise costs diversity without buying
confidence; every sigma window [lo, hi] measured, the best one found."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from ... import methods
from ...core import sweeps, zoo
from ...core.schedules import edm_sigmas
from ...core.validation import NONNEGATIVE, SEED, Limit, setting
from ...methods import samplers
from .. import metrics
from ..metrics import Estimate
from .registry import WINDOW, Claim, Verdict, decide, every, less, register


@dataclass(frozen=True)
class Config:
    n: int = 4000   # samples per class and window
    steps: int = 32
    w: float = setting(4.0, NONNEGATIVE)
    # window ends: 0 and inf mean "from the start" and "down to 0"; every pair lo < hi is a window
    edges: tuple[float, ...] = setting((0.0, 0.1, 0.28, 0.5, 1.0, 2.0, 5.42, 10.0, math.inf),
                                       Limit(lo=0.0, infinite=True, many=True, increasing=True))
    seed: int = setting(0, SEED)     # class c's starts: c + 100 x seed


def window_name(lo: float, hi: float) -> str:
    """``"every sigma"``, ``"below 5.42"``, ``"above 0.28"`` or ``"0.28 to 5.42"``."""
    if lo == 0 and hi == math.inf:
        return "every sigma"
    return f"below {hi:g}" if lo == 0 else f"above {lo:g}" if hi == math.inf else f"{lo:g} to {hi:g}"


@dataclass(frozen=True)
class Window:
    """One unit of the sweep: CFG at ``w`` applied for ``lo < sigma < hi`` (``w`` = 0: unguided) on crowded_4d,
    ``n`` samples per class by Heun's ODE in ``steps`` steps from class-seeded starts."""

    name: str
    lo: float
    hi: float
    w: float
    n: int
    steps: int
    seed: int = 0


def window_row(unit: Window) -> dict[str, object]:
    """The window's class-averaged mean p(c|x), entropy and mode coverage, as one row."""
    gmm, grid = zoo.crowded_4d(), edm_sigmas(unit.steps, 0.002, 80.0)
    reports = []
    for c in range(gmm.num_classes):
        # parameters are finite numbers: 1e6 stands for "no upper end" (the sampler starts at sigma = 80)
        field_c = methods.field("cfg-interval", gmm, c, w=unit.w, sigma_lo=unit.lo, sigma_hi=min(unit.hi, 1e6))
        x = samplers.heun_ode(field_c, gmm.sample(unit.n, c=c, sigma=80.0, generator=c + 100 * unit.seed), grid)
        reports.append({"mean_posterior": metrics.mean_posterior(gmm, x, c), "entropy": metrics.entropy(x),
                        "mode_coverage": metrics.mode_coverage(gmm, x, c)})
    return {"name": unit.name, "lo": unit.lo, "hi": unit.hi if unit.hi < math.inf else None,
            **{k: Estimate.mean([r[k] for r in reports]) for k in reports[0]}}


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    w = config.w
    compared = (0.0, WINDOW[0], WINDOW[1], math.inf)       # every sigma, below 5.42, above 0.28
    if not set(compared) <= set(config.edges):
        raise ValueError(f"high-noise-hurts.edges must include {', '.join(f'{e:g}' for e in compared)} (the "
                         f"windows the claim compares), got {', '.join(f'{e:g}' for e in config.edges)}")
    windows = [Window("unguided", 0.0, math.inf, 0.0, config.n, config.steps, config.seed)] + [
        Window(window_name(lo, hi), lo, hi, w, config.n, config.steps, config.seed)
        for lo, hi in itertools.combinations(config.edges, 2)]
    rows = sweeps.map(window_row, windows, "high-noise-window", [u.name for u in windows], desc="high-noise-hurts")
    by_name = {r["name"]: r for r in rows}
    full, below = by_name["every sigma"], by_name[f"below {WINDOW[1]:g}"]
    keeps = below["mean_posterior"].value >= 0.95 * full["mean_posterior"].value
    more_entropy = less(full["entropy"], below["entropy"])
    for r in rows:
        r["eligible"] = r["name"] != "unguided" and r["mean_posterior"].value >= 0.95 * full["mean_posterior"].value
    eligible = [r for r in rows if r["eligible"]]
    best = max(eligible, key=lambda r: r["mode_coverage"].value)
    ties = [r["name"] for r in eligible if r is not best and r["mode_coverage"].hi >= best["mode_coverage"].lo]
    beats_cfg = less(full["mode_coverage"], best["mode_coverage"])
    above = by_name[f"above {WINDOW[0]:g}"]
    reason = (f"crowded_4d, w = {w:g}, {len(rows) - 1} sigma windows: guiding below sigma {WINDOW[1]:g} keeps "
              f"{below['mean_posterior'].value / full['mean_posterior'].value:.1%} of CFG's mean p(c|x) with entropy "
              f"{below['entropy'].value:.3f} vs {full['entropy'].value:.3f} (higher beyond intervals: {more_entropy}); "
              f"{len(eligible)} windows keep >= 95% of CFG's confidence, the one with the most mode coverage: "
              f"{best['name']} ({best['mode_coverage']} vs {full['mode_coverage']} for every sigma, intervals apart: "
              f"{beats_cfg}; within its interval: {', '.join(ties) or 'none'}); dropping low-noise "
              f"guidance instead (above {WINDOW[0]:g}) gives entropy {above['entropy'].value:.3f}")
    return decide(keeps, every([more_entropy, beats_cfg]), reason,
                  {"w": w, "windows": rows, "best": best["name"], "ties": ties})


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    rows = {r["name"]: r for r in numbers["windows"]}
    ax.plot([r["entropy"]["value"] for r in rows.values()], [r["mean_posterior"]["value"] for r in rows.values()],
            "o", color="0.75", ms=2)
    named = ["unguided", "every sigma", f"below {WINDOW[1]:g}", f"above {WINDOW[0]:g}", numbers["best"]]
    shown = [name for name in dict.fromkeys(named) if name in rows]     # the best may be one of the named ones
    for i, name in enumerate(shown):
        r = rows[name]
        point = (r["entropy"]["value"], r["mean_posterior"]["value"])
        ax.plot(*point, "o", color=color(i), ms=3, label=name + (" (best)" if name == numbers["best"] else ""))
    ax.set(xlabel="entropy (nats)", ylabel=r"mean $p(c\mid x)$")
    ax.legend(fontsize=4.5, loc="lower left")


register(Claim(
    "high-noise-hurts", "Kynkaanniemi et al. 2024",
    "Guidance at high noise costs diversity without buying confidence: on crowded_4d at w = 4, CFG applied only for "
    "sigma < 5.42 keeps at least 95% of CFG's mean p(c|x) and has a higher sample entropy (intervals apart) than CFG "
    "at every sigma; among all 36 windows [lo, hi] with ends in {0, 0.1, 0.28, 0.5, 1, 2, 5.42, 10, inf}, the one "
    "with at least 95% of CFG's confidence and the most mode coverage has more coverage than 'every sigma', "
    "intervals apart (windows whose coverage interval reaches the best one's are reported as ties).", measure,
    full=Config(), fast=Config(n=800, steps=24, edges=(0.0, 0.28, 1.0, WINDOW[1], math.inf)), panel=panel))
