"""Exact guidance on real images: the zoo's ``digits`` (one mixture per class fitted to scikit-learn's 8 x 8
handwritten digits, ``core.fitting``), where every score is exact for the fitted model.

For each class ``c`` and strength ``w``: exact-score CFG samples, all from one starting noise ``x_T = sigma_max eps``
(the same ``eps`` for every class and ``w``: what changes between two pictures is the guidance alone), beside exact
draws of the tilted density ``q_0 ∝ p(x|c)^(1+w) p(x)^(-w)`` (rejection from ``p(.|c)``, ``methods.tilted``) and the
class means. Along one guided path, the three denoisers at its states,

    D_c = x + sigma^2 grad log p_sigma(x|c),   D_u = x + sigma^2 grad log p_sigma(x),   D_w = (1 + w) D_c - w D_u,

with the exact class posterior ``p_sigma(c|x)``: ``D_w`` extrapolates past ``D_c``, away from the data at large
``w``, while the posterior decides which class the path is in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import methods
from ..core import zoo
from ..core.schedules import edm_sigmas
from ..core.validation import as_count, as_int, as_number
from ..methods import samplers
from ..methods.guidance import class_moments
from ..methods.tilted import TiltedTarget
from .explainer import posterior_view

Tensor = torch.Tensor


@dataclass(frozen=True)
class DigitsConfig:
    """Pictures of exact CFG on an image mixture (module docstring); ``path_sigmas``: where the path's denoisers are
    shown (the grid's nearest sigmas)."""

    mixture: zoo.MixtureSpec = "digits"
    ws: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
    n: int = 2                  # samples per class and w
    steps: int = 32
    sigma_max: float = 80.0
    sigma_min: float = 0.002
    path_class: int = 3
    path_w: float = 4.0
    path_sigmas: tuple[float, ...] = (10.0, 3.0, 1.5, 0.8, 0.4, 0.2, 0.05)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        zoo.image(self.mixture, self.mixture.means[0][:1])        # an image mixture, or a clear error
        for w in self.ws:
            as_number(w, "ws", minimum=0.0)
        as_count(self.n, "n")
        as_count(self.steps, "steps")
        if not 0 <= as_int(self.path_class, "path_class") < self.mixture.num_classes:
            raise ValueError(f"path_class must be a class of {self.mixture.name} (0..{self.mixture.num_classes - 1}), "
                             f"got {self.path_class}")
        as_number(self.path_w, "path_w", minimum=0.0)
        for s in self.path_sigmas:
            as_number(s, "path_sigmas", minimum=0.0, strict=True)

    def fast(self) -> DigitsConfig:
        return replace(self, n=1, steps=12)

    def compute(self, progress: bool = False) -> dict[str, object]:
        """``{"cfg", "q0": (W, K, n, d), "means": (K, d), "path": {sigmas (S,), x, D_c, D_u, D_w (S, d),
        posterior (S, K)}}`` (points of the mixture; ``zoo.image`` shows them as images)."""
        gmm, k, d = self.mixture, self.mixture.num_classes, self.mixture.dim
        grid = edm_sigmas(self.steps, self.sigma_min, self.sigma_max)
        eps = torch.randn(self.n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(self.seed))
        start = self.sigma_max * eps
        cfg = torch.stack([torch.stack([samplers.heun_ode(methods.field("cfg", gmm, c, w=w), start, grid)
                                        for c in range(k)]) for w in self.ws])
        q0 = torch.stack([torch.stack([TiltedTarget(gmm, c, w).sample(self.n, generator=self.seed + 1000 * i + c)
                                       for c in range(k)]) for i, w in enumerate(self.ws)])
        means = torch.stack([class_moments(gmm, j)[0] for j in range(k)])
        c, w = self.path_class, self.path_w
        field = methods.field("cfg", gmm, c, w=w)
        states = samplers.path(samplers.heun_ode, field, start[:1], grid)[:, 0]          # (steps + 1, d)
        at = [int((grid[:-1] - s).abs().argmin()) for s in self.path_sigmas]
        sigmas, x = grid[at], states[at]
        d_c, d_u, d_w = posterior_view(gmm, x, sigmas, c, w).denoisers.unbind(1)
        path = {"sigmas": sigmas, "x": x, "D_c": d_c, "D_u": d_u, "D_w": d_w,
                "posterior": gmm.class_posterior(x, sigmas)}
        return {"cfg": cfg, "q0": q0, "means": means, "path": path}

