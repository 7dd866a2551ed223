"""Samplers with exact scores reproduce the exact mixture; guidance wrappers equal the closed forms."""

from __future__ import annotations

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
    traj = []
    samplers.heun_ode(guidance.conditional(gmm.score, 0), gmm.sample(10, sigma=5.0, generator=0),
                      edm_sigmas(8, 0.01, 5.0), trajectory=traj)
    assert len(traj) == 9              # x_init and one iterate per step (8 steps, 9 sigmas)
    with pytest.raises(ValueError, match="strictly decreasing"):
        samplers.heun_ode(gmm.score, torch.zeros(3, 1, dtype=torch.float64),
                          torch.tensor([1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="w must be a finite number >= 0"):
        guidance.exact_cfg(gmm, 0, -1.0)
