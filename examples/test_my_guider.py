"""Testing your own guider or scheduler against exact answers, in your own pytest suite (needs the diffusers extra
for the library's schedulers: pip install 'mclr-sandbox[diffusers]').

A guider is any object with diffusers' guider interface (``set_state(step, num_inference_steps, timestep)`` and
``forward(pred_cond, pred_uncond)`` returning an object with ``.pred``); a scheduler is any object with its scheduler
interface (``set_timesteps``, ``timesteps``, ``scale_model_input``, ``step``). The sandbox calls them on the exact
mixture and compares with exact answers:

    python -m pytest examples/test_my_guider.py
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sandbox import library_audit, zoo

diffusers = pytest.importorskip("diffusers")


class MyCFG:
    """A hand-written classifier-free guidance, diffusers-style: guidance_scale s (s = 1: the conditional)."""

    def __init__(self, guidance_scale: float) -> None:
        self.guidance_scale = guidance_scale

    def set_state(self, step: int, num_inference_steps: int, timestep: object) -> None:
        pass

    def forward(self, pred_cond, pred_uncond):
        return SimpleNamespace(pred=pred_uncond + self.guidance_scale * (pred_cond - pred_uncond))


def test_my_guider_is_cfg():
    # the sandbox's rule "cfg" at w = s - 1, on exact noise predictions of overlap_2d at seven noise levels
    error = library_audit.guider_error(MyCFG(4.0), "cfg", zoo.get("overlap_2d"), 0, "eps", 3.0)
    assert error < 1e-12


def test_my_scheduler_converges_at_first_order():
    # a scheduler run as a pipeline runs it, on the exact model, against the exact probability-flow path
    runs = library_audit.convergence(lambda: diffusers.EulerDiscreteScheduler(beta_schedule="scaled_linear"),
                                     zoo.get("overlap_2d"), 0, (10, 20, 40), n=64)
    assert all(abs(order - 1.0) < 0.2 for order in library_audit.orders(runs))
