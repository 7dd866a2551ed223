"""Notebook 08's explorer and mixture drawer, without a browser: their numbers by independent routes (Tweedie's
formula for the guided denoiser, the chi-square law for the overshoot, scipy's ODE solver for the guided path), and
what the mouse does, by synthesised matplotlib events on the Agg canvas (the same events ipympl forwards).

The browser test (tests/test_notebook_browser.py) runs the same notebook in JupyterLab.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.backend_bases import MouseEvent
from scipy import integrate, stats

from sandbox import ClassConditionalGMM, cli, zoo
from sandbox.experiments.explainer import guided_path, posterior_view
from sandbox.viz.explorer import Explorer, MixtureDrawer


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _mouse(fig, kind: str, ax, xy, button: int = 1) -> None:
    """A mouse event at data point ``xy`` of ``ax``, processed as the canvas would (ipympl forwards the same)."""
    px, py = ax.transData.transform(xy)
    MouseEvent(kind, fig.canvas, px, py, button=button)._process()


def test_the_guided_denoiser_is_tweedie_on_the_cfg_score_and_the_posterior_means_are_the_denoisers():
    gmm = zoo.get("overlap_2d")
    x = torch.tensor([[0.3, 0.2], [-1.0, 0.5], [2.0, -1.0]], dtype=torch.float64)
    sigma = torch.tensor([0.2, 0.7, 3.0], dtype=torch.float64)
    view = posterior_view(gmm, x, sigma, c=1, w=2.5)
    d_c, d_u, d_w = view.denoisers.unbind(1)
    torch.testing.assert_close(d_c, gmm.denoise(x, sigma, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(d_u, gmm.denoise(x, sigma), rtol=0, atol=1e-12)
    # D_w(x) = x + sigma^2 s_w(x): the denoiser of the guided score, through the score route (cfg_score)
    torch.testing.assert_close(d_w, x + sigma[:, None] ** 2 * gmm.cfg_score(x, sigma, 1, 2.5), rtol=0, atol=1e-12)
    torch.testing.assert_close(view.class_prob, gmm.class_posterior(x, sigma)[:, 1], rtol=0, atol=1e-15)
    assert view.log_post is None and view.draws is None and view.overshoot is None


def test_overshoot_is_the_chi_square_mass_inside_the_ellipse_through_d_w():
    # class 0 is one Gaussian N(0, S): its posterior is N(m, P) and the mass denser than a point y is the chi-square(2)
    # CDF of the Mahalanobis distance^2 of y; 20000 draws give a binomial sd <= 0.0036, tolerance 5 sd = 0.018.
    cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    gmm = ClassConditionalGMM([np.zeros((1, 2)), np.array([[2.0, 1.0]])], [cov[None], np.eye(2)[None]],
                              [np.ones(1), np.ones(1)])
    x = torch.tensor([[1.0, 0.6]], dtype=torch.float64)
    for w in (0.0, 0.4, 1.0, 3.0):
        view = posterior_view(gmm, x, 0.8, c=0, w=w, draws=20000, generator=7)
        post = gmm.posterior(x, 0.8, 0)
        m, p = post.means[0, 0].numpy(), post.covs[0, 0].numpy()
        delta = view.denoisers[0, 2].numpy() - m
        exact = stats.chi2.cdf(delta @ np.linalg.solve(p, delta), df=2)
        assert abs(float(view.overshoot[0]) - exact) < 0.018, (w, float(view.overshoot[0]), exact)
    assert float(posterior_view(gmm, x, 0.8, 0, 0.0, draws=500, generator=0).overshoot[0]) == 0.0  # D_c is the peak


def test_guided_path_converges_to_scipys_solution_of_the_probability_flow_ode_at_second_order():
    gmm = zoo.get("overlap_2d")
    x0, sigma, w = np.array([0.6, 0.2]), 5.0, 3.0

    def drift(s, x):       # dx/dsigma = -sigma s_w(x, sigma)
        score = gmm.cfg_score(torch.tensor(x[None]), torch.tensor([s], dtype=torch.float64), 0, w)
        return -s * score[0].numpy()

    sigmas, _ = guided_path(gmm, x0, sigma, 0, w, steps=64)
    exact = integrate.solve_ivp(drift, (sigma, float(sigmas[-1])), x0, rtol=1e-11, atol=1e-11).y[:, -1]
    errors = []
    for steps in (128, 256):
        sigmas, states = guided_path(gmm, torch.tensor(x0), sigma, 0, w, steps=steps)
        assert math.isclose(float(sigmas[0]), sigma, rel_tol=1e-12) and torch.equal(states[0], torch.tensor(x0))
        assert bool((sigmas.diff() < 0).all()) and math.isclose(float(sigmas[-1]), 0.02, rel_tol=1e-12)
        errors.append(np.abs(states[-1].numpy() - exact).max())
    # Heun is second order: halving the step divides the error by ~4 (3 allows for the pre-asymptotic regime)
    assert errors[1] < 1e-4 and errors[1] < errors[0] / 3, errors


def test_pressing_and_dragging_move_x_t_and_the_drawing_follows():
    gmm = zoo.get("overlap_2d")
    explorer = Explorer(gmm, c=0, w=3.0, sigma=0.5, draws=50, grid=40)
    seen = []
    explorer.listeners.append(lambda e: seen.append(e.summary()))
    before = [a for a in explorer._artists]
    _mouse(explorer.figure, "button_press_event", explorer.ax, (1.0, 0.5))
    torch.testing.assert_close(explorer.x, torch.tensor([1.0, 0.5], dtype=torch.float64), rtol=0, atol=1e-9)
    assert not set(map(id, before)) & set(map(id, explorer._artists))      # every state-dependent artist redrawn
    _mouse(explorer.figure, "motion_notify_event", explorer.ax, (-0.5, 1.5))
    _mouse(explorer.figure, "button_release_event", explorer.ax, (-0.5, 1.5))
    _mouse(explorer.figure, "motion_notify_event", explorer.ax, (2.0, 2.0))  # no button held: no move
    torch.testing.assert_close(explorer.x, torch.tensor([-0.5, 1.5], dtype=torch.float64), rtol=0, atol=1e-9)
    assert len(seen) == 3 and "x_t = (-0.5000, 1.5000)" in seen[-1]       # press, motion, release
    # the read-out carries the API's numbers at that point
    x = explorer.x[None]
    d_w = gmm.denoise(x, 0.5, 0) + 3.0 * (gmm.denoise(x, 0.5, 0) - gmm.denoise(x, 0.5))
    assert f"D_w = ({d_w[0, 0]:.4f}, {d_w[0, 1]:.4f})" in seen[-1]
    assert f"P(c | x_t) = {float(gmm.class_posterior(x, 0.5)[0, 0]):.4f}" in seen[-1]
    # a press outside the axes (on the title) moves nothing
    MouseEvent("button_press_event", explorer.figure.canvas, 2, 2, button=1)._process()
    assert len(seen) == 3
    # motion events dropped by the front end (ipympl drops them while it draws): the release says where it ended
    _mouse(explorer.figure, "button_press_event", explorer.ax, (0.0, 0.0))
    _mouse(explorer.figure, "button_release_event", explorer.ax, (1.5, -1.0))
    torch.testing.assert_close(explorer.x, torch.tensor([1.5, -1.0], dtype=torch.float64), rtol=0, atol=1e-9)


def test_sliders_and_the_path_change_the_state_and_what_is_drawn():
    gmm = zoo.get("overlap_2d")
    explorer = Explorer(gmm, draws=50, grid=40)
    title = explorer.ax.get_title()
    explorer.set_w(6.0)
    explorer.set_sigma(0.1)
    explorer.set_class(2)
    assert explorer.ax.get_title() != title and "w = 6" in explorer.summary() and "c = 2" in explorer.summary()
    frames = explorer.trajectory(steps=12)
    sigmas, states = explorer.path
    assert frames == 12 and math.isclose(float(sigmas[0]), 0.1, rel_tol=1e-12)
    explorer.follow(7)
    assert explorer.sigma == float(sigmas[7]) and torch.equal(explorer.x, states[7])
    line = explorer._artists[-1]
    assert len(line.get_xdata()) == 8                                       # the path so far, x_t first
    explorer.set_w(1.0)
    assert explorer.path is None                                            # a path belongs to its w


@pytest.mark.parametrize("bad, match", [
    (dict(sigma=0.0), "sigma must be > 0"), (dict(c=3), "c must be a class"), (dict(x=(1.0,)), "x must be a finite"),
    (dict(x=(1.0, float("nan"))), "x must be a finite"), (dict(w=-1.0), "w must be"), (dict(draws=0), "draws"),
])
def test_explorer_refuses_bad_settings_by_name(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Explorer(zoo.get("overlap_2d"), **{"draws": 10, "grid": 16, **bad})


def test_explorer_and_drawer_need_a_2d_mixture_and_a_path_to_follow():
    with pytest.raises(ValueError, match="2-D"):
        Explorer(zoo.get("crowded_4d"))
    with pytest.raises(ValueError, match="2-D"):
        MixtureDrawer(start=zoo.get("crowded_4d"))
    with pytest.raises(ValueError, match="no path"):
        Explorer(zoo.get("overlap_2d"), draws=10, grid=16).follow(0)
    with pytest.raises(ValueError, match="sigma > sigma_min"):
        guided_path(zoo.get("overlap_2d"), (0.0, 0.0), 0.01, 0, 1.0)


def test_drawing_a_mixture_with_the_mouse_and_saving_a_file_every_command_takes(tmp_path):
    drawer = MixtureDrawer(extent=(-4, 4, -4, 4), width=0.5)
    fig, ax = drawer.figure, drawer.ax
    # press on the empty plane and drag: a component of class 0 whose long axis runs to the pointer
    _mouse(fig, "button_press_event", ax, (1.0, 0.5))
    _mouse(fig, "motion_notify_event", ax, (2.5, 2.5))
    _mouse(fig, "button_release_event", ax, (2.5, 2.5))
    k, mean, cov, _ = drawer.components[0]
    lam, vec = np.linalg.eigh(cov)
    # the drag (1.5, 2.0) has length 2.5: sds 2.5 along it and 0.5 (width) across it
    np.testing.assert_allclose(np.sqrt(lam), [0.5, 2.5], rtol=1e-12)
    np.testing.assert_allclose(abs(vec[:, 1] @ [0.6, 0.8]), 1.0, rtol=1e-12)
    assert k == 0
    np.testing.assert_allclose(mean, [1.0, 0.5], atol=1e-9)
    # class 1: two round components; then move the first by pressing on its centre
    drawer.current_class = 1
    for xy in ((-1.0, -1.0), (-2.0, 1.0)):
        _mouse(fig, "button_press_event", ax, xy)
        _mouse(fig, "button_release_event", ax, xy)
    _mouse(fig, "button_press_event", ax, (-1.0, -1.0))
    _mouse(fig, "motion_notify_event", ax, (-1.5, -2.0))
    _mouse(fig, "button_release_event", ax, (-1.5, -2.0))
    np.testing.assert_allclose(drawer.components[1][1], [-1.5, -2.0], atol=1e-9)
    assert len(drawer.components) == 3
    # a right-click on a centre removes it; elsewhere it does nothing
    _mouse(fig, "button_press_event", ax, (-2.0, 1.0), button=3)
    _mouse(fig, "button_press_event", ax, (3.0, -3.0), button=3)
    assert [c for c, *_ in drawer.components] == [0, 1]
    path = drawer.save(tmp_path / "mine.json")
    mine = ClassConditionalGMM.load(path)
    assert mine.name == "mine" and mine.num_classes == 2
    torch.testing.assert_close(mine.class_probs, torch.tensor([0.5, 0.5], dtype=torch.float64))
    torch.testing.assert_close(mine.dense_covs()[0][0], torch.tensor(cov), rtol=0, atol=0)
    # every command takes it: the explainer page, for one
    assert cli.main(["explain", "--mixture", str(path), "--out", str(tmp_path / "page.html")]) == 0


def test_a_started_drawing_is_the_same_mixture_and_gaps_in_the_classes_are_refused():
    gmm = zoo.get("overlap_2d")
    again = MixtureDrawer(start=gmm).mixture()
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    torch.testing.assert_close(again.log_prob_per_class(x, 0.3), gmm.log_prob_per_class(x, 0.3), rtol=1e-12,
                               atol=0)
    torch.testing.assert_close(again.class_probs, gmm.class_probs, rtol=1e-14, atol=0)
    drawer = MixtureDrawer()
    with pytest.raises(ValueError, match="no components"):
        drawer.mixture()
    drawer.add((0.0, 0.0), c=0)
    drawer.add((1.0, 0.0), c=2)
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no component"):
        drawer.mixture()
    with pytest.raises(ValueError, match="mean must be a finite point"):
        drawer.add((0.0, float("inf")))
