"""Measures are declared once (sandbox/experiments/measures.py): every table that reports one takes its heading from
there, so a measure has one name and one heading wherever it is shown."""

from __future__ import annotations

import pytest

from sandbox import comparison, measures, separation, yardsticks


def test_every_reported_column_is_a_registered_measure_with_its_heading():
    for table in (separation.COLUMNS, yardsticks.MEASURES, comparison.HEADINGS):
        assert table == {key: measures.MEASURES[key].heading for key in table}
    # the same measure reads the same in every table (the comparison said "entropy" and "energy distance to exact
    # CFG" where the atlas said "entropy (nats)" and "energy distance to CFG")
    assert comparison.HEADINGS["entropy"] == separation.COLUMNS["entropy"] == "entropy (nats)"
    assert comparison.HEADINGS["energy_distance_cfg"] == yardsticks.MEASURES["energy_distance_cfg"]


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


def test_the_measures_of_samples_are_the_metrics_they_name():
    # the report of a class's samples, measure by measure, against the metrics called directly (the route the
    # separation report took before measures computed themselves): the same numbers, bit for bit
    from sandbox import metrics, zoo

    gmm = zoo.get("overlap_2d")
    x = gmm.sample(300, c=1, generator=3)
    got = measures.report(gmm, x, 1, measures.of_samples(), seed=5)
    direct = {"bayes_accuracy": metrics.bayes_accuracy(gmm, x, 1),
              "mean_posterior": metrics.mean_posterior(gmm, x, 1),
              "log_ratio_mean": metrics.log_ratio(gmm, x, 1, "mean"),
              "log_ratio_min": metrics.log_ratio(gmm, x, 1, "min"),
              "leakage": metrics.leakage(gmm, x, 1), "mode_coverage": metrics.mode_coverage(gmm, x, 1, seed=5),
              "entropy": metrics.entropy(x), "covariance_trace": metrics.covariance_trace(x, seed=5)}
    assert list(got) == list(direct) and got == direct
    with pytest.raises(ValueError, match="'energy_distance'"):      # it needs a reference sample
        measures.report(gmm, x, 1, ("energy_distance",))


RADIUS = '''
"""A toy measure: the mean distance of the samples from the origin."""

from .. import metrics
from . import Measure, register

register(Measure("radius", "mean radius", "mean radius", "further out",
                 samples=lambda gmm, x, c, seed: metrics.normal_mean(x.norm(dim=1))))
'''


def test_a_new_measure_is_one_file_found_by_the_command_line_the_report_and_its_json(tmp_path, package_copy,
                                                                                    copy_cli):
    import json

    (package_copy / "sandbox" / "experiments" / "measures" / "radius.py").write_text(RADIUS)
    run = copy_cli

    out = tmp_path / "separation.json"
    done = run("separation", "--fast", "--mixture", "teaching_1d", "--methods", "cfg", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "mean radius" in done.stdout.splitlines()[1]                        # a column of the table
    rows = json.loads(out.read_text())["results"]["rows"]
    assert all("radius" in row["metrics"] for row in rows)
    assert json.loads(out.read_text())["config"]["measures"][-1] == "radius"   # in the config: its cache key
    page = tmp_path / "page.md"
    assert run("report", "--fast", "--only", "separation", "--out", str(page)).returncode == 0
    assert "mean radius" in page.read_text()
