"""Gradient noise of the training objectives: ``mclr-sandbox gradient-noise`` and its section of the results page."""

from __future__ import annotations

from ...core import cache
from ...core.deferred import lazy
from ..experiment import Experiment, Section, block, bullets, register, sized

gradient_noise = lazy("sandbox.experiments.gradient_noise")


def _config(fast: bool) -> gradient_noise.GradientNoiseConfig:
    return sized(gradient_noise.GradientNoiseConfig(), fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    result = cache.run(config)
    return (f"{config.repeats} independent training steps of each objective at the DSM net of seed {config.seed} "
            f"({config.nets.mixture.name}, width {config.nets.train.width}), where every fine-tune starts; batches "
            f"of {result['batch']} rows; 95% bootstrap intervals over the steps.\n\n"
            + block(gradient_noise.table(result)) + "\n\n" + bullets(gradient_noise.lines(result)))


register(Experiment(
    "gradient-noise",
    sections=(Section("gradient-noise", "Gradient noise of the objectives",
                      "mclr-sandbox gradient-noise: how much of one training step's gradient is noise, per "
                      "objective, where the fine-tunes start", _page),),
    summary="gradient noise of each training objective where its fine-tune starts",
    description="Draw many independent training steps of each objective (DSM and the curves' fine-tunes) at the "
                "DSM net's weights and report the mean gradient's squared norm (signal), the trace of the gradients' "
                "covariance (noise), their ratio and the simple noise scale (McCandlish et al. 2018), with "
                "bootstrap intervals.",
    examples="""\
  mclr-sandbox gradient-noise --fast                   # a small net, 16 steps each (seconds)
  mclr-sandbox gradient-noise --set repeats=128 --json noise.json""",
    config=_config,
    run=lambda config, progress: cache.run(config, progress),
    header=lambda config, result: f"{config.nets.mixture.name}, DSM net of seed {config.seed}",
    mixture=lambda config, result: config.nets.mixture,
    table=lambda result: gradient_noise.table(result),
    lines=lambda result: gradient_noise.lines(result),
    as_json=lambda result: cache.plain(result),
    fast="a small, briefly trained net; 16 steps per objective (seconds)",
    json="also write every objective's estimates as JSON"))
