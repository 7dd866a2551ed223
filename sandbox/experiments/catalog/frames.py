"""Frame sensitivity (exact fields): its section of the results page."""

from __future__ import annotations

from ...core.deferred import lazy
from ..experiment import Experiment, Section, block, register, sized

frame_sensitivity = lazy("sandbox.experiments.frame_sensitivity")


def _config(fast: bool) -> frame_sensitivity.Config:
    config = frame_sensitivity.Config()
    return sized(config, fast)


def _page(fast: bool) -> str:
    config = _config(fast)
    return (f"{config.n} points per sigma, class 0; the paper's frame is 0 by definition.\n\n"
            + block(frame_sensitivity.table(frame_sensitivity.run(config), config)))


register(Experiment("frames", sections=(Section(
    "frames", "Frame sensitivity (exact fields)",
    "each rule with a nonlinear step applied in every standard frame: E|s_F - s_paper| / E|s_paper| over "
    "x ~ p_sigma(.|c=0), w = 2 (linear rules: 0 in every frame, tests/test_frames.py)",
    _page),), config=_config))
