"""Hypothesis strategies for random class-conditional mixtures, points and noise levels."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

from sandbox import ClassConditionalGMM


@st.composite
def mixtures(draw, max_dim: int = 6, max_classes: int = 5, max_components: int = 6,
             max_log10_condition: float = 4.0, dims: tuple[int, ...] | None = None) -> ClassConditionalGMM:
    """A random mixture: d in 1..max_dim, K in 1..max_classes, M_c in 1..max_components per class,
    covariances with random rotations and condition numbers up to 10^max_log10_condition."""
    d = draw(st.sampled_from(dims)) if dims else draw(st.integers(1, max_dim))
    k = draw(st.integers(1, max_classes))
    sizes = [draw(st.integers(1, max_components)) for _ in range(k)]
    seed = draw(st.integers(0, 2**31 - 1))
    log_cond = draw(st.floats(0.0, max_log10_condition))
    scale = draw(st.floats(0.05, 3.0))
    rng = np.random.default_rng(seed)
    means, covs, weights = [], [], []
    for m in sizes:
        means.append(rng.normal(scale=3.0, size=(m, d)))
        q, _ = np.linalg.qr(rng.normal(size=(m, d, d)))
        evals = scale * 10.0 ** (log_cond * (rng.uniform(size=(m, d)) - 0.5))
        s = q @ (evals[..., None] * np.swapaxes(q, -1, -2))
        covs.append(0.5 * (s + np.swapaxes(s, -1, -2)))
        weights.append(rng.dirichlet(np.full(m, 2.0)))
    probs = rng.dirichlet(np.full(k, 3.0))
    # keep every probability away from 0 so log-weights stay moderate
    probs = (probs + 0.05) / (probs + 0.05).sum()
    weights = [(w + 0.02) / (w + 0.02).sum() for w in weights]
    return ClassConditionalGMM(means, covs, weights, probs)


@st.composite
def structured_mixtures(draw, covariance_type: str, max_dim: int = 8, max_classes: int = 5,
                        max_components: int = 5) -> ClassConditionalGMM:
    """A random mixture with ``"diag"`` or ``"spherical"`` covariances: variances log-uniform over 1e-2..1e2."""
    d, k = draw(st.integers(1, max_dim)), draw(st.integers(1, max_classes))
    sizes = [draw(st.integers(1, max_components)) for _ in range(k)]
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    shape = (lambda m: (m, d)) if covariance_type == "diag" else (lambda m: (m,))
    means = [rng.normal(scale=3.0, size=(m, d)) for m in sizes]
    covs = [10.0 ** rng.uniform(-2.0, 2.0, size=shape(m)) for m in sizes]
    weights = [(w + 0.02) / (w + 0.02).sum() for w in (rng.dirichlet(np.full(m, 2.0)) for m in sizes)]
    probs = rng.dirichlet(np.full(k, 3.0))
    return ClassConditionalGMM(means, covs, weights, (probs + 0.05) / (probs + 0.05).sum(),
                               covariance_type=covariance_type)


sigmas = st.one_of(st.just(0.0), st.floats(1e-3, 1e3).map(float))
"""Noise levels from 0 (the clean mixture) to 1e3."""


def points(gmm: ClassConditionalGMM, sigma: float, n: int, seed: int) -> torch.Tensor:
    """Half the points drawn from p_sigma, half spread widely around the data (tails included)."""
    g = torch.Generator().manual_seed(seed)
    near = gmm.sample(n - n // 2, sigma=sigma, generator=g)
    spread = 3.0 * (1.0 + sigma) * math.sqrt(gmm.dim)
    far = spread * torch.randn(n // 2, gmm.dim, dtype=torch.float64, generator=g)
    return torch.cat([near, far])
