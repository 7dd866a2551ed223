"""Samplers with exact scores reproduce the exact mixture; guidance wrappers equal the closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from sandbox import edm_sigmas, guidance, samplers, zoo

from .test_mixtures import mixture_cdf_1d

N = 20_000


@pytest.mark.parametrize("c", [None, 0])
@pytest.mark.parametrize(("sampler", "steps"), [("heun", 64), ("sde", 512)])
def test_samplers_reproduce_the_clean_mixture_in_1d(sampler, steps, c):
    gmm = zoo.teaching_1d()
    sigmas = edm_sigmas(steps, 0.002, 80.0)
    x_init = gmm.sample(N, c=c, sigma=80.0, generator=1)
    score = guidance.conditional(gmm.score, c)
    if sampler == "heun":
        x = samplers.heun_ode(score, x_init, sigmas)
    else:
        x = samplers.euler_maruyama(score, x_init, sigmas, generator=2)
    # the last step lands on sigma = 0, so compare with the clean mixture (sigma_min = 0.002 is negligible)
    assert stats.kstest(x[:, 0].numpy(), mixture_cdf_1d(gmm, 0.0, c)).pvalue > 0.01
    # power: the same samples reject the other class's distribution
    other = 1 if c == 0 else 0
    assert stats.kstest(x[:, 0].numpy(), mixture_cdf_1d(gmm, 0.0, other)).pvalue < 1e-6


def test_euler_ode_converges_to_heun_with_more_steps():
    gmm = zoo.overlap_2d()
    x_init = gmm.sample(500, sigma=20.0, generator=0)
    score = guidance.conditional(gmm.score, 1)
    ref = samplers.heun_ode(score, x_init, edm_sigmas(256, 0.002, 20.0))
    errs = [float((samplers.euler_ode(score, x_init, edm_sigmas(n, 0.002, 20.0)) - ref).norm(dim=1).mean())
            for n in (32, 128)]
    assert errs[1] < 0.5 * errs[0]


def test_cfg_wrapper_equals_closed_form_and_respects_interval():
    gmm = zoo.overlap_2d()
    x = gmm.sample(300, sigma=0.5, generator=0)
    sigma = torch.full((300,), 0.5, dtype=torch.float64)
    assert torch.allclose(guidance.exact_cfg(gmm, 2, 3.0)(x, sigma), gmm.cfg_score(x, sigma, 2, 3.0),
                          rtol=1e-12, atol=1e-12)
    limited = guidance.exact_cfg(gmm, 2, 3.0, sigma_lo=1.0, sigma_hi=5.0)
    assert torch.equal(limited(x, sigma), gmm.score(x, sigma, 2))
    assert torch.allclose(limited(x, sigma * 4), gmm.cfg_score(x, sigma * 4, 2, 3.0), rtol=1e-12, atol=1e-12)


def test_trajectory_and_bad_sigmas():
    gmm = zoo.teaching_1d()
    x = gmm.sample(10, sigma=5.0, generator=0)
    traj = samplers.path(samplers.heun_ode, guidance.conditional(gmm.score, 0), x, edm_sigmas(8, 0.01, 5.0))
    assert traj.shape == (9, 10, 1)    # x_init and one iterate per step (8 steps, 9 sigmas)
    assert torch.equal(traj[0], x) and torch.equal(traj[-1], samplers.heun_ode(guidance.conditional(gmm.score, 0), x,
                                                                               edm_sigmas(8, 0.01, 5.0)))
    with pytest.raises(ValueError, match="strictly decreasing"):
        samplers.heun_ode(gmm.score, torch.zeros(3, 1, dtype=torch.float64),
                          torch.tensor([1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="w must be a finite number >= 0"):
        guidance.exact_cfg(gmm, 0, -1.0)


def test_predictor_corrector_draws_the_sdes_noise():
    # zero fields: both samplers reduce to x_T + sum of their noise increments, sqrt(2 eps) = sqrt(s_i^2 - s_{i+1}^2)
    # exactly, so the same generator must give the same end point
    zero = lambda x, s: torch.zeros_like(x)   # noqa: E731
    x = zoo.teaching_1d().sample(50, sigma=5.0, generator=0)
    grid = edm_sigmas(16, 0.01, 5.0)
    sde = samplers.euler_maruyama(zero, x, grid, generator=3)
    pc = samplers.predictor_corrector(zero, zero, x, grid, generator=3)
    assert torch.allclose(pc, sde, rtol=0, atol=1e-12)
    assert not torch.allclose(samplers.predictor_corrector(zero, zero, x, grid, generator=4), sde, atol=1e-3)
    with pytest.raises(ValueError, match="corrector_steps must be an int >= 1"):
        samplers.predictor_corrector(zero, zero, x, grid, corrector_steps=0)


def test_predictor_corrector_with_the_exact_score_samples_the_mixture():
    # predictor and corrector both the exact conditional score: every step targets p_sigma(x|c), so the end point is
    # p(x|c); two corrector steps per level too (more Langevin at the right law changes nothing in law)
    gmm = zoo.teaching_1d()
    score = guidance.conditional(gmm.score, 0)
    x_init = gmm.sample(N, c=0, sigma=80.0, generator=1)
    for k in (1, 2):
        x = samplers.predictor_corrector(score, score, x_init, edm_sigmas(256, 0.002, 80.0), generator=2,
                                         corrector_steps=k)
        assert stats.kstest(x[:, 0].numpy(), mixture_cdf_1d(gmm, 0.0, 0)).pvalue > 0.01
        assert stats.kstest(x[:, 0].numpy(), mixture_cdf_1d(gmm, 0.0, 1)).pvalue < 1e-6


def test_predictor_corrector_converges_path_by_path_to_the_cfg_sde():
    # Bradley & Nakkiran: SDE(w) = ODE step of s_c + Langevin on s_c + 2w (s_c - s_u), to first order in the step;
    # with the same noise the RMS gap falls ~4x per 4x steps, and the naive corrector w' = w does not close it
    from sandbox.experiments.claims import predictor_corrector_gap
    gmm = zoo.overlap_2d()
    gap = predictor_corrector_gap(gmm, 0, 2.0, gmm.sample(300, c=0, sigma=80.0, generator=0), (32, 128, 512))
    assert gap["order"] > 0.75
    assert gap["gap_to_naive"] < 0.1
    assert min(gap["rms_to_sde_naive"]) > 0.1


def test_integrate_is_the_samplers_heun_loop_in_either_direction():
    gmm = zoo.overlap_2d()
    x = gmm.sample(64, c=0, sigma=80.0, generator=1)
    sigmas = edm_sigmas(16)
    score = lambda y, s: gmm.score(y, s, 0)                                      # noqa: E731
    # the ODE sampler is integrate with the drift -sigma s: the same numbers, bit for bit
    assert torch.equal(samplers.heun_ode(score, x, sigmas),
                       samplers.integrate(lambda y, s: -s * score(y, s.expand(len(y))), x, sigmas))
    # forward (increasing sigma), dx/dsigma = x from 1 to 2: x e; Heun is second order, so 4x the steps cut the
    # error about 16x
    start = torch.ones(3, 1, dtype=torch.float64)
    errors = [float((samplers.integrate(lambda y, s: y, start, torch.linspace(1.0, 2.0, n + 1, dtype=torch.float64))
                     - math.e).abs().max()) for n in (8, 32)]
    assert errors[1] < errors[0] / 12 and errors[1] < 1e-3
    with pytest.raises(ValueError, match="strictly monotone"):
        samplers.integrate(lambda y, s: y, start, torch.tensor([1.0, 2.0, 1.5], dtype=torch.float64))
    with pytest.raises(TypeError, match="drift"):
        samplers.integrate(None, start, torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_every_sampler_reports_each_step_with_the_denoiser_it_stepped_with():
    # k-diffusion's callback: after step i, the state reached and D = x_i + sigma_i^2 s(x_i, sigma_i) at the step's
    # start; Heun's x_{i+1} is then x_i + (sigma_{i+1} - sigma_i) times the mean of its two slopes, Euler's uses D alone
    gmm = zoo.overlap_2d()
    score = guidance.exact_cfg(gmm, 0, 2.0)
    x0, sigmas = gmm.sample(16, sigma=5.0, generator=1), edm_sigmas(6, 0.01, 5.0)
    for sampler in (samplers.euler_ode, samplers.heun_ode, samplers.flow_euler, samplers.euler_maruyama):
        steps = []
        end = sampler(score, x0, sigmas, callback=steps.append)
        assert [s.i for s in steps] == list(range(6)) and torch.equal(steps[-1].x, end), sampler.__name__
        x = x0
        for step, s, s_next in zip(steps, sigmas[:-1], sigmas[1:]):
            assert float(step.sigma) == float(s) and float(step.sigma_next) == float(s_next)
            torch.testing.assert_close(step.denoised, x + s**2 * score(x, s.expand(16)), rtol=1e-12, atol=1e-12)
            if sampler is samplers.euler_ode:      # the Euler step is the step toward D: x + (s' - s)(x - D)/s
                torch.testing.assert_close(step.x, x + (s_next - s) * (x - step.denoised) / s, rtol=1e-12, atol=1e-12)
            x = step.x
    # the general drift of integrate has no denoiser; CFG++ reports its guided one
    steps = []
    samplers.integrate(lambda y, s: -y, x0, sigmas.flip(0)[1:], callback=steps.append)
    assert len(steps) == 5 and all(s.denoised is None for s in steps)
    steps = []
    samplers.cfg_pp(guidance.conditional(gmm.score, 0), guidance.conditional(gmm.score, None), 0.5, x0, sigmas,
                    callback=steps.append)
    s = sigmas[0]
    d_c, d_u = (x0 + s**2 * gmm.score(x0, s, k) for k in (0, None))
    torch.testing.assert_close(steps[0].denoised, d_u + 0.5 * (d_c - d_u), rtol=1e-12, atol=1e-12)
