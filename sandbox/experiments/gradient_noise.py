"""How noisy each objective's gradient is where its fine-tune starts: the gradient noise of one training step.

At the DSM net's weights ``theta_0`` (where every fine-tune of the trained atlas starts), ``R`` independent steps of
an objective (``training.objective_loss``: the batch of ``B`` rows the training loop draws, its weighting, its
strengths) give gradients ``g_1 .. g_R``. With their mean ``G`` and covariance ``Sigma_B``,

    noise-to-signal   N = tr(Sigma_B) / |G|^2       (how much of one step's gradient is noise: > 1, mostly noise)
    noise scale       B_noise = B N                 (McCandlish et al. 2018's simple noise scale: the batch at which
                                                     a step's noise would equal its signal)

``|G|^2`` is estimated without its bias (``|mean g|^2 - tr(Sigma_B) / R``), and each has a percentile bootstrap
interval over the ``R`` gradients (recentred where a resample is biased: see ``metrics.bootstrap_curve``). DSM
itself is measured at its own optimum, where its mean gradient vanishes and every step is noise: its row is the
floor, not a rival. The negatively weighted terms of the MCLR-type objectives were expected to make them noisier
than the others; each of them is measured a second time with its negative term averaged over all ``K - 1`` labels
(``TrainConfig.negatives = "all"``: the same expected gradient, the draw of the label taken out of its noise).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from .. import methods
from ..learn import training
from . import metrics
from .learning_curves import curve_methods
from .trained_atlas import Net, NetsConfig, train_net

Tensor = torch.Tensor


@dataclass(frozen=True)
class GradientNoiseConfig:
    """``nets``: the trained atlas's recipe (its DSM net of seed ``seed`` is ``theta_0``; each method's fine-tune
    config is ``nets.tune``); ``repeats``: gradients per objective."""

    nets: NetsConfig = field(default_factory=lambda: NetsConfig(methods=curve_methods()))
    repeats: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.nets, NetsConfig):
            raise TypeError(f"nets must be a NetsConfig, got {type(self.nets).__name__}")
        if not isinstance(self.repeats, int) or self.repeats < 4:
            raise ValueError(f"repeats must be an int >= 4 (a covariance needs several gradients), got {self.repeats}")
        if self.seed not in self.nets.seeds:
            raise ValueError(f"seed must be one of the recipe's seeds {self.nets.seeds}, got {self.seed}")

    def fast(self) -> GradientNoiseConfig:
        nets = replace(self.nets.fast(), train=replace(self.nets.train, steps=100, batch=256, width=32))
        return replace(self, nets=nets, repeats=16)

    def compute(self, progress: bool = False) -> dict[str, object]:
        """``{"batch": B, "rows": [{objective, signal, noise, ratio, scale}]}`` (Estimates; ``ratio`` = N,
        ``scale`` = B_noise)."""
        dsm = train_net(Net(self.nets, self.seed, "dsm"))
        rows = []
        for objective in ("dsm", *self.nets.methods):
            if objective == "dsm":
                config, start = dsm.config, dsm.model
            else:
                config = self.nets.tune(objective, self.seed)
                start = dsm.model.with_strength() if config.ws else dsm.model
            estimators = {objective: config}
            if methods.get(objective).negatives:
                estimators[f"{objective}, all negatives"] = replace(config, negatives="all")
            for name, each in estimators.items():
                rows.append({"objective": name, **noise(gradients(each, start, self.repeats), each.batch, self.seed)})
        return {"batch": self.nets.train.batch, "rows": rows}


def gradients(config: training.TrainConfig, start: torch.nn.Module, repeats: int) -> Tensor:
    """``repeats`` gradients of ``config``'s step loss at ``start``'s weights (a copy: ``start`` is untouched), one
    independent batch each. -> ``(repeats, P)`` float64."""
    import copy

    model = copy.deepcopy(start).train()
    params = [p for p in model.parameters() if p.requires_grad]
    loss = training.objective_loss(config, model)
    out = []
    for _ in range(repeats):
        grads = torch.autograd.grad(loss(), params)
        out.append(torch.cat([g.reshape(-1) for g in grads]).double())
    return torch.stack(out)


def noise(g: Tensor, batch: int, seed: int = 0) -> dict[str, metrics.Estimate]:
    """Signal ``|G|^2``, noise ``tr(Sigma_B)``, their ratio ``N`` and ``B_noise = batch N`` from gradients ``g: (R,
    P)`` (module docstring), with bootstrap intervals over the rows."""
    r = g.shape[0]
    values = torch.cat([g, g.square().sum(1, keepdim=True)], 1)     # a resample's means give both moments

    def moments(means: Tensor) -> tuple[Tensor, Tensor]:
        mean_sq = means[:, :-1].square().sum(1)
        trace = (means[:, -1] - mean_sq) * r / (r - 1)             # unbiased tr(Sigma_B)
        return mean_sq - trace / r, trace                          # unbiased |G|^2, and the trace

    def ratio(means: Tensor) -> Tensor:
        signal, trace = moments(means)
        return trace / signal.clamp_min(1e-300)

    # a resample's |mean|^2 carries the noise of its repeated rows: its law is recentred on the estimate
    out = {"signal": metrics.bootstrap_curve(values, lambda m: moments(m)[0], seed=seed, recentre=True),
           "noise": metrics.bootstrap_curve(values, lambda m: moments(m)[1], seed=seed),
           "ratio": metrics.bootstrap_curve(values, ratio, seed=seed, recentre=True)}
    scale = out["ratio"]
    out["scale"] = metrics.Estimate(batch * scale.value, batch * scale.lo, batch * scale.hi, scale.method,
                                    scale.level)
    return out


def table(result: dict[str, object]) -> str:
    """One row per objective: signal, noise, their ratio N and the noise scale B_noise."""
    from ..core.tables import format_table

    def cell(e: metrics.Estimate) -> str:
        return f"{e.value:.3g} [{e.lo:.3g}, {e.hi:.3g}]"

    def against(r: dict, key: str) -> str:
        # a signal whose interval reaches 0 (DSM at its optimum) bounds the ratio from below only
        if r["signal"].lo > 0:
            return cell(r[key])
        bound = r["noise"].lo / r["signal"].hi if r["signal"].hi > 0 else float("inf")
        return f"> {bound * (result['batch'] if key == 'scale' else 1):.3g} (no signal resolved)"

    return format_table(("objective", "|G|^2 (signal)", "tr Sigma_B (noise)", "N = noise / signal",
                         f"B_noise = {result['batch']} N"),
                        [(r["objective"], cell(r["signal"]), cell(r["noise"]), against(r, "ratio"),
                          against(r, "scale")) for r in result["rows"]])


def lines(result: dict[str, object]) -> list[str]:
    """Each fine-tune's noise-to-signal ratio against the least noisy one's."""
    tunes = [r for r in result["rows"] if r["objective"] != "dsm" and r["signal"].lo > 0]
    if not tunes:
        return ["no fine-tune's mean gradient is resolved from its noise"]
    least = min(tunes, key=lambda r: r["ratio"].value)
    return [f"{r['objective']}: N = {r['ratio'].value:.3g}, {r['ratio'].value / least['ratio'].value:.2g}x "
            f"{least['objective']}'s" for r in sorted(tunes, key=lambda r: r["ratio"].value)]
