"""``mclr-sandbox report``: write (or --check) the measured results page docs/results.md."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ...core.files import check_writable
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox report --fast                # docs/results-fast.md: every measured table, fast settings
  mclr-sandbox report --fast --check        # recompute it and compare with the committed page (exit 1 if it differs)
  mclr-sandbox report                       # docs/results.md, full settings (long from an empty cache)"""


def run(args: argparse.Namespace) -> int:
    from ...viz import report

    out = Path(args.out) if args.out else report.default_path(args.fast)
    t0 = time.perf_counter()
    if args.check:
        if args.only:
            raise ValueError("--check compares the whole page; it takes no --only")
        bad = report.check(out, fast=args.fast)
        for line in bad:
            print(line)
        print(f"{out}: {'matches what the code computes' if not bad else f'{len(bad)} line(s) differ'} "
              f"({time.perf_counter() - t0:.1f} s)")
        return 0 if not bad else 1
    check_writable(out, "--out")
    report.write(out, fast=args.fast, only=args.only)
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="PATH", help="the page (default: docs/results.md, with --fast "
                                                  "docs/results-fast.md)")
    p.add_argument("--check", action="store_true", help="recompute the page and compare with PATH; exit 1 if a "
                                                          "number differs beyond its last printed digit")
    p.add_argument("--only", nargs="+", metavar="SECTION",
                   help="rewrite only these sections of the page at --out, keeping the others (not with --check)")


register(Command(
    "report", "write (or --check) the measured results page docs/results.md",
    ("Write the measured results page (docs/results.md, or docs/results-fast.md with --fast) from the experiments' "
     "results; --check recomputes it and compares with the committed page."),
    EXAMPLES, run,
    options=options,
    fast="fast settings, into docs/results-fast.md (what the test suite checks)",
    sweeps=True,
    out=(".md",)))
