"""What the explainer pages show, computed exactly: guided paths and the posterior over clean data along them.

For a 2-D mixture and a class ``c``: exact-CFG paths (Heun ODE from ``x_T ~ p_{sigma_max}(.|c)``) at each strength
``w``, recorded at every sigma of the grid; for the first path's point ``x`` at each (w, sigma), the exact posterior
``p(x0 | x_sigma = x, c)`` and the unconditional ``p(x0 | x_sigma = x)`` as log-densities on a square grid, and the
three denoisers ``D_c(x)``, ``D_u(x)`` and ``D_w = D_c + w (D_c - D_u)`` (``gmm.posterior``; the means of the two
posteriors). The page (``sandbox.viz.explain``) only draws these numbers; notebook 08's explorer
(``sandbox.viz.explorer``) draws the same view (``posterior_view``) at any point the reader picks, and a guided path
from it (``guided_path``).

For an image mixture (``digits``), where the plane cannot be drawn, ``ImageExplainerConfig``: one guided path per
``w`` from one starting noise, and along it the noisy image, the three denoisers as images and the exact class
posterior ``p_sigma(c | x)`` (``sandbox.viz.explain_images`` draws them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core import zoo
from ..core.mixtures import ClassConditionalGMM
from ..core.schedules import edm_sigmas
from ..core.validation import as_generator, as_int, as_number, as_points, as_scales
from ..methods.guidance import exact_cfg
from ..methods.samplers import heun_ode, path
from .separation import SampleConfig

Tensor = torch.Tensor


def square_extent(gmm: ClassConditionalGMM, pad: float = 3.0) -> tuple[float, float, float, float]:
    """A square ``(x0, x1, y0, y1)`` around where a 2-D mixture's data lives (``pad`` sds beyond each component)."""
    (a0, a1), (b0, b1) = gmm.extent(pad)
    half = 0.5 * max(a1 - a0, b1 - b0)
    ca, cb = 0.5 * (a0 + a1), 0.5 * (b0 + b1)
    return ca - half, ca + half, cb - half, cb + half


@dataclass(frozen=True)
class PosteriorView:
    """The exact posteriors over clean data at ``N`` noisy points and what guidance makes of them.

    ``log_post: (N, 2, M)`` log-densities of ``p(x0 | x_sigma, c)`` and ``p(x0 | x_sigma)`` at the ``M`` cells
    asked for; ``draws: (N, 2, n, d)`` from each; ``denoisers: (N, 3, d)``: ``D_c``, ``D_u`` and
    ``D_w = D_c + w (D_c - D_u)``; ``class_prob: (N,)`` ``P(c | x_sigma)``; ``overshoot: (N,)`` the mass of the
    class posterior's highest-density region whose edge passes through ``D_w``: ``P(p(X) > p(D_w))``,
    ``X ~ p(x0 | x_sigma, c)``, estimated from the draws (0: ``D_w`` at the peak; near 1: outside the support)."""

    log_post: Tensor | None
    draws: Tensor | None
    denoisers: Tensor
    class_prob: Tensor
    overshoot: Tensor | None


def posterior_view(gmm: ClassConditionalGMM, x: Tensor, sigma: float | Tensor, c: int, w: float,
                   cells: Tensor | None = None, draws: int = 0,
                   generator: torch.Generator | int | None = None) -> PosteriorView:
    """``PosteriorView`` at points ``x: (N, d)``, noise ``sigma`` (float or ``(N,)``), class ``c``, strength ``w``:
    log-densities at ``cells: (M, d)`` when given, ``draws`` draws per posterior when positive (with the overshoot)."""
    w = as_number(w, "w", minimum=0.0)
    draws = as_int(draws, "draws", minimum=0)
    cond, uncond = gmm.posterior(x, sigma, c), gmm.posterior(x, sigma)
    d_c, d_u = cond.mean(), uncond.mean()
    d_w = d_c + w * (d_c - d_u)
    log_post = None
    if cells is not None:
        cells = as_points(cells, gmm.dim, gmm.dtype, gmm.device, "cells")
        log_post = torch.stack([cond.log_prob(cells), uncond.log_prob(cells)], 1)
    samples = overshoot = None
    if draws:
        g = as_generator(generator, gmm.device)
        samples = torch.stack([cond.sample(draws, g), uncond.sample(draws, g)], 1)
        # each point's posterior at its own draws and its own D_w: the diagonal of (N, N n) evaluations, row by row
        overshoot = torch.stack([_mass_above(cond.log_prob(torch.cat([samples[i, 0], d_w[i:i + 1]]))[i])
                                 for i in range(len(d_w))])
    return PosteriorView(log_post, samples, torch.stack([d_c, d_u, d_w], 1), gmm.class_posterior(x, sigma)[:, c],
                         overshoot)


def _mass_above(log_p: Tensor) -> Tensor:
    """The share of ``log_p[:-1]`` (the draws) strictly above ``log_p[-1]`` (the point)."""
    return (log_p[:-1] > log_p[-1]).double().mean()


def guided_path(gmm: ClassConditionalGMM, x: Tensor, sigma: float, c: int, w: float, steps: int = 24,
                sigma_min: float = 0.02) -> tuple[Tensor, Tensor]:
    """One exact-CFG path (Heun ODE, ``steps`` steps of the EDM grid from ``sigma`` down to ``sigma_min``, then to 0)
    from the point ``x: (d,)`` (any array of d numbers). -> ``sigmas: (S,)`` and the states ``(S, d)`` at them
    (``x`` first), sigma > 0 only."""
    sigma = as_number(sigma, "sigma", minimum=0.0)
    sigma_min = as_number(sigma_min, "sigma_min", minimum=0.0)
    if not sigma > sigma_min > 0:
        raise ValueError(f"need sigma > sigma_min > 0, got sigma = {sigma}, sigma_min = {sigma_min}")
    try:
        x = torch.as_tensor(x, dtype=gmm.dtype, device=gmm.device).reshape(1, -1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"x must be a point: {gmm.dim} numbers, got {x!r}") from None
    x = as_points(x, gmm.dim, gmm.dtype, gmm.device, "x")
    sigmas = edm_sigmas(as_int(steps, "steps", minimum=1), sigma_min, sigma).to(gmm.dtype)
    return sigmas[:-1], path(heun_ode, exact_cfg(gmm, c, w), x, sigmas)[:-1, 0]


def _check(config: ExplainerConfig | ImageExplainerConfig) -> None:
    """An explainer's class ``c`` (one of its mixture's) and strengths ``ws``."""
    as_int(config.c, "c", minimum=0)
    if config.c >= config.mixture.num_classes:
        raise ValueError(f"c must be a class of the mixture (0..{config.mixture.num_classes - 1}), got {config.c}")
    as_scales(config.ws)


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
            raise ValueError(f"mixture must be 2-D for the explainer (it draws the plane) or an image mixture "
                             f"(digits), got d = {self.mixture.dim}")
        _check(self)
        for name, low in (("steps", 2), ("paths", 1), ("grid", 8)):
            as_int(getattr(self, name), name, minimum=low)

    def compute(self, progress: bool = False) -> dict[str, object]:
        """``{"sigmas": (S,), "ws": (W,), "extent": (x0, x1, y0, y1), "paths": (W, S, P, 2), "log_post": (W, S, 2,
        G, G) (class c, unconditional; rows along y), "denoisers": (W, S, 3, 2) (D_c, D_u, D_w), "means": per
        component (J, 2)}``: tensors, float64."""
        gmm, c = self.mixture, self.c
        sigmas = edm_sigmas(self.steps, self.sigma_min, self.sigma_max)[:-1]              # the last one is 0
        x0, x1, y0, y1 = square_extent(gmm, self.pad)
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
            view = posterior_view(gmm, states[:, 0], sigmas, c, w, cells)                # the first path
            log_post.append(view.log_post.reshape(len(sigmas), 2, self.grid, self.grid))
            denoisers.append(view.denoisers)
        return {"sigmas": sigmas, "ws": torch.tensor(self.ws, dtype=torch.float64),
                "extent": torch.tensor([x0, x1, y0, y1], dtype=torch.float64), "paths": torch.stack(paths),
                "log_post": torch.stack(log_post), "denoisers": torch.stack(denoisers),
                "means": torch.cat(gmm.means)}


@dataclass(frozen=True)
class ImageExplainerConfig:
    """The explainer of an image mixture (``zoo.image``: ``digits``): one exact-CFG path of class ``c`` per ``w`` in
    ``ws``, all from one starting noise ``x_T = sigma_max eps`` (Heun in ``steps`` steps), and at each of its sigmas
    the noisy point, the three denoisers and the exact class posterior ``p_sigma(. | x)``."""

    mixture: zoo.MixtureSpec = "digits"
    c: int = 3
    ws: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)
    steps: int = 24
    sigma_max: float = 20.0
    sigma_min: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        zoo.image(self.mixture, self.mixture.means[0][:1])         # an image mixture, or a clear error
        _check(self)
        as_int(self.steps, "steps", minimum=2)

    def compute(self, progress: bool = False) -> dict[str, object]:
        """``{"sigmas": (S,), "ws": (W,), "x", "D_c", "D_u", "D_w": (W, S, d) (points of the mixture: images through
        ``zoo.image``), "posterior": (W, S, K)}``: tensors, float64."""
        gmm, c = self.mixture, self.c
        grid = edm_sigmas(self.steps, self.sigma_min, self.sigma_max)
        sigmas = grid[:-1]                                                               # the last one is 0
        eps = torch.randn(1, gmm.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(self.seed))
        out: dict[str, list[Tensor]] = {k: [] for k in ("x", "D_c", "D_u", "D_w", "posterior")}
        for w in self.ws:
            x = path(heun_ode, exact_cfg(gmm, c, w), self.sigma_max * eps, grid)[:-1, 0]   # (S, d)
            view = posterior_view(gmm, x, sigmas, c, w)
            for key, value in zip(("D_c", "D_u", "D_w"), view.denoisers.unbind(1)):
                out[key].append(value)
            out["x"].append(x)
            out["posterior"].append(gmm.class_posterior(x, sigmas))
        return {"sigmas": sigmas, "ws": torch.tensor(self.ws, dtype=torch.float64),
                **{k: torch.stack(v) for k, v in out.items()}}
