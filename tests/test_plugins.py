"""Plug-ins and code fingerprints: a user's rule, objective and claim work from the command line like the package's
own, and a result is recomputed exactly when the code that computes it changed.

Every plug-in test runs in a subprocess: a plug-in registers names for the whole process, and the suite's other
tests must keep seeing the package's own registries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import cache, methods, plugins, provenance

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_plugin.py"


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture
def plugin(tmp_path) -> Path:
    """The example plug-in, copied outside the repository (a user's own file)."""
    path = tmp_path / "elsewhere" / "rules.py"
    path.parent.mkdir()
    shutil.copy(EXAMPLE, path)
    return path


@pytest.mark.slow
def test_the_example_plugin_works_from_every_command(tmp_path, plugin):
    cli = ("-m", "sandbox")
    atlas = _run(*cli, "atlas", "--fast", "--exact-only", "--methods", "cfg", "cfg-rising", "--plugin", str(plugin),
                 "--json", "atlas.json", cwd=tmp_path)
    assert atlas.returncode == 0, atlas.stderr
    report = json.loads((tmp_path / "atlas.json").read_text())
    assert {row["method"] for row in report["results"]["exact"]["rows"]} == {"cfg", "cfg-rising"}
    assert report["plugins"][0]["plugin"] == str(plugin) and len(report["code"]) == 16
    # an objective with its loss: a fine-tune of a DSM net
    assert _run(*cli, "train", "--fast", "--objective", "dsm", "--out", "dsm.pt", cwd=tmp_path).returncode == 0
    tune = _run(*cli, "train", "--fast", "--objective", "weighted-mclr-uncond", "--init", "dsm.pt", "--out", "t.pt",
                "--plugin", str(plugin), cwd=tmp_path)
    assert tune.returncode == 0 and "trained weighted-mclr-uncond" in tune.stdout, tune.stderr
    claim = _run(*cli, "claims", "--fast", "--only", "rising-cfg-keeps-spread", "--plugin", str(plugin), "--json",
                 "claims.json", cwd=tmp_path)
    assert claim.returncode == 0, claim.stderr
    assert json.loads((tmp_path / "claims.json").read_text())["results"]["rising-cfg-keeps-spread"]["verdict"] == \
        "holds"
    # without the plug-in its names are unknown: one line, exit 2
    bare = _run(*cli, "atlas", "--fast", "--exact-only", "--methods", "cfg-rising", cwd=tmp_path)
    assert bare.returncode == 2 and "cfg-rising" in bare.stderr and len(bare.stderr.splitlines()) == 1


def test_a_broken_or_clashing_plugin_is_one_error_naming_its_file(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import sandbox.methods as m\nm.register(m.Method('mine', 'guidance', 'mine', 'x', None, "
                      "exact=lambda g, c, p: None))\nraise RuntimeError('boom')\n")
    clash = tmp_path / "clash.py"
    clash.write_text("import sandbox.methods as m\nm.register(m.get('cfg'))\n")
    for path, message in ((broken, "RuntimeError: boom"), (clash, "'cfg' is registered already"),
                          (tmp_path / "missing.py", "no such file")):
        out = _run("-m", "sandbox", "zoo", "--plugin", str(path), cwd=tmp_path)
        assert out.returncode == 2 and str(path) in out.stderr and message in out.stderr, out.stderr
        assert len(out.stderr.splitlines()) == 1
    # all or nothing: the broken plug-in's first registration is rolled back
    script = (f"from sandbox import plugins, methods\ntry:\n    plugins.load({str(broken)!r})\nexcept ValueError:\n"
              f"    pass\nprint('mine' in methods.names())")
    assert _run("-c", script, cwd=tmp_path).stdout.strip() == "False"


def test_an_installed_plugin_loads_by_its_entry_point(tmp_path):
    # a package that declares the entry point, made importable by PYTHONPATH with its metadata beside it
    (tmp_path / "my_rules.py").write_text(EXAMPLE.read_text())
    info = tmp_path / "my_rules-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-rules\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\nmy-rules = my_rules\n")
    out = _run("-m", "sandbox", "claims", "--fast", "--only", "rising-cfg-keeps-spread", cwd=tmp_path,
               env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0 and "rising-cfg-keeps-spread" in out.stdout, out.stderr


# ---------------------------------------------------------------------------------------------- code fingerprints
SCRIPT = """
import json, sys
from sandbox import checkpoints, claims, plugins, separation, training
plugins.load(sys.argv[1])
small = dict(mixture="two_gaussians_1d", ws=(2.0,), lams=(), n=200, steps=8, fidelity=False)
out = {}
for methods in (("cfg",), ("cfg-rising",)):
    rows = separation.sweep(separation.SweepConfig(methods=methods, **small), progress=False)
    out[methods[0]] = rows[0].metrics["entropy"].value
both = separation.sweep(separation.SweepConfig(methods=("cfg", "cfg-rising"), **{**small, "ws": (2.0, 3.0)}),
                        progress=False)
out["both"] = [r.metrics["entropy"].value for r in both]
config = training.TrainConfig(mixture="two_gaussians_1d", steps=5, batch=16)
checkpoints.cached_training({"train": config}, lambda: training.train(config, progress=False))
out["claim"] = claims.run(("rising-cfg-keeps-spread",), fast=True)["rising-cfg-keeps-spread"].verdict
print(json.dumps(out))
"""


@pytest.mark.slow
def test_an_edit_recomputes_what_it_changes_and_reuses_the_rest(tmp_path, plugin, package_copy):
    package = package_copy
    store = tmp_path / "cache"
    env = {"PYTHONPATH": str(package), "MCLR_SANDBOX_CACHE": str(store)}

    def run() -> tuple[dict, dict[str, set[str]]]:
        out = _run("-c", SCRIPT, str(plugin), cwd=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        # whole results only (a sweep's units are entries of their own, named "separation-setting-...")
        kinds = ("separation", "net", "claim", "separation-setting")
        entries = {k: {p.name for p in store.glob(f"{k}-*") if re.fullmatch(rf"{k}-[0-9a-f]{{20}}\.pt", p.name)}
                   for k in kinds}
        return json.loads(out.stdout), entries

    first, before = run()
    # the two-method sweep's units (cfg, cfg-rising at w = 2, 3) are the one-method sweeps' at w = 2, and two more
    assert first["claim"] == "holds" and {k: len(v) for k, v in before.items()} == \
        {"separation": 3, "net": 1, "claim": 1, "separation-setting": 4}
    assert first["both"][0] == first["cfg"]
    assert run() == (first, before)                               # unchanged code: every entry reused

    # a constant inside a metric (the entropy estimator's neighbour count): the sweeps and the plug-in's claim
    # measure with metrics (the claim imports them), the training loop does not
    metrics = package / "sandbox" / "experiments" / "metrics.py"
    metrics.write_text(metrics.read_text().replace("entropy(x: Tensor, k: int = 4,", "entropy(x: Tensor, k: int = 6,"))
    second, after = run()
    assert second["cfg"] != first["cfg"] and second["cfg-rising"] != first["cfg-rising"]     # new code, new numbers
    assert len(after["separation"] - before["separation"]) == 3 and len(after["claim"] - before["claim"]) == 1
    assert after["net"] == before["net"]

    # the plug-in's claim threshold: its claim, the sweeps that name its rule and that rule's units are recomputed;
    # cfg's units, in a sweep with the plug-in's rule too, are not
    plugin.write_text(plugin.read_text().replace("SPREAD = 0.1 ", "SPREAD = 0.5 "))
    third, last = run()
    assert third["claim"] == "fails"                              # not the stale "holds"
    assert len(last["claim"] - after["claim"]) == 1 and len(last["separation"] - after["separation"]) == 2
    assert len(last["separation-setting"] - after["separation-setting"]) == 2      # cfg-rising at w = 2 and 3
    assert last["net"] == after["net"] and third["cfg"] == second["cfg"] and third["both"][:2] == second["both"][:2]


def test_the_fingerprint_follows_imports_and_registered_names():
    training = provenance.closure(["sandbox.learn.training"])
    assert "sandbox.methods.registry" in training and "sandbox.experiments.metrics" not in training
    assert "sandbox.experiments.metrics" in provenance.closure(["sandbox.experiments.separation"])
    # a registered name in a config adds the code behind it; other strings add nothing
    assert provenance.fingerprint([], {"methods": ["cfg"]}) != provenance.fingerprint([], {"methods": ["nope"]})
    assert provenance.fingerprint([], {"x": "nope"}) == provenance.fingerprint([])
    # a short name (from sandbox import metrics) is followed to its module
    assert "sandbox.experiments.metrics" in provenance.closure(["sandbox.metrics"])
    cfg = methods.get("cfg")
    assert provenance.named(["cfg"]) == [cfg.exact, cfg.nets]
    # keys differ by code: the same name and config computed by other modules is another entry
    assert cache.key_of("x", {"v": 1}, ["sandbox.experiments.metrics"]) != cache.key_of("x", {"v": 1})
