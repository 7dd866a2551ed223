"""The frame-sensitivity result: which rules it covers and what it reports
(sandbox/experiments/frame_sensitivity.py)."""

from __future__ import annotations

import pytest

from sandbox import frame_sensitivity, frames, methods


def test_it_covers_exactly_the_rules_with_a_frame_parameter_and_measures_them():
    assert set(frame_sensitivity.framed()) == {"apg", "cfg-zero-star", "cfg-rescale", "tcfg", "mambo-g"}
    config = frame_sensitivity.Config(mixtures=("overlap_2d",), sigmas=(0.3, 3.0), n=200)
    rows = frame_sensitivity.run(config)
    assert len(rows) == 5 * len(frames.NAMES)
    for row in rows:
        native = row["frame"] == methods.get(row["method"]).frame
        # TCFG's projection commutes with scaling each row, and eps = -sigma s: on scores it is the same rule
        same = row["method"] == "tcfg" and row["frame"] == "score"
        # 0 in the paper's own frame, by the same code path; elsewhere the field moves
        assert all(m == 0.0 for m in row["moved"]) if native else (
            all(m < 1e-12 for m in row["moved"]) if same else all(m > 1e-4 for m in row["moved"])), row
    text = frame_sensitivity.table(rows, config)
    assert "cfg-zero-star (flow)" in text and "sigma=0.3" in text
    with pytest.raises(ValueError, match=r"frame sensitivity\.n"):
        frame_sensitivity.run(frame_sensitivity.Config(n=0))
