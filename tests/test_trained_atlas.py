"""The nets part of the guidance atlas: strength-conditioned nets, the training-time objectives in the one training
loop, q_0's noised score in any dimension, and the atlas's checks."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sandbox import cli, methods, trained_atlas, yardsticks, zoo
from sandbox.core.quadrature import quasi_normal_rule
from sandbox.learn.models import Denoiser, ModelConfig
from sandbox.methods.tilted import TiltedTarget

D = torch.float64


def test_a_strength_input_starts_as_the_net_it_was_copied_from():
    net = Denoiser(ModelConfig(2, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    strong = net.with_strength()
    x = torch.randn(7, 2, dtype=D)
    for w in (0.0, 0.5, 4.0):
        assert torch.equal(strong.score(x, 0.3, 1, w=w), net.score(x, 0.3, 1))
    with torch.no_grad():                                    # once trained, the strength matters ...
        strong.backbone.strength.bias.add_(1.0)
        strong.backbone.strength.weight.add_(0.5)
    assert not torch.allclose(strong.score(x, 0.3, 1, w=0.5), strong.score(x, 0.3, 1, w=4.0))
    # ... but never for the null class: the unconditional model has no strength
    assert torch.equal(strong.score(x, 0.3, None, w=0.5), strong.score(x, 0.3, None, w=4.0))
    with pytest.raises(ValueError, match="pass w"):
        strong.score(x, 0.3, 1)
    with pytest.raises(ValueError, match="strength input"):
        net.score(x, 0.3, 1, w=1.0)
    with pytest.raises(ValueError, match="w must be"):
        strong.score(x, 0.3, 1, w=-1.0)


def test_quasi_normal_nodes_have_the_normal_moments():
    xi, v = quasi_normal_rule(4, 4096, seed=0)
    assert xi.shape == (4096, 4) and torch.isfinite(xi).all() and float(v.sum()) == pytest.approx(1.0, abs=1e-12)
    # scrambled Sobol: errors ~ 1/n; Monte Carlo would give ~ 1/sqrt(4096) = 0.016
    assert float(xi.mean(0).abs().max()) < 1e-15                          # mirrored pairs: odd moments exact
    assert float((xi.T @ xi / 4096 - torch.eye(4, dtype=D)).abs().max()) < 1e-2
    assert float((xi[:, 0] ** 4).mean()) == pytest.approx(3.0, abs=0.05)      # E xi^4 = 3


@pytest.mark.parametrize("sigma", [0.05, 0.5, 2.0])
def test_q0_noised_score_by_quasi_monte_carlo_matches_the_tensor_rule(sigma):
    # measured: max |difference| sigma-scaled <= 2.3e-3 with 4096 nodes on overlap_2d at w = 2
    gmm = zoo.resolve("overlap_2d")
    target = TiltedTarget(gmm, 0, 2.0)
    x = gmm.sample(200, c=0, sigma=sigma, generator=1)
    exact, qmc = target.score(x, sigma), target.score(x, sigma, nodes=4096)
    assert float((exact - qmc).norm(dim=1).max()) * sigma < 5e-3
    with pytest.raises(ValueError, match="even"):
        quasi_normal_rule(2, 7)
    with pytest.raises(ValueError, match="not both"):
        target.score(x, sigma, rule=(4, 4), nodes=16)


def test_the_data_tilt_field_works_in_four_dimensions_and_is_not_cfg():
    gmm = zoo.resolve("crowded_4d")
    x = gmm.sample(20, c=1, sigma=0.5, generator=0)
    tilt = methods.field("data-tilt", gmm, 1, w=2.0)(x, torch.full((20,), 0.5, dtype=D))
    cfg = methods.field("cfg", gmm, 1, w=2.0)(x, torch.full((20,), 0.5, dtype=D))
    assert torch.isfinite(tilt).all()
    assert float((tilt - cfg).norm(dim=1).mean()) > 0.05 * float(cfg.norm(dim=1).mean())
    # at sigma -> 0 the noised tilt is the clean tilted score (1 + w) s_c - w s_u = CFG at sigma = 0
    tiny = methods.field("data-tilt", gmm, 1, w=2.0)(x, torch.full((20,), 1e-4, dtype=D))
    clean = gmm.cfg_score(x, 1e-4, 1, 2.0)
    assert float((tiny - clean).norm(dim=1).max() / clean.norm(dim=1).max()) < 1e-3


@pytest.fixture(scope="module")
def fast_result():
    return trained_atlas.run(trained_atlas.NetsConfig().fast(), progress=False)


@pytest.mark.slow
def test_every_fine_tune_moves_toward_its_own_optimum(fast_result):
    # a wrong objective (a wrong beta, target or data) would pull a net away from its own optimum; even 200 steps
    # of the right one bring it closer than the DSM net it started from (measured at w = 4: 0.85-0.87 x)
    rows = {(r["method"], r["w"]): r["measures"] for r in fast_result["seeds"][0]["rows"]}
    for method in trained_atlas.NetsConfig().methods:
        m = rows[method, 4.0]
        assert m["score_error"]["value"] < 0.95 * m["dsm_error"]["value"], method
        assert m["passes"]["value"] == 31                     # one pass per Heun evaluation: 2 * 16 - 1
    assert rows["cfg", 4.0]["passes"]["value"] == 62            # CFG: two passes per evaluation
    # the data-level tilt samples q_0, not CFG (measured 0.15 vs 0.20)
    assert rows["data-tilt", 4.0]["energy_distance"]["value"] < rows["data-tilt", 4.0]["energy_distance_cfg"]["value"]
    names = {c["method"] for c in yardsticks.checks(fast_result)}
    assert names == set(trained_atlas.NetsConfig().methods)
    assert "trained nets" not in yardsticks.table(fast_result)      # rows are method / nets
    assert len(yardsticks.table(fast_result).splitlines()) == 2 + 2 * 2 + 2 * 6   # dsm, mclr x 2 w; 6 per w


def test_the_checks_use_every_seed_and_the_fair_yardstick():
    def row(method, w, err, dsm, ed_cfg, ed_q0=1.0):
        est = lambda v: {"value": v, "lo": v - 0.01, "hi": v + 0.01}   # noqa: E731
        return {"method": method, "w": w, "measures": {"score_error": est(err), "dsm_error": est(dsm),
                                                       "energy_distance_cfg": est(ed_cfg),
                                                       "energy_distance": est(ed_q0)}}

    common = [row("dsm", 4.0, 0.05, 0.05, 0.3), row("cfg", 4.0, 0.5, 1.0, 0.1),
              row("data-tilt", 4.0, 0.1, 1.0, 0.5, 0.1)]
    seed_a = {"rows": [*common, row("gft", 4.0, 0.55, 1.0, 0.105)]}
    seed_b = {"rows": [*common, row("gft", 4.0, 0.65, 1.0, 0.125)]}     # 0.65 / 0.5 = 1.3 > 1.2
    got = {(c["method"], c["check"][:12]): c for c in yardsticks.checks({"seeds": [seed_a, seed_b]})}
    ratio = got["gft", "score error "]
    assert ratio["values"] == pytest.approx([1.1, 1.3]) and not ratio["holds"]
    # from 1.0 (where the DSM net is) to 0.6 on average, of the way to DSM + CFG's 0.5: 0.4 / 0.5 = 80%
    assert "closed 80% of the way" in ratio["why"] and "DSM + CFG at inference 0.5" in ratio["yardstick"]
    # the floor: the DSM net's 0.05 carried through CFG at w = 4, x sqrt(25 + 16) = 6.40 -> 0.32
    assert "x sqrt((1+w)^2 + w^2) = 0.32" in ratio["yardstick"]
    # one seed within 1.2, the other over: the seeds split, so the expectation is undecided, not failed
    assert ratio["verdict"] == "undecided"
    ed = got["gft", "energy dista"]
    # lower ends 0.095, 0.115 against DSM + CFG's upper end 0.11: overlapping in one seed, above it in the other
    assert ed["values"] == pytest.approx([-0.015, 0.005]) and ed["verdict"] == "undecided"
    gap = got["data-tilt", "energy dista"]
    assert gap["values"] == pytest.approx([0.38, 0.38]) and gap["holds"]          # (0.5 - 0.01) - (0.1 + 0.01)
    lines = yardsticks.check_lines({"seeds": [seed_a, seed_b]})
    assert all(line.endswith("holds") or "FAILS: " in line or "undecided: " in line for line in lines)
    assert all("yardstick: " in line for line in lines)
    # every seed over the target: fails, with its reason; the tilt's intervals overlapping: undecided
    worse = {"rows": [*common[:2], row("data-tilt", 4.0, 0.1, 1.0, 0.3, 0.3), row("gft", 4.0, 0.7, 1.0, 0.105)]}
    got = {(c["method"], c["check"][:12]): c for c in yardsticks.checks({"seeds": [worse, worse]})}
    assert got["gft", "score error "]["verdict"] == "fails" and "closed" in got["gft", "score error "]["why"]
    assert got["data-tilt", "energy dista"]["verdict"] == "undecided"


@pytest.mark.slow
def test_atlas_cli_reports_exact_and_trained_parts(tmp_path, capsys, fast_result):
    out = tmp_path / "atlas.json"
    assert cli.main(["atlas", "--fast", "--methods", "cfg", "gft", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "gft / nets" in text and "cfg / nets" in text and "energy distance to q_0" in text
    assert "gft w=4: score error to exact CFG / DSM + CFG's" in text
    report = json.loads(out.read_text())
    assert report["command"] == "atlas" and set(report["results"]) == {"exact", "nets"}
    assert {r["method"] for r in report["results"]["exact"]["rows"]} == {"cfg", "gft"}
    rows = report["results"]["nets"]["seeds"][0]["rows"]
    assert all(math.isfinite(r["measures"]["score_error"]["value"]) for r in rows if r["method"] != "mclr")
    assert not any("score_error" in r["measures"] for r in rows if r["method"] == "mclr")   # no optimum to match
    assert cli.main(["atlas", "--fast", "--exact-only", "--methods", "cfg"]) == 0
    assert "/ nets" not in capsys.readouterr().out
