"""Plug-ins: a user's methods, claims, experiments and commands in their own Python file or installed module.

A plug-in is a module that registers what it defines when imported: ``methods.register(Method(...))`` for a
guidance rule or a training objective (with its ``loss``), ``claims.register(Claim(...))`` for a claim,
``experiment.register(Experiment(...))`` for an experiment (its command and results-page sections), and
``cli.register(Command(...))`` for a command of its own. It is loaded from

    a file        ``load("my_rules.py")``, or ``--plugin my_rules.py`` on every command
    a module      ``load("my_package.rules")`` (importable from ``sys.path``)
    an install    every entry point of group ``mclr_sandbox.plugins`` (``load_installed``; the command line loads
                  them on start), e.g. in the plug-in package's pyproject.toml:
                  ``[project.entry-points."mclr_sandbox.plugins"] my-rules = "my_package.rules"``

after which its names are in the registries like the package's own, for the API, the command line, JSON reports
and figure labels. Loading is all or nothing: a plug-in that fails to import, exits (``sys.exit``), registers
nothing, or registers a name already taken raises one ``ValueError`` naming the file, and whatever it had registered
before the failure is removed again; so does a path that is a folder or not a ``.py`` file.
A loaded plug-in's source is part of the code fingerprint of every result that names what it registered
(``provenance``), so editing it recomputes those results. Loading the same file or module twice does nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from . import provenance

GROUP = "mclr_sandbox.plugins"
REGISTRIES: list[dict] = []          # every registry a plug-in may add to (each registers itself: ``track``)
LOADED: dict[str, str] = {}          # module name -> where it came from (a file path or a module name)


def track(registry: dict) -> dict:
    """Make ``registry`` one that a failed plug-in load rolls back. -> ``registry``."""
    REGISTRIES.append(registry)
    return registry


def add(registry: dict, name: str, item: object, kind: type, what: str) -> object:
    """Put ``item``, a ``kind``, under a new ``name`` in ``registry`` (a registry's ``register``; ``what`` names
    the kind of thing in the error). -> ``item``."""
    if not isinstance(item, kind):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        raise TypeError(f"register takes {article} {kind.__name__}, got {type(item).__name__}")
    if name in registry:
        raise ValueError(f"{what} {name!r} is registered already")
    registry[name] = item
    return item


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or Path(spec).exists()


def load(spec: str | Path) -> ModuleType:
    """Import the plug-in ``spec`` (a ``.py`` file or a module name) once; see the module docstring."""
    if not isinstance(spec, (str, Path)) or not str(spec).strip():
        raise TypeError(f"plugin must be a path to a .py file or a module name, got {spec!r}")
    text = str(spec).strip()
    if isinstance(spec, Path) or _is_file(text):
        path = Path(text).expanduser().resolve()
        if path.is_dir():
            raise ValueError(f"plug-in {text} is a folder; expected a .py file or a module name")
        if not path.is_file():
            raise ValueError(f"plug-in {text}: no such file")
        if path.suffix != ".py":
            raise ValueError(f"plug-in {text} is not a .py file (a plug-in is Python source, or a module name)")
        name = f"mclr_sandbox_plugin_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
        where = str(path)
    else:
        if not all(part.isidentifier() for part in text.split(".")):
            raise ValueError(f"plug-in {text!r} is neither a .py file nor a module name (dotted Python names)")
        name, where = text, text
    if name in LOADED:
        return sys.modules[name]
    snapshots = [(registry, dict(registry)) for registry in REGISTRIES]
    provenance.PLUGINS.add(name)
    try:
        if where == name:
            module = importlib.import_module(name)
        else:
            module_spec = importlib.util.spec_from_file_location(name, where)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            provenance.fingerprint([name])        # its source as loaded: what this process runs
            module_spec.loader.exec_module(module)
    except BaseException as err:
        for registry, before in snapshots:
            registry.clear()
            registry.update(before)
        sys.modules.pop(name, None)
        provenance.PLUGINS.discard(name)
        if isinstance(err, SystemExit):     # exiting on import would end the command as if it had succeeded
            raise ValueError(f"plug-in {where} exited while loading (SystemExit {err.code!r}); a plug-in only "
                             f"registers what it defines") from None
        if not isinstance(err, Exception):
            raise
        if isinstance(err, ModuleNotFoundError) and err.name and (name == err.name or name.startswith(err.name + ".")):
            raise ValueError(f"plug-in {where}: no module named {name!r} (a .py file needs its path)") from None
        raise ValueError(f"plug-in {where} failed to load: {type(err).__name__}: {err}") from err
    if all(len(registry) == len(before) for registry, before in snapshots):
        sys.modules.pop(name, None)
        provenance.PLUGINS.discard(name)
        raise ValueError(f"plug-in {where} registered nothing: a plug-in calls methods.register, claims.register, "
                         f"experiment.register or cli.register (see sandbox.core.plugins)")
    LOADED[name] = where
    return module


def load_installed() -> list[ModuleType]:
    """Load every plug-in that an installed package declares in the entry-point group ``mclr_sandbox.plugins``."""
    return [load(ep.module) for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)]


def loaded() -> list[dict[str, str]]:
    """The loaded plug-ins, in load order, with their source's fingerprint: what a JSON report records."""
    return [{"plugin": where, "code": provenance.fingerprint([name])} for name, where in LOADED.items()]
