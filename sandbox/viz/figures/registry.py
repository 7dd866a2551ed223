"""The figures registry (``figure`` registers a function under its name, in order) and the builder behind
``mclr-sandbox figures``: ``build`` writes each as vector PDF and PNG, atomically and deterministically (no
timestamps), with what it draws as numbers (``NAME.json``, ``drawn``); ``check`` regenerates them and compares each
with the committed one: its numbers within their tolerance (``drawn.differences``), and its pixels within an RMS
(a change of style or colour the numbers do not carry)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ...core.files import atomic_open
from ...core.validation import as_number
from ..plotting import plt
from . import drawn

FigureFn = Callable[[bool], "plt.Figure"]
PNG_DPI = 200           # sharp on high-density screens; the PDFs are vector graphics


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure; ``reproducible`` says how it compares across machines (a key of ``REPRODUCIBILITY``);
    ``needs``: the optional package it draws (an extra's), without which a run of every figure skips it."""

    name: str
    fn: FigureFn
    summary: str
    reproducible: str
    needs: str = ""

    def missing(self) -> str | None:
        """Why it cannot be drawn here (its package is not installed), or None."""
        import importlib.util

        if self.needs and importlib.util.find_spec(self.needs) is None:
            return f"{self.name} needs {self.needs}: pip install 'mclr-sandbox[{self.needs}]'"
        return None


EXACT, NEAR, TRAINED = "byte-identical", "within tolerance", "within tolerance (training noise)"
# float32 training follows a different path on a CPU with other vector widths: a few percent in a final error, about
# 1e-2 of a log axis spanning two decades. Not measurable on one machine (1 and 2 torch threads train identical nets
# here), so the tolerance is three times that estimate
TRAINED_TOLERANCE = 0.03
REPRODUCIBILITY = {
    EXACT: "byte-identical on any machine: what it draws is quantised or rounded to printed precision",
    NEAR: "byte-identical on one machine; on another within the RMS tolerance (float64 last-bit differences move "
          "curves and contours by a fraction of a pixel)",
    TRAINED: "byte-identical on one machine; on another within the RMS tolerance, its numbers with intervals "
             "(networks trained in float32: the training noise differs between CPUs)",
}
# how far what a figure draws may move across machines (of the axes, colour scale or axis span: ``drawn``)
DRAWN_TOLERANCE = {EXACT: drawn.TOLERANCE, NEAR: drawn.TOLERANCE, TRAINED: TRAINED_TOLERANCE}
FIGURES: dict[str, FigureSpec] = {}
CHECK_TOLERANCE = 6.0   # RMS over 0-255 RGB levels (matplotlib.testing.compare) for figures --check


def figure(name: str, summary: str, reproducible: str = NEAR, needs: str = "") -> Callable[[FigureFn], FigureFn]:
    """Register a figure function under ``name`` (``needs``: ``FigureSpec.needs``)."""
    def register(fn: FigureFn) -> FigureFn:
        FIGURES[name] = FigureSpec(name, fn, summary, reproducible, needs)
        return fn
    return register


def save_figure(fig: plt.Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name.pdf``, ``name.png`` and what it draws, ``name.json``, atomically, without timestamps (same
    input, same bytes)."""
    written = []
    for ext, meta in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "mclr-sandbox"}),
                      ("png", {"Software": "mclr-sandbox"})):
        target = out_dir / f"{name}.{ext}"
        with atomic_open(target, "wb") as fh:
            fig.savefig(fh, format=ext, metadata=meta, dpi=PNG_DPI)
        written.append(target)
    target = out_dir / f"{name}.json"
    with atomic_open(target, "w") as fh:
        fh.write(drawn.dumps(drawn.drawn(fig)))
    return [*written, target]


def check(names: Iterable[str] | None = None, reference: str | Path = "figures", tol: float = CHECK_TOLERANCE,
          progress: bool = True) -> list[tuple[str, float, bool, str]]:
    """Regenerate figures into a temporary folder and compare each with the one in ``reference``: what it draws
    (``NAME.json``) within the figure's ``DRAWN_TOLERANCE``, and its PNG within RMS ``tol`` by matplotlib's image
    comparison: ``(name, RMS, passed, note)`` per figure (RMS inf: missing or resized; the note names the first
    number that differs, else how the figure reproduces across machines)."""
    import tempfile

    from matplotlib.testing.compare import calculate_rms, compare_images
    from PIL import Image

    tol = as_number(tol, "tol", minimum=0.0)
    reference = Path(reference)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in build(names, tmp, progress=progress):
            if path.suffix != ".png":
                continue
            name, committed = path.stem, reference / path.name
            numbers = reference / f"{name}.json"
            missing = [p for p in (committed, numbers) if not p.is_file()]
            if missing:
                out.append((name, float("inf"), False, f"no {missing[0]} to compare with"))
                continue
            try:
                moved = drawn.differences(json.loads(numbers.read_text()),
                                          json.loads(path.with_suffix(".json").read_text()),
                                          DRAWN_TOLERANCE[FIGURES[name].reproducible])
            except (ValueError, KeyError, TypeError, IndexError) as err:     # not what ``figures`` writes
                out.append((name, float("inf"), False, f"{numbers} is not a record of a drawn figure "
                                                       f"({type(err).__name__}: {err})"))
                continue
            old, new = (np.asarray(Image.open(p).convert("RGB")).astype(np.int16) for p in (committed, path))
            if old.shape != new.shape:
                out.append((name, float("inf"), False, f"size {new.shape[1]}x{new.shape[0]} px, committed "
                                                     f"{old.shape[1]}x{old.shape[0]}"))
                continue
            rms = float(calculate_rms(old, new))
            passed = compare_images(str(committed), str(path), tol) is None and not moved
            note = f"{moved[0]}" + (f" (and {len(moved) - 1} more)" if len(moved) > 1 else "") if moved \
                else FIGURES[name].reproducible
            out.append((name, rms, passed, note))
    return out


def build(names: Iterable[str] | None = None, out_dir: str | Path = "figures", fast: bool = False,
          progress: bool = True) -> list[Path]:
    """Build the named figures (all when ``names`` is None, less those whose package is missing: a note on stderr
    each) into ``out_dir``; return the files written. A named figure whose package is missing is an error."""
    chosen = list(FIGURES) if names is None else list(names)
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        raise ValueError(f"names must be figure names from {sorted(FIGURES)}, got unknown {unknown}")
    for name in [n for n in chosen if FIGURES[n].missing()]:
        if names is not None:
            raise ValueError(FIGURES[name].missing())
        tqdm.write(f"skipped {FIGURES[name].missing()}", file=sys.stderr)
        chosen.remove(name)
    out = Path(out_dir)
    written: list[Path] = []
    bar = tqdm(chosen, desc="figures", unit="fig", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        fig = FIGURES[name].fn(fast)
        try:
            written += save_figure(fig, out, name)
        finally:
            plt.close(fig)
    return written
