"""Verify's checks are records (sandbox/experiments/verification/): one module each, registered in the order
``verify`` runs them, planned from their declarations; a new check is one new file, run by the command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sandbox import cli, zoo
from sandbox import verification as v


def test_the_six_checks_are_registered_in_order_with_their_fast_settings():
    assert list(v.REGISTRY) == ["closed-form", "quadrature", "monte-carlo", "learning", "symbolic", "distribution"]
    assert dict(v.REGISTRY["learning"].fast) == {"sigmas": (1.0,), "steps": 800, "batch": 2048}
    assert {n for n, c in v.REGISTRY.items() if c.max_dim is not None} == {"quadrature"}
    with pytest.raises(ValueError, match="takes must be"):
        v.Check("x", v.check_symbolic, {}, takes="some")
    with pytest.raises(ValueError, match="registered already"):
        v.register(v.REGISTRY["symbolic"])


def test_the_plan_follows_each_checks_declaration():
    g8 = zoo.random_mixture(3, 2, 8, seed=3)
    plan = v.VerifyConfig(("teaching_1d", g8), fast=True, seed=4).plan()
    # all-mixture checks once (quadrature without the 8D mixture), learning once per mixture, symbolic once
    assert [name for name, _ in plan] == ["closed-form", "quadrature", "monte-carlo", "learning", "learning",
                                          "symbolic", "distribution"]
    quad = dict(plan)["quadrature"]
    assert [g.name for g in quad.args[0]] == ["teaching_1d"] and quad.keywords["seed"] == 4
    assert "seed" not in dict(plan)["symbolic"].keywords          # it draws nothing
    assert v.VerifyConfig(("teaching_1d", g8)).skipped() == [
        f"quadrature skipped for {g8.name} (tensor-product rules need d <= 2)"]


def test_a_new_check_is_one_file_and_verify_runs_it(tmp_path, package_copy):
    # a copy of the package with one more check module: registered, planned and reported without touching any
    # other file
    copy = package_copy
    (copy / "sandbox" / "experiments" / "verification" / "a_new_check.py").write_text(
        "from .registry import Check, CheckResult, register\n\n\n"
        "def check_one(mixtures=('teaching_1d',), n=10):\n"
        "    return [CheckResult.of('one', {'n': n}, 0.0, 1.0, True)]\n\n\n"
        "register(Check('one', check_one, {'n': 2}))\n")
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "sandbox", "verify", "--fast", "--only", "one", "symbolic", "--quiet",
                          "--json", str(out)],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(copy), "PATH": "", "MCLR_SANDBOX_CACHE": "off",
                              "OMP_NUM_THREADS": "1"}, timeout=600)
    assert run.returncode == 0, run.stderr
    rows = json.loads(out.read_text())["results"]
    # the two checks asked for, in the registry's order (the new one last), the new one with its fast setting
    assert [r["check"] for r in rows][-1] == "one" and rows[-1]["setting"] == "n=2"
    assert {r["check"] for r in rows} == {"symbolic", "one"} and "one " in run.stdout
    assert cli.main(["verify", "--only", "no-such-check"]) == 2
