"""The command line's shared flags and how their text is read: numbers checked against their declared limits, an
experiment's options as arguments, and whether progress bars show."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..core.plugins import GROUP as PLUGIN_GROUP
from ..core.validation import COUNT, Limit
from ..experiments.experiment import Option


def typed(limit: Limit, flag: str) -> Callable[[str], object]:
    """An argparse type: the text given to ``flag`` read as a number and checked against its declared ``limit``
    (bad values exit 2 with the flag's name, like every usage error)."""
    def parse(text: str) -> object:
        try:
            value = int(text) if limit.whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {limit.describe()}, got {text!r}") from None
        try:
            return limit.one(value, flag)
        except (ValueError, TypeError) as err:     # argparse names the flag itself: "argument --n: ..."
            raise argparse.ArgumentTypeError(str(err).removeprefix(f"{flag} ")) from None
    parse.limit = limit             # the declaration, for the tests that generate bad values from it
    return parse


def shared_flags(p: argparse.ArgumentParser) -> None:
    """The flags of every command: ``--plugin``, ``--threads`` and ``--debug``."""
    p.add_argument("--threads", type=typed(COUNT, "--threads"), metavar="N",
                   help="torch threads (default 1, or MCLR_SANDBOX_THREADS: one thread stays fast when other work "
                        "holds a core; more help only large mixtures on an idle machine)")
    p.add_argument("--plugin", action="append", default=[], metavar="PATH_OR_MODULE",
                   help="load a plug-in (a .py file or a module name) that registers methods, claims, experiments or "
                        "commands; repeatable "
                        f"(installed plug-ins, entry-point group {PLUGIN_GROUP}, load by themselves)")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def sweep_flags(p: argparse.ArgumentParser) -> None:
    """The flags of commands that run sweeps: where their independent units run (``sandbox.core.sweeps``)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=typed(COUNT, "--workers"), metavar="N",
                       help="run the sweeps' units on a local Dask cluster of N worker processes (needs "
                            "the distributed extra); results are identical to a serial run")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run them on an existing Dask cluster (e.g. tcp://host:8786) whose workers share the "
                            "cache folder (MCLR_SANDBOX_CACHE)")


def add_option(p: argparse.ArgumentParser, option: Option) -> None:
    """``option`` (an experiment's flag, ``experiments.experiment.Option``) as an argparse argument whose ``dest``
    is its field (dots as underscores)."""
    kwargs: dict = {"dest": option.dest, "help": option.help() if callable(option.help) else option.help}
    if option.required:
        kwargs["required"] = True
    if option.switch:
        p.add_argument(option.flag, action="store_true", **kwargs)
        return
    if option.metavar is not None:
        kwargs["metavar"] = option.metavar
    elif option.choices is None:        # named for the flag, as argparse names it when dest is the flag's
        kwargs["metavar"] = option.flag.lstrip("-").upper().replace("-", "_")
    if option.repeat:
        kwargs.update(action="append", default=[])
    else:
        if option.limit is not None:
            kwargs["type"] = typed(option.limit, option.flag)
        if option.many:
            kwargs["nargs"] = "+"
        if option.choices is not None:
            kwargs["choices"] = option.choices
        if option.default is not None:
            kwargs["default"] = option.default
    p.add_argument(option.flag, **kwargs)


def progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal only (never ``\\r`` updates in a log), and not with ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()
