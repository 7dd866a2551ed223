"""Experiments are records (sandbox/experiments/experiment.py), one module each in sandbox/experiments/catalog: the
results page's sections and the experiment commands are built from the registry, so a new experiment is one new
file, found by the command line, the report and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sandbox import catalog, cli, experiment, report

TOY = '''
"""A toy experiment: the mean of n draws."""

from dataclasses import dataclass, replace

import torch

from ..experiment import Experiment, Option, Section, block, register
from ...core.validation import COUNT


@dataclass(frozen=True)
class ToyConfig:
    n: int = 1000
    seed: int = 0


def _config(fast):
    return replace(ToyConfig(), n=10) if fast else ToyConfig()


def _run(config, progress):
    x = torch.randn(config.n, generator=torch.Generator().manual_seed(config.seed), dtype=torch.float64)
    return {"n": config.n, "mean": float(x.mean())}


def _page(fast):
    result = _run(_config(fast), False)
    return block(f"n = {result['n']}: mean {result['mean']:.4f}")


register(Experiment(
    "toy", sections=(Section("toy", "A toy mean", "mclr-sandbox toy: the mean of n draws", _page),),
    summary="the mean of n draws", description="Draw n normal numbers and print their mean.",
    examples="  mclr-sandbox toy --fast", config=_config, run=_run,
    header=lambda config, result: f"{config.n} draws", table=lambda r: f"mean {r['mean']:.4f}",
    as_json=lambda r: r, options=(Option("--n", "n", "how many draws", limit=COUNT),), sweeps=False))
'''


def test_the_page_is_the_experiments_sections_in_order():
    assert list(catalog.MODULES[:len(catalog.ORDER)]) == list(catalog.ORDER)
    assert list(experiment.sections()) == ["verify", "separation", "atlas", "frames", "atlas-nets", "curves",
                                           "gradient-noise", "recipe", "fitted", "claims", "compare", "audit"]
    # the experiments with a run have a command each, with their options as flags
    assert {"separation", "compare"} <= set(cli.REGISTRY)
    with pytest.raises(ValueError, match="experiment 'compare' is registered already"):
        experiment.register(experiment.EXPERIMENTS["compare"])
    section = experiment.EXPERIMENTS["compare"].sections[0]
    with pytest.raises(ValueError, match=r"page sections \['compare'\] are registered already"):
        experiment.register(experiment.Experiment("compare-again", sections=(section,)))
    with pytest.raises(TypeError, match="register takes an Experiment"):
        experiment.register("compare")
    with pytest.raises(ValueError, match="needs config, run, table and as_json together"):
        experiment.Experiment("half", run=lambda c, p: None)
    with pytest.raises(ValueError, match="neither page sections nor a run"):
        experiment.Experiment("empty")


def test_options_set_fields_of_the_config_nested_ones_included():
    config = experiment.configure("compare", True, {"train.mixture": "teaching_1d", "seeds": (4, 5)})
    assert config.train.mixture.name == "teaching_1d" and config.seeds == (4, 5)
    assert config.train.steps == experiment.configure("compare", True, {}).train.steps     # fast as before
    assert report.differences(report.build(True, only=["frames"]), report.build(True, only=["frames"])) == []


def test_a_new_experiment_is_one_file_found_by_the_command_line_the_report_and_its_json(tmp_path, package_copy,
                                                                                       copy_cli):
    (package_copy / "sandbox" / "experiments" / "catalog" / "toy.py").write_text(TOY)
    run = copy_cli

    out = tmp_path / "toy.json"
    done = run("toy", "--fast", "--n", "25", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("25 draws\nmean ")
    report_json = json.loads(out.read_text())
    assert report_json["command"] == "toy" and report_json["config"]["n"] == 25 and report_json["results"]["n"] == 25
    assert run("toy", "--n", "0").returncode == 2                  # the option's declared limit
    page = tmp_path / "page.md"
    assert run("report", "--fast", "--only", "toy", "--out", str(page)).returncode == 0
    assert "## A toy mean" in page.read_text() and "n = 10: mean" in page.read_text()
    assert "toy" in run("--help").stdout


def test_an_experiment_from_a_plugin_gets_its_command(tmp_path):
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text(TOY.replace("from ..experiment", "from sandbox.experiments.experiment")
                      .replace("from ...core.validation", "from sandbox.core.validation"))
    done = subprocess.run([sys.executable, "-m", "sandbox", "toy", "--fast", "--plugin", str(plugin)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0 and done.stdout.startswith("10 draws\n"), done.stderr


@pytest.mark.parametrize("command", ["compare", "separation", "verify"])
def test_an_experiments_input_file_is_never_its_output(tmp_path, capsys, command):
    from sandbox import zoo

    mixture = tmp_path / "m.json"
    zoo.overlap_2d().save(mixture)
    before = mixture.read_bytes()
    # compare's --mixture sets a nested field (train.mixture): the guard still knows it for an input
    assert cli.main([command, "--fast", "--quiet", "--mixture", str(mixture), "--json", str(mixture)]) == 2
    assert "--mixture" in capsys.readouterr().err and mixture.read_bytes() == before


@pytest.mark.parametrize("command, field", [("compare", "train.mixture"), ("gradient-noise", "nets.train.mixture")])
def test_a_file_named_by_set_is_an_input_too(tmp_path, capsys, command, field):
    from sandbox import zoo

    mixture = tmp_path / "m.json"
    zoo.overlap_2d().save(mixture)
    before = mixture.read_bytes()
    assert cli.main([command, "--fast", "--quiet", "--set", f"{field}={mixture}", "--json", str(mixture)]) == 2
    assert "is --set" in capsys.readouterr().err and mixture.read_bytes() == before


def test_an_experiment_named_like_a_command_is_one_line_naming_its_plugin(tmp_path):
    plugin = tmp_path / "clash.py"
    plugin.write_text("from sandbox.experiments.experiment import Experiment, register\n"
                      "register(Experiment('zoo', summary='x', config=lambda fast: None, run=lambda c, p: 1, "
                      "table=str, as_json=str))\n")
    done = subprocess.run([sys.executable, "-m", "sandbox", "zoo", "--plugin", str(plugin)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"experiment 'zoo' (from {plugin}) cannot be a command: command 'zoo' is registered already" in done.stderr


def test_set_changes_any_field_of_an_experiments_config_by_its_type(tmp_path, capsys):
    out = tmp_path / "sep.json"
    assert cli.main(["separation", "--fast", "--mixture", "teaching_1d", "--methods", "cfg", "--set", "n=300",
                     "--set", "ws=0,1", "--json", str(out)]) == 0
    config = json.loads(out.read_text())["config"]
    assert config["n"] == 300 and config["ws"] == [0.0, 1.0]                  # an int, a tuple of floats
    assert experiment.settings("compare", True, ["train.steps=7"]) == {"train.steps": 7}     # a nested field
    capsys.readouterr()
    for item, message in (("nn=3", "has no field 'nn' (its fields: mixture, ws"),
                          ("n=many", "separation.n must be int"), ("n", "--set takes FIELD=VALUE")):
        assert cli.main(["separation", "--fast", "--set", item]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    # claims keep their own --set CLAIM.SETTING=VALUE, the only --set of that command
    sub = next(a for a in cli.build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    claims_set = [a for a in sub.choices["claims"]._actions if "--set" in a.option_strings]
    assert len(claims_set) == 1 and claims_set[0].metavar == "CLAIM.SETTING=VALUE"
