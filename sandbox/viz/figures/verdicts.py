"""Figures of the claims: one panel per claim with its verdict, the counterexamples, the phase diagram and the
sigma windows."""

from __future__ import annotations

import textwrap

import matplotlib
import numpy as np
import torch
from matplotlib.patches import Rectangle

from ...core.mixtures import ClassConditionalGMM
from ...experiments import claims
from .. import plotting as P
from ..plotting import plt
from .registry import figure


@figure("claims", "published claims about guidance, measured: one panel per registered claim with its verdict under "
                  "several seeds")
def claims_figure(fast: bool = False) -> plt.Figure:
    """Draws ``claims.run``'s numbers under the seeds of the results page (``claims.runner.REPLICATES``: the same cached
    verdicts docs/results.md reports): each claim's own panel (the numbers of a seed that says its verdict), four to
    a row, or its reason as text for a claim without one."""
    verdicts = claims.run(fast=fast, replicates=claims.runner.REPLICATES[fast])
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
            votes = list((verdict.replicates or {0: verdict.verdict}).values())
            # a split shows its votes (the seeds contradict each other); else how many seeds say the verdict
            split = verdict.verdict == claims.UNDECIDED and votes.count(claims.UNDECIDED) < len(votes)
            seeds = f"seeds: {claims.tally(verdict)}" if split else \
                f"{votes.count(verdict.verdict)} of {len(votes)} seeds"
            ax.set_title(f"{name}\n{verdict.verdict} ({seeds})", fontsize=6)
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
