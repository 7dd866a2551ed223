"""Guidance rules, training objectives and their exact optima, and the samplers that integrate them.

The package itself is the one vocabulary of methods (``registry``, re-exported here): ``methods.field("cfg", gmm,
c, w=2.0)``, ``methods.get(name)``, ``methods.names(kind)``; ``methods.rule(declared)`` makes a method's parameters
and fields from one rule declared by its signature (``validation.declared``). The modules: ``guidance`` (rules as
wrappers of fields), ``objectives`` (training losses), ``theory`` (pointwise optima in closed form), ``tilted``
(the tilted density q_0 and its noised score), ``gaussian_flow`` (the guided flow between two Gaussians in closed form),
``samplers`` (ODE, SDE and predictor-corrector loops over a sigma grid, and the sampler-level rules CFG++ and
Gibbs-like guidance, run by ``methods.sample``).
"""

from .registry import (
    KINDS,
    REGISTRY,
    STRENGTHS,
    Method,
    Nets,
    Params,
    Source,
    draw,
    field,
    get,
    names,
    register,
    rule,
    sample,
)

__all__ = ["KINDS", "REGISTRY", "STRENGTHS", "Method", "Nets", "Params", "Source", "draw", "field", "get", "names",
           "register", "rule", "sample"]
