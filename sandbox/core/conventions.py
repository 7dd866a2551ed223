"""Guidance scales, converted in one place (docs/theory.md, section 11).

Every scale below names the same guided score ``s_u + gamma (s_c - s_u)`` with ``gamma = 1 + w``:

    w      this project: s_c + w (s_c - s_u), w >= 0, 0 = unguided
    s      the "guidance scale" of many codebases: s_u + s (s_c - s_u), s >= 1, 1 = unguided      w = s - 1
    beta   GFT's temperature in (0, 1]: s_u + (s_c - s_u) / beta, 1 = unguided                    w = 1/beta - 1
    w_mg   model guidance's scale in [0, 1): fixed point s_u + (s_c - s_u) / (1 - w_mg)            w = w_mg / (1 - w_mg)

A field in another frame (denoiser, noise, v or flow prediction) is converted by ``frames``.
"""

from __future__ import annotations

from .validation import as_number

SCALES = ("w", "s", "beta", "w_mg")


def to_w(value: float, scale: str) -> float:
    """The guidance scale ``value`` written in ``scale`` (``SCALES``), as this project's ``w``."""
    if scale == "w":
        return as_number(value, "w", minimum=0.0)
    if scale == "s":
        return as_number(value, "s", minimum=1.0) - 1.0
    if scale == "beta":
        return 1.0 / as_number(value, "beta", minimum=0.0, maximum=1.0, strict=True) - 1.0
    if scale == "w_mg":
        w_mg = as_number(value, "w_mg", minimum=0.0)
        if w_mg >= 1.0:
            raise ValueError(f"w_mg must be < 1: model guidance has no fixed point for w_mg >= 1, got {w_mg}")
        return w_mg / (1.0 - w_mg)
    raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


def from_w(w: float, scale: str) -> float:
    """This project's ``w >= 0`` written in ``scale`` (inverse of ``to_w``)."""
    w = as_number(w, "w", minimum=0.0)
    if scale == "w":
        return w
    if scale == "s":
        return 1.0 + w
    if scale == "beta":
        return 1.0 / (1.0 + w)
    if scale == "w_mg":
        return w / (1.0 + w)
    raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


def convert(value: float, source: str, target: str) -> float:
    """A guidance scale written in ``source`` written in ``target``, e.g. ``convert(0.5, "beta", "s") == 2``."""
    return from_w(to_w(value, source), target)
