"""The data behind the theorem figures, experiments of their own: frozen configs run through the cache
(``cache.run``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from ...core.zoo import MixtureSpec
from .closed_form import check_closed_form
from .learning import learning_errors, train_field
from .quadrature import check_quadrature, component_nodes, quadrature_identity, smooth_field
from .registry import (
    FAST_QUADRATURE_RULES,
    GUIDANCE,
    QUADRATURE_RULES,
    SIGMAS,
    ZOO_2D,
    CheckResult,
    resolve_mixtures,
)

Tensor = torch.Tensor


def residual_table(results: list[CheckResult]) -> Tensor:
    """``(sigma, w, residual)`` rows of check results, ``(R, 3)`` float64: what the residual figure draws."""
    return torch.tensor([[r.params["sigma"], r.params["w"], r.residual] for r in results], dtype=torch.float64)


@dataclass(frozen=True)
class ResidualsConfig:
    """The closed-form and quadrature residuals over (sigma, w) behind the ``theorem_residuals`` figure."""

    closed_mixtures: tuple[MixtureSpec, ...] = ("teaching_1d", "overlap_2d", "branching_2d")
    quad_mixtures: tuple[MixtureSpec, ...] = ZOO_2D
    sigmas: tuple[float, ...] = SIGMAS
    ws: tuple[float, ...] = GUIDANCE
    quad_sigmas: tuple[float, ...] = SIGMAS
    quad_ws: tuple[float, ...] = GUIDANCE
    n_grid: int = 61
    n_random: int = 1000
    rules: tuple[tuple[int, tuple[int, int]], ...] = tuple(QUADRATURE_RULES.items())

    def __post_init__(self) -> None:
        resolve_mixtures(self, "closed_mixtures", "quad_mixtures")

    def fast(self) -> ResidualsConfig:
        return replace(self, n_grid=21, n_random=200, quad_sigmas=(0.01, 1.0, 10.0), quad_ws=(0.0, 2.0, 7.0),
                       rules=tuple(FAST_QUADRATURE_RULES.items()))

    def compute(self, progress: bool = False) -> dict[str, Tensor]:
        closed = check_closed_form(self.closed_mixtures, self.sigmas, self.ws, self.n_grid, self.n_random)
        quad = check_quadrature(self.quad_mixtures, self.quad_sigmas, self.quad_ws, rules=dict(self.rules))
        return {"closed": residual_table(closed), "quadrature": residual_table(quad)}


@dataclass(frozen=True)
class ParabolaConfig:
    """``J_w[s_w + delta h] - J_w[s_w]`` against delta by quadrature (``theorem_parabolas`` figure): curves for
    each ``w``, the predicted parabola at ``ws[1]``, and the same with ``beta_w`` scaled by ``beta_scale``."""

    mixture: MixtureSpec = "overlap_2d"
    sigma: float = 0.3
    c: int = 0
    ws: tuple[float, ...] = (0.0, 2.0, 7.0)
    deltas: int = 41
    rule: tuple[int, int] = QUADRATURE_RULES[2]
    beta_scale: float = 1.1
    seed: int = 0

    def __post_init__(self) -> None:
        resolve_mixtures(self, "mixture")

    def fast(self) -> ParabolaConfig:
        return replace(self, deltas=9, rule=(16, 8))

    def compute(self, progress: bool = False) -> dict[str, Tensor]:
        gmm, sigma = self.mixture, self.sigma
        nodes = component_nodes(gmm, sigma, self.rule)
        h = smooth_field(gmm.dim, gmm.num_classes, self.seed, math.sqrt(1 + sigma**2))
        deltas = torch.linspace(-1.0, 1.0, self.deltas, dtype=torch.float64)

        def curve(w: float, part: int, beta_scale: float = 1.0) -> Tensor:
            return torch.tensor([quadrature_identity(gmm, nodes, self.c, w, "mismatched", h, float(d),
                                                     beta_scale=beta_scale)[part] for d in deltas], dtype=torch.float64)

        return {"deltas": deltas, "vals": torch.stack([curve(w, 0) for w in self.ws]),
                "pred": curve(self.ws[1], 1), "wrong": curve(self.ws[1], 0, self.beta_scale)}


@dataclass(frozen=True)
class LearningTraceConfig:
    """Errors of a ``train_field`` run against ``s_w`` and ``s_c`` along training (``learning_curves`` figure), for
    each of ``objectives``: rows ``(step, vs_s_w, vs_s_c, s_c_vs_s_w)``."""

    mixture: MixtureSpec = "overlap_2d"
    objectives: tuple[str, ...] = ("weighted-mclr", "dsm")
    sigma: float = 1.0
    w: float = 2.0
    c: int = 0
    steps: int = 1500
    batch: int = 4096
    lr: float = 3e-3
    width: int = 128
    ema: float = 0.995
    points: int = 30
    n_eval: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        resolve_mixtures(self, "mixture")

    def fast(self) -> LearningTraceConfig:
        return replace(self, steps=200, batch=512)

    def compute(self, progress: bool = False) -> dict[str, Tensor]:
        gmm, traces = self.mixture, {}
        for objective in self.objectives:
            trace: list[tuple[int, float, float, float]] = []

            def record(step: int, field: torch.nn.Module, trace: list = trace) -> None:
                e = learning_errors(gmm, field, self.sigma, self.w, self.c, n=self.n_eval)
                trace.append((step, e["vs_s_w"].value, e["vs_s_c"].value, e["s_c_vs_s_w"].value))

            train_field(gmm, self.sigma, objective, self.w, self.steps, self.batch, self.seed, lr=self.lr,
                        width=self.width, progress=progress, record=record,
                        record_every=max(1, self.steps // self.points), ema=self.ema)
            traces[objective] = torch.tensor(trace, dtype=torch.float64)
        return traces
