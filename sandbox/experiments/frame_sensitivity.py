"""How far a rule moves when it is applied in another frame than its paper's (docs/theory.md, "Frames").

A rule linear in the predictions (weights summing to 1) is the same field in every frame (``tests/test_frames.py``
proves it to 1e-9), so it has no ``frame`` parameter. A rule with a nonlinear step (CFG-Zero*'s projection and zero
velocity, rescale's std ratio, APG's projection and norm) is not: for each method with a ``frame`` parameter
(``Method.params``), each mixture and each sigma, the relative distance of its field in every standard frame to its
field in its paper's frame (``Method.frame``),

    moved(F, sigma) = E |s_F(x) - s_paper(x)| / E |s_paper(x)|,   x ~ p_sigma(. | c = 0),

exactly evaluated fields at the same points. What this does to samples is in the atlas's sweep variants (each such
method's ``sweep`` applies it in another frame).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .. import methods
from ..core import frames, zoo
from ..core.tables import format_table, number
from ..core.validation import NONNEGATIVE, SEED, SIGMAS, check_config, setting


@dataclass(frozen=True)
class Config:
    mixtures: tuple[str, ...] = ("crowded_4d", "overlap_2d")
    w: float = setting(2.0, NONNEGATIVE)
    sigmas: tuple[float, ...] = setting((0.1, 0.5, 2.0, 10.0), SIGMAS)
    n: int = 2000
    seed: int = setting(0, SEED)

    def fast(self) -> Config:
        return dataclasses.replace(self, mixtures=("crowded_4d",), n=400)


def framed() -> tuple[str, ...]:
    """The registered methods whose field depends on the frame: those with a ``frame`` parameter."""
    return tuple(name for name in methods.names() if "frame" in methods.get(name).params)


def run(config: Config) -> list[dict[str, object]]:
    """One record per method, mixture and frame: ``{"method", "paper_frame", "mixture", "frame", "moved"}`` with
    ``moved`` the relative distance at each of ``config.sigmas``."""
    config, rows = check_config(config, "frame sensitivity"), []
    for mixture in config.mixtures:
        gmm = zoo.get(mixture)
        points = [(gmm.sample(config.n, c=0, sigma=sigma, generator=config.seed + i),
                   torch.full((config.n,), sigma, dtype=torch.float64)) for i, sigma in enumerate(config.sigmas)]
        for name in framed():
            method = methods.get(name)
            if gmm.dim < method.min_dim:
                continue
            native = [methods.field(name, gmm, 0, w=config.w)(x, s) for x, s in points]
            for frame in frames.NAMES:
                moved = [float((methods.field(name, gmm, 0, w=config.w, frame=frame)(x, s) - ref).norm(dim=1).mean()
                               / ref.norm(dim=1).mean()) for (x, s), ref in zip(points, native)]
                rows.append({"method": name, "paper_frame": method.frame, "mixture": mixture, "frame": frame,
                             "moved": moved})
    return rows


def table(rows: list[dict[str, object]], config: Config) -> str:
    return format_table(["method (paper's frame)", "mixture", "frame",
                         *(f"sigma={s:g}" for s in config.sigmas)],
                        [[f"{r['method']} ({r['paper_frame']})", r["mixture"], r["frame"],
                          *(number(m) for m in r["moved"])] for r in rows])
