"""4. MLP fields trained by SGD: weighted MCLR ends nearer ``s_w``, DSM nearer ``s_c``, at equal budget."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from ...core import zoo
from ...core.mixtures import ClassConditionalGMM
from ...core.zoo import MixtureSpec
from ...learn import training
from ...methods import objectives
from .. import evaluation
from ..metrics import Estimate
from .registry import (
    Check,
    CheckResult,
    register,
)

Tensor = torch.Tensor


class ConditionalField(torch.nn.Module):
    """A flexible field ``s(x, c)`` at one noise level: one small MLP per label (no capacity shared between
    labels). Input ``x / sqrt(1 + sigma^2)``, output ``sigma s`` (unit scale at every sigma); float32 inside,
    float64 out."""

    def __init__(self, dim: int, num_classes: int, sigma: float, width: int = 128, depth: int = 3) -> None:
        super().__init__()

        def mlp() -> torch.nn.Sequential:
            layers: list[torch.nn.Module] = []
            for i in range(depth):
                layers += [torch.nn.Linear(dim if i == 0 else width, width), torch.nn.SiLU()]
            return torch.nn.Sequential(*layers, torch.nn.Linear(width, dim))

        self.nets = torch.nn.ModuleList(mlp() for _ in range(num_classes))
        self.sigma, self.dim = sigma, dim

    def forward(self, x: Tensor, sigma: Tensor | float, c: Tensor) -> Tensor:
        inp = (x / math.sqrt(1.0 + self.sigma**2)).float()
        out = torch.empty(x.shape[0], self.dim, dtype=torch.float32, device=x.device)
        for k, net in enumerate(self.nets):
            rows = c == k
            if bool(rows.any()):
                out[rows] = net(inp[rows])
        return out.double() / self.sigma


def train_field(gmm: ClassConditionalGMM, sigma: float, objective: str, w: float, steps: int, batch: int,
                seed: int, lr: float = 3e-3, width: int = 128, progress: bool = False,
                record: Callable[[int, torch.nn.Module], None] | None = None,
                record_every: int = 50, ema: float = 0.995) -> tuple[ConditionalField, list[float]]:
    """Fit a ``ConditionalField`` at one ``sigma`` on a sampled objective over rows of the joint data, with the
    package's one training loop (``training.fit``: Adam, cosine decay, EMA of the weights with decay ``ema``).

    ``objective``: ``"dsm"`` (label = the row's class) or ``"weighted-mclr"`` (with mismatched negatives and exact
    posterior weights). Returns the EMA field and the loss per step (times ``sigma^2``, which is O(1) at every
    sigma). ``record(step, field)`` is called every ``record_every`` steps and at the end (``training.fit``).
    """
    if objective not in ("dsm", "weighted-mclr"):
        raise ValueError(f"objective must be 'dsm' or 'weighted-mclr', got {objective!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    field = ConditionalField(gmm.dim, gmm.num_classes, sigma, width=width)
    half = batch // 2

    def step_loss() -> Tensor:
        x0, y = gmm.sample_joint(half, g)
        eps = torch.randn(half, gmm.dim, dtype=torch.float64, generator=g)
        # antithetic pairs (x0, eps), (x0, -eps): same expectation, and the eps / sigma noise in the
        # gradient cancels to first order, which matters most at small sigma
        x0, eps, y = torch.cat([x0, x0]), torch.cat([eps, -eps]), torch.cat([y, y])
        if objective == "dsm":
            loss = objectives.dsm_loss(field, x0, eps, sigma, y, gmm.num_classes)
        else:
            c_neg = objectives.mismatched_labels(y[:half], gmm.num_classes, g).repeat(2)
            loss = objectives.weighted_mclr_loss(field, x0, eps, sigma, y, c_neg, w, gmm.class_posterior,
                                                 gmm.num_classes, "mismatched")
        return loss.mean() * sigma**2

    model, losses, _ = training.fit(field, step_loss, steps, lr, ema, f"train {objective} sigma={sigma:g}", progress,
                                    record, record_every)
    return model, losses


def rms(a: Tensor, b: Tensor) -> float:
    """``sqrt(mean_i ||a_i - b_i||^2)``."""
    return float((a - b).square().sum(1).mean().sqrt())


def learning_errors(gmm: ClassConditionalGMM, field: ConditionalField, sigma: float, w: float, c: int,
                    n: int = 20_000, seed: int = 123) -> dict[str, Estimate]:
    """RMS errors under ``x ~ p_sigma(.|c)`` with 95% intervals: field vs ``s_w``, field vs ``s_c``, and ``s_c`` vs
    ``s_w`` (``evaluation.rms``)."""
    x = gmm.sample(n, c=c, sigma=sigma, generator=seed)
    s_w, s_c = gmm.cfg_score(x, sigma, c, w), gmm.score(x, sigma, c)
    with torch.no_grad():
        learned = field(x, sigma, torch.full((n,), c, dtype=torch.long))
    return {"vs_s_w": evaluation.rms((learned - s_w).square().sum(1)),
            "vs_s_c": evaluation.rms((learned - s_c).square().sum(1)),
            "s_c_vs_s_w": evaluation.rms((s_c - s_w).square().sum(1))}


def check_learning(mixture: MixtureSpec = "overlap_2d", sigmas: Iterable[float] = (0.5, 1.0, 2.0), w: float = 2.0,
                   steps: int = 1500, batch: int = 4096, seed: int = 0, progress: bool = False) -> list[CheckResult]:
    """Weighted MCLR -> ``s_w`` and DSM -> ``s_c``, judged by comparison at equal budget, for every label.

    Both fields train for ``steps`` steps of ``batch`` rows. The theorem predicts that the weighted field ends
    closer to ``s_w`` than to ``s_c`` and closer to ``s_w`` than the DSM field does, and that the DSM field ends
    closer to ``s_c`` than to ``s_w``; each "closer" must hold with the two errors' 95% intervals apart (RMS under
    ``p_sigma(.|c)``), whatever the absolute accuracy a small net reaches on the mixture. A row passes when its
    comparisons hold for every label; it FAILs when one is reversed, intervals apart, by a field that converged (its
    error to its target fell by less than 5% over the last quarter of the budget); otherwise (overlapping intervals:
    the net cannot tell the two scores apart, or a field still improving) it is ``unresolved``. The residual is the
    worst label's ``error(field, target) / error(field, other score)`` (tolerance 1); the absolute accuracy
    ``error(field, target) / ||s_c - s_w||`` is in the details.
    """
    gmm = zoo.resolve(mixture)
    results = []
    for sigma in sigmas:
        fields, trace = {}, {}
        for objective, target in (("weighted-mclr", "vs_s_w"), ("dsm", "vs_s_c")):
            seen: list[float] = []

            def record(step: int, model: torch.nn.Module, target: str = target, seen: list = seen,
                       sigma: float = sigma) -> None:
                seen.append(max(learning_errors(gmm, model, sigma, w, c, n=2000)[target].value
                                for c in range(gmm.num_classes)))

            fields[objective], losses = train_field(gmm, sigma, objective, w, steps, batch, seed, progress=progress,
                                                    record=record, record_every=max(1, (3 * steps) // 4))
            trace[objective] = (seen, losses)
        errors = {name: {c: learning_errors(gmm, f, sigma, w, c) for c in range(gmm.num_classes)}
                  for name, f in fields.items()}
        for objective, target, other in (("weighted-mclr", "vs_s_w", "vs_s_c"), ("dsm", "vs_s_c", "vs_s_w")):
            mine = errors[objective]
            # (nearer, farther) pairs of errors the theorem orders
            pairs = [(e[target], e[other]) for e in mine.values()]
            if objective == "weighted-mclr":   # ... and closer to s_w than the DSM field is
                pairs += [(mine[c]["vs_s_w"], errors["dsm"][c]["vs_s_w"]) for c in mine]
            seen, losses = trace[objective]
            improving = len(seen) >= 3 and seen[-1] < 0.95 * seen[-2]
            if all(near.hi < far.lo for near, far in pairs):
                status = "pass"
            elif any(near.lo > far.hi for near, far in pairs) and not improving:
                status = "FAIL"                # an ordering reversed, intervals apart, by a field that converged
            else:
                status = "unresolved"          # intervals overlap, or the field was still improving
            ratio = max(e[target].value / e[other].value for e in mine.values())
            accuracy = max(e[target].value / e["s_c_vs_s_w"].value for e in mine.values())
            results.append(CheckResult.of(
                "learning", {"mixture": gmm.name, "objective": objective, "sigma": sigma, "w": w},
                ratio, 1.0, status == "pass",
                {"errors": {c: {k: v.as_dict() for k, v in e.items()} for c, e in mine.items()},
                 "accuracy": accuracy, "still_improving": improving, "error_trace": seen, "steps": steps,
                 "batch": batch, "losses": losses[:: max(1, steps // 200)]}, status))
    return results


register(Check("learning", check_learning, {"sigmas": (1.0,), "steps": 800, "batch": 2048}, takes="each"))
