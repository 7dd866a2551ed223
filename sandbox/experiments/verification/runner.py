"""Running the registered checks: ``VerifyConfig`` (which mixtures, fast or full, the seed) plans one unit per
check call, run through the sweeps' executor (never cached: ``verify`` checks afresh)."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

from ...core import sweeps
from ...core.validation import as_int
from ...core.zoo import MixtureSpec
from .registry import (
    REGISTRY,
    Check,
    CheckResult,
    resolve_mixtures,
)


@dataclass(frozen=True)
class VerifyConfig:
    """The registered checks of ``mclr-sandbox verify`` (``checks``: only these names). ``mixtures``: what to
    check (default: each check's zoo mixtures);
    a mixture beyond a check's ``max_dim`` skips that check (quadrature: d > 2). ``fast``: each check's ``fast``
    settings. ``seed``: the seed of every random draw of the checks that make any (a new seed re-draws the
    statistical checks)."""

    mixtures: tuple[MixtureSpec, ...] | None = None
    fast: bool = False
    seed: int = 0
    checks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        as_int(self.seed, "seed", minimum=0)
        if self.checks is not None:
            unknown = [c for c in self.checks if c not in REGISTRY]
            if not self.checks or unknown:
                raise ValueError(f"checks must be drawn from {list(REGISTRY)}, got {list(self.checks)}")
        if self.mixtures is not None:
            if not self.mixtures:
                raise ValueError("mixtures must be None (the zoo's) or name at least one mixture")
            resolve_mixtures(self, "mixtures")

    def registered(self) -> list[Check]:
        """The checks to run, in the registry's order (``checks``: only those; None: all)."""
        return [c for name, c in REGISTRY.items() if self.checks is None or name in self.checks]

    def plan(self) -> list[tuple[str, Callable[[], list[CheckResult]]]]:
        """``(name, run)`` for every call of the registered checks, in order: a check that takes ``"all"``
        mixtures gets those it can handle (none given: its own zoo defaults), one that takes ``"each"`` is called
        once per mixture, ``"none"`` once."""
        given = self.mixtures
        plan: list[tuple[str, Callable[[], list[CheckResult]]]] = []
        for check in self.registered():
            settings = dict(check.fast if self.fast else {})
            if "seed" in inspect.signature(check.run).parameters:
                settings["seed"] = self.seed
            if check.takes == "none" or (given is None and check.takes == "all"):
                plan.append((check.name, functools.partial(check.run, **settings)))
            elif check.takes == "each":
                plan += [(check.name, functools.partial(check.run, *([] if g is None else [g]), **settings))
                         for g in (given or (None,))]
            else:
                usable = tuple(g for g in given if check.max_dim is None or g.dim <= check.max_dim)
                if usable:
                    plan.append((check.name, functools.partial(check.run, usable, **settings)))
        return plan

    def skipped(self) -> list[str]:
        """Why checks of the plan are missing for some mixtures (empty for the default plan)."""
        out = []
        for check in self.registered():
            high = [g.name for g in self.mixtures or () if check.max_dim is not None and g.dim > check.max_dim]
            if high:
                out.append(f"{check.name} skipped for {', '.join(high)} ({check.why})")
        return out

    def compute(self, progress: bool = False) -> list[CheckResult]:
        """Every check of the plan, each a unit of one sweep (``sandbox.core.sweeps``: on workers with
        ``--workers``), never cached: ``verify`` checks afresh on every run."""
        plan = self.plan()
        units = [CheckUnit(self, i) for i in range(len(plan))]
        parts = sweeps.map(run_check, units, None, [label for label, _ in plan], "verify", progress=progress)
        return [row for part in parts for row in part]


@dataclass(frozen=True)
class CheckUnit:
    """One unit of ``verify``: the ``index``-th check of ``config``'s plan."""

    config: VerifyConfig
    index: int


def run_check(unit: CheckUnit) -> list[CheckResult]:
    return unit.config.plan()[unit.index][1]()


def summary_table(results: list[CheckResult]) -> str:
    """One row per check: rows passed (and unresolved), the worst residual relative to its tolerance, that residual
    and where it is; where every residual is rounding noise (below ``tables.FLOOR``) no setting is named, since
    which one rounds worst differs from CPU to CPU."""
    from ...core.tables import FLOOR, format_table

    rows = []
    for check in dict.fromkeys(r.check for r in results):
        mine = [r for r in results if r.check == check]
        worst = max(mine, key=lambda r: r.residual / r.tolerance if r.tolerance > 0 else math.inf * (r.residual > 0))
        level = worst.details.get("level")
        rows.append((check, f"{sum(r.passed for r in mine)}/{len(mine)}",
                     str(sum(r.status == "unresolved" for r in mine)), f"{worst.residual:.2e}",
                     f"{worst.tolerance:.2e}", "-" if level is None else f"{level:g} simultaneous",
                     worst.setting if worst.residual >= FLOOR else f"- (every residual below {FLOOR:g})"))
    return format_table(("check", "passed", "unresolved", "worst residual", "tolerance", "level", "at"), rows)


def run_all(fast: bool = False, progress: bool = True, mixtures: tuple[MixtureSpec, ...] | None = None,
            seed: int = 0, checks: tuple[str, ...] | None = None) -> list[CheckResult]:
    """Every check, or those named in ``checks`` (``VerifyConfig(mixtures, fast, seed, checks).compute``)."""
    return VerifyConfig(mixtures, fast, seed, checks).compute(progress)
