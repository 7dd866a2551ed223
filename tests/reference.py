"""Independent reference routes for the mixture's closed forms (scipy, torch.distributions, mpmath)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from torch.distributions import MultivariateNormal

from sandbox import ClassConditionalGMM


def scipy_log_prob_per_class(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: float) -> np.ndarray:
    """log p_sigma(x | c) for every class with scipy's multivariate normal: (N, K)."""
    xs = x.detach().cpu().numpy()
    eye = np.eye(gmm.dim)
    out = []
    for mu, cov, w in zip(gmm.means, gmm.covs, gmm.weights):
        terms = [np.log(w[m].item()) + multivariate_normal(mu[m].numpy(), cov[m].numpy() + sigma**2 * eye)
                 .logpdf(xs).reshape(-1) for m in range(len(w))]
        out.append(logsumexp(np.stack(terms), axis=0))
    return np.stack(out, axis=1)


def scipy_log_prob(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: float, c: int | None) -> np.ndarray:
    per_class = scipy_log_prob_per_class(gmm, x, sigma)
    if c is not None:
        return per_class[:, c]
    return logsumexp(per_class + np.log(gmm.class_probs.numpy()), axis=1)


def torch_log_prob(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: float, c: int | None) -> torch.Tensor:
    """The same density through torch.distributions (Cholesky route), differentiable in x."""
    eye = torch.eye(gmm.dim, dtype=torch.float64)
    per_class = []
    for mu, cov, w in zip(gmm.means, gmm.covs, gmm.weights):
        comp = MultivariateNormal(mu, cov + sigma**2 * eye)
        per_class.append(torch.logsumexp(w.log() + comp.log_prob(x[:, None, :]), dim=1))
    per_class = torch.stack(per_class, dim=1)
    if c is not None:
        return per_class[:, c]
    return torch.logsumexp(per_class + gmm.class_probs.log(), dim=1)


def autograd_score(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: float, c: int | None) -> torch.Tensor:
    xr = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch_log_prob(gmm, xr, sigma, c).sum(), xr)
    return g


def autograd_log_posterior_grad(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: float, c: int) -> torch.Tensor:
    """grad_x log p_sigma(c | x) through torch.distributions and Bayes' rule."""
    xr = x.detach().clone().requires_grad_(True)
    log_post = torch_log_prob(gmm, xr, sigma, c) + gmm.class_probs[c].log() - torch_log_prob(gmm, xr, sigma, None)
    (g,) = torch.autograd.grad(log_post.sum(), xr)
    return g


class MpDensity:
    """log p_sigma(x | c) in mpmath at ``dps`` digits, for high-precision central finite differences."""

    def __init__(self, gmm: ClassConditionalGMM, sigma: float, c: int | None, dps: int = 40) -> None:
        self.dps = dps
        with mp.workdps(dps):
            self.terms = []
            probs = gmm.class_probs.tolist()
            classes = range(gmm.num_classes) if c is None else [c]
            for k in classes:
                for mu, cov, w in zip(gmm.means[k], gmm.covs[k], gmm.weights[k]):
                    s = mp.matrix(cov.tolist()) + mp.mpf(sigma) ** 2 * mp.eye(gmm.dim)
                    prior = mp.log(w.item()) + (mp.log(probs[k]) if c is None else 0)
                    log_const = prior - mp.log(mp.det(s)) / 2 - gmm.dim * mp.log(2 * mp.pi) / 2
                    self.terms.append((mp.matrix(mu.tolist()), s**-1, log_const))

    def log_prob(self, x: list) -> mp.mpf:
        vals = []
        for mu, prec, const in self.terms:
            r = mp.matrix(x) - mu
            vals.append(const - (r.T * prec * r)[0] / 2)
        top = max(vals)
        return top + mp.log(mp.fsum(mp.exp(v - top) for v in vals))

    def fd_score(self, x: list[float]) -> list[float]:
        """Central differences with step 1e-15 at 40 digits: truncation ~1e-30, rounding ~1e-25."""
        with mp.workdps(self.dps):
            h = mp.mpf("1e-15")
            out = []
            for i in range(len(x)):
                xp = [mp.mpf(v) for v in x]
                xm = list(xp)
                xp[i] += h
                xm[i] -= h
                out.append(float((self.log_prob(xp) - self.log_prob(xm)) / (2 * h)))
            return out
