"""Running claims: each measured once on its config, its dependencies first, cached by its code; under several
seeds, and the seeds' verdicts combined into one.

``run(names, fast, changes, seed, replicates)`` measures each claim on its config (``fast`` or full) with the
``changes`` to its settings (``configure``), each cached by its name, its config, the configs of what it depends on,
and the code of every measurement involved (``sandbox.cache``). This module is not in any measurement's code: how
seeds are combined can change without recomputing a verdict.

Replicates. With ``replicates`` R, a claim is measured under the seeds ``seed + STRIDE r`` (r < R), independent
draws. Each seed's verdict is wrong with probability at most ``alpha = 1 - LEVEL`` (its intervals' family-wise
level), so the number of seeds that wrongly say ``fails`` of a true claim (or ``holds`` of a false one) is at most
Binomial(R, alpha) in distribution; ``quorum(R)`` is the least k with P(Binomial(R, alpha) >= k) <= alpha (1 of 1,
2 of 2 or 3, 3 of 10). The combined verdict (``combine``) is the one that at least k seeds say while every other
seed is ``undecided``; when any seed says another verdict (``fails`` beside ``holds``, or ``holds`` beside ``holds
with a caveat``), or no verdict reaches k, it is ``undecided``.

So the combined verdict is wrong with probability at most ``alpha`` too (k seeds must be wrong), and it is the same
under every seed that decides. A seed's verdict on the wrong side of its threshold is only likely when the measured
quantity sits at the threshold (5% is the worst case, met there); far from it, a contradiction is vanishingly
rare. Seeds that contradict each other therefore say that the claim is at its threshold, and ``undecided`` is the
true answer there; the table shows the votes (``tally``), e.g. ``fails 9, holds 1``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from scipy import stats

from ...core import cache
from ...core.mixtures import ClassConditionalGMM
from ...core.tables import format_table
from ...core.validation import COUNT, check_config
from ..experiment import from_text
from . import registry
from .registry import LEVEL, UNDECIDED, VERDICTS, Claim, Verdict, data_field

STRIDE = 1000         # replicates' seeds step by this much: a claim's own offsets (seed + 1, ...) never overlap
REPLICATES = {False: 10, True: 2}     # seeds per claim of the published results (full, fast): the page and figure
# seeds per claim and mixture on real data on the page (full, fast): a 64-dimensional mixture costs minutes per seed;
# 3 seeds still decide at the family-wise 5% (quorum 2 of 3)
DATA_REPLICATES = {False: 3, True: 1}


def _order(wanted: tuple[str, ...]) -> list[str]:
    """``wanted`` with every dependency before its dependants (depth first); a cycle or an unknown name is an
    error."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"claims depend on each other in a cycle: {' -> '.join((*path, name))}")
        if name not in registry.REGISTRY:
            raise ValueError(f"claim {path[-1]!r} depends on {name!r}, which is not registered")
        for dep in registry.REGISTRY[name].depends:
            visit(dep, (*path, name))
        if name not in order:
            order.append(name)

    for name in wanted:
        visit(name, ())
    return order


def _key(name: str, configs: Mapping[str, Any]) -> dict[str, object]:
    """What a verdict depends on: its config and, recursively, its dependencies' keys."""
    return {"name": name, "config": configs[name], "needs": [_key(d, configs) for d in registry.REGISTRY[name].depends]}


def configure(name: str, fast: bool = False, changes: Mapping[str, object] | None = None) -> Any:
    """Claim ``name``'s config (``fast`` or full) with ``changes`` to its fields; a change given as text (the
    command line's ``--set``) is read as the field's type: a number, or comma-separated numbers for a tuple."""
    if name not in registry.REGISTRY:
        raise ValueError(f"claims must be drawn from {list(registry.REGISTRY)}, got {name!r}")
    config = registry.REGISTRY[name].config(fast)
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    typed = {}
    for key, value in (changes or {}).items():
        if key not in fields:
            raise ValueError(f"claim {name} has no setting {key!r}; its settings: {', '.join(fields)}")
        typed[key] = from_text(value, fields[key], f"{name}.{key}") if isinstance(value, str) else value
    return check_config(dataclasses.replace(config, **typed), name)


def _code(name: str) -> list[object]:
    claim = registry.REGISTRY[name]
    return [claim.measure, *(f for dep in claim.depends for f in _code(dep))]


def run(names: tuple[str, ...] | None = None, fast: bool = False,
        announce: Callable[[str], None] | None = None,
        changes: Mapping[str, Mapping[str, object]] | None = None, seed: int | None = None,
        replicates: int = 1) -> dict[str, Verdict]:
    """The verdict of every claim in ``names`` (default: all), in registration order, each measured on its config
    (``fast`` or full) with its ``changes`` (``configure``) and, when given, ``seed`` in place of its own. Each claim
    is computed once, after the claims it depends on; a dependency that was not asked for is ``announce``d (one
    line) before it runs or is read from the cache. With ``replicates`` R > 1 every claim is measured under its seed
    and R - 1 more, ``seed + STRIDE r`` (its dependencies under the same seeds); the verdict is theirs combined
    (``combine``), its reason and numbers a seed's that says it, and ``Verdict.replicates`` holds each seed's."""
    names = tuple(registry.REGISTRY) if names is None else tuple(names)
    unknown = [n for n in (*names, *(changes or {})) if n not in registry.REGISTRY]
    if unknown:
        raise ValueError(f"claims must be drawn from {list(registry.REGISTRY)}, got {unknown}")
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
    for name in sorted(names, key=list(registry.REGISTRY).index):
        first = runs[0][name]
        if replicates > 1:
            each = {configs[name].seed + STRIDE * r: run[name].verdict for r, run in enumerate(runs)}
            verdict = combine(list(each.values()))
            # the reason and numbers of the first seed that says the combined verdict (the first seed if none does)
            chosen = next((run[name] for run in runs if run[name].verdict == verdict), first)
            seed = next(s for s, r in zip(each, runs) if r[name] is chosen)
            voted = dataclasses.replace(chosen, replicates=each, verdict=verdict)
            # the votes are in ``replicates`` (the tables' seeds column); an undecided split says why in its reason
            split = "" if chosen.verdict == verdict else \
                f"the seeds do not settle it ({tally(voted)}: a verdict needs {quorum(replicates)} of {replicates} " \
                f"and no seed saying another); "
            first = dataclasses.replace(voted, reason=f"{split}seed {seed}: {chosen.verdict}, {chosen.reason}")
        out[name] = first
    return out


def on_data(names: tuple[str, ...] | None, data: tuple[str, ...], fast: bool = False,
            announce: Callable[[str], None] | None = None, seed: int | None = None,
            replicates: int = 1) -> dict[str, dict[str, Verdict]]:
    """The claims of ``names`` (default: all) that are about the data's geometry (``registry.data_field``), each
    measured on every mixture of ``data`` in place of its own (that field set to the one mixture, everything else as
    ``run``): ``{claim: {mixture: verdict}}``."""
    names = tuple(registry.REGISTRY) if names is None else tuple(names)
    fields = {name: data_field(registry.REGISTRY[name]) for name in names}
    return {name: {m: run((name,), fast, announce, {name: {field: (m,)}}, seed, replicates)[name] for m in data}
            for name, field in fields.items() if field is not None}


def data_table(found: dict[str, dict[str, Verdict]]) -> str:
    """``on_data``'s verdicts, one row per claim and mixture."""
    several = any(v.replicates for per in found.values() for v in per.values())
    return format_table(["claim", "on", "verdict", *(["seeds"] if several else []), "why"],
                        [[n, m, v.verdict, *([tally(v)] if several else []), v.reason]
                         for n, per in found.items() for m, v in per.items()])


def _verdicts(order: list[str], names: tuple[str, ...], configs: Mapping[str, Any],
              announce: Callable[[str], None] | None) -> dict[str, Verdict]:
    """Each claim of ``order`` measured (or read from the cache) on its config, dependencies first."""
    done: dict[str, Verdict] = {}
    for name in order:
        claim = registry.REGISTRY[name]
        if name not in names and announce is not None:
            wanted_by = [n for n in registry.REGISTRY if name in registry.REGISTRY[n].depends and n in (*names, *done)]
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
    return format_table(["claim", "reference", "verdict", *(["seeds"] if several else []), "why"],
                        [[n, registry.REGISTRY[n].reference, v.verdict, *([tally(v)] if several else []), v.reason]
                         for n, v in verdicts.items()])


def as_json(verdicts: dict[str, Verdict], data: dict[str, dict[str, Verdict]] | None = None) -> dict[str, object]:
    """Every verdict with its claim's reference, statement and config; a claim measured on other data (``on_data``)
    has those verdicts under ``on_data``, by mixture."""
    claims = registry.REGISTRY
    return {n: {"reference": claims[n].reference, "statement": claims[n].statement,
                "depends": list(claims[n].depends), **v.as_dict(), "config": v.config,
                **({"on_data": {m: {**d.as_dict(), "config": d.config} for m, d in data[n].items()}}
                   if data and n in data else {})} for n, v in verdicts.items()}




def counterexamples(verdicts: dict[str, Verdict]) -> dict[str, ClassConditionalGMM]:
    """Every counterexample mixture the ``verdicts`` found (records with a ``name`` and a ``mixture`` under
    ``numbers["counterexamples"]``), by name."""
    return {e["name"]: ClassConditionalGMM.from_dict(e["mixture"], source=e["name"])
            for v in verdicts.values() for e in v.numbers.get("counterexamples", [])}


def quorum(replicates: int, level: float = LEVEL) -> int:
    """The least k with P(Binomial(replicates, 1 - level) >= k) <= 1 - level: how many of ``replicates``
    independent seeds must agree before their verdict stands (module docstring)."""
    alpha = 1.0 - level
    # 1e-12: P(Binomial(1, alpha) >= 1) is alpha itself, up to rounding
    return next(k for k in range(1, replicates + 1) if stats.binom.sf(k - 1, replicates, alpha) <= alpha + 1e-12)


def combine(verdicts: list[str], level: float = LEVEL) -> str:
    """One verdict from independent seeds' ``verdicts`` (module docstring): the one that at least ``quorum`` seeds
    say while the others are ``undecided``; else ``undecided``."""
    decided = {v for v in verdicts if v != UNDECIDED}
    if len(decided) == 1:
        (verdict,) = decided
        if verdicts.count(verdict) >= quorum(len(verdicts), level):
            return verdict
    return UNDECIDED


def tally(verdict: Verdict) -> str:
    """How the seeds of ``verdict`` voted, e.g. ``"holds 9, undecided 1"`` (its own verdict for a single seed)."""
    values = list((verdict.replicates or {0: verdict.verdict}).values())
    return ", ".join(f"{v} {values.count(v)}" for v in VERDICTS if v in values)
