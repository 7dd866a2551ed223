"""The clean tilted density CFG is often said to sample, computed exactly (docs/theory.md, section 2):

    q_0(x) = p(x|c)^(1+w) p(x)^(-w) / Z,        Z = int p(x|c)^(1+w) p(x)^(-w) dx.

Exact sampling by rejection from ``p(.|c)``: since ``p(x) >= pi_c p(x|c)``, the unnormalised ``q_0`` is at most
``pi_c^(-w) p(x|c)``, and the acceptance probability of a proposal ``x ~ p(.|c)`` is

    q_0 Z / (pi_c^(-w) p(x|c)) = (pi_c p(x|c) / p(x))^w = p(c|x)^w,

so ``Z = pi_c^(-w) E_{p(.|c)}[p(c|x)^w] = pi_c^(-w) sum_m phi_cm E_{N(mu_cm, S_cm)}[p(c|x)^w]`` and the acceptance
rate is ``pi_c^w Z``. The normaliser uses that last form: each component's expectation of the bounded ``p(c|x)^w``
by adaptive cubature in the component's own coordinates (``quadrature.adaptive_expectation``), seeded with every
other component as a feature, since a narrow component makes the posterior change over its own small scale inside
a wide one. ``normaliser_error`` is the cubature's error estimate carried to ``log Z``. At ``w = 0`` the integrand
is 1 and ``log Z = 0``. d <= 2.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.mixtures import ClassConditionalGMM
from ..core.quadrature import AdaptiveResult, adaptive_expectation, quasi_normal_rule, standard_normal_rule
from ..core.validation import as_batch_scalar, as_class_ids, as_count, as_generator, as_number, as_points

Tensor = torch.Tensor
SCORE_RULES = {1: (40, 10), 2: (12, 6)}   # (panels, order) per axis for the noised score, by dimension
QMC_NODES = 4096                           # quasi-Monte Carlo nodes for the noised score in d > 2


class TiltedTarget:
    """``q_0 ∝ p(x|c)^(1+w) p(x)^(-w)`` at sigma = 0 for class ``c`` and guidance ``w >= 0`` (module docstring);
    ``rtol``: relative accuracy asked of the normaliser's cubature."""

    def __init__(self, gmm: ClassConditionalGMM, c: int, w: float, rtol: float = 1e-11) -> None:
        self.w = as_number(w, "w", minimum=0.0)
        self.c = int(as_class_ids(c, 1, gmm.num_classes, gmm.device)[0])
        self.rtol = as_number(rtol, "rtol", minimum=0.0, strict=True)
        self.gmm = gmm
        self._parts: list[AdaptiveResult] | None = None

    def _integrand(self, x: Tensor) -> Tensor:
        """``p(c|x)^w`` from log-densities (exact far into the other classes' territory). ``(n, d)`` -> ``(n,)``."""
        y = x.to(self.gmm.device, self.gmm.dtype)
        return torch.exp(self._log_tilt(y)).to(x)

    def _integrals(self) -> list[AdaptiveResult]:
        """Per component ``m`` of class ``c``: ``E_{N_m}[p(c|x)^w]`` with its nodes (module docstring)."""
        if self._parts is None:
            gmm, c = self.gmm, self.c
            if gmm.dim > 2:
                raise ValueError(f"the normaliser of q_0 is computed by cubature for d <= 2; the mixture has "
                                 f"d = {gmm.dim} (sampling needs no normaliser)")
            means, covs = torch.cat(gmm.means), torch.cat(gmm.dense_covs())
            scales = torch.linalg.eigvalsh(covs)[:, 0].sqrt()

            first = sum(m.shape[0] for m in gmm.means[:c])
            self._parts = []
            for j, (mu, cov) in enumerate(zip(gmm.means[c], gmm.dense_covs()[c])):
                others = torch.arange(means.shape[0]) != first + j
                features = (means[others], scales[others]) if self.w > 0 else None
                # in 1D, many initial panels: the nodes double as the CDF's (cdf_1d)
                self._parts.append(adaptive_expectation(self._integrand, mu, cov, rtol=self.rtol, features=features,
                                                        initial=256 if gmm.dim == 1 else 8))
        return self._parts

    @property
    def log_normaliser(self) -> float:
        """``log Z`` by adaptive cubature per component (module docstring)."""
        z = sum(float(phi) * r.value for phi, r in zip(self.gmm.weights[self.c], self._integrals()))
        if not z > 0:
            raise ValueError(f"w = {self.w:g} is too large for this mixture in float64: E[p(c|x)^w] underflows to 0")
        return math.log(z) - self.w * math.log(float(self.gmm.class_probs[self.c]))

    @property
    def normaliser_error(self) -> float:
        """Estimated absolute error of ``log_normaliser`` (the cubature's, relative to ``Z``)."""
        phis = self.gmm.weights[self.c]
        z = sum(float(phi) * r.value for phi, r in zip(phis, self._integrals()))
        return sum(float(phi) * r.error for phi, r in zip(phis, self._integrals())) / z

    def log_unnormalised(self, x: Tensor) -> Tensor:
        """``(1 + w) log p(x|c) - w log p(x)``. ``x: (N, d)`` -> ``(N,)``."""
        return (1.0 + self.w) * self.gmm.log_prob(x, 0.0, self.c) - self.w * self.gmm.log_prob(x, 0.0)

    def log_prob(self, x: Tensor) -> Tensor:
        """``log q_0(x)``. ``x: (N, d)`` -> ``(N,)``."""
        return self.log_unnormalised(x) - self.log_normaliser

    def score(self, x: Tensor, sigma: float | Tensor, rule: tuple[int, int] | None = None,
              nodes: int | None = None) -> Tensor:
        """The score of ``q_0`` noised to ``sigma``, ``grad log (q_0 * N(0, sigma^2 I))(x) = (E[x0 | x] - x) / sigma^2``
        (docs/theory.md, section 12): what DSM on exact ``q_0`` samples learns. ``x: (N, d)`` -> ``(N, d)``.

        Given ``x``, component ``m`` of class ``c`` puts ``x0`` at ``N(m_m(x), C_m)``, ``m_m = mu_m + S_m (S_m +
        sigma^2 I)^-1 (x - mu_m)``, ``C_m = S_m (S_m + sigma^2 I)^-1 sigma^2``, with weight the within-class
        responsibility of ``m`` at ``x``; the tilt reweights each by ``p(c|x0)^w``, integrated by the tensor
        Gauss-Legendre ``rule`` ``(panels, order)`` per axis (default ``SCORE_RULES[d]``, d <= 2) or, given
        ``nodes`` and always for d > 2, by ``nodes`` randomised quasi-Monte Carlo points (default ``QMC_NODES``;
        the tilt is bounded by 1, so these self-normalised weights stay tame). At ``sigma = 0`` it is
        ``(1 + w) s_c - w s_u``, the clean tilted score."""
        gmm = self.gmm
        if rule is not None and (nodes is not None or gmm.dim > 2):
            raise ValueError("pass rule (a tensor rule, d <= 2) or nodes (quasi-Monte Carlo), not both")
        if nodes is not None or gmm.dim > 2:
            points = quasi_normal_rule(gmm.dim, as_count(QMC_NODES if nodes is None else nodes, "nodes"))
        else:
            points = standard_normal_rule(gmm.dim, *(rule or SCORE_RULES[gmm.dim]))
        x = as_points(x, gmm.dim, gmm.dtype, gmm.device)
        s = as_batch_scalar(sigma, x.shape[0], gmm.dtype, gmm.device, "sigma")
        clean = s == 0
        out = torch.empty_like(x)
        if bool(clean.any()):
            out[clean] = gmm.cfg_score(x[clean], 0.0, self.c, self.w)
        if bool((~clean).any()):
            out[~clean] = self._noised_score(x[~clean], s[~clean], points)
        return out

    def _noised_score(self, x: Tensor, s: Tensor, points: tuple[Tensor, Tensor]) -> Tensor:
        gmm, c = self.gmm, self.c
        xi, v = (t.to(x) for t in points)                                                        # [R, d], [R]
        s2 = (s * s)[:, None]                                                                    # [N, 1]
        log_r = gmm.component_posterior(x, s, c).log()                                          # [N, M]
        parts_mass, parts_mean = [], []
        for mu, cov in zip(gmm.means[c], gmm.dense_covs()[c]):
            lam, rot = torch.linalg.eigh(cov.to(x))
            mu = mu.to(x)
            z = (x - mu) @ rot                                                                   # [N, d] eigenbasis
            mean = mu + (z * lam / (lam + s2)) @ rot.T                                          # [N, d]
            sd = torch.sqrt(lam * s2 / (lam + s2))                                               # [N, d]
            x0 = mean[:, None, :] + (xi[None] * sd[:, None, :]) @ rot.T                          # [N, R, d]
            log_w = v.log()[None] + self._log_tilt(x0.reshape(-1, gmm.dim)).reshape(x0.shape[:2])  # [N, R]
            parts_mass.append(torch.logsumexp(log_w, 1))
            parts_mean.append((torch.softmax(log_w, 1)[:, :, None] * x0).sum(1))
        weight = torch.softmax(log_r + torch.stack(parts_mass, 1), 1)                           # [N, M]
        posterior_mean = (weight[:, :, None] * torch.stack(parts_mean, 1)).sum(1)
        return (posterior_mean - x) / s2

    def _log_tilt(self, x: Tensor) -> Tensor:
        """``w log p(c|x)`` at sigma = 0. ``(n, d)`` -> ``(n,)``."""
        if self.w == 0:
            return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        return self.w * self.gmm.log_class_posterior(x, 0.0)[:, self.c]

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
        """CDF of ``q_0`` in 1-D: per component, the cumulative cubature masses at the panel edges (exact to the
        cubature's accuracy), joined by cubic Hermite interpolation with the exact density as slope (error
        ~1e-8: far below a KS test's resolution ~1/sqrt(N))."""
        from scipy import interpolate  # here, not at import: it costs a third of `import sandbox`

        if self.gmm.dim != 1:
            raise ValueError("cdf_1d is for 1-D mixtures")
        t = np.asarray(t, dtype=float)
        parts = self._integrals()
        phis = [float(phi) for phi in self.gmm.weights[self.c]]
        z = sum(phi * r.value for phi, r in zip(phis, parts))
        total = np.zeros_like(t)
        for phi, mu, cov, r in zip(phis, self.gmm.means[self.c], self.gmm.dense_covs()[self.c], parts):
            order = torch.argsort(r.lo[:, 0])
            sd = math.sqrt(float(cov[0, 0]))
            xi = torch.cat([r.lo[order, 0], (r.lo[order, 0] + r.width[order, 0])[-1:]])
            edges = float(mu[0, 0] if mu.ndim == 2 else mu[0]) + sd * xi
            cum = torch.cat([torch.zeros(1, dtype=xi.dtype), torch.cumsum(r.panel_value[order], 0)]) * phi / z
            # d/dx of this component's share: phi N(x; mu, sd^2) p(c|x)^w / (pi_c^w Z)
            slope = phi / z * torch.exp(-0.5 * xi.square()) / (sd * math.sqrt(2 * math.pi)) * \
                self._integrand(edges[:, None])
            spline = interpolate.CubicHermiteSpline(edges.numpy(), cum.numpy(), slope.numpy(), extrapolate=False)
            inside = spline(t)
            total += np.where(t < float(edges[0]), 0.0, np.where(t > float(edges[-1]), float(cum[-1]), inside))
        return np.clip(total, 0.0, 1.0)
