"""The package's experiments, one module each; importing them registers them: the modules of ``ORDER`` first, in
the results page's order, then any other module of this folder (a new experiment is one new module)."""

import importlib
import pkgutil

ORDER = ("verify", "separation", "atlas", "frames", "nets", "curves", "gradients", "recipe", "fitted", "claims",
         "compare")
MODULES = (*ORDER, *sorted({m.name for m in pkgutil.iter_modules(__path__)} - set(ORDER)))
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["MODULES", "ORDER"]
