"""Checkpoints: one file per model with its weights, architecture, training config (the mixture included, so a
checkpoint is self-contained), seed and package version.

Written atomically (``files.atomic_open``) and read with ``torch.load(weights_only=True)``, which unpickles
only tensors and plain containers. A checkpoint carries the fingerprints of what it holds (its mixture, its
settings: kind, architecture and training config, and its weights); loading recomputes them, so a file edited
after it was written (a mixture's means moved, the objective renamed, a weight changed) is refused rather than
evaluated against what it no longer is. A file that is not a checkpoint, is truncated or corrupted, or whose
contents do not fit together (unknown kind, malformed fields, non-finite weights, weights that do not fit the
stored architecture, fingerprints that disagree) raises ``ValueError`` naming the file and the problem. Cached
nets (``cached_training``) are checkpoints stored through ``sandbox.cache``, under their full key.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import torch

from ..core import cache
from ..core.files import atomic_open
from . import averaging, training
from .models import Denoiser, ModelConfig, NoisyClassifier
from .training import TrainConfig, TrainResult

FORMAT = "mclr-sandbox-checkpoint"
VERSION = 3            # 3: with fingerprints
KINDS = {"denoiser": Denoiser, "classifier": NoisyClassifier}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def payload(result: TrainResult) -> dict[str, object]:
    """``result`` as plain data (what ``save`` writes and the cache stores)."""
    from ..core.version import __version__

    kind = next((name for name, cls in KINDS.items() if isinstance(result.model, cls)), None)
    if kind is None:
        raise TypeError(f"result.model must be a Denoiser or NoisyClassifier, got {type(result.model).__name__}")
    data = {
        "format": FORMAT, "version": VERSION, "package_version": __version__, "kind": kind,
        "model_config": result.model.config.as_dict(), "train_config": result.config.as_dict(),
        "seed": result.config.seed, "seconds": float(result.seconds),
        "history": torch.tensor(result.history, dtype=torch.float64),
        "dtype": str(next(result.model.parameters()).dtype).removeprefix("torch."),
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
    }
    if result.average != "ema":
        data["average"] = result.average
    if result.snapshots is not None:
        snap = result.snapshots
        data["snapshots"] = {"gammas": torch.tensor(snap.gammas, dtype=torch.float64),
                             "steps": torch.tensor(snap.steps, dtype=torch.long), "total": int(snap.total),
                             "states": [[dict(state) for state in states] for states in snap.states],
                             "last": dict(snap.last)}
    data["fingerprints"] = fingerprints(data)
    return data


def _snapshot_tensors(data: dict[str, object]) -> dict[str, torch.Tensor]:
    """Every tensor of a payload's post-hoc snapshots, by a path name (none without snapshots)."""
    snap = data.get("snapshots")
    if snap is None:
        return {}
    out = {f"snapshots/{k}/{i}/{name}": t for k, states in enumerate(snap["states"]) for i, state in enumerate(states)
           for name, t in state.items()}
    return out | {f"snapshots/last/{name}": t for name, t in snap["last"].items()} | {
        "snapshots/gammas": snap["gammas"], "snapshots/steps": snap["steps"]}


def fingerprints(data: dict[str, object]) -> dict[str, str]:
    """What a checkpoint's contents hash to: ``mixture`` (the mixture's own fingerprint, from its stored
    parameters), ``settings`` (kind, dtype, architecture and training config) and ``weights`` (every tensor's
    bytes, by name). 16 hex digits each."""
    def digest(obj: object) -> str:
        return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]

    weights = hashlib.sha256()
    tensors = data["state_dict"] | _snapshot_tensors(data)     # no snapshots: the digest of the weights alone
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        weights.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}:".encode())
        weights.update(tensor.numpy().tobytes())
    return {"mixture": TrainConfig.from_dict(data["train_config"]).mixture.fingerprint,
            "settings": digest({k: data[k] for k in ("kind", "dtype", "model_config", "train_config", "average")
                                if k in data}),
            "weights": weights.hexdigest()[:16]}


def from_payload(data: object, source: str = "checkpoint", device: torch.device | str = "cpu") -> TrainResult:
    """The ``TrainResult`` stored in ``data`` (``payload``'s layout), every field checked; ``source`` names it."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{source} is not an {FORMAT} file")
    if data.get("version") != VERSION:
        raise ValueError(f"{source} has format version {data.get('version')!r}; this package reads version {VERSION} "
                         f"(a checkpoint of an older mclr-sandbox: train it again)")
    expected = {"kind": str, "model_config": dict, "train_config": dict, "history": torch.Tensor, "dtype": str,
                "state_dict": dict, "seconds": float, "fingerprints": dict}
    bad = [k for k, t in expected.items() if not isinstance(data.get(k), t)]
    if bad:
        raise ValueError(f"{source} has missing or malformed fields {bad}")
    if data["kind"] not in KINDS or data["dtype"] not in DTYPES:
        raise ValueError(f"{source} has unknown kind {data['kind']!r} or dtype {data['dtype']!r}")
    history = data["history"]
    if history.ndim != 1 or not history.is_floating_point() or not math.isfinite(data["seconds"]):
        raise ValueError(f"{source} has a malformed loss history or run time")
    state = data["state_dict"]
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{source} has a state_dict with entries that are not tensors")
    if not all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()):
        raise ValueError(f"{source} holds non-finite (NaN or Inf) weights")
    try:
        model_config = ModelConfig(**data["model_config"])
        train_config = TrainConfig.from_dict(data["train_config"])
        model = KINDS[data["kind"]](model_config, dtype=DTYPES[data["dtype"]])
        model.load_state_dict(state, strict=True)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{source} does not match its own architecture or config: {err}") from None
    stored, computed = data["fingerprints"], fingerprints(data)
    edited = [what for what in computed if stored.get(what) != computed[what]]
    if edited:
        changes = ", ".join(f"{w} ({stored.get(w)} stored, {computed[w]} now)" for w in edited)
        raise ValueError(f"{source} was changed after it was written: the fingerprints stored with it disagree with "
                         f"its contents in {changes}")
    if model_config.dim != train_config.mixture.dim or model_config.num_classes != train_config.mixture.num_classes:
        raise ValueError(f"{source}: the model's shape does not fit its stored mixture")
    average = data.get("average", "ema")
    if not isinstance(average, str) or not (average in ("ema", "last") or average.startswith("power ")):
        raise ValueError(f"{source} has an unknown average {average!r}")
    return TrainResult(model.to(device).eval(), train_config, history.tolist(), data["seconds"],
                       _snapshots(data, model, source), average)


def _snapshots(data: dict[str, object], model: torch.nn.Module, source: str) -> averaging.Snapshots | None:
    """The post-hoc snapshots stored in ``data``, checked against ``model``'s parameters (None if it has none)."""
    snap = data.get("snapshots")
    if snap is None:
        return None
    shapes = {name: p.shape for name, p in model.named_parameters()}
    try:
        gammas, steps, states = snap["gammas"], snap["steps"], snap["states"]
        ok = (gammas.ndim == 1 and steps.ndim == 1 and len(states) == len(gammas)
              and all(len(s) == len(steps) for s in states) and isinstance(snap["total"], int)
              and all({n: t.shape for n, t in state.items()} == shapes
                      and all(bool(torch.isfinite(t).all()) for t in state.values())
                      for state in [*(x for s in states for x in s), snap["last"]]))
    except (KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise ValueError(f"{source} has malformed post-hoc snapshots (they must be finite copies of the model's "
                         f"parameters, one per profile and step)")
    return averaging.Snapshots(tuple(gammas.tolist()), tuple(steps.tolist()), snap["total"],
                               [list(s) for s in states], dict(snap["last"]))


def save(path: str | Path, result: TrainResult) -> Path:
    """Write ``result`` (model, config, loss history) to ``path`` atomically; returns the path."""
    data = payload(result)
    with atomic_open(path, "wb") as fh:
        torch.save(data, fh)
    return Path(path)


def load(path: str | Path, device: torch.device | str = "cpu", kind: str | None = None) -> TrainResult:
    """Read a checkpoint written by ``save``; the model comes back in eval mode on ``device``.

    ``kind`` (``"denoiser"`` or ``"classifier"``) requires that kind of model."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"checkpoint {path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load fails on damaged files with many exception types (even IndexError)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"checkpoint {path} is corrupted, truncated or not a checkpoint: {first}") from None
    result = from_payload(data, f"checkpoint {path}", device)
    if kind is not None and not isinstance(result.model, KINDS[kind]):
        raise ValueError(f"checkpoint {path} holds a {type(result.model).__name__}, not a {KINDS[kind].__name__}")
    return result


def net_key(train: TrainConfig, init: TrainConfig | None = None,
            classifier: TrainConfig | None = None) -> dict[str, object]:
    """The cache key of a net (``cached_training``): its training config; a fine-tune's also the config of the DSM
    net it starts from (``init``) and of the noisy classifier it uses (None: the exact posterior). Every experiment
    builds its keys here, so the same net trained by two of them is one cache entry."""
    return {"train": train} if init is None else {"train": train, "init": init, "classifier": classifier}


def cached_training(key: object, compute: Callable[[], TrainResult]) -> TrainResult:
    """``compute()`` (a training run), or the net cached under ``key`` (its full configuration: see
    ``sandbox.cache``); a damaged or mismatched entry is retrained and overwritten. Its code is the training loop's
    (with the objective named in ``key``), not the caller's: editing a metric keeps the nets."""
    return cache.cached("net", key, compute, encode=payload, decode=lambda data: from_payload(data, "cached net"),
                        code=(training,))
