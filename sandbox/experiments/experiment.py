"""Experiments as records, registered once like methods and claims: one module of ``experiments/catalog`` each.

An ``Experiment`` is what the results page shows of it (its ``sections``, in registration order: the page's order)
and, when it has a ``run``, what its command does: its config for the full or ``--fast`` settings (``config(fast)``:
the one home of "fast"), its command-line ``options`` (each sets one field of the config), ``run(config, progress)``
through the sweeps' executor, and the ``header``, ``table``, summary ``lines`` and JSON of its result. The command
line builds one subcommand per experiment with a ``run``, with one handler (``sandbox/cli/commands/experiments.py``);
``report`` writes every section of every experiment. Nothing here computes: the experiments' modules do, cached by
their configs, and this module is in no result's code fingerprint.

    config = experiment.configure(name, fast, {"mixture": "teaching_1d"})    # config(fast), then the fields
    result = experiment.EXPERIMENTS[name].run(config, False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import plugins
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import Limit


def sized(config: Any, fast: bool) -> Any:
    """``config`` itself (the full setting) or, with ``fast``, its ``config.fast()``: every config with a fast setting
    declares it as that method, and this is the one switch between them."""
    return config.fast() if fast else config


TIME = "time: "     # a results-page line of wall times: not compared by ``report --check``
MIXTURE_HELP = "zoo name or mixture .json file (ClassConditionalGMM.save) (default: overlap_2d)"


@dataclass(frozen=True)
class Section:
    """A section of the results page: ``name`` (for ``report --only``), ``title``, a one-line ``summary`` (the
    command that reproduces it; a callable: text that reads what the experiment's code declares, when the page is
    written) and ``render(fast) -> Markdown``."""

    name: str
    title: str
    summary: str | Callable[[], str]
    render: Callable[[bool], str]

    def describe(self) -> str:
        """The summary line."""
        return self.summary() if callable(self.summary) else self.summary


@dataclass(frozen=True)
class Option:
    """A command-line flag of an experiment, setting one field of its config (``"train.mixture"``: a field of a
    nested config). ``limit``: a number checked by it (else text); ``many``: one or more values, a tuple;
    ``repeat``: a flag given any number of times, its items read by ``read``; ``choices``: the allowed values;
    ``switch``: a flag without a value (True when given); ``reads``: its values name files the command reads (so
    that no output may replace them). A ``default`` is shown and always applied; without one,
    the config's own value stands unless the flag is given. A ``view`` option changes only what is shown: its value
    goes to the experiment's ``table`` and ``lines`` as the keyword ``field``, not into the config."""

    flag: str
    field: str
    help: str | Callable[[], str]       # a callable: help that names what is registered when the parser is built
    limit: Limit | None = None
    many: bool = False
    repeat: bool = False
    choices: tuple[str, ...] | None = None
    switch: bool = False
    view: bool = False
    reads: bool = False
    required: bool = False
    default: object = None
    metavar: str | None = None
    read: Callable[[Any], Any] | None = None

    @property
    def dest(self) -> str:
        """Where the command line keeps its value: the field, dots as underscores."""
        return self.field.replace(".", "_")

    def value(self, given: Any) -> Any:
        """The field's value from what the command line parsed, or ``None`` to keep the config's own."""
        if given is None:
            return None
        if self.read is not None:
            return self.read(given)
        return tuple(given) if self.many else given


def _nothing(result: Any, **view: Any) -> list[str]:
    return []


def _success(result: Any) -> int:
    return 0


def _no_mixture(config: Any, result: Any) -> ClassConditionalGMM | None:
    return None


@dataclass(frozen=True)
class Experiment:
    """One experiment (module docstring). ``summary``/``description``/``examples``: its command's help;
    ``header(config, result)``: the line printed above its table (None: none); ``table(result, **view)`` and
    ``lines(result, **view)``: what it prints (``view``: its view options' values); ``after(result, **view)``:
    what it writes besides its report (files named by view options), as lines to print; ``status(result)``: its
    exit code; ``mixture(config, result)``: the mixture its JSON report names; ``fast``/``json``: what ``--fast``
    does and ``--json`` writes."""

    name: str
    sections: tuple[Section, ...] = ()
    summary: str = ""
    description: str = ""
    examples: str = ""
    config: Callable[[bool], Any] | None = None
    run: Callable[[Any, bool], Any] | None = None
    header: Callable[[Any, Any], str] | None = None
    table: Callable[..., str] | None = None
    lines: Callable[..., list[str]] = _nothing
    after: Callable[..., list[str]] = _nothing
    record: Callable[[Any, Any], Any] | None = None     # what its JSON report gives as its config (None: the config)
    status: Callable[[Any], int] = _success
    as_json: Callable[[Any], object] | None = None
    mixture: Callable[[Any, Any], ClassConditionalGMM | None] = _no_mixture
    options: tuple[Option, ...] = ()
    sweeps: bool = True               # its command takes --workers / --scheduler
    fast: str = "small sizes (same code path)"
    json: str = "also write every number (with intervals) as JSON"

    def __post_init__(self) -> None:
        parts = (self.run, self.table, self.as_json)
        if any(p is not None for p in parts) and (any(p is None for p in parts) or self.config is None):
            raise ValueError(f"experiment {self.name!r}: a command needs config, run, table and as_json together "
                             f"(or none of them, for an experiment that only writes page sections)")
        if not self.sections and self.run is None:
            raise ValueError(f"experiment {self.name!r} has neither page sections nor a run")


EXPERIMENTS: dict[str, Experiment] = plugins.track({})


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment``: its name and its sections' names must be new."""
    if isinstance(experiment, Experiment) and experiment.name not in EXPERIMENTS:
        taken = {s.name for e in EXPERIMENTS.values() for s in e.sections}
        clash = [s.name for s in experiment.sections if s.name in taken]
        if clash:
            raise ValueError(f"experiment {experiment.name!r}: page sections {clash} are registered already")
    return plugins.add(EXPERIMENTS, getattr(experiment, "name", None), experiment, Experiment, "experiment")


def config(name: str, fast: bool = False) -> Any:
    """The config of experiment ``name`` for the full or the ``--fast`` settings: what its section, its command and
    its figures run."""
    if name not in EXPERIMENTS or EXPERIMENTS[name].config is None:
        raise ValueError(f"experiments with a config are {[n for n, e in EXPERIMENTS.items() if e.config]}, got "
                         f"{name!r}")
    return EXPERIMENTS[name].config(fast)


def sections() -> dict[str, Section]:
    """Every registered section by name, in page order."""
    return {s.name: s for e in EXPERIMENTS.values() for s in e.sections}


def configure(name: str, fast: bool, values: Mapping[str, Any]) -> Any:
    """Experiment ``name``'s config (``fast`` or full) with ``values`` by field (dotted: a nested config's)."""
    out = config(name, fast)
    for path, value in values.items():
        out = _replace(out, path.split("."), value)
    return out


def from_text(text: str, like: object, what: str) -> object:
    """``text`` (a command line's ``--set`` value) read as the type of the current value ``like``: true or false, an
    int, a float, text, or comma-separated items for a tuple (``None``: a number, or text); anything else (a
    mixture, say) stays text, for its config to read. Errors name ``what``."""
    def one(item: str, like: object) -> object:
        try:
            if isinstance(like, bool):
                if item.strip().lower() not in ("true", "false"):
                    raise ValueError
                return item.strip().lower() == "true"
            return type(like)(item.strip()) if isinstance(like, (int, float, str)) else float(item)
        except ValueError:
            raise ValueError(f"{what} must be {type(like).__name__}, got {item!r}") from None

    if isinstance(like, tuple):
        return tuple(one(i, like[0] if like else 0.0) for i in text.split(",") if i.strip())
    if isinstance(like, (bool, int, float, str)):
        return one(text, like)
    if like is None:            # an optional setting: a number where it reads as one, else text
        try:
            return float(text)
        except ValueError:
            return text.strip()
    return text.strip()


def settings(name: str, fast: bool, items: list[str]) -> dict[str, Any]:
    """``--set FIELD=VALUE`` items (``train.steps=500``: a field of a nested config) as ``{field: value}`` for
    ``configure``, each value read as the type of the field's value in experiment ``name``'s config
    (``from_text``); a field it does not have is an error listing those it has."""
    base, out = config(name, fast), {}
    for item in items:
        path, eq, text = item.partition("=")
        path = path.strip()
        if not eq or not path:
            raise ValueError(f"--set takes FIELD=VALUE, e.g. n=500 or train.steps=400; got {item!r}")
        value = base
        for part in path.split("."):
            known = [f.name for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value) else []
            if part not in known:
                raise ValueError(f"--set {path}: the config of {name} has no field {part!r}"
                                 + (f" (its fields: {', '.join(known)})" if known else ""))
            value = getattr(value, part)
        out[path] = from_text(text, value, f"{name}.{path}")
    return out


def _replace(config: Any, path: list[str], value: Any) -> Any:
    head, *rest = path
    return dataclasses.replace(config, **{head: _replace(getattr(config, head), rest, value) if rest else value})


def assignments(items: list[str], flag: str = "--set", form: str = "CLAIM.SETTING=VALUE",
                example: str = "monotone-over-mixtures.count=1000") -> dict[str, dict[str, str]]:
    """``--set CLAIM.SETTING=VALUE`` items (or another ``flag`` of the same ``form``) as ``{claim: {setting:
    text}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        target, eq, value = item.partition("=")
        claim, dot, setting = target.strip().rpartition(".")
        if not eq or not dot or not claim or not setting:
            raise ValueError(f"{flag} takes {form}, e.g. {example}; got {item!r}")
        out.setdefault(claim, {})[setting] = value
    return out


def method_params(items: list[str]) -> tuple[tuple[str, str, float | str], ...]:
    """``--param METHOD.NAME=VALUE`` items as ``(method, name, value)``: a choice as text, anything else a number
    (checked by the sweep's config: the method's declared limit, and never its strength)."""
    from .. import methods

    out = []
    for method, params in assignments(items, "--param", "METHOD.NAME=VALUE", "cfg-zero-star.frame=score").items():
        declared = methods.get(method)
        for name, text in params.items():
            value: float | str = text.strip()
            if name not in declared.choices:
                try:
                    value = float(text)
                except ValueError:
                    raise ValueError(f"--param {method}.{name} must be a number, got {text!r}") from None
            out.append((method, name, value))
    return tuple(out)


PARAM = Option("--param", "method_params",
                "set a parameter of a method for its rows, e.g. cfg-zero-star.frame=score (its paper's frame is the "
                "default) or apg.eta=0.5; repeatable (exact rows)",
                repeat=True, metavar="METHOD.NAME=VALUE", read=method_params)
SAMPLER = Option("--sampler", "sampler",
                 "sample every rule by EDM's Heun (default) or each by its paper's frame's sampler: DDIM for VP rules, "
                 "flow-matching Euler for rectified-flow ones (exact rows)", choices=("heun", "paper"), default="heun")


def block(text: str) -> str:
    """``text`` as a fixed-width block of the page."""
    return f"```text\n{text}\n```"


def bullets(lines: list[str]) -> str:
    """``lines`` as a Markdown list."""
    return "\n".join(f"- {line}" for line in lines)
