"""The claims registry: a claim is data (its reference, statement, configs, dependencies and panel) plus the
measurement that computes its verdict, and the vocabulary measurements judge with. Running claims (their order,
cache and seeds) is ``runner``'s: this module is in every measurement's code fingerprint, so it holds only what a
measurement uses.

A verdict is ``holds``, ``fails``, ``holds with a caveat`` or ``undecided``: the interval that decides it contains
its threshold, so the data do not say (never ``fails`` for an interval that straddles). Measurements judge with
three-valued comparisons (``below``, ``above``: ``True``, ``False`` or ``None`` for undecided; ``every``, ``some``
combine them), refine the units whose intervals straddle before they judge (``refined``: more samples, doubling up
to a stated budget), and where a verdict needs every unit, use simultaneous intervals (``simultaneous``: the
family-wise level of Bonferroni's bound), so that a verdict is wrong with probability at most ``1 - LEVEL``. Every
claim's config has a ``seed`` (every draw derives from it).

    Claim(name, reference, statement, measure, full, fast, depends=(), panel=None)

A claim about the data's geometry measures it on the zoo mixtures that one field of its config names, declared with
``on`` (``data_field``): the same claim then runs on mixtures fitted to real data (``REAL_DATA``) by naming those
instead (``runner.on_data``), and its verdict there is reported beside the one on its own mixtures.

``measure(config, needs) -> Verdict``: ``config`` is the claim's frozen config (``full`` or ``fast``: sample sizes,
grids, seeds; everything that changes the result), ``needs`` the verdicts of the claims it ``depends`` on, by name
(as plain data). ``Verdict.numbers`` is structured data (lists of records with their fields, never keys to parse
back) that ``panel(ax, numbers, color)`` draws in the claims figure (``color(i)`` is the figure's i-th colour).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from ... import methods
from ...core import cache, plugins, provenance, sweeps, zoo
from ...core.mixtures import ClassConditionalGMM
from ...core.schedules import edm_sigmas
from ...core.validation import Limit, check_config, register_once
from ...methods import samplers

HOLDS, FAILS, CAVEAT, UNDECIDED = "holds", "fails", "holds with a caveat", "undecided"
VERDICTS = (HOLDS, FAILS, CAVEAT, UNDECIDED)
LEVEL = 0.95          # the family-wise level of every claim's intervals
# the sigma interval where interval guidance applies CFG (Kynkaanniemi et al. 2024): cfg-interval's defaults
WINDOW = tuple(methods.get("cfg-interval").params[end] for end in ("sigma_lo", "sigma_hi"))
REAL_DATA = zoo.REAL_DATA         # zoo mixtures fitted to real data sets (``core.fitting``)


def on(*names: str) -> Any:
    """The config field of a claim about the data's geometry: the zoo mixtures it is measured on, ``names`` by
    default (zoo names: the zoo's code keys the mixtures, and a fitted one's data digest keys its fit)."""
    return dataclasses.field(default=tuple(names), metadata={"limit": Limit(choices=tuple(zoo.ZOO), many=True),
                                                              "data": True})


def data_field(claim: Claim) -> str | None:
    """The field of ``claim``'s config declared with ``on`` (None: the claim is not about the data's geometry)."""
    return next((f.name for f in dataclasses.fields(claim.full) if f.metadata.get("data")), None)


def about_data(claim: Claim) -> bool:
    """Whether ``claim`` is about the data's geometry (one field of its config is declared with ``on``)."""
    return data_field(claim) is not None


@dataclass
class Verdict:
    """What a claim's measurement decided: the verdict, one line that says why with the numbers, and the numbers."""

    verdict: str
    reason: str
    numbers: dict[str, object] = field(default_factory=dict)
    config: dict[str, object] | None = None       # the setting it was measured on (``runner.run`` fills it in)
    replicates: dict[int, str] | None = None       # seed -> verdict, when measured under several (``runner.run``)

    def as_dict(self) -> dict[str, object]:
        out = {"verdict": self.verdict, "reason": self.reason, "numbers": cache.plain(self.numbers)}
        if self.replicates is not None:
            out["replicates"] = {str(seed): v for seed, v in self.replicates.items()}
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Verdict:
        return Verdict(data["verdict"], data["reason"], dict(data["numbers"]))


Panel = Callable[[Any, dict, Callable[[int], str]], None]


@dataclass(frozen=True)
class Claim:
    """A published claim: the paper, the statement tested, and ``measure(config, needs) -> Verdict`` (module
    docstring) with its ``full`` and ``fast`` configs (frozen dataclasses), the claims it ``depends`` on, and the
    ``panel`` that draws its numbers (None: the figure shows its verdict and reason as text)."""

    name: str
    reference: str
    statement: str
    measure: Callable[[Any, dict[str, Verdict]], Verdict]
    full: Any
    fast: Any
    depends: tuple[str, ...] = ()
    panel: Panel | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip():
            raise ValueError(f"name must be a non-empty string without surrounding spaces, got {self.name!r}")
        if not callable(self.measure) or (self.panel is not None and not callable(self.panel)):
            raise TypeError("measure (and panel, when given) must be callable")
        for which in ("full", "fast"):
            config = getattr(self, which)
            if not (dataclasses.is_dataclass(config) and not isinstance(config, type)
                    and config.__dataclass_params__.frozen):
                raise TypeError(f"{which} must be a frozen dataclass instance (the claim's config), got "
                                f"{type(config).__name__}")
        if self.name in self.depends:
            raise ValueError(f"claim {self.name!r} cannot depend on itself")
        for which in ("full", "fast"):        # both obey the settings' declared limits, and both take a seed
            check_config(getattr(self, which), f"{self.name} ({which})")
            if "seed" not in {f.name for f in dataclasses.fields(getattr(self, which))}:
                raise TypeError(f"claim {self.name!r}: its {which} config must have a seed field (every draw "
                                f"derives from it: claims --seed)")

    def config(self, fast: bool) -> Any:
        return self.fast if fast else self.full


REGISTRY: dict[str, Claim] = plugins.track({})
provenance.add_resolver(lambda name: (REGISTRY[name].measure,) if name in REGISTRY else ())


def register(claim: Claim) -> Claim:
    """Add ``claim`` under its name (a name is registered once)."""
    return register_once(REGISTRY, claim.name, claim, "claim")


def names() -> tuple[str, ...]:
    """Registered claims, in registration order."""
    return tuple(REGISTRY)


Judgement = bool | None        # True, False, or None: undecided (an interval contains the threshold)


def below(estimate: Any, threshold: float) -> Judgement:
    """Whether the quantity is below ``threshold``: ``True`` if its interval is, ``False`` if the interval is at or
    above it, ``None`` if the interval contains it."""
    return True if estimate.hi < threshold else False if estimate.lo >= threshold else None


def above(estimate: Any, threshold: float) -> Judgement:
    """Whether the quantity is above ``threshold`` (as ``below``, mirrored)."""
    return True if estimate.lo > threshold else False if estimate.hi <= threshold else None


def within(estimate: Any, lo: float, hi: float) -> Judgement:
    """Whether the quantity lies in ``[lo, hi]``: ``True`` if its interval does, ``False`` if the interval lies
    wholly outside, ``None`` otherwise."""
    return True if lo <= estimate.lo and estimate.hi <= hi else False if estimate.hi < lo or estimate.lo > hi \
        else None


def less(a: Any, b: Any) -> Judgement:
    """Whether quantity ``a`` is below quantity ``b``: ``True`` if ``a``'s interval lies below ``b``'s, ``False`` if
    above it, ``None`` if they overlap."""
    return True if a.hi < b.lo else False if a.lo > b.hi else None


def every(judgements: Iterable[Judgement]) -> Judgement:
    """``False`` if any is, else ``None`` if any is undecided, else ``True`` (three-valued "and")."""
    values = list(judgements)
    return False if False in values else None if None in values else True


def some(judgements: Iterable[Judgement]) -> Judgement:
    """``True`` if any is, else ``None`` if any is undecided, else ``False`` (three-valued "or")."""
    values = list(judgements)
    return True if True in values else None if None in values else False


def simultaneous(count: int, level: float = LEVEL) -> float:
    """The level of each of ``count`` intervals that hold together at ``level`` (Bonferroni)."""
    return 1.0 - (1.0 - level) / max(int(count), 1)


def refined(fn: Callable[[Any], dict], units: list[Any], name: str, labels: list[str],
            undecided: Callable[[dict], bool], grow: Callable[[Any], Any], budget: int, desc: str) -> list[dict]:
    """``sweeps.map(fn, units)``, then up to ``budget`` rounds in which every unit whose result is ``undecided``
    runs again as ``grow(unit)`` (e.g. twice the samples): what ``verify`` does before it judges. Each result
    records its ``refinements``."""
    rows = [{**row, "refinements": 0} for row in sweeps.map(fn, units, name, labels, desc=desc)]
    for round_ in range(1, budget + 1):
        again = [i for i, row in enumerate(rows) if undecided(row)]
        if not again:
            break
        units = [grow(u) if i in again else u for i, u in enumerate(units)]
        redone = sweeps.map(fn, [units[i] for i in again], name, [labels[i] for i in again],
                            desc=f"{desc} (refining {len(again)}, round {round_})")
        for i, row in zip(again, redone):
            rows[i] = {**row, "refinements": round_}
    return rows


def decide(core: Judgement, clean: Judgement, reason: str, numbers: dict[str, object]) -> Verdict:
    """``fails`` if the ``core`` of the claim fails, ``undecided`` if it is undecided; else ``holds``, or ``holds
    with a caveat`` if the secondary condition (``clean``: converged, inside the window, ...) fails, ``undecided``
    if that is undecided."""
    verdict = (FAILS if core is False else UNDECIDED if core is None or clean is None else HOLDS if clean
               else CAVEAT)
    return Verdict(verdict, reason, numbers)


def cfg_samples(gmm: ClassConditionalGMM, c: int, w: float, n: int, steps: int, seed: int) -> Tensor:
    """Exact-score CFG samples of class ``c``: Heun probability-flow ODE from ``x_T ~ p_80(.|c)`` to sigma = 0.002."""
    start = gmm.sample(n, c=c, sigma=80.0, generator=seed)
    return samplers.heun_ode(methods.field("cfg", gmm, c, w=w), start, edm_sigmas(steps, 0.002, 80.0))
