"""What the explainer page shows, computed exactly: guided paths and the posterior over clean data along them.

For a 2-D mixture and a class ``c``: exact-CFG paths (Heun ODE from ``x_T ~ p_{sigma_max}(.|c)``) at each strength
``w``, recorded at every sigma of the grid; for the first path's point ``x`` at each (w, sigma), the exact posterior
``p(x0 | x_sigma = x, c)`` and the unconditional ``p(x0 | x_sigma = x)`` as log-densities on a square grid, and the
three denoisers ``D_c(x)``, ``D_u(x)`` and ``D_w = D_c + w (D_c - D_u)`` (``gmm.posterior``; the means of the two
posteriors). The page (``sandbox.viz.explain``) only draws these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core import zoo
from ..core.schedules import edm_sigmas
from ..core.validation import as_int, as_scales
from .separation import SampleConfig


@dataclass(frozen=True)
class ExplainerConfig:
    """``paths`` guided paths of class ``c`` per ``w`` in ``ws``, Heun in ``steps`` steps from ``sigma_max``; the
    posterior on a ``grid`` x ``grid`` square around the data (``pad`` standard deviations beyond every component)."""

    mixture: zoo.MixtureSpec = "overlap_2d"
    c: int = 0
    ws: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
    steps: int = 24
    sigma_max: float = 20.0
    sigma_min: float = 0.02
    paths: int = 24
    grid: int = 64
    pad: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        if self.mixture.dim != 2:
            raise ValueError(f"mixture must be 2-D for the explainer (it draws the plane), got d = {self.mixture.dim}")
        as_int(self.c, "c", minimum=0)
        if self.c >= self.mixture.num_classes:
            raise ValueError(f"c must be a class of the mixture (0..{self.mixture.num_classes - 1}), got {self.c}")
        as_scales(self.ws)
        for name, low in (("steps", 2), ("paths", 1), ("grid", 8)):
            as_int(getattr(self, name), name, minimum=low)

    def compute(self, progress: bool = False) -> dict[str, object]:
        """``{"sigmas": (S,), "ws": (W,), "extent": (x0, x1, y0, y1), "paths": (W, S, P, 2), "log_post": (W, S, 2,
        G, G) (class c, unconditional; rows along y), "denoisers": (W, S, 3, 2) (D_c, D_u, D_w), "means": per
        component (J, 2)}``: tensors, float64."""
        gmm, c = self.mixture, self.c
        sigmas = edm_sigmas(self.steps, self.sigma_min, self.sigma_max)[:-1]              # the last one is 0
        (a0, a1), (b0, b1) = gmm.extent(self.pad)
        half = 0.5 * max(a1 - a0, b1 - b0)                                                # a square plane
        x0, x1, y0, y1 = 0.5 * (a0 + a1) - half, 0.5 * (a0 + a1) + half, 0.5 * (b0 + b1) - half, 0.5 * (b0 + b1) + half
        xs, ys = torch.linspace(x0, x1, self.grid, dtype=torch.float64), torch.linspace(y0, y1, self.grid,
                                                                                          dtype=torch.float64)
        cells = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)    # row-major along y
        paths, log_post, denoisers = [], [], []
        for w in self.ws:
            # the guided paths: the sample figures' own experiment, every path recorded
            sampled = SampleConfig(gmm, "cfg", w=w, n=self.paths, steps=self.steps, sigma_max=self.sigma_max,
                                   sigma_min=self.sigma_min, seed=self.seed, trajectories=self.paths,
                                   classes=(c,)).compute()
            states = sampled["paths"][0][:, :-1].transpose(0, 1)                           # (S, P, 2)
            paths.append(states)
            x = states[:, 0]                                                              # (S, 2): the first path
            cond, uncond = gmm.posterior(x, sigmas, c), gmm.posterior(x, sigmas)
            log_post.append(torch.stack([cond.log_prob(cells), uncond.log_prob(cells)], 1)
                            .reshape(len(sigmas), 2, self.grid, self.grid))
            d_c, d_u = cond.mean(), uncond.mean()
            denoisers.append(torch.stack([d_c, d_u, d_c + w * (d_c - d_u)], 1))
        return {"sigmas": sigmas, "ws": torch.tensor(self.ws, dtype=torch.float64),
                "extent": torch.tensor([x0, x1, y0, y1], dtype=torch.float64), "paths": torch.stack(paths),
                "log_post": torch.stack(log_post), "denoisers": torch.stack(denoisers),
                "means": torch.cat(gmm.means)}
