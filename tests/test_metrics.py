"""Separation measures on distributions with known answers, and against independent routes (scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from sandbox import ClassConditionalGMM, gaussian_classes, metrics, zoo

from .test_mixtures import mixture_cdf_1d

D = torch.float64


def test_perfectly_separated_classes():
    gmm = gaussian_classes([-50.0, 0.0, 50.0], [1.0, 1.0, 1.0])
    x = gmm.sample(2000, c=1, generator=0)
    acc, leak = metrics.bayes_accuracy(gmm, x, 1), metrics.leakage(gmm, x, 1)
    assert acc.value == 1.0 and acc.hi == 1.0 and acc.lo > 0.99
    assert leak.value == 0.0 and leak.lo == 0.0 and leak.hi < 0.01
    assert metrics.mean_posterior(gmm, x, 1).value > 1 - 1e-12
    # log N(x; 0, 1) - log N(x; +-50, 1) = (x -+ 50)^2 / 2 - x^2 / 2 >= 1250 - 50 |x|
    assert metrics.log_ratio(gmm, x, 1, "min").value > 1000


def test_identical_classes_give_chance_accuracy_and_zero_ratio():
    gmm = ClassConditionalGMM([[[0.0, 0.0]]] * 3, [torch.eye(2, dtype=D)[None]] * 3, [[1.0]] * 3)
    x = gmm.sample(500, c=2, generator=0)
    assert metrics.bayes_accuracy(gmm, x, 2).value == pytest.approx(1 / 3, abs=1e-12)
    assert metrics.mean_posterior(gmm, x, 2).value == pytest.approx(1 / 3, abs=1e-12)
    assert metrics.log_ratio(gmm, x, 2).value == 0.0
    assert metrics.leakage(gmm, x, 2).value == 0.0


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_bayes_accuracy_of_two_gaussians_matches_the_normal_cdf(delta):
    # equal variances and priors: the Bayes rule thresholds at delta / 2, accuracy Phi(delta / 2)
    gmm = gaussian_classes([0.0, delta], [1.0, 1.0])
    x = gmm.sample(20_000, c=0, generator=3)
    acc = metrics.bayes_accuracy(gmm, x, 0, level=0.999)
    truth = stats.norm.cdf(delta / 2)
    assert acc.lo < truth < acc.hi
    # with equal priors likelihood and posterior comparisons agree: leakage = 1 - accuracy exactly
    assert metrics.leakage(gmm, x, 0).value == pytest.approx(1 - acc.value, abs=1e-12)
    # power: the interval is narrow enough to exclude a 2% error in the threshold's accuracy
    assert not acc.lo < truth - 0.02 < acc.hi


def test_mode_occupancy_and_coverage():
    gmm = zoo.overlap_2d()
    x = gmm.sample(20_000, c=1, generator=0)
    occ = metrics.mode_occupancy(gmm, x, 1, level=0.999)
    for est, phi in zip(occ, gmm.weights[1].tolist()):
        assert est.lo < phi < est.hi      # soft occupancy is unbiased for the mixture weights
    assert metrics.mode_coverage(gmm, x, 1).value > 0.99
    # a sample that lost its second mode covers only the first mode's weight
    comp = gmm.component_posterior(x, 0.0, 1)
    one_mode = x[comp[:, 0] > 0.999]
    cov = metrics.mode_coverage(gmm, one_mode, 1)
    assert cov.value == pytest.approx(float(gmm.weights[1][0]), abs=0.01)
    assert cov.lo <= cov.value <= cov.hi


def test_entropy_of_a_gaussian():
    g = torch.Generator().manual_seed(0)
    chol = torch.tensor([[1.0, 0.0], [0.6, 0.5]], dtype=D)
    x = torch.randn(20_000, 2, dtype=D, generator=g) @ chol.T
    truth = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * (chol @ chol.T).numpy()))
    est = metrics.entropy(x)
    assert est.lo < truth < est.hi and est.half_width < 0.03
    # power: a 10% wider Gaussian has entropy log(1.1^2) = 0.19 higher, well outside the interval
    assert metrics.entropy(1.1 * x).lo > est.hi


def test_energy_distance_matches_scipy_in_1d_and_detects_a_shift():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(700, 1, dtype=D, generator=g), torch.randn(900, 1, dtype=D, generator=g)
    # scipy's energy distance is sqrt(2 int (F - G)^2) = sqrt of the V-statistic
    ref = stats.energy_distance(x[:, 0].numpy(), y[:, 0].numpy()) ** 2
    est = metrics.energy_distance(x, y)
    assert est.value == pytest.approx(ref, rel=1e-10)
    assert est.lo <= 0.0 <= est.hi            # same law
    assert metrics.energy_distance(x, y + 0.3).lo > 0.0


def test_sliced_wasserstein_is_w1_in_1d():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(800, 1, dtype=D, generator=g), 1.5 * torch.randn(800, 1, dtype=D, generator=g) + 0.2
    est = metrics.sliced_wasserstein(x, y, projections=3)
    assert est.value == pytest.approx(stats.wasserstein_distance(x[:, 0].numpy(), y[:, 0].numpy()), rel=1e-10)
    assert est.lo > 0
    same = metrics.sliced_wasserstein(x, torch.randn(800, 1, dtype=D, generator=g))
    assert same.lo <= 0.0 <= same.hi or same.value < est.lo


def test_ks_distance_against_the_exact_cdf():
    gmm = zoo.teaching_1d()
    x = gmm.sample(20_000, c=0, generator=0)
    ks = metrics.ks_distance(x, mixture_cdf_1d(gmm, 0.0, 0))
    assert ks.p_value > 0.01 and ks.lo == 0.0
    shifted = metrics.ks_distance(x + 0.1, mixture_cdf_1d(gmm, 0.0, 0))
    assert shifted.p_value < 1e-6 and shifted.lo > 0


def test_estimate_mean_adds_half_widths_in_quadrature():
    a, b = metrics.Estimate(1.0, 0.7, 1.3, "normal"), metrics.Estimate(2.0, 1.6, 2.4, "normal")
    m = metrics.Estimate.mean([a, b])
    assert m.value == 1.5 and m.half_width == pytest.approx(0.25)


def test_bad_inputs_are_named():
    gmm = zoo.overlap_2d()
    x = gmm.sample(50, c=0, generator=0)
    with pytest.raises(ValueError, match="class id"):
        metrics.bayes_accuracy(gmm, x, 3)
    with pytest.raises(ValueError, match="level"):
        metrics.mean_posterior(gmm, x, 0, level=1.5)
    with pytest.raises(ValueError, match="same dimension"):
        metrics.energy_distance(x, x[:, :1])
    with pytest.raises(ValueError, match="finite"):
        metrics.entropy(torch.full((5, 2), math.nan, dtype=D))
    with pytest.raises(ValueError, match="duplicate"):
        metrics.entropy(torch.cat([x, x]), k=1)
    with pytest.raises(ValueError, match=r"shape \(N, 1\)"):
        metrics.ks_distance(x, stats.norm.cdf)
    with pytest.raises(ValueError, match="reduce"):
        metrics.log_ratio(gmm, x, 0, "max")


def test_quantile_interval_covers_at_its_level():
    # 400 samples of N(0, 1), 2000 repetitions: the order-statistic interval of the 10% and 50% quantiles must cover
    # the true quantile (-1.2816, 0) at least 95% of the time (binomial discreteness makes it a bit more); with 2000
    # repetitions a coverage of 0.95 has standard error 0.005, so 0.94 is > 2 se below the guaranteed level
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 400, dtype=torch.float64, generator=g)
    for p, q in ((0.1, -1.2815516), (0.5, 0.0)):
        hits = [(e.lo <= q <= e.hi) for e in (metrics.quantile(row, p) for row in x)]
        assert 0.94 <= sum(hits) / len(hits) <= 0.975
    e = metrics.quantile(torch.arange(1, 101, dtype=torch.float64), 0.5)   # 1..100: median 50.5, order stats
    # binom(100, 0.5) quantiles at 2.5% and 97.5% are 40 and 60: [x_(40), x_(61)], coverage P(40 <= B <= 60) = 0.965
    assert e.value == 50.5 and e.lo == 40 and e.hi == 61
    with pytest.raises(ValueError, match="p must be a probability"):
        metrics.quantile(x[0], 1.0)
    with pytest.raises(ValueError, match="p must be a probability"):
        metrics.quantile(x[0], 0.0)


def test_bootstrap_curve_finds_a_known_peak():
    # H(sigma) = logistic((log sigma - log 0.7) / 0.4) has its steepest log-sigma slope exactly at sigma = 0.7; on a
    # grid that misses 0.7 the parabola refinement lands within 0.3%, and per-draw noise gives an interval around it
    from sandbox.experiments.claims import steepest_sigma
    sigmas = torch.logspace(-2, 2, 49, dtype=torch.float64)
    curve = torch.sigmoid((sigmas.log() - math.log(0.7)) / 0.4)
    assert float(steepest_sigma(sigmas)(curve[None])[0]) == pytest.approx(0.7, rel=3e-3)
    g = torch.Generator().manual_seed(1)
    draws = curve + 0.3 * torch.randn(500, 1, dtype=torch.float64, generator=g) * curve * (1 - curve)
    e = metrics.bootstrap_curve(draws, steepest_sigma(sigmas))
    assert e.lo < e.value < e.hi and e.lo < 0.7 < e.hi and e.hi - e.lo < 0.1
