"""Every notebook runs headless from a clean kernel, in its fast setting (SANDBOX_FAST=1), and shows each of its
figures exactly once, in the cell that makes it.

Notebooks are stored as jupytext percent-format ``.py`` files (reviewable diffs); the test converts each to
a notebook in memory and executes it with nbclient, the library behind ``jupyter nbconvert --execute``, with
Jupyter's own inline backend (as a reader sees it).
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.py"))
# images shown by each code cell, in order: a figure missing or shown twice is a failure
FIGURES_PER_CELL = {
    "01_zoo_tour": [0, 1, 0, 1, 1],
    "02_cfg_is_weighted_mclr": [0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0],
    "03_inter_class_separation": [0, 1, 0, 1, 0, 1, 1, 0],
    "04_dsm_vs_mclr_mlps": [0, 1, 0],
    "05_cfg_intuition": [0, 3],
    "06_guidance_atlas": [0, 1, 0, 1, 1, 0, 1],
    "07_claims": [0, 1, 1, 1, 1, 1, 1],
    "08_posterior_explorer": [0, 1, 1, 1],
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless_and_shows_each_figure_once(path, tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_FAST", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)       # the kernel's inline backend, as in Jupyter
    nb = jupytext.read(path)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=dict(os.environ))
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    shown = [sum("image/png" in o.get("data", {}) for o in cell.get("outputs", [])) for cell in code]
    assert shown == FIGURES_PER_CELL[path.stem]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"
    assert sorted(FIGURES_PER_CELL) == [p.stem for p in NOTEBOOKS]
