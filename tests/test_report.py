"""The generated results page: it matches what the code computes, and a changed number is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import cli, report

PAGE = Path(__file__).resolve().parents[1] / "docs" / "results-fast.md"


def test_numbers_compare_to_the_last_digit_the_code_prints():
    # the tolerance is one unit of the *fresh* number's last digit (the second argument), never the committed one's
    assert report.differences("a 0.1234 b", "a 0.1235 b") == []            # one unit in the last digit
    assert report.differences("a 0.1234 b", "a 0.1236 b")                  # two units: a real change
    assert report.differences("x 1.5e-03", "x 1.6e-03") == []
    assert report.differences("x 1.5e-03", "x 1.7e-03")
    assert report.differences("- time: cfg 0.03 s", "- time: cfg 0.09 s") == []    # wall times: not compared
    assert report.differences("cfg holds", "cfg fails")                    # words must match exactly
    assert report.differences("a\nb", "a")                                 # so must the line count


@pytest.mark.parametrize("committed, fresh", [
    ("0.8255", "0.8255"), ("1e+000", "0.8255"), ("1e+01", "13.85"), ("0.8", "0.8255"), ("0.826", "0.8255")])
def test_a_number_rewritten_at_any_width_is_caught(committed, fresh):
    # 0.8255 is printed to 0.0001: "1e+000" (the same width), "0.8" and "0.826" are all more than 0.0001 away
    found = report.differences(f"cfg  {committed} ±0.018  x", f"cfg  {fresh} ±0.018  x")
    assert (found == []) == (committed == fresh)


def test_rounding_noise_of_an_exact_zero_and_padding_do_not_differ():
    # what a second machine printed for the same exact zeros: other noise, hence other column padding
    committed = "classifier-guidance  4  -3.701e-17 ±0.0036      0.1941 ±0.028   4.151e-15 ±2.2e-16"
    fresh = "classifier-guidance  4  0 ±0.0036               0.1941 ±0.028   0 ±0"
    assert report.differences(committed, fresh) == []
    assert report.differences("x 1e-08 y", "x 0 y")                        # above the floor (1e-9): not noise
    assert report.differences("x 0.3 y", "x 0 y")                          # a printed 0 has no digit to round
    assert report.differences("a 1 2 b", "a 12 b")                          # padding may move, not appear


def test_tables_print_an_exact_zero_as_zero():
    from sandbox.core.tables import FLOOR, estimate

    assert estimate(-3.701e-17, 8.4e-17) == "0 ±0"
    assert estimate(0.0123456, 0.00346) == "0.01235 ±0.0035"
    assert estimate(FLOOR, FLOOR) == f"{FLOOR:.4g} ±{FLOOR:.2g}"             # the floor itself is printed


@pytest.mark.slow
def test_the_committed_fast_page_is_what_the_code_computes(tmp_path, capsys, monkeypatch):
    fresh = report.build(fast=True)
    assert report.differences(PAGE.read_text(), fresh) == [], "stale: run mclr-sandbox report --fast"
    # through the command, on that same fresh page (the verify section is recomputed on every build, a minute):
    # passes on the committed page, fails once a number in it is changed
    monkeypatch.setattr(report, "build", lambda fast=False, only=None: fresh)
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


def test_only_rewrites_its_sections_in_place_and_keeps_the_others(tmp_path):
    page = tmp_path / "results-fast.md"
    edited = PAGE.read_text().replace("## Claims checked\n", "## Claims checked\n\na note kept as written\n", 1)
    page.write_text(edited)
    # the frame-sensitivity section (a fraction of a second) recomputed: the same text, the rest untouched
    report.write(page, fast=True, only=["frames"])
    assert page.read_text() == edited
    with pytest.raises(ValueError, match="not a page of full settings"):
        report.write(page, fast=False, only=["frames"])          # a full section into the fast page
    # no page yet: a page of that section alone, with its own table of contents
    alone = tmp_path / "alone.md"
    report.write(alone, fast=True, only=["frames"])
    assert list(report.sections_of(alone.read_text())) == ["Frame sensitivity (exact fields)"]
