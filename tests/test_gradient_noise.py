"""The gradient noise of the training objectives: the estimator on gradients of known law, the gradients by finite
differences, and the command."""

from __future__ import annotations

import copy
import json

import torch

from sandbox import cli, training
from sandbox.experiments.gradient_noise import gradients, noise


def test_the_noise_to_signal_ratio_of_gradients_of_known_law():
    # g_i = G + e_i, G = 0.2 (1, ..., 1) in P = 50 dims: |G|^2 = 50 x 0.04 = 2; e_i ~ N(0, 0.5^2 I): tr Sigma = 12.5;
    # N = 6.25 and, at a batch of 100, B_noise = 625
    g = torch.Generator().manual_seed(0)
    draws = 0.2 + 0.5 * torch.randn(400, 50, generator=g, dtype=torch.float64)
    out = noise(draws, batch=100)
    # sds over R = 400: the signal's sqrt(4 G'Sigma G / R) = sqrt(4 x 2 x 0.25 / 400) = 0.071, the noise's
    # sqrt(2 tr(Sigma^2) / R) = sqrt(2 x 50 x 0.0625 / 400) = 0.125, the ratio's 6.25 sqrt(0.0355^2 + 0.01^2) = 0.23;
    # each within 4 of them (a failure of a right estimator has probability < 1e-4)
    assert abs(out["signal"].value - 2.0) < 4 * 0.071 and abs(out["noise"].value - 12.5) < 4 * 0.125
    assert abs(out["ratio"].value - 6.25) < 4 * 0.23 and out["scale"].value == 100 * out["ratio"].value
    for e in out.values():
        assert e.lo <= e.value <= e.hi
    # the signal is estimated without its bias tr(Sigma) / R = 0.031: pure noise gives a signal near 0
    pure = noise(0.5 * torch.randn(400, 50, generator=g, dtype=torch.float64), batch=100)
    assert pure["signal"].lo < 0 < pure["signal"].hi


def test_the_gradients_are_the_step_losss_by_finite_differences():
    config = training.TrainConfig(mixture="overlap_2d", steps=20, batch=64, width=8, depth=2, objective="dsm")
    dsm = training.train(config, progress=False).model.double()
    tune = config.fine_tune("weighted-mclr")
    g = gradients(tune, dsm, 2)
    # the first call's batch, at theta +- h on one weight (a fresh loss closure draws the same batch first)
    k, h = 5, 1e-6

    def first_loss(shift: float) -> float:
        model = copy.deepcopy(dsm).train()
        with torch.no_grad():
            flat = [p for p in model.parameters() if p.requires_grad]      # the order gradients() flattens in
            sizes = [p.numel() for p in flat]
            i = next(j for j in range(len(sizes)) if sum(sizes[:j + 1]) > k)
            flat[i].view(-1)[k - sum(sizes[:i])] += shift
        return float(training.objective_loss(tune, model)().detach())

    fd = (first_loss(h) - first_loss(-h)) / (2 * h)
    assert abs(fd - float(g[0, k])) <= 1e-6 * max(1.0, abs(fd)), (fd, float(g[0, k]))
    assert not torch.equal(g[0], g[1])          # the second step draws another batch


def test_the_command(tmp_path, capsys):
    out = tmp_path / "noise.json"
    assert cli.main(["gradient-noise", "--fast", "--quiet", "--set", "repeats=8", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "weighted-mclr" in text and "B_noise" in text
    rows = json.loads(out.read_text())["results"]["rows"]
    assert rows[0]["objective"] == "dsm" and all(r["noise"]["value"] > 0 for r in rows)
    # weighted MCLR a second time with all negative labels; GFT draws none
    names = [r["objective"] for r in rows]
    assert "weighted-mclr, all negatives" in names and "gft, all negatives" not in names
    assert cli.main(["gradient-noise", "--fast", "--set", "repeats=2"]) == 2


def test_a_cached_result_is_read_back_not_recomputed():
    import dataclasses
    import warnings

    from sandbox import cache
    from sandbox.experiments.gradient_noise import GradientNoiseConfig

    config = dataclasses.replace(GradientNoiseConfig().fast(), repeats=4)
    first = cache.run(config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a CacheWarning (an entry that cannot be read) fails the test
        again = cache.run(config)
    assert again["rows"][1]["ratio"].value == first["rows"][1]["ratio"].value
