"""The fine-tunes' learning curves (sandbox/experiments/learning_curves.py) and what is read from them
(sandbox/experiments/curve_fits.py)."""

from __future__ import annotations

import math

import pytest
import torch

from sandbox import curve_fits, learning_curves, trained_atlas, training


def test_a_power_law_fit_reads_the_budget_where_it_meets_the_yardstick():
    # errors 0.4 at 100 steps and 0.2 at 400: log-log slope -1/2, so rate 0.5 and error = 4 B^-1/2;
    # it meets 0.1 at B = (4 / 0.1)^2 = 1600 (extrapolated), and 0.3 at 400 already (measured, the first at or below)
    f = curve_fits.fit([100, 400], [0.4, 0.2], 0.1)
    assert f.rate == pytest.approx(0.5, rel=1e-12) and f.how == "extrapolated"
    assert f.reach == pytest.approx(1600.0, rel=1e-9)
    assert curve_fits.fit([100, 400], [0.4, 0.2], 0.3) == curve_fits.Fit(pytest.approx(0.5), 0.3, 400.0, "measured")
    # an error that grows with the budget never meets a yardstick below it
    rising = curve_fits.fit([100, 400], [0.2, 0.4], 0.1)
    assert rising.reach is None and rising.how == "never" and rising.rate == pytest.approx(-0.5)
    # errors 0.3, 0.24, 0.25 all above 0.2395, whose least-squares line crosses it inside the budgets: in log-log
    # the points are (0, -1.204), (1, -1.427), (2, -1.386), slope (-1.386 + 1.204) / 2 = -0.0912, intercept
    # -1.339 + 0.0912 = -1.248, so the line is at exp(-1.430) = 0.2393 at B = e^2: read off the line, said so
    crossing = curve_fits.fit([1, math.e, math.e ** 2], [0.3, 0.24, 0.25], 0.2395)
    assert crossing.how == "fitted" and 1.0 < crossing.reach < math.e ** 2
    assert f.says() == "~1.6e+03 (extrapolated)" and rising.says() == "never"
    # read off beyond 100x the largest budget: said to be that far, not given a number (0.4 B^-1/2 = 1e-3 at 1.6e5)
    far = curve_fits.fit([100, 400], [0.04, 0.02], 1e-4)
    assert far.how == "far" and far.says() == "> 100x the budgets"


@pytest.fixture(scope="module")
def fast():
    config = learning_curves.CurvesConfig().fast()
    return config, learning_curves.run(config, progress=False)


def test_every_net_is_measured_at_every_budget_width_and_strength(fast):
    config, result = fast
    rows = result["rows"]
    names = config.nets.methods
    assert set(names) == {"weighted-mclr", "gft", "model-guidance", "data-tilt"}    # no learned classifier
    # per width and seed: the DSM row, and per w one DSM + CFG row and one row per fine-tune and budget
    per_point = 1 + len(config.nets.ws) * (1 + len(names) * len(config.budgets))
    assert len(rows) == per_point * len(config.widths) * len(config.nets.seeds)
    for r in rows:
        if r["method"] in names:
            same = learning_curves.methods.get(r["method"]).same_as == "cfg"
            # an objective whose optimum is CFG: its own error is its error to CFG; the data tilt's is not
            assert (r["own"] == r["cfg"]) if same else (abs(r["own"] - r["cfg"]) > 1e-3), r
    summary = curve_fits.summary(result)
    assert set(curve_fits.fits(result)) == {(config.mixtures[0].name, m, wd, w) for m in names
                                            for wd in config.widths for w in config.nets.ws}
    assert all(half == 0.0 for cell in summary.values() for _, half in cell.values())        # one seed: no spread
    text = curve_fits.table(result)
    assert "meets it at" in text and "within 1.2x at" in text and "data-tilt" in text


def _same(a: training.TrainResult, b: training.TrainResult) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))


def test_a_curves_nets_are_the_atlas_nets_of_each_budget_and_train_once(fast, monkeypatch):
    config, _ = fast                          # the fast curves filled the run's cache with every net
    m, width, seed, name = config.mixtures[0], config.widths[-1], config.nets.seeds[0], "weighted-mclr"
    dsm = trained_atlas.train_net(trained_atlas.Net(config.recipe(m, width, config.budgets[0]), seed, "dsm"))
    unit = learning_curves.Curve(config.recipe(m, width, config.budgets[-1]), seed, name, config.budgets)
    calls = []
    real = training.train_budgets
    monkeypatch.setattr(learning_curves, "train_budgets", lambda *a, **k: calls.append(1) or real(*a, **k))
    curve = learning_curves.train_curve(unit, dsm)
    assert calls == [] and [net.config.steps for net in curve] == list(config.budgets)   # all read from the cache

    def no_training(*args, **kwargs):
        raise AssertionError("the atlas trained a net the curves had cached")
    with monkeypatch.context() as patch:      # the atlas's recipe at each budget finds the curve's entry
        patch.setattr(trained_atlas, "train", no_training)
        for budget, net in zip(config.budgets, curve):
            assert _same(net, trained_atlas.train_net(trained_atlas.Net(config.recipe(m, width, budget), seed, name),
                                                      dsm))
    # an empty cache: the budgets are trained as one run, once, and are the cached nets bit for bit
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", "off")
    fresh = learning_curves.train_curve(unit, dsm)
    assert calls == [1] and all(_same(a, b) for a, b in zip(fresh, curve))


def test_the_dsm_error_is_the_nets_score_against_the_exact_conditional_score(fast):
    # an independent route: the net's own score method and the mixture's exact score, not methods.field and optima
    config, result = fast
    gmm, width, seed = config.mixtures[0], config.widths[1], config.nets.seeds[0]
    dsm = trained_atlas.train_net(trained_atlas.Net(config.recipe(gmm, width, config.budgets[0]), seed, "dsm")).model
    squares = []
    with torch.no_grad():
        for sigma, c, x in trained_atlas.error_points(gmm, config.nets.n_error):
            s = torch.full((len(x),), sigma, dtype=x.dtype)
            squares.append(sigma ** 2 * (dsm.score(x, s, c) - gmm.score(x, s, c)).square().sum(1))
    expected = math.sqrt(float(torch.cat(squares).mean()))
    got = next(r["own"] for r in result["rows"] if r["method"] == "dsm" and r["width"] == width)
    assert got == pytest.approx(expected, rel=1e-6)


def test_the_q0_pools_are_drawn_once_per_process_and_are_the_same_draws():
    from dataclasses import replace

    from sandbox.methods.tilted import TiltedTarget

    config = training.TrainConfig(mixture="overlap_2d", objective="data-tilt", ws=(1.0,), steps=10, batch=64)
    first, again = training.tilted_pools(config), training.tilted_pools(replace(config, width=16))
    assert all(first[k] is again[k] for k in first)           # another width: the same pools, not drawn again
    n = len(first[0, 1.0])                                    # 1024: the smallest pool
    torch.testing.assert_close(first[0, 1.0], TiltedTarget(config.mixture, 0, 1.0).sample(n, generator=0),
                               rtol=0, atol=0)


def test_the_command_writes_json_and_refuses_budgets_out_of_order(tmp_path, capsys):
    import json

    from sandbox import cli

    out = tmp_path / "curves.json"
    assert cli.main(["curves", "--fast", "--quiet", "--json", str(out)]) == 0
    assert "within 1.2x at" in capsys.readouterr().out
    assert len(json.loads(out.read_text())["results"]["rows"]) > 0
    assert cli.main(["curves", "--fast", "--budgets", "40", "20"]) == 2
    with pytest.raises(ValueError, match="at least two budgets"):
        learning_curves.CurvesConfig(budgets=(100,))


def test_a_users_mixture_file_gets_its_curves_and_is_never_overwritten(tmp_path, capsys):
    import json

    from sandbox import cli, zoo

    path = zoo.get("overlap_2d").save(tmp_path / "mine.json")
    before = path.read_text()
    out = tmp_path / "curves.json"
    args = ["curves", "--fast", "--quiet", "--mixture", str(path), "--budgets", "10", "20", "--widths", "8", "16"]
    assert cli.main([*args, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mixture"]["fingerprint"] == zoo.get("overlap_2d").fingerprint
    assert {r["width"] for r in report["results"]["rows"]} == {8, 16}
    capsys.readouterr()
    assert cli.main([*args, "--json", str(path)]) == 2                       # the output would overwrite an input
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and path.read_text() == before
    assert cli.main(["curves", "--fast", "--mixture", str(tmp_path / "missing.json")]) == 2
