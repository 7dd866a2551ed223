"""``mclr-sandbox atlas``: every guidance rule and training-time optimum against exact CFG and q_0."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from ...core.mixtures import ClassConditionalGMM
from ...core.validation import SEED
from ...experiments.experiment import PARAM
from ..options import param_flags, progress, typed
from ..output import emit
from ..registry import Command, register

EXAMPLES = """\
  mclr-sandbox atlas --fast                 # every rule and training-time optimum, exact, then trained nets, quick
  mclr-sandbox atlas --json atlas.json      # crowded_4d, w in {0.5, 1, 2, 4}, nets over 3 seeds
  mclr-sandbox atlas --exact-only           # exact sources only (no training)
  mclr-sandbox atlas --fast --mixture overlap_2d --methods cfg apg cfg-zero-star tilted
  mclr-sandbox atlas --seeds 0 1 2 3 4 --mixture crowded_4d overlap_2d --scheduler tcp://HOST:8786   # a cluster"""


def run(args: argparse.Namespace) -> int:
    """One atlas per ``--mixture``; the JSON's results are the one atlas's, or ``{"mixtures": [...]}`` for several,
    each with its mixture."""
    t0 = time.perf_counter()
    parts = [_atlas_one(spec, args) for spec in args.mixture]
    text = "\n\n".join(p[0] for p in parts)
    lines = [f"{p[3].name}: {line}" if len(parts) > 1 else line for p in parts for line in p[1]]
    if len(parts) == 1:
        emit(text, lines, t0, args, parts[0][2], parts[0][3], lambda: parts[0][4])
    else:
        emit(text, lines, t0, args, {p[3].name: p[2] for p in parts}, None,
                lambda: {"mixtures": [{"mixture": {"name": p[3].name, "fingerprint": p[3].fingerprint}, **p[4]}
                                      for p in parts]})
    return 0


def _atlas_one(spec: str, args: argparse.Namespace) -> tuple[str, list[str], dict, ClassConditionalGMM, dict]:
    """The atlas of one mixture: its text, check lines, config, mixture and JSON results."""
    from ...experiments import trained_atlas
    from ...experiments.separation import ATLAS_COLUMNS, SweepConfig, as_json, sweep, table

    config = replace(SweepConfig.atlas(spec, fast=args.fast), seed=args.seed)
    nets = trained_atlas.NetsConfig().with_mixture(config.mixture)
    nets = nets.fast() if args.fast else nets
    nets = replace(nets, seeds=tuple(args.seeds)) if args.seeds is not None else nets
    if args.methods:
        config, nets = _atlas_parts(args.methods, config, nets, args.exact_only)
    elif args.exact_only:
        nets = None
    if config is not None:
        config = replace(config, method_params=PARAM.value(args.method_params), sampler=args.sampler)
    gmm = (config or nets).mixture
    text, lines, results = [], [], {}
    if config is not None:
        rows = sweep(config, progress=progress(args))
        text += [f"{gmm.name} ({gmm.fingerprint}): exact sources, n = {config.n} per class, Heun {config.steps} "
                 f"steps, class-averaged, 95% intervals; distances to exact CFG at the same w and to exact q_0",
                 table(rows, ATLAS_COLUMNS)]
        results["exact"] = as_json(rows)
    if nets is not None:
        result = trained_atlas.run(nets, progress=progress(args))
        spread = (f"{len(nets.seeds)} seeds, mean ±95% t-interval" if len(nets.seeds) > 1
                  else "1 seed, ±95% half-width")
        text += ["", f"trained nets ({spread}): each method's fine-tune of the DSM net, one net for every w, sampled "
                 f"unguided; 'cfg / nets' is the DSM net with CFG", trained_atlas.table(result)]
        lines = trained_atlas.check_lines(result)
        results["nets"] = trained_atlas.as_json(result)
    return "\n".join(text), lines, {"exact": config, "nets": nets}, gmm, results


def _atlas_parts(names: list[str], config: object, nets: object, exact_only: bool) -> tuple[object, object]:
    """Split ``atlas --methods`` between the exact sweep (methods with an exact field or exact draws, unless they are
    only in the trained part by default) and the trained part (fine-tunes with strength w); refuse what fits
    neither, or nothing left to run."""
    from ... import methods
    from ...experiments import trained_atlas

    unknown = [m for m in names if m not in methods.REGISTRY]
    if unknown:
        raise ValueError(f"--methods must be drawn from {list(methods.names())}, got {unknown}")
    tunable = trained_atlas.trainable_per_w()
    exact = [m for m in names if methods.get(m).sampleable
             and (m in config.methods or m not in tunable)]
    trained = [] if exact_only else [m for m in names if m in tunable]
    left = [m for m in names if m not in exact and m not in trained]
    if left:
        why = ("it is trained, not sampled exactly (drop --exact-only)" if exact_only and set(left) <= set(tunable)
               else "it has neither an exact field nor a loss of strength w")
        raise ValueError(f"--methods {' '.join(left)}: no atlas rows for {', '.join(left)}: {why}")
    return (replace(config, methods=tuple(exact)) if exact else None,
            replace(nets, methods=tuple(trained)) if trained else None)


def options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mixture", nargs="+", default=["crowded_4d"], metavar="NAME_OR_FILE",
                   help="zoo names or mixture .json files, each an atlas of its own (default: crowded_4d, where "
                        "exact CFG does not saturate)")
    p.add_argument("--methods", nargs="+", metavar="NAME",
                   help="methods of sandbox.methods with an exact field or exact draws, and training-time methods "
                        "to train (default: all of the atlas's)")
    p.add_argument("--seed", type=typed(SEED, "--seed"), default=0, help="seed of the exact sweep's draws (default 0)")
    param_flags(p)
    p.add_argument("--exact-only", action="store_true", help="exact sources only: train no nets")
    p.add_argument("--seeds", type=typed(SEED, "--seeds"), nargs="+", metavar="SEED",
                   help="seeds of the trained nets, each an int >= 0 (default 0 1 2; with --fast, 0)")


register(Command(
    "atlas", "every guidance rule and training-time optimum against exact CFG and q_0",
    ("The guidance atlas: every registered guidance rule and training-time optimum sampled from its exact field over "
     "w, measured for separation and diversity and against exact CFG and exact q_0 (energy distances, score distance), "
     "with the sampling time; then every training-time method as a trained net (a fine-tune of the DSM net, one net "
     "for every w) against its own exact optimum and the same references, with its network passes per sample, over "
     "seeds, and whether each expectation holds."),
    EXAMPLES, run,
    options=options,
    fast="two w values and small sizes (seconds, same code path)",
    json="also write every row (per class, with intervals) as JSON",
    sweeps=True))
