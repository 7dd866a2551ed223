"""``mclr-sandbox sample``: draw samples from a trained checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...core.validation import COUNT, NONNEGATIVE, SEED, WHOLE
from ..options import typed
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox sample --checkpoint nets/gft.pt --n 1000 --out samples.npz          # every class, its first w
  mclr-sandbox sample --checkpoint nets/dsm.pt --method cfg --w 4 --class 0 --n 500 --out s.csv"""


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ...core.files import atomic_open
    from ...experiments import net_evaluation
    from ...learn import checkpoints

    out = Path(args.out)
    result = checkpoints.load(args.checkpoint)
    classes = None if args.klass is None else (args.klass,)
    x, y = net_evaluation.sample(result, args.n, w=args.w, classes=classes, steps=args.steps, seed=args.seed,
                                 method=args.method)
    with atomic_open(out, "wb") as fh:
        if out.suffix == ".npz":
            np.savez(fh, x=x.numpy(), y=y.numpy())
        else:
            header = ",".join([*(f"x{i + 1}" for i in range(x.shape[1])), "class"])
            np.savetxt(fh, np.column_stack([x.numpy(), y.numpy()]), delimiter=",", header=header, comments="",
                       fmt=[*(["%.17g"] * x.shape[1]), "%d"])
    gmm = result.config.mixture
    print(f"wrote {len(y)} samples of {gmm.name} ({gmm.fingerprint}) from {args.checkpoint} to {out}")
    return 0


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a denoiser checkpoint written by train")
    p.add_argument("--n", type=typed(COUNT, "--n"), required=True, help="samples per class")
    p.add_argument("--out", required=True, metavar="PATH", help="samples and their classes, .npz (x, y) or .csv")
    p.add_argument("--w", type=typed(NONNEGATIVE, "--w"),
                   help="strength (default: the first the net was trained at; a DSM net: 0)")
    p.add_argument("--method", metavar="NAME", help="for a DSM net: the guidance rule (default cfg)")
    p.add_argument("--class", dest="klass", type=typed(WHOLE, "--class"), metavar="C",
                   help="this class only (default: every class)")
    p.add_argument("--steps", type=typed(COUNT, "--steps"), default=32, help="Heun steps (default 32)")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0, help="seed of the starting draws (default 0)")


register(Command(
    "sample", "draw samples from a trained checkpoint",
    ("Draw samples from a trained checkpoint (a fine-tune with its own field, a DSM net with a guidance rule) by the "
     "Heun ODE, and write them with their classes as .npz or .csv."),
    EXAMPLES, run,
    options=options,
    out=(".npz", ".csv"),
    reads=(("checkpoint", "--checkpoint"),)))
