"""What a command prints and writes as its JSON report."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ..core.mixtures import ClassConditionalGMM
from ..core.version import __version__


def emit(text: str, lines: list[str], t0: float, args: argparse.Namespace, config: object,
            mixture: ClassConditionalGMM | None, results: Callable[[], object]) -> None:
    """Print a table and its summary lines with the run time; write the JSON report to ``--json``:
    ``{version, code, plugins, command, config, mixture: {name, fingerprint} or null, results}`` (``code``: the
    fingerprint of the package's and the plug-ins' source, ``provenance.package_fingerprint``)."""
    from ..core import cache, plugins, provenance
    from ..core.files import write_json

    print(text)
    for line in lines:
        print(line)
    print(f"done in {time.perf_counter() - t0:.1f} s{' (fast settings)' if args.fast else ''}")
    if args.json:
        write_json(args.json, {"version": __version__, "code": provenance.package_fingerprint(),
                               "plugins": plugins.loaded(), "command": args.command, "config": cache.plain(config),
                               "mixture": None if mixture is None else {"name": mixture.name,
                                                                        "fingerprint": mixture.fingerprint},
                               "results": results()})
        print(f"wrote {args.json}")
