"""An example plug-in: one guidance rule, one training objective with its loss, one claim.

Load it with ``--plugin examples/my_plugin.py`` on any command (or ``sandbox.plugins.load(path)`` in Python);
its names then work like the package's own:

    mclr-sandbox atlas --fast --exact-only --methods cfg cfg-rising --plugin examples/my_plugin.py
    mclr-sandbox train --fast --objective weighted-mclr-uncond --init dsm.pt --out tuned.pt --plugin ...
    mclr-sandbox claims --only rising-cfg-keeps-spread --plugin examples/my_plugin.py

A plug-in imports the package's public modules and registers with ``methods.register`` and ``claims.register``;
it is part of the code fingerprint of every result that names what it registered, so editing this file recomputes
those results (and only those).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from sandbox import claims, edm_sigmas, methods, metrics, objectives, samplers, zoo
from sandbox.core.validation import NONNEGATIVE, POSITIVE, declared
from sandbox.experiments.claims import Claim, decide
from sandbox.methods import Method
from sandbox.methods.guidance import exact_cfg


@declared()
def rising_cfg(gmm, c, w: Annotated[float, NONNEGATIVE] = 0.0, rise: Annotated[float, POSITIVE] = 1.0):
    """CFG whose scale rises toward low noise: ``w(sigma) = w / (1 + sigma / rise)``. Its signature is its schema:
    each parameter's default and limit, checked on every call and read by ``methods.rule``."""
    s_c, s_u = exact_cfg(gmm, c, 0.0), (lambda x, sigma: gmm.score(x, sigma))

    def field(x, sigma):
        cond = s_c(x, sigma)
        scale = w / (1.0 + sigma / rise)
        return cond + scale[:, None] * (cond - s_u(x, sigma))
    return field


methods.register(Method(
    "cfg-rising", "guidance", "CFG, rising scale", "CFG with w(sigma) = w / (1 + sigma / rise): guidance rises toward "
    "low noise (an example plug-in)", "w", **methods.rule(rising_cfg, exact=lambda gmm, c: (gmm, c), nets=None),
    experiments=("atlas",)))


def unconditional_negatives(b: objectives.TrainingBatch):
    """Weighted MCLR with negatives drawn uniformly over every class (the 'unconditional' variant): the same
    pointwise optimum, CFG, with another variance."""
    c_neg = objectives.uniform_labels(len(b.y), b.num_classes, generator=b.generator).to(b.y.device)
    return objectives.weighted_mclr_loss(b.score, b.x0, b.eps, b.sigma, b.y, c_neg, b.w, b.posterior, b.num_classes,
                                         variant="unconditional")


methods.register(Method(
    "weighted-mclr-uncond", "objective", "weighted MCLR, uniform negatives",
    "weighted MCLR with unconditional (uniform) negatives: optimum = CFG (an example plug-in)", "w",
    params={"w": 0.0}, exact=lambda gmm, c, p: exact_cfg(gmm, c, p["w"]), loss=unconditional_negatives,
    needs=("init",)))

SPREAD = 0.1     # the claim holds if the rising rule keeps at least this share of the spread CFG loses


@dataclass(frozen=True)
class SpreadConfig:
    """What the claim's measurement depends on (its cache key): sample size, steps, strength, and the seed every
    draw derives from (every claim has one: ``claims --seed``)."""

    n: int = 10000
    steps: int = 64
    w: float = 4.0
    seed: int = 11


def spread_claim(config: SpreadConfig, needs):
    """On teaching_1d, class 0: the variance of samples under cfg-rising against CFG's and w = 0's."""
    gmm = zoo.teaching_1d()
    start = gmm.sample(config.n, c=0, sigma=80.0, generator=config.seed)
    grid = edm_sigmas(config.steps, 0.002, 80.0)
    rows = [{"method": name, "w": w, "variance": metrics.covariance_trace(
                samplers.heun_ode(methods.field(name, gmm, 0, w=w), start, grid))}
            for name, w in (("cfg", 0.0), ("cfg", config.w), ("cfg-rising", config.w))]
    base, cfg, rising = (r["variance"].value for r in rows)
    share = (rising - cfg) / (base - cfg)
    reason = (f"variance at w = 0: {base:.3f}, CFG at w = {config.w:g}: {cfg:.3f}, cfg-rising: {rising:.3f}: keeps "
              f"{share:.0%} of what CFG loses")
    return decide(share >= SPREAD, True, reason, {"rows": rows, "share_kept": share})


def spread_panel(ax, numbers, color):
    rows = numbers["rows"]
    ax.bar(range(len(rows)), [r["variance"]["value"] for r in rows], color=[color(i) for i in range(len(rows))])
    ax.set(xticks=range(len(rows)), xticklabels=[f"{r['method']}\nw={r['w']:g}" for r in rows],
           ylabel="sample variance")


claims.register(Claim(
    "rising-cfg-keeps-spread", "an example plug-in",
    f"guidance rising toward low noise keeps at least {SPREAD:.0%} of the spread that constant CFG loses",
    spread_claim, full=SpreadConfig(), fast=SpreadConfig(n=2000, steps=32), panel=spread_panel))
