"""One matplotlib style for every figure: colour-blind-safe class colours, docs/theory.md notation, paper sizes.

Import this module before pyplot: it selects the non-interactive Agg backend unless a backend was
already chosen (so notebooks keep their inline backend).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import matplotlib

if "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

from ..core.mixtures import ClassConditionalGMM

SINGLE_COLUMN = 3.35  # inches: one column of a two-column paper
DOUBLE_COLUMN = 6.9   # inches: full text width

# Okabe & Ito (2008) palette: distinguishable under the common colour-vision deficiencies.
CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442"]
NEUTRAL = "#444444"

STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "legend.frameon": False,
    "mathtext.fontset": "cm",
    "savefig.dpi": 200,
    "figure.dpi": 100,
    "pdf.fonttype": 42,
    "svg.hashsalt": "mclr-sandbox",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The project's rcParams, applied inside the block.

    A notebook's backend may switch interactive mode on during the block (on the first figure); ``rc_context``
    would switch it back off on exit, and later figures would never show, so the mode set inside is kept."""
    with matplotlib.rc_context(STYLE):
        yield
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def class_color(c: int) -> str:
    return CLASS_COLORS[c % len(CLASS_COLORS)]


def series_color(i: int, n: int) -> str:
    """The ``i``-th of ``n`` series' colour: the class palette while it lasts (``n <= 7``), else matplotlib's
    ``tab20`` (ten hues, dark then light), so that no two of up to 20 series share a colour."""
    if n <= len(CLASS_COLORS):
        return class_color(i)
    tab = plt.get_cmap("tab20").colors
    return matplotlib.colors.to_hex(tab[(2 * i) % 20 + (i // 10) % 2])


LABEL_OFFSETS = ((3, 3), (3, -9), (-3, 3), (-3, -9), (7, -3), (-7, -3), (0, 8), (0, -13), (10, 8), (-10, -13))


def place_labels(ax: Axes, anchors: list[tuple[float, float]], texts: list[str], colors: list[str] | None = None,
                 fontsize: float = 5.0) -> None:
    """Annotate each anchor ``(x, y)`` (data coordinates) with its text at the first of ``LABEL_OFFSETS`` (points)
    where the label stays inside the axes and overlaps no label placed before it, else where it overlaps least:
    labels that do not pile up or run past the axes. Lays the figure out first (positions are final)."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list = []
    for (x, y), text, color in zip(anchors, texts, colors or ["black"] * len(texts)):
        best, best_cost = None, np.inf
        for dx, dy in LABEL_OFFSETS:
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                                color=color, ha="left" if dx >= 0 else "right")
            box = label.get_window_extent(renderer)
            outside = max(frame.x0 - box.x0, 0) + max(box.x1 - frame.x1, 0) + max(frame.y0 - box.y0, 0) \
                + max(box.y1 - frame.y1, 0)
            cost = outside + sum(max(min(box.x1, b.x1) - max(box.x0, b.x0), 0) * max(min(box.y1, b.y1) -
                                 max(box.y0, b.y0), 0) for b in placed)
            if cost < best_cost:
                if best is not None:
                    best[0].remove()
                best, best_cost = (label, box), cost
            else:
                label.remove()
            if cost == 0:
                break
        placed.append(best[1])


def grid_2d(extent: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Mesh over ``extent = (x0, x1, y0, y1)``: ``X, Y: (n, n)`` and the points ``(n*n, 2)`` in float64."""
    xs = np.linspace(extent[0], extent[1], n)
    ys = np.linspace(extent[2], extent[3], n)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=torch.float64)
    return gx, gy, pts


def plot_density_1d(ax: Axes, gmm: ClassConditionalGMM, sigma: float = 0.0, lim: tuple[float, float] = (-3, 3),
                    n: int = 600, unconditional: bool = True) -> None:
    """Class densities ``pi_c p_sigma(x|c)`` (filled, class colours) and ``p_sigma(x)`` (dashed)."""
    x = torch.linspace(lim[0], lim[1], n, dtype=torch.float64)[:, None]
    per_class = (gmm.log_prob_per_class(x, sigma) + gmm.class_probs.log()).exp().numpy()
    xs = x[:, 0].numpy()
    for c in range(gmm.num_classes):
        ax.fill_between(xs, per_class[:, c], color=class_color(c), alpha=0.35, lw=0)
        ax.plot(xs, per_class[:, c], color=class_color(c), label=rf"$\pi_{c}\,p(x\mid c={c})$")
    if unconditional:
        ax.plot(xs, per_class.sum(1), color=NEUTRAL, ls="--", lw=0.9, label=r"$p(x)$")
    ax.set_xlim(*lim)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(r"$x$")


def plot_class_contours_2d(ax: Axes, gmm: ClassConditionalGMM, extent: tuple[float, float, float, float],
                           sigma: float = 0.0, n: int = 200, levels: int = 5) -> None:
    """Each class's density ``p_sigma(x|c)`` as filled contours in its colour (log-spaced levels)."""
    gx, gy, pts = grid_2d(extent, n)
    log_p = gmm.log_prob_per_class(pts, sigma).numpy()
    for c in range(gmm.num_classes):
        z = np.exp(log_p[:, c]).reshape(gx.shape)
        top = z.max()
        lv = top * np.logspace(-2.5, 0, levels + 1)
        ax.contourf(gx, gy, z, levels=lv, colors=[class_color(c)], alpha=0.18)
        ax.contour(gx, gy, z, levels=lv[:-1], colors=[class_color(c)], linewidths=0.5)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")


def scatter_classes(ax: Axes, x: torch.Tensor, c: torch.Tensor, size: float = 1.5, alpha: float = 0.5) -> None:
    """Points ``x: (N, 2)`` coloured by class ``c: (N,)``."""
    xs, cs = x.detach().cpu().numpy(), c.detach().cpu().numpy()
    for k in np.unique(cs):
        sel = cs == k
        ax.scatter(xs[sel, 0], xs[sel, 1], s=size, color=class_color(int(k)), alpha=alpha, lw=0, rasterized=True)


def new_figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kwargs: object):
    """A constrained-layout figure of the given size in inches (use SINGLE_COLUMN / DOUBLE_COLUMN widths)."""
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


OVERLAP_EXTENT = (-2.6, 2.6, -2.2, 2.6)     # overlap_2d's classes, with a margin
PANEL_EXTENT = (-3.0, 3.0, -2.4, 4.2)       # ... with room for guided paths


def class_outlines(ax: Axes, gmm: ClassConditionalGMM, sigma: float,
                    extent: tuple[float, float, float, float] = OVERLAP_EXTENT) -> None:
    """Thin density contours of each class, in its colour, as a map for overlays."""
    gx, gy, pts = grid_2d(extent, 120)
    log_p = gmm.log_prob_per_class(pts, sigma).numpy()
    for k in range(gmm.num_classes):
        z = np.exp(log_p[:, k]).reshape(gx.shape)
        ax.contour(gx, gy, z, levels=[0.1 * z.max()], colors=[class_color(k)], linewidths=0.8)

