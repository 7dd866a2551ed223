"""How far trained networks are from the exact answers: score errors per sigma, separation of their samples,
and their own log-likelihoods (probability-flow ODE with the exact divergence, small d).

Score error. For a field ``s`` and a reference ``s_ref`` (the exact conditional score, or the exact CFG score at
``w``), at each sigma of a log grid and each class ``c`` we draw ``x ~ p_sigma(.|c)`` and take
``e(x) = sigma ||s(x, c) - s_ref(x, c)||`` (the error in units of the noise prediction, comparable across sigma).
``score_error`` returns the RMS per sigma and the RMS over the whole grid, with a normal interval.

Model likelihood. Along the ODE ``dx/dsigma = f = -sigma s(x, sigma)`` the log-density obeys
``d log p_sigma(x(sigma)) / dsigma = -div f``, so

    log p_model(x0 | c) = log p_{sigma_max}(x(sigma_max) | c) + int_{sigma_min}^{sigma_max} div f dsigma,

with ``div f = -sigma tr(ds/dx)`` computed exactly by ``d`` backward passes, and the exact noised density at
``sigma_max`` as the prior (the model's own marginal there is indistinguishable from it).
"""

from __future__ import annotations

import math

import torch

from ..core.fields import Field, LabelledField
from ..core.mixtures import ClassConditionalGMM
from ..core.schedules import edm_sigmas
from ..core.validation import as_int, as_number
from ..methods import samplers
from .metrics import LEVEL, Estimate, normal_mean

Tensor = torch.Tensor
ERROR_SIGMAS = tuple(float(s) for s in torch.logspace(math.log10(0.02), math.log10(20.0), 10, dtype=torch.float64))


def score_error(score: LabelledField, reference: LabelledField, gmm: ClassConditionalGMM,
                sigmas: tuple[float, ...] = ERROR_SIGMAS, n: int = 2000, seed: int = 0,
                level: float = LEVEL, classes: tuple[int, ...] | None = None) -> tuple[dict[float, float], Estimate]:
    """``sigma ||s - s_ref||`` under ``p_sigma(.|c)``, ``classes`` (default all) pooled: RMS per sigma, and the
    overall RMS (interval: normal on the mean of squares, mapped through the square root)."""
    n = as_int(n, "n", minimum=2)
    if not sigmas or not all(as_number(s, "each of sigmas", 0.0, strict=True) for s in sigmas):
        raise ValueError("sigmas must hold at least one noise level > 0")
    g = torch.Generator().manual_seed(seed)
    per_sigma, squares = {}, []
    for sigma in sigmas:
        rows = []
        for c in range(gmm.num_classes) if classes is None else classes:
            x = gmm.sample(n, c=c, sigma=sigma, generator=g)
            s = torch.full((n,), sigma, dtype=x.dtype)
            cls = torch.full((n,), c, dtype=torch.long)
            with torch.no_grad():
                diff = score(x, s, cls).to(x.dtype) - reference(x, s, cls)
            rows.append(sigma ** 2 * diff.square().sum(1))
        sq = torch.cat(rows)
        per_sigma[sigma] = float(sq.mean().sqrt())
        squares.append(sq)
    return per_sigma, rms(torch.cat(squares), level)


def rms(squares: Tensor, level: float = LEVEL) -> Estimate:
    """``sqrt(mean(squares))`` of squared errors ``(N,)``; interval: normal on the mean of squares, mapped through
    the square root."""
    mean_sq = normal_mean(squares, level)
    return Estimate(math.sqrt(mean_sq.value), math.sqrt(max(mean_sq.lo, 0.0)), math.sqrt(mean_sq.hi),
                    "normal on the mean square", level)


def model_log_prob(score: Field, gmm: ClassConditionalGMM, x0: Tensor, c: int,
                   steps: int = 128, sigma_min: float = 0.002, sigma_max: float = 80.0) -> Tensor:
    """``log p(x0 | c)`` of the model whose score (bound to class ``c``) is ``score``, by the probability-flow ODE
    run forward from ``sigma_min``: the samplers' Heun steps (``samplers.integrate``) on the augmented state
    ``(x, int div f)``, ``f = -sigma s``. ``x0: (N, d)`` -> ``(N,)``."""
    sigmas = edm_sigmas(steps, sigma_min, sigma_max, append_zero=False).flip(0)     # increasing
    d = x0.shape[1]

    def drift(state: Tensor, sig: Tensor) -> Tensor:
        x = state[:, :d].detach().requires_grad_(True)
        s = score(x, sig.expand(x.shape[0])).to(x.dtype)
        trace = sum(torch.autograd.grad(s[:, i].sum(), x, retain_graph=i < d - 1)[0][:, i] for i in range(d))
        return torch.cat([-sig * s, (-sig * trace)[:, None]], 1).detach()

    start = torch.cat([x0.detach(), torch.zeros(x0.shape[0], 1, dtype=x0.dtype)], 1)
    end = samplers.integrate(drift, start, sigmas)
    return gmm.log_prob(end[:, :d], sigma_max, c) + end[:, d]
