"""Teaching figures: CFG against the tilted density, guided paths in 1D, small MLPs against exact answers, and CFG's
intuition at one noise level."""

from __future__ import annotations

import numpy as np
import torch

from ...core import cache, zoo
from ...core.schedules import edm_sigmas
from ...experiments import comparison
from ...experiments.digit_pictures import DigitsConfig
from ...experiments.experiment import sized
from ...experiments.separation import SampleConfig
from ...methods import gaussian_flow, guidance, samplers
from ...methods.tilted import TiltedTarget
from .. import plotting as P
from ..plotting import plt
from .registry import TRAINED, figure


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
    config = sized(config, fast)
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
            P.class_outlines(ax, gmm, 0.0, P.PANEL_EXTENT)
            ax.set_xlim(*P.PANEL_EXTENT[:2])
            ax.set_ylim(*P.PANEL_EXTENT[2:])
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
        extent = P.PANEL_EXTENT
        P.class_outlines(ax, g2, sigma, extent)
        gx, gy, pts = P.grid_2d(extent, 11 if fast else 15)
        v = g2.cfg_score(pts, sigma, c, w)
        v = (v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)).numpy()
        ax.quiver(gx, gy, v[:, 0].reshape(gx.shape), v[:, 1].reshape(gx.shape), color=P.class_color(c),
                  angles="xy", alpha=0.6, width=0.005)
        start = g2.sample(12, c=c, sigma=20.0, generator=0)
        traj = samplers.path(samplers.heun_ode, guidance.exact_cfg(g2, c, w), start,
                             edm_sigmas(16 if fast else 48, 0.002, 20.0)).transpose(0, 1).numpy()
        for t in traj:
            ax.plot(t[:, 0], t[:, 1], color="k", lw=0.6, alpha=0.8)
            ax.plot(t[-1, 0], t[-1, 1], "o", color="k", ms=2)
        ax.set_xlim(*extent[:2])
        ax.set_ylim(*extent[2:])
        ax.set_aspect("equal")
        ax.set_title(r"overlap_2d: $s_w$ and ODE paths")
    return fig


def _digit(ax, gmm, x: torch.Tensor) -> None:
    """One point of an image mixture as an image, ink dark, on the data's grey scale [-1, 1] (values beyond it
    saturate: their size is printed beside the picture where it matters)."""
    ax.imshow(zoo.image(gmm, x[None])[0].numpy(), cmap="gray_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set(visible=True, lw=0.3, color="0.6")


@figure("digits_guidance", "digits: exact CFG samples of each class over w from one starting noise, beside exact "
        "q_0 draws and the class means")
def digits_guidance_figure(fast: bool = False) -> plt.Figure:
    config = sized(DigitsConfig(), fast)
    result = cache.run(config)
    gmm, ws = config.mixture, config.ws
    k, cols = gmm.num_classes, 1 + 2 * len(ws)
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 0.62 * (k + 1.2), ncols=cols, nrows=k,
                                 gridspec_kw={"wspace": 0.08, "hspace": 0.08})
        for c in range(k):
            _digit(axes[c, 0], gmm, result["means"][c])
            axes[c, 0].set_ylabel(str(gmm.source["classes"][c]), rotation=0, labelpad=8, va="center")
            for i in range(len(ws)):
                _digit(axes[c, 1 + i], gmm, result["cfg"][i, c, 0])
                _digit(axes[c, 1 + len(ws) + i], gmm, result["q0"][i, c, 0])
        axes[0, 0].set_title("mean", fontsize=7)
        for i, w in enumerate(ws):
            axes[0, 1 + i].set_title(f"CFG\nw = {w:g}", fontsize=7)
            axes[0, 1 + len(ws) + i].set_title(f"$q_0$\nw = {w:g}", fontsize=7)
            # how far the pictures leave the data's grey scale [-1, 1], over every class and sample
            for j, key in ((1 + i, "cfg"), (1 + len(ws) + i, "q0")):
                axes[-1, j].set_xlabel(f"max |x|\n{float(result[key][i].abs().max()):.1f}", fontsize=6)
        fig.suptitle(f"{gmm.name} (d = {gmm.dim}, a mixture fitted per class): exact CFG from one noise "
                     r"$x_T = 80\,\epsilon$ against exact $q_0 \propto p(x|c)^{1+w}p(x)^{-w}$", fontsize=8)
    return fig


@figure("digits_denoisers", "digits: the three denoisers D_c, D_u, D_w and the exact class posterior along one "
        "guided path")
def digits_denoisers_figure(fast: bool = False) -> plt.Figure:
    config = sized(DigitsConfig(), fast)
    path = cache.run(config)["path"]
    gmm, c, w = config.mixture, config.path_class, config.path_w
    sigmas = path["sigmas"]
    rows = (("x", r"$x_\sigma/\sqrt{1+\sigma^2}$"), ("D_c", r"$D_c$"), ("D_u", r"$D_u$"),
            ("D_w", rf"$D_w$, $w={w:g}$"))
    with P.style():
        fig, axes = P.new_figure(P.DOUBLE_COLUMN, 5.0, ncols=len(sigmas), nrows=len(rows) + 1,
                                 gridspec_kw={"hspace": 0.15, "wspace": 0.1, "height_ratios": [1] * len(rows) + [0.8]})
        for j, sigma in enumerate(sigmas.tolist()):
            for i, (key, label) in enumerate(rows):
                x = path[key][j] / (1 + sigma**2) ** 0.5 if key == "x" else path[key][j]
                _digit(axes[i, j], gmm, x)
                if key == "D_w":
                    axes[i, j].set_xlabel(f"max |x| {float(x.abs().max()):.1f}", fontsize=6)
                if j == 0:
                    axes[i, j].set_ylabel(label, fontsize=7)
            axes[0, j].set_title(rf"$\sigma = {sigma:.2g}$", fontsize=7)
            ax = axes[-1, j]
            post = path["posterior"][j].numpy()
            ax.bar(range(gmm.num_classes), post, color=[P.class_color(0) if m != c else P.class_color(1)
                                                        for m in range(gmm.num_classes)])
            ax.set_ylim(0, 1)
            ax.set_xticks(range(gmm.num_classes), [str(v) for v in gmm.source["classes"]], fontsize=5)
            ax.tick_params(axis="y", labelsize=5)
            if j == 0:
                ax.set_ylabel(r"$p_\sigma(c\mid x)$", fontsize=7)
            else:
                ax.set_yticklabels([])
        fig.suptitle(f"{gmm.name}: one CFG path of class {gmm.source['classes'][c]} at w = {w:g} (exact scores); "
                     r"$D_w = (1+w)D_c - wD_u$ extrapolates past $D_c$", fontsize=8)
    return fig
