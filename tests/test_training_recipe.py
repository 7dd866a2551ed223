"""The training recipe's switches: edm2's power-function EMA and its post-hoc reconstruction
(sandbox/learn/averaging.py), the all-negatives estimator of the MCLR losses, the learning-rate schedule and the loss
weighting (sandbox/learn/training.py), and the experiment that measures them (sandbox/experiments/training_recipe.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import averaging, checkpoints, objectives, recipe_effects, training, training_recipe, zoo

D = torch.float64


# ---------------------------------------------------------------------------------------------- power EMA
def test_the_profile_width_is_edm2s():
    # edm2 (Karras et al. 2024) quotes gamma = 16.97 for sigma_rel = 0.05 and 6.94 for 0.10
    assert averaging.gamma_of(0.05) == pytest.approx(16.97, abs=0.005)
    assert averaging.gamma_of(0.10) == pytest.approx(6.94, abs=0.005)
    for s in (0.01, 0.05, 0.1, 0.2, 0.28):
        assert averaging.sigma_rel_of(averaging.gamma_of(s)) == pytest.approx(s, rel=1e-10)
    # independent route: the standard deviation of tau / t under the profile of a long run is sigma_rel
    gamma, t = averaging.gamma_of(0.1), 200_000
    p = averaging.profile(gamma, t, t)
    u = np.arange(1, t + 1) / t
    mean = (p * u).sum()
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert math.sqrt((p * (u - mean) ** 2).sum()) == pytest.approx(0.1, rel=1e-4)
    with pytest.raises(ValueError, match="sigma_rel"):
        averaging.gamma_of(0.5)         # wider than any power profile (sqrt(1/12) = 0.289 is gamma -> -1)


def _tracked(values: torch.Tensor, n: int):
    """Run ``PowerEMA`` over a one-weight model set to ``values[t]`` at step ``t``."""
    model = torch.nn.Linear(1, 1, bias=False).double()
    tracker = averaging.PowerEMA(model, len(values), n)
    with torch.no_grad():
        for v in values:
            model.weight.fill_(float(v))
            tracker.update()
    return model, tracker.snapshots()


@settings(max_examples=20, deadline=None)
@given(st.integers(5, 300), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_the_tracked_average_weighs_the_iterates_by_the_profile(total, n, seed):
    values = torch.randn(total, dtype=D, generator=torch.Generator().manual_seed(seed))
    _, snap = _tracked(values, n)
    assert snap.steps == averaging.snapshot_steps(total, n) and snap.steps[-1] == total
    for k, gamma in enumerate(snap.gammas):
        for i, t in enumerate(snap.steps):
            exact = float((torch.from_numpy(averaging.profile(gamma, t, total)) * values).sum())
            assert float(snap.states[k][i]["weight"]) == pytest.approx(exact, rel=1e-12, abs=1e-12)
    assert float(snap.last["weight"]) == float(values[-1])


def test_post_hoc_averages_are_the_kept_ones_exactly_and_others_within_their_residual():
    total = 2000
    g = torch.Generator().manual_seed(3)
    values = torch.cumsum(torch.randn(total, dtype=D, generator=g), 0) / 30      # a wandering weight
    model, snap = _tracked(values, 16)
    # a kept profile: the last snapshot itself, residual 0
    for s, k in ((0.05, 0), (0.10, 1)):
        state, residual = snap.average(s)
        assert residual < 1e-9
        assert float(state["weight"]) == pytest.approx(float(snap.states[k][-1]["weight"]), abs=1e-9)
    # another width: the average a tracker of that profile returns, within the Cauchy-Schwarz bound
    for s in (0.04, 0.07, 0.15, 0.2):
        state, residual = snap.average(s)
        exact = float((torch.from_numpy(averaging.profile(averaging.gamma_of(s), total, total)) * values).sum())
        bound = residual * np.linalg.norm(averaging.profile(averaging.gamma_of(s), total, total)) * float(
            values.norm())
        assert residual < 0.03 and abs(float(state["weight"]) - exact) <= bound
    net, residual = averaging.averaged(model, snap, None)
    assert residual == 0.0 and float(net.weight.detach()) == float(values[-1])
    other = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="not of this model's parameters"):
        averaging.averaged(other, snap, 0.1)


# ---------------------------------------------------------------------------------------------- all negatives
def _score(x, sigma, c):
    return -(c.to(x.dtype) + 1)[:, None] * x + 0.3 * c.to(x.dtype)[:, None]


def test_all_negatives_is_the_mean_over_every_drawn_negative():
    gmm = zoo.resolve("crowded_4d")
    g = torch.Generator().manual_seed(0)
    x0, y = gmm.sample_joint(64, g)
    eps = torch.randn(x0.shape, dtype=D, generator=g)
    sigma = torch.exp(torch.randn(64, dtype=D, generator=g))
    k = gmm.num_classes
    every = objectives.all_mismatched_labels(y, k)
    assert every.shape == (64, k - 1) and not bool((every == y[:, None]).any())
    assert all(set(row.tolist()) == set(range(k)) - {int(c)} for row, c in zip(every, y))
    for loss in (lambda neg: objectives.weighted_mclr_loss(_score, x0, eps, sigma, y, neg, 2.0,
                                                            gmm.class_posterior, k),
                 lambda neg: objectives.mclr_loss(_score, x0, eps, sigma, y, neg, 1.5, k, neg_cap=3.0)):
        # the draw of c~ is uniform over the K - 1 others: its expectation is the mean over the K - 1 shifts
        drawn = torch.stack([loss((y + shift) % k) for shift in range(1, k)]).mean(0)
        assert torch.allclose(loss(every), drawn, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="c_neg must differ"):
        objectives.mclr_loss(_score, x0, eps, sigma, y, torch.stack([y, (y + 1) % k], 1), 1.0, k)
    with pytest.raises(ValueError, match="c_neg must have shape"):
        objectives.mclr_loss(_score, x0, eps, sigma, y, every[:3], 1.0, k)


# ---------------------------------------------------------------------------------------------- the switches
def test_the_switches_validate_and_name_themselves():
    for name, bad in (("lr_schedule", "linear"), ("weighting", "uniform"), ("negatives", "some")):
        with pytest.raises(ValueError, match=name):
            training.TrainConfig(**{name: bad})
    with pytest.raises(ValueError, match="negatives='all' is for objectives that draw a negative label"):
        training.TrainConfig(objective="gft", negatives="all")
    with pytest.raises(ValueError, match="snapshots"):
        training.TrainConfig(snapshots=-1)
    training.TrainConfig(objective="weighted-mclr", negatives="all")
    # omega at sigma = s_d: EDM's 2 s_d^2 (lambda |D - x0|^2 in score units), eps's s_d^2
    s = torch.tensor([0.5], dtype=D)
    assert float(training.loss_weight("edm", s, 0.25)) == pytest.approx(2 * 0.25)
    assert float(training.loss_weight("eps", s, 0.25)) == pytest.approx(0.25)


def _slide(schedule: str, steps: int = 40, lr: float = 0.01) -> float:
    """One weight under the loss p: Adam steps it by lr_t (its gradient is constant), so after the run it has moved
    by the sum of the schedule's learning rates."""
    p = torch.nn.Parameter(torch.zeros((), dtype=D))
    holder = torch.nn.Module()
    holder.p = p
    training.fit(holder, lambda: holder.p * 1.0, steps, lr, 0.0, "slide", schedule=schedule)
    return -float(p.detach())


def test_the_schedules_move_a_weight_by_their_summed_rates():
    # constant: 40 steps of 0.01 = 0.4 (Adam's step is lr g / (|g| + 1e-8) with g = 1: lr (1 - 1e-8))
    assert _slide("constant") == pytest.approx(0.4, rel=1e-6)
    # cosine annealing over 40 steps: lr_t = 0.01 (1 + cos(pi t / 40)) / 2, t = 0..39, summing to 0.2 + 0.005
    assert _slide("cosine") == pytest.approx(0.205, rel=1e-6)


def _equal_nets(a: training.TrainResult, b: training.TrainResult) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("objective, changes", [("dsm", {}), ("weighted-mclr", {"ws": (1.0, 2.0)}),
                                                ("data-tilt", {"ws": (1.0,), "pool": 2000, "batch": 256})])
def test_budgets_trained_as_one_run_are_the_runs_of_each_budget(objective, changes):
    base = training.TrainConfig(mixture="overlap_2d", steps=30, batch=64, width=16)
    init = None if objective == "dsm" else training.train(base, progress=False).model
    for schedule in ("constant", "cosine"):
        config = replace(base, objective=objective, lr_schedule=schedule, **changes)
        got = training.train_budgets(config, (30, 10, 20), init=init, progress=False)
        assert list(got) == [10, 20, 30]
        for b, result in got.items():
            alone = training.train(replace(config, steps=b), init=init, progress=False)
            assert _equal_nets(result, alone) and result.history == alone.history and result.config == alone.config
        keys = {training.length_free(replace(config, steps=b)) for b in (10, 20, 30)}
        # constant: one run, unless the q0 pools differ (data tilt at pool 2000, 256 rows a step, 3 classes: 10 steps
        # take 2 * 10 * 256 // 3 = 1706 per pool, 20 and 30 steps the cap of 2000); cosine decay
        # ties every step to the run's length: a run per budget
        assert len(keys) == ({"dsm": 1, "weighted-mclr": 1, "data-tilt": 2}[objective] if schedule == "constant"
                             else 3)
    with pytest.raises(ValueError, match="each of budgets must be an int >= 1"):
        training.train_budgets(base, (0, 3))
    with pytest.raises(ValueError, match="budgets must name at least one"):
        training.train_budgets(base, ())


@pytest.fixture(scope="module")
def snapshot_run():
    config = training.TrainConfig(mixture="overlap_2d", steps=40, batch=64, width=16, snapshots=4, ema=0.0)
    return training.train(config, progress=False)


def test_a_run_keeps_its_snapshots_through_a_checkpoint(snapshot_run, tmp_path):
    result = snapshot_run
    # ema = 0: the returned model is the last iterate, which the snapshots keep too
    last, _ = averaging.averaged(result.model, result.snapshots, None)
    for a, b in zip(result.model.parameters(), last.parameters()):
        assert torch.equal(a, b)
    path = checkpoints.save(tmp_path / "net.pt", result)
    back = checkpoints.load(path)
    assert back.snapshots.steps == result.snapshots.steps == (10, 20, 30, 40)
    for sigma_rel in (0.05, 0.08):
        a, _ = averaging.averaged(result.model, result.snapshots, sigma_rel)
        b, _ = averaging.averaged(back.model, back.snapshots, sigma_rel)
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # a snapshot edited after writing is refused, as an edited weight is
    data = torch.load(path, weights_only=True)
    data["snapshots"]["states"][0][1]["backbone.net.0.weight"] += 1e-3
    torch.save(data, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="changed after it was written"):
        checkpoints.load(tmp_path / "edited.pt")


# ---------------------------------------------------------------------------------------------- the experiment
@pytest.fixture(scope="module")
def fast():
    config = training_recipe.RecipeConfig().fast()
    return config, training_recipe.run(config, progress=False)


def test_every_variant_and_average_is_measured_and_judged_seed_by_seed(fast):
    config, result = fast
    averages = config.averages()
    assert averages == ("ema", "last", "power 0.05", "power 0.1", "power 0.2")
    rows = result["rows"]
    seen = {(r["variant"], r["average"], r["method"]) for r in rows}
    for v in config.variants:
        for a in averages:
            assert (v, a, "weighted-mclr") in seen
            # all-negatives trains no DSM net of its own: its DSM rows would be the recipe's
            assert ((v, a, "dsm") in seen) == (v != "all-negatives")
    effects = recipe_effects.effects(result)
    base = [e for e in effects if (e["variant"], e["average"]) == training_recipe.BASE]
    assert base and all("ratio" not in e for e in base)
    for e in effects:
        if "ratio" in e:
            r = e["ratio"]
            assert r.lo <= r.value <= r.hi
            assert e["verdict"] == ("helps" if r.hi < 0.995 else "hurts" if r.lo > 1.005 else "no effect"
                                    if 0.995 <= r.lo <= r.hi <= 1.005 else "undecided")
    # the kept profiles are reconstructed exactly, a third width within a few percent
    residual = {(e["variant"], e["average"]): e["residual"] for e in effects}
    assert residual["recipe", "power 0.05"] < 1e-9 and 0 < residual["recipe", "power 0.2"] < 0.05
    # the seed-paired ratio is the geometric mean of the seeds' ratios of RMS errors: recomputed by hand
    e = next(e for e in effects if (e["variant"], e["average"], e["method"]) == ("cosine-lr", "last", "dsm"))

    def rms(variant, average, seed):
        own = [r["own"] for r in rows if (r["variant"], r["average"], r["method"], r["seed"])
               == (variant, average, "dsm", seed)]
        return math.sqrt(sum(v * v for v in own) / len(own))
    logs = [math.log(rms("cosine-lr", "last", s) / rms("recipe", "ema", s)) for s in config.nets.seeds]
    assert e["ratio"].value == pytest.approx(math.exp(sum(logs) / len(logs)), rel=1e-12)


def test_a_verdict_never_turns_on_half_a_percent():
    from sandbox.experiments.metrics import Estimate

    cases = {(0.90, 0.88, 0.93): "helps", (0.99, 0.98, 0.996): "undecided", (1.0, 0.9999, 1.0001): "no effect",
             (1.001, 1.0001, 1.002): "no effect", (1.02, 1.006, 1.03): "hurts", (1.0, 0.9, 1.1): "undecided"}
    for (value, lo, hi), said in cases.items():
        assert recipe_effects.verdict(Estimate(value, lo, hi, "t")) == said


def test_the_recipe_config_refuses_what_it_cannot_judge():
    with pytest.raises(ValueError, match="must start with 'recipe'"):
        training_recipe.RecipeConfig(variants=("cosine-lr",))
    base = training_recipe.RecipeConfig()
    with pytest.raises(ValueError, match="snapshots"):
        training_recipe.RecipeConfig(nets=training_recipe.replace(
            base.nets, train=training_recipe.replace(base.nets.train, snapshots=0)))
    with pytest.raises(ValueError, match=r"recipe\.sigma_rels: sigma_rel must be"):
        training_recipe.RecipeConfig(sigma_rels=(0.1, 0.5))
    with pytest.raises(ValueError, match="two seeds"):
        training_recipe.RecipeConfig(nets=training_recipe.replace(base.nets, seeds=(0,)))


# ---------------------------------------------------------------------------------------------- the commands
def test_train_keeps_snapshots_and_average_chooses_another_width_post_hoc(tmp_path, capsys):
    from sandbox import cli

    net = tmp_path / "dsm.pt"
    assert cli.main(["train", "--fast", "--quiet", "--objective", "dsm", "--ema-width", "0.1", "--steps", "64",
                     "--out", str(net)]) == 0
    assert "power EMA of width 0.1 (relative residual 0.00%)" in capsys.readouterr().out
    trained = checkpoints.load(net)
    assert trained.average == "power 0.1" and len(trained.snapshots.steps) == 16
    wide = tmp_path / "wide.pt"
    assert cli.main(["average", "--checkpoint", str(net), "--ema-width", "0.15", "--out", str(wide)]) == 0
    again = checkpoints.load(wide)
    expected, _ = training.averaged(trained, 0.15)
    assert again.average == "power 0.15"
    assert all(torch.equal(a, b) for a, b in zip(again.model.parameters(), expected.model.parameters()))
    last = tmp_path / "last.pt"
    assert cli.main(["average", "--checkpoint", str(net), "--ema-width", "last", "--out", str(last)]) == 0
    assert checkpoints.load(last).average == "last"
    capsys.readouterr()
    # one line and exit 2: a width no power profile has, a run without snapshots, an objective without negatives
    assert cli.main(["average", "--checkpoint", str(net), "--ema-width", "0.5", "--out", str(tmp_path / "x.pt")]) == 2
    assert "sigma_rel must be" in capsys.readouterr().err
    plain = tmp_path / "plain.pt"
    assert cli.main(["train", "--fast", "--quiet", "--objective", "dsm", "--steps", "8", "--out", str(plain)]) == 0
    assert cli.main(["average", "--checkpoint", str(plain), "--ema-width", "0.1", "--out", str(tmp_path / "y.pt")]) == 2
    assert "kept no snapshots" in capsys.readouterr().err
    assert cli.main(["train", "--fast", "--quiet", "--objective", "gft", "--negatives", "all", "--init", str(plain),
                     "--out", str(tmp_path / "g.pt")]) == 2
    assert "negatives='all' is for objectives that draw a negative label" in capsys.readouterr().err
    tuned = tmp_path / "wm.pt"
    assert cli.main(["train", "--fast", "--quiet", "--objective", "weighted-mclr", "--negatives", "all",
                     "--lr-schedule", "constant", "--weighting", "eps", "--steps", "8", "--init", str(plain),
                     "--out", str(tuned)]) == 0
    config = checkpoints.load(tuned).config
    assert (config.negatives, config.lr_schedule, config.weighting) == ("all", "constant", "eps")
