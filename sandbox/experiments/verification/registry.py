"""What every verify check shares: its rows (``CheckResult``), the settings grids, error measures and evaluation
points, and the registry of checks (``Check``, ``register``): each check is one module of this package."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import torch

from ...core import zoo
from ...core.mixtures import ClassConditionalGMM
from ...core.validation import register_once
from ...methods import objectives

Tensor = torch.Tensor

SIGMAS = (0.01, 0.05, 0.2, 1.0, 3.0, 10.0)
GUIDANCE = (0.0, 0.5, 2.0, 7.0)
VARIANTS = objectives.VARIANTS
QUADRATURE_RULES = {1: (100, 12), 2: (30, 10)}  # (panels, Gauss-Legendre order) per axis, by dimension
FAST_QUADRATURE_RULES = {1: (60, 10), 2: (20, 10)}  # still ~1e-10 on the zoo; for --fast runs
# the refinement budget: at most this many panels per axis and component (2D: 160 x 10 nodes per axis, 2.6M)
MAX_PANELS = {1: 1600, 2: 160}
STATUSES = ("pass", "FAIL", "unresolved")
ZOO_2D = ("teaching_1d", "overlap_2d")


@dataclass
class CheckResult:
    """One row of a check: ``params`` are the settings used (``setting`` is them as text)."""

    check: str
    setting: str
    residual: float
    tolerance: float
    passed: bool
    details: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    status: str = ""          # "pass", "FAIL" or "unresolved" (default: from ``passed``)

    def __post_init__(self) -> None:
        self.status = self.status or ("pass" if self.passed else "FAIL")
        if self.status not in STATUSES or self.passed != (self.status == "pass"):
            raise ValueError(f"status must be one of {STATUSES} and agree with passed, got {self.status!r}, "
                             f"passed={self.passed}")

    @classmethod
    def of(cls, check: str, params: dict, residual: float, tolerance: float, passed: bool,
           details: dict | None = None, status: str = "") -> CheckResult:
        """Build a row whose ``setting`` reads ``"overlap_2d mismatched sigma=0.2 w=7"`` from ``params``."""
        setting = " ".join(str(v) if isinstance(v, str) else f"{k}={v:g}" for k, v in params.items())
        return cls(check, setting, residual, tolerance, passed, details or {}, params, status)

    def as_dict(self) -> dict:
        return asdict(self)


def relative_error(estimate: Tensor, reference: Tensor) -> float:
    """``max_i ||e_i - r_i|| / max(||r_i||, 1e-6 rms(||r||))``: relative per point, floored near zeros of ``r``."""
    if reference.numel() == 0:
        return 0.0
    ref_norm = reference.norm(dim=-1)
    floor = 1e-6 * float(ref_norm.square().mean().sqrt())
    return float(((estimate - reference).norm(dim=-1) / ref_norm.clamp_min(floor)).max())


def grid_points(gmm: ClassConditionalGMM, n: int) -> Tensor:
    """A regular grid of ``n`` nodes per axis over ``gmm.extent()`` (any d: ``n^d`` points)."""
    axes = [torch.linspace(a, b, n, dtype=torch.float64) for a, b in gmm.extent()]
    return torch.cartesian_prod(*axes).reshape(-1, gmm.dim)


def evaluation_points(gmm: ClassConditionalGMM, sigma: float, n_grid: int, n_random: int, seed: int = 0) -> Tensor:
    """A regular grid over the mixture's extent (d <= 2) plus samples of ``p_sigma`` and wide points."""
    grid = grid_points(gmm, n_grid) if gmm.dim <= 2 else torch.empty(0, gmm.dim, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    near = gmm.sample(n_random, sigma=sigma, generator=g)
    wide = (4.0 + 2.0 * sigma) * torch.randn(n_random, gmm.dim, dtype=torch.float64, generator=g)
    return torch.cat([grid, near, wide])


@dataclass(frozen=True)
class Check:
    """One way of checking the theorem, registered as ``verify`` runs it: ``run(..., **settings) -> rows`` with
    ``fast`` its settings for ``--fast`` (reduced sizes, same code path); ``takes`` how it takes mixtures: ``"all"``
    (one call with every mixture it can handle), ``"each"`` (one call per mixture) or ``"none"`` (none: symbolic);
    ``max_dim``: the largest dimension it handles (None: any), with ``why`` the reason it stops there. A check
    whose ``run`` takes a ``seed`` gets ``verify --seed``."""

    name: str
    run: Callable[..., list[CheckResult]]
    fast: Mapping[str, object]
    takes: str = "all"
    max_dim: int | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.takes not in ("all", "each", "none"):
            raise ValueError(f"takes must be 'all', 'each' or 'none', got {self.takes!r}")


REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    """Add ``check`` under its name (a name is registered once); ``verify`` runs the checks in this order."""
    return register_once(REGISTRY, check.name, check, "verify check")


def resolve_mixtures(config: object, *names: str) -> None:
    """Replace the mixture specs in fields ``names`` of a frozen config by mixtures (keys then use fingerprints)."""
    for name in names:
        value = getattr(config, name)
        resolved = tuple(map(zoo.resolve, value)) if isinstance(value, tuple) else zoo.resolve(value)
        object.__setattr__(config, name, resolved)
