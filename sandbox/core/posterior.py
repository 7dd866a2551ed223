"""The exact posterior over clean data given a noisy point, ``p(x0 | x_sigma = x, c)``: a Gaussian mixture.

With ``x = x0 + sigma eps`` and components ``N(mu_j, S_j)`` of weight ``phi_j`` in the condition (class ``c``'s
components; unconditioned, every class's with weights ``pi_k phi_j``), Bayes' rule gives, per component,

    r_j(x) = P(j | x)     ∝ phi_j N(x; mu_j, S_j + sigma^2 I)          (log-sum-exp: ``component_log_posterior``)
    m_j(x) = mu_j + S_j (S_j + sigma^2 I)^-1 (x - mu_j)
    P_j    = S_j - S_j (S_j + sigma^2 I)^-1 S_j = sigma^2 S_j (S_j + sigma^2 I)^-1

so ``p(x0 | x, c) = sum_j r_j N(x0; m_j, P_j)``. Its mean ``sum_j r_j m_j`` is the denoiser ``D_c(x)`` (Tweedie),
and the guided denoiser ``D_w = D_c + w (D_c - D_u)`` is ``(1 + w)`` times one posterior mean minus ``w`` times
another. With ``S_j = U diag(lam) U^T``: ``m_j = mu_j + U diag(lam / (lam + sigma^2)) U^T (x - mu_j)`` and
``P_j = U diag(lam sigma^2 / (lam + sigma^2)) U^T``: no matrix inverse, exact from sigma = 0 (a point mass at x)
to sigma -> inf (the prior). Components are indexed j = (class, component), class 0's first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .validation import as_count, as_generator, as_points

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Posterior:
    """``p(x0 | x_sigma = x_n, c) = sum_j weights[n, j] N(x0; means[n, j], U_j diag(variances[n, j]) U_j^T)`` for
    each of ``N`` points. ``log_weights: (N, J)`` (``-inf`` outside the condition), ``means: (N, J, d)``,
    ``variances: (N, J, d)`` along the eigenvectors ``axes: (J, d, d)`` (columns) of each component's prior
    covariance."""

    log_weights: Tensor
    means: Tensor
    variances: Tensor
    axes: Tensor

    @property
    def weights(self) -> Tensor:
        """``r_j``: ``(N, J)``, each row summing to 1."""
        return self.log_weights.exp()

    @property
    def covs(self) -> Tensor:
        """``P_j`` as matrices: ``(N, J, d, d)``."""
        return torch.einsum("jab,njb,jcb->njac", self.axes, self.variances, self.axes)

    def mean(self) -> Tensor:
        """``E[x0 | x, c] = sum_j r_j m_j``: the denoiser. -> ``(N, d)``."""
        return torch.einsum("nj,njd->nd", self.weights, self.means)

    def covariance(self) -> Tensor:
        """``Cov[x0 | x, c] = sum_j r_j (P_j + m_j m_j^T) - mean mean^T`` (total covariance). -> ``(N, d, d)``."""
        r, m, mean = self.weights, self.means, self.mean()
        centred = m - mean[:, None, :]
        return torch.einsum("nj,njab->nab", r, self.covs) + torch.einsum("nj,nja,njb->nab", r, centred, centred)

    def log_prob(self, x0: Tensor) -> Tensor:
        """``log p(x0 | x_n, c)`` of every point ``x0: (M, d)`` under every point's posterior. -> ``(N, M)``.
        Needs sigma > 0 (at sigma = 0 the posterior is a point mass at x)."""
        d = self.means.shape[-1]
        x0 = as_points(x0, d, self.means.dtype, self.means.device, "x0")
        live = self.variances[self.log_weights > -math.inf]
        if live.numel() and not bool((live > 0).all()):
            raise ValueError("log_prob needs sigma > 0: at sigma = 0 the posterior is a point mass at x, with no "
                             "density")
        # z = U_j^T (x0 - m_nj) along each component's axes: (N, J, M, d)
        z = torch.einsum("jab,mb->jma", self.axes.transpose(1, 2), x0)[None] \
            - torch.einsum("jba,njb->nja", self.axes, self.means)[:, :, None, :]
        v = self.variances.clamp_min(torch.finfo(self.means.dtype).tiny)[:, :, None, :]
        log_norm = -0.5 * ((z * z / v).sum(-1) + v.log().sum(-1) + d * _LOG_2PI)          # (N, J, M)
        return torch.logsumexp(self.log_weights[:, :, None] + log_norm, dim=1)

    def sample(self, n: int, generator: torch.Generator | int | None = None) -> Tensor:
        """``n`` draws from each point's posterior: a component by its weight, then ``m_j + U_j sqrt(variances)
        eps``. -> ``(N, n, d)``."""
        n = as_count(n)
        g = as_generator(generator, self.means.device)
        points, _, d = self.means.shape
        j = torch.multinomial(self.weights, n, replacement=True, generator=g)                # (N, n)
        eps = torch.randn(points, n, d, dtype=self.means.dtype, device=self.means.device, generator=g)
        scaled = eps * self.variances.gather(1, j[..., None].expand(-1, -1, d)).sqrt()
        return self.means.gather(1, j[..., None].expand(-1, -1, d)) + torch.einsum("nkab,nkb->nka", self.axes[j],
                                                                                    scaled)


def build(log_weights: Tensor, mu: Tensor, lam: Tensor, axes: Tensor, x: Tensor, s: Tensor) -> Posterior:
    """The posterior from the component responsibilities ``log_weights: (N, J)``, the prior components' means
    ``mu: (J, d)``, eigenvalues ``lam: (J, d)`` and eigenvectors ``axes: (J, d, d)``, at points ``x: (N, d)`` with
    noise levels ``s: (N,)`` (module docstring)."""
    s2 = (s * s)[:, None, None]                                                             # (N, 1, 1)
    shrink = lam[None] / (lam[None] + s2)                                                   # (N, J, d)
    along = torch.einsum("jba,njb->nja", axes, x[:, None, :] - mu[None])                    # U^T (x - mu)
    means = mu[None] + torch.einsum("jab,njb->nja", axes, shrink * along)
    return Posterior(log_weights, means, shrink * s2, axes)
