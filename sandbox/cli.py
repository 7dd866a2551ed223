"""Command line: ``mclr-sandbox`` (also ``python -m sandbox``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

EXAMPLES = """\
examples:
  mclr-sandbox figures                      # regenerate every figure into figures/ (PDF + PNG)
  mclr-sandbox figures --fast --out /tmp/f  # small sizes, quick look
  mclr-sandbox figures --only zoo           # one figure
  mclr-sandbox verify --fast                # the theorem checked five ways, quick settings (< 60 s)
  mclr-sandbox verify --json results.json   # full grid, results also as JSON; exit 1 if any check fails
  mclr-sandbox separation --fast            # what CFG / MCLR / the tilted target do to each class, quick
  mclr-sandbox separation --mixture teaching_1d --json sep.json
  mclr-sandbox train --objective dsm --out nets/dsm.pt            # a DSM net on overlap_2d (< 2 min)
  mclr-sandbox train --objective mclr-weighted --init nets/dsm.pt --out nets/weighted.pt
  mclr-sandbox compare --fast               # DSM vs MCLR nets against the exact answers, quick
  mclr-sandbox zoo                          # list the named example mixtures
  python -m sandbox figures --fast          # the same entry point without the console script
"""


def _figures(args: argparse.Namespace) -> int:
    from .figures import FIGURES, build

    if args.list:
        for spec in FIGURES.values():
            print(f"{spec.name:<20} {spec.summary}")
        return 0
    t0 = time.perf_counter()
    written = build(args.only, args.out, fast=args.fast, progress=not args.quiet)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} files for {len(written) // 2} figures in {time.perf_counter() - t0:.1f} s")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .files import write_json
    from .verification import run_all

    t0 = time.perf_counter()
    results = run_all(fast=args.fast, progress=not args.quiet)
    rows = [(r.check, r.setting, f"{r.residual:.2e}", f"{r.tolerance:.2e}", "pass" if r.passed else "FAIL")
            for r in results]
    header = ("check", "setting", "residual", "tolerance", "status")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed}/{len(results)} checks passed in {time.perf_counter() - t0:.1f} s"
          f"{' (fast settings)' if args.fast else ''}")
    if args.json:
        write_json(args.json, {"fast": args.fast, "results": [r.as_dict() for r in results]})
        print(f"wrote {args.json}")
    return 0 if failed == 0 else 1


def _separation(args: argparse.Namespace) -> int:
    from .files import write_json
    from .separation import SweepConfig, as_json, sweep, table, trend_summary

    t0 = time.perf_counter()
    config = SweepConfig(mixture=args.mixture, seed=args.seed)
    config = config.fast() if args.fast else config
    rows = sweep(config, progress=not args.quiet)
    print(f"{config.mixture}: n = {config.n} per class, Heun {config.steps} steps, metrics averaged over classes, "
          f"95% intervals")
    print(table(rows))
    for line in trend_summary(rows):
        print(line)
    print(f"{len(rows)} settings in {time.perf_counter() - t0:.1f} s{' (fast settings)' if args.fast else ''}")
    if args.json:
        write_json(args.json, as_json(rows, config))
        print(f"wrote {args.json}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from . import checkpoints
    from .training import TrainConfig, train, train_classifier

    changes = {k: v for k, v in (("steps", args.steps), ("w", args.w), ("lam", args.lam)) if v is not None}
    base = TrainConfig(mixture=args.mixture, seed=args.seed)
    base = base.fast() if args.fast else base
    progress = not args.quiet
    if args.objective == "dsm":
        result = train(replace(base, **changes), progress=progress)
    elif args.objective == "classifier":
        result = train_classifier(replace(base, **changes), progress=progress)
    else:
        if args.init is None:
            raise ValueError(f"--init CHECKPOINT (a DSM net) is required for --objective {args.objective}")
        init = checkpoints.load(args.init)
        classifier = None
        if args.objective == "mclr-classifier":
            classifier = (checkpoints.load(args.classifier).model if args.classifier
                          else train_classifier(replace(base, steps=max(1, base.steps // 2)), progress=progress).model)
        config = replace(init.config.fine_tune(args.objective), seed=args.seed, **changes)
        result = train(config, init=init.model, classifier=classifier, progress=progress)
    checkpoints.save(args.out, result)
    print(f"trained {args.objective} on {result.config.mixture} ({result.config.steps} steps, seed "
          f"{result.config.seed}) in {result.seconds:.1f} s; final loss {result.history[-1]:.4g}; wrote {args.out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .comparison import CompareConfig, acceptance_lines, as_json, compare, table
    from .files import write_json

    t0 = time.perf_counter()
    config = CompareConfig(seeds=tuple(args.seeds))
    config = config.fast() if args.fast else config
    result = compare(config, progress=not args.quiet)
    print(f"{config.train.mixture}, w = {config.w:g}, seeds {list(config.seeds)}: mean ±sd over seeds "
          f"(one seed: 95% interval)")
    print(table(result))
    for line in acceptance_lines(result):
        print(line)
    print(f"done in {time.perf_counter() - t0:.1f} s{' (fast settings)' if args.fast else ''}")
    if args.json:
        write_json(args.json, as_json(result))
        print(f"wrote {args.json}")
    return 0


def _zoo(args: argparse.Namespace) -> int:
    from . import zoo

    for name, make in zoo.ZOO.items():
        gmm = make()
        sizes = [m.shape[0] for m in gmm.means]
        summary = (make.__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14} d={gmm.dim} K={gmm.num_classes} components={sizes}  {summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mclr-sandbox",
        description="Exact Gaussian-mixture sandbox for classifier-free guidance and MCLR.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("figures", help="regenerate the figures (PDF + PNG)", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fast", action="store_true", help="small sizes for a quick run (same code path)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="build only these figures (see --list)")
    p.add_argument("--out", default="figures", metavar="DIR", help="output folder (default: figures)")
    p.add_argument("--list", action="store_true", help="list the figure names and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_figures)

    p = sub.add_parser("verify", help="check that CFG is the optimum of weighted MCLR, five ways",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fast", action="store_true", help="reduced grid and training (under a minute)")
    p.add_argument("--json", metavar="PATH", help="also write every result (with details) as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_verify)

    p = sub.add_parser("separation", help="inter-class separation and diversity of CFG, MCLR and the tilted target",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fast", action="store_true", help="fewer samples and w values (seconds, same code path)")
    p.add_argument("--json", metavar="PATH", help="also write every row (per class, with intervals) as JSON")
    p.add_argument("--mixture", default="overlap_2d", help="zoo mixture (default: overlap_2d; see `zoo`)")
    p.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_separation)

    p = sub.add_parser("train", help="train a small MLP denoiser (DSM) or fine-tune one with MCLR",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objective", required=True,
                   choices=("dsm", "mclr", "mclr-weighted", "mclr-classifier", "classifier"))
    p.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (atomically)")
    p.add_argument("--init", metavar="CKPT", help="DSM checkpoint to fine-tune (MCLR objectives)")
    p.add_argument("--classifier", metavar="CKPT", help="noisy classifier for mclr-classifier (default: train one)")
    p.add_argument("--mixture", default="overlap_2d", help="zoo mixture (default: overlap_2d)")
    p.add_argument("--steps", type=int, help="optimisation steps (default: 6000 for DSM, a third for fine-tunes)")
    p.add_argument("--w", type=float, help="guidance scale of the weighted MCLR objectives (default 2)")
    p.add_argument("--lam", type=float, help="strength of unweighted MCLR (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="300 small steps (seconds)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_train)

    p = sub.add_parser("compare", help="DSM vs MCLR nets against the exact conditional and CFG answers",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fast", action="store_true", help="tiny training, one seed (seconds, same code path)")
    p.add_argument("--json", metavar="PATH", help="also write every number (per seed, with intervals) as JSON")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_compare)

    p = sub.add_parser("zoo", help="list the named example mixtures", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(run=_zoo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:
        print(f"mclr-sandbox {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
