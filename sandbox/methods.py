"""One vocabulary of methods: each guidance rule, training objective or exact target has one name, registered
once here, and that name is what the API, the command line, JSON reports and figure labels use.

A method says how its score field for class ``c`` is built from a *source*:

    exact   the mixture itself (``ClassConditionalGMM``): the rule applied to exact scores, or the objective's
            exact pointwise optimum (``sandbox.theory``)
    nets    trained networks (``Nets``: objective name -> model with ``score(x, sigma, c)``); ``nets["dsm"]`` is the
            DSM net with a null class, which guidance rules use; an objective's field is its own fine-tuned net,
            sampled unguided

and ``strength`` names the parameter that sets how strong it is (``"w"`` for guidance scales, ``"lam"`` for
unweighted MCLR). A ``reference`` method has no field: it is sampled exactly (``draw``).

To add a method: one ``register(Method(...))`` call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from .fields import Field, conditional
from .guidance import CFG, Optimum, exact_cfg
from .mixtures import ClassConditionalGMM
from .tilted import TiltedTarget

Tensor = torch.Tensor
Nets = Mapping[str, torch.nn.Module]
Source = ClassConditionalGMM | Mapping
KINDS = ("guidance", "objective", "reference")
SOURCES = ("exact", "nets")


@dataclass(frozen=True)
class Method:
    """A named method: its field from the exact mixture and/or from trained nets (``None``: not available)."""

    name: str
    kind: str
    label: str
    summary: str
    strength: str | None
    exact: Callable[[ClassConditionalGMM, int, float, float], Field] | None = None
    nets: Callable[[Nets, int, float, float], Field] | None = None
    draw: Callable[[ClassConditionalGMM, int, float, int, int], Tensor] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.strength not in (None, "w", "lam"):
            raise ValueError(f"strength must be None, 'w' or 'lam', got {self.strength!r}")

    def setting(self, w: float = 0.0, lam: float = 0.0) -> str:
        """Its label with the strength, e.g. ``"CFG, w=2"``."""
        value = {"w": w, "lam": lam}.get(self.strength or "")
        return self.label if value is None else f"{self.label}, {self.strength}={value:g}"


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` under its name (a name is registered once)."""
    if method.name in REGISTRY:
        raise ValueError(f"method {method.name!r} is registered already")
    REGISTRY[method.name] = method
    return method


def get(name: str) -> Method:
    if name not in REGISTRY:
        raise ValueError(f"method must be one of {sorted(REGISTRY)}, got {name!r}")
    return REGISTRY[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    """Registered names, in registration order (of one ``kind`` if given)."""
    return tuple(m.name for m in REGISTRY.values() if kind is None or m.kind == kind)


def field(name: str, source: Source, c: int, w: float = 0.0, lam: float = 0.0) -> Field:
    """The score field of method ``name`` for class ``c`` from ``source`` (a mixture, or nets by objective name)."""
    method = get(name)
    exact = isinstance(source, ClassConditionalGMM)
    build = method.exact if exact else method.nets
    if build is None:
        raise ValueError(f"method {name!r} has no field from {'the exact mixture' if exact else 'nets'}"
                         + (" (it is sampled directly: methods.draw)" if method.draw else ""))
    return build(source, c, w, lam)


def _net(nets: Nets, name: str) -> torch.nn.Module:
    if name not in nets:
        raise ValueError(f"nets must hold a net trained with {name!r}, got nets for {sorted(nets)}")
    return nets[name]


def _own_net(name: str) -> Callable[[Nets, int, float, float], Field]:
    """An objective's field from nets: the net fine-tuned with it, unguided."""
    return lambda nets, c, w, lam: conditional(_net(nets, name).score, c)


register(Method(
    "dsm", "objective", "DSM", "denoising score matching: the conditional score s_c (unguided)", None,
    exact=lambda gmm, c, w, lam: exact_cfg(gmm, c, 0.0), nets=_own_net("dsm")))
register(Method(
    "cfg", "guidance", "CFG", "classifier-free guidance s_c + w (s_c - s_u)", "w",
    exact=lambda gmm, c, w, lam: exact_cfg(gmm, c, w),
    nets=lambda nets, c, w, lam: CFG(conditional(_net(nets, "dsm").score, c),
                                     conditional(_net(nets, "dsm").score, None), w)))
register(Method(
    "weighted-mclr", "objective", "weighted MCLR",
    "sample-adaptive weighted MCLR with exact posterior weights; optimum = CFG (the theorem)", "w",
    exact=lambda gmm, c, w, lam: Optimum(gmm, c, "weighted-mclr", w=w), nets=_own_net("weighted-mclr")))
register(Method(
    "weighted-mclr-classifier", "objective", "weighted MCLR, learned classifier",
    "weighted MCLR with weights from a learned noisy classifier (exact source: the exact classifier)", "w",
    exact=lambda gmm, c, w, lam: Optimum(gmm, c, "weighted-mclr", w=w), nets=_own_net("weighted-mclr-classifier")))
register(Method(
    "mclr", "objective", "unweighted MCLR",
    "unweighted MCLR, strength lam; optimum where A(x) > 0, s_c elsewhere (nets: negatives capped)", "lam",
    exact=lambda gmm, c, w, lam: Optimum(gmm, c, "mclr", lam=lam, ill_posed="conditional"), nets=_own_net("mclr")))
register(Method(
    "tilted", "reference", "tilted q0", "exact draws of q0 ∝ p(x|c)^(1+w) p(x)^(-w) (rejection sampling)", "w",
    draw=lambda gmm, c, w, n, seed: TiltedTarget(gmm, c, w).sample(n, generator=seed)))
