"""What a figure draws, as numbers: so that ``figures --check`` compares a figure as ``report --check`` compares the
results page, numbers against a tolerance that belongs to them, on any machine.

``drawn(fig)`` reads every axes of a finished figure: its scales and limits, its title, labels, legend and texts,
and each visible artist's coordinates in the axes' own frame (0 to 1 across the view, after the axis scale: log axes
in log units), with colour-mapped values as fractions of their colour scale. More than ``KEEP`` points are kept as
their count, mean and quantiles per coordinate (a cloud of samples moves in those when it moves at all).

``differences(committed, fresh, tolerance)`` compares two such records:

    positions, colours  within ``tolerance`` of the axes or the colour scale (``TOLERANCE`` = 1e-3: under a pixel
                        of a panel, far above last-bit float differences between CPUs)
    limits              within ``tolerance`` of the axis span (log axes in log units), so that a result scaled as a
                        whole, which autoscaled limits would hide in the fractions, still differs
    text                the same words, printed numbers within one unit of their last digit (``printed``)
"""

from __future__ import annotations

import json
import math

import numpy as np
from matplotlib.collections import Collection
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import printed
from ..plotting import plt

TOLERANCE = 1e-3        # of the axes (positions), the colour scale (values) and the axis span (limits)
KEEP = 64               # point lists up to this long are kept whole; longer ones as count, mean and quantiles
QUANTILES = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def _points(xy: np.ndarray) -> dict:
    """``xy: (N, k)`` as kept: every point (rounded to 1e-6) or a summary; non-finite points counted apart."""
    xy = np.asarray(xy, dtype=np.float64).reshape(len(xy), -1)
    finite = np.isfinite(xy).all(axis=1)
    kept = {"n": len(xy), "nonfinite": int((~finite).sum())}
    xy = xy[finite]
    if len(xy) <= KEEP:
        return {**kept, "all": np.round(xy, 6).tolist()}
    return {**kept, "mean": np.round(xy.mean(axis=0), 6).tolist(),
            "quantiles": np.round(np.quantile(xy, QUANTILES, axis=0), 6).tolist()}


def _fractions(norm, values) -> dict:
    """Colour-mapped ``values`` as kept fractions of their colour scale (masked values as not finite)."""
    scaled = np.ma.asarray(norm(np.ma.masked_invalid(np.asarray(values, dtype=np.float64))))
    return _points(scaled.astype(np.float64).filled(np.nan).reshape(-1, 1))


def _to_axes(artist: plt.Artist, ax: plt.Axes):
    """The transform from ``artist``'s coordinates to ``ax``'s fraction of the view."""
    return artist.get_transform() - ax.transAxes


def _collection(c, ax: plt.Axes) -> dict:
    out = {}
    offsets = np.asarray(c.get_offsets())
    if len(offsets) > 1 or (len(offsets) == 1 and np.any(offsets != 0)):      # markers placed at data points
        out["points"] = _points((c.get_offset_transform() - ax.transAxes).transform(offsets))
    else:                                                                        # shapes drawn in data coordinates
        paths = [p.vertices for p in c.get_paths() if len(p.vertices)]
        if paths:
            out["points"] = _points(_to_axes(c, ax).transform(np.concatenate(paths)))
    values = c.get_array()
    if values is not None and c.norm is not None and np.size(values):
        out["values"] = _fractions(c.norm, values)
    return out


def _artist(a, ax: plt.Axes) -> dict | None:
    kind = type(a).__name__
    if isinstance(a, Line2D):
        body = {"points": _points(_to_axes(a, ax).transform(a.get_xydata()))}
    elif isinstance(a, Collection):
        body = _collection(a, ax)
    elif isinstance(a, Patch):
        body = {"points": _points(_to_axes(a, ax).transform(a.get_path().vertices))}
    elif isinstance(a, AxesImage):
        body = {"values": _fractions(a.norm, a.get_array())}
    else:
        return None
    label = a.get_label()
    return {"kind": kind, "label": "" if label.startswith("_") else label, **body}


def _texts(titles: list[str], texts) -> list[str]:
    """The non-empty ``titles`` and the visible non-empty ``texts`` (Text artists), in order."""
    return [t for t in (*titles, *(t.get_text() for t in texts if t.get_visible())) if t.strip()]


def drawn(fig: plt.Figure) -> dict:
    """Everything ``fig`` draws, as numbers and text (module docstring)."""
    fig.draw_without_rendering()        # limits, aspect and layout as a saved figure has them (autoscaling is lazy)
    axes = []
    for ax in fig.axes:
        legend = ax.get_legend()
        artists = []
        for a in (*ax.lines, *ax.collections, *ax.patches, *ax.images):
            if a.get_visible():
                record = _artist(a, ax)
                if record is not None:
                    artists.append(record)
        axes.append({"visible": ax.axison, "xscale": ax.get_xscale(), "yscale": ax.get_yscale(),
                     "xlim": list(map(float, ax.get_xlim())), "ylim": list(map(float, ax.get_ylim())),
                     "texts": _texts([ax.get_title(loc) for loc in ("center", "left", "right")],
                                     (ax.xaxis.label, ax.yaxis.label, *ax.texts,
                                      *(legend.get_texts() if legend is not None else ()))),
                     "artists": artists})
    return {"texts": _texts([fig.get_suptitle()], fig.texts), "axes": axes}


def dumps(record: dict) -> str:
    """``record`` as JSON text with one line per axes and per artist (reviewable in a diff, compact on disk)."""
    axes = []
    for ax in record["axes"]:
        head = json.dumps({k: v for k, v in ax.items() if k != "artists"}, ensure_ascii=False)
        artists = ",\n".join("   " + json.dumps(a, ensure_ascii=False) for a in ax["artists"])
        axes.append(f'  {head[:-1]}, "artists": [\n{artists}]}}')
    return (f'{{"texts": {json.dumps(record["texts"], ensure_ascii=False)},\n "axes": [\n' + ",\n".join(axes)
            + "]}\n")


def _span(lim: list[float], scale: str) -> tuple[list[float], float]:
    values = [math.log10(v) if scale == "log" and v > 0 else v for v in lim]
    return values, abs(values[1] - values[0])


def _far(a: dict, b: dict, tolerance: float, unit: str) -> str | None:
    """How ``a`` and ``b`` (kept points) differ beyond ``tolerance``, or None."""
    if (a["n"], a["nonfinite"]) != (b["n"], b["nonfinite"]) or ("all" in a) != ("all" in b):
        return f"{b['n']} points ({b['nonfinite']} not finite) drawn, {a['n']} ({a['nonfinite']}) committed"
    pairs = [("all", "points")] if "all" in a else [("mean", "mean"), ("quantiles", "quantiles")]
    for key, what in pairs:
        x, y = np.asarray(a[key], dtype=np.float64), np.asarray(b[key], dtype=np.float64)
        if x.shape != y.shape:
            return f"{what}: shape {y.shape} drawn, {x.shape} committed"
        gap = float(np.max(np.abs(x - y), initial=0.0))
        if gap > tolerance:
            return f"{what} move by {gap:.3g} of the {unit} (tolerance {tolerance:g})"
    return None


def differences(committed: dict, fresh: dict, tolerance: float = TOLERANCE) -> list[str]:
    """Where ``fresh`` draws something other than ``committed`` (module docstring): one line each; empty when
    they agree."""
    out = []

    def texts(a: list[str], b: list[str], where: str) -> None:
        if len(a) != len(b) or not all(printed.same_line(x, y) for x, y in zip(a, b)):
            out.append(f"{where}: text {b} drawn, {a} committed")

    texts(committed["texts"], fresh["texts"], "figure")
    if len(committed["axes"]) != len(fresh["axes"]):
        return [*out, f"{len(fresh['axes'])} axes drawn, {len(committed['axes'])} committed"]
    for i, (a, b) in enumerate(zip(committed["axes"], fresh["axes"]), 1):
        where = f"axes {i}" + (f" ({b['texts'][0]!r})" if b["texts"] else "")
        texts(a["texts"], b["texts"], where)
        for axis in ("x", "y"):
            if a[f"{axis}scale"] != b[f"{axis}scale"]:
                out.append(f"{where}: {axis} scale {b[f'{axis}scale']} drawn, {a[f'{axis}scale']} committed")
                continue
            old, _ = _span(a[f"{axis}lim"], a[f"{axis}scale"])
            new, span = _span(b[f"{axis}lim"], b[f"{axis}scale"])
            if max(abs(p - q) for p, q in zip(old, new)) > tolerance * max(span, 1e-300):
                out.append(f"{where}: {axis} limits {b[f'{axis}lim']} drawn, {a[f'{axis}lim']} committed")
        kinds_a = [(r["kind"], r["label"]) for r in a["artists"]]
        kinds_b = [(r["kind"], r["label"]) for r in b["artists"]]
        if kinds_a != kinds_b:
            out.append(f"{where}: artists {kinds_b} drawn, {kinds_a} committed")
            continue
        for j, (ra, rb) in enumerate(zip(a["artists"], b["artists"]), 1):
            for key in ("points", "values"):
                if (key in ra) != (key in rb):
                    out.append(f"{where}, artist {j} ({rb['kind']} {rb['label']!r}): {key} only on one side")
                elif key in ra:
                    far = _far(ra[key], rb[key], tolerance, "axes" if key == "points" else "colour scale")
                    if far is not None:
                        out.append(f"{where}, artist {j} ({rb['kind']} {rb['label']!r}): {key}: {far}")
    return out
