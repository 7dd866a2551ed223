"""Commands are records: the parser is built from ``cli.REGISTRY`` in one loop, so a command registered by a plug-in
(or by a new module in ``sandbox/cli/commands``) is a subcommand like the package's own."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from sandbox import cli

PLUGIN = '''
from sandbox import cli

def _run(args):
    print(f"hello {args.name}{' (fast)' if args.fast else ''}")
    return 0

def _options(p):
    p.add_argument("--name", default="world")

cli.register(cli.Command("hello", "say hello", "Say hello to --name.", "  mclr-sandbox hello --name you", _run,
                         options=_options, fast="quickly"))
'''


def test_the_parser_has_one_subcommand_per_record_with_the_flags_it_declares():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli.REGISTRY)
    for name, command in cli.REGISTRY.items():
        flags = {f for action in sub.choices[name]._actions for f in action.option_strings}
        assert ("--fast" in flags) == (command.fast is not None), name
        assert ("--json" in flags) == (command.json is not None), name
        assert ("--quiet" in flags) == command.progress, name
        assert ("--workers" in flags) == command.sweeps, name
        assert {"--threads", "--plugin", "--debug"} <= flags, name


def test_a_command_registered_by_a_plugin_runs_like_the_packages_own(tmp_path):
    plugin = tmp_path / "hello_plugin.py"
    plugin.write_text(PLUGIN)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sandbox", *args, "--plugin", str(plugin)], capture_output=True,
                              text=True, cwd=tmp_path, timeout=300)

    said = run("hello", "--fast", "--name", "you")
    assert (said.returncode, said.stdout) == (0, "hello you (fast)\n"), said.stderr
    listed = run("--help")
    assert listed.returncode == 0 and "say hello" in listed.stdout and "mclr-sandbox hello --name you" in listed.stdout
    # a name already taken: one line naming the plug-in and the name, exit 2
    plugin.write_text(PLUGIN.replace('"hello", "say hello"', '"zoo", "say hello"'))
    clash = run("zoo")
    assert clash.returncode == 2 and "command 'zoo' is registered already" in clash.stderr
    assert len(clash.stderr.strip().splitlines()) == 1


def test_register_takes_a_command_with_a_new_name():
    with pytest.raises(ValueError, match="command 'zoo' is registered already"):
        cli.register(cli.REGISTRY["zoo"])
    with pytest.raises(TypeError, match="register takes a Command"):
        cli.register("zoo")


def test_building_the_command_line_runs_no_experiment_code():
    # every command builds the parser first: the experiments' records are read, their code (scipy, sympy, the
    # figures) is imported only when one runs (experiment.lazy); a new interpreter, so nothing is loaded before
    code = ("import sys, types; from sandbox import cli; cli.build_parser(); "
            "print(sorted(m for m in ('scipy', 'sympy', 'matplotlib', 'sandbox.experiments.verification', "
            "'sandbox.experiments.metrics', 'sandbox.experiments.claims') "
            "if type(sys.modules.get(m)) is types.ModuleType))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout, out.stderr)
    # and running one loads what it needs
    assert cli.main(["separation", "--fast", "--mixture", "teaching_1d", "--methods", "cfg"]) == 0
