"""The clean tilted density CFG is often said to sample, computed exactly (docs/theory.md, section 2):

    q_0(x) = p(x|c)^(1+w) p(x)^(-w) / Z,        Z = int p(x|c)^(1+w) p(x)^(-w) dx.

Exact sampling by rejection from ``p(.|c)``: since ``p(x) >= pi_c p(x|c)``, the unnormalised ``q_0`` is at most
``pi_c^(-w) p(x|c)``, and the acceptance probability of a proposal ``x ~ p(.|c)`` is

    q_0 Z / (pi_c^(-w) p(x|c)) = (pi_c p(x|c) / p(x))^w = p(c|x)^w,

so ``Z = pi_c^(-w) E_{p(.|c)}[p(c|x)^w]`` and the acceptance rate is ``pi_c^w Z``. ``Z`` itself comes from a
quadrature on a uniform grid (1-D and 2-D), whose error is negligible once the grid covers every component
by many standard deviations (the integrand is smooth and decays like a Gaussian).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .mixtures import ClassConditionalGMM
from .validation import as_class_ids, as_count, as_generator, as_points

Tensor = torch.Tensor


@dataclass(frozen=True)
class Grid:
    """A uniform grid: ``axes[i]: (n_i,)``; ``points: (prod n_i, d)`` in row-major order; ``cell`` volume."""

    axes: tuple[Tensor, ...]
    points: Tensor
    cell: float

    @staticmethod
    def covering(gmm: ClassConditionalGMM, n: int | None = None, pad: float = 9.0) -> Grid:
        """Grid over every component mean +- ``pad`` standard deviations (largest eigenvalue), ``n`` nodes per axis
        (default 4001 in 1-D, 401 in 2-D)."""
        if gmm.dim > 2:
            raise ValueError(f"grids are for d <= 2, the mixture has d = {gmm.dim}")
        n = as_count(4001 if n is None and gmm.dim == 1 else 401 if n is None else n, "n")
        if n < 3:
            raise ValueError(f"n must be >= 3, got {n}")
        mu = torch.cat(gmm.means)
        sd = math.sqrt(max(float(torch.linalg.eigvalsh(s).max()) for s in torch.cat(gmm.covs)))
        lo, hi = mu.amin(0) - pad * sd, mu.amax(0) + pad * sd
        axes = tuple(torch.linspace(float(lo[i]), float(hi[i]), n, dtype=gmm.dtype, device=gmm.device)
                     for i in range(gmm.dim))
        points = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, gmm.dim)
        cell = math.prod(float(a[1] - a[0]) for a in axes)
        return Grid(axes, points, cell)


class TiltedTarget:
    """``q_0 ∝ p(x|c)^(1+w) p(x)^(-w)`` at sigma = 0 for class ``c`` and guidance ``w >= 0`` (module docstring)."""

    def __init__(self, gmm: ClassConditionalGMM, c: int, w: float, grid: Grid | None = None) -> None:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (math.isfinite(w) and w >= 0):
            raise ValueError(f"w must be a finite number >= 0, got {w!r}")
        self.c = int(as_class_ids(c, 1, gmm.num_classes, gmm.device)[0])
        self.gmm, self.w = gmm, float(w)
        self._grid = grid
        self._log_z: float | None = None

    @property
    def grid(self) -> Grid:
        """The quadrature grid (by default ``Grid.covering(gmm)``, built on first use)."""
        if self._grid is None:
            self._grid = Grid.covering(self.gmm)
        return self._grid

    def log_unnormalised(self, x: Tensor) -> Tensor:
        """``(1 + w) log p(x|c) - w log p(x)``. ``x: (N, d)`` -> ``(N,)``."""
        return (1.0 + self.w) * self.gmm.log_prob(x, 0.0, self.c) - self.w * self.gmm.log_prob(x, 0.0)

    @property
    def log_normaliser(self) -> float:
        """``log Z`` by quadrature on the grid (log-sum-exp of ``log q + log cell``)."""
        if self._log_z is None:
            self._log_z = float(torch.logsumexp(self.log_unnormalised(self.grid.points), 0)) + math.log(self.grid.cell)
        return self._log_z

    def log_prob(self, x: Tensor) -> Tensor:
        """``log q_0(x)``. ``x: (N, d)`` -> ``(N,)``."""
        return self.log_unnormalised(x) - self.log_normaliser

    def acceptance(self, x: Tensor) -> Tensor:
        """Rejection-sampling acceptance probability ``p(c|x)^w`` of a proposal ``x ~ p(.|c)``. -> ``(N,)``."""
        return self.gmm.class_posterior(x, 0.0)[:, self.c] ** self.w

    def sample(self, n: int, generator: torch.Generator | int | None = None, max_rounds: int = 1000) -> Tensor:
        """``n`` exact draws of ``q_0`` by rejection from ``p(.|c)``: ``(n, d)``."""
        n = as_count(n)
        g = as_generator(generator, self.gmm.device)
        kept, have = [], 0
        for _ in range(max_rounds):
            x = self.gmm.sample(max(2 * (n - have), 1024), c=self.c, generator=g)
            u = torch.rand(x.shape[0], dtype=x.dtype, device=x.device, generator=g)
            kept.append(x[u < self.acceptance(x)])
            have += kept[-1].shape[0]
            if have >= n:
                return torch.cat(kept)[:n]
        raise RuntimeError(f"rejection sampling accepted only {have} of {n} draws in {max_rounds} rounds "
                           f"(acceptance rate pi_c^w Z is tiny for this c and w)")

    def cdf_1d(self, t: np.ndarray) -> np.ndarray:
        """CDF of ``q_0`` in 1-D by cumulative trapezoid on the grid, linearly interpolated (error ~1e-6 on the
        default 4001-node grid: ample for KS tests, whose resolution is ~1/sqrt(N))."""
        if self.gmm.dim != 1:
            raise ValueError("cdf_1d is for 1-D mixtures")
        nodes = self.grid.axes[0]
        dens = self.log_prob(as_points(nodes[:, None], 1, self.gmm.dtype, self.gmm.device)).exp().cpu().numpy()
        h = float(nodes[1] - nodes[0])
        cum = np.concatenate([[0.0], np.cumsum(0.5 * h * (dens[1:] + dens[:-1]))])
        return np.interp(t, nodes.cpu().numpy(), cum / cum[-1])
