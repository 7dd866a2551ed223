"""The separation sweep and its CLI; samplers against the exact 2D mixture by energy distance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sandbox import cli, edm_sigmas, guidance, metrics, samplers, separation, zoo
from sandbox.experiments.metrics import Estimate


def test_separation_cli_fast_json(tmp_path, capsys):
    out = tmp_path / "sep.json"
    assert cli.main(["separation", "--fast", "--mixture", "teaching_1d", "--quiet", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "holds within intervals" in printed and "weighted-mclr" in printed
    data = json.loads(out.read_text())
    assert data["mixture"] == {"name": "teaching_1d", "fingerprint": zoo.teaching_1d().fingerprint}
    assert data["command"] == "separation" and data["version"]
    rows = {(r["method"], r["w"], r["lam"]): r for r in data["results"]["rows"]}
    # the theorem, at the level of samples: the weighted-MCLR optimum drives the ODE exactly like CFG
    for w in data["config"]["ws"]:
        a, b = rows[("cfg", w, 0.0)]["metrics"], rows[("weighted-mclr", w, 0.0)]["metrics"]
        for key in a:
            assert a[key]["value"] == pytest.approx(b[key]["value"], rel=1e-6, abs=1e-9), key
    # exact q_0 draws pass the KS test against the grid CDF; CFG at w = 7 does not sample q_0
    for c in range(2):
        for w in data["config"]["ws"]:
            assert rows[("tilted", w, 0.0)]["per_class"][c]["ks_to_q0"]["p_value"] > 0.01
        assert rows[("cfg", 0.0, 0.0)]["per_class"][c]["ks_to_q0"]["p_value"] > 0.01
        assert rows[("cfg", 7.0, 0.0)]["per_class"][c]["ks_to_q0"]["p_value"] < 1e-6
    # guidance separates: accuracy up, entropy down, from w = 0 to w = 7
    acc = [rows[("cfg", w, 0.0)]["metrics"]["bayes_accuracy"] for w in (0.0, 7.0)]
    ent = [rows[("cfg", w, 0.0)]["metrics"]["entropy"] for w in (0.0, 7.0)]
    assert acc[1]["lo"] > acc[0]["hi"] and ent[1]["hi"] < ent[0]["lo"]


def test_monotone_flags_only_steps_beyond_the_intervals():
    def row(w: float, v: float, h: float) -> separation.Row:
        return separation.Row("cfg", w, 0.0, {"bayes_accuracy": Estimate(v, v - h, v + h, "normal")}, [])

    ok = [row(0, 0.80, 0.02), row(1, 0.79, 0.02), row(2, 0.95, 0.01)]   # a dip inside the intervals
    assert separation.monotone(ok, "cfg", "bayes_accuracy", increasing=True) == []
    bad = [row(0, 0.80, 0.01), row(1, 0.70, 0.01)]
    assert len(separation.monotone(bad, "cfg", "bayes_accuracy", increasing=True)) == 1
    assert separation.monotone(bad, "cfg", "bayes_accuracy", increasing=False) == []


def test_sweep_config_is_validated():
    with pytest.raises(ValueError, match="mixture must be a zoo name"):
        separation.SweepConfig(mixture="nope")
    with pytest.raises(ValueError, match="methods"):
        separation.SweepConfig(methods=("cfg", "magic"))
    with pytest.raises(ValueError, match="ws"):
        separation.SweepConfig(ws=(-1.0,))


N_2D, NULL_REPS = 2000, 200


@pytest.fixture(scope="module")
def null_range_2d():
    """99% range of the energy distance between two independent exact samples of p(.|c=0), n = 2000 each."""
    gmm = zoo.overlap_2d()
    g = torch.Generator().manual_seed(123)
    null = [metrics.energy_statistic(gmm.sample(N_2D, c=0, generator=g), gmm.sample(N_2D, c=0, generator=g))
            for _ in range(NULL_REPS)]
    return np.quantile(null, 0.99)


@pytest.mark.slow
@pytest.mark.parametrize(("sampler", "steps", "w"), [("heun", 64, 0.0), ("sde", 512, 0.0),
                                                     ("heun", 64, 0.3), ("euler-4", 4, 0.0)])
def test_samplers_reproduce_the_2d_mixture_by_energy_distance(null_range_2d, sampler, steps, w):
    gmm = zoo.overlap_2d()
    score = guidance.exact_cfg(gmm, 0, w)
    x_init = gmm.sample(N_2D, c=0, sigma=80.0, generator=7)
    sigmas = edm_sigmas(steps, 0.002, 80.0)
    if sampler == "heun":
        x = samplers.heun_ode(score, x_init, sigmas)
    elif sampler == "sde":
        x = samplers.euler_maruyama(score, x_init, sigmas, generator=8)
    else:
        x = samplers.euler_ode(score, x_init, sigmas)
    ed = metrics.energy_statistic(x, gmm.sample(N_2D, c=0, generator=9))
    if w == 0 and sampler != "euler-4":
        assert ed < null_range_2d
    else:   # power: mild guidance (w = 0.3) or a 4-step Euler solve is detected
        assert ed > null_range_2d
