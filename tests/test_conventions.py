"""Guidance scales and field forms: every conversion against the guided score it names, on the exact mixture."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import conventions, zoo

GMM = zoo.overlap_2d()
X = GMM.sample(64, sigma=0.7, generator=0)
SIGMA = 0.7


def guided(gamma: float) -> torch.Tensor:
    """``s_u + gamma (s_c - s_u)`` for class 1: the score every scale names."""
    s_c, s_u = GMM.score(X, SIGMA, 1), GMM.score(X, SIGMA)
    return s_u + gamma * (s_c - s_u)


@pytest.mark.parametrize("scale, value, gamma", [("w", 2.0, 3.0), ("s", 3.0, 3.0), ("beta", 1 / 3, 3.0),
                                                 ("w_mg", 2 / 3, 3.0), ("s", 1.0, 1.0), ("beta", 1.0, 1.0)])
def test_each_scale_names_the_same_guided_score(scale, value, gamma):
    w = conventions.to_w(value, scale)
    # the CFG score at w = to_w(value) is s_u + gamma (s_c - s_u) with gamma as each paper defines it
    assert torch.allclose(GMM.cfg_score(X, SIGMA, 1, w), guided(gamma), rtol=1e-10, atol=1e-10)


@settings(max_examples=50, deadline=None)
@given(w=st.floats(0.0, 1e3), source=st.sampled_from(conventions.SCALES), target=st.sampled_from(conventions.SCALES))
def test_conversions_round_trip(w, source, target):
    value = conventions.from_w(w, source)
    assert conventions.to_w(value, source) == pytest.approx(w, rel=1e-12, abs=1e-12)
    there = conventions.convert(value, source, target)
    assert conventions.convert(there, target, source) == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_out_of_range_scales_are_refused():
    with pytest.raises(ValueError, match="no fixed point for w_mg >= 1"):
        conventions.to_w(1.0, "w_mg")
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        conventions.to_w(0.0, "beta")
    with pytest.raises(ValueError, match="s must be a finite number >= 1"):
        conventions.to_w(0.5, "s")
    with pytest.raises(ValueError, match="scale must be one of"):
        conventions.to_w(1.0, "gamma")
