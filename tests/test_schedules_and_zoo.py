"""VP <-> VE conversions, EDM sigmas, and the zoo's documented properties."""

from __future__ import annotations

import math

import pytest
import torch

from sandbox import VPSchedule, edm_sigmas, vp_denoise, vp_score, zoo
from sandbox.core.schedules import vp_log_prob


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_vp_schedule_is_variance_preserving_and_monotone(kind):
    sched = VPSchedule(kind)
    t = torch.linspace(0.0, 0.99, 200, dtype=torch.float64)
    a, s = sched.alpha(t), sched.sigma(t)
    assert torch.allclose(a**2 + s**2, torch.ones_like(t), atol=1e-14)
    assert abs(float(a[0]) - 1.0) < 1e-14
    assert (sched.ve_sigma(t).diff() > 0).all()


def test_vp_score_is_gradient_of_vp_log_density_and_matches_monte_carlo_marginal():
    gmm = zoo.overlap_2d()
    sched = VPSchedule("linear")
    t = torch.tensor([0.1, 0.4, 0.7, 0.9], dtype=torch.float64)
    a, s = sched.alpha(t), sched.sigma(t)
    x = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(vp_log_prob(gmm.log_prob, xr, a, s).sum(), xr)
    assert torch.allclose(vp_score(gmm.score, x, a, s), g, rtol=1e-12, atol=1e-12)
    # the VP density integrates to 1: a Monte Carlo check of the -d log a_t Jacobian term
    n = 200_000
    gen = torch.Generator().manual_seed(1)
    a0, s0 = float(a[1]), float(s[1])
    x_t = a0 * gmm.sample(n, generator=gen) + s0 * torch.randn(n, 2, dtype=torch.float64, generator=gen)
    lp_vp = vp_log_prob(gmm.log_prob, x_t, a0, s0)
    lp_direct = gmm.log_prob(x_t / a0, s0 / a0) - 2 * math.log(a0)
    assert torch.allclose(lp_vp, lp_direct, rtol=1e-13)
    # E over the VP marginal of the score is 0 (integration by parts): within 5 standard errors
    sc = vp_score(gmm.score, x_t, a0, s0)
    assert ((sc.mean(0)).abs() < 5 * sc.std(0) / math.sqrt(n)).all()


def test_vp_denoise_equals_ve_denoise_at_equivalent_sigma():
    gmm = zoo.teaching_1d()
    x = torch.linspace(-3, 3, 11, dtype=torch.float64)[:, None]
    a, s = 0.6, 0.8
    assert torch.allclose(vp_denoise(gmm.denoise, x, a, s, c=1), gmm.denoise(x / a, s / a, c=1), rtol=0, atol=0)
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        vp_score(gmm.score, x, 0.0, 1.0)


def test_edm_sigmas():
    s = edm_sigmas(16, 0.002, 80.0, rho=7.0)
    assert s.shape == (17,)
    assert s[0] == pytest.approx(80.0, rel=1e-14) and s[15] == pytest.approx(0.002, rel=1e-12) and s[16] == 0
    assert (s.diff() < 0).all()
    # rho = 1 is linear spacing
    assert torch.allclose(edm_sigmas(5, 1.0, 5.0, rho=1.0, append_zero=False),
                          torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma_min and sigma_max"):
        edm_sigmas(4, 1.0, 0.5)


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_zoo_is_deterministic_and_documented(name):
    a, b = zoo.get(name), zoo.get(name)
    for u, v in zip(a.covs + a.means + a.weights, b.covs + b.means + b.weights):
        assert torch.equal(u, v)
    assert name in zoo.__doc__
    assert zoo.ZOO[name].__doc__


def test_zoo_shapes_and_overlap():
    t1, ov, br = zoo.teaching_1d(), zoo.overlap_2d(), zoo.branching_2d()
    assert (t1.dim, t1.num_classes, ov.dim, ov.num_classes, br.dim, br.num_classes) == (1, 2, 2, 3, 2, 2)
    # real overlap: the Bayes classifier on clean samples errs on a sizeable fraction, but far from chance
    for gmm, lo, hi in ((t1, 0.03, 0.3), (ov, 0.03, 0.3)):
        c = torch.arange(gmm.num_classes).repeat(5000)
        x = gmm.sample(c.numel(), c=c, generator=0)
        err = float((gmm.class_posterior(x).argmax(1) != c).double().mean())
        assert lo < err < hi, err
    # branching: multi-scale components, smallest covariance far below the largest
    evals = torch.cat([torch.linalg.eigvalsh(s).flatten() for s in br.covs])
    assert float(evals.max() / evals.min()) > 100
    with pytest.raises(ValueError, match="name must be one of"):
        zoo.get("nope")
