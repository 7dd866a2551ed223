"""``mclr-sandbox figures``: regenerate the figures (PDF + PNG)."""

from __future__ import annotations

import argparse
import time

from ...core.files import check_writable
from ...core.tables import format_table
from ...core.validation import NONNEGATIVE
from ..options import progress, typed
from ..registry import FOLDER, Command, register

FAST_FIGURES = "build/figures-fast"      # --fast figures go here unless --out says otherwise

EXAMPLES = """\
  mclr-sandbox figures                      # regenerate every figure into figures/ (PDF + PNG)
  mclr-sandbox figures --fast               # small sizes, quick look, into build/figures-fast/
  mclr-sandbox figures --only zoo           # one figure
  mclr-sandbox figures --list               # the figure names
  mclr-sandbox figures --check              # regenerate and compare with figures/ (numbers drawn, then pixels)"""


def run(args: argparse.Namespace) -> int:
    from ...viz.figures import CHECK_TOLERANCE, FIGURES, build, check

    if args.out is None:
        args.out = FAST_FIGURES if args.fast else "figures"
    if args.list:
        if args.only or args.fast or args.check or args.tol is not None:
            raise ValueError("--list only lists the figures; it takes no --only, --fast, --check or --tol")
        print(format_table(("name", "what it shows"), [(spec.name, spec.summary) for spec in FIGURES.values()]))
        return 0
    if args.tol is not None and not args.check:
        raise ValueError("--tol goes with --check")
    if args.check:
        if args.fast:
            raise ValueError("--check compares with the committed full-size figures; it takes no --fast")
        tol = CHECK_TOLERANCE if args.tol is None else args.tol
        results = check(args.only, args.out, tol, progress=progress(args))
        print(format_table(("figure", "RMS", "tolerance", "status", "what differs (else: across machines)"),
                           [(name, f"{rms:.3g}", f"{tol:g}", "ok" if ok else "DIFFERS", note)
                            for name, rms, ok, note in results]))
        bad = sum(not ok for *_, ok, _ in results)
        print(f"{len(results) - bad}/{len(results)} figures match {args.out}/: what they draw within its tolerance, "
              f"pixels within RMS {tol:g}")
        return 0 if bad == 0 else 1
    check_writable(args.out, "--out", folder=True)
    t0 = time.perf_counter()
    written = build(args.only, args.out, fast=args.fast, progress=progress(args))
    for path in written:
        print(f"wrote {path}")
    count = len({path.stem for path in written})
    print(f"{len(written)} files (PDF, PNG and what it draws, JSON) for {count} figure{'s' if count != 1 else ''} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", nargs="+", metavar="NAME", help="build only these figures (see --list)")
    p.add_argument("--out", metavar="DIR",
                   help=f"output folder (default: figures for the full run, {FAST_FIGURES} with --fast, so reduced "
                        "figures never overwrite the committed ones); with --check, the folder to compare with")
    p.add_argument("--list", action="store_true", help="list the figure names and exit")
    p.add_argument("--check", action="store_true",
                   help="regenerate into a temporary folder and compare each figure with the one in --out: what it "
                        "draws (NAME.json) within its tolerance, and its PNG within an RMS")
    p.add_argument("--tol", type=typed(NONNEGATIVE, "--tol"), metavar="RMS",
                   help="with --check: largest RMS difference (0-255 levels) that passes (default 6)")


register(Command(
    "figures", "regenerate the figures (PDF + PNG)",
    "Regenerate the figures as PDF and PNG, deterministically; heavy results come from the on-disk cache.",
    EXAMPLES, run,
    options=options,
    fast="small sizes for a quick run (same code path)",
    sweeps=True,
    out=FOLDER))
