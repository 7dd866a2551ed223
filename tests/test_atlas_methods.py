"""Inference-time guidance rules and training-time optima of the method vocabulary, each against its definition
and the exact CFG score it reduces to, on random mixtures (the closed-form part of the guidance atlas)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import conventions, guidance, methods, samplers, verification, zoo
from sandbox.experiments.verification import relative_error

from .strategies import mixtures, points

D = torch.float64
PROPERTY = settings(max_examples=20, deadline=None)


def _setting(gmm, sigma: float, seed: int):
    x = points(gmm, sigma, 48, seed)
    return x, torch.full((x.shape[0],), sigma, dtype=D)


@st.composite
def guided_cases(draw, min_w: float = 0.0):
    """A random mixture with K >= 2, a class, points near and far, a noise level and a guidance scale."""
    gmm = draw(mixtures(max_dim=3, max_classes=4, max_components=3).filter(lambda g: g.num_classes >= 2))
    sigma, w = draw(st.floats(0.05, 5.0)), draw(st.floats(min_w, 8.0))
    x, s = _setting(gmm, sigma, draw(st.integers(0, 1000)))
    return gmm, draw(st.integers(0, gmm.num_classes - 1)), x, s, sigma, w


@PROPERTY
@given(case=guided_cases())
def test_training_time_optima_and_classifier_guidance_are_cfg(case):
    gmm, c, x, s, _, w = case
    cfg = gmm.cfg_score(x, s, c, w)
    # every method registered as having CFG's exact field (Method.same_as, what the figures rely on) has it
    same = [name for name in methods.names() if methods.get(name).same_as == "cfg"]
    assert {"gft", "model-guidance", "weighted-mclr", "classifier-guidance"} <= set(same)
    for name in same:
        assert relative_error(methods.field(name, gmm, c, w=w)(x, s), cfg) <= 1e-10, name


@PROPERTY
@given(case=guided_cases(min_w=0.1))
def test_apg_and_cfg_zero_star_reduce_to_cfg_and_keep_their_geometry(case):
    gmm, c, x, s, sigma, w = case
    cfg = gmm.cfg_score(x, s, c, w)
    # APG with eta = 1, no rescaling, no momentum is CFG (CFG is linear, the same in denoiser form)
    assert relative_error(methods.field("apg", gmm, c, w=w, eta=1.0)(x, s), cfg) <= 1e-9
    # with eta = 0 the guidance added to D_c is orthogonal to D_c, row by row
    d_c = gmm.denoise(x, s, c)
    d_apg = x + sigma**2 * methods.field("apg", gmm, c, w=w)(x, s)
    added = d_apg - d_c
    dot = (added * d_c).sum(1).abs()
    # in 1D every vector is parallel to D_c, so nothing is added (up to rounding at the scale of D_c and x)
    scale = (d_c.norm(dim=1) + x.norm(dim=1)) ** 2 + 1.0
    assert bool((dot <= 1e-9 * added.norm(dim=1) * d_c.norm(dim=1) + 1e-12 * scale).all())
    # CFG-Zero* in its paper's frame, computed independently: rectified-flow velocities v = eps_hat - D =
    # -x - sigma (1 + sigma) s (x the VE state), the optimised scale, and back to the score that integrates v
    v_c, v_u = (-x - sigma * (1 + sigma) * gmm.score(x, s, field) for field in (c, None))
    alpha = (v_c * v_u).sum(1, keepdim=True) / (v_u * v_u).sum(1, keepdim=True)
    v = alpha * v_u + (1 + w) * (v_c - alpha * v_u)
    assert relative_error(methods.field("cfg-zero-star", gmm, c, w=w)(x, s), -(v + x) / (sigma * (1 + sigma))) \
        <= 1e-9
    # on scores (frame "score", the velocity -sigma s of the VE ODE: alpha is scale-free, so the same rule on s)
    s_c, s_u = gmm.score(x, s, c), gmm.score(x, s)
    alpha = (s_c * s_u).sum(1, keepdim=True) / (s_u * s_u).sum(1, keepdim=True)
    assert relative_error(methods.field("cfg-zero-star", gmm, c, w=w, frame="score")(x, s),
                          alpha * s_u + (1 + w) * (s_c - alpha * s_u)) <= 1e-10


def test_cfg_zero_star_is_cfg_for_one_class_and_holds_the_flow_state_when_zeroed():
    one = zoo.gaussian_classes([0.5], [0.7])
    x, s = _setting(one, 1.0, 0)
    assert torch.allclose(methods.field("cfg-zero-star", one, 0, w=3.0)(x, s), one.score(x, s, 0), rtol=1e-12)
    gmm = zoo.overlap_2d()
    x, s = _setting(gmm, 2.0, 1)
    # a zero velocity keeps x_t = x / (1 + sigma) fixed: the VE score -x / (sigma (1 + sigma)), here 2 * 3 = 6
    zeroed = methods.field("cfg-zero-star", gmm, 0, w=3.0, sigma_zero=1.5)(x, s)
    assert torch.allclose(zeroed, -x / 6.0, rtol=1e-14, atol=0)
    # in the score frame a zero prediction is s = 0; above sigma_zero the rule is not zeroed
    assert float(methods.field("cfg-zero-star", gmm, 0, w=3.0, sigma_zero=1.5, frame="score")(x, s).abs().max()) == 0
    assert not torch.allclose(methods.field("cfg-zero-star", gmm, 0, w=3.0, sigma_zero=2.5)(x, s), -x / 6.0)


def test_apg_rescaling_and_momentum():
    gmm = zoo.overlap_2d()
    x, s = _setting(gmm, 1.0, 2)
    d_c, d_u = gmm.denoise(x, s, 0), gmm.denoise(x, s)
    field = methods.field("apg", gmm, 0, w=2.0, eta=1.0, r=0.05)
    added = x + field(x, s) - d_c                     # w * rescaled Delta (sigma = 1)
    assert float(added.norm(dim=1).max()) <= 2.0 * 0.05 * (1 + 1e-12)
    # momentum: the second call adds momentum times the first call's Delta; a new field starts afresh
    field = methods.field("apg", gmm, 0, w=2.0, eta=1.0, momentum=-0.5)
    first, second = field(x, s), field(x, s)
    assert torch.allclose(first, gmm.cfg_score(x, s, 0, 2.0), rtol=1e-10, atol=1e-10)
    expected = d_c + 2.0 * 0.5 * (d_c - d_u) - x      # Delta (1 - 0.5), sigma = 1
    assert torch.allclose(second, expected, rtol=1e-10, atol=1e-10)
    assert torch.allclose(methods.field("apg", gmm, 0, w=2.0, eta=1.0, momentum=-0.5)(x, s), first)


def test_interval_cfg_and_autoguidance():
    gmm = zoo.overlap_2d()
    for sigma, inside in ((0.1, False), (1.0, True), (10.0, False)):
        x, s = _setting(gmm, sigma, 3)
        got = methods.field("cfg-interval", gmm, 1, w=2.0)(x, s)
        want = gmm.cfg_score(x, s, 1, 2.0) if inside else gmm.score(x, s, 1)
        assert relative_error(got, want) <= 1e-12
    x, s = _setting(gmm, 0.5, 4)
    # kappa -> 0: the degraded model is the model itself, so autoguidance adds nothing
    assert relative_error(methods.field("autoguidance", gmm, 1, w=3.0, kappa=1e-12)(x, s), gmm.score(x, s, 1)) < 1e-9
    # the degraded model is the same mixture with covariances + kappa^2 I
    kappa = 0.7
    wider = type(gmm)(gmm.means, [cv + kappa**2 * torch.eye(2, dtype=D) for cv in gmm.covs], gmm.weights,
                      gmm.class_probs)
    want = 4.0 * gmm.score(x, s, 1) - 3.0 * wider.score(x, s, 1)
    assert relative_error(methods.field("autoguidance", gmm, 1, w=3.0, kappa=kappa)(x, s), want) <= 1e-10


def test_model_guidance_iteration_contracts_by_w_and_diverges_beyond_one():
    gmm = zoo.overlap_2d()
    x, s = _setting(gmm, 0.8, 5)
    s_c, s_u = gmm.score(x, s, 2), gmm.score(x, s)
    for w_mg in (0.3, 0.8):
        fixed = gmm.cfg_score(x, s, 2, conventions.to_w(w_mg, "w_mg"))
        errors = [float((it - fixed).norm()) for it in guidance.model_guidance_iterates(s_c, s_u, w_mg, 12)]
        ratios = [b / a for a, b in itertools.pairwise(errors)]
        assert all(abs(r - w_mg) < 1e-6 for r in ratios[:8])          # contraction factor exactly w_mg
    errors = [float((it - s_c).norm()) for it in guidance.model_guidance_iterates(s_c, s_u, 1.5, 12)]
    assert errors[-1] > 50 * errors[1]                                   # no fixed point is reached for w_mg >= 1


@pytest.mark.parametrize("mixture", ["teaching_1d", "overlap_2d"])
def test_every_registered_rule_drives_a_sampler(mixture):
    gmm = zoo.get(mixture)
    sigmas = torch.tensor([5.0, 2.0, 0.5, 0.1, 0.0], dtype=D)
    x0 = gmm.sample(200, c=0, sigma=5.0, generator=0)
    for name in methods.names(dim=gmm.dim):       # every rule defined for the mixture's dimension
        spec = methods.get(name)
        if spec.exact is None:
            continue
        out = samplers.heun_ode(methods.field(name, gmm, 0, **({spec.strength: 1.0} if spec.strength else {})),
                                x0, sigmas)
        assert bool(torch.isfinite(out).all()) and out.shape == x0.shape, name


def test_method_parameters_are_validated():
    gmm = zoo.overlap_2d()
    with pytest.raises(ValueError, match=r"eta of method .apg. must be a finite number >= 0 and <= 1"):
        methods.field("apg", gmm, 0, w=1.0, eta=2.0)
    with pytest.raises(ValueError, match=r"takes parameters \['kappa', 'w'\], got \['eta'\]"):
        methods.field("autoguidance", gmm, 0, eta=1.0)
    with pytest.raises(ValueError, match="sigma_hi"):
        methods.field("cfg-interval", gmm, 0, w=1.0, sigma_lo=3.0, sigma_hi=1.0)
    assert math.isclose(conventions.to_w(0.5, "beta"), 1.0)


def test_gft_and_model_guidance_optima_against_their_sampled_losses():
    # around the claimed optimum (the CFG score) the sampled loss rises by k delta^2 E||h||^2 and has no linear part:
    # simultaneous 99% intervals over 16 cells (2 mixtures x 2 sigmas x 2 objectives x 2 w)
    results = verification.check_training_optima(sigmas=(0.2, 1.0), ws=(0.5, 2.0), n=40_000)
    assert len(results) == 16 and all(r.passed for r in results), [r.setting for r in results if not r.passed]


@pytest.mark.slow
def test_a_wrong_coefficient_in_gft_or_model_guidance_is_rejected():
    # (1 - beta) or w_mg off by 10%: the optimum moves; at sigma = 1, w = 2 every cell detects it (power measured:
    # z from 5 to 14 against the critical 2.9 at n = 100,000)
    results = verification.check_training_optima(sigmas=(1.0,), ws=(2.0,), n=100_000, coefficient_scale=1.1)
    assert len(results) == 4 and not any(r.passed for r in results)


def test_gft_and_model_guidance_losses_by_hand():
    from sandbox import objectives
    x0 = torch.tensor([[0.0, 1.0]], dtype=D)
    eps = torch.tensor([[1.0, -2.0]], dtype=D)
    sigma = 0.5                                              # eps / sigma = (2, -4)

    def score(x, s, c):
        return torch.tensor([[1.0, 1.0]], dtype=D)

    def uncond(x, s):
        return torch.tensor([[3.0, -1.0]], dtype=D)

    # beta = 0.5: 0.5 (1, 1) + 0.5 (3, -1) + (2, -4) = (4, -4): 16 + 16 = 32
    assert float(objectives.gft_loss(score, x0, eps, sigma, 0, 0.5, uncond)[0]) == 32.0
    # target = -(2, -4) + 0.5 (1, 1) = (-1.5, 4.5); s - t = (2.5, -3.5): 6.25 + 12.25 = 18.5
    assert float(objectives.model_guidance_loss(score, x0, eps, sigma, 0, 0.5, score)[0]) == 18.5
    with pytest.raises(ValueError, match=r"beta must lie in \(0, 1\]"):
        objectives.gft_loss(score, x0, eps, sigma, 0, 0.0, uncond)


@pytest.mark.parametrize("w", [0.0, 2.0])
def test_the_data_level_tilt_is_q0_noised_and_not_cfg(w):
    import math as m

    from scipy import integrate

    from sandbox.methods.tilted import TiltedTarget
    gmm = zoo.teaching_1d()
    target = TiltedTarget(gmm, 0, w)
    xs = torch.tensor([[-2.0], [0.1], [0.6], [1.5]], dtype=D)
    for sigma in (0.05, 0.5, 2.0):
        got = methods.field("data-tilt", gmm, 0, w=w)(xs, torch.full((4,), sigma, dtype=D))[:, 0]

        def noised(x: float, sigma: float = sigma) -> float:
            def f(x0: float) -> float:
                log_q = float(target.log_prob(torch.tensor([[x0]], dtype=D))[0])
                return m.exp(log_q - (x - x0) ** 2 / (2 * sigma**2)) / (sigma * m.sqrt(2 * m.pi))
            return integrate.quad(f, -12, 12, points=[-1.5, 0.2, 0.8, 2.0], epsabs=0, epsrel=1e-12, limit=2000)[0]

        # independent route: adaptive quadrature of the convolution, differentiated by central differences
        fd = [(m.log(noised(x + 1e-4)) - m.log(noised(x - 1e-4))) / 2e-4 for x in xs[:, 0].tolist()]
        assert max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(got.tolist(), fd)) < 1e-6
    if w == 0:   # no tilt: the class score itself
        assert torch.allclose(target.score(xs, 0.5), gmm.score(xs, 0.5, 0), rtol=1e-12, atol=1e-12)
    else:        # at sigma = 0 the clean tilted score (1 + w) s_c - w s_u; at sigma > 0 it is not CFG
        assert torch.allclose(target.score(xs, 0.0), gmm.cfg_score(xs, 0.0, 0, w), rtol=1e-12)
        gap = (target.score(xs, 0.5) - gmm.cfg_score(xs, 0.5, 0, w)).norm(dim=1)
        assert float(gap.max()) > 0.1


def test_crowded_4d_is_a_setting_where_exact_cfg_does_not_saturate():
    from sandbox import separation
    config = separation.SweepConfig(mixture="crowded_4d", methods=("cfg",), ws=(2.0, 4.0), n=600, steps=24,
                                    fidelity=False)
    low, high = (r.metrics["bayes_accuracy"] for r in separation.sweep(config, progress=False))
    # separation still grows from w = 2 to w = 4 (intervals apart) and stays clear of 1 (overlap_2d: 0.9999 at w = 2)
    assert high.lo > low.hi and high.hi < 0.98


def test_sweeps_and_samples_take_a_methods_other_parameters():
    from sandbox import cache, separation
    base = separation.SweepConfig(mixture="teaching_1d", methods=("cfg", "apg"), ws=(2.0,), n=300, steps=16,
                                  fidelity=False)
    rows = {r.method: r for r in separation.sweep(replace(base, method_params=(("apg", "eta", 1.0),)))}
    # APG with eta = 1 (and no rescaling or momentum) samples exactly what CFG samples
    assert rows["apg"].metrics["mean_posterior"].value == pytest.approx(rows["cfg"].metrics["mean_posterior"].value,
                                                                        rel=1e-9)
    orthogonal = {r.method: r for r in separation.sweep(base)}
    assert orthogonal["apg"].metrics["mean_posterior"].value != rows["apg"].metrics["mean_posterior"].value
    with pytest.raises(ValueError, match="takes parameters"):
        separation.SweepConfig(methods=("apg",), method_params=(("apg", "kappa", 1.0),))
    with pytest.raises(ValueError, match="not among methods"):
        separation.SweepConfig(methods=("cfg",), method_params=(("apg", "eta", 1.0),))
    a = cache.run(separation.SampleConfig("overlap_2d", "autoguidance", w=1.0, n=50, steps=8, params=(("kappa", 0.2),)))
    b = cache.run(separation.SampleConfig("overlap_2d", "autoguidance", w=1.0, n=50, steps=8, params=(("kappa", 0.9),)))
    assert not torch.equal(a["x"][0], b["x"][0])


def test_atlas_cli_measures_every_method_against_exact_cfg_and_q0(tmp_path, capsys):
    import json

    from sandbox import cli
    out = tmp_path / "atlas.json"
    assert cli.main(["atlas", "--fast", "--quiet", "--exact-only", "--mixture", "teaching_1d", "--json", str(out),
                     "--methods", "cfg", "gft", "model-guidance", "classifier-guidance", "apg", "tilted"]) == 0
    assert "energy distance to CFG" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"exact"}                                # --exact-only: no nets
    rows = {(r["method"], r["w"]): r["metrics"] for r in report["results"]["exact"]["rows"]}
    for w in (1.0, 4.0):
        for name in ("gft", "model-guidance", "classifier-guidance"):   # exact optima of CFG's replacements: CFG
            assert rows[name, w]["score_distance_cfg"]["value"] < 1e-12
            assert abs(rows[name, w]["energy_distance_cfg"]["value"]) < 1e-9
            # ... whose denoiser lands where CFG's does in x0 space
            assert rows[name, w]["x0_overshoot"]["value"] == pytest.approx(rows["cfg", w]["x0_overshoot"]["value"],
                                                                           rel=1e-9)
        assert rows["cfg", w]["x0_overshoot"]["value"] > 0.1                  # D_w is not the posterior mean
        assert "x0_overshoot" not in rows["tilted", w]                         # exact draws: no denoiser
        assert rows["apg", w]["score_distance_cfg"]["value"] > 1e-3      # APG (eta = 0) is another field
        # exact q0 draws are closer to exact q0 than CFG's samples are, at w = 4 clearly
    assert rows["tilted", 4.0]["energy_distance"]["hi"] < rows["cfg", 4.0]["energy_distance"]["lo"]


def test_atlas_takes_several_mixtures_and_seeds(tmp_path, capsys):
    import json

    from sandbox import cli
    out = tmp_path / "two.json"
    assert cli.main(["atlas", "--fast", "--quiet", "--exact-only", "--mixture", "teaching_1d", "two_gaussians_1d",
                     "--methods", "cfg", "tilted", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    names = [m["mixture"]["name"] for m in report["results"]["mixtures"]]
    assert names == ["teaching_1d", "two_gaussians_1d"] and report["mixture"] is None
    one = {(r["method"], r["w"]) for r in report["results"]["mixtures"][0]["exact"]["rows"]}
    assert one == {(m, w) for m in ("cfg", "tilted") for w in (1.0, 4.0)}
    assert set(report["config"]) == set(names)                  # each atlas's own config, by mixture
    assert cli.main(["atlas", "--fast", "--seeds", "-1"]) == 2
    assert "argument --seeds: must be a whole number >= 0, got -1" in capsys.readouterr().err
