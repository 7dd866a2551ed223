"""The guidance atlas: ``mclr-sandbox atlas`` (exact sources, then trained nets, per mixture) and the section of
its exact part on the results page (the trained part's is ``nets``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...core.deferred import lazy
from ...core.validation import SEED
from ..experiment import PARAM, SAMPLER, TIME, Experiment, Option, Section, block, register, sized

separation = lazy("sandbox.experiments.separation")
trained_atlas = lazy("sandbox.experiments.trained_atlas")
yardsticks = lazy("sandbox.experiments.yardsticks")


@dataclass(frozen=True)
class AtlasRun:
    """One atlas per mixture of ``mixtures``: the exact sweep of ``SweepConfig.atlas`` (with ``seed``,
    ``method_params`` and ``sampler``), then the trained nets of ``NetsConfig`` (over ``seeds``; none with
    ``exact_only``); ``methods``: only these, each in the part it belongs to."""

    mixtures: tuple[Any, ...] = ("crowded_4d",)
    fast: bool = False
    methods: tuple[str, ...] | None = None
    seed: int = 0
    method_params: tuple[tuple[str, str, float | str], ...] = ()
    sampler: str = "heun"
    exact_only: bool = False
    seeds: tuple[int, ...] | None = None


def _page(fast: bool) -> str:
    config = separation.SweepConfig.atlas(fast=fast)
    rows = separation.sweep(config, progress=False)
    columns = tuple(k for k in separation.ATLAS_COLUMNS if k != "seconds_per_1000")
    times = ", ".join(f"{r.method} {r.metrics['seconds_per_1000'].value:.3g} s" for r in separation.defaults(rows)
                      if "seconds_per_1000" in r.metrics and r.w == config.ws[-1])
    swept = f" Then each rule's parameter sweep ({len(config.variants)} variants)." if config.variants else ""
    return (f"n = {config.n} per class, Heun {config.steps} steps, w in {list(config.ws)}.{swept}\n\n"
            + block(separation.table(rows, columns)) + f"\n\n{TIME}seconds per 1000 samples at w = "
            f"{config.ws[-1]:g}: {times}")


def _parts(names: tuple[str, ...], config: Any, nets: Any, exact_only: bool) -> tuple[Any, Any]:
    """Split ``atlas --methods`` between the exact sweep (methods with an exact field or exact draws, unless they are
    only in the trained part by default) and the trained part (fine-tunes with strength w); refuse what fits
    neither, or nothing left to run."""
    from ... import methods

    unknown = [m for m in names if m not in methods.REGISTRY]
    if unknown:
        raise ValueError(f"--methods must be drawn from {list(methods.names())}, got {unknown}")
    tunable = trained_atlas.trainable_per_w()
    exact = [m for m in names if methods.get(m).sampleable and (m in config.methods or m not in tunable)]
    trained = [] if exact_only else [m for m in names if m in tunable]
    left = [m for m in names if m not in exact and m not in trained]
    if left:
        why = ("it is trained, not sampled exactly (drop --exact-only)" if exact_only and set(left) <= set(tunable)
               else "it has neither an exact field nor a loss of strength w")
        raise ValueError(f"--methods {' '.join(left)}: no atlas rows for {', '.join(left)}: {why}")
    return (replace(config, methods=tuple(exact)) if exact else None,
            replace(nets, methods=tuple(trained)) if trained else None)


def _one(spec: Any, run: AtlasRun, progress: bool) -> dict[str, Any]:
    """The atlas of one mixture: its text, check lines, configs, mixture and JSON results."""
    config = replace(separation.SweepConfig.atlas(spec, fast=run.fast), seed=run.seed)
    nets = trained_atlas.NetsConfig().with_mixture(config.mixture)
    nets = sized(nets, run.fast)
    nets = replace(nets, seeds=run.seeds) if run.seeds is not None else nets
    if run.methods:
        config, nets = _parts(run.methods, config, nets, run.exact_only)
    elif run.exact_only:
        nets = None
    if config is not None:
        config = replace(config, method_params=run.method_params, sampler=run.sampler)
    gmm = (config or nets).mixture
    text, lines, results = [], [], {}
    if config is not None:
        rows = separation.sweep(config, progress=progress)
        text += [f"{gmm.name} ({gmm.fingerprint}): exact sources, n = {config.n} per class, Heun {config.steps} "
                 f"steps, class-averaged, 95% intervals; distances to exact CFG at the same w and to exact q_0",
                 separation.table(rows, separation.ATLAS_COLUMNS)]
        results["exact"] = separation.as_json(rows)
    if nets is not None:
        result = trained_atlas.run(nets, progress=progress)
        spread = (f"{len(nets.seeds)} seeds, mean ±95% t-interval" if len(nets.seeds) > 1
                  else "1 seed, ±95% half-width")
        text += ["", f"trained nets ({spread}): each method's fine-tune of the DSM net, one net for every w, sampled "
                 f"unguided; 'cfg / nets' is the DSM net with CFG", yardsticks.table(result)]
        lines = yardsticks.check_lines(result)
        results["nets"] = yardsticks.as_json(result)
    return {"text": "\n".join(text), "lines": lines, "configs": {"exact": config, "nets": nets}, "mixture": gmm,
            "results": results}


def _lines(parts: list[dict[str, Any]]) -> list[str]:
    return [f"{p['mixture'].name}: {line}" if len(parts) > 1 else line for p in parts for line in p["lines"]]


def _as_json(parts: list[dict[str, Any]]) -> Any:
    """The one atlas's results, or ``{"mixtures": [...]}`` for several, each with its mixture."""
    if len(parts) == 1:
        return parts[0]["results"]
    return {"mixtures": [{"mixture": {"name": p["mixture"].name, "fingerprint": p["mixture"].fingerprint},
                          **p["results"]} for p in parts]}


def _record(run: AtlasRun, parts: list[dict[str, Any]]) -> Any:
    """The configs the atlas ran: the one atlas's, or each mixture's by name."""
    return parts[0]["configs"] if len(parts) == 1 else {p["mixture"].name: p["configs"] for p in parts}


register(Experiment(
    "atlas",
    sections=(Section("atlas", "The guidance atlas, exact fields (crowded_4d)",
                      "mclr-sandbox atlas --exact-only: every rule and training-time optimum of the atlas, sampled "
                      "from its exact field, against exact CFG and exact q_0", _page),),
    summary="every guidance rule and training-time optimum against exact CFG and q_0",
    description="The guidance atlas: every registered guidance rule and training-time optimum sampled from its exact "
                "field over w, measured for separation and diversity and against exact CFG and exact q_0 (energy "
                "distances, score distance), with the sampling time; then every training-time method as a trained "
                "net (a fine-tune of the DSM net, one net for every w) against its own exact optimum and the same "
                "references, with its network passes per sample, over seeds, and whether each expectation holds.",
    examples="""\
  mclr-sandbox atlas --fast                 # every rule and training-time optimum, exact, then trained nets, quick
  mclr-sandbox atlas --json atlas.json      # crowded_4d, w in {0.5, 1, 2, 4}, nets over 3 seeds
  mclr-sandbox atlas --exact-only           # exact sources only (no training)
  mclr-sandbox atlas --fast --mixture overlap_2d --methods cfg apg cfg-zero-star tilted
  mclr-sandbox atlas --seeds 0 1 2 3 4 --mixture crowded_4d overlap_2d --scheduler tcp://HOST:8786   # a cluster""",
    config=lambda fast: AtlasRun(fast=fast),
    run=lambda run, progress: [_one(spec, run, progress) for spec in run.mixtures],
    table=lambda parts: "\n\n".join(p["text"] for p in parts),
    lines=_lines, as_json=_as_json, record=_record,
    mixture=lambda run, parts: parts[0]["mixture"] if len(parts) == 1 else None,
    options=(Option("--mixture", "mixtures", "zoo names or mixture .json files, each an atlas of its own (default: "
                    "crowded_4d, where exact CFG does not saturate)", many=True, default=("crowded_4d",),
                    metavar="NAME_OR_FILE", reads=True),
             Option("--methods", "methods", "methods of sandbox.methods with an exact field or exact draws, and "
                    "training-time methods to train (default: all of the atlas's)", many=True, metavar="NAME"),
             Option("--seed", "seed", "seed of the exact sweep's draws (default 0)", limit=SEED, default=0),
             PARAM, SAMPLER,
             Option("--exact-only", "exact_only", "exact sources only: train no nets", switch=True),
             Option("--seeds", "seeds", "seeds of the trained nets, each an int >= 0 (default 0 1 2; with --fast, 0)",
                    limit=SEED, many=True, metavar="SEED")),
    fast="two w values and small sizes (seconds, same code path)",
    json="also write every row (per class, with intervals) as JSON"))
