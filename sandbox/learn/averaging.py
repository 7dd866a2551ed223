"""Averages of the weights along a training run: edm2's power-function EMA, and its post-hoc reconstruction.

Karras et al. 2024 ("Analyzing and Improving the Training Dynamics of Diffusion Models", section 3) average the
iterates ``theta_1 .. theta_t`` with the decay ``beta_t = (1 - 1/t)^(gamma + 1)``:

    hat_theta_t = beta_t hat_theta_(t-1) + (1 - beta_t) theta_t
                = sum_tau p_t(tau) theta_tau,    p_t(tau) = (tau^(gamma+1) - (tau-1)^(gamma+1)) / t^(gamma+1),

a profile that grows like ``tau^gamma`` and whose width relative to ``t`` does not depend on ``t``:
``sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3)))`` (so a short and a long run average alike).

Post hoc: a run keeps snapshots of two such averages (``sigma_rel`` 0.05 and 0.10, as edm2 does) at ``n`` evenly
spaced steps. Any other profile at the last step ``T`` is then a linear combination of the snapshots: the
coefficients ``x`` minimise ``|| A x - p_T ||_2`` over ``tau = 1..T`` (``A``'s columns the snapshots' profiles, exactly
the discrete ones above), and the average is ``sum_k x_k hat_theta_k``. The reconstructed average weighs the
iterates by ``A x`` instead of ``p_T``; the relative residual ``|| A x - p_T || / || p_T ||`` says how far that is
(per weight, ``|reconstructed - exact| <= || A x - p_T || ||theta_(1..T)||_2`` by Cauchy-Schwarz). With 16 snapshots
per profile it is below 3% for ``sigma_rel`` in [0.04, 0.2] (any run length) and 0 for the kept profiles.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..core.validation import as_int, as_number

Tensor = torch.Tensor
SNAPSHOT_SIGMA_RELS = (0.05, 0.10)       # the two profiles a run keeps (edm2's)


def gamma_of(sigma_rel: float) -> float:
    """The exponent ``gamma`` of the power profile of relative width ``sigma_rel`` (0 < sigma_rel < sqrt(1/12)):
    the real root of ``gamma^3 + 7 gamma^2 + (16 - s) gamma + 12 - s = 0``, ``s = sigma_rel^-2``."""
    sigma_rel = as_number(sigma_rel, "sigma_rel", 0.0, math.sqrt(1 / 12), True)
    s = sigma_rel ** -2
    roots = np.roots([1.0, 7.0, 16.0 - s, 12.0 - s])
    return float(max(r.real for r in roots if abs(r.imag) < 1e-9 and r.real > -1.0))


def sigma_rel_of(gamma: float) -> float:
    """The relative width of the power profile ``tau^gamma``: ``sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3)))``."""
    gamma = as_number(gamma, "gamma", -1.0, None, True)
    return math.sqrt((gamma + 1) / ((gamma + 2) ** 2 * (gamma + 3)))


def profile(gamma: float, t: int, total: int) -> np.ndarray:
    """The weights ``p_t(tau)`` of the iterates ``tau = 1..total`` in the power average at step ``t`` (zero after
    ``t``). -> ``(total,)`` float64, summing to 1."""
    tau = np.arange(1, total + 1, dtype=np.float64)
    p = (np.minimum(tau, t) / t) ** (gamma + 1) - (np.minimum(tau - 1, t) / t) ** (gamma + 1)
    return p


def snapshot_steps(total: int, n: int) -> tuple[int, ...]:
    """``n`` snapshot steps evenly spaced in ``1..total``, the last at ``total``."""
    total, n = as_int(total, "steps", 1), as_int(n, "snapshots", 1)
    return tuple(sorted({max(1, round(total * (i + 1) / n)) for i in range(n)}))


def coefficients(gammas: Iterable[float], steps: Iterable[int], total: int, sigma_rel: float
                 ) -> tuple[np.ndarray, float]:
    """Least-squares coefficients of the snapshots (every ``gamma`` at every step, gamma-major) for the profile of
    ``sigma_rel`` at step ``total``, and the relative residual ``|| A x - p_total ||_2 / || p_total ||_2``."""
    gammas, steps = tuple(gammas), tuple(steps)
    a = np.stack([profile(g, t, total) for g in gammas for t in steps], axis=1)
    b = profile(gamma_of(sigma_rel), total, total)
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    return x, float(np.linalg.norm(a @ x - b) / np.linalg.norm(b))


class PowerEMA:
    """Tracks the power averages of ``SNAPSHOT_SIGMA_RELS`` of ``model``'s parameters over a run of ``total`` steps
    and keeps a copy of each at ``snapshot_steps(total, n)``; call ``update()`` after every optimiser step. Averages
    are kept in float64 (the reconstruction subtracts nearly equal snapshots); snapshots are stored in the model's
    dtype."""

    def __init__(self, model: torch.nn.Module, total: int, n: int) -> None:
        self.model, self.total = model, total
        self.gammas = tuple(gamma_of(s) for s in SNAPSHOT_SIGMA_RELS)
        self.steps = snapshot_steps(total, n)
        self.names = [name for name, _ in model.named_parameters()]
        self.averages = [[p.detach().double().clone() for p in model.parameters()] for _ in self.gammas]
        self.states: list[list[dict[str, Tensor]]] = [[] for _ in self.gammas]
        self.t = 0

    @torch.no_grad()
    def update(self) -> None:
        self.t += 1
        current = [p.detach().double() for p in self.model.parameters()]
        for gamma, average, states in zip(self.gammas, self.averages, self.states):
            beta = (1.0 - 1.0 / self.t) ** (gamma + 1)
            torch._foreach_lerp_(average, current, 1.0 - beta)
            if self.t in self.steps:
                dtype = next(self.model.parameters()).dtype
                states.append({n: a.to(dtype).cpu().clone() for n, a in zip(self.names, average)})

    def snapshots(self) -> Snapshots:
        """The snapshots so far, and the last iterate (the run's weights without any average)."""
        last = {n: p.detach().cpu().clone() for n, p in self.model.named_parameters()}
        return Snapshots(self.gammas, self.steps[:len(self.states[0])], self.t, self.states, last)


@dataclass(frozen=True)
class Snapshots:
    """What a run kept for post-hoc averaging: ``states[k][i]`` the parameters of the power average of exponent
    ``gammas[k]`` at step ``steps[i]`` of a run of ``total`` steps; ``last`` the last iterate's parameters."""

    gammas: tuple[float, ...]
    steps: tuple[int, ...]
    total: int
    states: list[list[dict[str, Tensor]]]
    last: dict[str, Tensor]

    def average(self, sigma_rel: float) -> tuple[dict[str, Tensor], float]:
        """The parameters of the power average of width ``sigma_rel`` at the last step, reconstructed (module
        docstring), and the relative residual of the reconstruction."""
        x, residual = coefficients(self.gammas, self.steps, self.total, sigma_rel)
        flat = [state for states in self.states for state in states]
        out = {name: sum(float(c) * s[name].double() for c, s in zip(x, flat)) for name in flat[0]}
        return {name: value.to(flat[0][name].dtype) for name, value in out.items()}, residual


def averaged(model: torch.nn.Module, snapshots: Snapshots, sigma_rel: float | None) -> tuple[torch.nn.Module, float]:
    """A copy of ``model`` carrying the power average of width ``sigma_rel`` reconstructed from ``snapshots`` (or
    the last iterate, ``sigma_rel=None``; residual 0), in eval mode, and the reconstruction's residual."""
    state, residual = (snapshots.last, 0.0) if sigma_rel is None else snapshots.average(sigma_rel)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    if {name: tuple(t.shape) for name, t in state.items()} != shapes:
        raise ValueError(f"the snapshots are not of this model's parameters (the model has {shapes})")
    out = copy.deepcopy(model)
    out.load_state_dict(state, strict=False)           # buffers (fixed features) stay the model's
    return out.eval(), residual
