"""The 2024-2026 guidance rules of the vocabulary (ICG, guidance_rescale, w(sigma) schedules, FBG, linear CFG), each
against an independent computation of its definition: autograd of the class log-densities, the rescale written as
diffusers writes it on noise predictions, quadrature of the schedules, FBG's scale from the two densities, and the
linear approximation from single-Gaussian mixtures of the same moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from sandbox import ClassConditionalGMM, conventions, frames, methods, metrics, zoo
from sandbox.experiments.verification import relative_error
from sandbox.methods.guidance import SCHEDULES, class_moments, guidance_weight, schedule_time

from .strategies import mixtures, points

D = torch.float64
PROPERTY = settings(max_examples=15, deadline=None)
NEW = ("icg", "cfg-rescale", "cfg-schedule", "fbg", "linear-cfg")


@st.composite
def cases(draw, min_dim: int = 1):
    gmm = draw(mixtures(max_dim=3, max_classes=4, max_components=3).filter(
        lambda g: g.num_classes >= 2 and g.dim >= min_dim))
    sigma, w = draw(st.floats(0.05, 5.0)), draw(st.floats(0.1, 8.0))
    x = points(gmm, sigma, 32, draw(st.integers(0, 1000)))
    return gmm, draw(st.integers(0, gmm.num_classes - 1)), x, torch.full((x.shape[0],), sigma, dtype=D), w


def _autograd_class_scores(gmm: ClassConditionalGMM, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``grad_x log p_sigma(x | k)`` for every class by autograd of the log-densities: ``(N, K, d)``."""
    out = []
    for k in range(gmm.num_classes):
        y = x.detach().requires_grad_(True)
        out.append(torch.autograd.grad(gmm.log_prob(y, s, k).sum(), y)[0])
    return torch.stack(out, 1)


@PROPERTY
@given(case=cases())
def test_icg_guides_with_a_random_label_and_its_expectation(case):
    gmm, c, x, s, w = case
    scores = _autograd_class_scores(gmm, x, s)
    s_c = scores[:, c]
    # the paper's rule: a label k ~ pi per row and call, drawn from the seed's stream (here redrawn independently)
    k = torch.multinomial(gmm.class_probs, x.shape[0], replacement=True, generator=torch.Generator().manual_seed(5))
    icg = methods.field("icg", gmm, c, w=w, seed=5)(x, s)
    assert relative_error(icg, s_c + w * (s_c - scores[torch.arange(x.shape[0]), k])) <= 1e-10
    # its expectation: the guide sum_k pi_k s_k
    guide = torch.einsum("k,nkd->nd", gmm.class_probs, scores)
    assert relative_error(methods.field("icg", gmm, c, w=w, label="expected")(x, s), s_c + w * (s_c - guide)) <= 1e-10


def test_random_label_icg_averages_to_its_expectation():
    # one point repeated 20,000 times: the mean of the random-label field is the expected field, to within
    # 5 standard errors per coordinate (a bug in the labels' law moves it by O(1) standard deviations of s_k)
    gmm = zoo.get("crowded_4d")
    x = points(gmm, 0.7, 1, 3).repeat(20_000, 1)
    s = torch.full((20_000,), 0.7, dtype=D)
    draws = methods.field("icg", gmm, 0, w=2.0)(x, s)
    expected = methods.field("icg", gmm, 0, w=2.0, label="expected")(x[:1], s[:1])[0]
    assert bool(((draws.mean(0) - expected).abs() <= 5 * draws.std(0) / math.sqrt(20_000) + 1e-12).all())
    # each call draws afresh; a new field (a new sampling run) starts the stream again
    field = methods.field("icg", gmm, 0, w=2.0)
    first, second = field(x[:64], s[:64]), field(x[:64], s[:64])
    assert not torch.equal(first, second) and torch.equal(methods.field("icg", gmm, 0, w=2.0)(x[:64], s[:64]), first)


def test_icgs_gap_to_cfg_is_zero_exactly_when_the_unconditional_score_is_the_prior_average():
    x = torch.linspace(-3, 3, 41, dtype=D)[:, None].repeat(1, 2) * torch.tensor([1.0, -0.5], dtype=D)
    s = torch.full((41,), 0.7, dtype=D)
    # classes with the same distribution: P(k | x) = pi_k everywhere, so s_u = sum_k pi_k s_k and ICG is CFG
    same = [np.array([[0.0, 0.0], [1.5, 1.0]])] * 2
    alike = ClassConditionalGMM(same, [np.stack([np.eye(2), 0.3 * np.eye(2)])] * 2, [np.array([0.3, 0.7])] * 2,
                                [0.2, 0.8])
    gap = methods.field("icg", alike, 0, w=3.0, label="expected")(x, s) - alike.cfg_score(x, s, 0, 3.0)
    assert float(gap.abs().max()) <= 1e-12
    # overlap_2d: the classes differ, P(k | x) is not pi_k and the gap is w (s_u - sum_k pi_k s_k), far from zero
    gmm = zoo.get("overlap_2d")
    icg, cfg = methods.field("icg", gmm, 0, w=3.0, label="expected")(x, s), gmm.cfg_score(x, s, 0, 3.0)
    expected = 3.0 * (gmm.score(x, s) - torch.einsum("k,nkd->nd", gmm.class_probs, gmm.class_scores(x, s)))
    assert relative_error(icg, cfg + expected) <= 1e-12 and float((icg - cfg).norm(dim=1).max()) > 0.5


@PROPERTY
@given(case=cases(min_dim=2), phi=st.floats(0.0, 1.0))
def test_guidance_rescale_is_diffusers_rule_on_the_models_predictions(case, phi):
    gmm, c, x, s, w = case
    # as diffusers writes it, on whatever the model predicts: its paper's v (v = alpha_t eps - sigma_t x0, written
    # here from alpha_t = 1 / sqrt(1 + sigma^2), sigma_t = sigma alpha_t) and the noise eps = -sigma s;
    # guidance_scale = 1 + w, std over the sample's coordinates (ddof = 1)
    sigma = s[:, None]
    alpha_t = 1.0 / torch.sqrt(1.0 + sigma**2)
    eps_of = {"eps": lambda score: -sigma * score,
              "v": lambda score: alpha_t * (-sigma * score) - sigma * alpha_t * (x + sigma**2 * score)}
    score_of = {"eps": lambda pred: -pred / sigma,
                "v": lambda pred: (pred / (sigma * alpha_t) + x) / -(1.0 + sigma**2)}
    for frame in ("v", "eps"):
        pred_c, pred_u = (eps_of[frame](gmm.score(x, s, k)).numpy() for k in (c, None))
        noise_cfg = pred_u + conventions.from_w(w, "s") * (pred_c - pred_u)
        rescaled = noise_cfg * pred_c.std(axis=1, ddof=1, keepdims=True) / noise_cfg.std(axis=1, ddof=1,
                                                                                          keepdims=True)
        expected = score_of[frame](torch.from_numpy(phi * rescaled + (1.0 - phi) * noise_cfg))
        got = methods.field("cfg-rescale", gmm, c, w=w, phi=phi, **({} if frame == "v" else {"frame": frame}))(x, s)
        assert relative_error(got, expected) <= 1e-9, frame


def test_rescale_matches_the_conditional_spread_and_phi_zero_is_cfg():
    gmm, x = zoo.get("crowded_4d"), points(zoo.get("crowded_4d"), 1.0, 64, 3)
    s = torch.full((64,), 1.0, dtype=D)
    # phi = 1 matches the std of the prediction it rescales, row by row: v (its paper's) or the score itself
    v = frames.get("v")
    full = methods.field("cfg-rescale", gmm, 1, w=4.0, phi=1.0)(x, s)
    torch.testing.assert_close(v.predict(full, x, s).std(dim=1), v.predict(gmm.score(x, s, 1), x, s).std(dim=1),
                               rtol=1e-12, atol=0)
    on_scores = methods.field("cfg-rescale", gmm, 1, w=4.0, phi=1.0, frame="score")(x, s)
    torch.testing.assert_close(on_scores.std(dim=1), gmm.score(x, s, 1).std(dim=1), rtol=1e-12, atol=0)
    assert relative_error(methods.field("cfg-rescale", gmm, 1, w=4.0, phi=0.0)(x, s), gmm.cfg_score(x, s, 1, 4.0)) \
        <= 1e-12
    with pytest.raises(ValueError, match="needs data of dimension >= 2, got d = 1"):
        methods.field("cfg-rescale", zoo.get("teaching_1d"), 0, w=1.0)
    assert "cfg-rescale" not in methods.names(experiment="atlas", dim=1)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_rising_schedules_average_to_w_over_log_sigma(schedule):
    # t runs over [0, 1] uniformly in log sigma; the mean of w(t) is w (quadrature, to 1e-10)
    lo, hi, w = 0.002, 80.0, 3.0

    def weight(t: float) -> float:
        return float(guidance_weight(schedule, w, torch.tensor([lo * (hi / lo) ** t], dtype=D), lo, hi)[0])

    mean, _ = integrate.quad(weight, 0.0, 1.0, epsabs=1e-13)
    assert abs(mean - w) <= 1e-10
    assert weight(1.0) == pytest.approx(0.0, abs=1e-12) and weight(0.0) == pytest.approx(2 * w, rel=1e-12)


def test_schedules_run_in_their_papers_time():
    # Wang et al. 2024 schedule over t / T, the sampler's DDPM timestep: at the i-th timestep's sigma of Stable
    # Diffusion's scaled-linear schedule (alphas_cumprod, independently from its betas), t / T = i / 999 and the
    # linear schedule is 2 w (1 - i / 999)
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2
    abar = np.cumprod(1 - betas)
    i = np.array([0, 1, 250, 500, 998, 999])
    sig = torch.from_numpy(np.sqrt((1 - abar[i]) / abar[i]))
    torch.testing.assert_close(schedule_time("ddpm", sig), torch.from_numpy(i / 999), rtol=0, atol=1e-9)
    torch.testing.assert_close(guidance_weight("linear", 3.0, sig, 0.002, 80.0, time="ddpm"),
                               torch.from_numpy(6.0 * (1 - i / 999)), rtol=0, atol=1e-8)
    assert methods.get("cfg-schedule").params["time"] == "ddpm"
    # beyond the schedule's sigmas the time is clipped; flow time is sigma / (1 + sigma)
    assert schedule_time("ddpm", torch.tensor([1e-4, 1e3], dtype=D)).tolist() == [0.0, 1.0]
    torch.testing.assert_close(schedule_time("flow", sig), sig / (1 + sig), rtol=0, atol=0)
    with pytest.raises(ValueError, match="time must be one of"):
        schedule_time("steps", sig)


def test_schedule_shapes_and_the_window_with_a_negative_scale():
    lo, hi = 0.002, 80.0
    sig = torch.tensor([80.0, 10.0, 1.0, 0.1, 0.002], dtype=D)
    t = torch.log(sig / lo) / math.log(hi / lo)
    assert torch.equal(guidance_weight("constant", 2.0, sig, lo, hi), torch.full((5,), 2.0, dtype=D))
    torch.testing.assert_close(guidance_weight("exponential", 2.0, sig, lo, hi, decay=1.5),
                               2.0 * torch.exp(-1.5 * (1 - t)), rtol=1e-14, atol=0)
    window = guidance_weight("window", 2.0, sig, lo, hi, sigma_lo=0.28, sigma_hi=5.42, w_out=-0.5)
    assert window.tolist() == [-0.5, -0.5, 2.0, -0.5, -0.5]
    with pytest.raises(ValueError, match="schedule must be one of"):
        guidance_weight("step", 1.0, sig, lo, hi)


@PROPERTY
@given(case=cases(), schedule=st.sampled_from(SCHEDULES))
def test_a_scheduled_field_is_cfg_at_each_rows_own_scale(case, schedule):
    gmm, c, x, s, w = case
    s = s * torch.logspace(-1, 1, x.shape[0], dtype=D)                            # every row its own sigma
    field = methods.field("cfg-schedule", gmm, c, w=w, schedule=schedule)(x, s)
    p = methods.get("cfg-schedule").bind(w=w, schedule=schedule)
    scale = guidance_weight(schedule, w, s, p["sigma_min"], p["sigma_max"], p["decay"], p["sigma_lo"],
                            p["sigma_hi"], p["w_out"], time=p["time"])
    s_c, s_u = gmm.score(x, s, c), gmm.score(x, s)
    assert relative_error(field, s_c + scale[:, None] * (s_c - s_u)) <= 1e-12
    with pytest.raises(ValueError, match=r"schedule of method 'cfg-schedule' must be one of \['constant'"):
        methods.field("cfg-schedule", gmm, c, w=w, schedule="step")


@PROPERTY
@given(case=cases(), pi=st.floats(0.05, 0.95))
def test_fbg_scale_undoes_an_additive_corruption_by_the_unconditional(case, pi):
    gmm, c, x, s, w = case
    # the authors' code: lambda = R / (R - (1 - pi)), R = p(x|c) / p(x) from the two densities; w(x) = lambda - 1
    # capped at w (and w where R <= 1 - pi: the correction has no solution)
    big_r = torch.exp(gmm.log_prob(x, s, c) - gmm.log_prob(x, s))
    lam = big_r / (big_r - (1.0 - pi))
    scale = torch.where(big_r > 1.0 - pi, torch.clamp(lam - 1.0, max=w), torch.full_like(big_r, w))
    s_c, s_u = gmm.score(x, s, c), gmm.score(x, s)
    assert relative_error(methods.field("fbg", gmm, c, w=w, pi=pi)(x, s), s_c + scale[:, None] * (s_c - s_u)) <= 1e-10


def test_fbg_guides_little_where_the_class_is_certain_and_up_to_w_where_it_is_not():
    gmm = zoo.get("overlap_2d")
    field = methods.REGISTRY["fbg"].exact(gmm, 0, methods.get("fbg").bind(w=5.0))
    mu0, mu_other = gmm.means[0][0], gmm.means[1][0]
    x = torch.stack([mu0, mu_other])
    small = torch.full((2,), 0.05, dtype=D)
    w_at = field.scale(x, small)
    # at class 0's own mean, P(0 | x) ~ 1 and R = 1 / pi_0 = 3: w = (1 - pi) / (R - (1 - pi)) = 0.05 / 2.95 ~ 0.017;
    # at another class's mean: the cap
    assert 0.0 < float(w_at[0]) < 0.02 and float(w_at[1]) == 5.0
    # the authors' default is pi = 0.95 (their pi is the true conditional's share, the complement of ours before)
    assert methods.get("fbg").params["pi"] == 0.95


@PROPERTY
@given(case=cases())
def test_linear_cfg_is_cfg_on_gaussian_approximations_and_its_terms_add_up(case):
    gmm, c, x, s, w = case
    (mu_c, cov_c), (mu, cov) = class_moments(gmm, c), class_moments(gmm, None)
    # the guidance term from two single-Gaussian "classes" of the same moments, through the mixture code (eigh)
    gaussians = ClassConditionalGMM([mu_c[None], mu[None]], [cov_c[None], cov[None]], [torch.ones(1)] * 2)
    g = gaussians.score(x, s, 0) - gaussians.score(x, s, 1)
    rule = methods.REGISTRY["linear-cfg"].exact(gmm, c, methods.get("linear-cfg").bind(w=w))
    shift, pos, neg = rule.terms(x, s)
    assert relative_error(shift + pos + neg, g) <= 1e-9
    assert float((pos * neg).sum(1).abs().max()) <= 1e-9 * (1 + float(pos.norm() * neg.norm()))  # other eigenspaces
    assert relative_error(rule(x, s), gmm.score(x, s, c) + w * g) <= 1e-9


def test_class_moments_match_draws():
    # 200000 draws: each moment within 5 standard errors
    gmm = zoo.get("crowded_4d")
    x, y = gmm.sample_joint(200_000, generator=11)
    for c in (0, None):
        rows = x if c is None else x[y == c]
        mean, cov = class_moments(gmm, c)
        se = rows.std(0) / math.sqrt(len(rows))
        assert bool(((rows.mean(0) - mean).abs() <= 5 * se).all())
        assert relative_error(torch.cov(rows.T), cov) <= 0.02


def test_every_new_rule_is_registered_once_in_the_atlas_with_its_papers_scale():
    for name in NEW:
        m = methods.get(name)
        assert m.exact is not None and "atlas" in m.experiments and m.strength == "w"
        assert m.scale in conventions.SCALES
    assert {*NEW, "cfg-pp", "gibbs-guidance"} <= set(methods.names(experiment="atlas"))
    assert all(methods.get(m).sample is not None for m in ("cfg-pp", "gibbs-guidance"))
    assert methods.get("cfg-rescale").paper_names == {"phi": "guidance_rescale"}
    with pytest.raises(ValueError, match="choices"):
        methods.Method("bad", "guidance", "bad", "", "w", params={"w": 0.0, "mode": "a"})
    with pytest.raises(ValueError, match="scale must be one of"):
        methods.Method("bad", "guidance", "bad", "", "w", params={"w": 0.0}, scale="gamma")
    with pytest.raises(ValueError, match="paper_names"):
        methods.Method("bad", "guidance", "bad", "", "w", params={"w": 0.0}, paper_names={"eta": "eta"})


def test_x0_overshoot_is_zero_for_the_class_denoiser_and_the_closed_form_for_cfg():
    # class 0 is one Gaussian N(mu, S): p(x0 | x, 0) is N(m, P) with P = sigma^2 S (S + sigma^2 I)^-1
    mu, cov = np.array([1.0, -0.5]), np.array([[0.8, 0.3], [0.3, 0.4]])
    gmm = ClassConditionalGMM([mu[None], np.array([[-1.0, 1.0], [0.5, 2.0]])],
                              [cov[None], np.stack([np.eye(2), 0.5 * np.eye(2)])], [np.ones(1), np.array([0.4, 0.6])])
    sigmas = torch.tensor([2.0, 0.5, 0.0], dtype=D)
    states = torch.randn(6, 3, 2, dtype=D, generator=torch.Generator().manual_seed(5))
    zero = metrics.x0_overshoot(gmm, states, sigmas, 0, lambda x, s: gmm.denoise(x, s, 0))
    assert abs(zero.value) <= 1e-12 and zero.hi - zero.lo <= 1e-12
    w = 2.5
    z = np.zeros((6, 2))
    for i, sigma in enumerate((2.0, 0.5)):                       # sigma = 0 is skipped
        p_cov = sigma**2 * cov @ np.linalg.inv(cov + sigma**2 * np.eye(2))
        for n in range(6):
            x = states[n, i].numpy()
            d_c = mu + cov @ np.linalg.solve(cov + sigma**2 * np.eye(2), x - mu)
            d_u = gmm.denoise(states[n, i][None], sigma)[0].numpy()
            gap = w * (d_c - d_u)                                # D_w - D_c
            z[n, i] = math.sqrt(gap @ np.linalg.solve(p_cov, gap))
    got = metrics.x0_overshoot(gmm, states, sigmas, 0,
                               lambda x, s: x + (s * s)[:, None] * gmm.cfg_score(x, s, 0, w))
    assert abs(got.value - z.mean()) <= 1e-9 * z.mean()
    with pytest.raises(ValueError, match="sigmas must"):
        metrics.x0_overshoot(gmm, states, sigmas[:2], 0, lambda x, s: x)


def test_cfg_pp_is_a_cfg_step_at_a_step_dependent_scale_and_euler_with_one_class():
    from sandbox import samplers
    gmm = zoo.get("overlap_2d")
    x = points(gmm, 2.0, 40, 1)
    sigmas = torch.tensor([2.0, 1.2], dtype=D)
    lam = 0.9
    # one step: r x + (1 - r) D_u + lam (D_c - D_u), r = sigma_1 / sigma_0, is an Euler CFG step at
    # w' = lam / (1 - r) - 1 (here 0.9 / 0.4 - 1 = 1.25)
    r = 1.2 / 2.0
    euler = samplers.euler_ode(methods.field("cfg", gmm, 2, w=lam / (1 - r) - 1), x, sigmas)
    assert relative_error(methods.sample("cfg-pp", gmm, 2, x, sigmas, w=lam), euler) <= 1e-12
    # with one class s_c = s_u: the denoising and renoising agree and CFG++ is the Euler (DDIM) ODE sampler
    one = ClassConditionalGMM([gmm.means[0]], [gmm.dense_covs()[0]], [gmm.weights[0]])
    grid = torch.tensor([5.0, 2.0, 0.7, 0.1, 0.0], dtype=D)
    y = one.sample(30, c=0, sigma=5.0, generator=2)
    for lam in (0.3, 1.0, 2.0):
        assert relative_error(methods.sample("cfg-pp", one, 0, y, grid, w=lam),
                              samplers.euler_ode(methods.field("dsm", one, 0), y, grid)) <= 1e-12


def test_gibbs_guidance_is_its_rounds_by_hand_and_keeps_the_class_law_at_w_zero():
    from sandbox import samplers
    from sandbox.core.schedules import edm_sigmas
    from sandbox.methods.tilted import TiltedTarget
    gmm = zoo.get("teaching_1d")
    start = gmm.sample(500, c=1, sigma=80.0, generator=3)
    grid = edm_sigmas(24, 0.002, 80.0)
    got = methods.sample("gibbs-guidance", gmm, 1, start, grid, seed=9, w=2.0, sigma_star=0.5, rounds=2.0,
                         steps=8.0)
    # by hand: the conditional ODE, then two rounds of noise (one generator, seed 9) and the CFG ODE back to 0
    x = samplers.heun_ode(methods.field("cfg", gmm, 1, w=0.0), start, grid)
    g = torch.Generator().manual_seed(9)
    round_grid = edm_sigmas(8, 0.002, 0.5)
    for _ in range(2):
        x = samplers.heun_ode(methods.field("cfg", gmm, 1, w=2.0), x + 0.5 * torch.randn(x.shape, dtype=D,
                                                                                           generator=g), round_grid)
    assert relative_error(got, x) <= 1e-12
    # at w = 0 each round transports p_sigma*(.|c) back to p(.|c): the class law is kept (KS, level 1e-3; 4000
    # samples detect a CDF gap of ~0.03 with power near 1)
    kept = methods.sample("gibbs-guidance", gmm, 1, gmm.sample(4000, c=1, sigma=80.0, generator=4), grid, seed=5,
                          w=0.0, steps=32.0)
    assert metrics.ks_distance(kept, TiltedTarget(gmm, 1, 0.0).cdf_1d).p_value > 1e-3
    with pytest.raises(ValueError, match="rounds of method 'gibbs-guidance' must be a whole number"):
        methods.sample("gibbs-guidance", gmm, 1, start, grid, w=1.0, rounds=1.5)
    with pytest.raises(ValueError, match="is not a sampler"):
        methods.sample("cfg", gmm, 1, start, grid, w=1.0)


def test_atlas_variants_are_rows_of_their_own_and_a_default_variant_is_the_default_row():
    from sandbox import separation
    base = separation.SweepConfig(mixture="overlap_2d", methods=("cfg", "apg", "cfg-schedule"), ws=(2.0,), n=200,
                                  steps=8, fidelity=False, to_cfg=True,
                                  variants=(("apg", (("eta", 0.0),)), ("apg", (("eta", 1.0),)),
                                            ("cfg-schedule", (("schedule", "window"), ("w_out", -1.0)))))
    rows = separation.sweep(base, progress=False)
    labels = [r.label for r in rows]
    assert labels == ["cfg", "apg", "cfg-schedule", "apg (eta=0)", "apg (eta=1)",
                      "cfg-schedule (schedule=window, w_out=-1)"]
    by = dict(zip(labels, rows))
    # eta = 0 is APG's default: the same samples, so the same numbers; eta = 1 is CFG (the same field, same starts)
    for key in ("mean_posterior", "entropy", "x0_overshoot"):
        assert by["apg (eta=0)"].metrics[key] == by["apg"].metrics[key]
        assert by["apg (eta=1)"].metrics[key].value == pytest.approx(by["cfg"].metrics[key].value, rel=1e-9)
    assert [r.label for r in separation.defaults(rows)] == ["cfg", "apg", "cfg-schedule"]
    again = separation.Row.from_dict(by["apg (eta=1)"].as_dict())
    assert again.params == {"eta": 1.0} and again.label == "apg (eta=1)"
    with pytest.raises(ValueError, match="variants name 'mclr'"):                      # of strength lam
        separation.SweepConfig(methods=("cfg", "mclr"), variants=(("mclr", (("lam", 1.0),)),))
    with pytest.raises(ValueError, match="variants name 'apg'"):                       # not among the methods
        separation.SweepConfig(methods=("cfg",), variants=(("apg", (("eta", 1.0),)),))
    with pytest.raises(ValueError, match="schedule of method 'cfg-schedule' must be one of"):
        separation.SweepConfig(methods=("cfg-schedule",), variants=(("cfg-schedule", (("schedule", "step"),)),))


def test_the_full_atlas_sweeps_every_rules_declared_variants_and_the_best_trade_off_is_the_pareto_front():
    from sandbox import separation
    from sandbox.viz.figures import pareto
    full, fast = separation.SweepConfig.atlas(), separation.SweepConfig.atlas(fast=True)
    declared = [(m, tuple(v.items())) for m in full.methods for v in methods.get(m).sweep]
    assert full.variants == tuple(declared) and fast.variants == ()
    assert {"apg", "cfg-zero-star", "autoguidance", "cfg-rescale", "cfg-schedule"} <= {m for m, _ in declared}
    assert ("cfg-schedule", (("schedule", "window"), ("w_out", -1.0))) in declared      # a negative window
    # (separation, entropy): (0.5, 3) and (0.7, 2) are both best; (0.6, 1.5) is beaten by (0.7, 2)
    assert pareto([(0.5, 3.0), (0.6, 1.5), (0.7, 2.0), (0.4, 2.5)]) == [0, 2]
    with pytest.raises(ValueError, match="each variant of sweep must set parameters other than the strength"):
        methods.Method("bad", "guidance", "bad", "", "w", params={"w": 0.0, "eta": 0.0}, sweep=({"w": 1.0},))


@PROPERTY
@given(case=cases(min_dim=2))
def test_tcfg_damps_the_unconditional_prediction_to_the_first_singular_direction(case):
    gmm, c, x, s, w = case
    eps = frames.get("eps")
    p_c, p_u = (eps.predict(gmm.score(x, s, k), x, s) for k in (c, None))
    # the paper's construction, by SVD (an independent route from the rule's 2 x 2 eigenproblem)
    v1 = torch.linalg.svd(torch.stack([p_c, p_u], 1), full_matrices=False).Vh[:, 0]          # (N, d)
    damped = (p_u * v1).sum(1, keepdim=True) * v1
    expected = eps.score(p_c + w * (p_c - damped), x, s)
    got = methods.field("tcfg", gmm, c, w=w)(x, s)
    assert relative_error(got, expected) <= 1e-9
    # the noise prediction is -sigma times the score: one rule in both frames
    assert relative_error(methods.field("tcfg", gmm, c, w=w, frame="score")(x, s), got) <= 1e-9


def test_tcfg_is_cfg_where_the_two_predictions_are_parallel_and_refuses_one_dimension():
    from sandbox.methods.guidance import TangentialCFG

    # p_u = -p_c / 2 is parallel to p_c, so nothing is damped and TCFG is CFG
    def cond(x, sigma):
        return torch.tensor([[2.0, -4.0]], dtype=D)

    def uncond(x, sigma):
        return torch.tensor([[-1.0, 2.0]], dtype=D)

    x, s = torch.zeros(1, 2, dtype=D), torch.ones(1, dtype=D)
    got = TangentialCFG(cond, uncond, w=3.0, frame="score")(x, s)
    # s_c + 3 (s_c - s_u) = (2, -4) + 3 (3, -6) = (11, -22)
    torch.testing.assert_close(got, torch.tensor([[11.0, -22.0]], dtype=D), rtol=1e-14, atol=0)
    # orthogonal predictions of different lengths: v_1 is p_c's direction, p_u' = 0, so p = (1 + w) p_c
    ortho = TangentialCFG(lambda x, sg: torch.tensor([[3.0, 0.0]], dtype=D),
                          lambda x, sg: torch.tensor([[0.0, 1.0]], dtype=D), w=2.0, frame="score")(x, s)
    torch.testing.assert_close(ortho, torch.tensor([[9.0, 0.0]], dtype=D), rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="needs data of dimension >= 2"):
        methods.field("tcfg", zoo.get("teaching_1d"), 0, w=1.0)


@PROPERTY
@given(case=cases())
def test_mambo_g_damps_the_strength_by_the_relative_size_of_the_update(case):
    gmm, c, x, s, w = case
    flow = frames.get("flow")
    v_c, v_u = (flow.predict(gmm.score(x, s, k), x, s).numpy() for k in (c, None))
    # the paper's scale 1 + (s_max - 1) exp(-alpha r) on v_u + scale (v_c - v_u), s_max = 1 + w, written in numpy
    ratio = np.linalg.norm(v_c - v_u, axis=1, keepdims=True) / np.linalg.norm(v_u, axis=1, keepdims=True)
    guided = v_u + (1.0 + w * np.exp(-3.0 * ratio)) * (v_c - v_u)
    got = methods.field("mambo-g", gmm, c, w=w, alpha=3.0)(x, s)
    assert relative_error(got, flow.score(torch.from_numpy(guided), x, s)) <= 1e-9
    # alpha = 0 leaves the scale at 1 + w: CFG, in any frame (CFG is linear)
    assert relative_error(methods.field("mambo-g", gmm, c, w=w, alpha=0.0)(x, s), gmm.cfg_score(x, s, c, w)) <= 1e-9
