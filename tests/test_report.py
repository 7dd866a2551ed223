"""The generated results page: it matches what the code computes, and a changed number is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import cli
from sandbox.viz import report

PAGE = Path(__file__).resolve().parents[1] / "docs" / "results-fast.md"


def test_numbers_compare_to_their_last_printed_digit():
    assert report.differences("a 0.1234 b", "a 0.1235 b") == []            # one unit in the last digit
    assert report.differences("a 0.1234 b", "a 0.1236 b")                  # two units: a real change
    assert report.differences("x 1.5e-03", "x 1.6e-03") == []
    assert report.differences("x 1.5e-03", "x 1.7e-03")
    assert report.differences("zero 1.85e-16", "zero -3.7e-17") == []      # both rounding noise of 0
    assert report.differences("- time: cfg 0.03 s", "- time: cfg 0.09 s") == []    # wall times: not compared
    assert report.differences("cfg holds", "cfg fails")                    # text must match exactly
    assert report.differences("a\nb", "a")                                 # so must the line count


@pytest.mark.slow
def test_the_committed_fast_page_is_what_the_code_computes(tmp_path, capsys):
    fresh = report.build(fast=True)
    assert report.differences(PAGE.read_text(), fresh) == [], "stale: run mclr-sandbox report --fast"
    # through the command: passes on the committed page, fails once a number in it is changed
    changed = tmp_path / "results-fast.md"
    text = PAGE.read_text()
    line = next(i for i, s in enumerate(text.splitlines()) if s.startswith("cfg ") and "±" in s)
    lines = text.splitlines()
    cell = lines[line].split()[3]                        # the row's first measured value, e.g. "0.8255"
    lines[line] = lines[line].replace(cell, str(round(float(cell) * 1.5 + 0.1, 4)), 1)
    changed.write_text("\n".join(lines) + "\n")
    assert cli.main(["report", "--fast", "--check", "--out", str(PAGE)]) == 0
    assert cli.main(["report", "--fast", "--check", "--out", str(changed)]) == 1
    assert f"line {line + 1}:" in capsys.readouterr().out
