"""Claim pushes-to-far-edge (Chidambaram et al. 2024): guidance moves a class's samples away from the other class,
every quantile of their projection beyond its interval at each step up in w."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ...core import zoo
from ...core.mixtures import ClassConditionalGMM
from ...core.validation import RISING_SCALES, SEED, Limit, setting
from .. import metrics
from .registry import Claim, Verdict, cfg_samples, decide, every, less, register, simultaneous


@dataclass(frozen=True)
class Config:
    n: int = 10000
    steps: int = 64
    ws: tuple[float, ...] = setting((0.0, 1.0, 2.0, 4.0), RISING_SCALES)
    probs: tuple[float, ...] = setting((0.1, 0.5, 0.9), Limit(lo=0.0, hi=1.0, open=True, many=True))
    seed: int = setting(3, SEED)


def two_class_2d() -> ClassConditionalGMM:
    """Two isotropic Gaussian classes in 2D, N((-1, 0), 0.5 I) and N((1, 0), 0.5 I)."""
    return ClassConditionalGMM([[[-1.0, 0.0]], [[1.0, 0.0]]], [[0.5], [0.5]], [[1.0], [1.0]],
                               covariance_type="spherical", name="two_class_2d")


def projected_quantiles(gmm: ClassConditionalGMM, c: int, u: Tensor, probs: tuple[float, ...]) -> list[float]:
    """Exact quantiles of ``<u, x>`` for ``x ~ p(x|c)``: a 1D mixture of ``N(<u, mu_m>, u' S_m u)``, inverted by
    root finding on its CDF."""
    from scipy import optimize, stats

    loc = (gmm.means[c] @ u).numpy()
    scale = torch.einsum("i,mij,j->m", u, gmm.dense_covs()[c], u).sqrt().numpy()
    phi = gmm.weights[c].numpy()

    def cdf(t: float) -> float:
        return float((phi * stats.norm.cdf(t, loc, scale)).sum())

    lo, hi = float((loc - 40 * scale).min()), float((loc + 40 * scale).max())
    return [optimize.brentq(lambda t, p=p: cdf(t) - p, lo, hi, xtol=1e-12) for p in probs]


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    mixtures, moves, controls = [], [], []
    # every quantile interval is used at once (the moves and the control): simultaneous over all of them
    level = simultaneous(2 * len(config.ws) * len(config.probs))
    # class 0 on each mixture, projected on the direction away from the other class
    for gmm, away in ((zoo.two_gaussians_1d(), torch.tensor([-1.0], dtype=torch.float64)),
                      (two_class_2d(), torch.tensor([-1.0, 0.0], dtype=torch.float64))):
        rows = []
        for w in config.ws:
            t = cfg_samples(gmm, 0, w, config.n, config.steps, seed=config.seed) @ away
            rows.append({"w": w, "quantiles": [metrics.quantile(t, p, level) for p in config.probs]})
        exact = projected_quantiles(gmm, 0, away, config.probs)
        mixtures.append({"name": gmm.name, "exact": exact, "rows": rows})
        # every quantile moves beyond its interval at each step up in w
        moves.append(every(less(a, b) for r0, r1 in itertools.pairwise(rows)
                           for a, b in zip(r0["quantiles"], r1["quantiles"])))
        # control: unguided samples' quantile intervals hold the exact quantiles of p(x|c)
        controls.append(all(e.lo <= q <= e.hi for e, q in zip(rows[0]["quantiles"], exact)))
    percents = "/".join(f"{100 * p:g}" for p in config.probs)
    reason = (f"quantiles {percents}% of class-0 samples ({config.n}, order-statistic intervals, simultaneous at "
              f"95%) along the direction away from class 1 grow with w beyond their intervals on both mixtures: "
              f"{every(moves)} ("
              + "; ".join(f"{m['name']}: p(x|c) " + ", ".join(f"{q:.3f}" for q in m["exact"])
                          + f", at w={m['rows'][-1]['w']:g} " + ", ".join(str(e) for e in m["rows"][-1]["quantiles"])
                          for m in mixtures)
              + f"); at w = {config.ws[0]:g} the intervals hold p(x|c)'s exact quantiles: {all(controls)}")
    return decide(every(moves), all(controls), reason, {"probs": list(config.probs), "mixtures": mixtures})


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    middle = len(numbers["probs"]) // 2
    for i, m in enumerate(numbers["mixtures"]):
        ws = [r["w"] for r in m["rows"]]
        q = [[e["value"] for e in r["quantiles"]] for r in m["rows"]]
        ax.plot(ws, [v[middle] for v in q], "o-", color=color(i),
                label=f"{m['name']} ({100 * numbers['probs'][middle]:g}%)")
        ax.fill_between(ws, [v[0] for v in q], [v[-1] for v in q], color=color(i), alpha=0.15)
    ax.set(xlabel="$w$", ylabel="position away from the other class")
    ax.legend(fontsize=5, loc="lower right")


register(Claim(
    "pushes-to-far-edge", "Chidambaram et al. 2024",
    "Guidance pushes a class's samples away from the other class, toward its far edge: on a 1D and a 2D two-class "
    "mixture, every quantile (10%, 50%, 90%) of exact-CFG samples of class 0, projected on the direction away from "
    "class 1, increases with w beyond its 95% order-statistic interval at each step up in w (0, 1, 2, 4); control: "
    "at w = 0 the intervals hold p(x|c)'s exact quantiles.", measure,
    full=Config(), fast=Config(n=2000, steps=32, ws=(0.0, 1.0, 4.0)), panel=panel))
