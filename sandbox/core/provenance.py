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

Sources are read once per file state (path, size, modification time): a file edited during a session is re-read.
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
_SOURCES: dict[tuple[str, int, int], tuple[str, tuple[str, ...]]] = {}   # file state -> (hash, imported names)


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


def _canonical(module: str) -> str:
    """A short name (``from sandbox import metrics``: ``sandbox.metrics``) as its module in one of the layers."""
    if module.count(".") == 1 and module.startswith(PACKAGE + ".") and not (ROOT / f"{module[len(PACKAGE) + 1:]}.py"
                                                                            ).exists():
        found = sorted(ROOT.glob(f"*/{module.split('.')[1]}.py"))
        if len(found) == 1:
            return f"{PACKAGE}.{found[0].parent.name}.{found[0].stem}"
    return module


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imports(tree: ast.AST, module: str, package: bool) -> tuple[str, ...]:
    """Every module name ``tree`` may import (top level or inside functions), relative imports resolved; for
    ``from a import b``, both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    here = module if package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return tuple(sorted(out))


def _source(module: str, path: Path) -> tuple[str, tuple[str, ...]]:
    stat = path.stat()
    state = (str(path), stat.st_size, stat.st_mtime_ns)
    if state not in _SOURCES:
        text = path.read_bytes()
        _SOURCES[state] = (hashlib.sha256(text).hexdigest(), _imports(ast.parse(text), module, _is_package(path)))
    return _SOURCES[state]


def closure(modules: Iterable[str]) -> dict[str, str]:
    """``{module: source hash}`` over the followed modules that ``modules`` import, transitively (parents of a
    submodule included: importing it runs them)."""
    todo, seen = list(modules), {}
    while todo:
        module = _canonical(todo.pop())
        if module in seen or not _followed(module):
            continue
        path = _file_of(module)
        if path is None:        # an attribute imported by name (``from x import y``), or not a source file
            continue
        digest, imported = _source(module, path)
        seen[module] = digest
        parent = module.rpartition(".")[0]
        todo.extend([*imported, *([parent] if parent else [])])
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
    modules = [PACKAGE + "." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in sorted(ROOT.rglob("*.py"))]
    return fingerprint([*modules, *sorted(PLUGINS)])
