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
    assert [p.name for p in a] == ["zoo.pdf", "zoo.png", "zoo.json"]
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


def test_figures_check_compares_what_is_drawn_as_numbers(tmp_path):
    import json

    from sandbox.viz.figures import drawn

    reference = tmp_path / "ref"
    figures.build(["zoo"], reference, fast=True, progress=False)
    committed = json.loads((reference / "zoo.json").read_text())
    tol = drawn.TOLERANCE

    def moved(edit) -> list[str]:
        copy = json.loads(json.dumps(committed))
        edit(copy)
        return drawn.differences(copy, committed)

    assert moved(lambda d: None) == []
    # the first artist with points: one coordinate (of a point, or of a cloud's mean) moved by a tenth of the
    # tolerance (float noise across CPUs is far smaller) passes; by twice the tolerance (under a pixel) fails,
    # naming it
    axes, index = next((i, j) for i, a in enumerate(committed["axes"]) for j, r in enumerate(a["artists"])
                       if r.get("points", {}).get("all") or "mean" in r.get("points", {}))

    def shift(by: float):
        def edit(d: dict) -> None:
            points = d["axes"][axes]["artists"][index]["points"]
            if "all" in points:
                points["all"][0][0] += by
            else:
                points["mean"][0] += by
        return edit

    assert moved(shift(0.1 * tol)) == []
    [line] = moved(shift(2 * tol))
    assert f"axes {axes + 1}" in line and f"artist {index + 1}" in line and "of the axes" in line
    # limits scaled as a whole (the fractions unchanged) differ; a printed number changed in a title differs
    def scale(d: dict) -> None:
        d["axes"][0]["ylim"] = [v * 1.01 for v in d["axes"][0]["ylim"]]
    assert any("y limits" in line for line in moved(scale))
    titled = next(i for i, a in enumerate(committed["axes"]) if a["texts"])

    def retitle(d: dict) -> None:
        d["axes"][titled]["texts"][0] += " 1.5"
    assert any("text" in line for line in moved(retitle))
    # a damaged record fails its figure, naming the file, and the check goes on
    fast_zoo = figures.FIGURES["zoo"]
    try:
        figures.FIGURES["zoo"] = figures.FigureSpec("zoo", lambda fast: fast_zoo.fn(True), fast_zoo.summary,
                                                    fast_zoo.reproducible)
        for damage in ("{bad", '{"texts": []}'):
            (reference / "zoo.json").write_text(damage)
            [(_, _, ok, note)] = figures.check(["zoo"], reference, progress=False)
            assert not ok and note.startswith(f"{reference / 'zoo.json'} is not a record of a drawn figure")
    finally:
        figures.FIGURES["zoo"] = fast_zoo


def test_what_a_figure_draws_is_read_in_its_axes_frame():
    from sandbox.viz.figures import drawn
    from sandbox.viz.plotting import plt

    fig, (linear, log) = plt.subplots(1, 2)
    linear.plot([0.0, 1.0], [0.0, 2.0], label="line")
    linear.set_xlim(0.0, 1.0)
    linear.set_ylim(0.0, 4.0)
    linear.scatter([0.5], [1.0], c=[3.0], vmin=2.0, vmax=4.0)
    log.plot([1.0, 10.0], [1.0, 100.0])
    log.set_xscale("log")
    log.set_yscale("log")
    log.set_xlim(1.0, 100.0)
    log.set_ylim(1.0, 100.0)
    record = drawn.drawn(fig)
    plt.close(fig)
    first, second = record["axes"]
    line, dots = first["artists"]
    # (0, 0) and (1, 2) on [0, 1] x [0, 4]: (0, 0) and (1, 0.5); the dot (0.5, 1) at (0.5, 0.25), its colour 3 at
    # the middle of [2, 4]
    assert line["label"] == "line" and line["points"]["all"] == [[0.0, 0.0], [1.0, 0.5]]
    assert dots["points"]["all"] == [[0.5, 0.25]] and dots["values"]["all"] == [[0.5]]
    # log axes in log units: x 1 and 10 on [1, 100] at 0 and 0.5; y 1 and 100 at 0 and 1
    assert second["artists"][0]["points"]["all"] == [[0.0, 0.0], [0.5, 1.0]]
    assert (second["xscale"], second["ylim"]) == ("log", [1.0, 100.0])
