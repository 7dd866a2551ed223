"""mclr-sandbox: exact Gaussian-mixture sandbox for classifier-free guidance and MCLR.

Public API (see README.md for a tour):

- ``ClassConditionalGMM``: noised densities, scores, denoisers, class posteriors and CFG scores in closed form.
- ``zoo``: named example mixtures (``teaching_1d``, ``overlap_2d``, ``branching_2d``) and ``random_mixture``;
  ``zoo.resolve`` turns a zoo name, a mixture JSON file or a mixture into a mixture.
- ``methods``: the one vocabulary of guidance rules, training objectives and exact targets (``methods.field``).
- ``conventions``: guidance scales (``w``, ``s``, GFT's ``beta``, model guidance's ``w``).
- ``frames``: the VE/EDM, VP (epsilon, x0, v) and rectified-flow frames, with exact maps between them.
- ``fields``: the two field signatures, ``Field`` ``(x, sigma)`` and ``LabelledField`` ``(x, sigma, c)``.
- ``schedules``: the VE/EDM sigma frame, VP schedules mapped onto it, EDM sigma steps.

The package is layered, data flowing one way: ``core`` (mixtures, schedules, zoo, validation, files, cache) ->
``methods`` (guidance rules, objectives, exact optima, samplers) -> ``learn`` (models, training, checkpoints) ->
``experiments`` (metrics, verification, separation, comparison, atlas, claims) -> ``viz`` (figures) -> ``cli``.
Users extend the registries (methods, claims) from their own files or installed modules: ``plugins``.
Every module of a layer's folder is also reachable by its short name, imported on first use: ``from sandbox import
claims, metrics`` (names are unique across layers).
"""

import importlib
from pathlib import Path

from .core import provenance
from .core.version import __version__

provenance.snapshot()   # the package's source as imported: what cache keys fingerprint (core/provenance.py)

from . import methods  # noqa: E402
from .core import allocator, conventions, fields, frames, schedules, threads, zoo  # noqa: E402
from .core.mixtures import ClassConditionalGMM  # noqa: E402
from .core.schedules import VPSchedule, edm_sigmas, vp_denoise, vp_score  # noqa: E402
from .core.zoo import branching_2d, gaussian_classes, overlap_2d, random_mixture, teaching_1d  # noqa: E402

threads.use()      # one torch thread unless told otherwise: robust when other work holds a core (core/threads.py)
allocator.use()    # freed memory kept for reuse: no page faults at every sampler step (core/allocator.py)

LAYERS = ("core", "methods", "learn", "experiments", "viz")


def _short_names() -> dict[str, str | None]:
    """Short name -> layer, by one rule: every module or package directly in a layer's folder, and ``cli``
    (``sandbox.<name>`` is imported lazily: ``import sandbox`` stays light, no scipy, no figures)."""
    here = Path(__file__).parent
    names: dict[str, str | None] = {}
    for layer in LAYERS:
        for path in sorted((here / layer).iterdir()):
            if not path.name.startswith("_") and (path.suffix == ".py" or (path / "__init__.py").is_file()):
                names[path.stem] = layer
    return {**names, "cli": None}


MODULES = _short_names()


def __getattr__(name: str) -> object:
    if name not in MODULES:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    layer = MODULES[name]
    module = importlib.import_module(f".{name}" if layer is None else f".{layer}.{name}", __name__)
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted({*globals(), *MODULES})


__all__ = [
    "ClassConditionalGMM",
    "VPSchedule",
    "__version__",
    "branching_2d",
    "conventions",
    "edm_sigmas",
    "fields",
    "frames",
    "gaussian_classes",
    "methods",
    "overlap_2d",
    "random_mixture",
    "schedules",
    "teaching_1d",
    "vp_denoise",
    "vp_score",
    "zoo",
]
