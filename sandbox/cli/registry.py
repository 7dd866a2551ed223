"""Commands as records: each subcommand of ``mclr-sandbox`` is one ``Command``, registered once by its module in
``sandbox/cli/commands`` (or by a plug-in, the same way); ``main.build_parser`` builds every subcommand from
``REGISTRY`` in one loop, with the flags the record declares.

A command's flags are its own (``options``) plus the shared ones its record asks for: ``--fast`` (with what it does),
``--json PATH`` (with what it writes), ``--quiet`` (when it shows progress), ``--workers``/``--scheduler`` (when it
runs sweeps), and ``--threads``, ``--plugin``, ``--debug`` on every command. ``out`` declares what its ``--out``
writes (file endings, or ``FOLDER``), so that no output replaces an input (``main.guard_paths``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ..core import plugins

FOLDER = "folder"       # a command whose --out is a folder


def _no_options(parser: argparse.ArgumentParser) -> None:
    """A command with only the shared flags."""


@dataclass(frozen=True)
class Command:
    """One subcommand: ``name`` on the command line, ``help`` in the command list, ``description`` and ``examples``
    in its ``--help``, ``run(args) -> exit code``; ``options(parser)`` adds its own flags."""

    name: str
    help: str
    description: str
    examples: str
    run: Callable[[argparse.Namespace], int]
    options: Callable[[argparse.ArgumentParser], None] = _no_options
    fast: str | None = None           # what --fast does; no --fast when None
    json: str | None = None           # what --json writes; no --json when None
    sweeps: bool = False              # runs sweeps: takes --workers / --scheduler
    progress: bool = True             # shows progress bars: takes --quiet
    out: tuple[str, ...] | str | None = None     # what --out writes: its file endings, FOLDER, or None (no --out)
    reads: tuple[tuple[str, str], ...] = ()    # (dest, flag) of each of its flags that name files it reads


REGISTRY: dict[str, Command] = plugins.track({})     # a plug-in that fails to load takes its commands back


def register(command: Command) -> Command:
    """Add ``command`` (its name must be new)."""
    return plugins.add(REGISTRY, getattr(command, "name", None), command, Command, "command")
