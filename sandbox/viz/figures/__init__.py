"""Every figure of the project, one function each, by topic, and the builder behind ``mclr-sandbox figures``.

A figure function takes ``fast: bool`` (small sizes, same code path) and returns a matplotlib Figure. Figures draw:
what they show that takes more than closed-form evaluations (training, sampling, sweeps, checks) comes from an
experiment config run through the cache (``cache.run``, ``separation.sweep``), so a figure computes nothing heavy
itself. ``registry`` holds the registry and the builder (``build``, ``check``); each topic is one module,
registered on import in this order (the order of ``mclr-sandbox figures``):

    theorem     the zoo, the theorem's residuals and parabolas, the MCLR weights, ill-posed MCLR, learning curves
    atlas       the guidance panel, separation against diversity, the atlas (exact fields, sweeps, trained nets,
                fine-tunes against budget and width)
    verdicts    the claims, their counterexamples, the phase diagram, the sigma windows
    teaching    CFG against q_0, guided paths in 1D, small MLPs, CFG's intuition, exact guidance on real digits
    library     diffusers' schedulers and guiders against exact answers (needs the diffusers extra)
"""

import importlib

from .registry import (
    CHECK_TOLERANCE,
    EXACT,
    FIGURES,
    NEAR,
    PNG_DPI,
    REPRODUCIBILITY,
    TRAINED,
    FigureSpec,
    build,
    check,
    figure,
    save_figure,
)

# each topic registers its figures on import, in this order (the order of ``mclr-sandbox figures``)
TOPICS = ("theorem", "atlas", "verdicts", "teaching", "library")
for _topic in TOPICS:
    importlib.import_module(f"{__name__}.{_topic}")

from .atlas import (  # noqa: E402
    atlas_curves,
    atlas_nets_figure,
    atlas_sweeps_figure,
    atlas_tradeoff_figure,
    guidance_panel_figure,
    pareto,
    separation_config,
    separation_tradeoff_figure,
)
from .teaching import (  # noqa: E402
    cfg_intuition_figure,
    cfg_vs_tilted_figure,
    guided_paths_1d_figure,
    mlp_comparison_figure,
)
from .theorem import (  # noqa: E402
    RESIDUAL_CATEGORIES,
    learning_curves_figure,
    mclr_ill_posed_figure,
    mclr_weights_figure,
    residual_category,
    theorem_parabolas_figure,
    theorem_residuals_figure,
    zoo_figure,
)
from .verdicts import (  # noqa: E402
    claims_counterexamples_figure,
    claims_figure,
    claims_phase_diagram_figure,
    claims_windows_figure,
)

__all__ = [
    "CHECK_TOLERANCE",
    "EXACT",
    "FIGURES",
    "NEAR",
    "PNG_DPI",
    "REPRODUCIBILITY",
    "RESIDUAL_CATEGORIES",
    "TRAINED",
    "FigureSpec",
    "atlas_curves",
    "atlas_nets_figure",
    "atlas_sweeps_figure",
    "atlas_tradeoff_figure",
    "build",
    "cfg_intuition_figure",
    "cfg_vs_tilted_figure",
    "check",
    "claims_counterexamples_figure",
    "claims_figure",
    "claims_phase_diagram_figure",
    "claims_windows_figure",
    "figure",
    "guidance_panel_figure",
    "guided_paths_1d_figure",
    "learning_curves_figure",
    "mclr_ill_posed_figure",
    "mclr_weights_figure",
    "mlp_comparison_figure",
    "pareto",
    "residual_category",
    "save_figure",
    "separation_config",
    "separation_tradeoff_figure",
    "theorem_parabolas_figure",
    "theorem_residuals_figure",
    "zoo_figure",
]
