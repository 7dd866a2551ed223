"""Figures of the mixtures and of the theorem: the zoo, the residuals and parabolas of CFG as the weighted MCLR
optimum, the weights, where unweighted MCLR is ill-posed, and nets learning the optimum."""

from __future__ import annotations

import matplotlib
import numpy as np
import torch

from ... import methods
from ...core import cache, zoo
from ...experiments.experiment import sized
from ...experiments.verification import LearningTraceConfig, ParabolaConfig, ResidualsConfig
from ...methods import objectives, theory
from .. import plotting as P
from ..plotting import plt
from .registry import EXACT, TRAINED, figure


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
        data = cache.run(sized(config, fast))
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
    config = sized(config, fast)
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
    gx, gy, pts = P.grid_2d(P.OVERLAP_EXTENT, 60 if fast else 200)
    r = gmm.class_posterior(pts, sigma)[:, c]
    alpha, beta = objectives.sample_adaptive_weights(r, w, gmm.class_probs[c])
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.5, ncols=2)
        for ax, val, title in ((axes[0], alpha, r"$\alpha_w(x) = 1 + w\,(1 - r_c(x))$ on positives"),
                               (axes[1], beta, r"$\beta_w(x) = w\,r_c(x)/\pi_c$ on negatives")):
            im = ax.pcolormesh(gx, gy, val.reshape(gx.shape).numpy(), cmap="magma", shading="auto",
                               rasterized=True)
            P.class_outlines(ax, gmm, sigma)
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
    gx, gy, pts = P.grid_2d(P.OVERLAP_EXTENT, 60 if fast else 180)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 4.4, ncols=len(sigmas), nrows=len(lams), sharex=True, sharey=True)
        for i, lam in enumerate(lams):
            for j, sigma in enumerate(sigmas):
                ax = axes[i, j]
                a = theory.mclr_coefficient(gmm, pts, sigma, c, lam).reshape(gx.shape).numpy()
                ax.contourf(gx, gy, (a <= 0).astype(float), levels=[0.5, 1.5], colors=[P.NEUTRAL], alpha=0.35)
                ax.contour(gx, gy, a, levels=[0.0], colors="k", linewidths=0.7)
                P.class_outlines(ax, gmm, 0.0)
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
    config = sized(config, fast)
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
