"""Every figure of the project, one function each, and the builder behind ``mclr-sandbox figures``.

A figure function takes ``fast: bool`` (small sizes, same code path) and returns a matplotlib Figure. Figures draw:
what they show that takes more than closed-form evaluations (training, sampling, sweeps, checks) comes from an
experiment config run through the cache (``cache.run``, ``separation.sweep``), so a figure computes nothing heavy
itself. ``build`` writes each as vector PDF and PNG, atomically and deterministically (no timestamps).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from tqdm.auto import tqdm

from .. import methods
from ..core import cache, zoo
from ..core.files import atomic_open
from ..core.mixtures import ClassConditionalGMM
from ..core.schedules import edm_sigmas
from ..core.validation import as_number
from ..experiments import claims, comparison, separation, trained_atlas
from ..experiments.separation import SampleConfig
from ..experiments.verification import LearningTraceConfig, ParabolaConfig, ResidualsConfig
from ..methods import gaussian_flow, guidance, objectives, samplers, theory
from ..methods.tilted import TiltedTarget
from . import plotting as P
from .plotting import plt

FigureFn = Callable[[bool], "plt.Figure"]
PNG_DPI = 200           # sharp on high-density screens; the PDFs are vector graphics


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure; ``reproducible`` says how it compares across machines (a key of ``REPRODUCIBILITY``)."""

    name: str
    fn: FigureFn
    summary: str
    reproducible: str


EXACT, NEAR, TRAINED = "byte-identical", "within tolerance", "within tolerance (training noise)"
REPRODUCIBILITY = {
    EXACT: "byte-identical on any machine: what it draws is quantised or rounded to printed precision",
    NEAR: "byte-identical on one machine; on another within the RMS tolerance (float64 last-bit differences move "
          "curves and contours by a fraction of a pixel)",
    TRAINED: "byte-identical on one machine; on another within the RMS tolerance, its numbers with intervals "
             "(networks trained in float32: the training noise differs between CPUs)",
}
FIGURES: dict[str, FigureSpec] = {}
CHECK_TOLERANCE = 6.0   # RMS over 0-255 RGB levels (matplotlib.testing.compare) for figures --check


def figure(name: str, summary: str, reproducible: str = NEAR) -> Callable[[FigureFn], FigureFn]:
    """Register a figure function under ``name``."""
    def register(fn: FigureFn) -> FigureFn:
        FIGURES[name] = FigureSpec(name, fn, summary, reproducible)
        return fn
    return register


# ---------------------------------------------------------------------------- figures


@figure("zoo", "teaching_1d, overlap_2d and branching_2d: class densities and exact samples")
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


# ---------------------------------------------------------------------------- the theorem

THEOREM_SIGMA = 0.3
OVERLAP_EXTENT = (-2.6, 2.6, -2.2, 2.6)


RESIDUAL_CATEGORIES = ("≤ tol/10", "≤ tol", "> tol: FAIL")


def residual_category(residual: float, tolerance: float) -> int:
    """0: at most a tenth of the tolerance; 1: within the tolerance; 2: beyond it. Residuals far below the
    tolerance are rounding noise that differs between CPUs, so the figure shows categories, not their digits."""
    return 0 if residual <= tolerance / 10 else 1 if residual <= tolerance else 2


@figure("theorem_residuals", "closed-form and quadrature residuals of the theorem over (sigma, w), against tolerance",
        EXACT)
def theorem_residuals_figure(fast: bool = False, data: dict[str, torch.Tensor] | None = None) -> plt.Figure:
    """The worst residual per (sigma, w) as a category of its tolerance (``residual_category``), so the figure is
    the same on every machine; ``data`` as ``ResidualsConfig.compute`` returns it (e.g. from
    ``verification.residual_table`` of checks already run), else the cached experiment."""
    if data is None:
        config = ResidualsConfig()
        data = cache.run(config.fast() if fast else config)
    colors = matplotlib.colors.ListedColormap([P.class_color(2), P.class_color(1), P.class_color(4)])
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.4, ncols=2)
        quad_title = r"quadrature: $J_w[s_w+\delta h]-J_w[s_w]$ vs $\delta^2 E\|h\|^2$"
        for ax, table, title, tol in ((axes[0], data["closed"], "closed form vs CFG (max rel. error)", 1e-10),
                                      (axes[1], data["quadrature"], quad_title, 1e-8)):
            sig = sorted(set(table[:, 0].tolist()))
            ws = sorted(set(table[:, 1].tolist()))
            grid = np.zeros((len(ws), len(sig)), dtype=int)
            for sigma, w, residual in table.tolist():
                i, j = ws.index(w), sig.index(sigma)
                grid[i, j] = max(grid[i, j], residual_category(residual, tol))
            ax.imshow(grid, origin="lower", cmap=colors, vmin=-0.5, vmax=2.5, aspect="auto")
            ax.set_xticks(range(len(sig)), [f"{v:g}" for v in sig])
            ax.set_yticks(range(len(ws)), [f"{v:g}" for v in ws])
            ax.set_xlabel(r"$\sigma$")
            ax.set_ylabel(r"$w$")
            ax.set_title(f"{title}\ntolerance {tol:g}: every cell {RESIDUAL_CATEGORIES[int(grid.max())]}", fontsize=7)
            for i in range(len(ws)):
                for j in range(len(sig)):
                    ax.text(j, i, RESIDUAL_CATEGORIES[grid[i, j]].split(":")[0], ha="center", va="center",
                            color="w", fontsize=6)
        fig.supxlabel("worst residual per cell against the tolerance (below tol/10 the residuals are rounding noise, "
                      "1e-12 to 1e-16, whose digits differ between CPUs)", fontsize=6)
    return fig


@figure("theorem_parabolas", "J_w(s_w + delta h) - J_w(s_w) against delta: parabolas with vertex at s_w", EXACT)
def theorem_parabolas_figure(fast: bool = False) -> plt.Figure:
    config = ParabolaConfig(sigma=THEOREM_SIGMA)
    config = config.fast() if fast else config
    # values rounded to 8 significant digits: what is drawn must not move with last-bit differences between CPUs
    curves = {k: np.asarray([float(f"{v:.8g}") for v in t.reshape(-1).tolist()]).reshape(t.shape)
              for k, t in cache.run(config).items()}
    deltas = curves["deltas"]
    with P.style():
        fig, ax = P.new_figure(P.SINGLE_COLUMN, 2.4)
        for i, w in enumerate(config.ws):
            ax.plot(deltas, curves["vals"][i], color=P.class_color(i), label=rf"$w={w:g}$")
        ax.plot(deltas, curves["pred"], "k:", lw=1.6, label=r"$\delta^2 E_{p_\sigma(\cdot|c)}\|h\|^2$")
        ax.plot(deltas, curves["wrong"], color=P.NEUTRAL, ls="--", lw=0.9,
                label=rf"$w={config.ws[1]:g}$, ${config.beta_scale:g}\,\beta_w$ (wrong)")
        ax.axvline(0.0, color="0.7", lw=0.5)
        ax.set_xlabel(r"$\delta$")
        ax.set_ylabel(r"$J_w[s_w+\delta h]-J_w[s_w]$")
        ax.set_title(rf"{config.mixture.name}, $c={config.c}$, $\sigma={config.sigma}$")
        ax.legend(loc="upper center")
    return fig


@figure("mclr_weights", "the sample-adaptive weights alpha_w and beta_w over the plane")
def mclr_weights_figure(fast: bool = False) -> plt.Figure:
    gmm = zoo.overlap_2d()
    sigma, c, w = THEOREM_SIGMA, 0, 2.0
    gx, gy, pts = P.grid_2d(OVERLAP_EXTENT, 60 if fast else 200)
    r = gmm.class_posterior(pts, sigma)[:, c]
    alpha, beta = objectives.sample_adaptive_weights(r, w, gmm.class_probs[c])
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.5, ncols=2)
        for ax, val, title in ((axes[0], alpha, r"$\alpha_w(x) = 1 + w\,(1 - r_c(x))$ on positives"),
                               (axes[1], beta, r"$\beta_w(x) = w\,r_c(x)/\pi_c$ on negatives")):
            im = ax.pcolormesh(gx, gy, val.reshape(gx.shape).numpy(), cmap="magma", shading="auto",
                               rasterized=True)
            _class_outlines(ax, gmm, sigma)
            ax.set_title(title)
            ax.set_xlabel(r"$x_1$")
            ax.set_ylabel(r"$x_2$")
            ax.set_aspect("equal")
            fig.colorbar(im, ax=ax, shrink=0.85)
        fig.suptitle(rf"overlap_2d, target class $c={c}$ (blue), $w={w:g}$, $\sigma={sigma}$", fontsize=8)
    return fig


@figure("mclr_ill_posed", "where unweighted MCLR has no minimiser: A(x) <= 0, per sigma and lambda")
def mclr_ill_posed_figure(fast: bool = False) -> plt.Figure:
    gmm = zoo.overlap_2d()
    c = 0
    sigmas = (0.1, 0.5, 2.0)
    lams = (0.5, 2.0)
    gx, gy, pts = P.grid_2d(OVERLAP_EXTENT, 60 if fast else 180)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 4.4, ncols=len(sigmas), nrows=len(lams), sharex=True, sharey=True)
        for i, lam in enumerate(lams):
            for j, sigma in enumerate(sigmas):
                ax = axes[i, j]
                a = theory.mclr_coefficient(gmm, pts, sigma, c, lam).reshape(gx.shape).numpy()
                ax.contourf(gx, gy, (a <= 0).astype(float), levels=[0.5, 1.5], colors=[P.NEUTRAL], alpha=0.35)
                ax.contour(gx, gy, a, levels=[0.0], colors="k", linewidths=0.7)
                _class_outlines(ax, gmm, 0.0)
                frac = float((theory.mclr_coefficient(gmm, gmm.sample(4000, sigma=sigma, generator=0), sigma, c, lam)
                              <= 0).double().mean())
                ax.set_title(rf"$\lambda={lam:g}$, $\sigma={sigma:g}$: {100 * frac:.0f}% of $p_\sigma$ ill-posed")
                ax.set_aspect("equal")
                if i == len(lams) - 1:
                    ax.set_xlabel(r"$x_1$")
                if j == 0:
                    ax.set_ylabel(r"$x_2$")
        fig.suptitle(rf"unweighted MCLR for class $c={c}$ (blue): grey = $\{{A(x) \leq 0\}}$, no minimiser",
                     fontsize=8)
    return fig


@figure("learning_curves", "MLP fields trained by SGD: weighted MCLR -> CFG score, DSM -> conditional score",
        TRAINED)
def learning_curves_figure(fast: bool = False) -> plt.Figure:
    config = LearningTraceConfig()
    config = config.fast() if fast else config
    traces = {k: v.numpy() for k, v in cache.run(config).items()}
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.3, ncols=2, sharey=True)
        for ax, (objective, tr) in zip(axes, traces.items()):
            ax.semilogy(tr[:, 0], tr[:, 1], color=P.class_color(0), label=r"error vs $s_w$ (CFG)")
            ax.semilogy(tr[:, 0], tr[:, 2], color=P.class_color(1), label=r"error vs $s_c$ (conditional)")
            ax.axhline(tr[0, 3], color=P.NEUTRAL, ls=":", lw=0.9, label=r"$\|s_c - s_w\|$")
            ax.set_title(f"{methods.get(objective).label}" + rf", $\sigma={config.sigma}$, $w={config.w:g}$")
            ax.set_xlabel("SGD step")
        axes[0].set_ylabel(r"RMS error under $p_\sigma(\cdot\mid c)$")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
    return fig


# ---------------------------------------------------------------------------- guided sampling and separation

PANEL_W, PANEL_LAM = 3.0, 1.0
PANEL_EXTENT = (-3.0, 3.0, -2.4, 4.2)


@figure("guidance_panel", "truth, unguided, CFG, MCLR and the tilted target on overlap_2d: samples, paths, fields")
def guidance_panel_figure(fast: bool = False) -> plt.Figure:
    gmm = zoo.overlap_2d()
    n, steps, sigma_field = (300, 24, 0.5) if fast else (1500, 64, 0.5)
    w, lam, extent = PANEL_W, PANEL_LAM, PANEL_EXTENT
    columns = [("truth = unguided: exact $s_c$\n(the DSM optimum)", "dsm"),
               (rf"CFG, $w={w:g}$" "\n(= weighted-MCLR optimum)", "cfg"),
               (rf"unweighted MCLR optimum" "\n" rf"$\lambda={lam:g}$ ($s_c$ where ill-posed)", "mclr"),
               (rf"exact tilted $q_0$, $w={w:g}$" "\n(rejection sampling)", "tilted")]
    gx, gy, pts = P.grid_2d(extent, 13 if fast else 17)
    sig = torch.full((pts.shape[0],), sigma_field, dtype=torch.float64)
    s_c = gmm.score(pts, sig, 0)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 4.0, ncols=4, nrows=2, sharex=True, sharey=True)
        samples = {method: cache.run(SampleConfig(gmm, method, w=w, lam=lam, n=n, steps=steps, trajectories=8))
                   for _, method in columns}
        for j, (title, method) in enumerate(columns):
            top, bottom = axes[0, j], axes[1, j]
            for c, x in enumerate(samples[method]["x"]):
                if c == 0:
                    for path in samples[method]["paths"][c].numpy():
                        top.plot(path[:, 0], path[:, 1], color=P.NEUTRAL, lw=0.4, alpha=0.7)
                P.scatter_classes(top, x, torch.full((n,), c), size=1.0, alpha=0.4)
            top.set_title(title, fontsize=7)
            if methods.get(method).exact is not None:   # column 1: s_c itself; the others: what they add to s_c
                _class_outlines(bottom, gmm, 0.0, extent)
                v = methods.field(method, gmm, 0, w=w, lam=lam)(pts, sig) - (s_c if j else 0.0)
                # lengths clipped at the 75th percentile: the MCLR optimum blows up near its ill-posed boundary
                norm = v.norm(dim=1, keepdim=True)
                cap = float(norm.quantile(0.75)) + 1e-12
                v = (v * torch.clamp(cap / norm.clamp_min(1e-300), max=1.0)).numpy()
                spacing = (extent[1] - extent[0]) / (gx.shape[1] - 1)
                bottom.quiver(gx, gy, v[:, 0].reshape(gx.shape), v[:, 1].reshape(gx.shape), color=P.class_color(0),
                              angles="xy", scale_units="xy", scale=cap / (0.85 * spacing), width=0.005)
                bottom.set_title((r"$s_c$" if j == 0 else r"field $-\ s_c$") + rf" for $c=0$, $\sigma={sigma_field:g}$",
                                 fontsize=7)
            else:  # where CFG's samples differ from q_0, class 0
                cfg_class0 = samples["cfg"]["x"][0]
                hist, xe, ye = np.histogram2d(cfg_class0[:, 0].numpy(), cfg_class0[:, 1].numpy(), bins=36,
                                              range=[extent[:2], extent[2:]], density=True)
                bottom.pcolormesh(xe, ye, hist.T, cmap="Greys", shading="flat", rasterized=True)
                g2x, g2y, g2 = P.grid_2d(extent, 120)
                q0 = TiltedTarget(gmm, 0, w).log_prob(g2).exp().reshape(g2x.shape).numpy()
                bottom.contour(g2x, g2y, q0, levels=q0.max() * np.array([0.05, 0.3, 0.7]), colors="k",
                               linewidths=0.7)
                bottom.set_title(r"$c=0$: CFG (grey) vs $q_0$ (lines)", fontsize=7)
            for ax in (top, bottom):
                ax.set_xlim(*extent[:2])
                ax.set_ylim(*extent[2:])
                ax.set_aspect("equal")
        for ax in axes[1]:
            ax.set_xlabel(r"$x_1$")
        for ax in axes[:, 0]:
            ax.set_ylabel(r"$x_2$")
    return fig


def separation_config(mixture: str, fast: bool) -> separation.SweepConfig:
    """The sweep behind the trade-off figure: CFG and q_0 over w, unweighted MCLR over lambda."""
    config = separation.SweepConfig(mixture=mixture, methods=("cfg", "tilted", "mclr"),
                                    lams=(0.25, 0.5, 1.0, 2.0, 4.0), n=5000, fidelity=False)
    return replace(config.fast(), lams=(0.5, 2.0)) if fast else config


@figure("separation_tradeoff", "separation vs diversity: CFG and the tilted target over w, unweighted MCLR over lambda")
def separation_tradeoff_figure(fast: bool = False) -> plt.Figure:
    styles = {"cfg": ("o-", P.class_color(0), "CFG (exact scores), $w$"),
              "tilted": ("s--", P.class_color(1), r"exact tilted $q_0$, $w$"),
              "mclr": ("^:", P.class_color(2), r"unweighted MCLR optimum, $\lambda$")}
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.6, ncols=2)
        for ax, mixture in zip(axes, ("overlap_2d", "teaching_1d")):
            config = separation_config(mixture, fast)
            points = [{"method": r.method, "param": r.lam if r.method == "mclr" else r.w,
                       "entropy": [r.metrics["entropy"].value, r.metrics["entropy"].half_width],
                       "posterior": [r.metrics["mean_posterior"].value, r.metrics["mean_posterior"].half_width]}
                      for r in separation.sweep(config, progress=False)]
            for method, (fmt, color, label) in styles.items():
                sel = [p for p in points if p["method"] == method]
                ent, post = np.array([p["entropy"] for p in sel]), np.array([p["posterior"] for p in sel])
                ax.errorbar(ent[:, 0], post[:, 0], xerr=ent[:, 1], yerr=post[:, 1], fmt=fmt, color=color, ms=3,
                            lw=0.9, capsize=1.5, label=label)
                for p, e, q in zip(sel, ent[:, 0], post[:, 0]):
                    ax.annotate(f"{p['param']:g}", (e, q), fontsize=6, xytext=(3, -7 if method == "tilted" else 3),
                                textcoords="offset points", color=color)
            ax.set_xlabel(r"diversity: entropy estimate of samples of $c$ (nats)")
            ax.set_ylabel(r"separation: mean $p(c\mid x)$")
            ax.set_title(f"{mixture}, averaged over classes")
        axes[0].legend(loc="lower left")
    return fig


ATLAS_FORMATS = ("o-", "v--", "X--", "D-.", "P:", "s-", "^:", "*-.", "h--", "<:")


def atlas_curves(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """One curve per distinct exact field among ``names``: ``(method, label)``, the label with the method's other
    parameters (their defaults) and the methods of the same samples (``Method.same_as``), in registry order."""
    curves = []
    for name in names:
        method = methods.get(name)
        if method.same_as is not None and method.same_as in names:
            continue
        # the choices (a schedule) always; numbers only for a rule with a few (a schedule's range settings are many)
        numeric = [k for k, v in method.params.items() if k != method.strength and not isinstance(v, str)]
        shown = [k for k in method.params if k in method.choices or (k in numeric and len(numeric) <= 3)]
        params = ", ".join(f"{k}={separation.param_text(method.params[k])}" for k in shown)
        same = [methods.get(m).label for m in names if methods.get(m).same_as == name]
        curves.append((name, method.label + (f" ({params})" if params else "")
                       + ("\n= " + ", ".join(same) if same else "")))
    return curves


@figure("atlas_tradeoff", "the guidance atlas on crowded_4d: separation vs diversity per method, distance to q_0 vs w")
def atlas_tradeoff_figure(fast: bool = False) -> plt.Figure:
    config = separation.SweepConfig.atlas(fast=fast)
    rows = separation.sweep(config, progress=False)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 4.4, ncols=2, width_ratios=[1.3, 1])
        for i, (method, label) in enumerate(atlas_curves(config.methods)):
            fmt, color = ATLAS_FORMATS[i % len(ATLAS_FORMATS)], P.class_color(i)
            sel = sorted((r for r in separation.defaults(rows) if r.method == method), key=lambda r: r.w)
            ws = np.array([r.w for r in sel])
            ent = np.array([[r.metrics["entropy"].value, r.metrics["entropy"].half_width] for r in sel])
            post = np.array([[r.metrics["mean_posterior"].value, r.metrics["mean_posterior"].half_width] for r in sel])
            ed = np.array([r.metrics["energy_distance"].value for r in sel])
            axes[0].errorbar(ent[:, 0], post[:, 0], xerr=ent[:, 1], yerr=post[:, 1], fmt=fmt, ms=3, lw=0.9,
                             capsize=1.5, color=color, label=label)
            # w at the curve's two ends only: labels at every point of ten curves pile up
            for end, (w, e, q) in enumerate([(ws[0], ent[0, 0], post[0, 0]), (ws[-1], ent[-1, 0], post[-1, 0])]):
                axes[0].annotate(f"{w:g}", (e, q), fontsize=5, xytext=(3, -7 if end == 0 else 3),
                                 textcoords="offset points", color=color)
            axes[1].plot(ws, np.maximum(ed, 1e-4), fmt, ms=3, lw=0.9, color=color)
        axes[0].set_xlabel(r"diversity: entropy of samples of $c$ (nats)")
        axes[0].set_ylabel(r"separation: mean $p(c\mid x)$")
        axes[0].set_title("crowded_4d, exact fields, labels: $w$")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=5)
        axes[1].set_xscale("log", base=2)
        axes[1].set_yscale("log")
        axes[1].set_xlabel(r"$w$")
        axes[1].set_ylabel(r"energy distance to exact $q_0$ (floor $10^{-4}$)")
        axes[1].set_title(r"who samples $q_0$ ($q_0$ curve: exact vs exact)")
    return fig


SPREAD_MARGIN = 0.5      # nats above exact q_0's entropy at the least w: beyond it, samples outspread the data


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points ``(separation, diversity)`` that no other point beats in both (the best trade-off),
    ordered by separation."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best = [], -np.inf
    for i in order:                       # from the most separated down: keep a point if it is more diverse
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front[::-1]


@figure("atlas_sweeps", "the full atlas's parameter sweeps on crowded_4d: every variant of each rule over w, its best "
        "trade-off (separation vs diversity) against CFG and exact q_0")
def atlas_sweeps_figure(fast: bool = False) -> plt.Figure:
    """Draws the atlas's variant rows (``Method.sweep``; the fast atlas has none: its defaults only)."""
    config = separation.SweepConfig.atlas(fast=fast)
    rows = separation.sweep(config, progress=False)
    swept = list(dict.fromkeys(m for m, _ in config.variants)) or [m for m in config.methods
                                                                    if methods.get(m).sweep][:1]

    def xy(sel: list[separation.Row]) -> tuple[list[float], list[float]]:
        return [r.metrics["mean_posterior"].value for r in sel], [r.metrics["entropy"].value for r in sel]

    reference = {m: sorted((r for r in separation.defaults(rows) if r.method == m), key=lambda r: r.w)
                 for m in ("cfg", "tilted")}
    # samples more spread than the data are not diversity: a variant whose entropy exceeds exact q_0's at the least
    # w by more than SPREAD_MARGIN nats (CFG-Zero* zeroing down to a small sigma leaves x_T's spread) is drawn apart
    # and left out of the best trade-off
    ceiling = max(r.metrics["entropy"].value for r in reference["tilted"]) + SPREAD_MARGIN
    ncols = 4
    nrows = -(-len(swept) // ncols)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.2 * nrows, ncols=ncols, nrows=nrows, squeeze=False)
        for ax, method in zip(axes.flat, swept):
            own = [r for r in rows if r.method == method]
            for i, (m, style) in enumerate((("cfg", "k--"), ("tilted", ":"))):
                ax.plot(*xy(reference[m]), style, lw=0.9, color="black" if i == 0 else "0.5",
                        label="CFG" if i == 0 else "exact $q_0$")
            beyond = [r for r in own if r.metrics["entropy"].value > ceiling]
            own = [r for r in own if r.metrics["entropy"].value <= ceiling]
            ax.scatter(*xy(own), s=5, color=P.class_color(2), alpha=0.45, lw=0, label="every variant, every w")
            front = [own[i] for i in pareto(list(zip(*xy(own))))]
            ax.plot(*xy(front), "o-", ms=2.5, lw=1.0, color=P.class_color(0), label="best trade-off")
            named = set()
            for r in sorted(front, key=lambda r: -r.metrics["mean_posterior"].value):   # each variant named once
                name = r.label[len(method):].strip(" ()") or "default"
                if name not in named:
                    named.add(name)
                    ax.annotate(name, (r.metrics["mean_posterior"].value, r.metrics["entropy"].value), fontsize=3.5,
                                xytext=(2, 2), textcoords="offset points")
            if beyond:
                ax.text(0.98, 0.02, textwrap.fill(f"left out, {len(beyond)} points more spread than the data: "
                                                  + ", ".join(dict.fromkeys(r.label[len(method):].strip(" ()")
                                                                            for r in beyond)), 34),
                        transform=ax.transAxes, ha="right", va="bottom", fontsize=3.5)
            ax.set_title(methods.get(method).label, fontsize=7)
            ax.set(xlabel=r"mean $p(c\mid x)$", ylabel="entropy (nats)")
        axes.flat[0].legend(fontsize=4)
        for ax in axes.flat[len(swept):]:
            ax.set_axis_off()
    return fig


@figure("atlas_nets", "trained nets of every training-time method on crowded_4d: score error to the method's own "
        "exact optimum per sigma, against the DSM net's", TRAINED)
def atlas_nets_figure(fast: bool = False) -> plt.Figure:
    """Draws ``trained_atlas.run``'s data (the nets and numbers ``mclr-sandbox atlas`` reports)."""
    config = trained_atlas.NetsConfig()
    config = config.fast() if fast else config
    result = trained_atlas.run(config, progress=False)
    sigmas = np.array(result["sigmas"])
    names = config.methods
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.5, ncols=len(names), sharey=True, squeeze=False)
        for ax, method in zip(axes[0], names):
            for i, w in enumerate(config.ws):
                per_seed = [next(r for r in s["rows"] if (r["method"], r["w"]) == (method, w))["per_sigma"]
                            for s in result["seeds"]]
                ax.loglog(sigmas, np.mean([p["net"] for p in per_seed], 0), "-", color=P.class_color(i), lw=1.0)
                ax.loglog(sigmas, np.mean([p["dsm"] for p in per_seed], 0), ":", color=P.class_color(i), lw=0.9)
            ax.set_title(methods.get(method).label, fontsize=7)
            ax.set_xlabel(r"$\sigma$")
        axes[0, 0].set_ylabel(r"RMS $\sigma\,\|s - s^*\|$")
        handles = [Line2D([], [], color=P.class_color(i), lw=1.0, label=rf"$w={w:g}$") for i, w in
                   enumerate(config.ws)]
        handles += [Line2D([], [], color="k", lw=1.0, label="fine-tuned net"),
                    Line2D([], [], color="k", lw=0.9, ls=":", label="DSM net (not fine-tuned)")]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=6)
        seeds = len(config.seeds)
        fig.suptitle(f"{config.mixture.name}: error to each method's own exact optimum $s^*$, mean over {seeds} "
                     f"seed{'s' * (seeds > 1)}", fontsize=8)
    return fig


@figure("claims", "published claims about guidance, measured: one panel per registered claim with its verdict")
def claims_figure(fast: bool = False) -> plt.Figure:
    """Draws ``claims.run``'s numbers (the same cached verdicts ``mclr-sandbox claims`` reports): each claim's own
    panel, four to a row, or its reason as text for a claim without one."""
    verdicts = claims.run(fast=fast)
    ncols = 4
    nrows = -(-len(verdicts) // ncols)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.4 * nrows, ncols=ncols, nrows=nrows, squeeze=False)
        for ax, (name, verdict) in zip(axes.flat, verdicts.items()):
            claim = claims.REGISTRY[name]
            if claim.panel is None:
                ax.set_axis_off()
                ax.text(0, 1, textwrap.fill(verdict.reason, 45), va="top", fontsize=4.5, transform=ax.transAxes)
            else:
                claim.panel(ax, verdict.numbers, P.class_color)
            ax.set_title(f"{name}\n{verdict.verdict}", fontsize=6)
        for ax in axes.flat[len(verdicts):]:
            ax.set_axis_off()
    return fig


@figure("claims_counterexamples", "every counterexample to monotone-over-mixtures: the mixture, then mean "
        "p(c|x) and entropy against w with their intervals (mixture files: claims --counterexamples)")
def claims_counterexamples_figure(fast: bool = False) -> plt.Figure:
    """Draws the counterexamples stored in the cached verdict of ``monotone-over-mixtures``: one row each."""
    found = claims.run(("monotone-over-mixtures",), fast=fast)["monotone-over-mixtures"].numbers["counterexamples"]
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 0.4 + 1.8 * max(len(found), 1), ncols=3, nrows=max(len(found), 1),
                                 squeeze=False)
        if not found:
            for ax in axes.flat:
                ax.set_axis_off()
            axes[0, 1].text(0.5, 0.5, "no counterexample found", ha="center", va="center")
        for row, entry in zip(axes, found):
            gmm = ClassConditionalGMM.from_dict(entry["mixture"])
            _mixture_map(row[0], gmm)
            row[0].set_title(f"{entry['name']}: K = {entry['K']}, d = {entry['d']}", fontsize=6)
            ws = [point["w"] for point in entry["curve"]]
            for ax, key, label in ((row[1], "mean_posterior", r"mean $p(c=0\mid x)$"),
                                   (row[2], "entropy", "entropy (nats)")):
                e = [point[key] for point in entry["curve"]]
                ax.errorbar(ws, [v["value"] for v in e], yerr=[[v["value"] - v["lo"] for v in e],
                                                               [v["hi"] - v["value"] for v in e]],
                            fmt="o-", color=P.class_color(0), capsize=2)
                ax.set(xlabel="$w$", ylabel=label)
            row[1].set_title("; ".join(entry["violations"]), fontsize=5)
            row[2].set_title(f"{entry['samples']} samples, {entry['steps']} Heun steps, 95% intervals", fontsize=5)
    return fig


def _mixture_map(ax: plt.Axes, gmm: ClassConditionalGMM) -> None:
    """Each class's density in 1D; beyond, the component means on the first two axes, sized by their weight."""
    if gmm.dim == 1:
        spread = [(m, v.sqrt()) for m, v in zip(gmm.means, gmm.component_variances())]
        x = torch.linspace(min(float((m - 3 * s).min()) for m, s in spread),
                           max(float((m + 3 * s).max()) for m, s in spread), 801, dtype=torch.float64)[:, None]
        dens = (gmm.log_prob_per_class(x) + gmm.class_probs.log()).exp().numpy()
        for k in range(gmm.num_classes):
            ax.plot(x[:, 0].numpy(), dens[:, k], color=P.class_color(k), label=f"class {k}")
        ax.set(xlabel="$x$", ylabel=r"$p(c)\,p(x\mid c)$")
        ax.legend(fontsize=5)
        return
    for k, (m, wts) in enumerate(zip(gmm.means, gmm.weights)):
        ax.scatter(m[:, 0].numpy(), m[:, 1].numpy(), s=40 * wts.numpy(), color=P.class_color(k), label=f"class {k}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(fontsize=5)


@figure("claims_phase_diagram", "CFG's overshoot over dimension d and class count K (claim fades-in-high-d): it "
        "fades at fixed K and stays along K = exp(alpha d)")
def claims_phase_diagram_figure(fast: bool = False) -> plt.Figure:
    """Draws the phase diagram stored in the cached verdict of ``fades-in-high-d``."""
    nums = claims.run(("fades-in-high-d",), fast=fast)["fades-in-high-d"].numbers
    cells = nums["phase_diagram"]
    d = np.array([c["d"] for c in cells], dtype=float)
    alpha = np.array([c["alpha"] for c in cells])
    over = np.array([c["overshoot"]["value"] for c in cells])
    with P.style():
        fig, (left, right) = P.new_figure(P.DOUBLE_COLUMN, 2.8, ncols=2)
        ds, ks = sorted({c["d"] for c in cells}), sorted({c["K"] for c in cells})
        by_cell = {(c["d"], c["K"]): c["overshoot"]["value"] for c in cells}
        grid = np.array([[by_cell[di, k] for di in ds] for k in ks])
        mesh = left.pcolormesh(np.arange(len(ds) + 1), np.arange(len(ks) + 1), grid, cmap="viridis", vmin=0)
        for (j, i), v in np.ndenumerate(grid):
            left.text(i + 0.5, j + 0.5, f"{v:.1f}", ha="center", va="center", fontsize=5,
                      color="w" if v < 0.6 * grid.max() else "k")
        for line in nums["lines"]:     # K = exp(alpha d): the (d, K) cells along a line of constant alpha
            left.plot([ds.index(di) + 0.5 for di, _ in line["cells"]], [ks.index(k) + 0.5 for _, k in line["cells"]],
                      color="w", lw=0.6, alpha=0.8)
        left.set(xticks=np.arange(len(ds)) + 0.5, xticklabels=ds, yticks=np.arange(len(ks)) + 0.5, yticklabels=ks,
                 xlabel="dimension $d$", ylabel="classes $K$")
        left.tick_params(axis="x", labelsize=5)
        fig.colorbar(mesh, ax=left, label="overshoot along the class mean")
        left.set_title(r"exact CFG at $w = 2$; white lines: $K = e^{\alpha d}$, constant $\alpha$", fontsize=6)
        order = np.argsort(d)
        norm = matplotlib.colors.LogNorm(d.min(), d.max())
        right.scatter(alpha[order], over[order], c=d[order], norm=norm, cmap="plasma", s=10)
        fixed = nums["fixed_K"]
        right.plot([np.log(8) / e["d"] for e in fixed], [e["overshoot"]["value"] for e in fixed], "k:", lw=0.8,
                   label="K = 8, one point per d")
        right.set(xscale="log", xlabel=r"$\alpha = \log K / d$", ylabel="overshoot")
        fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap="plasma"), ax=right, label="$d$")
        right.legend(fontsize=5, loc="upper left")
        right.set_title("the overshoot is (nearly) a function of alpha alone", fontsize=6)
    return fig


@figure("claims_windows", "guidance applied on one sigma window (claim high-noise-hurts): confidence and mode "
        "coverage for every window, the best one marked")
def claims_windows_figure(fast: bool = False) -> plt.Figure:
    """Draws the windows stored in the cached verdict of ``high-noise-hurts``: one cell per window [lo, hi]."""
    nums = claims.run(("high-noise-hurts",), fast=fast)["high-noise-hurts"].numbers
    rows = {r["name"]: r for r in nums["windows"] if r["name"] != "unguided"}
    windows = {k: (r["lo"], np.inf if r["hi"] is None else r["hi"]) for k, r in rows.items()}
    ends = sorted({e for lo_hi in windows.values() for e in lo_hi})
    los, his = ends[:-1], ends[1:]                  # a window starts below infinity and ends above 0
    full = rows["every sigma"]["mean_posterior"]["value"]
    panels = (("mean_posterior", r"mean $p(c\mid x)$ / CFG's", lambda e: e / full),
              ("mode_coverage", "mode coverage", lambda e: e))

    def label(e: float) -> str:
        return "0" if e == 0 else r"$\infty$" if e == np.inf else f"{e:g}"

    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 3.0, ncols=2)
        for ax, (key, title, scale) in zip(axes, panels):
            grid = np.full((len(his), len(los)), np.nan)
            for name, (lo, hi) in windows.items():
                grid[his.index(hi), los.index(lo)] = scale(rows[name][key]["value"])
            mesh = ax.pcolormesh(np.arange(len(los) + 1), np.arange(len(his) + 1), np.ma.masked_invalid(grid),
                                 cmap="viridis")
            for name, (lo, hi) in windows.items():
                i, j = los.index(lo), his.index(hi)
                if rows[name]["eligible"]:          # keeps >= 95% of CFG's confidence
                    ax.add_patch(Rectangle((i, j), 1, 1, fill=False, ec="w", lw=1.0))
                if name == nums["best"]:
                    ax.plot(i + 0.5, j + 0.5, "*", color="#D55E00", ms=7)
            ax.set(xticks=np.arange(len(los)) + 0.5, xticklabels=[label(e) for e in los],
                   yticks=np.arange(len(his)) + 0.5, yticklabels=[label(e) for e in his],
                   xlabel=r"window starts at $\sigma_{lo}$", ylabel=r"ends at $\sigma_{hi}$")
            ax.tick_params(labelsize=5)
            fig.colorbar(mesh, ax=ax, label=title)
        axes[0].set_title(f"white: keeps >= 95% of CFG's confidence (crowded_4d, w = {nums['w']:g})", fontsize=6)
        axes[1].set_title(f"star: the most coverage among them ({nums['best']})", fontsize=6)
    return fig


@figure("cfg_vs_tilted", "CFG samples against the exact tilted density q_0: mixtures and the Gaussian closed form")
def cfg_vs_tilted_figure(fast: bool = False) -> plt.Figure:
    gmm = zoo.teaching_1d()
    n, steps = (4000, 32) if fast else (20000, 64)
    lim = (-3.0, 3.5)
    xs = torch.linspace(*lim, 500, dtype=torch.float64)[:, None]
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.3, ncols=3)
        for ax, w in zip(axes[:2], (1.0, 4.0)):
            x = cache.run(SampleConfig(gmm, "cfg", w=w, n=n, steps=steps, classes=(0,)))["x"][0]
            ax.hist(x[:, 0].numpy(), bins=80, range=lim, density=True, color=P.class_color(0), alpha=0.45,
                    label="CFG samples (Heun ODE)")
            ax.plot(xs[:, 0], TiltedTarget(gmm, 0, w).log_prob(xs).exp(), color="k", lw=1.0,
                    label=r"exact $q_0 \propto p(x|c)^{1+w}p(x)^{-w}$")
            ax.plot(xs[:, 0], gmm.log_prob(xs, 0.0, 0).exp(), color=P.NEUTRAL, ls=":", lw=0.9,
                    label=r"$p(x\mid c)$")
            ax.set_title(rf"teaching_1d, $c=0$, $w={w:g}$")
            ax.set_xlabel(r"$x$")
            ax.set_xlim(*lim)
        axes[0].set_ylabel("density")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=3)
        # two Gaussians: exact output variance of the guided ODE vs the tilted variance
        lc, lu = 1.0, 2.0
        f64 = torch.float64
        pair = gaussian_flow.GaussianPair(torch.zeros(1, dtype=f64), torch.tensor([[lc]], dtype=f64),
                                          torch.tensor([0.5], dtype=f64), torch.tensor([[lu]], dtype=f64))
        ws = np.linspace(0.0, 1.9, 12 if fast else 40)
        ode = [float(gaussian_flow.guided_output(pair, float(w), 80.0)[1][0, 0]) for w in ws]
        tilt = [float(gaussian_flow.tilted(pair, float(w))[1][0, 0]) for w in ws]
        ax = axes[2]
        ax.plot(ws, ode, color=P.class_color(0), label=r"guided ODE output (closed form)")
        ax.plot(ws, tilt, color="k", ls="--", label=r"tilted Gaussian $q_0$")
        ax.set_xlabel(r"$w$")
        ax.set_ylabel("variance")
        ax.set_title(rf"$N(0,{lc:g})$ guided against $N(0.5,{lu:g})$")
        ax.legend(loc="upper right", fontsize=6)
    return fig


@figure("guided_paths_1d", "teaching_1d: the CFG score at one noise level, and ODE paths x(sigma) for w = 0 and 3")
def guided_paths_1d_figure(fast: bool = False) -> plt.Figure:
    gmm = zoo.teaching_1d()
    c, sigma, lim = 0, 0.3, (-3.0, 3.5)
    xs = torch.linspace(*lim, 400, dtype=torch.float64)[:, None]
    n_paths, steps = (20, 24) if fast else (60, 64)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.5, ncols=3, width_ratios=[1.1, 1, 1])
        ax = axes[0]
        for i, w in enumerate((0.0, 1.0, 3.0, 7.0)):
            ax.plot(xs[:, 0], gmm.cfg_score(xs, sigma, c, w)[:, 0], color=P.class_color(i), label=rf"$w={w:g}$")
        ax.axhline(0.0, color="0.7", lw=0.5)
        ax.set_ylim(-12, 12)
        ax.set_xlim(*lim)
        ax.set_xlabel(r"$x$")
        ax.set_ylabel(r"$s_w(x)$")
        ax.legend(loc="lower left", ncols=2)
        ax.set_title(rf"CFG score, $c={c}$, $\sigma={sigma:g}$")
        sigmas = edm_sigmas(steps, 0.002, 10.0)
        for ax, w in zip(axes[1:], (0.0, 3.0)):
            paths = cache.run(SampleConfig(gmm, "cfg", w=w, n=n_paths, steps=steps, sigma_max=10.0, seed=3,
                                           trajectories=n_paths, classes=(c,)))["paths"][0]
            traj = paths[:, :, 0].numpy()                                # (paths, steps + 1)
            for t in traj:
                ax.plot(sigmas.numpy()[:-1], t[:-1], color=P.class_color(0) if t[-1] < -0.7 else P.NEUTRAL,
                        lw=0.5, alpha=0.8)
            ax.set_xscale("log")
            ax.invert_xaxis()
            ax.set_ylim(*lim)
            ax.set_xlabel(r"$\sigma$ (sampling runs right)")
            ax.set_title(rf"ODE paths of class {c}, $w={w:g}$")
            ax.text(0.97, 0.97, f"{int((traj[:, -1] > -0.7).sum())}/{n_paths} end in the minor mode (grey)",
                    transform=ax.transAxes, ha="right", va="top", fontsize=7,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5})
        axes[1].set_ylabel(r"$x(\sigma)$")
    return fig


@figure("mlp_comparison", "small MLPs on overlap_2d: training curves, score error vs sigma, samples vs exact CFG",
        TRAINED)
def mlp_comparison_figure(fast: bool = False) -> plt.Figure:
    """Draws ``comparison.FigureConfig``'s data (its nets come from the cache that ``compare`` also fills)."""
    config = comparison.FigureConfig()
    config = config.fast() if fast else config
    data = cache.run(config)
    gmm, w = config.compare.train.mixture, config.compare.w
    show = {"dsm / nets": ("DSM net, $w=0$", P.class_color(1), "-"),
            "cfg / nets": (rf"DSM net + CFG $w={w:g}$", P.class_color(4), "--"),
            "mclr / nets": (r"MCLR (unweighted, capped)", P.class_color(3), ":"),
            "weighted-mclr-classifier / nets": (r"weighted MCLR, learned classifier", P.class_color(2), "-."),
            "weighted-mclr / nets": (r"weighted MCLR, exact weights", P.class_color(0), "-")}
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 4.3, ncols=3, nrows=2)
        ax = axes[0, 0]
        for name, label, color in (("dsm", "DSM", P.class_color(1)),
                                   ("weighted-mclr", "weighted MCLR (fine-tune)", P.class_color(0))):
            hist = data["histories"][name].numpy()
            k = max(1, len(hist) // 60)
            smooth = hist[: len(hist) // k * k].reshape(-1, k).mean(1)
            ax.plot(np.arange(len(smooth)) * k, smooth, color=color, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (EDM-weighted)")
        ax.set_title("training curves (running mean)")
        ax.legend(loc="center right")
        ax = axes[0, 1]
        for row, (label, color, ls) in show.items():
            per_sigma = data["errors"][row].numpy()
            ax.loglog(per_sigma[:, 0], per_sigma[:, 1], color=color, ls=ls, label=label)
        ax.set_xlabel(r"$\sigma$")
        ax.set_ylabel(r"RMS $\sigma\,\|s - s_w\|$")
        ax.set_title(rf"error vs the exact CFG score ($w={w:g}$)")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3)
        titles = {"cfg / exact": rf"exact CFG, $w={w:g}$", "dsm / nets": "DSM net, $w=0$",
                  "weighted-mclr / nets": "weighted-MCLR net, $w=0$", "cfg / nets": rf"DSM net + CFG, $w={w:g}$"}
        for ax, row in zip((axes[0, 2], axes[1, 0], axes[1, 1], axes[1, 2]), config.panels):
            for c, x in enumerate(data["samples"][row]):
                P.scatter_classes(ax, x, torch.full((x.shape[0],), c), size=1.0, alpha=0.4)
            _class_outlines(ax, gmm, 0.0, PANEL_EXTENT)
            ax.set_xlim(*PANEL_EXTENT[:2])
            ax.set_ylim(*PANEL_EXTENT[2:])
            ax.set_aspect("equal")
            ax.set_title(titles[row])
    return fig


@figure("cfg_intuition", "CFG at one noise level: the densities it mixes, the three scores, and guided 2D paths")
def cfg_intuition_figure(fast: bool = False, w: float = 3.0, sigma: float = 0.5) -> plt.Figure:
    """The teaching picture for any ``w >= 0`` and ``sigma > 0`` (notebook 05 drives it with sliders)."""
    if not (w >= 0 and sigma > 0):
        raise ValueError(f"need w >= 0 and sigma > 0, got w={w}, sigma={sigma}")
    g1, g2 = zoo.teaching_1d(), zoo.overlap_2d()
    c, lim = 0, (-3.0, 3.5)
    xs = torch.linspace(*lim, 600, dtype=torch.float64)[:, None]
    log_c, log_u = g1.log_prob(xs, sigma, c), g1.log_prob(xs, sigma)
    # q_sigma ∝ p_sigma(x|c)^(1+w) p_sigma(x)^(-w): the density whose score is s_w at this sigma
    log_q = (1 + w) * log_c - w * log_u
    dx = float(xs[1, 0] - xs[0, 0])
    q = torch.softmax(log_q, 0) / dx
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.5, ncols=3, width_ratios=[1, 1, 0.9])
        ax = axes[0]
        ax.plot(xs[:, 0], log_c.exp(), color=P.class_color(c), label=r"$p_\sigma(x\mid c)$")
        ax.plot(xs[:, 0], log_u.exp(), color=P.NEUTRAL, ls="--", lw=0.9, label=r"$p_\sigma(x)$")
        ax.fill_between(xs[:, 0], q, color=P.class_color(c), alpha=0.25, lw=0,
                        label=r"$\propto p_\sigma(x|c)^{1+w}p_\sigma(x)^{-w}$")
        ax.set_xlim(*lim)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(r"$x$")
        ax.set_title(rf"teaching_1d, $c={c}$, $\sigma={sigma:g}$")
        ax.legend(loc="upper right", fontsize=6)
        ax = axes[1]
        s_c, s_u = g1.score(xs, sigma, c)[:, 0], g1.score(xs, sigma)[:, 0]
        ax.plot(xs[:, 0], s_c, color=P.class_color(c), label=r"$s_c$ (conditional)")
        ax.plot(xs[:, 0], s_u, color=P.NEUTRAL, ls="--", lw=0.9, label=r"$s_u$ (unconditional)")
        ax.plot(xs[:, 0], g1.cfg_score(xs, sigma, c, w)[:, 0], color="k", label=r"$s_w = s_c + w(s_c - s_u)$")
        ax.axhline(0.0, color="0.8", lw=0.5)
        span = float(s_c.abs().max()) * 1.3
        ax.set_ylim(-span, span)
        ax.set_xlim(*lim)
        ax.set_xlabel(r"$x$")
        ax.set_title(rf"scores, $w={w:g}$")
        ax.legend(loc="lower left", fontsize=6)
        ax = axes[2]
        extent = PANEL_EXTENT
        _class_outlines(ax, g2, sigma, extent)
        gx, gy, pts = P.grid_2d(extent, 11 if fast else 15)
        v = g2.cfg_score(pts, sigma, c, w)
        v = (v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)).numpy()
        ax.quiver(gx, gy, v[:, 0].reshape(gx.shape), v[:, 1].reshape(gx.shape), color=P.class_color(c),
                  angles="xy", alpha=0.6, width=0.005)
        path: list[torch.Tensor] = []
        samplers.heun_ode(guidance.exact_cfg(g2, c, w), g2.sample(12, c=c, sigma=20.0, generator=0),
                          edm_sigmas(16 if fast else 48, 0.002, 20.0), trajectory=path)
        traj = torch.stack(path, 1).numpy()
        for t in traj:
            ax.plot(t[:, 0], t[:, 1], color="k", lw=0.6, alpha=0.8)
            ax.plot(t[-1, 0], t[-1, 1], "o", color="k", ms=2)
        ax.set_xlim(*extent[:2])
        ax.set_ylim(*extent[2:])
        ax.set_aspect("equal")
        ax.set_title(r"overlap_2d: $s_w$ and ODE paths")
    return fig


def _class_outlines(ax: plt.Axes, gmm: ClassConditionalGMM, sigma: float,
                    extent: tuple[float, float, float, float] = OVERLAP_EXTENT) -> None:
    """Thin density contours of each class, in its colour, as a map for overlays."""
    gx, gy, pts = P.grid_2d(extent, 120)
    log_p = gmm.log_prob_per_class(pts, sigma).numpy()
    for k in range(gmm.num_classes):
        z = np.exp(log_p[:, k]).reshape(gx.shape)
        ax.contour(gx, gy, z, levels=[0.1 * z.max()], colors=[P.class_color(k)], linewidths=0.8)


# ---------------------------------------------------------------------------- builder


def save_figure(fig: plt.Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` atomically, without timestamps (same input, same bytes)."""
    written = []
    for ext, meta in (("pdf", {"CreationDate": None, "ModDate": None, "Producer": "mclr-sandbox"}),
                      ("png", {"Software": "mclr-sandbox"})):
        target = out_dir / f"{name}.{ext}"
        with atomic_open(target, "wb") as fh:
            fig.savefig(fh, format=ext, metadata=meta, dpi=PNG_DPI)
        written.append(target)
    return written


def check(names: Iterable[str] | None = None, reference: str | Path = "figures", tol: float = CHECK_TOLERANCE,
          progress: bool = True) -> list[tuple[str, float, bool, str]]:
    """Regenerate figures into a temporary folder and compare each PNG with the one in ``reference`` by
    matplotlib's image comparison: ``(name, RMS, passed, note)`` per figure (RMS inf: missing or resized)."""
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
            if not committed.is_file():
                out.append((name, float("inf"), False, f"no {committed} to compare with"))
                continue
            old, new = (np.asarray(Image.open(p).convert("RGB")).astype(np.int16) for p in (committed, path))
            if old.shape != new.shape:
                out.append((name, float("inf"), False, f"size {new.shape[1]}x{new.shape[0]} px, committed "
                                                     f"{old.shape[1]}x{old.shape[0]}"))
                continue
            rms = float(calculate_rms(old, new))
            passed = compare_images(str(committed), str(path), tol) is None
            out.append((name, rms, passed, FIGURES[name].reproducible))
    return out


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
