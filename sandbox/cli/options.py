"""The command line's shared flags and how their text is read: numbers checked against their declared limits,
``--set``-style ``TARGET.NAME=VALUE`` items, and whether progress bars show."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..core.plugins import GROUP as PLUGIN_GROUP
from ..core.validation import COUNT, Limit

MIXTURE_HELP = "zoo name or mixture .json file (ClassConditionalGMM.save) (default: overlap_2d)"


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
                   help="load a plug-in (a .py file or a module name) that registers methods or claims; repeatable "
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


def param_flags(p: argparse.ArgumentParser) -> None:
    """The options that choose how a sweep's rules are applied: their parameters and their sampler."""
    p.add_argument("--param", action="append", default=[], metavar="METHOD.NAME=VALUE", dest="params",
                   help="set a parameter of a method for its rows, e.g. cfg-zero-star.frame=score (its paper's frame "
                        "is the default) or apg.eta=0.5; repeatable (exact rows)")
    p.add_argument("--sampler", choices=("heun", "paper"), default="heun",
                   help="sample every rule by EDM's Heun (default) or each by its paper's frame's sampler: DDIM for "
                        "VP rules, flow-matching Euler for rectified-flow ones (exact rows)")


def changes(items: list[str], flag: str = "--set", form: str = "CLAIM.SETTING=VALUE",
             example: str = "monotone-over-mixtures.count=1000") -> dict[str, dict[str, str]]:
    """``--set CLAIM.SETTING=VALUE`` items (or another ``flag`` of the same ``form``) as ``{claim: {setting:
    text}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, eq, value = item.partition("=")
        claim, dot, setting = target.strip().rpartition(".")
        if not eq or not dot or not claim or not setting:
            raise ValueError(f"{flag} takes {form}, e.g. {example}; got {item!r}")
        out.setdefault(claim, {})[setting] = value
    return out


def method_params(items: list[str]) -> tuple[tuple[str, str, float | str], ...]:
    """``--param METHOD.NAME=VALUE`` items as ``(method, name, value)``: a choice as text, anything else a number
    (checked against the method's declared limit by the sweep's config)."""
    from .. import methods

    out = []
    for method, params in changes(items, "--param", "METHOD.NAME=VALUE", "cfg-zero-star.frame=score").items():
        declared = methods.get(method)
        for name, text in params.items():
            if name == declared.strength:     # the sweep sets it row by row
                raise ValueError(f"--param {method}.{name}: {name} is {method}'s strength, which the sweep sets for "
                                 f"each row (its w or lambda values); --param sets its other parameters "
                                 f"({', '.join(p for p in declared.params if p != name) or 'it has none'})")
            value: float | str = text.strip()
            if name not in declared.choices:
                try:
                    value = float(text)
                except ValueError:
                    raise ValueError(f"--param {method}.{name} must be a number, got {text!r}") from None
            out.append((method, name, value))
    return tuple(out)


def progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal only (never ``\\r`` updates in a log), and not with ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()
