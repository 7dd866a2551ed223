"""5. sympy solves the pointwise quadratic for 1D Gaussian classes; ``minimiser - CFG score`` simplifies to 0."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .registry import (
    VARIANTS,
    Check,
    CheckResult,
    register,
)


def symbolic_minimiser(num_classes: int = 2, variant: str = "mismatched"):
    """sympy derivation for 1D Gaussian classes ``p_k = N(x; m_k, v_k + sigma^2)`` with prior ``pi_k``.

    1. DSM step: for a Gaussian class, ``eps | x`` has mean ``sigma (x - m_k) / (v_k + sigma^2)``, which is
       ``-sigma s_k(x)`` (checked), so ``E[l | x, k] = (s - s_k)^2 + const``.
    2. The weighted objective's pointwise quadratic ``Q(s) = sum_k a_k (s - s_k)^2``, with ``a_k`` the class
       density times the row weight of docs/theory.md section 5, is solved for ``s`` (``dQ/ds = 0``), keeping
       ``p_k`` and ``s_k`` as symbols so the algebra stays rational.
    3. ``s* - (s_c + w (s_c - s_u))`` is brought to one fraction and cancelled; then the Gaussian ``p_k``
       and ``s_k`` are substituted. Returns ``(s_star, s_cfg, difference)``, ``difference`` a sympy expression.
    """
    import sympy as sp

    x, s = sp.symbols("x s", real=True)
    sig, w = sp.Symbol("sigma", positive=True), sp.Symbol("w", nonnegative=True)
    m = sp.symbols(f"m0:{num_classes}", real=True)
    v = sp.symbols(f"v0:{num_classes}", positive=True)
    p = sp.symbols(f"p0:{num_classes}", positive=True)        # class densities p_sigma(x | k)
    sk = sp.symbols(f"s0:{num_classes}", real=True)           # class scores s_k(x)
    pis = list(sp.symbols(f"pi0:{num_classes - 1}", positive=True))
    pis.append(1 - sum(pis))
    gauss = [sp.exp(-(x - m[k]) ** 2 / (2 * (v[k] + sig**2))) / sp.sqrt(2 * sp.pi * (v[k] + sig**2))
             for k in range(num_classes)]
    gauss_scores = [sp.diff(sp.log(gauss[k]), x) for k in range(num_classes)]
    for k in range(num_classes):                               # step 1: E[eps | x, k] = -sigma s_k
        eps_mean = sig * (x - m[k]) / (v[k] + sig**2)            # Cov(eps, x) Var(x)^-1 (x - m_k)
        if sp.simplify(eps_mean / sig + gauss_scores[k]) != 0:
            raise AssertionError("Gaussian conditioning step failed")
    c = 0
    p_u = sum(pis[k] * p[k] for k in range(num_classes))
    r = pis[c] * p[c] / p_u
    alpha, beta = 1 + w * (1 - r), w * r / pis[c]
    # J_w^c (docs/theory.md section 5): positives weigh p(x|c); negatives sum_{c'} pi_c' p(x|c')
    # (all c' if unconditional)
    if variant == "mismatched":
        coeff = [p[c] * alpha] + [-pis[k] * p[k] * beta for k in range(1, num_classes)]
    else:
        coeff = [(1 + w) * p[c] - pis[c] * p[c] * beta] + [-pis[k] * p[k] * beta for k in range(1, num_classes)]
    quadratic = sum(coeff[k] * (s - sk[k]) ** 2 for k in range(num_classes))
    (s_star,) = sp.solve(sp.diff(quadratic, s), s)              # step 2
    s_u = sum(pis[k] * p[k] * sk[k] for k in range(num_classes)) / p_u
    s_cfg = sk[c] + w * (sk[c] - s_u)
    difference = sp.cancel(sp.together(s_star - s_cfg))          # step 3
    difference = sp.cancel(difference.subs({**dict(zip(p, gauss)), **dict(zip(sk, gauss_scores))}))
    return s_star, s_cfg, difference


def check_symbolic(classes: Iterable[int] = (2, 3)) -> list[CheckResult]:
    results = []
    for k in classes:
        for variant in VARIANTS:
            _, _, diff = symbolic_minimiser(k, variant)
            results.append(CheckResult.of("symbolic", {"classes": "1D Gaussians", "K": k, "variant": variant},
                                          0.0 if diff == 0 else math.inf, 0.0, diff == 0, {"difference": str(diff)}))
    return results


register(Check("symbolic", check_symbolic, {"classes": (2,)}, takes="none"))
