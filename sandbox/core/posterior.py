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

At small sigma both the means and the variances are kept relative to what is small. The variances are
``sigma^2`` times the shrinkage ``lam / (lam + sigma^2)`` in (0, 1], never their product: at sigma = 1e-160,
sigma^2 = 1e-320 is a subnormal number with four significant bits, and below ~1.5e-162 it is 0. The means are
``x - sigma U pull`` with ``pull = sigma / (lam + sigma^2) U^T (x - mu)``, never ``mu + shrink (x - mu)``, whose
rounding (~1e-16 |x|) would be 1e144 posterior standard deviations at sigma = 1e-160. The density works with
``(x0 - m) / sigma = U^T (x0 - x) / sigma + pull`` and ``log sigma``: exact down to the smallest normal float64
(``SIGMA_MIN``, 2.2e-308); a smaller sigma is refused by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .validation import as_count, as_generator, as_points

_LOG_2PI = math.log(2.0 * math.pi)
SIGMA_MIN = torch.finfo(torch.float64).tiny      # the smallest normal float64: below it, x0 - m loses its digits


@dataclass(frozen=True)
class Posterior:
    """``p(x0 | x_sigma = x_n, c) = sum_j weights[n, j] N(x0; means[n, j], U_j diag(variances[n, j]) U_j^T)`` for
    each of ``N`` points ``x: (N, d)`` at noise ``sigma: (N,)``. ``log_weights: (N, J)`` (``-inf`` outside the
    condition); along the eigenvectors ``axes: (J, d, d)`` (columns) of each component's prior covariance, the
    means are ``x - sigma U pull`` and the variances ``sigma^2 shrink`` (``pull``, ``shrink``: ``(N, J, d)``;
    module docstring)."""

    log_weights: Tensor
    x: Tensor
    sigma: Tensor
    pull: Tensor
    shrink: Tensor
    axes: Tensor

    @property
    def means(self) -> Tensor:
        """``m_j = mu_j + S_j (S_j + sigma^2 I)^-1 (x - mu_j)``: ``(N, J, d)``."""
        return self.x[:, None, :] - self.sigma[:, None, None] * torch.einsum("jab,njb->nja", self.axes, self.pull)

    @property
    def variances(self) -> Tensor:
        """``sigma^2 lam / (lam + sigma^2)`` along each axis: ``(N, J, d)`` (0 where sigma^2 underflows)."""
        return self.shrink * (self.sigma * self.sigma)[:, None, None]

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
        if self.sigma.numel() and bool((self.sigma == self.sigma[0]).all()):
            # one noise level (a step of a sampler): each component's P_j is the same at every point, so the
            # mixture of them is an (N, J) x (J, d^2) product, not N J d^3 work (a minute per step in d = 64)
            shared = torch.einsum("jab,jb,jcb->jac", self.axes, self.variances[0], self.axes)
            spread = torch.einsum("nj,jab->nab", r, shared)
        else:
            spread = torch.einsum("nj,njab->nab", r, self.covs)
        return spread + torch.einsum("nj,nja,njb->nab", r, centred, centred)

    def log_prob(self, x0: Tensor) -> Tensor:
        """``log p(x0 | x_n, c)`` of every point ``x0: (M, d)`` under every point's posterior. -> ``(N, M)``.
        Needs ``sigma >= SIGMA_MIN`` (at sigma = 0 the posterior is a point mass at x, with no density)."""
        d = self.x.shape[-1]
        x0 = as_points(x0, d, self.x.dtype, self.x.device, "x0")
        if self.sigma.numel() and float(self.sigma.min()) < SIGMA_MIN:
            raise ValueError(f"log_prob needs sigma >= {SIGMA_MIN:.3g} (the smallest normal float64; at sigma = 0 "
                             f"the posterior is a point mass at x, with no density), got {float(self.sigma.min()):.3g}")
        # z = U_j^T (x0 - m_nj) / sigma_n along each component's axes: (N, J, M, d); never sigma^2 (module docstring)
        z = torch.einsum("jba,nmb->njma", self.axes, x0[None] - self.x[:, None, :]) / self.sigma[:, None, None, None] \
            + self.pull[:, :, None, :]
        shrink = self.shrink[:, :, None, :]
        log_det = shrink.log().sum(-1) + 2.0 * d * self.sigma.log()[:, None, None]
        log_norm = -0.5 * ((z * z / shrink).sum(-1) + log_det + d * _LOG_2PI)                # (N, J, M)
        return torch.logsumexp(self.log_weights[:, :, None] + log_norm, dim=1)

    def sample(self, n: int, generator: torch.Generator | int | None = None) -> Tensor:
        """``n`` draws from each point's posterior: a component by its weight, then ``m_j + U_j sqrt(variances)
        eps``. -> ``(N, n, d)``."""
        n = as_count(n)
        g = as_generator(generator, self.x.device)
        points, d = self.x.shape
        if n == 0 or points == 0:
            return self.x.new_zeros(points, n, d)
        j = torch.multinomial(self.weights, n, replacement=True, generator=g)                # (N, n)
        pick = j[..., None].expand(-1, -1, d)
        eps = torch.randn(points, n, d, dtype=self.x.dtype, device=self.x.device, generator=g)
        scaled = eps * self.shrink.gather(1, pick).sqrt() * self.sigma[:, None, None]
        return self.means.gather(1, pick) + torch.einsum("nkab,nkb->nka", self.axes[j], scaled)


def build(log_weights: Tensor, mu: Tensor, lam: Tensor, axes: Tensor, x: Tensor, s: Tensor) -> Posterior:
    """The posterior from the component responsibilities ``log_weights: (N, J)``, the prior components' means
    ``mu: (J, d)``, eigenvalues ``lam: (J, d)`` and eigenvectors ``axes: (J, d, d)``, at points ``x: (N, d)`` with
    noise levels ``s: (N,)`` (module docstring)."""
    s = s[:, None, None]                                                                    # (N, 1, 1)
    spread = lam[None] + s * s                                                              # (N, J, d)
    along = torch.einsum("jba,njb->nja", axes, x[:, None, :] - mu[None])                    # U^T (x - mu)
    return Posterior(log_weights, x, s[:, 0, 0], s / spread * along, lam[None] / spread, axes)
