"""``mclr-sandbox fit``: a class-conditional mixture fitted to a user's data (``core.fitting``), with its held-out
log-likelihood per class against one Gaussian per class."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ...core.validation import COUNT, POSITIVE, SEED, UNIT
from ..options import typed
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox fit data.csv --labels species --out mix.json          # a header row; every other column a feature
  mclr-sandbox fit data.npz --features X --labels y --out mix.json --components 2 --covariance-type diag
  mclr-sandbox compare --mixture mix.json --fast                     # then use it like any zoo name"""


def read(path: Path, features: str | None, labels: str) -> tuple[object, object]:
    """``(X, y)`` from a ``.npz`` (arrays named ``features`` and ``labels``; ``features`` may be left out when it is
    the only other array) or a ``.csv`` with a header row (the ``labels`` column; every other column a feature)."""
    import numpy as np

    if not path.is_file():
        raise ValueError(f"DATA {path} does not exist or is not a file")
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            if labels not in keys:
                raise ValueError(f"--labels: {path} has no array {labels!r}; it has {keys}")
            others = [k for k in keys if k != labels]
            if features is None and len(others) != 1:
                raise ValueError(f"--features: {path} has arrays {others} besides the labels; name one")
            name = features if features is not None else others[0]
            if name not in keys:
                raise ValueError(f"--features: {path} has no array {name!r}; it has {keys}")
            return data[name], data[labels]
    if path.suffix.lower() == ".csv":
        import csv

        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        if len(rows) < 2:
            raise ValueError(f"DATA {path} must have a header row and data rows")
        header = [h.strip() for h in rows[0]]
        if labels not in header:
            raise ValueError(f"--labels: {path} has no column {labels!r}; its columns are {header}")
        if features is not None:
            raise ValueError("--features is for .npz files; a .csv's features are every column but the labels")
        at = header.index(labels)
        try:
            X = np.array([[float(v) for i, v in enumerate(r) if i != at] for r in rows[1:]], dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"DATA {path}: every column but {labels!r} must be numeric ({err})") from None
        y = [r[at].strip() for r in rows[1:]]
        # integer labels as numbers, so that classes sort 0, 1, ..., 10 and not "0", "1", "10", "2"
        return X, np.array([int(v) for v in y] if all(v.lstrip("-").isdigit() for v in y) else y)
    raise ValueError(f"DATA must be a .npz or .csv file, got {path.name!r}")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ...core import fitting
    from ...core.files import write_json
    from ...core.tables import format_table

    t0 = time.perf_counter()
    X, y = read(Path(args.data), args.features, args.labels)
    settings = {"components": args.components, "covariance_type": args.covariance_type, "floor": args.floor,
                "max_components": args.max_components, "seed": args.seed}
    about = {"data": Path(args.data).name}
    gmm = fitting.fit(X, y, name=args.name or Path(args.out).stem, source=about, **settings)
    rows = fitting.heldout(X, y, fraction=args.heldout, split_seed=args.seed, **settings)
    print(format_table(("class", "train", "test", "components", "held-out log-lik (mixture)", "one Gaussian",
                        "difference"),
                       [(str(r["class"]), str(r["train"]), str(r["test"]), str(r["components"]),
                         f"{r['mixture']:.3f}", f"{r['gaussian']:.3f}", f"{r['mixture'] - r['gaussian']:+.3f}")
                        for r in rows]))
    gain = float(np.mean([r["mixture"] - r["gaussian"] for r in rows]))
    print(f"held-out log-likelihood per row ({args.heldout:g} of each class held out, fitted on the rest): the "
          f"mixture is {gain:+.3f} nats from one Gaussian per class (mean over classes)")
    gmm.save(args.out)
    print(f"wrote {args.out}: {gmm.num_classes} classes, d = {gmm.dim}, components {gmm.source['components']} "
          f"({gmm.source['chosen_by']}), fitted on all {gmm.source['rows']} rows; done in "
          f"{time.perf_counter() - t0:.1f} s")
    if args.json:
        write_json(args.json, {"source": gmm.source, "fingerprint": gmm.fingerprint, "heldout": rows})
        print(f"wrote {args.json}")
    return 0


def options(p: argparse.ArgumentParser) -> None:
    from ...core.fitting import FIT_TYPES

    p.add_argument("data", metavar="DATA", help="features and labels: .npz (arrays) or .csv (a header row)")
    p.add_argument("--labels", default="y", metavar="NAME", help="the labels' array (.npz) or column (.csv) "
                   "(default y)")
    p.add_argument("--features", metavar="NAME", help=".npz: the features' array (default: the only other one)")
    p.add_argument("--out", required=True, metavar="PATH", help="the mixture file to write (.json)")
    p.add_argument("--name", help="the mixture's name (default: the --out file's stem)")
    p.add_argument("--components", type=typed(COUNT, "--components"), metavar="M",
                   help="components per class (default: chosen by BIC among 1..--max-components)")
    p.add_argument("--max-components", type=typed(COUNT, "--max-components"), default=4, metavar="M",
                   help="the most components BIC may choose (default 4)")
    p.add_argument("--covariance-type", choices=FIT_TYPES, default="full",
                   help="scikit-learn's covariance forms (default full; tied is written as full)")
    p.add_argument("--floor", type=typed(POSITIVE, "--floor"), default=1e-3,
                   help="covariance floor relative to the mean per-feature variance (default 1e-3)")
    p.add_argument("--heldout", type=typed(UNIT, "--heldout"), default=0.25, metavar="FRACTION",
                   help="the fraction of each class held out for the likelihood report (default 0.25)")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0, help="EM's and the split's seed (default 0)")


register(Command(
    "fit", "fit a class-conditional mixture to a data set",
    ("Fit one Gaussian mixture per class to a user's data (scikit-learn's GaussianMixture, a covariance floor, a "
     "fixed seed, class priors from the label counts, components by BIC unless given) and write it as a mixture "
     "file that every command takes; report each class's held-out log-likelihood against one Gaussian per class."),
    EXAMPLES, run,
    options=options,
    json="the fit's record (data, sizes, settings) and the held-out table",
    progress=False,
    out=(".json",),
    reads=(("data", "DATA"),)))
