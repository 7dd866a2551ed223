"""Every notebook runs headless from a clean kernel, in its fast setting (SANDBOX_FAST=1).

Notebooks are stored as jupytext percent-format ``.py`` files (reviewable diffs); the test converts each to
a notebook in memory and executes it with nbclient, the library behind ``jupyter nbconvert --execute``.
"""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless(path, tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(path)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=dict(os.environ))
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"
