"""One command per registered experiment with a ``run`` (``experiments.experiment``), all with one handler: the
experiment's config for ``--fast`` or the full settings, ``--set FIELD=VALUE`` for any field, its options applied
field by field, its run, then its header, table, summary lines and JSON report."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ...core import plugins
from ...experiments import catalog  # noqa: F401  (registers the package's experiments)
from ...experiments.experiment import EXPERIMENTS, Experiment, configure, settings
from ..options import add_option, progress
from ..output import emit
from ..registry import Command, register


def handler(experiment: Experiment) -> Callable[[argparse.Namespace], int]:
    """The command of ``experiment``: run it on the config its flags describe and report the result."""
    def run(args: argparse.Namespace) -> int:
        t0 = time.perf_counter()
        given = [(option, option.value(getattr(args, option.dest))) for option in experiment.options]
        view = {option.field: value for option, value in given if option.view}
        changes = settings(experiment.name, args.fast, getattr(args, "settings", None) or [])
        config = configure(experiment.name, args.fast,
                           {**changes, **{o.field: v for o, v in given if not o.view and v is not None}})
        result = experiment.run(config, progress(args))
        if experiment.header is not None:
            print(experiment.header(config, result))
        lines = [*experiment.lines(result, **view), *experiment.after(result, **view)]
        recorded = config if experiment.record is None else experiment.record(config, result)
        emit(experiment.table(result, **view), lines, t0, args, recorded,
             experiment.mixture(config, result), lambda: experiment.as_json(result))
        return experiment.status(result)
    return run


def command(experiment: Experiment) -> Command:
    """``experiment`` as a subcommand of ``mclr-sandbox``."""
    def options(p: argparse.ArgumentParser) -> None:
        for option in experiment.options:
            add_option(p, option)
        if all(option.flag != "--set" for option in experiment.options):     # claims' --set is its claims'
            p.add_argument("--set", dest="settings", action="append", metavar="FIELD=VALUE",
                           help="set any field of the config (its JSON report's config shows them), e.g. n=500 or "
                                "train.steps=400; repeatable, applied before the flags above")
    return Command(experiment.name, experiment.summary, experiment.description, experiment.examples,
                   handler(experiment), options=options, fast=experiment.fast, json=experiment.json,
                   sweeps=experiment.sweeps, reads=tuple((o.dest, o.flag) for o in experiment.options if o.reads))


_COMMANDS: set[str] = set()     # experiments already given their command


def register_all() -> None:
    """A command for every registered experiment with a ``run`` (plug-ins' included: ``main.build_parser`` calls
    this after loading them); a name another command has is an error, as for any command."""
    for experiment in EXPERIMENTS.values():
        if experiment.run is not None and experiment.name not in _COMMANDS:
            try:
                register(command(experiment))
            except ValueError as err:
                origin = plugins.LOADED.get(getattr(experiment.run, "__module__", ""), "the package")
                raise ValueError(f"experiment {experiment.name!r} (from {origin}) cannot be a command: {err}") \
                    from None
            _COMMANDS.add(experiment.name)


register_all()
