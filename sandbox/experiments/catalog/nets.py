"""The guidance atlas, trained nets (crowded_4d): its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ..experiment import Experiment, Section, block, bullets, register, sized

trained_atlas = lazy("sandbox.experiments.trained_atlas")
yardsticks = lazy("sandbox.experiments.yardsticks")


def _config(fast: bool) -> trained_atlas.NetsConfig:
    config = trained_atlas.NetsConfig()
    return sized(config, fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    result = trained_atlas.run(config, progress=False)
    keys = tuple(k for k in yardsticks.MEASURES if k != "seconds_per_1000")
    return (f"{len(config.seeds)} seed(s), fine-tunes of {config.tune_steps} steps, n = {config.n} per class.\n\n"
            + block(yardsticks.table(result, keys)) + "\n\n" + bullets(yardsticks.check_lines(result)))


register(Experiment("atlas-nets", sections=(Section(
    "atlas-nets", "The guidance atlas, trained nets (crowded_4d)",
    "mclr-sandbox atlas: each training-time method as a fine-tune of the DSM net (one net for every w), against "
    "its own exact optimum and exact CFG and q_0; mean and 95% t-interval over seeds",
    _page),), config=_config))
