"""Claim zero-init-is-a-late-start: CFG-Zero*'s zero-init (zero velocity on the first, highest-noise steps) is the
same as starting the sampler later, at a lower sigma. Measured in the paper's frame and with its sampler: rectified
flow (``x_t = (1 - t) x0 + t eps``), Euler steps over ``t`` as the SD3 and Flux pipelines take them; a zero velocity
holds ``x_t`` where it was, a (rescaled) draw of ``p_80(. | c)``, while a late start draws from ``p_sigma_k(. | c)``.
"The same" is an equivalence with a stated margin: the energy distance between the two samplers' results is below a
fraction of what guidance itself does (the distance between CFG-Zero*'s samples and unguided ones)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from ... import methods
from ...core import sweeps, zoo
from ...core.schedules import edm_sigmas
from ...core.validation import NONNEGATIVE, POSITIVE, RISING_COUNTS, SEED, WHOLE, setting
from ...methods import samplers
from .. import metrics
from .registry import Claim, Verdict, below, decide, every, refined, register, simultaneous


@dataclass(frozen=True)
class Config:
    mixture: str = "crowded_4d"
    w: float = setting(2.0, NONNEGATIVE)
    zeroed: tuple[int, ...] = setting((1, 2, 4, 8), RISING_COUNTS)   # zeroed steps of the grid
    n: int = 2000
    steps: int = 32
    margin: float = setting(0.1, POSITIVE)     # "the same": energy distance below this share of guidance's own
    refine: int = setting(3, WHOLE)            # rounds that double n where an interval contains the margin
    seed: int = setting(3, SEED)


@dataclass(frozen=True)
class Setting:
    config: Config
    zeroed: int          # 0: the reference runs (no zeroing, and unguided)
    n: int
    level: float = metrics.LEVEL


def compare(unit: Setting) -> dict[str, object]:
    """Class 0 on the EDM grid by flow-matching Euler. ``zeroed = k > 0``: the zero-init sampler (CFG-Zero* with
    ``sigma_zero`` between the k-th and (k+1)-th grid sigma, from ``x_T ~ p_80``) against the late start (CFG-Zero*
    from ``x ~ p_sigma_k(. | c)`` over the rest of the grid), and each against CFG-Zero* without zeroing;
    ``zeroed = 0``: guidance's own effect, CFG-Zero* without zeroing against unguided sampling."""
    config, k, n = unit.config, unit.zeroed, unit.n
    gmm = zoo.get(config.mixture)
    grid = edm_sigmas(config.steps, 0.002, 80.0)
    full = methods.field("cfg-zero-star", gmm, 0, w=config.w)
    reference = samplers.flow_euler(full, gmm.sample(n, c=0, sigma=80.0, generator=config.seed + 2), grid)
    if k == 0:
        unguided = samplers.flow_euler(methods.field("cfg", gmm, 0, w=0.0),
                                       gmm.sample(n, c=0, sigma=80.0, generator=config.seed + 3), grid)
        return {"guidance_effect": metrics.energy_distance(reference, unguided, seed=config.seed)}
    sigma_k = float(grid[k])
    zero = methods.field("cfg-zero-star", gmm, 0, w=config.w, sigma_zero=0.5 * (float(grid[k - 1]) + sigma_k))
    zero_init = samplers.flow_euler(zero, gmm.sample(n, c=0, sigma=80.0, generator=config.seed), grid)
    late = samplers.flow_euler(full, gmm.sample(n, c=0, sigma=sigma_k, generator=config.seed + 1), grid[k:])
    return {"zeroed": k, "sigma_start": sigma_k, "n": n,
            "zero_vs_late": metrics.energy_distance(zero_init, late, level=unit.level, seed=config.seed),
            "zero_vs_full": metrics.energy_distance(zero_init, reference, seed=config.seed),
            "late_vs_full": metrics.energy_distance(late, reference, seed=config.seed)}


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    (effect,) = sweeps.map(compare, [Setting(config, 0, config.n)], "zero-init-setting", ["guidance's effect"],
                           desc="zero-init-is-a-late-start")
    margin = config.margin * effect["guidance_effect"].value
    level = simultaneous(len(config.zeroed))
    units = [Setting(config, k, config.n, level) for k in config.zeroed]
    rows = refined(compare, units, "zero-init-setting", [f"{u.zeroed} zeroed" for u in units],
                   undecided=lambda row: below(row["zero_vs_late"], margin) is None,
                   grow=lambda unit: dataclasses.replace(unit, n=2 * unit.n), budget=config.refine,
                   desc="zero-init-is-a-late-start")
    same = [below(r["zero_vs_late"], margin) for r in rows]
    reason = (f"{config.mixture}, class 0, w = {config.w:g}, {config.n} samples, flow-matching Euler on a "
              f"{config.steps}-step EDM grid (the paper's frame and sampler); energy distance zero-init vs late start "
              f"(simultaneous {metrics.LEVEL:.0%} intervals) and each vs no zeroing: "
              + "; ".join(f"{r['zeroed']} zeroed (start at sigma {r['sigma_start']:.3g}, {r['n']} samples): "
                          f"{r['zero_vs_late'].value:.3g} [{r['zero_vs_late'].lo:.2g}, {r['zero_vs_late'].hi:.2g}] "
                          f"({r['zero_vs_full'].value:.3g}, {r['late_vs_full'].value:.3g})" for r in rows)
              + f"; the margin: {config.margin:g} x guidance's own effect ({effect['guidance_effect'].value:.3g}) = "
              f"{margin:.3g}; the same within it in {same.count(True)} of {len(rows)} (undecided in "
              f"{same.count(None)})")
    return decide(every(same), True, reason, {"rows": rows, "margin": margin,
                                               "guidance_effect": effect["guidance_effect"]})


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    rows = numbers["rows"]
    for i, (key, label) in enumerate((("zero_vs_late", "zero-init vs late start"),
                                      ("zero_vs_full", "zero-init vs none zeroed"),
                                      ("late_vs_full", "late start vs none zeroed"))):
        values = [r[key]["value"] for r in rows]
        ax.errorbar([r["sigma_start"] for r in rows], values,
                    yerr=[[v - r[key]["lo"] for v, r in zip(values, rows)],
                          [r[key]["hi"] - v for v, r in zip(values, rows)]], fmt="o-", ms=2.5, color=color(i),
                    label=label)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.axhline(numbers["margin"], color="black", lw=0.6, ls=":")
    ax.set(xlabel=r"first $\sigma$ that moves", ylabel="energy distance")
    ax.legend(fontsize=4)


register(Claim(
    "zero-init-is-a-late-start", "Fan et al. 2025 (CFG-Zero*), as read in practitioners' discussions",
    "CFG-Zero*'s zero-init (zero velocity on the first k steps) is the same as starting the sampler at the first "
    "unzeroed sigma: in the paper's frame (rectified-flow velocities, flow-matching Euler steps), on crowded_4d, "
    "class 0, w = 2, a 32-step EDM grid and k in {1, 2, 4, 8}, the samples of CFG-Zero* with its first k steps "
    "zeroed (from x_T ~ p_80(.|c)) and of CFG-Zero* without zeroing started at sigma_k from exact draws of "
    "p_sigma_k(.|c) are within a tenth of guidance's own effect (energy distance to unguided samples) of each other. "
    "Holds if the upper ends of their simultaneous 95% intervals are, for every k; fails if a lower end is beyond; "
    "undecided otherwise (after doubling the samples, up to 8x, where an interval contains the margin).",
    measure, full=Config(), fast=Config(n=500, steps=16, zeroed=(1, 2, 4)), panel=panel))
