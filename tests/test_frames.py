"""Frames (sandbox/core/frames.py): exact round trips, the predictions against their definitions, rules that are
linear in the predictions are the same in every frame, and the rules with a nonlinear step are not."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import frames, methods, samplers, zoo
from sandbox.core.schedules import edm_sigmas
from sandbox.experiments.verification import relative_error

from .strategies import mixtures, points

PROPERTY = settings(max_examples=20, deadline=None)
D = torch.float64
NAMES = frames.NAMES


def _case(gmm, sigma: float, n: int = 64, seed: int = 0):
    return points(gmm, sigma, n, seed), torch.full((n,), sigma, dtype=D)


@PROPERTY
@given(gmm=mixtures(), sigma=st.floats(0.01, 50.0), seed=st.integers(0, 100))
def test_every_conversion_round_trips_to_1e12(gmm, sigma, seed):
    y, s = _case(gmm, sigma, 32, seed)
    score = gmm.score(y, s, 0)
    for name in NAMES:
        frame = frames.get(name)
        # to 1e-12 of the larger of the prediction's two terms (a s and b y): undoing p = a s + b y cancels b y
        scale = float((score.abs() + (frame.b(s[:, None]) / frame.a(s[:, None])).abs() * y.abs()).max())
        assert _gap(frame.score(frame.predict(score, y, s), y, s), score) <= 1e-12 * scale, name
        assert relative_error(frame.ve_state(frame.state(y, s), s), y) <= 1e-14, name
        assert relative_error(frame.sigma_of(frame.time(s[:, None])), s[:, None]) <= 1e-12, name
        # a model of the frame, called in its own state and time, and back to a VE field
        model = frame.model(lambda y, sigma: gmm.score(y, sigma, 0))
        assert _gap(frame.field(model)(y, s), score) <= 1e-12 * scale, name
        for other in map(frames.get, NAMES):
            there = frames.convert(frame.predict(score, y, s), name, other.name, y, s)
            assert _gap(there, other.predict(score, y, s)) <= 1e-12 * scale * float(other.a(s[:1, None]).abs()), \
                (name, other.name)


def _gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def test_predictions_are_their_definitions():
    gmm = zoo.get("overlap_2d")
    y, s = _case(gmm, 0.7)
    sigma, score, denoised = 0.7, gmm.score(y, s, 1), gmm.denoise(y, s, 1)
    eps = (y - denoised) / sigma                                       # E[eps | y] from y = x0 + sigma eps
    alpha_t, sigma_t = 1 / math.sqrt(1 + sigma**2), sigma / math.sqrt(1 + sigma**2)
    expected = {"score": score, "x0": denoised, "eps": eps, "v": alpha_t * eps - sigma_t * denoised,
                "flow": eps - denoised}
    for name, value in expected.items():
        assert relative_error(frames.get(name).predict(score, y, s), value) <= 1e-12, name
    # states: VP x = alpha_t y (alpha_t^2 + sigma_t^2 = 1), flow x_t = (1 - t) y with t = sigma / (1 + sigma)
    t = sigma / (1 + sigma)
    assert relative_error(frames.get("v").state(y, s), alpha_t * y) <= 1e-15
    assert relative_error(frames.get("flow").state(y, s), (1 - t) * y) <= 1e-15
    assert float(frames.get("flow").time(s[:1, None])) == pytest.approx(t, rel=1e-15)


def test_the_flow_velocity_is_the_time_derivative_of_the_flow_state():
    # along an exact path of the probability-flow ODE, d x_t / dt = v (central differences of a fine Heun path)
    gmm = zoo.get("crowded_4d")
    sigma, h, flow = 1.0, 1e-4, frames.get("flow")
    ahead = points(gmm, sigma + h, 16, 4)
    field = lambda y, s: gmm.score(y, s, 0)                            # noqa: E731
    y0 = samplers.heun_ode(field, ahead, torch.linspace(sigma + h, sigma, 5, dtype=D))
    back = samplers.heun_ode(field, y0, torch.linspace(sigma, sigma - h, 5, dtype=D))
    t = lambda s: s / (1 + s)                                          # noqa: E731
    derivative = (flow.state(ahead, sigma + h) - flow.state(back, sigma - h)) / (t(sigma + h) - t(sigma - h))
    assert relative_error(derivative, flow.predict(field(y0, torch.full((16,), sigma, dtype=D)), y0, sigma)) <= 1e-7


def test_discrete_vp_schedules_map_to_their_known_sigmas():
    # Stable Diffusion's scaled-linear schedule ends at sigma ~ 14.61 (k-diffusion's sigma_max for SD), DDPM's
    # linear one at ~ 157.4; the cosine one's betas are capped at 0.999
    assert float(frames.timestep_sigmas(frames.alphas_cumprod("scaled_linear"))[-1]) == pytest.approx(14.6146, rel=1e-4)
    assert float(frames.timestep_sigmas(frames.alphas_cumprod("linear"))[-1]) == pytest.approx(157.4, rel=1e-3)
    cosine = frames.alphas_cumprod("squaredcos_cap_v2")
    assert bool((cosine.diff() < 0).all()) and float(1 - cosine[-1] / cosine[-2]) == pytest.approx(0.999)
    with pytest.raises(ValueError, match="schedule must be one of"):
        frames.alphas_cumprod("sigmoid")
    with pytest.raises(ValueError, match="frame must be one of"):
        frames.get("edm")
    with pytest.raises(ValueError, match="sigma must be > 0"):
        frames.get("flow").score(torch.zeros(2, 2, dtype=D), torch.zeros(2, 2, dtype=D), 0.0)


# rules linear in the predictions, each as weights on component score fields that sum to 1
def _linear_rules(gmm, c: int, w: float):
    gauss = methods.field("linear-cfg", gmm, c, w=1.0)
    return {
        "cfg": ({}, [(1 + w, lambda y, s: gmm.score(y, s, c)), (-w, lambda y, s: gmm.score(y, s))]),
        "icg": ({"label": "expected"}, [(1 + w, lambda y, s: gmm.score(y, s, c)),
                     (-w, lambda y, s: torch.einsum("k,nkd->nd", gmm.class_probs, gmm.class_scores(y, s)))]),
        "autoguidance": ({"kappa": 0.5}, [(1 + w, lambda y, s: gmm.score(y, s, c)),
                                          (-w, lambda y, s: gmm.score(y, torch.sqrt(s * s + 0.25), c))]),
        "classifier-guidance": ({}, [(1 + w, lambda y, s: gmm.score(y, s, c)), (-w, lambda y, s: gmm.score(y, s))]),
        # the Gaussian guidance term g = s^G_c - s^G_u as the difference of linear-cfg at w = 1 and s_c
        "linear-cfg": ({}, [(1.0, lambda y, s: gmm.score(y, s, c)), (w, lambda y, s: gauss(y, s)),
                            (-w, lambda y, s: gmm.score(y, s, c))]),
    }


@PROPERTY
@given(gmm=mixtures(), sigma=st.floats(0.05, 20.0), w=st.floats(0.0, 6.0))
def test_rules_linear_in_the_predictions_are_the_same_field_in_every_frame(gmm, sigma, w):
    y, s = _case(gmm, sigma, 24, 1)
    for name, (params, terms) in _linear_rules(gmm, 0, w).items():
        expected = methods.field(name, gmm, 0, w=w, **params)(y, s)
        for frame in map(frames.get, NAMES):
            combined = sum(weight * frame.predict(field(y, s), y, s) for weight, field in terms)
            assert relative_error(frame.score(combined, y, s), expected) <= 1e-9, (name, frame.name)
    # interval guidance: inside its window CFG, outside the conditional prediction, whatever the frame
    inside = 0.28 <= sigma <= 5.42
    for frame in map(frames.get, NAMES):
        p_c, p_u = (frame.predict(gmm.score(y, s, k), y, s) for k in (0, None))
        guided = frame.score(p_c + (w if inside else 0.0) * (p_c - p_u), y, s)
        assert relative_error(guided, methods.field("cfg-interval", gmm, 0, w=w)(y, s)) <= 1e-9, frame.name


def test_a_frame_model_samples_the_same_path():
    # CFG applied to the predictions of a frame model, integrated back in VE: the same Heun path to 1e-9
    gmm = zoo.get("crowded_4d")
    start, grid = gmm.sample(64, c=0, sigma=80.0, generator=2), edm_sigmas(16)
    reference = samplers.heun_ode(methods.field("cfg", gmm, 0, w=2.0), start, grid)
    for frame in map(frames.get, NAMES):
        model_c, model_u = (frame.model(lambda y, s, k=k: gmm.score(y, s, k)) for k in (0, None))
        guided = frame.field(lambda x, t, c=model_c, u=model_u: 3.0 * c(x, t) - 2.0 * u(x, t))
        assert relative_error(samplers.heun_ode(guided, start, grid), reference) <= 1e-9, frame.name


def test_rules_with_a_nonlinear_step_change_with_the_frame():
    gmm = zoo.get("crowded_4d")
    y, s = _case(gmm, 0.3, 256, 5)
    for name in ("cfg-zero-star", "cfg-rescale", "apg"):
        method = methods.get(name)
        native = methods.field(name, gmm, 0, w=2.0)(y, s)
        assert method.params["frame"] == method.frame
        for other in NAMES:
            moved = relative_error(methods.field(name, gmm, 0, w=2.0, frame=other)(y, s), native)
            assert (moved == 0.0) if other == method.frame else (moved > 1e-3), (name, other, moved)
    # the rules without a frame parameter are linear (or sampler-level): none of them takes one
    with pytest.raises(ValueError, match="takes parameters"):
        methods.field("cfg", gmm, 0, w=1.0, frame="flow")


def test_the_cfg_zero_star_alpha_of_the_issue():
    # crowded_4d, class 0, sigma = 0.3: alpha's median on flow velocities 0.66, on scores 1.16 (issue 29's numbers)
    gmm = zoo.get("crowded_4d")
    y = gmm.sample(4000, c=0, sigma=0.3, generator=0)
    s = torch.full((4000,), 0.3, dtype=D)
    medians = {}
    for name in ("flow", "score"):
        frame = frames.get(name)
        v_c, v_u = (frame.predict(gmm.score(y, s, k), y, s) for k in (0, None))
        medians[name] = float(((v_c * v_u).sum(1) / v_u.square().sum(1)).median())
    assert medians["flow"] == pytest.approx(0.66, abs=0.05) and medians["score"] == pytest.approx(1.16, abs=0.05)


def test_flow_euler_holds_x_t_fixed_under_zero_velocity_and_converges():
    gmm = zoo.get("overlap_2d")
    start, grid = gmm.sample(128, c=0, sigma=80.0, generator=1), edm_sigmas(8, 2.0, 80.0, append_zero=False)
    zeroed = methods.field("cfg-zero-star", gmm, 0, w=2.0, sigma_zero=1.0)
    end = samplers.flow_euler(zeroed, start, grid)
    flow = frames.get("flow")
    assert relative_error(flow.state(end, 2.0), flow.state(start, 80.0)) <= 1e-12
    # first order: doubling the steps halves the error to a fine Heun reference
    field = methods.field("cfg", gmm, 0, w=1.0)
    reference = samplers.heun_ode(field, start, edm_sigmas(512))
    errors = [relative_error(samplers.flow_euler(field, start, edm_sigmas(n)), reference) for n in (32, 64, 128)]
    assert 1.6 < errors[0] / errors[1] < 2.5 and 1.6 < errors[1] / errors[2] < 2.5, errors


def test_cfg_pp_is_its_papers_ddim_step():
    # CFG++ (Chung et al. 2024) in DDIM's VP frame: x' = sqrt(abar') x0_lam + sqrt(1 - abar') eps_u, with
    # x0_lam = D_u + lam (D_c - D_u) and eps_u = (x / sqrt(abar) - D_u) / sigma; the sandbox steps in VE states
    gmm = zoo.get("overlap_2d")
    sigma, after, lam = 1.3, 0.6, 0.4
    y = gmm.sample(64, c=1, sigma=sigma, generator=3)
    abar, abar_next = 1 / (1 + sigma**2), 1 / (1 + after**2)
    d_c, d_u = gmm.denoise(y, sigma, 1), gmm.denoise(y, sigma)
    x = math.sqrt(abar) * y                                            # the VP state
    eps_u = (x / math.sqrt(abar) - d_u) / sigma
    x_next = math.sqrt(abar_next) * (d_u + lam * (d_c - d_u)) + math.sqrt(1 - abar_next) * eps_u
    got = methods.sample("cfg-pp", gmm, 1, y, torch.tensor([sigma, after], dtype=D), w=lam)
    assert relative_error(got, x_next / math.sqrt(abar_next)) <= 1e-12
    assert methods.get("cfg-pp").frame == "eps"


def test_every_method_states_its_papers_frame_and_a_frame_parameter_defaults_to_it():
    for name in methods.names():
        method = methods.get(name)
        assert method.frame in NAMES, name
        if method.kind == "guidance":
            assert method.cite, name                                   # the reference, where it is registered
        if "frame" in method.params:
            assert method.params["frame"] == method.frame and method.choices["frame"] == NAMES
    base = methods.get("cfg-zero-star")
    with pytest.raises(ValueError, match="frame must be one of"):
        methods.Method("x", "guidance", "x", "x", "w", params={"w": 0.0}, frame="edm")
    with pytest.raises(ValueError, match="whose default is the paper's frame 'flow'"):
        methods.Method("x", "guidance", "x", "x", "w", params={**base.params, "frame": "score"},
                       choices={"frame": NAMES}, frame="flow")
    with pytest.raises(ValueError, match=r"frame of method 'apg' must be one of"):
        methods.field("apg", zoo.get("overlap_2d"), 0, w=1.0, frame="edm")


def test_the_command_line_applies_a_rule_in_another_frame(tmp_path):
    from sandbox import cli
    out = tmp_path / "score.json"
    assert cli.main(["separation", "--fast", "--mixture", "overlap_2d", "--methods", "cfg-zero-star", "--quiet",
                     "--param", "cfg-zero-star.frame=score", "--param", "cfg-zero-star.sigma_zero=0",
                     "--json", str(out)]) == 0
    import json
    config = json.loads(out.read_text())["config"]
    assert [list(p) for p in config["method_params"]] == [["cfg-zero-star", "frame", "score"],
                                                           ["cfg-zero-star", "sigma_zero", 0.0]]
    assert cli.main(["separation", "--fast", "--methods", "cfg-zero-star", "--param", "cfg-zero-star.frame=edm"]) == 2
    assert cli.main(["separation", "--fast", "--methods", "apg", "--param", "apg.eta=x"]) == 2
    assert cli.main(["separation", "--fast", "--methods", "apg", "--param", "apg=0.5"]) == 2


def test_a_sweep_samples_each_rule_with_its_papers_sampler():
    from dataclasses import replace

    from sandbox import separation
    assert samplers.native("flow") is samplers.flow_euler and samplers.native("eps") is samplers.euler_ode
    assert samplers.native("x0") is samplers.heun_ode
    base = separation.SweepConfig(mixture="overlap_2d", methods=("cfg-zero-star", "apg"), ws=(2.0,), lams=(0.5,),
                                  n=64, steps=8, fidelity=False)
    heun = {r.method: r for r in separation.sweep(base)}
    paper = {r.method: r for r in separation.sweep(replace(base, sampler="paper"))}
    # CFG-Zero*'s paper steps rectified flow: another sampler, other samples; APG's (EDM) is Heun: the same
    key = "mean_posterior"
    assert paper["cfg-zero-star"].metrics[key].value != heun["cfg-zero-star"].metrics[key].value
    assert paper["apg"].metrics[key].value == heun["apg"].metrics[key].value
    with pytest.raises(ValueError, match="sampler must be one of"):
        replace(base, sampler="dpm")
