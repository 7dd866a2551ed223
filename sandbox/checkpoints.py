"""Checkpoints: one file per model with its weights, architecture, training config, seed and package version.

Written atomically (``files.atomic_open``) and read with ``torch.load(weights_only=True)``, which unpickles
only tensors and plain containers. A file that is not a checkpoint, is truncated or corrupted, or whose weights do
not fit its own architecture raises ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import torch

from . import cache
from .files import atomic_open
from .models import Denoiser, ModelConfig, NoisyClassifier
from .training import TrainConfig, TrainResult

FORMAT = "mclr-sandbox-checkpoint"
VERSION = 1
KINDS = {"denoiser": Denoiser, "classifier": NoisyClassifier}


def save(path: str | Path, result: TrainResult) -> Path:
    """Write ``result`` (model, config, loss history) to ``path`` atomically; returns the path."""
    from . import __version__

    kind = next((name for name, cls in KINDS.items() if isinstance(result.model, cls)), None)
    if kind is None:
        raise TypeError(f"result.model must be a Denoiser or NoisyClassifier, got {type(result.model).__name__}")
    payload = {
        "format": FORMAT, "version": VERSION, "package_version": __version__, "kind": kind,
        "model_config": result.model.config.as_dict(), "train_config": asdict(result.config),
        "seed": result.config.seed, "seconds": result.seconds,
        "history": torch.tensor(result.history, dtype=torch.float64),
        "dtype": str(next(result.model.parameters()).dtype).removeprefix("torch."),
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
    }
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)
    return Path(path)


def load(path: str | Path, device: torch.device | str = "cpu") -> TrainResult:
    """Read a checkpoint written by ``save``; the model comes back in eval mode on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load fails on damaged files with many exception types (even IndexError)
        raise ValueError(f"checkpoint {path} is corrupted, truncated or not a checkpoint: {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} is not an {FORMAT} file")
    if payload.get("version") != VERSION:
        raise ValueError(f"checkpoint {path} has format version {payload.get('version')!r}; this package reads "
                         f"version {VERSION}")
    missing = {"kind", "model_config", "train_config", "history", "dtype", "state_dict", "seconds"} - set(payload)
    if missing or payload["kind"] not in KINDS:
        raise ValueError(f"checkpoint {path} is incomplete (missing {sorted(missing)}) or of unknown kind "
                         f"{payload.get('kind')!r}")
    try:
        model_config = ModelConfig(**payload["model_config"])
        known = {f.name for f in fields(TrainConfig)}
        train_config = TrainConfig(**{k: v for k, v in payload["train_config"].items() if k in known})
        dtype = getattr(torch, payload["dtype"])
        model = KINDS[payload["kind"]](model_config, dtype=dtype)
        model.load_state_dict(payload["state_dict"], strict=True)
    except (TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise ValueError(f"checkpoint {path} does not match its own architecture or config: {err}") from None
    history = payload["history"].tolist()
    return TrainResult(model.to(device).eval(), train_config, history, float(payload["seconds"]))


def cached_training(key: dict[str, object], compute: Callable[[], TrainResult]) -> TrainResult:
    """``compute()`` (a training run), or the checkpoint stored for the same ``key`` in the on-disk cache
    (``sandbox.cache``); an unreadable entry is retrained and overwritten."""
    path = cache.path_for("net", key)
    if path is not None and path.is_file():
        try:
            return load(path)
        except ValueError:
            pass
    result = compute()
    if path is not None:
        save(path, result)
    return result
