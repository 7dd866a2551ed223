"""On-disk cache of intermediate results (trained nets, sweeps, traces), keyed by a hash of their configuration.

The key is the SHA-256 of the canonical JSON of ``{name, config, package version}``, so a re-run only recomputes
what changed. Entries live outside the repository: ``$MCLR_SANDBOX_CACHE`` if set, else
``$XDG_CACHE_HOME/mclr-sandbox``, else ``~/.cache/mclr-sandbox``. Values are plain containers of tensors, numbers
and strings, written atomically with ``torch.save`` and read with ``torch.load(weights_only=True)``; an entry that
cannot be read is recomputed and overwritten, never trusted. ``MCLR_SANDBOX_CACHE=off`` disables the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from . import __version__
from .files import atomic_open

T = TypeVar("T")


def directory() -> Path | None:
    """The cache folder, or None when ``MCLR_SANDBOX_CACHE=off``."""
    env = os.environ.get("MCLR_SANDBOX_CACHE")
    if env == "off":
        return None
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mclr-sandbox"


def path_for(name: str, config: dict[str, object], suffix: str = ".pt") -> Path | None:
    """Where the entry ``name`` with ``config`` lives (None when the cache is off)."""
    root = directory()
    if root is None:
        return None
    blob = json.dumps({"name": name, "config": config, "version": __version__}, sort_keys=True, default=str)
    return root / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}{suffix}"


def cached(name: str, config: dict[str, object], compute: Callable[[], T]) -> T:
    """``compute()``, or its stored result for the same ``name`` and ``config``."""
    path = path_for(name, config)
    if path is not None and path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:  # a damaged entry (any unpickling error) is recomputed below
            pass
    value = compute()
    if path is not None:
        with atomic_open(path, "wb") as fh:
            torch.save(value, fh)
    return value
