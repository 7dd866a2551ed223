"""The on-disk cache of results (trained nets, sweeps, traces), keyed by their whole configuration.

An entry's key is the canonical JSON of ``{name, config, package version, code}`` (``key_of``): configs are frozen
dataclasses, and a mixture inside one is written as its content fingerprint, so two different mixtures never
share an entry, whatever they are called; ``code`` is the fingerprint of the source that computes the entry
(``provenance.fingerprint``: the modules of the compute function and of every registered method or claim the
config names, with everything they import), so an edited method, metric, claim or plug-in never gets a result
computed by other code, while entries whose code did not change are reused. The file name is a hash of the key,
and the entry stores the key itself beside the value: on every read the stored key is compared with the expected
one, and an entry whose key differs (a file swapped or copied over another), that cannot be read, or that fails
``decode`` is recomputed with a one-line ``CacheWarning``, never trusted.

Entries live outside the repository: ``$MCLR_SANDBOX_CACHE`` if set, else ``$XDG_CACHE_HOME/mclr-sandbox``,
else ``~/.cache/mclr-sandbox``; ``MCLR_SANDBOX_CACHE=off`` (or ``0``, ``false``, ``none``, any case) disables it.
Values are plain containers of tensors, numbers and strings, written atomically with ``torch.save`` and read with
``torch.load(weights_only=True)`` (no code runs on load). A cache that cannot be written gives a warning and the
run goes on uncached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

from .files import atomic_open
from .mixtures import ClassConditionalGMM
from .provenance import fingerprint
from .version import __version__

T = TypeVar("T")
OFF = ("off", "0", "false", "none")


STORABLE: dict[str, type] = {}      # dataclasses that ``pack`` stores field by field, by name


class CacheWarning(UserWarning):
    """A cache entry was not used (damaged, or stored under another key) or could not be written."""


def directory() -> Path | None:
    """The cache folder, or None when the cache is off."""
    env = os.environ.get("MCLR_SANDBOX_CACHE")
    if env is not None and env.strip().lower() in OFF:
        return None
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mclr-sandbox"


def plain(obj: object) -> Any:
    """``obj`` as JSON-ready data: dataclasses field by field, a mixture as ``{"fingerprint": ...}``."""
    if isinstance(obj, ClassConditionalGMM):
        return {"fingerprint": obj.fingerprint}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def storable(cls: type[T]) -> type[T]:
    """Class decorator: instances of the dataclass ``cls`` can be stored in entries (``pack``) and read back as
    instances of ``cls`` (``unpack``); its fields must be storable themselves."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"storable takes a dataclass, got {cls!r}")
    STORABLE[cls.__qualname__] = cls
    return cls


def pack(value: object) -> Any:
    """``value`` as what ``torch.load(weights_only=True)`` reads: tensors, numbers, strings, None, lists and dicts
    (tuples become lists), a ``storable`` dataclass as a dict of its fields tagged with its class name."""
    if type(value).__qualname__ in STORABLE and dataclasses.is_dataclass(value):
        return {"__storable__": type(value).__qualname__,
                **{f.name: pack(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {k: pack(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [pack(v) for v in value]
    return value


def unpack(data: Any) -> Any:
    """Inverse of ``pack`` (tuples come back as lists); an unknown class tag raises ``ValueError``."""
    if isinstance(data, dict):
        if "__storable__" in data:
            fields = {k: unpack(v) for k, v in data.items() if k != "__storable__"}
            if data["__storable__"] not in STORABLE:
                raise ValueError(f"stored class {data['__storable__']!r} is not storable here")
            return STORABLE[data["__storable__"]](**fields)
        return {k: unpack(v) for k, v in data.items()}
    if isinstance(data, list):
        return [unpack(v) for v in data]
    return data


def key_of(name: str, config: object, code: Sequence[object] = ()) -> str:
    """The canonical key of entry ``name`` for ``config`` (any mix of dataclasses, mixtures and plain data), computed
    by the code of ``code`` (objects or module names; ``provenance.fingerprint``)."""
    data = plain(config)
    return json.dumps({"name": name, "config": data, "version": __version__, "code": fingerprint(code, data)},
                      sort_keys=True)


def path_for(name: str, config: object, code: Sequence[object] = (), suffix: str = ".pt") -> Path | None:
    """Where the entry ``name`` with ``config`` computed by ``code`` lives (None when the cache is off)."""
    return _path(name, key_of(name, config, code), suffix)


def _path(name: str, key: str, suffix: str = ".pt") -> Path | None:
    root = directory()
    return None if root is None else root / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}{suffix}"


def cached(name: str, config: object, compute: Callable[[], T], encode: Callable[[T], Any] | None = None,
           decode: Callable[[Any], T] | None = None, code: Sequence[object] | None = None) -> T:
    """``compute()``, or its stored result for the same ``name``, ``config`` and code (module docstring).

    ``code``: what computes the entry (default: the module defining ``compute``); the registered names in
    ``config`` add their own code. ``encode``/``decode`` map the value to and from what is stored (default: stored as
    is); ``decode`` raises ``ValueError`` for a stored value it cannot trust, which is then recomputed.
    """
    code = (compute,) if code is None else code
    key = key_of(name, config, code)          # the fingerprint walks the code's imports: compute it once
    path = _path(name, key)
    if path is not None and path.is_file():
        try:
            entry = torch.load(path, weights_only=True)
        except Exception:  # torch.load fails on damaged files with many exception types
            entry = None
        if not isinstance(entry, dict) or entry.get("key") != key:
            why = "cannot be read" if entry is None else "was stored under another key"
            warnings.warn(f"cache entry {path} {why}; recomputing", CacheWarning, stacklevel=2)
        else:
            try:
                return entry["value"] if decode is None else decode(entry["value"])
            except Exception as err:  # any damage to a stored value means: recompute it, never trust it
                warnings.warn(f"cache entry {path} is damaged ({err}); recomputing", CacheWarning, stacklevel=2)
    value = compute()
    if path is not None:
        try:
            with atomic_open(path, "wb") as fh:
                torch.save({"key": key, "value": value if encode is None else encode(value)}, fh)
        except OSError as err:
            warnings.warn(f"cache folder {path.parent} cannot be written ({err.strerror or err}); going on uncached",
                          CacheWarning, stacklevel=2)
    return value


class Experiment(Protocol):
    """A frozen config (every field that changes the result, mixtures included) with the run that computes it."""

    def compute(self, progress: bool) -> Any: ...


def run(config: Experiment, progress: bool = False) -> Any:
    """``config.compute(progress)``, cached under the config's class name, its whole content and its code (the
    module defining the config's class); stored as ``pack`` writes it (``storable`` results such as estimates
    included; tuples come back as lists)."""
    return cached(type(config).__name__, config, lambda: config.compute(progress), encode=pack, decode=unpack,
                  code=(type(config),))
