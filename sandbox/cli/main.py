"""Command line: ``mclr-sandbox`` (also ``python -m sandbox``): one subcommand per registered ``Command``
(``registry``), built in one loop; every failure is one line."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..core.files import check_distinct, check_suffix, check_writable
from ..core.version import __version__
from . import commands  # registers the package's commands, in the order of the command list
from .options import progress, shared_flags, sweep_flags
from .registry import FOLDER, REGISTRY, Command

# the shared flags that name files every command reads, and those that name files it writes with the endings they
# must have (None: a folder), besides each command's declared ``reads`` and ``out``: checked before any work, so that
# no output replaces an input (``guard_paths``)
READS = (("plugin", "--plugin"),)
WRITES = {"json": (".json",), "counterexamples": None}


def _epilog(command: Command) -> str:
    return f"examples:\n{command.examples}\n  python -m sandbox {command.name} --help      # the same entry point"


def _executor(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """Where the command's sweeps run (serial, ``--workers``, ``--scheduler``) and whether they show progress."""
    from ..core import sweeps

    with contextlib.ExitStack() as stack:
        stack.enter_context(sweeps.showing(progress(args)))
        if getattr(args, "workers", None) is not None:
            stack.enter_context(sweeps.local(args.workers))
        elif getattr(args, "scheduler", None) is not None:
            stack.enter_context(sweeps.connect(args.scheduler))
        return stack.pop_all()          # entered: the caller's ``with`` closes it (a failed start closes it here)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other failure (exit code 2)."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every registered command, with the choices of the registries as they are now (plug-ins loaded
    first: ``main``)."""
    parser = _Parser(
        prog="mclr-sandbox",
        description="Exact Gaussian-mixture sandbox for classifier-free guidance and MCLR.",
        epilog="examples:\n" + "\n".join(c.examples.splitlines()[0] for c in REGISTRY.values())
               + "\n  mclr-sandbox COMMAND --help               # what a command does, its flags and more examples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mclr-sandbox {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.experiments.register_all()         # the experiments plug-ins registered since
    for command in REGISTRY.values():
        p = sub.add_parser(command.name, help=command.help, description=command.description,
                           epilog=_epilog(command), formatter_class=argparse.RawDescriptionHelpFormatter)
        if command.fast is not None:
            p.add_argument("--fast", action="store_true", help=command.fast)
        if command.json is not None:
            p.add_argument("--json", metavar="PATH", help=command.json)
        if command.progress:
            p.add_argument("--quiet", action="store_true",
                           help="no progress bars (they show on a terminal only anyway)")
        shared_flags(p)
        command.options(p)
        if command.sweeps:
            sweep_flags(p)
        p.set_defaults(run=command.run)
    return parser


def guard_paths(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output path that is one of the command's inputs (or another output), and an
    output file whose ending is not what is written there. ``--check`` reads ``--out`` (the page or the folder it
    compares with) instead of writing it."""
    inputs = []
    for dest, flag in (*READS, *REGISTRY[args.command].reads):
        given = getattr(args, dest, None)
        for path in given if isinstance(given, (list, tuple)) else [given]:
            if path is not None and Path(str(path)).expanduser().is_file():
                inputs.append((flag, path))
    # a --set value may name a file the run reads (``--set train.mixture=mine.json``, comma-separated for a list)
    for dest in ("settings", "set"):
        for item in getattr(args, dest, None) or []:
            for path in str(item).partition("=")[2].split(","):
                if path.strip() and Path(path.strip()).expanduser().is_file():
                    inputs.append(("--set", path.strip()))
    writes = dict(WRITES)
    out = REGISTRY[args.command].out
    if out is not None and not getattr(args, "check", False):
        writes["out"] = None if out == FOLDER else out
    elif getattr(args, "out", None) is not None:
        inputs.append(("--out", args.out))
    outputs = []
    for flag, suffixes in writes.items():
        path = getattr(args, flag, None)
        if path is None:
            continue
        check_writable(path, f"--{flag}", folder=suffixes is None)
        if suffixes is not None:
            check_suffix(path, f"--{flag}", suffixes)
        outputs.append((f"--{flag}", path))
    check_distinct(outputs, inputs)


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> str:
    return f"mclr-sandbox: warning: {message}\n"


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends the run like an exception, so partly written files are removed on the way out."""
    raise SystemExit(128 + signum)


def _load_plugins(argv: list[str]) -> int | None:
    """Load the installed plug-ins and every ``--plugin`` before the parser is built, so their names are choices
    like the package's own, and give their experiments commands. -> an exit code if one fails to load or an
    experiment's name is taken by a command (one line; a traceback with ``--debug``)."""
    from ..core import plugins

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", action="append", default=[])
    pre.add_argument("--debug", action="store_true")
    known, _ = pre.parse_known_args(argv)
    try:
        plugins.load_installed()
        for spec in known.plugin:
            plugins.load(spec)
        commands.experiments.register_all()         # a command for each experiment they registered
    except (ValueError, TypeError) as err:
        if known.debug:
            raise
        print(f"mclr-sandbox: error: {err}", file=sys.stderr)
        return 2
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Every failure is one line on stderr (a traceback only with ``--debug``): exit 2 for
    bad usage or input, 1 for a run that fails, 130 when interrupted."""
    warnings.formatwarning = _one_line_warning
    argv = sys.argv[1:] if argv is None else list(argv)
    early = _load_plugins(argv)
    if early is not None:
        return early
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:      # --help, --version, or a usage error already printed in one line: its code
        return done.code if isinstance(done.code, int) else 2
    if args.threads is not None:
        from ..core import threads

        threads.use(args.threads)
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        guard_paths(args)
        with _executor(args):
            return args.run(args)
    except (ValueError, TypeError) as err:
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (FloatingPointError, RuntimeError, OSError) as err:
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug of ours: still one line, and how to see more
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: failed: {type(err).__name__}: {err} (run with --debug for the "
              f"traceback)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
