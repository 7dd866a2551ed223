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
# # The guidance atlas: which rule and which objective samples what
#
# Many methods claim to replace or improve classifier-free guidance. With exact class scores each one can be
# written down exactly and compared on the same footing (`docs/theory.md`, sections 11-12):
#
# * **guidance rules** at sampling time: CFG, CFG on a sigma interval, classifier guidance, autoguidance, APG,
#   CFG-Zero*, and the rules of the 2024-2026 debates: independent condition guidance (ICG), `guidance_rescale`,
#   schedules $w(\sigma)$, feedback guidance (FBG) with the exact posterior, the linear approximation of CFG, and two
#   that are samplers rather than fields, CFG++ and Gibbs-like guidance;
# * **training-time replacements**, by their exact optima: GFT, model guidance, weighted MCLR (all three are CFG),
#   and the data-level tilt (its optimum is $q_0$ itself, whose noised score is *not* CFG's); then as trained nets.
#
# Papers write the guidance strength in four ways; `sandbox.core.conventions` converts between them.
# `SANDBOX_FAST=1` runs the small setting (same code path).

# %%
import os

import torch

from sandbox import conventions, figures, methods, separation, trained_atlas, yardsticks, zoo
from sandbox import plotting as P

FAST = os.environ.get("SANDBOX_FAST") == "1"
for scale in conventions.SCALES:
    print(f"w = 2 written as {scale:>4}: {conventions.from_w(2.0, scale):.4g}")

# %% [markdown]
# ## The fields side by side
# What each rule adds to the conditional score $s_c$ for class 0 of `overlap_2d` at $\sigma = 0.5$, $w = 2$
# (arrows normalised per panel). GFT, model guidance and weighted MCLR would draw exactly the CFG panel. (CFG++ and
# Gibbs-like guidance have no field: they are sampling procedures, compared below by their samples.)

# %%
gmm = zoo.overlap_2d()
extent = (-3.0, 3.0, -2.4, 3.6)
gx, gy, pts = P.grid_2d(extent, 11 if FAST else 17)
sig = torch.full((pts.shape[0],), 0.5, dtype=torch.float64)
s_c = gmm.score(pts, sig, 0)
shown = ("cfg", "cfg-interval", "autoguidance", "apg", "cfg-zero-star", "data-tilt", "icg", "cfg-rescale",
         "cfg-schedule", "fbg", "linear-cfg")
with P.style():
    fig, axes = P.new_figure(P.DOUBLE_COLUMN, 6.3, ncols=4, nrows=3, sharex=True, sharey=True)
    axes.flat[-1].set_axis_off()
    for ax, name in zip(axes.flat, shown):
        v = methods.field(name, gmm, 0, w=2.0)(pts, sig) - s_c
        v = v / v.norm(dim=1).max().clamp_min(1e-12)
        P.plot_class_contours_2d(ax, gmm, extent, n=80)
        ax.quiver(gx, gy, v[:, 0].reshape(gx.shape), v[:, 1].reshape(gx.shape), color="k", angles="xy", width=0.005)
        ax.set_title(methods.get(name).label)
        ax.set_aspect("equal")

# %% [markdown]
# ## The atlas on `crowded_4d`
# Six heavily overlapping classes in 4D, where exact CFG keeps separating up to $w = 4$. Every method is sampled
# from its exact field with the same starting noise and measured against exact CFG samples and exact $q_0$ draws.

# %%
config = separation.SweepConfig.atlas(fast=FAST)
rows = separation.sweep(config, progress=not FAST)
print(separation.table(rows, separation.ATLAS_COLUMNS))

# %%
figures.atlas_tradeoff_figure(fast=FAST);

# %% [markdown]
# **Reading it.** The exact optima of GFT, model guidance and weighted MCLR, and classifier guidance with the exact
# classifier, sit on CFG's curve to rounding: as objectives they *are* CFG. The other rules trade separation for
# diversity along curves of their own. Exact $q_0$ (what the data-level tilt samples) reaches CFG's separation with
# much more diversity; of the guided samplers only the Gibbs-like refinement comes close to it. The column "x0
# overshoot" is the x0-space view: how many posterior standard deviations each rule's denoiser lands from the exact
# posterior mean along its own paths (0 would be the class's own denoiser; notebook 08 shows it point by point).
#
# ## Each rule over its own parameters
# Defaults tuned for images need not be the best trade-off here. The full atlas runs every rule's parameter sweep
# (`Method.sweep`: APG's $\eta$, $r$ and momentum, CFG-Zero*'s zeroed steps, autoguidance's $\kappa$, the rescale's
# $\phi$, the schedules including a negative-guidance window, FBG's $\pi$, the Gibbs-like renoising level and
# rounds) and keeps each rule's best trade-off: the variants no other variant beats in both separation and entropy.
# (The fast setting has no sweeps: the panel shows one rule's defaults.)

# %%
figures.atlas_sweeps_figure(fast=FAST);

# %% [markdown]
# ## Trained nets: does each objective reach its optimum?
# The exact optima say what each training-time method *should* learn. Here each one is trained: a fine-tune of
# the same DSM net through the one training loop, one net for every $w$ (as GFT is by design). Each net is
# compared with its own exact optimum, per $\sigma$, against the DSM net's error to it (what not fine-tuning
# costs), and its unguided samples with exact CFG and exact $q_0$. A fine-tune samples in one network pass per
# step; "DSM net + CFG" needs two.

# %%
nets_config = trained_atlas.NetsConfig()
nets_config = nets_config.fast() if FAST else nets_config
result = trained_atlas.run(nets_config, progress=not FAST)
print(yardsticks.table(result))
print("\n".join(yardsticks.check_lines(result)))

# %%
figures.atlas_nets_figure(fast=FAST);

# %% [markdown]
# **Reading it.** Where a solid curve lies below its dotted twin, fine-tuning moved the net toward what its
# objective predicts. How close it gets is limited by the small network: the DSM net's own error to $s_c$ is the
# floor at small $w$, where the optimum is close to $s_c$ and the check against the DSM net is hardest. The
# printed checks say which expectations hold, with the numbers per seed.
