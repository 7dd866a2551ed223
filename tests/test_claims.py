"""The claims registry: its measurement machinery on known answers, and verdicts computed by the command."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sandbox import ClassConditionalGMM, claims, cli

D = torch.float64


def test_conditional_entropy_known_answers():
    # two far-apart classes (means -10 and 10, variance 0.5, equal prior): H(c | x_sigma) is 0 at small sigma and
    # log 2 = 0.693 when noise swamps the gap; 20,000 draws put the Monte Carlo error near 1e-3 at large sigma
    gmm = ClassConditionalGMM([[[-10.0]], [[10.0]]], [[0.5], [0.5]], [[1.0], [1.0]], covariance_type="spherical")
    h = claims.conditional_entropy(gmm, torch.tensor([0.01, 1.0, 1e4], dtype=D), n=20_000)
    assert float(h[0]) < 1e-12 and float(h[1]) < 1e-12
    assert float(h[2]) == pytest.approx(math.log(2.0), abs=1e-3)
    # common random numbers: H is non-decreasing along sigma for this mixture, sample by sample in law
    grid = torch.logspace(-1, 2, 13, dtype=D)
    assert bool((torch.diff(claims.conditional_entropy(gmm, grid, n=5000)) >= -1e-12).all())


def test_wilson_share():
    from sandbox.experiments.metrics import proportion
    zero = proportion(0, 100)                        # Wilson: [0, z^2 / (n + z^2)] = [0, 0.0370]
    assert zero.value == 0.0 and zero.lo == 0.0
    assert zero.hi == pytest.approx(3.8415 / 103.8415, rel=1e-4)
    half = proportion(50, 100)                       # symmetric about 0.5, half-width ~0.0962
    assert half.lo == pytest.approx(1 - half.hi) and half.hi - half.value == pytest.approx(0.0962, abs=1e-3)


@pytest.mark.slow
def test_every_claim_has_a_computed_verdict():
    verdicts = claims.run(fast=True)
    assert list(verdicts) == list(claims.REGISTRY)
    for name, v in verdicts.items():
        assert v.verdict in claims.VERDICTS, name
        assert v.reason and v.numbers
    # the control of the first claim: at w = 0, CFG is the conditional and q_0 is p(x|c): a KS test must not reject
    rows = {r["w"]: r for r in verdicts["cfg-is-not-q0"].numbers["rows"]}
    assert rows[0.0]["p_value"] > 0.01 and rows[4.0]["p_value"] < 1e-6
    table = claims.table(verdicts)
    assert all(name in table for name in claims.REGISTRY)


@pytest.mark.slow
def test_claims_command(tmp_path, capsys):
    out = tmp_path / "claims.json"
    assert cli.main(["claims", "--fast", "--quiet", "--only", "pushes-to-far-edge", "--json", str(out)]) == 0
    assert "pushes-to-far-edge" in capsys.readouterr().out
    report = json.loads(out.read_text())
    entry = report["results"]["pushes-to-far-edge"]
    assert entry["verdict"] in claims.VERDICTS and entry["statement"]
    assert cli.main(["claims", "--fast", "--only", "no-such-claim"]) == 2
    assert "claims must be drawn from" in capsys.readouterr().err


def test_cfg_distortion_known_answers():
    # one class: s_u = s_c, so CFG is the conditional score and its samples are N(mu, I): no overshoot (within the
    # interval) and a variance ratio of 1 (128 Heun steps: the ODE's own error is ~1e-3 at d = 64)
    one = claims.sphere_classes(64, 1)
    e = claims.cfg_distortion(one, 2.0, 2000, 128)
    assert e["overshoot"].lo <= 0.0 <= e["overshoot"].hi
    assert e["variance_ratio"].value == pytest.approx(1.0, abs=0.02)     # sd of the ratio ~ sqrt(2 / (2000 * 64))
    assert e["variance_ratio"].lo <= 1.0 <= e["variance_ratio"].hi       # half-width 1.96 * 0.004 = 0.008
    # two classes: guidance pushes class 0 beyond its mean, away from class 1
    two = claims.sphere_classes(64, 2)
    assert claims.cfg_distortion(two, 2.0, 500, 64)["overshoot"].lo > 0.0
    g = claims.sphere_classes(16, 5, seed=3)
    assert torch.allclose(torch.cat(g.means).norm(dim=1), torch.full((5,), 4.0, dtype=D))    # radius sqrt(16)


def test_a_counterexample_to_monotone_confidence_is_real():
    # family member 86 of monotone-over-mixtures (4 classes in 1D): class 0's mean p(c|x) falls from w = 1 to 2
    # (0.578 -> 0.575 with 4000 samples and 64 steps; 95% half-widths 0.0018 and 0.0004), as in the claim's own run
    # (other seed, 0.581 -> 0.574); two symmetric
    # classes (two_gaussians_1d) give no violation: the detector is not trigger-happy
    from sandbox import zoo
    gmm = zoo.random_mixture(4, 2, 1, seed=1086, spread=3.0)
    violations, curves = claims.monotone_in_w(gmm, (1.0, 2.0), 4000, 64, seed=5)
    assert violations and violations[0].startswith("mean p(c|x)")
    assert curves[1]["w"] == 2.0 and curves[1]["mean_posterior"].hi < curves[0]["mean_posterior"].lo
    assert claims.monotone_in_w(zoo.two_gaussians_1d(), (0.0, 1.0, 2.0), 1000, 32, seed=5)[0] == []


def test_counterexamples_are_written_as_mixture_files(tmp_path, monkeypatch, capsys):
    from sandbox import zoo
    gmm = zoo.random_mixture(3, 2, 1, seed=7)
    entry = {"name": "monotone-over-mixtures-7", "mixture": {**gmm.to_dict(), "name": "monotone-over-mixtures-7"}}
    verdict = claims.Verdict(claims.CAVEAT, "one counterexample", {"counterexamples": [entry]})
    found = claims.counterexamples({"monotone-over-mixtures": verdict})
    assert list(found) == ["monotone-over-mixtures-7"]
    assert found["monotone-over-mixtures-7"].fingerprint == gmm.fingerprint
    monkeypatch.setattr(claims, "run", lambda names, fast, announce, changes, seed, replicates:
                        {"monotone-over-mixtures": verdict})
    out = tmp_path / "cex"
    assert cli.main(["claims", "--quiet", "--data", "none", "--counterexamples", str(out)]) == 0
    assert "wrote 1 counterexample mixture file(s)" in capsys.readouterr().out
    assert ClassConditionalGMM.load(out / "monotone-over-mixtures-7.json").fingerprint == gmm.fingerprint
    (tmp_path / "file").write_text("")
    assert cli.main(["claims", "--counterexamples", str(tmp_path / "file")]) == 2   # not a folder: refused first
    assert "--counterexamples" in capsys.readouterr().err


def test_phase_diagram_lines_of_constant_alpha():
    # powers of 2: log K / d = log 2 * j / d for K = 2^j, so (2, 2), (4, 4), (8, 16) share alpha = log(2) / 2 and
    # (4, 2), (8, 4), (16, 16) share log(2) / 4; (2, 4) is alone on its line (alpha = log 2) and is dropped
    cells = [{"d": d, "K": k} for d, k in [(8, 16), (2, 2), (4, 4), (4, 2), (8, 4), (16, 16), (2, 4)]]
    lines = claims.diagonals(cells)
    assert [line["alpha"] for line in lines] == pytest.approx([math.log(2) / 2, math.log(2) / 4])
    assert [c["d"] for c in lines[0]["cells"]] == [2, 4, 8]
    assert [c["K"] for c in lines[1]["cells"]] == [2, 4, 16]
    cell = claims.phase_diagram((4,), (2,), 2.0, 200, 16)[0]
    assert (cell["d"], cell["K"]) == (4, 2)
    assert cell["alpha"] == pytest.approx(math.log(2) / 4) and cell["overshoot"].lo > 0


# ---------------------------------------------------------------------------------------------- claims as data
def _toy(name: str, depends: tuple[str, ...] = (), seen: list | None = None) -> claims.Claim:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Config:
        n: int = 1
        seed: int = 0

    def measure(config, needs):
        if seen is not None:
            seen.append((name, config.n, sorted(needs)))
        return claims.decide(True, True, f"{name} ok", {"n": config.n, "needs": sorted(needs)})

    return claims.Claim(name, "nobody", "a toy claim", measure, full=Config(2), fast=Config(1), depends=depends)


def test_dependencies_run_first_once_and_are_announced(monkeypatch):
    registry = {"base": _toy("base"), "top": _toy("top", ("base",))}
    seen, said = [], []
    registry = {k: _toy(k, v.depends, seen) for k, v in registry.items()}
    monkeypatch.setattr(claims.registry, "REGISTRY", registry)
    verdicts = claims.run(("top",), fast=True, announce=said.append)
    assert list(verdicts) == ["top"] and verdicts["top"].numbers == {"n": 1, "needs": ["base"]}
    assert seen == [("base", 1, []), ("top", 1, ["base"])]                 # dependency first, fast config
    assert len(said) == 1 and "base" in said[0] and "top" in said[0]
    seen.clear()
    claims.run(("top", "base"), fast=True, announce=said.append)           # cached: nothing recomputed
    assert seen == [] and len(said) == 1                                   # asked for: not announced
    monkeypatch.setattr(claims.registry, "REGISTRY", {"a": _toy("a", ("b",)), "b": _toy("b", ("a",))})
    with pytest.raises(ValueError, match="cycle"):
        claims.run(("a",))


def test_a_claim_is_data_with_frozen_configs():
    with pytest.raises(TypeError, match="frozen dataclass"):
        claims.Claim("x", "r", "s", lambda c, n: None, full={"n": 1}, fast={"n": 1})
    with pytest.raises(ValueError, match="itself"):
        _toy("x", ("x",))
    for name, claim in claims.REGISTRY.items():       # every package claim has its panel and two configs
        assert claim.panel is not None and claim.fast != claim.full, name


def test_a_new_claim_module_is_one_file(tmp_path, package_copy):
    # a copy of the claims package with one more module: it is registered without touching any other file
    import subprocess
    import sys

    copy = package_copy
    (copy / "sandbox" / "experiments" / "claims" / "a_new_claim.py").write_text(
        "from dataclasses import dataclass\n"
        "from .registry import Claim, decide, register\n\n\n"
        "@dataclass(frozen=True)\nclass Config:\n    n: int = 1\n    seed: int = 0\n\n\n"
        "register(Claim('a-new-claim', 'me', 'one file', lambda config, needs: decide(True, True, 'ok', {}),\n"
        "               full=Config(), fast=Config()))\n")
    out = subprocess.run([sys.executable, "-c", "from sandbox import claims; print(*claims.names())"],
                         capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(copy), "PATH": ""})
    from sandbox import claims
    # after the ordered eight, the other modules alphabetically: a_new_claim first
    assert out.stdout.split() == [*claims.names()[:len(claims.ORDER)], "a-new-claim",
                                  *claims.names()[len(claims.ORDER):]], out.stderr


def test_set_changes_a_claims_config_and_the_json_names_the_setting(tmp_path, capsys):
    out = tmp_path / "few.json"
    assert cli.main(["claims", "--fast", "--only", "monotone-over-mixtures", "--set", "monotone-over-mixtures.count=3",
                     "--set", "monotone-over-mixtures.ws=0,4", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["results"]["monotone-over-mixtures"]
    assert result["config"] == {"count": 3, "n": 200, "steps": 12, "ws": [0.0, 4.0], "seed": 0}
    assert result["numbers"]["mixtures"] == 3 and "w = 0, 4:" in result["reason"]
    # a setting read as its field's type; a wrong name, value or shape is one line naming what was expected
    assert claims.configure("fades-in-high-d", changes={"phase_dims": "2,4"}).phase_dims == (2, 4)
    for bad, message in (("monotone-over-mixtures.size=3", "has no setting 'size'; its settings: count, n, steps, ws"),
                         ("monotone-over-mixtures.count=many", "monotone-over-mixtures.count must be int, got 'many'"),
                         ("no-such-claim.count=3", "claims must be drawn from"),
                         ("count=3", "--set takes CLAIM.SETTING=VALUE")):
        assert cli.main(["claims", "--fast", "--set", bad]) == 2
        assert message in capsys.readouterr().err
    # a change to a claim the run does not measure is refused, not ignored
    assert cli.main(["claims", "--fast", "--only", "cfg-is-not-q0", "--set", "monotone-over-mixtures.count=3"]) == 2
    assert "changes name claims that this run does not measure: monotone-over-mixtures" in capsys.readouterr().err
