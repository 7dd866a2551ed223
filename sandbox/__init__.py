"""mclr-sandbox: exact Gaussian-mixture sandbox for classifier-free guidance and MCLR.

Public API (see README.md for a tour):

- ``ClassConditionalGMM``: noised densities, scores, denoisers, class posteriors and CFG scores in closed form.
- ``zoo``: named example mixtures (``teaching_1d``, ``overlap_2d``, ``branching_2d``) and ``random_mixture``;
  ``zoo.resolve`` turns a zoo name, a mixture JSON file or a mixture into a mixture.
- ``methods``: the one vocabulary of guidance rules, training objectives and exact targets (``methods.field``).
- ``conventions``: guidance scales (``w``, ``s``, GFT's ``beta``, model guidance's ``w``) and field forms.
- ``fields``: the two field signatures, ``Field`` ``(x, sigma)`` and ``LabelledField`` ``(x, sigma, c)``.
- ``schedules``: the VE/EDM sigma frame, VP schedules mapped onto it, EDM sigma steps.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mclr-sandbox")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from . import conventions, fields, methods, schedules, zoo
from .mixtures import ClassConditionalGMM
from .schedules import VPSchedule, edm_sigmas, vp_denoise, vp_score
from .zoo import branching_2d, gaussian_classes, overlap_2d, random_mixture, teaching_1d

__all__ = [
    "ClassConditionalGMM",
    "VPSchedule",
    "__version__",
    "branching_2d",
    "conventions",
    "edm_sigmas",
    "fields",
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
