"""The exact posterior over clean data, ``p(x0 | x_sigma, c)``, against Bayes' rule computed independently.

Bayes' rule by another route: ``log p(x0 | x, c) = log p(x0 | c) + log N(x; x0, sigma^2 I) - log p_sigma(x | c)``,
every term from the mixture's own densities (``log_prob`` at sigma = 0 and at sigma), none from the posterior's
components. Its mean is the denoiser; its draws pass a KS test against the exact CDF of a projection (a mixture of
1-D normals) at level 1e-3 per test.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sandbox import ClassConditionalGMM, zoo


def _random_mixture(d: int, covariance_type: str, seed: int) -> ClassConditionalGMM:
    g = torch.Generator().manual_seed(seed)
    k, m = 3, 2
    means = [2.0 * torch.randn(m, d, dtype=torch.float64, generator=g) for _ in range(k)]
    if covariance_type == "full":
        a = [torch.randn(m, d, d, dtype=torch.float64, generator=g) for _ in range(k)]
        covs = [x @ x.transpose(1, 2) / d + 0.2 * torch.eye(d, dtype=torch.float64) for x in a]
    elif covariance_type == "diag":
        covs = [0.2 + torch.rand(m, d, dtype=torch.float64, generator=g) for _ in range(k)]
    else:
        covs = [0.2 + torch.rand(m, dtype=torch.float64, generator=g) for _ in range(k)]
    weights = [torch.softmax(torch.randn(m, dtype=torch.float64, generator=g), 0) for _ in range(k)]
    return ClassConditionalGMM(means, covs, weights, [0.5, 0.3, 0.2], covariance_type=covariance_type)


def _bayes(gmm: ClassConditionalGMM, x: torch.Tensor, sigma: float, c: int | None, x0: torch.Tensor) -> torch.Tensor:
    """``log p(x0 | x, c)`` for every x (rows) and x0 (columns) by Bayes' rule. -> ``(N, M)``."""
    d = gmm.dim
    prior = gmm.log_prob(x0, 0.0, c)                                                    # (M,)
    evidence = gmm.log_prob(x, sigma, c)                                                # (N,)
    likelihood = -0.5 * ((x[:, None, :] - x0[None]).square().sum(-1) / sigma**2
                         + d * math.log(2 * math.pi * sigma**2))                        # (N, M)
    return prior[None] + likelihood - evidence[:, None]


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("c", [0, 2, None])
def test_density_is_bayes_rule_and_mean_is_the_denoiser(d, covariance_type, c):
    gmm = _random_mixture(d, covariance_type, seed=10 * d + len(covariance_type))
    g = torch.Generator().manual_seed(1)
    for sigma in (0.05, 0.7, 4.0):
        x = gmm.sample(6, sigma=sigma, c=c, generator=g)
        post = gmm.posterior(x, sigma, c)
        # x0 where the posterior has its mass (its own draws) and where it has little (prior draws)
        x0 = torch.cat([post.sample(20, generator=g).reshape(-1, d), gmm.sample(20, generator=g)])
        ours, bayes = post.log_prob(x0), _bayes(gmm, x, sigma, c, x0)
        # relative to the density: exp(ours - bayes) = 1 to 1e-10 wherever the density is not vanishing
        mass = bayes > bayes.max(1, keepdim=True).values - 30.0
        assert (ours - bayes)[mass].abs().max() < 1e-10
        assert torch.allclose(post.mean(), gmm.denoise(x, sigma, c), rtol=0, atol=1e-12 * (1 + x.abs().max()))
        assert torch.allclose(post.weights.sum(1), torch.ones(6, dtype=torch.float64), atol=1e-14)


def test_outside_the_condition_components_have_no_weight_and_unconditioned_every_class_counts():
    gmm = zoo.overlap_2d()
    x = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    per_class = [m.shape[0] for m in gmm.means]
    r = gmm.posterior(x, 1.0, 1).weights[0]
    assert float(r[: per_class[0]].sum()) == 0.0 and abs(float(r.sum()) - 1.0) < 1e-14
    # unconditioned: class c's components carry exactly p_sigma(c | x)
    r_u = gmm.posterior(x, 1.0).weights[0].split(per_class)
    assert torch.allclose(torch.stack([part.sum() for part in r_u]), gmm.class_posterior(x, 1.0)[0], atol=1e-14)


@given(st.floats(1e-3, 30.0), st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_moments_match_the_law_of_total_covariance(sigma, seed):
    gmm = _random_mixture(2, "full", seed % 7)
    x = gmm.sample(3, sigma=sigma, generator=seed)
    # one noise level (covariance's shared route) and one per point (its general route)
    for sigmas in (sigma, torch.tensor([sigma, 2 * sigma, 0.5 * sigma], dtype=torch.float64)):
        post = gmm.posterior(x, sigmas, 0)
        # the total covariance from the components equals E[x0 x0^T] - mean mean^T computed from the covs property
        r, m, p = post.weights, post.means, post.covs
        second = torch.einsum("nj,njab->nab", r, p + m[..., :, None] * m[..., None, :])
        mean = post.mean()
        assert torch.allclose(post.covariance(), second - mean[:, :, None] * mean[:, None, :], atol=1e-10)
    post = gmm.posterior(x, sigma, 0)
    r, p = post.weights, post.covs
    # each component's covariance is sigma^2 S (S + sigma^2 I)^-1: below both sigma^2 I and S (Loewner order)
    eig = torch.linalg.eigvalsh(p[r > 0])
    assert float(eig.max()) <= sigma**2 * (1 + 1e-12) and float(eig.min()) >= -1e-12 * sigma**2


@pytest.mark.slow
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_samples_pass_a_ks_test_and_match_the_moments(covariance_type):
    gmm = _random_mixture(2, covariance_type, seed=3)
    x = gmm.sample(1, sigma=1.0, generator=5)
    post = gmm.posterior(x, 1.0, None)
    draws = post.sample(20000, generator=6)[0]                                          # (n, d)
    u = torch.tensor([0.6, 0.8], dtype=torch.float64)
    # the projection u . x0 is a mixture of normals N(u . m_j, u^T P_j u): its exact CDF
    loc, scale = post.means[0] @ u, torch.einsum("a,jab,b->j", u, post.covs[0], u).sqrt()
    w = post.weights[0]

    def cdf(t):
        return sum(float(w[j]) * stats.norm.cdf(t, float(loc[j]), float(scale[j])) for j in range(len(w)))

    assert stats.kstest((draws @ u).numpy(), cdf).pvalue > 1e-3                          # level 1e-3
    # moments: the sample mean within 5 standard errors of the posterior mean (per axis)
    se = post.covariance()[0].diagonal().sqrt() / math.sqrt(len(draws))
    assert ((draws.mean(0) - post.mean()[0]).abs() < 5 * se).all()


def test_sigma_zero_is_a_point_mass_at_x_and_has_no_density():
    gmm = zoo.teaching_1d()
    x = torch.tensor([[0.4]], dtype=torch.float64)
    post = gmm.posterior(x, 0.0, 0)
    assert torch.equal(post.mean(), x) and float(post.covariance().abs().max()) < 1e-30   # rounding of sum r = 1
    assert torch.equal(post.sample(3, generator=0), x.expand(3, 1)[None])
    with pytest.raises(ValueError, match=r"log_prob needs sigma >= 2\.23e-308"):
        post.log_prob(x)
    with pytest.raises(ValueError, match="x0 must"):
        gmm.posterior(x, 1.0).log_prob(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="sigma"):
        gmm.posterior(x, -1.0)


@pytest.mark.parametrize("sigma", [1e-3, 1e-20, 1e-160, 1e-200, 1e-300, 3e-308])
def test_the_density_stays_exact_down_to_the_smallest_normal_sigma(sigma):
    # one Gaussian N(mu, lam) in 1-D: p(x0 | x) = N(x0; m, v), m = mu + lam (x - mu) / (lam + s^2), v = lam s^2 /
    # (lam + s^2); at x0 = x, with x - m = s^2 (x - mu) / (lam + s^2), written in logs so nothing underflows:
    # log p = -1/2 (log 2 pi + log lam + 2 log s - log(lam + s^2)) - 1/2 s^2 (x - mu)^2 / (lam (lam + s^2))
    mu, lam = 0.3, 1.7
    gmm = zoo.gaussian_classes([mu, -1.0], [lam, 1.0])
    x = torch.tensor([[0.0], [-2.5], [3.0]], dtype=torch.float64)
    spread = lam + sigma * sigma
    exact = [-0.5 * (math.log(2 * math.pi) + math.log(lam) + 2 * math.log(sigma) - math.log(spread))
             - 0.5 * sigma * sigma * (float(xi) - mu) ** 2 / (lam * spread) for xi in x[:, 0]]
    got = gmm.posterior(x, sigma, 0).log_prob(x).diagonal()
    assert torch.allclose(got, torch.tensor(exact, dtype=torch.float64), rtol=1e-13, atol=0)
    # and a point one posterior sd from x = 0: log p drops by 1/2 (at sigma this small, m - x = s^2 (x - mu) /
    # (lam + s^2) is ~1e-160 sds, below the last bit)
    if sigma < 1e-100:
        sd = sigma * math.sqrt(lam / spread)
        shifted = gmm.posterior(x[:1], sigma, 0).log_prob(x[:1] + sd)
        assert math.isclose(float(shifted), exact[0] - 0.5, rel_tol=1e-13)


def test_below_the_smallest_normal_sigma_the_density_is_refused_by_name_and_no_draw_is_empty():
    gmm = zoo.teaching_1d()
    x = torch.tensor([[0.4]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"sigma >= 2\.23e-308.*got 1e-320"):
        gmm.posterior(x, 1e-320, 0).log_prob(x)
    assert gmm.posterior(x, 0.5, 0).sample(0).shape == (1, 0, 1)
    assert gmm.posterior(x[:0], 0.5, 0).sample(4).shape == (0, 4, 1)
