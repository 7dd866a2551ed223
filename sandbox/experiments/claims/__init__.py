"""Published claims about guidance, each measured against exact answers and given a verdict (``mclr-sandbox claims``).

A claim is a paper reference, the precise statement this project tests (its reading of the paper, docs/theory.md,
section 13), and a measurement on exact mixtures that returns a ``Verdict``: ``holds``, ``fails``, ``holds with a
caveat`` or ``undecided`` (the deciding interval contains its threshold), with the numbers (and their intervals)
that decided it. Verdicts are computed, never written by hand.
The machinery is in ``registry`` (``Claim``, ``Verdict``, ``decide``: what a measurement uses) and ``runner``
(``run``, seeds and their combination); each claim is one module here, with
its configs, measurement and panel, registered on import (a plug-in registers its own the same way). Every module
of this package is imported: the eight below in this order (the order of tables and figures), then any other in
alphabetical order, so a new claim is one new file:

    cfg_is_not_q0           CFG's exact-score samples are not draws of the tilted q_0 (1D, exact CDF)
    sde_differs_from_ode    the reverse-SDE and probability-flow-ODE CFG samplers end at different laws, neither q_0
    monotone_over_mixtures  over >= 100 random mixtures: mean p(c|x) never falls and entropy never rises with w
    helps_on_average        coupled samples: E[1 / p(c|x0)] falls with w, yet some samples' p(c|x0) drop
    pushes_to_far_edge      guided samples of a class move away from the other class as w grows (1D and 2D)
    decided_mid_noise       the exact conditional entropy H(c | x_sigma) changes fastest at intermediate sigma,
                            inside the window where guidance matters (depends on high-noise-hurts)
    fades_in_high_d         isotropic classes on a sphere: CFG's overshoot and variance change fade as d grows at
                            fixed K, and do not fade along K = exp(alpha d) (phase diagram over d and K)
    high_noise_hurts        guiding only below sigma = 5.42 keeps CFG's confidence with more diversity; which of 36
                            sigma windows reaches CFG's confidence with the most mode coverage

and the debates of 2024-2026, alphabetically:

    early_guidance_kills_global_diversity   guidance at high noise costs modes, at low noise spread within modes
    gibbs_guidance_samples_the_tilt         a Gibbs-like refinement of conditional samples reaches q_0, CFG does not
    icg_matches_cfg                         independent condition guidance against CFG over random mixtures
    linear_cfg_tracks_cfg                   the linear (Gaussian) approximation of CFG's guidance term over sigma
    rescale_fixes_overexposure              guidance_rescale: the prediction's norm against the separation kept
    rising_schedule_keeps_diversity         rising w(sigma) against constant w at equal separation
    speciation_time                         classes speciate at sigma_s^2 ~ Lambda, the data covariance's top eigenvalue
    zero_init_is_a_late_start               CFG-Zero*'s zeroed first steps against a late start from p_sigma
"""

import importlib
import pkgutil

from .registry import (
    CAVEAT,
    FAILS,
    HOLDS,
    LEVEL,
    REAL_DATA,
    REGISTRY,
    UNDECIDED,
    VERDICTS,
    WINDOW,
    Claim,
    Judgement,
    Verdict,
    about_data,
    above,
    below,
    cfg_samples,
    decide,
    every,
    less,
    names,
    refined,
    register,
    simultaneous,
    some,
    within,
)
from .runner import (
    DATA_REPLICATES,
    STRIDE,
    as_json,
    combine,
    configure,
    counterexamples,
    data_table,
    on_data,
    quorum,
    run,
    table,
    tally,
)

# one module per claim, imported (so registered) in this order, then every other module of the package
ORDER = ("cfg_is_not_q0", "sde_differs_from_ode", "monotone_over_mixtures", "helps_on_average", "pushes_to_far_edge",
         "decided_mid_noise", "fades_in_high_d", "high_noise_hurts")
MODULES = (*ORDER, *sorted({m.name for m in pkgutil.iter_modules(__path__)} - {*ORDER, "registry", "runner"}))
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

# the measurement helpers the notebooks and tests use, by their short names
from .decided_mid_noise import conditional_entropy, conditional_entropy_samples, steepest_sigma  # noqa: E402
from .fades_in_high_d import cfg_distortion, diagonals, phase_diagram, sphere_classes  # noqa: E402
from .high_noise_hurts import window_name  # noqa: E402
from .monotone_over_mixtures import monotone_in_w  # noqa: E402
from .pushes_to_far_edge import projected_quantiles  # noqa: E402
from .sde_differs_from_ode import predictor_corrector_gap  # noqa: E402

__all__ = ["CAVEAT", "DATA_REPLICATES", "FAILS", "HOLDS", "LEVEL", "MODULES", "ORDER", "REAL_DATA", "REGISTRY",
           "STRIDE", "UNDECIDED", "VERDICTS", "WINDOW", "Claim", "Judgement", "Verdict", "about_data", "above",
           "as_json", "below", "cfg_distortion", "cfg_samples", "combine", "conditional_entropy",
           "conditional_entropy_samples", "configure", "counterexamples", "data_table", "decide", "diagonals",
           "every", "less", "monotone_in_w", "names", "on_data", "phase_diagram", "predictor_corrector_gap",
           "projected_quantiles", "quorum", "refined", "register", "run", "simultaneous", "some", "sphere_classes",
           "steepest_sigma", "table", "tally", "window_name", "within"]
