"""Bad input raises ValueError/TypeError naming the parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sandbox import ClassConditionalGMM, overlap_2d

GOOD = {
    "means": [np.zeros((1, 2)), np.ones((2, 2))],
    "covs": [np.eye(2)[None], np.stack([np.eye(2), 2 * np.eye(2)])],
    "weights": [[1.0], [0.5, 0.5]],
}


def build(**changes):
    return ClassConditionalGMM(**{**GOOD, **changes})


@pytest.mark.parametrize(
    ("changes", "error", "pattern"),
    [
        ({"covs": [np.array([[[1.0, 0.5], [0.4, 1.0]]]), GOOD["covs"][1]]}, ValueError, r"covs\[0\]\[0\].*symmetric"),
        ({"covs": [np.array([[[1.0, 2.0], [2.0, 1.0]]]), GOOD["covs"][1]]}, ValueError, r"covs\[0\].*definite"),
        ({"covs": [np.zeros((1, 2, 2)), GOOD["covs"][1]]}, ValueError, r"covs\[0\].*positive definite"),
        ({"covs": [np.eye(2), GOOD["covs"][1]]}, ValueError, r"covs\[0\] must have shape \(1, 2, 2\)"),
        ({"covs": [np.full((1, 2, 2), np.nan), GOOD["covs"][1]]}, ValueError, r"finite"),
        ({"means": [np.zeros(2), GOOD["means"][1]]}, ValueError, r"means\[0\] must have shape"),
        ({"means": [GOOD["means"][0], np.zeros((2, 3))]}, ValueError, r"means\[1\] must have dimension d = 2"),
        ({"means": GOOD["means"][:1]}, ValueError, r"one entry per class"),
        ({"means": []}, ValueError, r"means must hold at least one class"),
        ({"means": "abc"}, TypeError, r"means must be a sequence"),
        ({"weights": [[1.0], [0.7, 0.5]]}, ValueError, r"weights\[1\] must sum to 1"),
        ({"weights": [[1.0], [1.5, -0.5]]}, ValueError, r"weights\[1\] must be finite and > 0"),
        ({"weights": [[1.0], [1.0]]}, ValueError, r"weights\[1\] must have shape \(2,\)"),
        ({"class_probs": [0.2, 0.2]}, ValueError, r"class_probs must sum to 1"),
        ({"class_probs": [1.0, 0.0]}, ValueError, r"class_probs must be finite and > 0"),
        ({"class_probs": [0.2, 0.3, 0.5]}, ValueError, r"class_probs must have shape \(2,\)"),
        ({"dtype": torch.int64}, TypeError, r"dtype must be a floating"),
    ],
)
def test_bad_construction(changes, error, pattern):
    with pytest.raises(error, match=pattern):
        build(**changes)


@pytest.fixture
def gmm():
    return overlap_2d()


def x3(n=4):
    return torch.zeros(n, 2, dtype=torch.float64)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda g: g.score(np.zeros((4, 2)), 0.1), TypeError, r"x must be a torch.Tensor"),
        (lambda g: g.score(torch.zeros(4, 3, dtype=torch.float64), 0.1), ValueError, r"x must have shape \(N, 2\)"),
        (lambda g: g.score(torch.zeros(4, 2), 0.1), TypeError, r"x must have dtype torch.float64"),
        (lambda g: g.score(torch.full((4, 2), math.nan, dtype=torch.float64), 0.1), ValueError, r"x must be finite"),
        (lambda g: g.score(x3(), -0.1), ValueError, r"sigma must be a finite number >= 0"),
        (lambda g: g.score(x3(), math.nan), ValueError, r"sigma must be a finite number"),
        (lambda g: g.score(x3(), math.inf), ValueError, r"sigma must be a finite number"),
        (lambda g: g.score(x3(), torch.tensor([0.1, -1.0, 0.1, 0.1], dtype=torch.float64)), ValueError,
         r"sigma must be finite and >= 0"),
        (lambda g: g.score(x3(), torch.ones(3, dtype=torch.float64)), ValueError, r"sigma must be .* shape \(4,\)"),
        (lambda g: g.score(x3(), torch.ones(4, dtype=torch.float32)), TypeError, r"sigma must have dtype"),
        (lambda g: g.score(x3(), "0.1"), TypeError, r"sigma must be a float"),
        (lambda g: g.score(x3(), 0.1, 3), ValueError, r"c must be a class id in \[0, 3\)"),
        (lambda g: g.score(x3(), 0.1, -1), ValueError, r"c must be a class id"),
        (lambda g: g.score(x3(), 0.1, torch.tensor([0, 1, 2, 5])), ValueError, r"c must hold class ids"),
        (lambda g: g.score(x3(), 0.1, torch.tensor([0.0, 1.0, 2.0, 1.0])), TypeError, r"c must be an integer tensor"),
        (lambda g: g.score(x3(), 0.1, 1.0), TypeError, r"c must be an int"),
        (lambda g: g.score(x3(), 0.1, True), TypeError, r"c must be an int"),
        (lambda g: g.cfg_score(x3(), 0.1, None, 1.0), ValueError, r"c must be a class id"),
        (lambda g: g.cfg_score(x3(), 0.1, 0, -1.0), ValueError, r"w must be a finite number >= 0"),
        (lambda g: g.cfg_score(x3(), 0.1, 0, math.nan), ValueError, r"w must be a finite number"),
        (lambda g: g.sample(-1), ValueError, r"n must be a non-negative int"),
        (lambda g: g.sample(3, c=7), ValueError, r"c must be a class id"),
        (lambda g: g.sample(3, generator="seed"), TypeError, r"generator must be"),
        (lambda g: g.sample(3, sigma=-1.0), ValueError, r"sigma must be"),
    ],
)
def test_bad_call(gmm, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(gmm)


def test_device_mismatch_is_named():
    gmm = overlap_2d()
    x = torch.zeros(2, 2, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match=r"x must be on device cpu"):
        gmm.score(x, 0.1)


def test_float32_weights_are_accepted_and_renormalised_exactly():
    gmm = build(weights=[[1.0], torch.tensor([0.3, 0.7], dtype=torch.float32)])
    assert float(gmm.weights[1].sum()) == 1.0


def test_callables_and_containers_are_checked_by_name():
    # what used to fail inside Python ('NoneType' object is not callable, 'tuple' has no append, '<' between
    # int and str) is now an error naming the parameter and what was expected
    import torch

    from sandbox import edm_sigmas, metrics, objectives, samplers, theory, zoo
    gmm = zoo.overlap_2d()
    x = gmm.sample(8, c=0, generator=0)
    eps = torch.randn_like(x)
    cases = [
        (lambda: objectives.weighted_mclr_loss(lambda x, s, c: x, x, eps, 1.0, 0, torch.ones(8, dtype=torch.long),
                                               1.0, None, 3), "posterior_fn must be a callable"),
        (lambda: samplers.heun_ode(None, x, edm_sigmas(4)), "score must be a callable"),
        (lambda: samplers.predictor_corrector(lambda x, s: x, None, x, edm_sigmas(4)), "corrector must be a callable"),
        (lambda: metrics.ks_distance(x[:, :1], None), "cdf must be a callable"),
        (lambda: theory.minimiser(None, x, 1.0, 0, "dsm"), "gmm must be a ClassConditionalGMM"),
        (lambda: objectives.dsm_loss(lambda x, s, c: x, x, eps, 1.0, 0, "3"), "num_classes must be an int"),
        (lambda: samplers.heun_ode(lambda x, s: x, x, edm_sigmas(4), callback=()), "callback must be"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()
