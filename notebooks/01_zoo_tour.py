# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tour of the zoo
#
# Every experiment in the sandbox runs on a **class-conditional Gaussian mixture**: for each class $c$,
# $p(x_0\mid c)=\sum_m \phi_{cm}\,\mathcal N(\mu_{cm}, S_{cm})$. Adding noise $x = x_0 + \sigma\varepsilon$ keeps it a
# mixture, $p_\sigma(x\mid c)=\sum_m \phi_{cm}\,\mathcal N(\mu_{cm}, S_{cm}+\sigma^2 I)$, so densities, scores,
# denoisers and the noisy classifier $p_\sigma(c\mid x)$ are exact at every noise level.
#
# Set `SANDBOX_FAST=1` for small sizes (the test suite does).

# %%
import os

import torch

from sandbox import plotting as P
from sandbox import zoo

FAST = os.environ.get("SANDBOX_FAST") == "1"
N = 300 if FAST else 3000
GRID = 60 if FAST else 200
for name, make in zoo.ZOO.items():
    print(f"{name:<14}", make())

# %% [markdown]
# ## The 1D teaching mixture
# Two classes, each with two modes; they overlap on $[0, 1]$. As $\sigma$ grows every density widens and
# the classes merge.

# %%
gmm = zoo.teaching_1d()
with P.style():
    fig, axes = P.new_figure(P.DOUBLE_COLUMN, 1.9, ncols=3, sharey=True)
    for ax, sigma in zip(axes, (0.0, 0.5, 1.5)):
        P.plot_density_1d(ax, gmm, sigma=sigma, lim=(-4, 4.5))
        ax.set_title(rf"$\sigma = {sigma}$")
    axes[0].legend(loc="upper left")

# %% [markdown]
# The noisy classifier $p_\sigma(c\mid x)$ flattens toward the prior $\pi_c$ as $\sigma$ grows: noise destroys
# class information. We check that numerically: the spread of $p_\sigma(c=0\mid x)$ over the data shrinks.

# %%
spreads = []
for sigma in (0.0, 0.5, 1.5, 5.0, 50.0):
    x = gmm.sample(N, sigma=sigma, generator=0)
    spreads.append(float(gmm.class_posterior(x, sigma)[:, 0].std()))
    print(f"sigma={sigma:5.1f}  std of p(c=0|x) = {spreads[-1]:.4f}")
assert spreads == sorted(spreads, reverse=True)

# %% [markdown]
# ## The 2D mixtures, with the score field
# Arrows show the exact conditional score $s_c(x)=\nabla_x\log p_\sigma(x\mid c)$ of class 0 at a moderate
# noise level; colours are the classes' clean densities and exact samples.

# %%
with P.style():
    fig, axes = P.new_figure(P.DOUBLE_COLUMN, 3.0, ncols=2)
    for ax, name, extent in ((axes[0], "overlap_2d", (-2.6, 2.6, -2.2, 2.6)),
                             (axes[1], "branching_2d", (-3.2, 3.2, -0.4, 4.4))):
        g2 = zoo.get(name)
        P.plot_class_contours_2d(ax, g2, extent, n=GRID)
        c = torch.arange(g2.num_classes).repeat_interleave(N // g2.num_classes)
        P.scatter_classes(ax, g2.sample(c.numel(), c=c, generator=0), c)
        gx, gy, pts = P.grid_2d(extent, 15)
        s = g2.score(pts, 0.3, c=0)
        s = s / s.norm(dim=1, keepdim=True).clamp_min(1e-12)
        ax.quiver(gx, gy, s[:, 0].reshape(gx.shape), s[:, 1].reshape(gx.shape), color=P.NEUTRAL,
                  angles="xy", scale=25, width=0.004)
        ax.set_title(rf"{name}: direction of $s_0(x)$ at $\sigma=0.3$")

# %% [markdown]
# ## Your own mixture
# Any `ClassConditionalGMM` works wherever a zoo name does (training, `compare`, `separation`, the checks). It
# round-trips through a JSON file in the constructor's layout, and its **fingerprint** (a hash of its float64
# parameters) is what every cached result and report is keyed by — never its name. From the command line:
# `mclr-sandbox separation --fast --mixture mine.json`.

# %%
import tempfile
from pathlib import Path

from sandbox import ClassConditionalGMM

mine = ClassConditionalGMM(means=[[[-1.0, 0.0]], [[1.0, 0.0], [0.0, 1.5]]],
                           covs=[[[[0.3, 0.0], [0.0, 0.3]]], [[[0.2, 0.0], [0.0, 0.5]], [[0.4, 0.1], [0.1, 0.2]]]],
                           weights=[[1.0], [0.5, 0.5]], class_probs=[0.4, 0.6], name="mine")
path = mine.save(Path(tempfile.mkdtemp()) / "mine.json")
back = ClassConditionalGMM.load(path)
print(back)
assert back.fingerprint == mine.fingerprint
with P.style():
    fig, ax = P.new_figure(P.SINGLE_COLUMN, 2.6)
    extent = (-2.6, 2.6, -1.6, 3.2)
    P.plot_class_contours_2d(ax, back, extent, n=GRID)
    c = torch.arange(2).repeat_interleave(N // 2)
    P.scatter_classes(ax, back.sample(c.numel(), c=c, generator=0), c)
    ax.set_title(f"{back.name} ({back.fingerprint})")
