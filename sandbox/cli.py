"""Command line: ``mclr-sandbox`` (also ``python -m sandbox``)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from . import __version__
from .core.files import check_distinct, check_suffix, check_writable
from .core.mixtures import ClassConditionalGMM
from .core.plugins import GROUP as PLUGIN_GROUP
from .core.tables import format_table
from .core.validation import COUNT, NONNEGATIVE, SEED, WHOLE, Limit

FAST_FIGURES = "build/figures-fast"
UNRESOLVED = 3          # verify's exit code when some check is unresolved and none failed
MIXTURE_HELP = "zoo name or mixture .json file (ClassConditionalGMM.save) (default: overlap_2d)"
# the flags that name files a command reads, and those that name files it writes with the endings they must have
# (None: a folder): checked before any work, so that no output replaces an input (``_guard_paths``)
READS = ("checkpoint", "init", "classifier", "mixture", "plugin")
WRITES = {"json": (".json",), "counterexamples": None}
OUT = {"train": (".pt",), "sample": (".npz", ".csv"), "explain": (".html", ".htm"), "report": (".md",),
       "figures": None}

EXAMPLES = {
    "figures": """\
  mclr-sandbox figures                      # regenerate every figure into figures/ (PDF + PNG)
  mclr-sandbox figures --fast               # small sizes, quick look, into build/figures-fast/
  mclr-sandbox figures --only zoo           # one figure
  mclr-sandbox figures --list               # the figure names
  mclr-sandbox figures --check              # regenerate and compare with figures/ (RMS per figure)""",
    "verify": """\
  mclr-sandbox verify --fast                # the theorem checked six ways, quick settings (< 60 s)
  mclr-sandbox verify --json results.json   # full grid, results also as JSON; exit 1 if any check fails
  mclr-sandbox verify --fast --mixture mine.json                  # the theorem on your own mixture
  mclr-sandbox verify --fast --only closed-form symbolic           # two of the checks""",
    "separation": """\
  mclr-sandbox separation --fast            # what CFG / MCLR / the tilted target do to each class, quick
  mclr-sandbox separation --mixture teaching_1d --json sep.json
  mclr-sandbox separation --fast --mixture mine.json              # your own mixture (ClassConditionalGMM.save)""",
    "claims": """\
  mclr-sandbox claims --fast                # every registered claim about guidance, with its verdict, quick
  mclr-sandbox claims --json claims.json    # full sizes; verdicts with their numbers and intervals as JSON
  mclr-sandbox claims --only cfg-is-not-q0 helps-on-average
  mclr-sandbox claims --counterexamples figures/counterexamples   # each counterexample as a mixture file
  mclr-sandbox claims --workers 2 --set monotone-over-mixtures.count=1000      # bigger, on 2 local workers""",
    "atlas": """\
  mclr-sandbox atlas --fast                 # every rule and training-time optimum, exact, then trained nets, quick
  mclr-sandbox atlas --json atlas.json      # crowded_4d, w in {0.5, 1, 2, 4}, nets over 3 seeds
  mclr-sandbox atlas --exact-only           # exact sources only (no training)
  mclr-sandbox atlas --fast --mixture overlap_2d --methods cfg apg cfg-zero-star tilted
  mclr-sandbox atlas --seeds 0 1 2 3 4 --mixture crowded_4d overlap_2d --scheduler tcp://HOST:8786   # a cluster""",
    "train": """\
  mclr-sandbox train --objective dsm --out nets/dsm.pt            # a DSM net on overlap_2d (< 2 min)
  mclr-sandbox train --objective weighted-mclr --init nets/dsm.pt --out nets/weighted.pt
  mclr-sandbox train --objective gft --ws 0.5 1 2 4 --init nets/dsm.pt --out nets/gft.pt   # one net, every w
  mclr-sandbox train --fast --objective dsm --mixture mine.json --out nets/mine.pt""",
    "evaluate": """\
  mclr-sandbox evaluate --checkpoint nets/gft.pt          # a trained net against its mixture's exact answers
  mclr-sandbox evaluate --fast --checkpoint nets/dsm.pt --json eval.json""",
    "sample": """\
  mclr-sandbox sample --checkpoint nets/gft.pt --n 1000 --out samples.npz          # every class, its first w
  mclr-sandbox sample --checkpoint nets/dsm.pt --method cfg --w 4 --class 0 --n 500 --out s.csv""",
    "compare": """\
  mclr-sandbox compare --fast               # DSM vs MCLR nets against the exact answers, quick
  mclr-sandbox compare --json compare.json  # three seeds (about 20 min from an empty cache)
  mclr-sandbox compare --fast --mixture mine.json --json out.json""",
    "report": """\
  mclr-sandbox report --fast                # docs/results-fast.md: every measured table, fast settings
  mclr-sandbox report --fast --check        # recompute it and compare with the committed page (exit 1 if it differs)
  mclr-sandbox report                       # docs/results.md, full settings (long from an empty cache)""",
    "explain": """\
  mclr-sandbox explain                      # build/explain.html: overlap_2d, class 0 (open it in any browser)
  mclr-sandbox explain --mixture mine.json --class 1 --out page.html   # your own 2-D mixture""",
    "zoo": """\
  mclr-sandbox zoo                          # list the named example mixtures""",
}
DESCRIPTIONS = {
    "figures": "Regenerate the figures as PDF and PNG, deterministically; heavy results come from the on-disk cache.",
    "verify": "Check that the CFG score is the unique optimum of sample-adaptive weighted MCLR, six independent ways "
              "(closed form, quadrature, Monte Carlo, learning, symbolic, distribution). Each row passes, FAILs (a "
              "resolved residual above tolerance, or a statistical rejection) or is unresolved (the check's own "
              "numerics fell short within its budget). Exit 0 if all pass, 1 if any fails, 3 if some are unresolved "
              "and none fails.",
    "separation": "Sample each class with the exact fields of CFG and the MCLR optima and exact draws of the tilted "
                  "target, over w and lambda, and measure separation, diversity and fidelity with intervals.",
    "claims": "Published claims about guidance, each measured on exact mixtures: the paper, the precise statement "
              "tested, and a verdict computed from the numbers (holds / fails / holds with a caveat).",
    "atlas": "The guidance atlas: every registered guidance rule and training-time optimum sampled from its exact "
             "field over w, measured for separation and diversity and against exact CFG and exact q_0 (energy "
             "distances, score distance), with the sampling time; then every training-time method as a trained net "
             "(a fine-tune of the DSM net, one net for every w) against its own exact optimum and the same references, "
             "with its network passes per sample, over seeds, and whether each expectation holds.",
    "train": "Train a small conditional MLP denoiser with DSM, fine-tune one with a training-time method (MCLR, "
             "GFT, model guidance, data-level tilt; --ws: one net for every w), or train a noisy classifier; writes "
             "one self-contained checkpoint.",
    "evaluate": "Measure a trained checkpoint against the exact answers of the mixture it carries: score error per "
                "sigma to its own objective's exact optimum and to exact CFG, and separation, diversity and distance "
                "to exact CFG of its samples, with intervals (a classifier: KL to the exact noisy posterior).",
    "sample": "Draw samples from a trained checkpoint (a fine-tune with its own field, a DSM net with a guidance "
              "rule) by the Heun ODE, and write them with their classes as .npz or .csv.",
    "compare": "Train a DSM net and its MCLR fine-tunes (cached) and measure every net against the exact conditional "
               "and CFG answers, over seeds.",
    "report": "Write the measured results page (docs/results.md, or docs/results-fast.md with --fast) from the "
              "experiments' results; --check recomputes it and compares with the committed page.",
    "explain": "Write one self-contained HTML page (no server, no Python, no network needed to view it) that shows "
               "guided paths and the exact posterior over clean data along them, with sliders for w and sigma: "
               "for teaching CFG with a 2-D mixture.",
    "zoo": "List the named example mixtures.",
}


def _epilog(command: str) -> str:
    return f"examples:\n{EXAMPLES[command]}\n  python -m sandbox {command} --help      # the same entry point"



def _figures(args: argparse.Namespace) -> int:
    from .viz.figures import CHECK_TOLERANCE, FIGURES, build, check

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
        results = check(args.only, args.out, tol, progress=_progress(args))
        print(format_table(("figure", "RMS", "tolerance", "status", "across machines"),
                           [(name, f"{rms:.3g}", f"{tol:g}", "ok" if ok else "DIFFERS", note)
                            for name, rms, ok, note in results]))
        bad = sum(not ok for *_, ok, _ in results)
        print(f"{len(results) - bad}/{len(results)} figures match {args.out}/ within RMS {tol:g}")
        return 0 if bad == 0 else 1
    check_writable(args.out, "--out", folder=True)
    t0 = time.perf_counter()
    written = build(args.only, args.out, fast=args.fast, progress=_progress(args))
    for path in written:
        print(f"wrote {path}")
    count = len(written) // 2
    print(f"{len(written)} files for {count} figure{'s' if count != 1 else ''} in {time.perf_counter() - t0:.1f} s")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .experiments import verification

    t0 = time.perf_counter()
    config = verification.VerifyConfig(tuple(args.mixture) if args.mixture else None, args.fast, args.seed,
                                       tuple(args.only) if args.only else None)
    results = verification.run_all(fast=args.fast, progress=_progress(args), mixtures=config.mixtures,
                                   seed=args.seed, checks=config.checks)
    shown = results if args.details else [r for r in results if not r.passed]
    rows = [(r.check, r.setting, f"{r.residual:.2e}", f"{r.tolerance:.2e}", r.status) for r in shown]
    failed = sum(r.status == "FAIL" for r in results)
    unresolved = sum(r.status == "unresolved" for r in results)
    one = config.mixtures[0] if config.mixtures and len(config.mixtures) == 1 else None
    text = verification.summary_table(results)
    if rows:
        text += "\n\n" + format_table(("check", "setting", "residual", "tolerance", "status"), rows)
    lines = [*config.skipped(), f"{len(results) - failed - unresolved}/{len(results)} checks passed, {failed} failed, "
             f"{unresolved} unresolved" + ("" if args.details else " (every row: --details)")]
    if unresolved:
        lines.append("unresolved: the check could not decide within its budget (its quadrature did not resolve, or "
                     "a trained field had not converged or could not tell the two scores apart): no evidence "
                     "against the theorem either way")
    _report(text, lines, t0, args, config, one, lambda: [r.as_dict() for r in results])
    return 1 if failed else UNRESOLVED if unresolved else 0


def _report(text: str, lines: list[str], t0: float, args: argparse.Namespace, config: object,
            mixture: ClassConditionalGMM | None, results: Callable[[], object]) -> None:
    """Print a table and its summary lines with the run time; write the JSON report to ``--json``:
    ``{version, code, plugins, command, config, mixture: {name, fingerprint} or null, results}`` (``code``: the
    fingerprint of the package's and the plug-ins' source, ``provenance.package_fingerprint``)."""
    from .core import cache, plugins, provenance
    from .core.files import write_json

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


def _separation(args: argparse.Namespace) -> int:
    from .experiments.separation import SweepConfig, as_json, sweep, table, trend_summary

    t0 = time.perf_counter()
    config = SweepConfig(mixture=args.mixture, seed=args.seed)
    config = replace(config, methods=tuple(args.methods)) if args.methods else config
    config = config.fast() if args.fast else config
    config = replace(config, method_params=_method_params(args.params), sampler=args.sampler)
    rows = sweep(config, progress=_progress(args))
    gmm = config.mixture
    print(f"{gmm.name} ({gmm.fingerprint}): n = {config.n} per class, Heun {config.steps} steps, metrics averaged "
          f"over classes, 95% intervals")
    _report(table(rows), trend_summary(rows), t0, args, config, gmm, lambda: as_json(rows))
    return 0


def _atlas(args: argparse.Namespace) -> int:
    """One atlas per ``--mixture``; the JSON's results are the one atlas's, or ``{"mixtures": [...]}`` for several,
    each with its mixture."""
    t0 = time.perf_counter()
    parts = [_atlas_one(spec, args) for spec in args.mixture]
    text = "\n\n".join(p[0] for p in parts)
    lines = [f"{p[3].name}: {line}" if len(parts) > 1 else line for p in parts for line in p[1]]
    if len(parts) == 1:
        _report(text, lines, t0, args, parts[0][2], parts[0][3], lambda: parts[0][4])
    else:
        _report(text, lines, t0, args, {p[3].name: p[2] for p in parts}, None,
                lambda: {"mixtures": [{"mixture": {"name": p[3].name, "fingerprint": p[3].fingerprint}, **p[4]}
                                      for p in parts]})
    return 0


def _atlas_one(spec: str, args: argparse.Namespace) -> tuple[str, list[str], dict, ClassConditionalGMM, dict]:
    """The atlas of one mixture: its text, check lines, config, mixture and JSON results."""
    from .experiments import trained_atlas
    from .experiments.separation import ATLAS_COLUMNS, SweepConfig, as_json, sweep, table

    config = replace(SweepConfig.atlas(spec, fast=args.fast), seed=args.seed)
    nets = trained_atlas.NetsConfig().with_mixture(config.mixture)
    nets = nets.fast() if args.fast else nets
    nets = replace(nets, seeds=tuple(args.seeds)) if args.seeds is not None else nets
    if args.methods:
        config, nets = _atlas_parts(args.methods, config, nets, args.exact_only)
    elif args.exact_only:
        nets = None
    if config is not None:
        config = replace(config, method_params=_method_params(args.params), sampler=args.sampler)
    gmm = (config or nets).mixture
    text, lines, results = [], [], {}
    if config is not None:
        rows = sweep(config, progress=_progress(args))
        text += [f"{gmm.name} ({gmm.fingerprint}): exact sources, n = {config.n} per class, Heun {config.steps} "
                 f"steps, class-averaged, 95% intervals; distances to exact CFG at the same w and to exact q_0",
                 table(rows, ATLAS_COLUMNS)]
        results["exact"] = as_json(rows)
    if nets is not None:
        result = trained_atlas.run(nets, progress=_progress(args))
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
    from . import methods
    from .experiments import trained_atlas

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


def _claims(args: argparse.Namespace) -> int:
    from .experiments import claims

    t0 = time.perf_counter()
    verdicts = claims.run(tuple(args.only) if args.only else None, fast=args.fast,
                          announce=lambda line: print(f"mclr-sandbox claims: {line}", file=sys.stderr),
                          changes=_changes(args.changes), seed=args.seed, replicates=args.replicates)
    by = {v: [name for name, verdict in verdicts.items() if verdict.verdict == v] for v in claims.VERDICTS}
    lines = [f"{len(by[claims.HOLDS]) + len(by[claims.CAVEAT])} of {len(verdicts)} claims hold (with or without a "
             f"caveat)" + "".join(f"; {label}: {', '.join(by[v])}" for v, label in
                                  ((claims.FAILS, "failing"), (claims.UNDECIDED, "undecided")) if by[v])
             + (f"; each under {args.replicates} seeds" if args.replicates > 1 else "")]
    if args.counterexamples is not None:
        found = claims.counterexamples(verdicts)
        for name, gmm in found.items():
            gmm.save(Path(args.counterexamples) / f"{name}.json")
        lines.append(f"wrote {len(found)} counterexample mixture file(s) to {args.counterexamples}"
                     + (f": {', '.join(found)}" if found else ""))
    _report(claims.table(verdicts), lines, t0, args, {"only": args.only, "fast": args.fast, "set": args.changes,
                                                      "seed": args.seed, "replicates": args.replicates},
            None, lambda: claims.as_json(verdicts))
    return 0


def _changes(items: list[str], flag: str = "--set", form: str = "CLAIM.SETTING=VALUE",
             example: str = "monotone-over-mixtures.count=1000") -> dict[str, dict[str, str]]:
    """``--set CLAIM.SETTING=VALUE`` items (or another ``flag`` of the same ``form``) as ``{claim: {setting:
    text}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, eq, value = item.partition("=")
        claim, dot, setting = target.strip().rpartition(".")
        if not eq or not dot or not claim or not setting:
            raise ValueError(f"{flag} takes {form}, e.g. {example}; got {item!r}")
        out.setdefault(claim, {})[setting] = value
    return out


def _method_params(items: list[str]) -> tuple[tuple[str, str, float | str], ...]:
    """``--param METHOD.NAME=VALUE`` items as ``(method, name, value)``: a choice as text, anything else a number
    (checked against the method's declared limit by the sweep's config)."""
    from . import methods

    out = []
    for method, params in _changes(items, "--param", "METHOD.NAME=VALUE", "cfg-zero-star.frame=score").items():
        declared = methods.get(method)
        for name, text in params.items():
            value: float | str = text.strip()
            if name not in declared.choices:
                try:
                    value = float(text)
                except ValueError:
                    raise ValueError(f"--param {method}.{name} must be a number, got {text!r}") from None
            out.append((method, name, value))
    return tuple(out)


def _train(args: argparse.Namespace) -> int:
    from . import methods
    from .core import zoo
    from .learn import checkpoints
    from .learn.training import TrainConfig, train, train_classifier

    changes = {k: v for k, v in (("steps", args.steps), ("w", args.w), ("lam", args.lam),
                                 ("ws", tuple(args.ws) if args.ws else None)) if v is not None}
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
    base = base.fast() if args.fast else base
    progress = _progress(args)
    if args.objective == "classifier":
        result = train_classifier(replace(base, **changes), progress=progress)
    elif "init" not in needs:
        result = train(replace(base, objective=args.objective, **changes), progress=progress)
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
                                              progress=progress).model
        config = replace(init.config.fine_tune(args.objective), seed=args.seed, **changes)
        result = train(config, init=init.model, classifier=classifier, progress=progress)
    checkpoints.save(args.out, result)
    gmm = result.config.mixture
    print(f"trained {args.objective} on {gmm.name} ({gmm.fingerprint}; {result.config.steps} steps, seed "
          f"{result.config.seed}) in {result.seconds:.1f} s; final loss {result.history[-1]:.4g}; wrote {args.out}")
    return 0


def _same_mixture(a: ClassConditionalGMM, b: ClassConditionalGMM, what_a: str, what_b: str) -> None:
    """Refuse two nets of different mixtures, naming both."""
    if a.fingerprint != b.fingerprint:
        raise ValueError(f"{what_a} was trained on mixture {a.name} ({a.fingerprint}, d = {a.dim}, K = "
                         f"{a.num_classes}), {what_b} on {b.name} ({b.fingerprint}, d = {b.dim}, K = {b.num_classes})")


def _compare(args: argparse.Namespace) -> int:
    from .experiments.comparison import CompareConfig, acceptance_lines, as_json, compare, table
    from .learn.training import TrainConfig

    t0 = time.perf_counter()
    config = CompareConfig(train=TrainConfig(mixture=args.mixture))
    config = config.fast() if args.fast else config
    if args.seeds is not None:     # given seeds are used as given, with --fast too
        config = replace(config, seeds=tuple(args.seeds))
    result = compare(config, progress=_progress(args))
    gmm = config.train.mixture
    print(f"{gmm.name} ({gmm.fingerprint}), w = {config.w:g}, seeds {list(config.seeds)}: mean ±sd over seeds "
          f"(one seed: 95% interval)")
    _report(table(result), acceptance_lines(result), t0, args, config, gmm, lambda: as_json(result))
    return 0


def _results_page(args: argparse.Namespace) -> int:
    from .viz import report

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


def _evaluate(args: argparse.Namespace) -> int:
    from .experiments import net_evaluation
    from .learn import checkpoints

    t0 = time.perf_counter()
    result = checkpoints.load(args.checkpoint)
    config = net_evaluation.EvaluateConfig(seed=args.seed)
    config = config.fast() if args.fast else config
    measured = net_evaluation.evaluate(result, config)
    gmm = result.config.mixture
    if measured["kind"] == "classifier":
        rows = [(f"{r['sigma']:.3g}", str(r["kl_to_exact"]), str(r["agrees_with_bayes"])) for r in measured["rows"]]
        text = format_table(("sigma", "KL to the exact posterior", "agrees with the Bayes label"), rows)
    else:
        keys = ("score_error", "score_error_cfg", "bayes_accuracy", "mean_posterior", "entropy", "mode_coverage",
                "energy_distance_cfg")
        heads = ("score error to own optimum", "to exact CFG", "Bayes accuracy", "mean p(c|x)", "entropy (nats)",
                 "mode coverage", "energy distance to CFG")
        text = format_table(("w", *heads), [(f"{r['w']:g}", *(str(r[k]) for k in keys)) for r in measured["rows"]])
    print(f"{args.checkpoint}: a {measured['objective']} net on {gmm.name} ({gmm.fingerprint}); 95% intervals")
    _report(text, [], t0, args, {"checkpoint": str(args.checkpoint), "evaluate": config}, gmm,
            lambda: {**measured, "rows": [_plain_row(r) for r in measured["rows"]]})
    return 0


def _plain_row(row: dict) -> object:
    from .core import cache

    return cache.plain({k: v.as_dict() if hasattr(v, "as_dict") else v for k, v in row.items()})


def _sample(args: argparse.Namespace) -> int:
    import numpy as np

    from .core.files import atomic_open
    from .experiments import net_evaluation
    from .learn import checkpoints

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


def _explain(args: argparse.Namespace) -> int:
    from .core import cache
    from .core.files import atomic_open
    from .experiments.explainer import ExplainerConfig
    from .viz.explain import page

    t0 = time.perf_counter()
    config = ExplainerConfig(mixture=args.mixture, c=args.klass)
    text = page(cache.run(config), config.mixture.name, config.c)
    with atomic_open(args.out, "w") as fh:
        fh.write(text)
    print(f"wrote {args.out} ({len(text.encode()) / 1e6:.1f} MB; {config.mixture.name}, class {config.c}, "
          f"{len(config.ws)} values of w x {config.steps} of sigma) in {time.perf_counter() - t0:.1f} s")
    return 0


def _zoo(args: argparse.Namespace) -> int:
    from .core import zoo

    rows = []
    for name, make in zoo.ZOO.items():
        gmm = make()
        summary = (make.__doc__ or "").strip().splitlines()[0]
        rows.append((name, str(gmm.dim), str(gmm.num_classes), str([m.shape[0] for m in gmm.means]), summary))
    print(format_table(("name", "d", "K", "components", "what it is"), rows))
    return 0


def _command(sub: argparse._SubParsersAction, name: str, help_: str, run: Callable[[argparse.Namespace], int],
             fast: str | None, json: str | None = None) -> argparse.ArgumentParser:
    """A subcommand with the shared flags: ``--fast`` (when ``fast`` says what it does), ``--quiet`` and (when
    ``json`` is given) ``--json PATH``."""
    p = sub.add_parser(name, help=help_, description=DESCRIPTIONS[name], epilog=_epilog(name),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    if fast is not None:
        p.add_argument("--fast", action="store_true", help=fast)
    if json is not None:
        p.add_argument("--json", metavar="PATH", help=json)
    p.add_argument("--quiet", action="store_true", help="no progress bars (they show on a terminal only anyway)")
    _shared(p)
    p.set_defaults(run=run)
    return p


def _param(p: argparse.ArgumentParser) -> None:
    """The options that choose how a sweep's rules are applied: their parameters and their sampler."""
    p.add_argument("--param", action="append", default=[], metavar="METHOD.NAME=VALUE", dest="params",
                   help="set a parameter of a method for its rows, e.g. cfg-zero-star.frame=score (its paper's frame "
                        "is the default) or apg.eta=0.5; repeatable (exact rows)")
    p.add_argument("--sampler", choices=("heun", "paper"), default="heun",
                   help="sample every rule by EDM's Heun (default) or each by its paper's frame's sampler: DDIM for "
                        "VP rules, flow-matching Euler for rectified-flow ones (exact rows)")


def _sweeps(p: argparse.ArgumentParser) -> None:
    """The flags of commands that run sweeps: where their independent units run (``sandbox.core.sweeps``)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_typed(COUNT, "--workers"), metavar="N",
                       help="run the sweeps' units on a local Dask cluster of N worker processes (needs "
                            "the distributed extra); results are identical to a serial run")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run them on an existing Dask cluster (e.g. tcp://host:8786) whose workers share the "
                            "cache folder (MCLR_SANDBOX_CACHE)")


def _executor(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """Where the command's sweeps run (serial, ``--workers``, ``--scheduler``) and whether they show progress."""
    from .core import sweeps

    with contextlib.ExitStack() as stack:
        stack.enter_context(sweeps.showing(_progress(args)))
        if getattr(args, "workers", None) is not None:
            stack.enter_context(sweeps.local(args.workers))
        elif getattr(args, "scheduler", None) is not None:
            stack.enter_context(sweeps.connect(args.scheduler))
        return stack.pop_all()          # entered: the caller's ``with`` closes it (a failed start closes it here)


def _typed(limit: Limit, flag: str) -> Callable[[str], object]:
    """An argparse type: the text given to ``flag`` read as a number and checked against its declared ``limit``
    (bad values exit 2 with the flag's name, like every usage error)."""
    def parse(text: str) -> object:
        try:
            value = int(text) if limit.whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {limit.describe()}, got {text!r}") from None
        try:
            return limit.one(value, flag)
        except (ValueError, TypeError) as err:     # argparse names the flag itself: "argument --n: ..."
            raise argparse.ArgumentTypeError(str(err).removeprefix(f"{flag} ")) from None
    parse.limit = limit             # the declaration, for the tests that generate bad values from it
    return parse


def _shared(p: argparse.ArgumentParser) -> None:
    """The flags of every command: ``--plugin``, ``--threads`` and ``--debug``."""
    p.add_argument("--threads", type=_typed(COUNT, "--threads"), metavar="N",
                   help="torch threads (default 1, or MCLR_SANDBOX_THREADS: one thread stays fast when other work "
                        "holds a core; more help only large mixtures on an idle machine)")
    p.add_argument("--plugin", action="append", default=[], metavar="PATH_OR_MODULE",
                   help="load a plug-in (a .py file or a module name) that registers methods or claims; repeatable "
                        f"(installed plug-ins, entry-point group {PLUGIN_GROUP}, load by themselves)")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other failure (exit code 2)."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser, with the choices of the registries as they are now (plug-ins loaded first: ``main``)."""
    from . import methods
    from .learn.training import trainable_objectives

    parser = _Parser(
        prog="mclr-sandbox",
        description="Exact Gaussian-mixture sandbox for classifier-free guidance and MCLR.",
        epilog="examples:\n" + "\n".join(e.splitlines()[0] for e in EXAMPLES.values())
               + "\n  mclr-sandbox COMMAND --help               # what a command does, its flags and more examples",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mclr-sandbox {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "figures", "regenerate the figures (PDF + PNG)", _figures,
                 fast="small sizes for a quick run (same code path)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="build only these figures (see --list)")
    p.add_argument("--out", metavar="DIR",
                   help=f"output folder (default: figures for the full run, {FAST_FIGURES} with --fast, so reduced "
                        "figures never overwrite the committed ones); with --check, the folder to compare with")
    p.add_argument("--list", action="store_true", help="list the figure names and exit")
    p.add_argument("--check", action="store_true",
                   help="regenerate into a temporary folder and compare each PNG with the one in --out (RMS)")
    p.add_argument("--tol", type=_typed(NONNEGATIVE, "--tol"), metavar="RMS",
                   help="with --check: largest RMS difference (0-255 levels) that passes (default 6)")
    _sweeps(p)

    p = _command(sub, "verify", "check that CFG is the optimum of weighted MCLR, six ways", _verify,
                 fast="reduced grid and training (under a minute)",
                 json="also write every result (with details) as JSON")
    p.add_argument("--mixture", nargs="+", metavar="NAME_OR_FILE",
                   help="check these mixtures (zoo names or .json files) instead of the zoo's")
    p.add_argument("--details", action="store_true", help="print every row (setting) of every check, not only "
                                                           "the per-check summary and the failures")
    p.add_argument("--only", nargs="+", metavar="CHECK",
                   help="run only these checks, by the names of the summary's first column (default: every one)")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), default=0,
                   help="seed of every random draw (default 0): a new one re-draws the statistical checks")
    _sweeps(p)

    p = _command(sub, "separation", "inter-class separation and diversity of CFG, MCLR and the tilted target",
                 _separation, fast="fewer samples and w values (seconds, same code path)",
                 json="also write every row (per class, with intervals) as JSON")
    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE", help=MIXTURE_HELP)
    p.add_argument("--methods", nargs="+", metavar="NAME",
                   help="methods with an exact field or exact draws, plug-ins' included (default: "
                        f"{' '.join(methods.names(experiment='separation'))})")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), default=0, help="seed of every draw (default 0)")
    _param(p)
    _sweeps(p)

    p = _command(sub, "atlas", "every guidance rule and training-time optimum against exact CFG and q_0", _atlas,
                 fast="two w values and small sizes (seconds, same code path)",
                 json="also write every row (per class, with intervals) as JSON")
    p.add_argument("--mixture", nargs="+", default=["crowded_4d"], metavar="NAME_OR_FILE",
                   help="zoo names or mixture .json files, each an atlas of its own (default: crowded_4d, where "
                        "exact CFG does not saturate)")
    p.add_argument("--methods", nargs="+", metavar="NAME",
                   help="methods of sandbox.methods with an exact field or exact draws, and training-time methods "
                        "to train (default: all of the atlas's)")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), default=0, help="seed of the exact sweep's draws (default 0)")
    _param(p)
    p.add_argument("--exact-only", action="store_true", help="exact sources only: train no nets")
    p.add_argument("--seeds", type=_typed(SEED, "--seeds"), nargs="+", metavar="SEED",
                   help="seeds of the trained nets, each an int >= 0 (default 0 1 2; with --fast, 0)")
    _sweeps(p)

    p = _command(sub, "claims", "published claims about guidance, each with a computed verdict", _claims,
                 fast="smaller samples and grids (seconds, same code path)",
                 json="also write every verdict with its statement and numbers as JSON")
    p.add_argument("--only", nargs="+", metavar="NAME", help="these claims only (default: every registered one)")
    p.add_argument("--counterexamples", metavar="DIR",
                   help="write every counterexample mixture found as DIR/<name>.json (a --mixture file)")
    p.add_argument("--set", action="append", default=[], metavar="CLAIM.SETTING=VALUE", dest="changes",
                   help="change one setting of a claim's config, e.g. monotone-over-mixtures.count=10000 or "
                        "fades-in-high-d.phase_dims=2,4,8,16; repeatable (the settings of a claim: its JSON's "
                        "config)")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), metavar="S",
                   help="every claim's seed (an int >= 0; default: each claim's own): redraws every sample")
    p.add_argument("--replicates", type=_typed(COUNT, "--replicates"), default=1, metavar="R",
                   help="measure each claim under R seeds (its seed, then steps of 1000) and show how many agree; "
                        "a claim whose seeds disagree is undecided (default 1)")
    _sweeps(p)

    p = _command(sub, "train", "train a small MLP denoiser (DSM) or fine-tune one with MCLR", _train,
                 fast="300 small steps (seconds)")
    p.add_argument("--objective", required=True, choices=(*trainable_objectives(), "classifier"),
                   help="a training objective (see sandbox.methods), or 'classifier' for a noisy classifier")
    p.add_argument("--out", required=True, metavar="PATH", help="checkpoint to write (atomically)")
    p.add_argument("--init", metavar="CKPT", help="DSM checkpoint to fine-tune (MCLR objectives)")
    p.add_argument("--classifier", metavar="CKPT",
                   help="noisy classifier for weighted-mclr-classifier (default: train one)")
    p.add_argument("--mixture", metavar="NAME_OR_FILE",
                   help="zoo name or mixture .json file (default: overlap_2d; a fine-tune takes the mixture of its "
                        "--init net, and a different --mixture is an error)")
    p.add_argument("--steps", type=_typed(COUNT, "--steps"),
                   help="optimisation steps (default: 6000 for DSM, a third for fine-tunes)")
    p.add_argument("--w", type=_typed(NONNEGATIVE, "--w"),
                   help="guidance scale of the objectives of strength w (default 2)")
    p.add_argument("--ws", type=_typed(NONNEGATIVE, "--ws"), nargs="+", metavar="W",
                   help="one net for every one of these w (a strength input), for the objectives of strength w")
    p.add_argument("--lam", type=_typed(NONNEGATIVE, "--lam"), help="strength of unweighted MCLR (default 1)")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), default=0,
                   help="seed of the initial weights and of every draw (default 0)")

    p = _command(sub, "evaluate", "measure a trained checkpoint against its mixture's exact answers", _evaluate,
                 fast="fewer samples and points (seconds)", json="also write every number (with intervals) as JSON")
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a checkpoint written by train")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), default=0, help="seed of every draw (default 0)")

    p = _command(sub, "sample", "draw samples from a trained checkpoint", _sample, fast=None)
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a denoiser checkpoint written by train")
    p.add_argument("--n", type=_typed(COUNT, "--n"), required=True, help="samples per class")
    p.add_argument("--out", required=True, metavar="PATH", help="samples and their classes, .npz (x, y) or .csv")
    p.add_argument("--w", type=_typed(NONNEGATIVE, "--w"),
                   help="strength (default: the first the net was trained at; a DSM net: 0)")
    p.add_argument("--method", metavar="NAME", help="for a DSM net: the guidance rule (default cfg)")
    p.add_argument("--class", dest="klass", type=_typed(WHOLE, "--class"), metavar="C",
                   help="this class only (default: every class)")
    p.add_argument("--steps", type=_typed(COUNT, "--steps"), default=32, help="Heun steps (default 32)")
    p.add_argument("--seed", type=_typed(SEED, "--seed"), default=0, help="seed of the starting draws (default 0)")

    p = _command(sub, "compare", "DSM vs MCLR nets against the exact conditional and CFG answers", _compare,
                 fast="tiny training, one seed (seconds, same code path)",
                 json="also write every number (per seed, with intervals) as JSON")
    p.add_argument("--seeds", type=_typed(SEED, "--seeds"), nargs="+",
                   help="training seeds, each an int >= 0 (default 0 1 2; with --fast, 0)")
    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE", help=MIXTURE_HELP)

    p = _command(sub, "report", "write (or --check) the measured results page docs/results.md", _results_page,
                 fast="fast settings, into docs/results-fast.md (what the test suite checks)")
    p.add_argument("--out", metavar="PATH", help="the page (default: docs/results.md, with --fast "
                                                  "docs/results-fast.md)")
    p.add_argument("--check", action="store_true", help="recompute the page and compare with PATH; exit 1 if a "
                                                          "number differs beyond its last printed digit")
    p.add_argument("--only", nargs="+", metavar="SECTION",
                   help="rewrite only these sections of the page at --out, keeping the others (not with --check)")
    _sweeps(p)

    p = _command(sub, "explain", "write a self-contained HTML page: guided paths and the exact posterior, with "
                 "sliders", _explain, fast=None)
    p.add_argument("--mixture", default="overlap_2d", metavar="NAME_OR_FILE",
                   help="a 2-D zoo name or mixture .json file (default: overlap_2d)")
    p.add_argument("--class", dest="klass", type=_typed(WHOLE, "--class"), default=0, metavar="C",
                   help="the class to guide (default 0)")
    p.add_argument("--out", default="build/explain.html", metavar="PATH", help="the page (default build/explain.html)")

    p = sub.add_parser("zoo", help="list the named example mixtures", description=DESCRIPTIONS["zoo"],
                       epilog=_epilog("zoo"), formatter_class=argparse.RawDescriptionHelpFormatter)
    _shared(p)
    p.set_defaults(run=_zoo)
    return parser


def _guard_paths(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output path that is one of the command's inputs (or another output), and an
    output file whose ending is not what is written there. ``--check`` reads ``--out`` (the page or the folder it
    compares with) instead of writing it."""
    inputs = []
    for flag in READS:
        given = getattr(args, flag, None)
        for path in given if isinstance(given, list) else [given]:
            if path is not None and Path(str(path)).expanduser().is_file():
                inputs.append((f"--{flag}", path))
    writes = dict(WRITES)
    if args.command in OUT and not getattr(args, "check", False):
        writes["out"] = OUT[args.command]
    elif getattr(args, "out", None) is not None:
        inputs.append(("--out", args.out))
    outputs = []
    for flag, suffixes in writes.items():
        path = getattr(args, flag, None)
        if path is None:
            continue
        check_writable(path, f"--{flag}", folder=suffixes is None)
        if suffixes is not None:
            check_suffix(path, f"--{flag}", suffixes)
        outputs.append((f"--{flag}", path))
    check_distinct(outputs, inputs)


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> str:
    return f"mclr-sandbox: warning: {message}\n"


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal only (never ``\\r`` updates in a log), and not with ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends the run like an exception, so partly written files are removed on the way out."""
    raise SystemExit(128 + signum)


def _load_plugins(argv: list[str]) -> int | None:
    """Load the installed plug-ins and every ``--plugin`` before the parser is built, so their names are choices
    like the package's own. -> an exit code if one fails to load (one line; a traceback with ``--debug``)."""
    from .core import plugins

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugin", action="append", default=[])
    pre.add_argument("--debug", action="store_true")
    known, _ = pre.parse_known_args(argv)
    try:
        plugins.load_installed()
        for spec in known.plugin:
            plugins.load(spec)
    except (ValueError, TypeError) as err:
        if known.debug:
            raise
        print(f"mclr-sandbox: error: {err}", file=sys.stderr)
        return 2
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Every failure is one line on stderr (a traceback only with ``--debug``): exit 2 for
    bad usage or input, 1 for a run that fails, 130 when interrupted."""
    warnings.formatwarning = _one_line_warning
    argv = sys.argv[1:] if argv is None else list(argv)
    early = _load_plugins(argv)
    if early is not None:
        return early
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:      # --help, --version, or a usage error already printed in one line: its code
        return done.code if isinstance(done.code, int) else 2
    if args.threads is not None:
        from .core import threads

        threads.use(args.threads)
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        _guard_paths(args)
        with _executor(args):
            return args.run(args)
    except (ValueError, TypeError) as err:
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (FloatingPointError, RuntimeError, OSError) as err:
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug of ours: still one line, and how to see more
        if args.debug:
            raise
        print(f"mclr-sandbox {args.command}: failed: {type(err).__name__}: {err} (run with --debug for the "
              f"traceback)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
