"""Measures are declared once (sandbox/experiments/measures.py): every table that reports one takes its heading from
there, so a measure has one name and one heading wherever it is shown."""

from __future__ import annotations

import pytest

from sandbox import comparison, measures, separation, trained_atlas


def test_every_reported_column_is_a_registered_measure_with_its_heading():
    for table in (separation.COLUMNS, trained_atlas.MEASURES, comparison.HEADINGS):
        assert table == {key: measures.MEASURES[key].heading for key in table}
    # the same measure reads the same in every table (the comparison said "entropy" and "energy distance to exact
    # CFG" where the atlas said "entropy (nats)" and "energy distance to CFG")
    assert comparison.HEADINGS["entropy"] == separation.COLUMNS["entropy"] == "entropy (nats)"
    assert comparison.HEADINGS["energy_distance_cfg"] == trained_atlas.MEASURES["energy_distance_cfg"]


def test_a_measure_is_registered_once_and_an_unknown_key_is_named():
    with pytest.raises(ValueError, match="registered already"):
        measures.register(measures.MEASURES["entropy"])
    with pytest.raises(TypeError, match="register takes a Measure"):
        measures.register("entropy")
    with pytest.raises(ValueError, match="'entropie'"):
        measures.heading("entropie")


def test_each_measure_names_the_metrics_function_that_computes_it():
    from sandbox import metrics

    for measure in measures.MEASURES.values():
        assert not measure.compute or callable(getattr(metrics, measure.compute, None)), measure.key
