"""Claim fades-in-high-d (Pavasovic et al. 2025; Ventura et al. 2026): CFG's distortions of isotropic classes on a
sphere fade as d grows at fixed K, and do not fade along K = exp(alpha d) (a phase diagram over d and K)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import torch

from ...core import sweeps
from ...core.mixtures import ClassConditionalGMM
from ...core.validation import NONNEGATIVE, SEED, setting
from .. import metrics
from ..metrics import Estimate
from .registry import (
    Claim,
    Verdict,
    below,
    cfg_samples,
    decide,
    every,
    less,
    register,
    some,
    within,
)


@dataclass(frozen=True)
class Config:
    w: float = setting(2.0, NONNEGATIVE)
    # fixed K = 8: enough Heun steps that the unguided variance ratio is 1 to 0.1% at d = 2048 (32 steps: 1.025)
    dims: tuple[int, ...] = (2, 8, 32, 128, 512, 2048)
    n: int = 500
    steps: int = 128
    # the phase diagram: powers of 2, so lines of constant log K / d run through it
    phase_dims: tuple[int, ...] = tuple(2**i for i in range(1, 12))
    phase_ks: tuple[int, ...] = tuple(2**j for j in range(1, 11))
    phase_n: int = 512
    phase_steps: int = 64
    seed: int = setting(0, SEED)    # the spheres' means: seed; the samples: seed + 1


def sphere_classes(d: int, k: int, seed: int = 0, radius: float = 1.0, variance: float = 1.0) -> ClassConditionalGMM:
    """``k`` isotropic Gaussian classes ``N(mu_k, variance I)`` in dimension ``d``, means uniform on the sphere of
    radius ``radius sqrt(d)`` (a per-coordinate signal that does not shrink with d), equal priors."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(k, d, dtype=torch.float64, generator=g)
    means = (radius * math.sqrt(d)) * u / u.norm(dim=1, keepdim=True)
    return ClassConditionalGMM(list(means[:, None, :]), [torch.tensor([variance], dtype=torch.float64)] * k,
                               [torch.ones(1, dtype=torch.float64)] * k, covariance_type="spherical",
                               name=f"sphere-d{d}-K{k}")


def cfg_distortion(gmm: ClassConditionalGMM, w: float, n: int, steps: int, seed: int = 1) -> dict[str, Estimate]:
    """CFG samples of class 0 against ``p(x|0) = N(mu, v I)``: the overshoot ``<mean - mu, mu> / ||mu||^2`` (0 for
    unguided) and the variance ratio ``tr Cov / (d v)`` (1 for unguided), each a mean over samples with a normal
    interval (``tr Cov`` as the mean of ``n / (n - 1) ||x_i - mean||^2``)."""
    mu, v = gmm.means[0][0], float(gmm.covs[0][0])
    x = cfg_samples(gmm, 0, w, n, steps, seed)
    overshoot = metrics.normal_mean((x - mu) @ mu / (mu @ mu))
    spread = (x - x.mean(0)).square().sum(1) * (n / ((n - 1) * gmm.dim * v))
    return {"overshoot": overshoot, "variance_ratio": metrics.normal_mean(spread)}


@dataclass(frozen=True)
class Cell:
    """One unit: ``cfg_distortion`` of ``sphere_classes(d, k)`` at ``w`` with ``n`` samples and ``steps`` steps."""

    d: int
    k: int
    w: float
    n: int
    steps: int
    seed: int = 0


def cell_distortion(cell: Cell) -> dict[str, Estimate]:
    return cfg_distortion(sphere_classes(cell.d, cell.k, seed=cell.seed), cell.w, cell.n, cell.steps,
                          seed=cell.seed + 1)


def distortions(cells: list[Cell], desc: str) -> list[dict[str, Estimate]]:
    """``cell_distortion`` of every cell, as one sweep (``sandbox.core.sweeps``)."""
    return sweeps.map(cell_distortion, cells, "sphere-cell", [f"d = {c.d}, K = {c.k}" for c in cells], desc=desc,
                     cost=[c.n * c.steps * c.d * c.k for c in cells])    # a Heun step's matrix product


def phase_diagram(dims: tuple[int, ...], ks: tuple[int, ...], w: float, n: int, steps: int,
                  seed: int = 0) -> list[dict]:
    """CFG's overshoot on ``sphere_classes(d, K)`` for every ``d`` in ``dims`` and ``K`` in ``ks``, with the cell's
    ``alpha = log K / d`` (the rate at which K grows with d): one record ``{"d", "K", "alpha", "overshoot"}`` per
    cell."""
    cells = [Cell(d, k, w, n, steps, seed) for d in dims for k in ks]
    return [{"d": c.d, "K": c.k, "alpha": math.log(c.k) / c.d, "overshoot": e["overshoot"]}
            for c, e in zip(cells, distortions(cells, "phase diagram"))]


def diagonals(cells: list[dict], min_cells: int = 3) -> list[dict]:
    """The cells of a ``phase_diagram`` grouped by ``alpha = log K / d`` (exact for powers of 2: ``log2 K / d`` as a
    fraction), each line ``{"alpha", "cells"}`` with its cells in order of d: the lines along which K grows like
    exp(alpha d), largest alpha first. Only lines of ``min_cells`` or more."""
    lines: dict[Fraction, list[dict]] = {}
    for cell in cells:
        lines.setdefault(Fraction(round(math.log2(cell["K"])), cell["d"]), []).append(cell)
    return [{"alpha": float(a) * math.log(2), "cells": sorted(line, key=lambda c: c["d"])}
            for a, line in sorted(lines.items(), reverse=True) if len(line) >= min_cells]


def measure(config: Config, needs: dict[str, Verdict]) -> Verdict:
    w, dims = config.w, config.dims
    fixed_cells = [Cell(d, 8, w, config.n, config.steps, config.seed) for d in dims]
    fixed = [{"d": c.d, **e} for c, e in zip(fixed_cells, distortions(fixed_cells, "fades-in-high-d, K = 8"))]
    over = [e["overshoot"].value for e in fixed]
    ratio = fixed[-1]["variance_ratio"]
    shrinking = [fixed[i]["overshoot"] for i in range(len(fixed))]
    fades = every([*(less(b, a) for a, b in itertools.pairwise(shrinking)),
                   below(shrinking[-1], 0.1 * shrinking[0].value), within(ratio, 0.95, 1.05)])
    cells = phase_diagram(config.phase_dims, config.phase_ks, w, config.phase_n, config.phase_steps, config.seed)
    lines = diagonals(cells)
    for line in lines:
        line["ratio"] = line["cells"][-1]["overshoot"].value / line["cells"][0]["overshoot"].value
        line["cells"] = [[c["d"], c["K"]] for c in line["cells"]]
    stays = all(line["ratio"] >= 0.8 for line in lines)
    reason = (f"fixed K = 8, w = {w:g}: overshoot " + ", ".join(f"{v:.3g}" for v in over)
              + f" at d = {', '.join(map(str, dims))}, variance ratio {ratio.value:.4f} [{ratio.lo:.4f}, "
              f"{ratio.hi:.4f}] at d = {dims[-1]} (fades: {fades}); {len(cells)} cells d = "
              f"{config.phase_dims[0]}..{config.phase_dims[-1]}, K = {config.phase_ks[0]}..{config.phase_ks[-1]}: "
              "along K = exp(alpha d) the overshoot does not fade (last / first on each line "
              + ", ".join(f"alpha={line['alpha']:.4g} (d {line['cells'][0][0]}-{line['cells'][-1][0]}): "
                          f"{line['ratio']:.2f}" for line in lines)
              + f"; all >= 0.8: {stays})")
    return decide(some([fades, stays]), every([fades, stays]), reason,
                  {"w": w, "fixed_K": fixed, "phase_diagram": cells, "lines": lines})


def panel(ax, numbers: dict, color: Callable[[int], str]) -> None:
    fixed = numbers["fixed_K"]
    ax.loglog([e["d"] for e in fixed], [e["overshoot"]["value"] for e in fixed], "o-", color=color(4))
    ax.set(xlabel="$d$ (K = 8)", ylabel="overshoot along the class mean")


register(Claim(
    "fades-in-high-d", "Pavasovic et al. 2025; Ventura et al. 2026",
    "For K isotropic Gaussian classes N(mu_k, I) with means uniform on the sphere of radius sqrt(d), exact CFG at "
    "w = 2 moves class 0's samples along mu_0 (overshoot <E x - mu_0, mu_0> / ||mu_0||^2) and changes their "
    "variance (tr Cov / d): at fixed K = 8 both distortions fade as d grows from 2 to 2048 (overshoot falls every "
    "time d grows and ends below a tenth of its d = 2 value; the variance ratio's 95% interval within 5% of 1); over "
    "the phase diagram d = 2..2048, K = 2..1024 (powers of 2), along every line of constant alpha = log K / d with "
    "at least three cells (K = exp(alpha d)) the overshoot does not fade: at the line's largest d it is at least "
    "0.8 of its value at the smallest.", measure, full=Config(),
    fast=Config(dims=(2, 8, 32, 128, 512), n=200, steps=64, phase_dims=tuple(2**i for i in range(1, 9)),
                phase_ks=tuple(2**j for j in range(1, 9)), phase_n=128, phase_steps=32), panel=panel))
