"""Every figure of the project, one function each, and the builder behind ``mclr-sandbox figures``.

A figure function takes ``fast: bool`` (small sizes, same code path) and returns a matplotlib Figure.
``build`` writes each as vector PDF and PNG, atomically and deterministically (no timestamps).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import plotting as P
from . import zoo
from .plotting import plt

FigureFn = Callable[[bool], "plt.Figure"]


@dataclass(frozen=True)
class FigureSpec:
    name: str
    fn: FigureFn
    summary: str


FIGURES: dict[str, FigureSpec] = {}


def figure(name: str, summary: str) -> Callable[[FigureFn], FigureFn]:
    """Register a figure function under ``name``."""
    def register(fn: FigureFn) -> FigureFn:
        FIGURES[name] = FigureSpec(name, fn, summary)
        return fn
    return register


# ---------------------------------------------------------------------------- figures


@figure("zoo", "the three named example mixtures: class densities and exact samples")
def zoo_figure(fast: bool = False) -> plt.Figure:
    n = 600 if fast else 3000
    grid = 120 if fast else 220
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.3, ncols=3)
        gmm = zoo.teaching_1d()
        P.plot_density_1d(axes[0], gmm, lim=(-3.0, 3.5))
        axes[0].set_title(r"teaching_1d: $\pi_c\,p(x\mid c)$")
        axes[0].set_ylim(0, 0.52)
        axes[0].legend(loc="upper left", ncols=3, handlelength=1.2, columnspacing=0.8)
        for ax, name, extent in ((axes[1], "overlap_2d", (-2.6, 2.6, -2.2, 2.6)),
                                 (axes[2], "branching_2d", (-3.2, 3.2, -0.4, 4.4))):
            gmm = zoo.get(name)
            P.plot_class_contours_2d(ax, gmm, extent, n=grid)
            c = torch.arange(gmm.num_classes).repeat_interleave(n // gmm.num_classes)
            P.scatter_classes(ax, gmm.sample(c.numel(), c=c, generator=0), c, size=1.0, alpha=0.35)
            ax.set_title(name)
            ax.set_xlabel(r"$x_1$")
            ax.set_ylabel(r"$x_2$")
    return fig


# ---------------------------------------------------------------------------- builder


def save_figure(fig: plt.Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` atomically (temp file + rename), without timestamps."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, meta in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "mclr-sandbox"}),
                      ("png", {"Software": "mclr-sandbox"})):
        target = out_dir / f"{name}.{ext}"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".{ext}", dir=out_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fig.savefig(fh, format=ext, metadata=meta)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def build(names: Iterable[str] | None = None, out_dir: str | Path = "figures", fast: bool = False,
          progress: bool = True) -> list[Path]:
    """Build the named figures (all when ``names`` is None) into ``out_dir``; return the files written."""
    chosen = list(FIGURES) if names is None else list(names)
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        raise ValueError(f"names must be figure names from {sorted(FIGURES)}, got unknown {unknown}")
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
