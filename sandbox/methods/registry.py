"""One vocabulary of methods: each guidance rule, training objective or exact target has one name, registered
once here, and that name is what the API, the command line, JSON reports and figure labels use.

A method says how its score field for class ``c`` is built from a *source*:

    exact   the mixture itself (``ClassConditionalGMM``): the rule applied to exact scores, or the objective's
            exact pointwise optimum (``sandbox.theory``)
    nets    trained networks (``Nets``: objective name -> model with ``score(x, sigma, c)``); ``nets["dsm"]`` is the
            DSM net with a null class, which guidance rules use; an objective's field is its own fine-tuned net,
            sampled unguided

with its parameters (``params``: name -> default; ``strength`` names the one that sets how strong it is, ``"w"``
for guidance scales in this project's convention, ``"lam"`` for unweighted MCLR; a parameter with a string default
is a choice among ``choices[name]``, e.g. a guidance schedule), each checked against its declared limit
(``limits[name]``, a ``validation.Limit``; undeclared: a finite number, the strengths ``w`` and ``lam`` >= 0) and the
pairs ``order`` that must increase (``("sigma_lo", "sigma_hi")``). A ``reference`` method has no field: it is sampled
exactly (``draw``); nor has a sampler-level rule (CFG++, Gibbs-like guidance): ``sample`` runs it from starting
points over a sigma grid (``methods.sample``). Builders receive the parameters as a dict with the defaults filled
in. A rule declared by its signature (``validation.declared``, the classes of ``guidance``) gives a method all of
that at once: ``**rule(APG)`` fills ``params``, ``limits``, ``choices`` and ``order`` from the declaration and builds
the exact and the nets' fields from the same rule, applied to the exact or the DSM net's conditional and unconditional
scores (or to the inputs ``rule`` is told to build), so a parameter, its default and its bound stand in one place.

A method is also everything the tools ask of it, so no other list repeats its name:

    loss         its per-row training loss ``loss(objectives.TrainingBatch) -> (N,)``: ``train --objective`` takes
                 every method with one (``names(trainable=True)``)
    needs        what its training needs beyond the mixture's rows (``NEEDS``): ``"init"`` a DSM net to fine-tune,
                 ``"classifier"`` a learned noisy classifier (the batch's ``posterior``), ``"q0-data"`` rows drawn
                 from the tilted ``q_0`` instead of the mixture
    experiments  the experiments that include it by default (``EXPERIMENTS``; ``names(experiment=...)``)
    label        its name in tables and figures
    same_as      the method whose exact samples it has (its exact field is that one's, a theorem or a definition,
                 or samples to the same law): figures draw one curve for both
    scale        the guidance scale its paper writes the strength in (``conventions.SCALES``: ``"s"`` when the paper's
                 1 is unguided); ``conventions.to_w(value, scale)`` is this project's ``w``
    paper_names  each other parameter's name in its paper, where it differs (e.g. ``phi`` is ``guidance_rescale``)
    cite         the paper (or code) that defines it
    frame        the frame its paper defines it in (``frames.NAMES``: ``"score"``, ``"x0"``, ``"eps"``, ``"v"``,
                 ``"flow"``). A rule with a nonlinear step (a projection, a norm, a zero prediction) depends on the
                 frame: it takes a ``frame`` parameter (a choice among ``frames.NAMES``) whose default is this one,
                 and applies its nonlinear step there; a rule linear in the predictions is the same in every frame
    min_dim      the least data dimension it is defined for (experiments leave it out below)
    sweep        the variants of its other parameters the full atlas tries: each a partial set of parameters, the
                 rest at their defaults (``({"eta": 0.5}, {"schedule": "window", "w_out": -1.0})``)
    rule         the declared rule its fields apply (``rule``), where it has one: part of its code
    negatives    its loss draws a negative label per row from ``TrainingBatch.negatives``'s estimator (one drawn, or
                 all ``K - 1``: ``TrainConfig.negatives``)

To add a method: one ``register(Method(...))`` call, in the package or in a plug-in (``sandbox.core.plugins``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral

import torch

from ..core import frames, plugins, provenance
from ..core.conventions import SCALES, from_w
from ..core.fields import Batched, Field, conditional
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import COUNT, NONNEGATIVE, POSITIVE, REAL, SEED, Limit, as_count, register_once
from . import objectives, samplers
from .guidance import (
    APG,
    CFG,
    WINDOW,
    CFGZeroStar,
    ClassifierGuidance,
    FeedbackGuidance,
    IndependentConditionGuidance,
    LinearCFG,
    MagnitudeAwareCFG,
    Optimum,
    RescaledCFG,
    ScheduledCFG,
    TangentialCFG,
    autoguidance,
    exact_cfg,
)
from .objectives import TrainingBatch
from .tilted import TiltedTarget

Tensor = torch.Tensor
Nets = Mapping[str, torch.nn.Module]
Source = ClassConditionalGMM | Mapping
KINDS = ("guidance", "objective", "reference")
NEEDS = ("init", "classifier", "q0-data")
EXPERIMENTS = {   # name -> what including a method there means
    "separation": "separation sweep's default methods (exact field or exact draws)",
    "atlas": "the atlas's exact part: sampled from its exact field (or drawn exactly) over w",
    "atlas-nets": "the atlas's trained part: fine-tuned from the DSM net, one net for every w",
}


Params = dict[str, float | str]
# accepted by every method (checked, then ignored by those without them), so sweeps pass them uniformly
STRENGTHS = {"w": NONNEGATIVE, "lam": NONNEGATIVE}


@dataclass(frozen=True)
class Method:
    """A named method: its field from the exact mixture and/or from trained nets (``None``: not available)."""

    name: str
    kind: str
    label: str
    summary: str
    strength: str | None
    exact: Callable[[ClassConditionalGMM, int, Params], Field] | None = None
    nets: Callable[[Nets, int, Params], Field] | None = None
    draw: Callable[[ClassConditionalGMM, int, Params, int, int], Tensor] | None = None
    sample: Callable[[ClassConditionalGMM, int, Params, Tensor, Tensor, int], Tensor] | None = None
    params: Mapping[str, float | str] = dataclasses.field(default_factory=dict)
    choices: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    limits: Mapping[str, Limit] = dataclasses.field(default_factory=dict)
    order: tuple[tuple[str, str], ...] = ()
    loss: Callable[[TrainingBatch], Tensor] | None = None
    needs: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ()
    same_as: str | None = None
    scale: str = "w"
    paper_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    min_dim: int = 1
    sweep: tuple[Mapping[str, float | str], ...] = ()
    cite: str = ""
    frame: str = "score"
    rule: Callable[..., Field] | None = None
    negatives: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise ValueError(f"name must be a non-empty string without surrounding spaces, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.strength is not None and self.strength not in self.params:
            raise ValueError(f"strength must be None or one of the params {sorted(self.params)}, got "
                             f"{self.strength!r}")
        for name, default in self.params.items():
            if isinstance(default, str) and default not in self.choices.get(name, ()):
                raise ValueError(f"parameter {name!r} is a choice: choices[{name!r}] must list its default {default!r}")
        if set(self.choices) - {k for k, v in self.params.items() if isinstance(v, str)}:
            raise ValueError("choices must name parameters with a string default")
        if set(self.limits) - set(self.params) or set(self.limits) & set(self.choices):
            raise ValueError(f"limits must name numeric parameters among {sorted(self.params)}, got "
                             f"{sorted(self.limits)}")
        if not all(isinstance(v, Limit) for v in self.limits.values()):
            raise TypeError("limits must map parameter names to validation.Limit")
        if any(len(pair) != 2 or set(pair) - set(self.params) for pair in self.order):
            raise ValueError(f"order must hold pairs (lo, hi) of parameters among {sorted(self.params)}, got "
                             f"{self.order}")
        self.bind(**self.params)            # the defaults obey the declared limits
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        for variant in self.sweep:
            if not variant or set(variant) - set(self.params) or self.strength in variant:
                raise ValueError(f"each variant of sweep must set parameters other than the strength among "
                                 f"{sorted(self.params)}, got {dict(variant)}")
            self.bind(**variant)
        if self.frame not in frames.NAMES:
            raise ValueError(f"frame must be one of {list(frames.NAMES)}, got {self.frame!r}")
        if "frame" in self.params and (self.params["frame"] != self.frame
                                       or tuple(self.choices.get("frame", ())) != frames.NAMES):
            raise ValueError(f"a frame parameter is a choice among {list(frames.NAMES)} whose default is the "
                             f"paper's frame {self.frame!r}, got {self.params['frame']!r}")
        if set(self.paper_names) - set(self.params):
            raise ValueError(f"paper_names must name parameters among {sorted(self.params)}, got "
                             f"{sorted(self.paper_names)}")
        for what, given, allowed in (("needs", self.needs, NEEDS), ("experiments", self.experiments, EXPERIMENTS)):
            unknown = [v for v in given if v not in allowed]
            if unknown:
                raise ValueError(f"{what} must be drawn from {list(allowed)}, got {unknown}")
        if (self.needs or self.negatives) and self.loss is None:
            raise ValueError(f"needs and negatives say how it trains; method {self.name!r} has no loss")
        for callback in ("exact", "nets", "draw", "sample", "loss", "rule"):
            if getattr(self, callback) is not None and not callable(getattr(self, callback)):
                raise TypeError(f"{callback} must be callable or None, got {type(getattr(self, callback)).__name__}")
        if self.same_as is not None and (self.same_as == self.name or self.same_as not in REGISTRY):
            raise ValueError(f"same_as must name another registered method, got {self.same_as!r}")
        if "atlas-nets" in self.experiments and (self.loss is None or self.strength != "w"):
            raise ValueError("experiment 'atlas-nets' fine-tunes one net for every w: it needs a loss and strength 'w'")

    @property
    def sampleable(self) -> bool:
        """Whether it can be sampled on an exact mixture: an exact field, exact draws or a sampler."""
        return self.exact is not None or self.draw is not None or self.sample is not None

    @property
    def trainable(self) -> bool:
        """Whether ``train --objective`` can train it (it has a loss)."""
        return self.loss is not None

    def limit(self, name: str) -> Limit:
        """The declared limit of parameter ``name`` (module docstring)."""
        if name in self.choices:
            return Limit(choices=tuple(self.choices[name]))
        return self.limits.get(name) or STRENGTHS.get(name) or REAL

    def bind(self, **params: float | str) -> Params:
        """Its parameters with defaults filled in, each checked against its limit and ``order``; an unknown name is
        an error (``w`` and ``lam`` excepted: checked, then ignored by a method without them)."""
        unknown = sorted(set(params) - set(self.params) - set(STRENGTHS))
        if unknown:
            raise ValueError(f"method {self.name!r} takes parameters {sorted(self.params)}, got {unknown}")
        out = dict(self.params)
        for name, value in params.items():
            checked = self.limit(name).check(value, f"{name} of method {self.name!r}")
            if name in self.params:
                out[name] = checked
        for lo, hi in self.order:
            if not out[lo] < out[hi]:
                raise ValueError(f"{lo} of method {self.name!r} must be below its {hi}, got {out[lo]!r} and "
                                 f"{out[hi]!r}")
        return out


REGISTRY: dict[str, Method] = plugins.track({})
# what a method's name runs (its builders), for the code fingerprint of every result that names it
provenance.add_resolver(lambda name: [f for f in (REGISTRY[name].exact, REGISTRY[name].nets, REGISTRY[name].draw,
                                                  REGISTRY[name].sample, REGISTRY[name].loss, REGISTRY[name].rule)
                                        if f is not None] if name in REGISTRY else ())


def register(method: Method) -> Method:
    """Add ``method`` under its name (a name is registered once)."""
    return register_once(REGISTRY, method.name, method, "method")


def get(name: str) -> Method:
    if name not in REGISTRY:
        raise ValueError(f"method must be one of {sorted(REGISTRY)}, got {name!r}")
    return REGISTRY[name]


def names(kind: str | None = None, *, experiment: str | None = None, trainable: bool | None = None,
          strength: str | None = None, dim: int | None = None, negatives: bool | None = None) -> tuple[str, ...]:
    """Registered names, in registration order: of one ``kind``, included in ``experiment`` (``EXPERIMENTS``), with
    or without a loss (``trainable``), of one ``strength`` (``"w"``, ``"lam"``), defined for data of dimension
    ``dim`` (``Method.min_dim``), whose loss draws negative labels or not (``negatives``), when given."""
    if experiment is not None and experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {list(EXPERIMENTS)}, got {experiment!r}")
    return tuple(m.name for m in REGISTRY.values()
                 if (kind is None or m.kind == kind) and (experiment is None or experiment in m.experiments)
                 and (trainable is None or m.trainable == trainable) and (strength is None or m.strength == strength)
                 and (dim is None or m.min_dim <= dim) and (negatives is None or m.negatives == negatives))


def field(name: str, source: Source, c: int, **params: float | str) -> Field:
    """The score field of method ``name`` for class ``c`` from ``source`` (a mixture, or nets by objective name),
    with ``params`` (``Method.bind``)."""
    method = get(name)
    exact = isinstance(source, ClassConditionalGMM)
    if exact and source.dim < method.min_dim:
        raise ValueError(f"method {name!r} needs data of dimension >= {method.min_dim}, got d = {source.dim}")
    build = method.exact if exact else method.nets
    if build is None:
        raise ValueError(f"method {name!r} has no field from {'the exact mixture' if exact else 'nets'}"
                         + (" (it is sampled directly: methods.draw)" if method.draw else ""))
    params = method.bind(**params)
    if exact:
        _class_id(c, source)
    return Batched(build(source, c, params))


def _class_id(c: object, gmm: ClassConditionalGMM) -> int:
    """``c`` as a class of ``gmm``, or an error naming the range."""
    if isinstance(c, bool) or not isinstance(c, Integral) or not 0 <= int(c) < gmm.num_classes:
        raise ValueError(f"c must be a class of the mixture, an int in [0, {gmm.num_classes}), got {c!r}")
    return int(c)


def draw(name: str, gmm: ClassConditionalGMM, c: int, n: int, seed: int, **params: float | str) -> Tensor:
    """``n`` exact draws of reference method ``name`` for class ``c``."""
    method = get(name)
    if method.draw is None:
        raise ValueError(f"method {name!r} is not sampled directly: use methods.field and a sampler")
    params = method.bind(**params)
    return method.draw(gmm, _class_id(c, gmm), params, as_count(n), SEED.check(seed, "seed"))


def sample(name: str, gmm: ClassConditionalGMM, c: int, x: Tensor, sigmas: Tensor, seed: int = 0,
           **params: float | str) -> Tensor:
    """Run sampler-level method ``name`` for class ``c`` from ``x: (N, d)`` over ``sigmas`` (``seed`` for any noise
    it draws) -> ``(N, d)``."""
    method = get(name)
    if method.sample is None:
        raise ValueError(f"method {name!r} is not a sampler: use methods.field and a sampler, or methods.draw")
    params = method.bind(**params)
    return method.sample(gmm, _class_id(c, gmm), params, x, sigmas, SEED.check(seed, "seed"))


def _net(nets: Nets, name: str) -> torch.nn.Module:
    if name not in nets:
        raise ValueError(f"nets must hold a net trained with {name!r}, got nets for {sorted(nets)}")
    return nets[name]


def _own_net(name: str) -> Callable[[Nets, int, Params], Field]:
    """An objective's field from nets: the net fine-tuned with it, unguided (a net with a strength input at the
    method's ``w``)."""
    def build(nets: Nets, c: int, p: Params) -> Field:
        net = _net(nets, name)
        if getattr(getattr(net, "config", None), "strength_input", False):
            return lambda x, sigma: net.score(x, sigma, c, w=p.get("w", 0.0))
        return conditional(net.score, c)
    return build


def _net_pair(nets: Nets, c: int) -> tuple[Field, Field]:
    """The DSM net's conditional and unconditional (null-class) fields: what guidance rules combine."""
    dsm = _net(nets, "dsm")
    return conditional(dsm.score, c), conditional(dsm.score, None)


def _exact_pair(gmm: ClassConditionalGMM, c: int) -> tuple[Field, Field]:
    return conditional(gmm.score, c), conditional(gmm.score, None)


Inputs = Callable[[Source, int], tuple]


def rule(declared: Callable[..., Field], exact: Inputs | None = _exact_pair, nets: Inputs | None = _net_pair,
         **defaults: float | str) -> dict:
    """A ``Method``'s parameters and fields from one declared rule (``validation.declared``): ``params`` (the rule's
    defaults; ``defaults`` names those the method sets otherwise, e.g. interval guidance's window), ``limits``,
    ``choices`` and ``order`` from its declaration; ``exact`` and ``nets`` apply it to the inputs built from the
    mixture or the nets for class ``c`` (default: the conditional and unconditional scores; ``None``: no such
    version)."""
    unknown = sorted(set(defaults) - set(declared.defaults))
    if unknown:
        raise ValueError(f"defaults must name parameters of the rule {sorted(declared.defaults)}, got {unknown}")
    limits = {name: lim for name, lim in declared.limits.items() if lim.choices is None and name not in STRENGTHS}
    return {
        "params": {**declared.defaults, **defaults},
        "limits": limits,
        "choices": {name: lim.choices for name, lim in declared.limits.items() if lim.choices is not None},
        "order": declared.order,
        "rule": declared,
        "exact": None if exact is None else lambda gmm, c, p: declared(*exact(gmm, c), **p),
        "nets": None if nets is None else lambda n, c, p: declared(*nets(n, c), **p),
    }


# ---------------------------------------------------------------------------------------------- training losses
def _dsm_rows(b: TrainingBatch) -> Tensor:
    """DSM, each label replaced by the null class (K) with the dropout probability: the conditional and the
    unconditional score in one net, for CFG."""
    k = b.num_classes
    return objectives.dsm_loss(b.score, b.x0, b.eps, b.sigma, torch.where(b.dropped(), k, b.y), k + 1)


def _q0_rows(b: TrainingBatch) -> Tensor:
    """Conditional DSM on rows of q_0 (the batch's ``x0`` are q_0 draws: ``needs=("q0-data",)``)."""
    return objectives.dsm_loss(b.score, b.x0, b.eps, b.sigma, b.y, b.num_classes)


def _dropout(b: TrainingBatch) -> tuple[Tensor, Tensor]:
    """Labels and strengths with dropped rows sent to the null class at strength 0."""
    drop = b.dropped()
    return torch.where(drop, b.num_classes, b.y), torch.where(drop, 0.0, b.w)


def _gft_rows(b: TrainingBatch) -> Tensor:
    c, w = _dropout(b)
    return objectives.gft_loss(b.score, b.x0, b.eps, b.sigma, c, 1.0 / (1.0 + w), b.null_score, b.num_classes + 1)


def _model_guidance_rows(b: TrainingBatch) -> Tensor:
    c, w = _dropout(b)
    return objectives.model_guidance_loss(b.score, b.x0, b.eps, b.sigma, c, w / (1.0 + w),
                                          lambda x, s, c: b.score(x, s, c) - b.null_score(x, s), b.num_classes + 1)


def _negatives(b: TrainingBatch) -> Tensor:
    """One mismatched label per row, drawn, or all ``K - 1`` of them (``b.negatives``: the expectation over the
    draw, ``objectives``'s module docstring)."""
    if b.negatives == "all":
        return objectives.all_mismatched_labels(b.y, b.num_classes)
    return objectives.mismatched_labels(b.y, b.num_classes, generator=b.generator).to(b.y.device)


def _mclr_rows(b: TrainingBatch) -> Tensor:
    return objectives.mclr_loss(b.score, b.x0, b.eps, b.sigma, b.y, _negatives(b), b.lam, b.num_classes, b.neg_cap)


def _weighted_mclr_rows(b: TrainingBatch) -> Tensor:
    return objectives.weighted_mclr_loss(b.score, b.x0, b.eps, b.sigma, b.y, _negatives(b), b.w, b.posterior,
                                         b.num_classes)


# ---------------------------------------------------------------------------------------------- the methods
# registration order is the order of tables and figures
W = {"w": 0.0}
FINE_TUNE = ("init",)
register(Method(
    "dsm", "objective", "DSM", "denoising score matching: the conditional score s_c (unguided)", None,
    exact=lambda gmm, c, p: exact_cfg(gmm, c, 0.0), nets=_own_net("dsm"), loss=_dsm_rows,
    cite="Vincent 2011; Song et al. 2021 (with the label dropout of Ho and Salimans 2022)"))
register(Method(
    "cfg", "guidance", "CFG", "classifier-free guidance s_c + w (s_c - s_u)", "w", params=W,
    exact=lambda gmm, c, p: exact_cfg(gmm, c, p["w"]), nets=lambda nets, c, p: CFG(*_net_pair(nets, c), p["w"]),
    experiments=("separation", "atlas"),
    cite="Ho and Salimans 2022 (arXiv 2207.12598)", frame="eps"))


# ---------------------------------------------------------------------------------------------- inference-time rules
def _net_log_posterior(nets: Nets) -> Callable[[Tensor, Tensor], Tensor]:
    classifier = _net(nets, "classifier")
    return lambda x, sigma: torch.log_softmax(classifier.logits(x, sigma), dim=1)


register(Method(
    "cfg-interval", "guidance", "CFG on a sigma interval",
    "CFG for sigma in [sigma_lo, sigma_hi], the conditional score outside (Kynkaanniemi et al. 2024)", "w",
    **rule(CFG, sigma_lo=WINDOW[0], sigma_hi=WINDOW[1]), experiments=("atlas",), scale="s",
    cite="Kynkaanniemi et al. 2024 (arXiv 2404.07724), EDM2's sigma", frame="x0"))
register(Method(
    "classifier-guidance", "guidance", "classifier guidance",
    "s_u + (1 + w) grad log p_sigma(c|x) by autograd of the noisy classifier (exact: equals CFG)", "w",
    **rule(ClassifierGuidance, exact=lambda gmm, c: (_exact_pair(gmm, c)[1], gmm.log_class_posterior, c),
           nets=lambda nets, c: (_net_pair(nets, c)[1], _net_log_posterior(nets), c)),
    experiments=("atlas",), same_as="cfg", scale="s", cite="Dhariwal and Nichol 2021 (arXiv 2105.05233)",
    frame="eps"))
register(Method(
    "autoguidance", "guidance", "autoguidance",
    "s_c + w (s_c - s~_c), s~_c the class score of a degraded model: the mixture with covariances + kappa^2 I "
    "(Karras et al. 2024)", "w", **rule(autoguidance, exact=lambda gmm, c: (gmm, c), nets=None),
    experiments=("atlas",), scale="s", sweep=({"kappa": 0.25}, {"kappa": 1.0}, {"kappa": 2.0}),
    paper_names={"kappa": "none: the paper's degraded model is a smaller, shorter-trained net; here the mixture "
                          "with covariances + kappa^2 I"},
    cite="Karras et al. 2024 (arXiv 2406.02507)", frame="x0"))
register(Method(
    "apg", "guidance", "APG",
    "adaptive projected guidance in denoiser form: parallel part weighted by eta, rescaling to r, momentum "
    "(Sadat et al. 2024)", "w", **rule(APG),
    experiments=("atlas",), scale="s", paper_names={"momentum": "beta"},
    sweep=({"eta": 0.5}, {"eta": 1.0}, {"r": 0.5}, {"r": 2.0}, {"momentum": -0.5}, {"frame": "eps"}),
    cite="Sadat et al. 2024, APG (arXiv 2410.02416): on the denoised prediction", frame="x0"))
register(Method(
    "cfg-zero-star", "guidance", "CFG-Zero*",
    "optimised scale alpha of the unconditional velocity, zero velocity for sigma >= sigma_zero (Fan et al. 2025)",
    "w", **rule(CFGZeroStar), experiments=("atlas",),
    scale="s", paper_names={"sigma_zero": "K (zeroed steps), as the sigma where they end"},
    sweep=({"sigma_zero": 40.0}, {"sigma_zero": 10.0}, {"sigma_zero": 2.0}, {"frame": "score"}),
    cite="Fan et al. 2025, CFG-Zero* (arXiv 2503.18886): on flow-matching velocities", frame="flow"))



# the 2024-2026 rules (parameter names as in their papers; Method.paper_names maps the others)
register(Method(
    "icg", "guidance", "ICG",
    "independent condition guidance (Sadat et al. 2024): s_c + w (s_c - s_k), k ~ pi an independent random label "
    "per sample and step (label='random', the paper's); or its expectation s_c + w (s_c - sum_k pi_k s_k) "
    "(label='expected')", "w",
    **rule(IndependentConditionGuidance, exact=lambda gmm, c: (gmm.score, c, gmm.class_probs), nets=None),
    experiments=("atlas",), scale="s", sweep=({"label": "expected"},),
    cite="Sadat et al. 2024, ICG (arXiv 2407.02687)", frame="eps"))
register(Method(
    "cfg-rescale", "guidance", "CFG + rescale",
    "CFG with guidance_rescale phi (Lin et al. 2024): the guided prediction's per-sample std matched to the "
    "conditional one's, blended by phi", "w", **rule(RescaledCFG), experiments=("atlas",),
    scale="s", paper_names={"phi": "guidance_rescale"}, min_dim=2,
    sweep=({"phi": 0.3}, {"phi": 1.0}, {"frame": "eps"}),
    cite="Lin et al. 2024 (arXiv 2305.08891): on v-predictions", frame="v"))
register(Method(
    "tcfg", "guidance", "TCFG",
    "tangential damping CFG (Kwon et al. 2025): CFG with the unconditional prediction projected, per sample, on the "
    "first right singular vector of [p_c; p_u]", "w", **rule(TangentialCFG), scale="s", min_dim=2,
    sweep=({"frame": "x0"},),
    cite="Kwon et al. 2025, TCFG (arXiv 2503.18137, CVPR 2025): on noise predictions", frame="eps"))
register(Method(
    "mambo-g", "guidance", "MAMBO-G",
    "magnitude-aware guidance (Zhu et al. 2025): CFG whose strength decays as exp(-alpha r), r the size of the "
    "guidance update relative to the unconditional prediction", "w", **rule(MagnitudeAwareCFG), scale="s",
    sweep=({"alpha": 2.0}, {"frame": "eps"}),
    cite="Zhu et al. 2025, MAMBO-G (arXiv 2508.03442): on flow velocities", frame="flow"))
register(Method(
    "cfg-schedule", "guidance", "CFG, scheduled w",
    "CFG with a scale w(t): constant, linear or cosine (rising toward low noise, mean w; Wang et al. 2024, in their "
    "sampler's time t / T), "
    "exponential (decaying, C^2FG-style), window (w inside [sigma_lo, sigma_hi], w_out outside; Ventura et al. 2026)",
    "w", **rule(ScheduledCFG), experiments=("atlas",), scale="s",
    sweep=({"schedule": "constant"}, {"schedule": "cosine"}, {"schedule": "exponential"},
           {"schedule": "exponential", "decay": 4.0}, {"schedule": "window", "w_out": 0.0},
           {"schedule": "window", "w_out": -0.5}, {"schedule": "window", "w_out": -1.0}, {"time": "log-sigma"},
           {"time": "flow"}), paper_names={"time": "t / T, the sampler's DDPM timestep (schedule_time)"},
    cite="Wang et al. 2024 (arXiv 2404.13040); Ventura et al. 2026", frame="eps"))
register(Method(
    "fbg", "guidance", "FBG",
    "feedback guidance (Koulischer et al. 2025) with the exact posterior: per-state scale R/(R - (1 - pi)) - 1 with "
    "R = p(x|c)/p(x), capped at w; pi is the authors' (the true conditional's share, default 0.95)", "w",
    **rule(FeedbackGuidance, nets=None, exact=lambda gmm, c: (*_exact_pair(gmm, c), gmm.log_class_posterior, c,
                                                              math.log(float(gmm.class_probs[c])))),
    experiments=("atlas",), scale="s", paper_names={"w": "lambda_max (as 1 + w)"},
    sweep=({"pi": 0.5}, {"pi": 0.75}),
    cite="Koulischer et al. 2025 (code: FelixKoulischer/FBG_using_edm2)", frame="x0"))
register(Method(
    "linear-cfg", "guidance", "linear CFG",
    "the linear approximation of CFG (Li, Wang and Qu 2025): s_c + w times the guidance term of Gaussian "
    "approximations of the class and the data (mean shift + positive and negative contrastive terms)", "w",
    **rule(LinearCFG, exact=lambda gmm, c: (_exact_pair(gmm, c)[0], gmm, c), nets=None), experiments=("atlas",),
    cite="Li, Wang and Qu 2025 (arXiv 2505.19210)"))
def _gibbs(gmm: ClassConditionalGMM, c: int, p: Params, x: Tensor, sigmas: Tensor, seed: int) -> Tensor:
    """Conditional samples (the exact conditional ODE from ``x``), then the Gibbs-like rounds of exact CFG."""
    start = samplers.heun_ode(exact_cfg(gmm, c, 0.0), x, sigmas)
    return samplers.gibbs(exact_cfg(gmm, c, p["w"]), start, p["sigma_star"], int(p["steps"]), int(p["rounds"]),
                          generator=seed)


register(Method(
    "cfg-pp", "guidance", "CFG++",
    "CFG++ (Chung et al. 2024): DDIM-type steps that denoise with D_u + w (D_c - D_u) and renoise with the "
    "unconditional noise prediction; w is the paper's lambda (0: unconditional sampling, 1: conditional denoiser)",
    "w", params=W, sample=lambda gmm, c, p, x, sigmas, seed: samplers.cfg_pp(
        *_exact_pair(gmm, c), p["w"], x, sigmas), experiments=("atlas",), paper_names={"w": "lambda"},
    cite="Chung et al. 2024, CFG++ (arXiv 2406.08070): DDIM steps", frame="eps"))
register(Method(
    "gibbs-guidance", "guidance", "Gibbs-like guidance",
    "classifier-free Gibbs-like guidance (2025): conditional samples, then rounds of noising to sigma_star and the "
    "CFG ODE back to 0; meant to reach the tilted q_0", "w",
    params={"w": 0.0, "sigma_star": 0.5, "rounds": 4.0, "steps": 16.0},
    limits={"sigma_star": POSITIVE, "rounds": Limit(lo=0, whole=True), "steps": COUNT},
    sample=lambda gmm, c, p, x, sigmas, seed: _gibbs(gmm, c, p, x, sigmas, seed), experiments=("atlas",),
    paper_names={"sigma_star": "the renoising level", "rounds": "Gibbs iterations"},
    sweep=({"sigma_star": 0.2}, {"sigma_star": 1.0}, {"rounds": 1.0}, {"rounds": 8.0}),
    cite="classifier-free Gibbs-like guidance, 2025 (arXiv 2505.21101)", frame="x0"))

# ---------------------------------------------------------------------------------------------- training-time methods
def _gft_optimum(gmm: ClassConditionalGMM, c: int, p: Params) -> Field:
    """GFT's pointwise optimum from its definition: ``beta s + (1 - beta) s_u`` fits the conditional target ``s_c``,
    so ``s = (s_c - (1 - beta) s_u) / beta`` with ``beta = 1 / (1 + w)`` (``conventions``)."""
    beta = from_w(p["w"], "beta")
    return lambda x, sigma: (gmm.score(x, sigma, c) - (1.0 - beta) * gmm.score(x, sigma)) / beta


def _model_guidance_optimum(gmm: ClassConditionalGMM, c: int, p: Params) -> Field:
    """Model guidance's fixed point from its definition, ``s = s_c + w_mg (s - s_u)``, solved for ``s``:
    ``(s_c - w_mg s_u) / (1 - w_mg)`` with ``w_mg = w / (1 + w)``."""
    w_mg = from_w(p["w"], "w_mg")
    return lambda x, sigma: (gmm.score(x, sigma, c) - w_mg * gmm.score(x, sigma)) / (1.0 - w_mg)


register(Method(
    "weighted-mclr", "objective", "weighted MCLR",
    "sample-adaptive weighted MCLR with exact posterior weights; optimum = CFG (the theorem)", "w", params=W,
    exact=lambda gmm, c, p: Optimum(gmm, c, "weighted-mclr", w=p["w"]), nets=_own_net("weighted-mclr"),
    loss=_weighted_mclr_rows, needs=FINE_TUNE, negatives=True, experiments=("separation", "atlas", "atlas-nets"),
    same_as="cfg",
    cite="this project's theorem (docs/theory.md, section 4)"))
register(Method(
    "weighted-mclr-classifier", "objective", "weighted MCLR, learned classifier",
    "weighted MCLR with weights from a learned noisy classifier (exact source: the exact classifier)", "w", params=W,
    exact=lambda gmm, c, p: Optimum(gmm, c, "weighted-mclr", w=p["w"]), nets=_own_net("weighted-mclr-classifier"),
    loss=_weighted_mclr_rows, needs=(*FINE_TUNE, "classifier"), negatives=True, experiments=("atlas-nets",),
    same_as="cfg"))
register(Method(
    "gft", "objective", "GFT", "guidance-free training (Chen et al. 2025): its exact optimum at beta = 1/(1 + w)",
    "w", params=W, exact=_gft_optimum, nets=_own_net("gft"), loss=_gft_rows, needs=FINE_TUNE,
    experiments=("atlas", "atlas-nets"), same_as="cfg", scale="beta", cite="Chen et al. 2025 (arXiv 2501.15420)"))
register(Method(
    "model-guidance", "objective", "model guidance",
    "model guidance (Tang et al. 2025): the fixed point of its self-referential target at w_mg = w/(1 + w)", "w",
    params=W, exact=_model_guidance_optimum, nets=_own_net("model-guidance"), loss=_model_guidance_rows,
    needs=FINE_TUNE, experiments=("atlas", "atlas-nets"), same_as="cfg", scale="w_mg",
    cite="Tang et al. 2025 (arXiv 2502.12154)"))
register(Method(
    "mclr", "objective", "unweighted MCLR",
    "unweighted MCLR, strength lam; optimum where A(x) > 0, s_c elsewhere (nets: negatives capped)", "lam",
    params={"lam": 0.0},
    exact=lambda gmm, c, p: Optimum(gmm, c, "mclr", lam=p["lam"], ill_posed="conditional"), nets=_own_net("mclr"),
    loss=_mclr_rows, needs=FINE_TUNE, negatives=True, experiments=("separation",)))
register(Method(
    "tilted", "reference", "tilted q0", "exact draws of q0 ∝ p(x|c)^(1+w) p(x)^(-w) (rejection sampling)", "w",
    params=W, draw=lambda gmm, c, p, n, seed: TiltedTarget(gmm, c, p["w"]).sample(n, generator=seed),
    experiments=("separation", "atlas")))
# the data-level tilt's optimum is q_0 noised, whose probability-flow ODE ends exactly at q_0: the exact atlas's
# rows of "tilted" are its rows
register(Method(
    "data-tilt", "objective", "data-level tilt",
    "CCA/DPO-style alignment: its optimum is q0 itself, so its field is q0 noised to sigma (by quadrature, d <= 2), "
    "which is not CFG at sigma > 0", "w", params=W,
    exact=lambda gmm, c, p: lambda x, sigma: TiltedTarget(gmm, c, p["w"]).score(x, sigma),
    nets=_own_net("data-tilt"), loss=_q0_rows, needs=(*FINE_TUNE, "q0-data"), experiments=("atlas-nets",),
    same_as="tilted"))
