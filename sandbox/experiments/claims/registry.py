"""The claims registry: a claim is data (its reference, statement, configs, dependencies and panel) plus the
measurement that computes its verdict; verdicts are computed, never written by hand, and cached by their code.

A verdict is ``holds``, ``fails``, ``holds with a caveat`` or ``undecided``: the interval that decides it contains
its threshold, so the data do not say (never ``fails`` for an interval that straddles). Measurements judge with
three-valued comparisons (``below``, ``above``: ``True``, ``False`` or ``None`` for undecided; ``every``, ``some``
combine them), refine the units whose intervals straddle before they judge (``refined``: more samples, doubling up
to a stated budget), and where a verdict needs every unit, use simultaneous intervals (``simultaneous``: the
family-wise level of Bonferroni's bound). Every claim's config has a ``seed`` (``run(seed=)``, ``claims --seed``),
and ``run(replicates=R)`` measures each claim under the seeds ``seed, seed + STRIDE, ...`` and reports the share
that agree; replicates that disagree make the claim ``undecided``.

    Claim(name, reference, statement, measure, full, fast, depends=(), panel=None)

``measure(config, needs) -> Verdict``: ``config`` is the claim's frozen config (``full`` or ``fast``: sample sizes,
grids, seeds; everything that changes the result), ``needs`` the verdicts of the claims it ``depends`` on, by name
(as plain data). ``Verdict.numbers`` is structured data (lists of records with their fields, never keys to parse
back) that ``panel(ax, numbers, color)`` draws in the claims figure (``color(i)`` is the figure's i-th colour).
``run`` computes each claim once, its dependencies first, each cached by its name, its config, the configs of what
it depends on, and the code of every measurement involved (``sandbox.cache``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from ... import methods
from ...core import cache, plugins, provenance, sweeps
from ...core.mixtures import ClassConditionalGMM
from ...core.schedules import edm_sigmas
from ...core.tables import format_table
from ...core.validation import COUNT, check_config, register_once
from ...methods import samplers

HOLDS, FAILS, CAVEAT, UNDECIDED = "holds", "fails", "holds with a caveat", "undecided"
VERDICTS = (HOLDS, FAILS, CAVEAT, UNDECIDED)
LEVEL = 0.95          # the family-wise level of every claim's intervals
STRIDE = 1000         # replicates' seeds step by this much: a claim's own offsets (seed + 1, ...) never overlap
# the sigma interval where interval guidance applies CFG (Kynkaanniemi et al. 2024): cfg-interval's defaults
WINDOW = tuple(methods.get("cfg-interval").params[end] for end in ("sigma_lo", "sigma_hi"))


@dataclass
class Verdict:
    """What a claim's measurement decided: the verdict, one line that says why with the numbers, and the numbers."""

    verdict: str
    reason: str
    numbers: dict[str, object] = field(default_factory=dict)
    config: dict[str, object] | None = None       # the setting it was measured on (``run`` fills it in)
    replicates: dict[int, str] | None = None       # seed -> verdict, when measured under several (``run``)

    def as_dict(self) -> dict[str, object]:
        out = {"verdict": self.verdict, "reason": self.reason, "numbers": cache.plain(self.numbers)}
        if self.replicates is not None:
            out["replicates"] = {str(seed): v for seed, v in self.replicates.items()}
        return out

    @property
    def agreement(self) -> str:
        """``"k/R"``: how many of the replicates' verdicts are the first seed's (``"1/1"`` for one)."""
        verdicts = list((self.replicates or {0: self.verdict}).values())
        return f"{verdicts.count(verdicts[0])}/{len(verdicts)}"

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


def _order(wanted: tuple[str, ...]) -> list[str]:
    """``wanted`` with every dependency before its dependants (depth first); a cycle or an unknown name is an
    error."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"claims depend on each other in a cycle: {' -> '.join((*path, name))}")
        if name not in REGISTRY:
            raise ValueError(f"claim {path[-1]!r} depends on {name!r}, which is not registered")
        for dep in REGISTRY[name].depends:
            visit(dep, (*path, name))
        if name not in order:
            order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def _key(name: str, configs: Mapping[str, Any]) -> dict[str, object]:
    """What a verdict depends on: its config and, recursively, its dependencies' keys."""
    return {"name": name, "config": configs[name], "needs": [_key(d, configs) for d in REGISTRY[name].depends]}


def configure(name: str, fast: bool = False, changes: Mapping[str, object] | None = None) -> Any:
    """Claim ``name``'s config (``fast`` or full) with ``changes`` to its fields; a change given as text (the
    command line's ``--set``) is read as the field's type: a number, or comma-separated numbers for a tuple."""
    if name not in REGISTRY:
        raise ValueError(f"claims must be drawn from {list(REGISTRY)}, got {name!r}")
    config = REGISTRY[name].config(fast)
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    typed = {}
    for key, value in (changes or {}).items():
        if key not in fields:
            raise ValueError(f"claim {name} has no setting {key!r}; its settings: {', '.join(fields)}")
        typed[key] = _as_type(value, fields[key], f"{name}.{key}") if isinstance(value, str) else value
    return check_config(dataclasses.replace(config, **typed), name)


def _as_type(text: str, default: object, what: str) -> object:
    """``text`` read as the type of ``default`` (bool, int, float, str, or a tuple of the type of its items)."""
    def one(item: str, like: object) -> object:
        try:
            if isinstance(like, bool):
                if item.strip().lower() not in ("true", "false"):
                    raise ValueError
                return item.strip().lower() == "true"
            return type(like)(item.strip()) if isinstance(like, (int, float, str)) else float(item)
        except ValueError:
            raise ValueError(f"{what} must be {type(like).__name__}, got {item!r}") from None

    if isinstance(default, tuple):
        return tuple(one(i, default[0] if default else 0.0) for i in text.split(",") if i.strip())
    return one(text, default)


def _code(name: str) -> list[object]:
    claim = REGISTRY[name]
    return [claim.measure, *(f for dep in claim.depends for f in _code(dep))]


def run(names: tuple[str, ...] | None = None, fast: bool = False,
        announce: Callable[[str], None] | None = None,
        changes: Mapping[str, Mapping[str, object]] | None = None, seed: int | None = None,
        replicates: int = 1) -> dict[str, Verdict]:
    """The verdict of every claim in ``names`` (default: all), in registration order, each measured on its config
    (``fast`` or full) with its ``changes`` (``configure``) and, when given, ``seed`` in place of its own. Each claim
    is computed once, after the claims it depends on; a dependency that was not asked for is ``announce``d (one
    line) before it runs or is read from the cache. With ``replicates`` R > 1 every claim is measured under its seed
    and R - 1 more, ``seed + STRIDE r`` (its dependencies under the same seeds); the verdict is the first seed's if
    all agree, else ``undecided``, and ``Verdict.replicates`` holds each seed's."""
    names = tuple(REGISTRY) if names is None else tuple(names)
    unknown = [n for n in (*names, *(changes or {})) if n not in REGISTRY]
    if unknown:
        raise ValueError(f"claims must be drawn from {list(REGISTRY)}, got {unknown}")
    replicates = COUNT.check(replicates, "replicates")
    order = _order(names)
    idle = [n for n in (changes or {}) if n not in order]
    if idle:
        raise ValueError(f"changes name claims that this run does not measure: {', '.join(idle)} (measured: "
                         f"{', '.join(order)})")
    configs = {name: configure(name, fast, {**(changes or {}).get(name, {}),
                                            **({} if seed is None else {"seed": seed})}) for name in order}
    runs = [_verdicts(order, names, {n: dataclasses.replace(c, seed=c.seed + STRIDE * r)
                                     for n, c in configs.items()}, announce if r == 0 else None)
            for r in range(replicates)]
    out = {}
    for name in sorted(names, key=list(REGISTRY).index):
        first = runs[0][name]
        if replicates > 1:
            each = {configs[name].seed + STRIDE * r: run[name].verdict for r, run in enumerate(runs)}
            agree = len(set(each.values())) == 1
            first = dataclasses.replace(
                first, replicates=each, verdict=first.verdict if agree else UNDECIDED,
                reason=first.reason if agree else
                f"the verdict differs between seeds ({_count(each)} of {replicates}); seed {configs[name].seed}: "
                f"{first.verdict}, {first.reason}")
        out[name] = first
    return out


def _count(verdicts: Mapping[int, str]) -> str:
    values = list(verdicts.values())
    return ", ".join(f"{v} {values.count(v)}" for v in VERDICTS if v in values)


def _verdicts(order: list[str], names: tuple[str, ...], configs: Mapping[str, Any],
              announce: Callable[[str], None] | None) -> dict[str, Verdict]:
    """Each claim of ``order`` measured (or read from the cache) on its config, dependencies first."""
    done: dict[str, Verdict] = {}
    for name in order:
        claim = REGISTRY[name]
        if name not in names and announce is not None:
            wanted_by = [n for n in REGISTRY if name in REGISTRY[n].depends and n in (*names, *done)]
            announce(f"claim {name} is computed first (or read from the cache): {', '.join(wanted_by)} "
                     f"depends on its verdict")
        needs = {dep: done[dep] for dep in claim.depends}
        config = configs[name]
        verdict = Verdict.from_dict(cache.cached(
            "claim", _key(name, configs),
            lambda claim=claim, needs=needs, config=config: _measured(claim, config, needs), code=_code(name)))
        done[name] = dataclasses.replace(verdict, config=cache.plain(config))
    return done


def _measured(claim: Claim, config: Any, needs: dict[str, Verdict]) -> dict[str, object]:
    """``claim.measure(config, needs)`` as plain data, after checking that it is a ``Verdict`` with a known verdict."""
    verdict = claim.measure(config, needs)
    if not isinstance(verdict, Verdict):
        raise TypeError(f"claim {claim.name}: measure must return a Verdict(verdict, reason, numbers), got "
                        f"{type(verdict).__name__}")
    if verdict.verdict not in VERDICTS or not isinstance(verdict.reason, str):
        raise ValueError(f"claim {claim.name}: its Verdict must say one of {list(VERDICTS)} with a reason (text), got "
                         f"{verdict.verdict!r} and a {type(verdict.reason).__name__}")
    return verdict.as_dict()


def table(verdicts: dict[str, Verdict]) -> str:
    several = any(v.replicates for v in verdicts.values())
    return format_table(["claim", "reference", "verdict", *(["seeds agreeing"] if several else []), "why"],
                        [[n, REGISTRY[n].reference, v.verdict, *([v.agreement] if several else []), v.reason]
                         for n, v in verdicts.items()])


def as_json(verdicts: dict[str, Verdict]) -> dict[str, object]:
    return {n: {"reference": REGISTRY[n].reference, "statement": REGISTRY[n].statement,
                "depends": list(REGISTRY[n].depends), **v.as_dict(), "config": v.config} for n, v in verdicts.items()}


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


def counterexamples(verdicts: dict[str, Verdict]) -> dict[str, ClassConditionalGMM]:
    """Every counterexample mixture the ``verdicts`` found (records with a ``name`` and a ``mixture`` under
    ``numbers["counterexamples"]``), by name."""
    return {e["name"]: ClassConditionalGMM.from_dict(e["mixture"], source=e["name"])
            for v in verdicts.values() for e in v.numbers.get("counterexamples", [])}


def cfg_samples(gmm: ClassConditionalGMM, c: int, w: float, n: int, steps: int, seed: int) -> Tensor:
    """Exact-score CFG samples of class ``c``: Heun probability-flow ODE from ``x_T ~ p_80(.|c)`` to sigma = 0.002."""
    start = gmm.sample(n, c=c, sigma=80.0, generator=seed)
    return samplers.heun_ode(methods.field("cfg", gmm, c, w=w), start, edm_sigmas(steps, 0.002, 80.0))
