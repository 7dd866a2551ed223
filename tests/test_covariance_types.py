"""Diagonal and spherical covariances (scikit-learn's names): their fast paths against the full-covariance path
on the same mixture, on random mixtures and points; files, fingerprints, sampling and validation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import ClassConditionalGMM
from sandbox.experiments.verification import relative_error

from .strategies import points, sigmas, structured_mixtures

D = torch.float64
TOL = 1e-10


def dense(gmm: ClassConditionalGMM) -> ClassConditionalGMM:
    """The same mixture through the full-covariance path."""
    return ClassConditionalGMM(gmm.means, gmm.dense_covs(), gmm.weights, gmm.class_probs)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["diag", "spherical"]), data=st.data(), sigma=sigmas, seed=st.integers(0, 1000),
       w=st.floats(0.0, 6.0))
def test_structured_paths_agree_with_the_full_path(kind, data, sigma, seed, w):
    gmm = data.draw(structured_mixtures(kind))
    full = dense(gmm)
    x = points(full, sigma, 40, seed)
    c = seed % gmm.num_classes
    # every public quantity, relative per point (floored near zeros, as everywhere in the suite)
    pairs = [(gmm.score(x, sigma), full.score(x, sigma)),
             (gmm.score(x, sigma, c), full.score(x, sigma, c)),
             (gmm.cfg_score(x, sigma, c, w), full.cfg_score(x, sigma, c, w)),
             (gmm.denoise(x, sigma, c), full.denoise(x, sigma, c)),
             (gmm.class_scores(x, sigma).flatten(1), full.class_scores(x, sigma).flatten(1)),
             (gmm.class_posterior(x, sigma), full.class_posterior(x, sigma))]
    for got, want in pairs:
        assert relative_error(got, want) <= TOL
    lp, lp_full = gmm.log_prob(x, sigma), full.log_prob(x, sigma)
    assert float((lp - lp_full).abs().max()) <= TOL * max(1.0, float(lp_full.abs().max()))
    assert torch.allclose(gmm.component_posterior(x, sigma, c), full.component_posterior(x, sigma, c),
                          rtol=0, atol=1e-12)


def test_per_sample_sigma_and_far_points_stay_exact():
    gmm = ClassConditionalGMM([torch.zeros(2, 3, dtype=D), torch.ones(1, 3, dtype=D)],
                              [torch.tensor([[0.1, 2.0, 0.5], [1.0, 1.0, 1.0]], dtype=D),
                               torch.tensor([[3.0, 0.2, 0.7]], dtype=D)],
                              [torch.tensor([0.3, 0.7], dtype=D), torch.ones(1, dtype=D)], covariance_type="diag")
    x = torch.tensor([[1e3, -2e3, 5e2], [0.1, 0.2, 0.3], [-40.0, 2.0, 1.0]], dtype=D)
    s = torch.tensor([0.0, 0.5, 30.0], dtype=D)
    got, want = gmm.score(x, s), dense(gmm).score(x, s)
    assert torch.isfinite(got).all() and relative_error(got, want) <= TOL


def test_sampling_has_the_right_moments():
    # one spherical component of variance 4 at (1, -1) and one diagonal (0.25, 9) at the origin: 200,000 draws,
    # sample mean sd sqrt(4 / 2e5) = 0.0045 and sqrt(9 / 2e5) = 0.0067; 5 sd tolerances
    n = 200_000
    sph = ClassConditionalGMM([torch.tensor([[1.0, -1.0]], dtype=D)], [torch.tensor([4.0], dtype=D)],
                              [torch.ones(1, dtype=D)], covariance_type="spherical")
    x = sph.sample(n, generator=0)
    assert torch.allclose(x.mean(0), torch.tensor([1.0, -1.0], dtype=D), atol=5 * 0.0045)
    assert torch.allclose(x.var(0), torch.tensor([4.0, 4.0], dtype=D), rtol=0.02)   # sd of var: 4 sqrt(2/n) = 0.013
    diag = ClassConditionalGMM([torch.zeros(1, 2, dtype=D)], [torch.tensor([[0.25, 9.0]], dtype=D)],
                               [torch.ones(1, dtype=D)], covariance_type="diag")
    y = diag.sample(n, generator=1)
    assert float(y.mean(0).abs().max()) < 5 * 0.0067
    assert torch.allclose(y.var(0), torch.tensor([0.25, 9.0], dtype=D), rtol=0.02)


@pytest.mark.parametrize("kind", ["diag", "spherical"])
def test_files_and_fingerprints_keep_the_covariance_type(kind, tmp_path):
    shape = (2, 3) if kind == "diag" else (2,)
    gmm = ClassConditionalGMM([torch.zeros(2, 3, dtype=D)], [torch.full(shape, 0.5, dtype=D)],
                              [torch.tensor([0.5, 0.5], dtype=D)], covariance_type=kind, name="mine")
    back = ClassConditionalGMM.load(gmm.save(tmp_path / "m.json"))
    assert back == gmm and back.covariance_type == kind and back.fingerprint == gmm.fingerprint
    assert dense(gmm).fingerprint != gmm.fingerprint        # same law, another parametrisation
    assert gmm.to(torch.float32).covariance_type == kind
    assert gmm.dense_covs()[0].shape == (2, 3, 3)


@pytest.mark.parametrize(("kind", "covs", "message"), [
    ("spherical", [torch.ones(2, 3, dtype=D)], r"must have shape \(2,\) for covariance_type 'spherical'"),
    ("diag", [torch.ones(2, dtype=D)], r"must have shape \(2, 3\) for covariance_type 'diag'"),
    ("diag", [torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]], dtype=D)], "must hold variances > 0"),
    ("spherical", [torch.tensor([1.0, float("nan")], dtype=D)], "must be finite"),
    ("banded", [torch.ones(2, dtype=D)], "covariance_type must be one of"),
])
def test_bad_structured_covariances_are_refused(kind, covs, message):
    with pytest.raises(ValueError, match=message):
        ClassConditionalGMM([torch.zeros(2, 3, dtype=D)], covs, [torch.tensor([0.5, 0.5], dtype=D)],
                            covariance_type=kind)


def test_every_consumer_reads_structured_covariances():
    # the per-axis variances and dense matrices that the rest of the package reads, for each type
    from sandbox.learn.training import TrainConfig, model_config
    sph = ClassConditionalGMM([torch.zeros(1, 2, dtype=D), torch.ones(1, 2, dtype=D)],
                              [torch.tensor([0.5], dtype=D), torch.tensor([2.0], dtype=D)],
                              [torch.ones(1, dtype=D)] * 2, covariance_type="spherical")
    assert torch.equal(sph.component_variances()[1], torch.tensor([[2.0, 2.0]], dtype=D))
    # sigma_data^2 = mean over axes of Var[x_i] = 0.5 (0.5 + 2) + Var of the means (0.25) = 1.5
    assert model_config(sph, TrainConfig(mixture=sph)).sigma_data == pytest.approx(1.5 ** 0.5, rel=1e-14)
    assert relative_error(dense(sph).component_variances()[0], sph.component_variances()[0]) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ["diag", "spherical"])
def test_structured_paths_on_a_gpu_match_the_cpu(kind):
    shape = (3, 4) if kind == "diag" else (3,)
    gmm = ClassConditionalGMM([torch.randn(3, 4, dtype=D, generator=torch.Generator().manual_seed(0))],
                              [torch.full(shape, 0.7, dtype=D)], [torch.full((3,), 1 / 3, dtype=D)],
                              covariance_type=kind)
    x = gmm.sample(100, sigma=0.3, generator=1)
    on_gpu = gmm.to("cuda")
    assert relative_error(on_gpu.score(x.cuda(), 0.3).cpu(), gmm.score(x, 0.3)) <= 1e-12
