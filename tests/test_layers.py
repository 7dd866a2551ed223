"""The package's folders are its layers and data flows one way: no module imports from a layer above its own."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import sandbox

PACKAGE = Path(sandbox.__file__).parent
RANK = {"core": 0, "methods": 1, "learn": 2, "experiments": 3, "viz": 4}
TOP = len(RANK)          # cli, __main__ and __init__ sit above every layer
MODULES = sorted(PACKAGE.rglob("*.py"))


def _layer(parts: tuple[str, ...]) -> int:
    return RANK[parts[0]] if parts and parts[0] in RANK else TOP


def _imports(source: str, here: tuple[str, ...]) -> list[tuple[str, int]]:
    """``(what, layer rank)`` of each relative import in ``source``, a module of the package ``here`` (e.g.
    ``("experiments",)``; ``()`` for the top level)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = (*here[: len(here) - (node.level - 1)], *(node.module.split(".") if node.module else ()))
            if target:
                out.append((".".join(target), _layer(target)))
            else:        # `from .. import name`: a layer's package, or anything else of the top package
                out += [(a.name, RANK.get(a.name, TOP)) for a in node.names]
        # a module named for loading on first use (experiment.lazy("sandbox.experiments.metrics")) is an import too
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "lazy"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            target = tuple(node.args[0].value.split(".")[1:])
            out.append((".".join(target), _layer(target)))
    return out


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_layer_above_its_own(path):
    here = path.relative_to(PACKAGE).parts[:-1]
    above = [what for what, rank in _imports(path.read_text(), here) if rank > _layer(here)]
    assert not above, f"{path.relative_to(PACKAGE)} imports from a layer above its own: {above}"


def test_the_check_sees_an_upward_import():
    # power: the same rule reports a core module that imports an experiment, directly or through the package
    assert ("experiments.claims", 3) in _imports("from ..experiments.claims import Claim\n", ("core",))
    assert ("viz", 4) in _imports("from .. import viz\n", ("core",))
    assert _imports("from .mixtures import ClassConditionalGMM\n", ("core",)) == [("core.mixtures", 0)]
    assert ("viz.report", 4) in _imports('report = lazy("sandbox.viz.report")\n', ("experiments",))


def test_the_version_is_read_from_core_not_from_the_package_above():
    # the package's face is above every layer: `from .. import __version__` in core was an arrow running up
    assert ("__version__", TOP) in _imports("from .. import __version__\n", ("core",))
    assert sandbox.__version__ is importlib.import_module("sandbox.core.version").__version__


def test_every_module_of_a_layer_has_a_short_name_and_no_two_share_one():
    # the rule: every module or package directly in a layer's folder; a second module of the same name in another
    # layer would hide the first
    found = [(p.stem, layer) for layer in RANK for p in sorted((PACKAGE / layer).iterdir())
             if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").is_file())]
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert {name: layer for name, layer in found} == {k: v for k, v in sandbox.MODULES.items() if v is not None}


def test_every_short_name_reaches_its_module():
    for name, layer in sandbox.MODULES.items():
        module = getattr(sandbox, name)
        assert module is importlib.import_module(f"sandbox.{name}" if layer is None else f"sandbox.{layer}.{name}")
    with pytest.raises(AttributeError, match="no attribute 'no_such_module'"):
        sandbox.no_such_module   # noqa: B018


def test_code_outside_the_package_imports_modules_by_their_short_name():
    # one address per module: `from sandbox import separation`, never `from sandbox.experiments import separation`
    # (names inside a module keep their full path: `from sandbox.methods.tilted import TiltedTarget`)
    root = PACKAGE.parent
    files = [*root.glob("tests/*.py"), *root.glob("notebooks/*.py"), *root.glob("examples/*.py"),
             *root.glob("benchmarks/*.py")]
    layered = re.compile(r"^\s*from sandbox\.(?:core|methods|learn|experiments|viz) import ([\w, ]+)$", re.M)
    assert layered.findall("from sandbox.experiments import separation, metrics\n") == ["separation, metrics"]
    found = [(path.name, name) for path in files for names in layered.findall(path.read_text())
             for name in (n.strip().split()[0] for n in names.split(",")) if name in sandbox.MODULES]
    assert not found, found
