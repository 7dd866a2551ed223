"""Figures of guided sampling: the guidance panel, separation against diversity, and the guidance atlas (exact
fields, their parameter sweeps, trained nets, the fine-tunes' learning curves)."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullLocator

from ... import methods
from ...core import cache, zoo
from ...experiments import (  # noqa: F401  (catalog registers)
    catalog,
    curve_fits,
    experiment,
    learning_curves,
    separation,
    trained_atlas,
)
from ...experiments.separation import SampleConfig
from ...methods.tilted import TiltedTarget
from .. import plotting as P
from ..plotting import plt
from .registry import TRAINED, figure

# ---------------------------------------------------------------------------- guided sampling and separation

PANEL_W, PANEL_LAM = 3.0, 1.0


@figure("guidance_panel", "truth, unguided, CFG, MCLR and the tilted target on overlap_2d: samples, paths, fields")
def guidance_panel_figure(fast: bool = False) -> plt.Figure:
    gmm = zoo.overlap_2d()
    n, steps, sigma_field = (300, 24, 0.5) if fast else (1500, 64, 0.5)
    w, lam, extent = PANEL_W, PANEL_LAM, P.PANEL_EXTENT
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
                P.class_outlines(bottom, gmm, 0.0, extent)
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
        curves, ends = atlas_curves(config.methods), []
        for i, (method, label) in enumerate(curves):
            fmt, color = ATLAS_FORMATS[i % len(ATLAS_FORMATS)], P.series_color(i, len(curves))
            sel = sorted((r for r in separation.defaults(rows) if r.method == method), key=lambda r: r.w)
            ws = np.array([r.w for r in sel])
            ent = np.array([[r.metrics["entropy"].value, r.metrics["entropy"].half_width] for r in sel])
            post = np.array([[r.metrics["mean_posterior"].value, r.metrics["mean_posterior"].half_width] for r in sel])
            ed = np.array([r.metrics["energy_distance"].value for r in sel])
            axes[0].errorbar(ent[:, 0], post[:, 0], xerr=ent[:, 1], yerr=post[:, 1], fmt=fmt, ms=3, lw=0.9,
                             capsize=1.5, color=color, label=label)
            ends.append(((ent[-1, 0], post[-1, 0]), f"{ws[-1]:g}", color))
            axes[1].plot(ws, np.maximum(ed, 1e-4), fmt, ms=3, lw=0.9, color=color)
        axes[0].set_xlabel(r"diversity: entropy of samples of $c$ (nats)")
        axes[0].set_ylabel(r"separation: mean $p(c\mid x)$")
        axes[0].set_title(rf"crowded_4d, exact fields: each curve from $w = {config.ws[0]:g}$ to the labelled "
                          rf"$w = {config.ws[-1]:g}$")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=5)
        axes[1].set_xscale("log", base=2)
        axes[1].set_yscale("log")
        axes[1].set_xlabel(r"$w$")
        axes[1].set_ylabel(r"energy distance to exact $q_0$ (floor $10^{-4}$)")
        axes[1].set_title(r"who samples $q_0$ ($q_0$ curve: exact vs exact)")
        # w at each curve's far end only, placed where no other label is (the near ends share one corner)
        P.place_labels(axes[0], *map(list, zip(*ends)))
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
    labels = {}
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.2 * nrows, ncols=ncols, nrows=nrows, squeeze=False)
        for ax, method in zip(axes.flat, swept):
            own = [r for r in rows if r.method == method]
            for i, (m, style) in enumerate((("cfg", "--"), ("tilted", ":"))):
                ax.plot(*xy(reference[m]), style, lw=0.9, color="black" if i == 0 else "0.5",
                        label="CFG" if i == 0 else "exact $q_0$")
            beyond = [r for r in own if r.metrics["entropy"].value > ceiling]
            own = [r for r in own if r.metrics["entropy"].value <= ceiling]
            ax.scatter(*xy(own), s=5, color=P.class_color(2), alpha=0.45, lw=0, label="every variant, every w")
            front = [own[i] for i in pareto(list(zip(*xy(own))))]
            ax.plot(*xy(front), "o-", ms=2.5, lw=1.0, color=P.class_color(0), label="best trade-off")
            named = {}
            for r in sorted(front, key=lambda r: -r.metrics["mean_posterior"].value):   # each variant named once
                named.setdefault(r.label[len(method):].strip(" ()") or "default",
                                 (r.metrics["mean_posterior"].value, r.metrics["entropy"].value))
            labels[ax] = named
            # what is left out is said under the title, not over the points
            note = "" if not beyond else "\n" + textwrap.fill(
                f"left out, {len(beyond)} point{'s' if len(beyond) != 1 else ''} more spread than the data: "
                + ", ".join(dict.fromkeys(r.label[len(method):].strip(" ()") for r in beyond)), 48)
            ax.set_title(methods.get(method).label + note, fontsize=7 if not beyond else 5.5)
            ax.set(xlabel=r"mean $p(c\mid x)$", ylabel="entropy (nats)")
        axes.flat[0].legend(fontsize=4)
        for ax in axes.flat[len(swept):]:
            ax.set_axis_off()
        for ax, named in labels.items():       # after the layout: labels placed where they overlap nothing
            P.place_labels(ax, list(named.values()), [name.replace(", ", "\n") for name in named], fontsize=4.5)
    return fig


@figure("atlas_nets", "trained nets of every training-time method on crowded_4d: score error to the method's own "
        "exact optimum per sigma, against the DSM net's and, where the optimum is CFG, the same net with CFG applied",
        TRAINED)
def atlas_nets_figure(fast: bool = False) -> plt.Figure:
    """Draws ``trained_atlas.run``'s data (the nets and numbers ``mclr-sandbox atlas`` reports)."""
    config = experiment.config("atlas-nets", fast)
    result = trained_atlas.run(config, progress=False)
    sigmas = np.array(result["sigmas"])
    names = config.methods
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 2.5, ncols=len(names), sharey=True, squeeze=False)
        def per_sigma(method: str, w: float, which: str) -> np.ndarray:
            return np.mean([next(r for r in s["rows"] if (r["method"], r["w"]) == (method, w))["per_sigma"][which]
                            for s in result["seeds"]], 0)

        for ax, method in zip(axes[0], names):
            for i, w in enumerate(config.ws):
                ax.loglog(sigmas, per_sigma(method, w, "net"), "-", color=P.class_color(i), lw=1.0)
                ax.loglog(sigmas, per_sigma(method, w, "dsm"), ":", color=P.class_color(i), lw=0.9)
                if methods.get(method).same_as == "cfg":     # the fair reference: the same net, CFG at sampling
                    ax.loglog(sigmas, per_sigma("cfg", w, "net"), "--", color=P.class_color(i), lw=0.8)
            ax.set_title(methods.get(method).label, fontsize=7)
            ax.set_xlabel(r"$\sigma$")
        axes[0, 0].set_ylabel(r"RMS $\sigma\,\|s - s^*\|$")
        handles = [Line2D([], [], color=P.class_color(i), lw=1.0, label=rf"$w={w:g}$") for i, w in
                   enumerate(config.ws)]
        handles += [Line2D([], [], color="k", lw=1.0, label="fine-tuned net"),
                    Line2D([], [], color="k", lw=0.9, ls=":", label="DSM net (not fine-tuned)"),
                    Line2D([], [], color="k", lw=0.8, ls="--", label="DSM net + CFG at sampling")]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=6)
        seeds = len(config.seeds)
        fig.suptitle(f"{config.mixture.name}: error to each method's own exact optimum $s^*$, mean over {seeds} "
                     f"seed{'s' * (seeds > 1)}", fontsize=8)
    return fig


CURVE_WS = (1.0, 4.0)       # the strengths drawn (the table on the results page has every w)


@figure("fine_tune_curves", "each fine-tune's error to exact CFG against its training budget, per width, with the "
        "same width's DSM net + CFG at sampling as the yardstick", TRAINED)
def fine_tune_curves_figure(fast: bool = False) -> plt.Figure:
    """Draws ``learning_curves.run``'s data (what ``mclr-sandbox curves`` reports), read by ``curve_fits``."""
    config = experiment.config("curves", fast)
    result = learning_curves.run(config, progress=False)
    summ = curve_fits.summary(result)
    names, budgets = config.nets.methods, np.array(config.budgets, dtype=float)
    ws = [w for w in CURVE_WS if w in config.nets.ws] or list(config.nets.ws[:1])
    panels = [(m, w) for m in config.mixtures for w in ws]
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 1.45 * len(panels) + 0.6, nrows=len(panels), ncols=len(names),
                                 sharex=True, squeeze=False)
        for row, (mixture, w) in zip(axes, panels):
            for ax, method in zip(row, names):
                for i, width in enumerate(config.widths):
                    colour = P.class_color(i)
                    mean, half = np.array([summ[mixture.name, method, width, int(b), w]["cfg"] for b in budgets]).T
                    ax.errorbar(budgets, mean, yerr=half, fmt="o-", color=colour, lw=1.0, ms=2.5, capsize=1.5)
                    ax.axhline(summ[mixture.name, "dsm+cfg", width, None, w]["cfg"][0], color=colour, lw=0.8,
                               ls="--")
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
                ax.xaxis.set_minor_locator(NullLocator())
                # ticks inside a decade: a curve often spans less than one, where a log axis would label nothing
                ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0, 7.0), numticks=30))
                ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.yaxis.set_minor_locator(NullLocator())
                ax.tick_params(labelsize=5.5)
            # the method heads its column, the mixture and strength its row: titles that name all three overlap
            row[0].set_ylabel(f"{mixture.name}, $w={w:g}$\n" + r"RMS $\sigma\,\|s - s_{\mathrm{CFG}}\|$", fontsize=6)
        for ax, method in zip(axes[0], names):
            aim = "" if methods.get(method).same_as == "cfg" else "\n(optimum: not CFG)"
            ax.set_title(f"{methods.get(method).label}{aim}", fontsize=7)
        for ax in axes[-1]:
            ax.set_xlabel("fine-tune steps")
        handles = [Line2D([], [], color=P.class_color(i), lw=1.0, marker="o", ms=2.5, label=f"width {width}")
                   for i, width in enumerate(config.widths)]
        handles.append(Line2D([], [], color="k", lw=0.8, ls="--", label="DSM net + CFG at sampling (same width)"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=6)
        seeds = len(config.nets.seeds)
        fig.suptitle(f"fine-tunes against exact CFG: mean and 95% t-interval over {seeds} seed{'s' * (seeds > 1)}, "
                     "each budget what a run of that length gives", fontsize=8)
    return fig
