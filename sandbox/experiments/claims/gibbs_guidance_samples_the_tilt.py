"""Claim gibbs-guidance-samples-the-tilt (classifier-free Gibbs-like guidance, arXiv 2505.21101, 2025): refining
conditional samples by rounds of noising to a small sigma and denoising with CFG reaches the tilted density q_0
that CFG's own sampler misses. Measured against q_0 exactly: its CDF in 1D, exact draws in 2D."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ... import methods
from ...core import sweeps, zoo
from ...core.schedules import edm_sigmas
from ...core.validation import POSITIVE, RISING_COUNTS, SCALES, SEED, setting
from ...methods.tilted import TiltedTarget
from .. import metrics
from .registry import Claim, Verdict, cfg_samples, decide, every, less, register


@dataclass(frozen=True)
class Config:
    mixtures: tuple[str, ...] = ("teaching_1d", "overlap_2d")
    ws: tuple[float, ...] = setting((1.0, 2.0, 4.0), SCALES)
    # the refinement's rounds; the claim is read at the last
    rounds: tuple[int, ...] = setting((1, 4, 8), RISING_COUNTS)
    sigma_star: float = setting(0.5, POSITIVE)
    n: int = 4000
    steps: int = 32
    seed: int = setting(5, SEED)


@dataclass(frozen=True)
class Setting:
    config: Config
    mixture: str
    w: float


def distances(unit: Setting) -> dict[str, object]:
    """Distance to exact q_0 of class 0's CFG samples and of the Gibbs-like refinement after each number of rounds:
    KS distance (with its p-value) in 1D, energy distance to exact q_0 draws otherwise."""
    config, gmm, w = unit.config, zoo.get(unit.mixture), unit.w
    target = TiltedTarget(gmm, 0, w)
    reference = None if gmm.dim == 1 else target.sample(config.n, generator=config.seed + 1)

    def distance(x):
        return (metrics.ks_distance(x, target.cdf_1d) if reference is None
                else metrics.energy_distance(x, reference, seed=config.seed))

    start = gmm.sample(config.n, c=0, sigma=80.0, generator=config.seed)
    grid = edm_sigmas(config.steps, 0.002, 80.0)
    gibbs = [distance(methods.sample("gibbs-guidance", gmm, 0, start, grid, seed=config.seed + 2, w=w,
                                     sigma_star=config.sigma_star, rounds=float(r), steps=float(config.steps)))
             for r in config.rounds]
    return {"mixture": unit.mixture, "w": w, "measure": "KS" if reference is None else "energy distance",
            "cfg": distance(cfg_samples(gmm, 0, w, config.n, config.steps, seed=config.seed)), "gibbs": gibbs}


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    units = [Setting(config, m, w) for m in config.mixtures for w in config.ws]
    rows = sweeps.map(distances, units, "gibbs-setting", [f"{u.mixture}, w = {u.w:g}" for u in units],
                      desc="gibbs-guidance-samples-the-tilt")
    closer = [less(r["gibbs"][-1], r["cfg"]) for r in rows]
    # reached: the KS test does not reject at 1e-3 (1D), the energy distance's interval reaches 0 (2D); a distance
    # shown above 0 is not reached
    reached = [(r["gibbs"][-1].p_value > 1e-3) if r["gibbs"][-1].p_value is not None else r["gibbs"][-1].lo <= 0
               for r in rows]
    reason = (f"class 0, {config.n} samples, sigma_star = {config.sigma_star:g}, distance to exact q_0 of CFG -> "
              f"Gibbs-like after {', '.join(map(str, config.rounds))} rounds: "
              + "; ".join(f"{r['mixture']} w={r['w']:g} ({r['measure']}): {r['cfg'].value:.3g} -> "
                          + ", ".join(f"{g.value:.3g}" for g in r["gibbs"]) for r in rows)
              + f"; closer than CFG (intervals apart) in {closer.count(True)} of {len(rows)}, indistinguishable from "
              f"q_0 in "
              f"{sum(reached)} of {len(rows)}")
    return decide(every(closer), all(reached), reason, {"rows": rows, "rounds": list(config.rounds)})


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    rounds = numbers["rounds"]
    for i, r in enumerate(numbers["rows"]):
        cfg = r["cfg"]["value"]
        ax.plot([0, *rounds], [1.0, *[g["value"] / cfg for g in r["gibbs"]]], "o-", ms=2.5, color=color(i),
                label=f"{r['mixture']}, w={r['w']:g}")
    ax.set(xlabel="Gibbs-like rounds", ylabel="distance to $q_0$ / CFG's", ylim=(0, None))
    ax.legend(fontsize=4)


register(Claim(
    "gibbs-guidance-samples-the-tilt", "classifier-free Gibbs-like guidance, 2025 (arXiv 2505.21101)",
    "A Gibbs-like refinement of conditional samples reaches the tilted q_0 ∝ p(x|c)^(1+w) p(x)^(-w) that CFG "
    "misses: exact conditional samples of class 0, then rounds of noising to sigma_star = 0.5 and the exact CFG ODE "
    "back to 0 (gibbs-guidance), on teaching_1d (KS distance to q_0's exact CDF) and overlap_2d (energy distance to "
    "exact q_0 draws) at w in {1, 2, 4}: after 8 rounds its distance to q_0 is below CFG's, intervals apart. Holds "
    "if so everywhere and the samples are indistinguishable from q_0 (KS p > 1e-3; energy-distance interval "
    "reaching 0); with a caveat if closer but still distinguishable; fails otherwise.",
    measure, full=Config(), fast=Config(n=1000, steps=16, rounds=(1, 4)), panel=panel))
