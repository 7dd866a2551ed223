"""``mclr-sandbox explain``: write a self-contained HTML page: guided paths and the exact posterior, with sliders."""

from __future__ import annotations

import argparse
import time

from ...core.validation import WHOLE
from ..options import typed
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox explain                      # build/explain.html: overlap_2d, class 0 (open it in any browser)
  mclr-sandbox explain --mixture mine.json --class 1 --out page.html   # your own 2-D mixture
  mclr-sandbox explain --mixture digits --class 3 --out digits.html   # real images: denoisers and the posterior"""


def run(args: argparse.Namespace) -> int:
    from ...core import cache, zoo
    from ...core.files import atomic_open
    from ...experiments.explainer import ExplainerConfig, ImageExplainerConfig
    from ...viz import explain, explain_images

    t0 = time.perf_counter()
    gmm = zoo.resolve(args.mixture, "--mixture")
    if "image_shape" in (gmm.source or {}):        # an image mixture: the denoisers as images
        config = ImageExplainerConfig(mixture=gmm, c=args.klass)
        text = explain_images.page(cache.run(config), gmm, config.c)
    else:
        config = ExplainerConfig(mixture=gmm, c=args.klass)
        text = explain.page(cache.run(config), gmm.name, config.c)
    with atomic_open(args.out, "w") as fh:
        fh.write(text)
    print(f"wrote {args.out} ({len(text.encode()) / 1e6:.1f} MB; {gmm.name}, class {config.c}, "
          f"{len(config.ws)} values of w x {config.steps} of sigma) in {time.perf_counter() - t0:.1f} s")
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE",
                   help="a 2-D or image zoo name (digits) or mixture .json file (default: overlap_2d)")
    p.add_argument("--class", dest="klass", type=typed(WHOLE, "--class"), default=0, metavar="C",
                   help="the class to guide (default 0)")
    p.add_argument("--out", default="build/explain.html", metavar="PATH", help="the page (default build/explain.html)")


register(Command(
    "explain", "write a self-contained HTML page: guided paths and the exact posterior, with sliders",
    ("Write one self-contained HTML page (no server, no Python, no network needed to view it) that shows guided paths "
     "and the exact posterior over clean data along them, with sliders for w and sigma: for teaching CFG with a 2-D "
     "mixture; with an image mixture (digits), the noisy image, the three denoisers as images and the exact class "
     "posterior."),
    EXAMPLES, run,
    options=options,
    out=(".html", ".htm"),
    reads=(("mixture", "--mixture"),)))
