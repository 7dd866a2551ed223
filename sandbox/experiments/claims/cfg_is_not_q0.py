"""Claim cfg-is-not-q0 (Chidambaram et al. 2024; Bradley & Nakkiran 2024): with exact scores, the CFG
probability-flow ODE does not end at the tilted density q_0, checked in 1D against q_0's exact CDF."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...core import sweeps, zoo
from ...core.validation import RISING_COUNTS, SCALES, SEED, setting
from ...methods.tilted import TiltedTarget
from .. import metrics
from .registry import Claim, Verdict, cfg_samples, decide, every, register


@dataclass(frozen=True)
class Config:
    n: int = 20000
    # coarse, fine: the distance must be converged between them
    steps: tuple[int, int] = setting((64, 128), RISING_COUNTS)
    ws: tuple[float, ...] = setting((0.0, 1.0, 2.0, 4.0), SCALES)
    seed: int = setting(7, SEED)


@dataclass(frozen=True)
class Setting:
    """One unit: the KS distances of ``config`` at strength ``w``."""

    config: Config
    w: float


def setting_row(unit: Setting) -> dict[str, object]:
    """KS distance of class 0's CFG samples (teaching_1d) to exact q_0 at ``unit.w``, at both step counts."""
    config, w, gmm, c = unit.config, unit.w, zoo.teaching_1d(), 0
    cdf = TiltedTarget(gmm, c, w).cdf_1d
    coarse, fine = (metrics.ks_distance(cfg_samples(gmm, c, w, config.n, s, seed=config.seed), cdf)
                    for s in config.steps)
    return {"w": w, "ks_distance": fine, "p_value": fine.p_value, "ks_distance_coarse": coarse}


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    coarse_steps, fine_steps = config.steps
    rows = sweeps.map(setting_row, [Setting(config, w) for w in config.ws], "cfg-q0-setting",
                     [f"w = {w:g}" for w in config.ws], desc="cfg-is-not-q0")
    guided = [r for r in rows if r["w"] > 0]
    # a test that does not reject leaves the claim undecided (it cannot show CFG = q_0)
    rejected = every(True if r["p_value"] < 1e-3 else None for r in guided)
    converged = all(abs(r["ks_distance"].value - r["ks_distance_coarse"].value) <= 0.25 * r["ks_distance"].value
                    for r in guided)
    control = next(r["p_value"] for r in rows if r["w"] == 0)
    ks = ", ".join(f"w={r['w']:g}: {r['ks_distance'].value:.3f}" for r in guided)
    reason = (f"KS distance of CFG samples to exact q_0 ({config.n} samples, {fine_steps} steps) {ks}, p < 1e-3 at "
              f"every w > 0: {rejected}; w = 0 control p = {control:.2f}; within 25% of the {coarse_steps}-step value "
              f"(converged): {converged}")
    return decide(every([rejected, None if control < 1e-3 else True]), converged, reason,
                  {"rows": rows, "steps": {"coarse": coarse_steps, "fine": fine_steps}})


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    rows = numbers["rows"]
    ax.plot([r["w"] for r in rows], [r["ks_distance"]["value"] for r in rows], "o-", color=color(0))
    ax.set(xlabel="$w$", ylabel="KS distance to exact $q_0$")


register(Claim(
    "cfg-is-not-q0", "Chidambaram et al. 2024; Bradley & Nakkiran 2024",
    "With exact scores, the probability-flow ODE under the CFG field s_c + w (s_c - s_u) does not end at the tilted "
    "density q_0 ∝ p(x|c)^(1+w) p(x)^(-w): on teaching_1d, a KS test of CFG samples against q_0's exact CDF rejects "
    "at every w in {1, 2, 4}, with the distance converged in the number of steps (w = 0, where they coincide, is "
    "the control).", measure, full=Config(), fast=Config(n=4000, steps=(32, 64)), panel=panel))
