"""A trained checkpoint against its mixture's exact answers: ``mclr-sandbox evaluate``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...core import cache
from ...core.deferred import lazy
from ...core.tables import format_table
from ...core.validation import SEED
from .. import measures
from ..experiment import Experiment, Option, register, sized

net_evaluation = lazy("sandbox.experiments.net_evaluation")

KEYS = ("score_error", "score_error_cfg", "bayes_accuracy", "mean_posterior", "entropy", "mode_coverage",
        "energy_distance_cfg")


@dataclass(frozen=True)
class EvaluateRun:
    """The checkpoint to measure and the settings it is measured with."""

    checkpoint: str = ""
    evaluate: net_evaluation.EvaluateConfig = field(default_factory=lambda: net_evaluation.EvaluateConfig())


def _config(fast: bool) -> EvaluateRun:
    settings = net_evaluation.EvaluateConfig()
    return EvaluateRun(evaluate=sized(settings, fast))


def _run(config: EvaluateRun, progress: bool) -> dict[str, Any]:
    from ...learn import checkpoints

    net = checkpoints.load(config.checkpoint)
    return {"net": net, "measured": net_evaluation.evaluate(net, config.evaluate)}


def _header(config: EvaluateRun, result: dict[str, Any]) -> str:
    gmm = result["net"].config.mixture
    return (f"{config.checkpoint}: a {result['measured']['objective']} net on {gmm.name} ({gmm.fingerprint}); 95% "
            f"intervals")


def _table(result: dict[str, Any]) -> str:
    measured = result["measured"]
    if measured["kind"] == "classifier":
        rows = [(f"{r['sigma']:.3g}", str(r["kl_to_exact"]), str(r["agrees_with_bayes"])) for r in measured["rows"]]
        return format_table(("sigma", "KL to the exact posterior", "agrees with the Bayes label"), rows)
    return format_table(("w", *(measures.heading(k) for k in KEYS)),
                        [(f"{r['w']:g}", *(str(r[k]) for k in KEYS)) for r in measured["rows"]])


def _as_json(result: dict[str, Any]) -> dict[str, Any]:
    measured = result["measured"]
    return {**measured, "rows": [cache.plain({k: v.as_dict() if hasattr(v, "as_dict") else v for k, v in r.items()})
                                 for r in measured["rows"]]}


register(Experiment(
    "evaluate",
    summary="measure a trained checkpoint against its mixture's exact answers",
    description="Measure a trained checkpoint against the exact answers of the mixture it carries: score error per "
                "sigma to its own objective's exact optimum and to exact CFG, and separation, diversity and distance "
                "to exact CFG of its samples, with intervals (a classifier: KL to the exact noisy posterior).",
    examples="""\
  mclr-sandbox evaluate --checkpoint nets/gft.pt          # a trained net against its mixture's exact answers
  mclr-sandbox evaluate --fast --checkpoint nets/dsm.pt --json eval.json""",
    config=_config, run=_run, header=_header, table=_table, as_json=_as_json,
    mixture=lambda config, result: result["net"].config.mixture,
    options=(Option("--checkpoint", "checkpoint", "a checkpoint written by train", required=True, metavar="CKPT",
                    reads=True),
             Option("--seed", "evaluate.seed", "seed of every draw (default 0)", limit=SEED, default=0)),
    sweeps=False,
    fast="fewer samples and points (seconds)",
    json="also write every number (with intervals) as JSON"))
