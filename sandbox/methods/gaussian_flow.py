r"""Guidance between two Gaussian scores: the guided probability-flow ODE in closed form.

Setting (the published CFG counterexamples): a conditional ``N(mu_c, S_c)`` and a reference ``N(mu_u, S_u)``
whose covariances commute, ``S_c = U diag(lc) U^T``, ``S_u = U diag(lu) U^T``. At noise ``sigma`` (VE frame)

    s_w(x) = (1 + w) s_c(x) - w s_u(x),   s_k(x) = -(S_k + sigma^2 I)^{-1} (x - mu_k),

is affine in ``x``, so the probability-flow ODE ``dx/dsigma = -sigma s_w(x)`` is linear and decouples along
the columns of ``U``. In one such coordinate (eigenvalues ``lc, lu``; means ``mc, mu``) put ``g = x - mc``:

    dg/dsigma = sigma p(sigma) g - sigma w (mc - mu) / (lu + sigma^2),
    p(sigma)  = (1 + w) / (lc + sigma^2) - w / (lu + sigma^2) = d/dsigma log Phi(sigma),
    Phi(sigma) = (lc + sigma^2)^((1+w)/2) (lu + sigma^2)^(-w/2).

Integrating from ``sigma_0`` to ``sigma_1`` (either direction):

    g(sigma_1) = Phi(sigma_1) / Phi(sigma_0) g(sigma_0) - w (mc - mu) Phi(sigma_1) I(sigma_0, sigma_1),
    I = int_{sigma_0}^{sigma_1} s / ((lu + s^2) Phi(s)) ds.

So the flow map is ``x_1 = M x_0 + v`` with ``M = U diag(Phi(sigma_1)/Phi(sigma_0)) U^T``. ``I`` is an
elementary integrand; with ``z = (lu + s^2) / (lc + s^2)`` it is an incomplete beta function,
``I = [B(z; w/2, 1/2)]_{z_0}^{z_1} / (2 sqrt(lc - lu))`` when ``lc > lu``; we evaluate it by adaptive
quadrature in every case. A Gaussian start ``N(m_0, C_0)`` (e.g. ``p_{sigma_max}(.|c) = N(mu_c, S_c +
sigma_max^2 I)``) ends at ``N(M m_0 + v, M C_0 M^T)``. As ``sigma_max -> inf`` from that start the variance
along a coordinate tends to ``Phi(0)^2 = lc^(1+w) lu^(-w)``, while the tilted density
``N(mu_c, S_c)^(1+w) N(mu_u, S_u)^(-w)`` has variance ``1 / ((1+w)/lc - w/lu)``: equal only if ``w = 0`` or
``lc = lu``. Guided sampling does not sample the tilted density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy import integrate

from ..core.mixtures import check_components

Tensor = torch.Tensor
_GENERIC = 0.6180339887498949     # S_c + t S_u with an irrational t shares eigenvectors with both when they commute


@dataclass(frozen=True)
class GaussianPair:
    """A conditional ``N(mu_c, S_c)`` and a reference ``N(mu_u, S_u)`` with commuting covariances (float64)."""

    mu_c: Tensor
    cov_c: Tensor
    mu_u: Tensor
    cov_u: Tensor

    def __post_init__(self) -> None:
        mu, cov, _ = check_components([self.mu_c[None], self.mu_u[None]], [self.cov_c[None], self.cov_u[None]],
                                       [[1.0], [1.0]])
        object.__setattr__(self, "mu_c", mu[0][0])
        object.__setattr__(self, "cov_c", cov[0][0])
        object.__setattr__(self, "mu_u", mu[1][0])
        object.__setattr__(self, "cov_u", cov[1][0])
        a, b = self.cov_c, self.cov_u
        if float((a @ b - b @ a).abs().max()) > 1e-10 * float(a.abs().max() * b.abs().max()):
            raise ValueError("cov_c and cov_u must commute (share eigenvectors) for the closed-form flow")

    def eigen(self) -> tuple[Tensor, Tensor, Tensor]:
        """Common eigenvectors ``U`` (columns) and the eigenvalues ``lc, lu`` of ``S_c, S_u`` along them."""
        _, u = torch.linalg.eigh(self.cov_c + _GENERIC * self.cov_u)
        return u, torch.diagonal(u.T @ self.cov_c @ u), torch.diagonal(u.T @ self.cov_u @ u)


def flow_map(pair: GaussianPair, w: float, sigma_0: float, sigma_1: float) -> tuple[Tensor, Tensor]:
    """``(M, v)`` with ``x(sigma_1) = M x(sigma_0) + v`` for the CFG probability-flow ODE (module docstring)."""
    w, sigma_0, sigma_1 = _nonneg(w, "w"), _nonneg(sigma_0, "sigma_0"), _nonneg(sigma_1, "sigma_1")
    u, lc, lu = pair.eigen()
    mc, mr = u.T @ pair.mu_c, u.T @ pair.mu_u
    gain, shift = torch.empty_like(lc), torch.empty_like(lc)
    for i, (a, b) in enumerate(zip(lc.tolist(), lu.tolist())):
        gain[i] = _phi(sigma_1, a, b, w) / _phi(sigma_0, a, b, w)
        shift[i] = -w * float(mc[i] - mr[i]) * _phi(sigma_1, a, b, w) * flow_integral(a, b, w, sigma_0, sigma_1)
    # x1 - mc = gain (x0 - mc) + shift, coordinate-wise in the eigenbasis
    m = u @ torch.diag(gain) @ u.T
    v = u @ (mc - gain * mc + shift)
    return m, v


def flow_integral(lc: float, lu: float, w: float, sigma_0: float, sigma_1: float) -> float:
    """``I = int_{sigma_0}^{sigma_1} s / ((lu + s^2) Phi(s)) ds`` by adaptive quadrature (relative error ~1e-13)."""
    return integrate.quad(lambda s: s / ((lu + s * s) * _phi(s, lc, lu, w)), sigma_0, sigma_1,
                          epsabs=0.0, epsrel=1e-13, limit=200)[0]


def guided_output(pair: GaussianPair, w: float, sigma_max: float, sigma_min: float = 0.0) -> tuple[Tensor, Tensor]:
    """Mean and covariance of the guided ODE output from ``p_{sigma_max}(.|c) = N(mu_c, S_c + sigma_max^2 I)``."""
    m, v = flow_map(pair, w, sigma_max, sigma_min)
    cov0 = pair.cov_c + sigma_max ** 2 * torch.eye(pair.mu_c.shape[0], dtype=torch.float64)
    return m @ pair.mu_c + v, m @ cov0 @ m.T


def tilted(pair: GaussianPair, w: float) -> tuple[Tensor, Tensor]:
    """Mean and covariance of ``N(mu_c, S_c)^(1+w) N(mu_u, S_u)^(-w)`` (normalisable iff its precision is SPD)."""
    w = _nonneg(w, "w")
    pc, pu = torch.linalg.inv(pair.cov_c), torch.linalg.inv(pair.cov_u)
    precision = (1 + w) * pc - w * pu
    if float(torch.linalg.eigvalsh(precision).min()) <= 0:
        raise ValueError(f"the tilted density is not normalisable at w = {w}: (1+w) S_c^-1 - w S_u^-1 is not SPD")
    cov = torch.linalg.inv(precision)
    return cov @ ((1 + w) * pc @ pair.mu_c - w * pu @ pair.mu_u), cov


def _phi(s: float, lc: float, lu: float, w: float) -> float:
    """``Phi(s) = (lc + s^2)^((1+w)/2) (lu + s^2)^(-w/2)``."""
    return (lc + s * s) ** ((1 + w) / 2) * (lu + s * s) ** (-w / 2)


def _nonneg(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)
