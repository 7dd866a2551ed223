"""Exact references: the tilted density q_0 (cubature normaliser, rejection sampler) and the closed-form guided
Gaussian flow, each against an independent route."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from sandbox import ClassConditionalGMM, edm_sigmas, gaussian_flow, guidance, metrics, samplers, theory, zoo
from sandbox.methods.tilted import TiltedTarget

from .test_mixtures import mixture_cdf_1d

D = torch.float64


# ---------------------------------------------------------------------------------------------- tilted q_0
@pytest.mark.parametrize("name", ["teaching_1d", "overlap_2d"])
def test_normaliser_is_exact_at_w0(name):
    gmm = zoo.get(name)
    for c in range(gmm.num_classes):
        assert abs(TiltedTarget(gmm, c, 0.0).log_normaliser) < 1e-10


@pytest.mark.parametrize("w", [0.5, 2.0, 7.0])
def test_normaliser_matches_adaptive_quadrature_in_1d(w):
    gmm = zoo.teaching_1d()
    target = TiltedTarget(gmm, 1, w)

    def density(t: float) -> float:
        return math.exp(float(target.log_unnormalised(torch.tensor([[t]], dtype=D))[0]))

    z = integrate.quad(density, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=400)[0]
    assert target.log_normaliser == pytest.approx(math.log(z), abs=1e-9)


@pytest.mark.parametrize("w", [1.0, 4.0])
def test_normaliser_matches_the_rejection_identity_in_2d(w):
    # Z = pi_c^(-w) E_{p(.|c)}[p(c|x)^w]: a Monte Carlo route independent of the cubature
    gmm = zoo.overlap_2d()
    target = TiltedTarget(gmm, 2, w)
    a = target.acceptance(gmm.sample(200_000, c=2, generator=0))
    z_mc, se = float(a.mean()), float(a.std()) / math.sqrt(a.shape[0])
    z_cubature = math.exp(target.log_normaliser) * float(gmm.class_probs[2]) ** w
    assert abs(z_cubature - z_mc) < 4 * se
    assert se < 0.01 * z_mc                        # power: a 4% error in Z would be detected


@pytest.mark.parametrize("w", [0.0, 3.0])
def test_rejection_samples_follow_the_tilted_cdf_in_1d(w):
    gmm = zoo.teaching_1d()
    target = TiltedTarget(gmm, 0, w)
    x = target.sample(20_000, generator=1)
    assert metrics.ks_distance(x, target.cdf_1d).p_value > 0.01
    if w > 0:   # power: the tilted law is far from the plain conditional
        assert metrics.ks_distance(x, mixture_cdf_1d(gmm, 0.0, 0)).p_value < 1e-6
    else:       # and at w = 0 the cubature CDF is the exact mixture CDF
        t = np.linspace(-4, 4, 101)
        assert np.abs(target.cdf_1d(t) - mixture_cdf_1d(gmm, 0.0, 0)(t)).max() < 1e-5


def test_tilted_sampling_is_reproducible_and_validated():
    gmm = zoo.overlap_2d()
    target = TiltedTarget(gmm, 0, 2.0)
    assert torch.equal(target.sample(100, generator=5), target.sample(100, generator=5))
    with pytest.raises(ValueError, match="w must be"):
        TiltedTarget(gmm, 0, -1.0)
    with pytest.raises(ValueError, match="class id"):
        TiltedTarget(gmm, 5, 1.0)
    with pytest.raises(ValueError, match="d <= 2"):
        _ = TiltedTarget(zoo.random_mixture(2, 2, 3, seed=0), 0, 1.0).log_normaliser


def _narrow_beside_wide() -> ClassConditionalGMM:
    """Class 0: a spike of sd 1e-3 at 0 beside a component of sd 2; class 1: N(0.3, 1). A grid sized from the widest
    component cannot see the spike."""
    return ClassConditionalGMM([[[0.0], [0.5]], [[0.3]]], [[[[1e-6]], [[4.0]]], [[[1.0]]]], [[0.5, 0.5], [1.0]])


@pytest.mark.parametrize("w", [0.0, 1.0, 3.0])
def test_normaliser_resolves_a_narrow_component_beside_a_wide_one(w):
    gmm = _narrow_beside_wide()
    target = TiltedTarget(gmm, 0, w)

    def density(t: float) -> float:
        return math.exp(float(target.log_unnormalised(torch.tensor([[t]], dtype=D))[0]))

    # independent route: adaptive Gauss-Kronrod on pieces that isolate the spike
    z = sum(integrate.quad(density, a, b, epsabs=0, epsrel=1e-13, limit=5000)[0]
            for a, b in ((-40.0, -0.02), (-0.02, 0.02), (0.02, 40.0)))
    assert target.log_normaliser == pytest.approx(math.log(z), abs=1e-8)
    assert target.normaliser_error < 1e-9


def test_normaliser_of_the_deepest_branching_mixture_is_exact_at_w0():
    gmm = zoo.branching_2d(levels=6)           # components of sd ~0.01 beside sd 0.6
    for c in range(2):
        assert abs(TiltedTarget(gmm, c, 0.0).log_normaliser) < 1e-8


@pytest.mark.slow
def test_normaliser_of_the_deepest_branching_mixture_agrees_with_the_rejection_identity():
    gmm = zoo.branching_2d(levels=6)
    target = TiltedTarget(gmm, 0, 2.0)
    assert target.normaliser_error < 1e-8
    a = target.acceptance(gmm.sample(400_000, c=0, generator=3))
    z_mc, se = float(a.mean()), float(a.std()) / math.sqrt(a.shape[0])
    z = math.exp(target.log_normaliser) * float(gmm.class_probs[0]) ** 2.0
    assert abs(z - z_mc) < 4 * se and se < 0.005 * z_mc


# ---------------------------------------------------------------------------------------------- Gaussian flow
def _pair(lc, lu, mu_c=(1.0, -0.5), mu_u=(0.0, 0.5), angle=0.3) -> gaussian_flow.GaussianPair:
    rot = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=D)
    return gaussian_flow.GaussianPair(torch.tensor(mu_c, dtype=D), rot @ torch.diag(torch.tensor(lc, dtype=D)) @ rot.T,
                                      torch.tensor(mu_u, dtype=D), rot @ torch.diag(torch.tensor(lu, dtype=D)) @ rot.T)


def _guided_score(pair: gaussian_flow.GaussianPair, w: float):
    gmm = ClassConditionalGMM([pair.mu_c[None], pair.mu_u[None]], [pair.cov_c[None], pair.cov_u[None]],
                              [[1.0], [1.0]])
    return guidance.CFG(guidance.conditional(gmm.score, 0), guidance.conditional(gmm.score, 1), w)


def test_flow_integral_is_the_incomplete_beta_function():
    lc, lu, w, s0, s1 = 2.0, 0.7, 3.0, 40.0, 0.1
    z = [(lu + s * s) / (lc + s * s) for s in (s0, s1)]
    beta = [special.betainc(w / 2, 0.5, t) * special.beta(w / 2, 0.5) for t in z]
    closed = (beta[1] - beta[0]) / (2 * math.sqrt(lc - lu))
    assert gaussian_flow.flow_integral(lc, lu, w, s0, s1) == pytest.approx(closed, rel=1e-11)


@pytest.mark.parametrize("w", [0.0, 1.0, 3.0])
def test_heun_sampler_output_matches_the_closed_form_flow(w):
    pair, sigma_max, sigma_min = _pair([0.5, 1.0], [1.5, 2.0]), 20.0, 0.002
    score = _guided_score(pair, w)
    # the guided field is affine in x, so is the sampler's map: push the mean and the basis vectors through it
    start = torch.cat([pair.mu_c[None], pair.mu_c[None] + torch.eye(2, dtype=D)])
    out = samplers.heun_ode(score, start, edm_sigmas(256, sigma_min, sigma_max))
    gain = (out[1:] - out[0]).T
    cov0 = pair.cov_c + sigma_max ** 2 * torch.eye(2, dtype=D)
    mean, cov = gaussian_flow.guided_output(pair, w, sigma_max, sigma_min)
    assert (out[0] - mean).abs().max() < 1e-3
    assert (gain @ cov0 @ gain.T - cov).abs().max() < 1e-3
    t_mean, t_cov = gaussian_flow.tilted(pair, w)
    if w == 0:
        assert torch.allclose(t_cov, pair.cov_c) and (cov - pair.cov_c).abs().max() < 1e-3
    else:   # guided sampling does not produce the tilted Gaussian
        assert (cov - t_cov).abs().max() > 0.05 and (mean - t_mean).abs().max() > 0.05


@settings(max_examples=25, deadline=None)
@given(lc=st.lists(st.floats(0.05, 4.0), min_size=2, max_size=2), lu=st.lists(st.floats(0.05, 4.0), min_size=2,
       max_size=2), w=st.floats(0.0, 8.0), angle=st.floats(0.0, math.pi), s=st.floats(0.05, 10.0))
def test_flow_map_solves_the_ode(lc, lu, w, angle, s):
    # independent route: central finite difference of x(sigma) against -sigma s_w(x(sigma))
    pair = _pair(lc, lu, angle=angle)
    x0 = torch.tensor([0.3, -1.2], dtype=D)
    h = 1e-4 * s

    def x_at(t: float) -> torch.Tensor:
        m, v = gaussian_flow.flow_map(pair, w, 12.0, t)
        return m @ x0 + v

    deriv = (x_at(s + h) - x_at(s - h)) / (2 * h)
    x = x_at(s)
    drift = -s * _guided_score(pair, w)(x[None], torch.tensor([s], dtype=D))[0]
    assert torch.allclose(deriv, drift, rtol=1e-5, atol=1e-6 * (1 + float(drift.abs().max())))


def test_flow_maps_compose():
    pair, w = _pair([0.3, 1.7], [2.0, 0.4]), 2.5
    m1, v1 = gaussian_flow.flow_map(pair, w, 30.0, 2.0)
    m2, v2 = gaussian_flow.flow_map(pair, w, 2.0, 0.0)
    m, v = gaussian_flow.flow_map(pair, w, 30.0, 0.0)
    assert torch.allclose(m2 @ m1, m, rtol=1e-11, atol=1e-13)
    assert torch.allclose(m2 @ v1 + v2, v, rtol=1e-10, atol=1e-12)


def test_gaussian_pair_validation():
    with pytest.raises(ValueError, match="commute"):
        gaussian_flow.GaussianPair(torch.zeros(2, dtype=D), torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=D),
                                   torch.zeros(2, dtype=D), torch.diag(torch.tensor([1.0, 2.0], dtype=D)))
    with pytest.raises(ValueError, match="not normalisable"):
        gaussian_flow.tilted(_pair([2.0, 2.0], [1.0, 1.0]), 2.0)
    with pytest.raises(ValueError, match="w must be"):
        gaussian_flow.flow_map(_pair([1.0, 1.0], [2.0, 2.0]), -1.0, 1.0, 0.0)


# ---------------------------------------------------------------------------------------------- optimum fields
def test_optimum_fields_equal_their_closed_forms():
    gmm = zoo.overlap_2d()
    x = gmm.sample(400, sigma=0.7, generator=0)
    sigma = torch.full((400,), 0.7, dtype=D)
    weighted = guidance.Optimum(gmm, 1, "weighted-mclr", w=3.0)(x, sigma)
    assert torch.allclose(weighted, gmm.cfg_score(x, sigma, 1, 3.0), rtol=1e-10, atol=1e-10)
    assert torch.allclose(guidance.Optimum(gmm, 1, "dsm")(x, sigma), gmm.score(x, sigma, 1), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="no optimum"):
        guidance.Optimum(gmm, 1, "mclr", lam=1.0)(x, sigma)
    mclr = guidance.Optimum(gmm, 1, "mclr", lam=1.0, ill_posed="conditional")
    field = mclr(x, sigma)
    bad = theory.mclr_coefficient(gmm, x, sigma, 1, 1.0) <= 0
    assert bad.any() and mclr.ill_posed_fraction == pytest.approx(float(bad.double().mean()))
    assert torch.equal(field[bad], gmm.score(x, sigma, 1)[bad])
    assert torch.isfinite(field).all()
