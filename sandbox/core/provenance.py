"""Which code computed a result: a fingerprint of source files, so a cache entry is never served to other code.

A result is computed by some functions; their code is the source of the modules that define them and of every
module those import, transitively (read from the files, not from what happens to be imported). The fingerprint of
a set of roots is a hash over that closure, each module named with the hash of its source:

    fingerprint(roots) = sha256( sorted (module, sha256(source)) over closure(roots) )[:16]

The closure follows the package's own modules (``sandbox.*``, relative imports resolved) and loaded plug-ins
(``sandbox.core.plugins``), never third-party libraries (their version is not code a user edits here). Registries
add what is looked up by name at run time, which no import shows: a registry registers a ``resolver`` (a name ->
the callables behind it), and every string of a result's config that is a registered name adds those callables'
modules. So editing a metric recomputes the sweeps that import it but reuses trained nets, and editing one
plug-in's rule recomputes the results that name that rule only.

Sources are read once per process, the package's when it is imported (``snapshot``) and a plug-in's when it is
loaded: a fingerprint describes the code the process runs, even if a file is edited while it runs.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

PACKAGE = __name__.split(".")[0]
ROOT = Path(__file__).resolve().parents[1]      # the package's folder
PLUGINS: set[str] = set()           # module names of loaded plug-ins (filled by ``plugins.load``)
RESOLVERS: list[Callable[[str], Iterable[object]]] = []
_TEXT: dict[Path, bytes] = {}                  # file -> its source, read once per process
_SOURCES: dict[Path, tuple[str, tuple]] = {}   # file -> (source hash, imports), parsed on first use


def add_resolver(resolver: Callable[[str], Iterable[object]]) -> None:
    """Register ``resolver(name) -> objects`` (empty for a name it does not know): what a registered name runs."""
    RESOLVERS.append(resolver)


def _followed(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".") or module in PLUGINS


def _file_of(module: str) -> Path | None:
    loaded = sys.modules.get(module)
    path = getattr(loaded, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        path = None if spec is None else spec.origin
    return Path(path) if path and str(path).endswith(".py") else None


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports(tree: ast.AST, module: str, package: bool) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every import in ``tree`` (top level or inside functions) as ``(module, names)``, relative imports resolved:
    ``import a.b`` is ``("a.b", ())``, ``from a import b, c`` is ``("a", ("b", "c"))``."""
    here = module if package else module.rpartition(".")[0]
    out: set[tuple[str, tuple[str, ...]]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here if node.level else ""
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            base = ".".join(part for part in (base, node.module or "") if part)
            out.add((base, tuple(alias.name for alias in node.names)))
    return tuple(sorted(out))


def _source(module: str, path: Path) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    if path not in _SOURCES:
        text = _TEXT.setdefault(path, path.read_bytes())
        _SOURCES[path] = (hashlib.sha256(text).hexdigest(), _imports(ast.parse(text), module, _is_package(path)))
    return _SOURCES[path]


def _name_of(path: Path) -> str:
    return ".".join((PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")


def snapshot() -> None:
    """Read every source file of the package now (``import sandbox`` calls it): what the process runs. Only the
    bytes (a few milliseconds); they are parsed when a fingerprint first needs them."""
    for path in sorted(ROOT.rglob("*.py")):
        _TEXT.setdefault(path, path.read_bytes())


def _canonical(module: str) -> str:
    """A short name (``from sandbox import metrics``: ``sandbox.metrics``) as its module in one of the layers."""
    if module.count(".") == 1 and module.startswith(PACKAGE + ".") and _file_of(module) is None:
        short = module.split(".")[1]
        found = sorted([*ROOT.glob(f"*/{short}.py"), *ROOT.glob(f"*/{short}/__init__.py")])
        if len(found) == 1:
            path = found[0].parent if found[0].name == "__init__.py" else found[0].with_suffix("")
            return ".".join((PACKAGE, *path.relative_to(ROOT).parts))
    return module


def closure(modules: Iterable[str]) -> dict[str, str]:
    """``{module: source hash}`` over the followed modules that ``modules`` import, transitively.

    ``from a import b`` follows ``a.b`` where it is a module, else ``a`` (``b`` is defined there). The packages above
    a module run when it is imported: their source counts, but not what they import (a package that imports its
    submodules to register them would otherwise tie every submodule to every other)."""
    todo, seen, deep_done = [(m, True) for m in modules], {}, set()
    while todo:
        name, deep = todo.pop()
        module = _canonical(name)
        if not _followed(module) or (module in seen and (not deep or module in deep_done)):
            continue
        path = _file_of(module)
        if path is None:        # not a source file of ours
            continue
        digest, imported = _source(module, path)
        seen[module] = digest
        parent = module.rpartition(".")[0]
        if parent:
            todo.append((parent, False))
        if deep:
            deep_done.add(module)
            for base, names in imported:
                if not _followed(_canonical(base)):
                    continue
                subs = [f"{base}.{n}" for n in names if _file_of(_canonical(f"{base}.{n}")) is not None]
                todo.extend((m, True) for m in subs)
                if len(subs) < len(names) or not names:
                    todo.append((base, True))
    return seen


def module_of(obj: object) -> str:
    """The module that defines ``obj`` (a module, a class, a function or any object with ``__module__``)."""
    if isinstance(obj, ModuleType):
        return obj.__name__
    name = getattr(obj, "__module__", None)
    if not isinstance(name, str):
        raise TypeError(f"cannot tell which module defines {obj!r}")
    return name


def named(values: Iterable[object]) -> list[object]:
    """What the registered names among ``values`` (strings; other values are skipped) run, by every resolver."""
    return [obj for value in values if isinstance(value, str) for resolve in RESOLVERS for obj in resolve(value)]


def strings(data: object) -> Iterable[str]:
    """Every string inside plain data (dicts, lists, tuples; keys included)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            yield from strings(value)


def fingerprint(roots: Iterable[object], data: object = None) -> str:
    """The fingerprint of the code of ``roots`` (objects or module names) and of the registered names inside
    ``data`` (a config as plain data). -> 16 hex digits."""
    modules = {root if isinstance(root, str) else module_of(root) for root in roots}
    modules.update(module_of(obj) for obj in named(strings(data)))
    table = closure(sorted(modules))
    return hashlib.sha256(repr(sorted(table.items())).encode()).hexdigest()[:16]


def package_fingerprint() -> str:
    """The fingerprint of every module of the package and every loaded plug-in: what a report as a whole ran on."""
    return fingerprint([*(_name_of(p) for p in sorted(ROOT.rglob("*.py"))), *sorted(PLUGINS)])
