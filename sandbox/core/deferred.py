"""Modules named now and executed on first use.

A catalog module names the code its experiment runs without importing it, so that building the command line stays
light (the experiments import scipy, sympy and the figures' data); the measures name ``metrics`` the same way. It
lives in ``core`` so that what uses it does not import the experiments' records, which would tie their code to the
fingerprint of every result (``provenance``).
"""

from __future__ import annotations

import importlib.util
import sys
import types


def lazy(name: str) -> types.ModuleType:
    """Module ``name`` (absolute), executed on its first attribute access (``importlib.util.LazyLoader``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
    return module
