"""Claim helps-on-average (Li & Jiao 2025): with coupled samples, guidance raises the class posterior on average
(E[1/p(c|x0)] falls with w) while a positive share of samples lose confidence."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...core import zoo
from ...core.validation import RISING_SCALES, SEED, setting
from .. import metrics
from .registry import Claim, Verdict, cfg_samples, decide, every, less, on, register, some


@dataclass(frozen=True)
class Config:
    n: int = 1000   # samples per class, the same starts for every w
    steps: int = 32
    ws: tuple[float, ...] = setting((0.0, 1.0, 2.0, 4.0), RISING_SCALES)
    seed: int = setting(1, SEED)     # class c's starts: 100 seed + c
    mixtures: tuple[str, ...] = on("crowded_4d")


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    found = [coupled(zoo.get(name), config) for name in config.mixtures]
    falls = every(f["falls"] for f in found)
    some_drop = every(f["some_drop"] for f in found)
    reason = "; ".join(f"{name}: {f['reason']}" for name, f in zip(config.mixtures, found))
    return decide(some([falls, some_drop]), every([falls, some_drop]), reason,
                  {"mixtures": [{"name": name, "rows": f["rows"], "drops": f["drops"]}
                                for name, f in zip(config.mixtures, found)]})


def coupled(gmm, config: Config) -> dict[str, object]:
    """On one mixture: E[1/p(c|x0)] per w over coupled CFG samples of every class, and the share of samples whose
    posterior drops from each w to the next, with the two judgements and the reason."""
    rows, per_w = [], []
    for w in config.ws:      # coupled: the same starts for every w (the seed is the class's)
        post = torch.cat([gmm.class_posterior(cfg_samples(gmm, c, w, config.n, config.steps,
                                                                seed=100 * config.seed + c), 0.0)[:, c]
                          for c in range(gmm.num_classes)])
        per_w.append(post)
        rows.append({"w": w, "inverse_posterior": metrics.normal_mean(1.0 / post.clamp_min(1e-300))})
    drops = [{"from_w": w0, "to_w": w1, "share": metrics.proportion(int((b < a).sum()), a.shape[0])}
             for (w0, a), (w1, b) in itertools.pairwise(zip(config.ws, per_w))]
    values = [r["inverse_posterior"] for r in rows]
    falls = every(less(later, earlier) for earlier, later in itertools.pairwise(values))
    # some samples drop: shown if the share's interval is above 0, refuted if none dropped
    some_drop = every(True if d["share"].lo > 0 else False if d["share"].value == 0 else None for d in drops)
    reason = ("E[1/p(c|x0)] " + " -> ".join(f"{e.value:.3g}" for e in values)
              + f" over w = {', '.join(map(str, config.ws))} (falls beyond intervals: {falls}); share of samples whose "
              "p(c|x0) drops: " + ", ".join(f"w={d['from_w']:g}->{d['to_w']:g} {d['share'].value:.3f}" for d in drops)
              + f" (all > 0: {some_drop})")
    return {"falls": falls, "some_drop": some_drop, "reason": reason, "rows": rows, "drops": drops}


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    for i, m in enumerate(numbers["mixtures"]):
        e = [r["inverse_posterior"] for r in m["rows"]]
        ax.errorbar([r["w"] for r in m["rows"]], [v["value"] for v in e],
                    yerr=[0.5 * (v["hi"] - v["lo"]) for v in e], fmt="o-", color=color(3 + i), capsize=2,
                    label=m["name"])
    ax.set(xlabel="$w$", ylabel=r"$E[1/p(c\mid x_0)]$")


register(Claim(
    "helps-on-average", "Li & Jiao 2025",
    "Guidance helps on average but not every sample: with coupled samples (the same initial noise through the exact "
    "CFG ODE) on its mixture (crowded_4d; on real data, a mixture fitted to it), E[1/p(c|x0)] decreases as w "
    "grows, while a positive share of samples have a lower p(c|x0) at the larger w.", measure, full=Config(),
    fast=Config(n=300, steps=16, ws=(0.0, 1.0, 4.0)),
    panel=panel))
