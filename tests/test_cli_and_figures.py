"""Command line and figure builder: exit codes, JSON output, deterministic and atomic files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sandbox import cli, figures, verification
from sandbox.core.files import atomic_open


def test_help_shows_example_calls():
    out = subprocess.run([sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, check=True)
    assert "mclr-sandbox figures" in out.stdout and "mclr-sandbox verify --fast" in out.stdout


@pytest.mark.parametrize("passed", [True, False])
def test_verify_exit_code_and_json(monkeypatch, tmp_path, capsys, passed):
    fake = [verification.CheckResult("closed-form", "toy sigma=1 w=2", 1e-12 if passed else 1.0, 1e-10, passed)]
    monkeypatch.setattr(verification, "run_all", lambda fast, progress, mixtures, seed, checks: fake)
    out = tmp_path / "r.json"
    code = cli.main(["verify", "--fast", "--quiet", "--json", str(out)])
    assert code == (0 if passed else 1)
    table = capsys.readouterr().out
    # a residual of rounding noise names no setting (which one rounds worst differs between CPUs); a failure does
    assert ("every residual below 1e-09" if passed else "toy sigma=1 w=2") in table
    assert ("pass" if passed else "FAIL") in table
    data = json.loads(out.read_text())
    assert data["results"][0]["passed"] is passed


def test_figures_are_byte_identical_across_runs(tmp_path):
    a = figures.build(["zoo"], tmp_path / "a", fast=True, progress=False)
    b = figures.build(["zoo"], tmp_path / "b", fast=True, progress=False)
    assert [p.name for p in a] == ["zoo.pdf", "zoo.png"]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_unknown_figure_is_a_clear_error(capsys):
    assert cli.main(["figures", "--only", "nope", "--quiet"]) == 2
    assert "names must be figure names" in capsys.readouterr().err


def test_atomic_open_leaves_no_partial_file(tmp_path):
    target = tmp_path / "x.json"
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_figures_check_passes_on_identical_and_fails_on_changed_images(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    reference = tmp_path / "ref"
    figures.build(["zoo"], reference, fast=True, progress=False)
    fast_zoo = figures.FIGURES["zoo"]
    try:   # --check regenerates the full-size figure: compare against the fast one by building it the same way
        figures.FIGURES["zoo"] = figures.FigureSpec("zoo", lambda fast: fast_zoo.fn(True), fast_zoo.summary,
                                                    fast_zoo.reproducible)
        [(name, rms, ok, note)] = figures.check(["zoo"], reference, progress=False)
        assert name == "zoo" and rms == 0.0 and ok and note == figures.NEAR
        png = reference / "zoo.png"
        pixels = np.asarray(Image.open(png).convert("RGB")).copy()
        pixels[100:300, 100:400] = 0                                    # a black box: a real change
        Image.fromarray(pixels).save(png)
        [(_, rms, ok, _)] = figures.check(["zoo"], reference, progress=False)
        assert rms > figures.CHECK_TOLERANCE and not ok
        assert cli.main(["figures", "--check", "--only", "zoo", "--out", str(reference), "--quiet"]) == 1
        assert "DIFFERS" in capsys.readouterr().out
    finally:
        figures.FIGURES["zoo"] = fast_zoo
