"""The theorem checked six ways (docs/theory.md, section 6): CFG is the unique optimum of sample-adaptive weighted
MCLR.

Each check returns ``CheckResult`` rows (check, setting, residual, tolerance, status, details). A row's status is
``pass``, ``FAIL`` (a resolved residual above its tolerance, or a statistical rejection: evidence against the
theorem) or ``unresolved`` (the check's own numerics could not resolve the quantity within its stated budget: no
evidence either way, never reported as a failure):

1. ``closed-form``   pointwise minimiser from class densities and class scores vs ``cfg_score`` (one row per
                     (mixture, sigma, w): both negative-sampling variants have the same pointwise coefficients);
2. ``quadrature``    ``J_w[s_w + delta h] - J_w[s_w] = delta^2 E_{p_sigma(.|c)} ||h||^2`` by composite
                     Gauss-Legendre quadrature per mixture component (the eps-integral in closed form: given
                     x and a component, eps is Gaussian), 1D and 2D; the rule's panels are doubled until two
                     successive rules agree to the tolerance (its error estimate) or the budget is spent;
3. ``monte-carlo``   the same identity from the *sampled* training loss, inside simultaneous 99% intervals;
4. ``learning``      an MLP field trained by SGD on the sampled weighted loss ends closer to ``s_w`` than to
                     ``s_c`` and than a DSM-trained field at equal budget does; the DSM field closer to ``s_c``;
5. ``symbolic``      sympy solves the pointwise quadratic for 1D Gaussian classes and simplifies
                     ``minimiser - CFG score`` to exactly 0;
6. ``distribution``  ``q_0 ∝ p(x|c)^(1+w) p(x)^(-w)`` maximises ``E_q[log p(c|x)] - KL(q || p(.|c)) / w`` on a grid.

Every check takes mixtures as zoo names, mixture files or ``ClassConditionalGMM`` objects. Each check is one module
of this package that registers a ``Check`` record (``registry``: its function, its ``--fast`` settings, how it takes
mixtures), imported in this order, which ``verify`` keeps; then any other check module, alphabetically, so a new
check is one new file. ``runner`` plans and runs them (``VerifyConfig``, ``run_all``); the data behind the theorem
figures are experiments of their own (``figure_data``: ``ResidualsConfig``, ``ParabolaConfig``,
``LearningTraceConfig``, frozen configs run through the cache by ``cache.run``).
"""

import importlib
import pkgutil

from .registry import (
    FAST_QUADRATURE_RULES,
    GUIDANCE,
    MAX_PANELS,
    QUADRATURE_RULES,
    REGISTRY,
    SIGMAS,
    STATUSES,
    VARIANTS,
    ZOO_2D,
    Check,
    CheckResult,
    evaluation_points,
    grid_points,
    register,
    relative_error,
    resolve_mixtures,
)

# one module per check, imported (so registered) in this order, then any other check module of the package
ORDER = ("closed_form", "quadrature", "monte_carlo", "learning", "symbolic", "distribution")
MODULES = (*ORDER, *sorted({m.name for m in pkgutil.iter_modules(__path__)} - {*ORDER, "registry", "runner",
                                                                                 "figure_data"}))
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

from .closed_form import check_closed_form  # noqa: E402
from .distribution import alignment_objective, check_distribution  # noqa: E402
from .figure_data import LearningTraceConfig, ParabolaConfig, ResidualsConfig, residual_table  # noqa: E402
from .learning import ConditionalField, check_learning, learning_errors, rms, train_field  # noqa: E402
from .monte_carlo import (  # noqa: E402
    check_monte_carlo,
    check_training_optima,
    monte_carlo_identity,
    predicted_quadratic,
    predicted_quadratic_any_d,
    training_optimum_identity,
)
from .quadrature import (  # noqa: E402
    ComponentNodes,
    check_quadrature,
    component_nodes,
    identity_terms,
    quadrature_identity,
    smooth_field,
)
from .runner import CheckUnit, VerifyConfig, run_all, run_check, summary_table  # noqa: E402
from .symbolic import check_symbolic, symbolic_minimiser  # noqa: E402

__all__ = ["FAST_QUADRATURE_RULES", "GUIDANCE", "MAX_PANELS", "MODULES", "ORDER", "QUADRATURE_RULES",
           "REGISTRY", "SIGMAS", "STATUSES", "VARIANTS", "ZOO_2D", "Check", "CheckResult", "CheckUnit",
           "ComponentNodes", "ConditionalField", "LearningTraceConfig", "ParabolaConfig", "ResidualsConfig",
           "VerifyConfig", "alignment_objective", "check_closed_form", "check_distribution", "check_learning",
           "check_monte_carlo", "check_quadrature", "check_symbolic", "check_training_optima", "component_nodes",
           "evaluation_points", "grid_points", "identity_terms", "learning_errors", "monte_carlo_identity",
           "predicted_quadratic", "predicted_quadratic_any_d", "quadrature_identity", "register", "relative_error",
           "residual_table", "resolve_mixtures", "rms", "run_all", "run_check", "smooth_field", "summary_table",
           "symbolic_minimiser", "train_field", "training_optimum_identity"]
