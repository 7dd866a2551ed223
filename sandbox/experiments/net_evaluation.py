"""A trained net measured against the exact answers of the mixture it carries (``mclr-sandbox evaluate``), and
samples drawn from it (``mclr-sandbox sample``).

A checkpoint holds its training config, so its mixture, objective and strengths are known. For each strength ``w``
the net was trained at (``ws``, else ``w``; a DSM net is read as "DSM net + CFG" at ``w`` in {0, 2}):

    score error    RMS ``sigma ||s_net - s*||`` over ``x ~ p_sigma(.|c)`` per sigma on a log grid in [0.02, 20], with
                   ``s*`` the net's own objective's exact optimum (``methods.field`` on the mixture), and the same
                   against exact CFG at ``w`` (they coincide where the objective's optimum is CFG)
    samples        Heun ODE from ``x_T ~ p_80(.|c)`` under the net's field (a fine-tune unguided, the DSM net with CFG):
                   Bayes accuracy, mean p(c|x), entropy, mode coverage, each with its 95% interval, and the energy
                   distance to exact-CFG samples from the same starts

A noisy classifier is measured by its mean KL divergence to the exact noisy posterior per sigma and its accuracy
against the exact Bayes label.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import methods
from ..core.fields import Field, labelled
from ..core.mixtures import ClassConditionalGMM
from ..core.schedules import edm_sigmas
from ..core.validation import as_int, as_number
from ..learn.models import Denoiser, NoisyClassifier
from ..learn.training import TrainResult
from ..methods import samplers
from . import evaluation, measures, metrics

Tensor = torch.Tensor
SIGMA_MAX, SIGMA_MIN = 80.0, 0.002


@dataclass(frozen=True)
class EvaluateConfig:
    """``n`` samples per class, ``n_error`` points per class and sigma for score errors, ``steps`` Heun steps."""

    n: int = 1000
    n_error: int = 200
    steps: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name, minimum in (("n", 10), ("n_error", 2), ("steps", 1), ("seed", 0)):
            as_int(getattr(self, name), name, minimum)

    def fast(self) -> EvaluateConfig:
        return EvaluateConfig(n=200, n_error=40, steps=16, seed=self.seed)


def strengths(result: TrainResult) -> tuple[float, ...]:
    """The strengths the net is measured at: what it was trained at (a DSM net: 0 and 2, with CFG)."""
    config = result.config
    if config.objective == "dsm":
        return (0.0, 2.0)
    if methods.get(config.objective).strength == "lam":
        return (0.0,)
    return config.ws or (config.w,)


def net_field(result: TrainResult, c: int, w: float, method: str | None = None) -> Field:
    """The net's field for class ``c`` at strength ``w``: a fine-tune's own (unguided), or for a DSM net the guidance
    rule ``method`` (default ``cfg``) combining its conditional and null-class scores."""
    objective = result.config.objective
    if objective == "dsm":
        return methods.field(method or "cfg", {"dsm": result.model}, c, w=w)
    if method not in (None, objective):
        raise ValueError(f"a {objective} net is sampled with its own field; --method {method} needs a DSM net")
    return methods.field(objective, {objective: result.model}, c, w=w, lam=result.config.lam)


def _exact(result: TrainResult, c: int, w: float) -> Field:
    objective = result.config.objective
    name = "cfg" if objective == "dsm" else objective
    return methods.field(name, result.config.mixture, c, w=w, lam=result.config.lam)


def sample(result: TrainResult, n: int, w: float | None = None, classes: tuple[int, ...] | None = None,
           steps: int = 32, seed: int = 0, method: str | None = None) -> tuple[Tensor, Tensor]:
    """``n`` samples of each class in ``classes`` (default all) from the net at strength ``w`` (default: its first
    trained strength). -> ``x: (n * len(classes), d)``, ``y: (n * len(classes),)``."""
    if not isinstance(result.model, Denoiser):
        raise ValueError("only a denoiser checkpoint can be sampled (this one is a noisy classifier)")
    gmm = result.config.mixture
    n, steps, seed = as_int(n, "n", 1), as_int(steps, "steps", 1), as_int(seed, "seed", 0)
    w = strengths(result)[0] if w is None else as_number(w, "w", minimum=0.0)
    classes = tuple(range(gmm.num_classes)) if classes is None else classes
    for c in classes:
        if not 0 <= as_int(c, "class", 0) < gmm.num_classes:
            raise ValueError(f"class must be in 0..{gmm.num_classes - 1}, got {c}")
    grid = edm_sigmas(steps, SIGMA_MIN, SIGMA_MAX)
    xs = []
    with torch.no_grad():
        for c in classes:
            start = gmm.sample(n, c=c, sigma=SIGMA_MAX, generator=seed + 1000 * c)
            xs.append(samplers.heun_ode(net_field(result, c, w, method), start, grid))
    return torch.cat(xs), torch.cat([torch.full((n,), c, dtype=torch.long) for c in classes])


def evaluate(result: TrainResult, config: EvaluateConfig = EvaluateConfig()) -> dict[str, object]:
    """The measures of the module docstring: ``{"kind", "objective", "mixture", "rows": [...]}``."""
    gmm = result.config.mixture
    if isinstance(result.model, NoisyClassifier):
        return {"kind": "classifier", "objective": "classifier", "mixture": gmm.name,
                "rows": _classifier_rows(result.model, gmm, config)}
    grid = edm_sigmas(config.steps, SIGMA_MIN, SIGMA_MAX)
    rows = []
    for w in strengths(result):
        own = evaluation.score_error(labelled(lambda c, w=w: net_field(result, c, w)),
                                     labelled(lambda c, w=w: _exact(result, c, w)), gmm, n=config.n_error,
                                     seed=config.seed)
        to_cfg = evaluation.score_error(labelled(lambda c, w=w: net_field(result, c, w)),
                                        labelled(lambda c, w=w: methods.field("cfg", gmm, c, w=w)), gmm,
                                        n=config.n_error, seed=config.seed)
        reports = []
        for c in range(gmm.num_classes):
            start = gmm.sample(config.n, c=c, sigma=SIGMA_MAX, generator=config.seed + 1000 * c)
            with torch.no_grad():
                x = samplers.heun_ode(net_field(result, c, w), start, grid)
            exact = samplers.heun_ode(methods.field("cfg", gmm, c, w=w), start, grid)
            report = measures.report(gmm, x, c, ("bayes_accuracy", "mean_posterior", "entropy", "mode_coverage"),
                                     seed=config.seed)
            report["energy_distance_cfg"] = metrics.energy_distance(x, exact, seed=config.seed)
            reports.append(report)
        rows.append({"w": w, "score_error": own[1], "score_error_per_sigma": own[0], "score_error_cfg": to_cfg[1],
                     **{k: metrics.Estimate.mean([r[k] for r in reports]) for k in reports[0]}})
    return {"kind": "denoiser", "objective": result.config.objective, "mixture": gmm.name, "rows": rows}


def _classifier_rows(model: NoisyClassifier, gmm: ClassConditionalGMM, config: EvaluateConfig) -> list[dict]:
    g = torch.Generator().manual_seed(config.seed)
    rows = []
    for sigma in evaluation.ERROR_SIGMAS:
        x0, _ = gmm.sample_joint(config.n_error * gmm.num_classes, g)
        x = x0 + sigma * torch.randn(x0.shape, dtype=x0.dtype, generator=g)
        exact = gmm.class_posterior(x, sigma)
        with torch.no_grad():
            learned = model.posterior(x.to(next(model.parameters()).dtype), sigma).to(x.dtype).clamp_min(1e-300)
        kl = (exact * (exact.clamp_min(1e-300).log() - learned.log())).sum(1)
        agree = (learned.argmax(1) == exact.argmax(1)).double()
        rows.append({"sigma": sigma, "kl_to_exact": metrics.normal_mean(kl),
                     "agrees_with_bayes": metrics.proportion(int(agree.sum()), agree.numel())})
    return rows
