"""``mclr-sandbox explain``: write a self-contained HTML page: guided paths and the exact posterior, with sliders."""

from __future__ import annotations

import argparse
import time

from ...core.validation import WHOLE
from ..options import typed
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox explain                      # build/explain.html: overlap_2d, class 0 (open it in any browser)
  mclr-sandbox explain --mixture mine.json --class 1 --out page.html   # your own 2-D mixture"""


def run(args: argparse.Namespace) -> int:
    from ...core import cache
    from ...core.files import atomic_open
    from ...experiments.explainer import ExplainerConfig
    from ...viz.explain import page

    t0 = time.perf_counter()
    config = ExplainerConfig(mixture=args.mixture, c=args.klass)
    text = page(cache.run(config), config.mixture.name, config.c)
    with atomic_open(args.out, "w") as fh:
        fh.write(text)
    print(f"wrote {args.out} ({len(text.encode()) / 1e6:.1f} MB; {config.mixture.name}, class {config.c}, "
          f"{len(config.ws)} values of w x {config.steps} of sigma) in {time.perf_counter() - t0:.1f} s")
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE",
                   help="a 2-D zoo name or mixture .json file (default: overlap_2d)")
    p.add_argument("--class", dest="klass", type=typed(WHOLE, "--class"), default=0, metavar="C",
                   help="the class to guide (default 0)")
    p.add_argument("--out", default="build/explain.html", metavar="PATH", help="the page (default build/explain.html)")


register(Command(
    "explain", "write a self-contained HTML page: guided paths and the exact posterior, with sliders",
    ("Write one self-contained HTML page (no server, no Python, no network needed to view it) that shows guided paths "
     "and the exact posterior over clean data along them, with sliders for w and sigma: for teaching CFG with a 2-D "
     "mixture."),
    EXAMPLES, run,
    options=options,
    out=(".html", ".htm"),
    reads=(("mixture", "--mixture"),)))
