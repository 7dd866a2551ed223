"""``mclr-sandbox train``: train a small MLP denoiser (DSM) or fine-tune one with MCLR."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ...core.mixtures import ClassConditionalGMM
from ...core.validation import COUNT, NONNEGATIVE, SEED, WHOLE
from ..options import progress, typed
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox train --objective dsm --out nets/dsm.pt            # a DSM net on overlap_2d (< 2 min)
  mclr-sandbox train --objective weighted-mclr --init nets/dsm.pt --out nets/weighted.pt
  mclr-sandbox train --objective gft --ws 0.5 1 2 4 --init nets/dsm.pt --out nets/gft.pt   # one net, every w
  mclr-sandbox train --fast --objective dsm --mixture mine.json --out nets/mine.pt
  mclr-sandbox train --objective dsm --ema-width 0.1 --out nets/dsm.pt     # edm2's power EMA, snapshots kept
  mclr-sandbox average --checkpoint nets/dsm.pt --ema-width 0.15 --out nets/dsm-wide.pt   # another, post hoc"""


def run(args: argparse.Namespace) -> int:
    from ... import methods
    from ...core import zoo
    from ...experiments.experiment import sized
    from ...learn import checkpoints, training
    from ...learn.training import TrainConfig, train, train_classifier

    snapshots = args.snapshots if args.snapshots is not None else (16 if args.ema_width is not None else None)
    if snapshots == 0 and args.ema_width is not None:
        raise ValueError("--ema-width averages the run's snapshots: --snapshots must be >= 1 (default 16)")
    changes = {k: v for k, v in (("steps", args.steps), ("w", args.w), ("lam", args.lam),
                                 ("ws", tuple(args.ws) if args.ws else None), ("lr_schedule", args.lr_schedule),
                                 ("weighting", args.weighting), ("negatives", args.negatives),
                                 ("snapshots", snapshots)) if v is not None}
    needs = () if args.objective == "classifier" else methods.get(args.objective).needs
    for flag, strength in (("w", "w"), ("ws", "w"), ("lam", "lam")):
        users = methods.names(trainable=True, strength=strength)
        if flag in changes and args.objective not in users:
            raise ValueError(f"--{flag} is not used by --objective {args.objective} (only by {', '.join(users)})")
    if "init" not in needs and (args.init or args.classifier):
        raise ValueError(f"--init and --classifier are for fine-tunes; --objective {args.objective} trains from "
                         f"scratch")
    if args.classifier and "classifier" not in needs:
        users = [m for m in methods.names(trainable=True) if "classifier" in methods.get(m).needs]
        raise ValueError(f"--classifier is only used by the objectives that need one: {', '.join(users)}")
    mixture = zoo.resolve(args.mixture or "overlap_2d", "--mixture")
    base = TrainConfig(mixture=mixture, seed=args.seed)
    base = sized(base, args.fast)
    shown = progress(args)
    if args.objective == "classifier":
        result = train_classifier(replace(base, **changes), progress=shown)
    elif "init" not in needs:
        result = train(replace(base, objective=args.objective, **changes), progress=shown)
    else:
        if args.init is None:
            raise ValueError(f"--init CHECKPOINT (a DSM net) is required for --objective {args.objective}")
        init = checkpoints.load(args.init, kind="denoiser")
        if args.mixture is not None and mixture != init.config.mixture:
            raise ValueError(f"--mixture {args.mixture} ({mixture.fingerprint}) is not the mixture the --init net was "
                             f"trained on ({init.config.mixture.name}, {init.config.mixture.fingerprint})")
        classifier = None
        if "classifier" in needs:
            if args.classifier:
                loaded = checkpoints.load(args.classifier, kind="classifier")
                _same_mixture(loaded.config.mixture, init.config.mixture, f"--classifier {args.classifier}",
                              f"--init {args.init}")
                classifier = loaded.model
            else:
                classifier = train_classifier(replace(base, mixture=init.config.mixture).for_classifier(),
                                              progress=shown).model
        config = replace(init.config.fine_tune(args.objective), seed=args.seed, **changes)
        result = train(config, init=init.model, classifier=classifier, progress=shown)
    average = ""
    if args.ema_width is not None:
        result, residual = training.averaged(result, args.ema_width)
        average = f"; power EMA of width {args.ema_width:g} (relative residual {residual:.2%})"
    checkpoints.save(args.out, result)
    gmm = result.config.mixture
    print(f"trained {args.objective} on {gmm.name} ({gmm.fingerprint}; {result.config.steps} steps, seed "
          f"{result.config.seed}) in {result.seconds:.1f} s; final loss {result.history[-1]:.4g}{average}; wrote "
          f"{args.out}")
    return 0


def run_average(args: argparse.Namespace) -> int:
    from ...learn import checkpoints, training

    result = checkpoints.load(args.checkpoint)
    if result.snapshots is None:
        raise ValueError(f"--checkpoint {args.checkpoint} kept no snapshots to average post hoc (train it with "
                         f"--snapshots N or --ema-width)")
    width = None if args.ema_width == "last" else float(args.ema_width)
    result, residual = training.averaged(result, width)
    checkpoints.save(args.out, result)
    what = "the last iterate" if width is None else (f"the power EMA of width {width:g} (relative residual "
                                                      f"{residual:.2%})")
    print(f"{args.checkpoint}: {what} from {len(result.snapshots.steps)} snapshots per profile; wrote {args.out}")
    return 0


def _ema_width(text: str) -> str | float:
    """``last``, or a relative width a power profile has (``averaging.gamma_of`` says which)."""
    from ...learn import averaging

    if text == "last":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ema-width takes a number or 'last', got {text!r}") from None
    try:
        averaging.gamma_of(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _same_mixture(a: ClassConditionalGMM, b: ClassConditionalGMM, what_a: str, what_b: str) -> None:
    """Refuse two nets of different mixtures, naming both."""
    if a.fingerprint != b.fingerprint:
        raise ValueError(f"{what_a} was trained on mixture {a.name} ({a.fingerprint}, d = {a.dim}, K = "
                         f"{a.num_classes}), {what_b} on {b.name} ({b.fingerprint}, d = {b.dim}, K = {b.num_classes})")


def options(p: argparse.ArgumentParser) -> None:
    from ...learn.training import LR_SCHEDULES, NEGATIVES, WEIGHTINGS, trainable_objectives

    p.add_argument("--objective", required=True, choices=(*trainable_objectives(), "classifier"),
                   help="a training objective (see sandbox.methods), or 'classifier' for a noisy classifier")
    p.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (atomically)")
    p.add_argument("--init", metavar="CKPT", help="DSM checkpoint to fine-tune (MCLR objectives)")
    p.add_argument("--classifier", metavar="CKPT",
                   help="noisy classifier for weighted-mclr-classifier (default: train one)")
    p.add_argument("--mixture", metavar="NAME_OR_FILE",
                   help="zoo name or mixture .json file (default: overlap_2d; a fine-tune takes the mixture of its "
                        "--init net, and a different --mixture is an error)")
    p.add_argument("--steps", type=typed(COUNT, "--steps"),
                   help="optimisation steps (default: 6000 for DSM, a third for fine-tunes)")
    p.add_argument("--w", type=typed(NONNEGATIVE, "--w"),
                   help="guidance scale of the objectives of strength w (default 2)")
    p.add_argument("--ws", type=typed(NONNEGATIVE, "--ws"), nargs="+", metavar="W",
                   help="one net for every one of these w (a strength input), for the objectives of strength w")
    p.add_argument("--lam", type=typed(NONNEGATIVE, "--lam"), help="strength of unweighted MCLR (default 1)")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0,
                   help="seed of the initial weights and of every draw (default 0)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="learning rate over the run (default constant; cosine decays it to 0)")
    p.add_argument("--weighting", choices=WEIGHTINGS,
                   help="loss weight over sigma: EDM's (default) or sigma^2, the epsilon-prediction loss")
    p.add_argument("--negatives", choices=NEGATIVES,
                   help="MCLR-type objectives: one negative label drawn per row (default) or all K - 1")
    p.add_argument("--snapshots", type=typed(WHOLE, "--snapshots"),
                   help="power-EMA snapshots per profile kept in the checkpoint, for `mclr-sandbox average` (default "
                        "0; 16 with --ema-width)")
    p.add_argument("--ema-width", type=_train_width, metavar="SIGMA_REL",
                   help="write edm2's power-function EMA of this relative width (e.g. 0.1) instead of the fixed EMA")


def _train_width(text: str) -> float:
    value = _ema_width(text)
    if value == "last":
        raise argparse.ArgumentTypeError("--ema-width of train takes a number (the last iterate: train with "
                                         "--snapshots N, then mclr-sandbox average --ema-width last)")
    return value


def average_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a checkpoint trained with snapshots")
    p.add_argument("--ema-width", required=True, type=_ema_width, metavar="SIGMA_REL",
                   help="relative width of the power-function EMA (edm2's sigma_rel, e.g. 0.05 to 0.2), or 'last'")
    p.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (atomically)")


register(Command(
    "train", "train a small MLP denoiser (DSM) or fine-tune one with MCLR",
    ("Train a small conditional MLP denoiser with DSM, fine-tune one with a training-time method (MCLR, GFT, model "
     "guidance, data-level tilt; --ws: one net for every w), or train a noisy classifier; writes one self-contained "
     "checkpoint."),
    EXAMPLES, run,
    options=options,
    fast="300 small steps (seconds)",
    out=(".pt",),
    reads=(("init", "--init"), ("classifier", "--classifier"), ("mixture", "--mixture"))))

register(Command(
    "average", "choose a trained net's weight average after training (edm2's post-hoc EMA)",
    ("Make a checkpoint's model the power-function EMA of another relative width (or the last iterate), "
     "reconstructed from the snapshots its run kept (train --snapshots N or --ema-width), without training again "
     "(Karras et al. 2024)."),
    """\
  mclr-sandbox average --checkpoint nets/dsm.pt --ema-width 0.15 --out nets/dsm-015.pt
  mclr-sandbox average --checkpoint nets/dsm.pt --ema-width last --out nets/dsm-last.pt""",
    run_average,
    options=average_options,
    progress=False,
    out=(".pt",),
    reads=(("checkpoint", "--checkpoint"),)))
