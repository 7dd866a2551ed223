"""1. The pointwise minimiser of weighted MCLR, from class densities and class scores, against ``cfg_score``."""

from __future__ import annotations

from collections.abc import Iterable

from ...core import zoo
from ...core.zoo import MixtureSpec
from ...methods import theory
from .registry import (
    GUIDANCE,
    SIGMAS,
    Check,
    CheckResult,
    evaluation_points,
    register,
    relative_error,
)


def check_closed_form(mixtures: Iterable[MixtureSpec] = ("teaching_1d", "overlap_2d", "branching_2d"),
                      sigmas: Iterable[float] = SIGMAS, ws: Iterable[float] = GUIDANCE, n_grid: int = 61,
                      n_random: int = 1000, tol: float = 1e-10) -> list[CheckResult]:
    """Weighted-MCLR minimiser (densities + class scores) vs ``cfg_score`` (responsibilities), every label."""
    results = []
    for gmm in map(zoo.resolve, mixtures):
        for sigma in sigmas:
            x = evaluation_points(gmm, sigma, n_grid, n_random)
            for w in ws:
                err = max(relative_error(theory.minimiser(gmm, x, sigma, c, "weighted-mclr", w=w).minimiser,
                                         gmm.cfg_score(x, sigma, c, w)) for c in range(gmm.num_classes))
                results.append(CheckResult.of("closed-form", {"mixture": gmm.name, "sigma": sigma, "w": w},
                                              err, tol, err <= tol, {"points": x.shape[0]}))
    return results


register(Check("closed-form", check_closed_form, {"n_grid": 31, "n_random": 300}))
