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
# # Claims about guidance, checked
#
# Papers about classifier-free guidance make precise claims, often argued on paper or shown on one example. With
# exact class scores each can be *measured*. `sandbox.experiments.claims` holds one entry per claim: the reference, the
# statement as tested (docs/theory.md, section 13), and a measurement that computes the verdict.
# `SANDBOX_FAST=1` runs the small setting (same code path).

# %%
import os

import torch

from sandbox import claims, figures, zoo
from sandbox import plotting as P

FAST = os.environ.get("SANDBOX_FAST") == "1"
verdicts = claims.run(fast=FAST)
print(claims.table(verdicts))

# %% [markdown]
# ## Where the class is decided
# The exact conditional entropy $H(c \mid x_\sigma)$ rises from (almost) 0 at small noise to the prior's entropy at
# large noise. Where it rises fastest the class is being decided; the shaded band is the window where interval
# guidance applies CFG.

# %%
sigmas = torch.logspace(-2, 2, 25 if FAST else 49, dtype=torch.float64)
with P.style():
    fig, ax = P.new_figure(P.SINGLE_COLUMN, 2.4)
    for i, gmm in enumerate((zoo.overlap_2d(), zoo.crowded_4d())):
        h = claims.conditional_entropy(gmm, sigmas, n=4000 if FAST else 40000)
        ax.semilogx(sigmas, h, color=P.class_color(i), label=gmm.name)
    ax.axvspan(*claims.WINDOW, color="0.9", zorder=0, label="guidance window")
    ax.set_xlabel(r"$\sigma$")
    ax.set_ylabel(r"$H(c \mid x_\sigma)$ (nats)")
    ax.legend(loc="upper left")

# %% [markdown]
# ## CFG's SDE sampler is a predictor-corrector
# One reverse-SDE step under the CFG field at strength $w$ splits (the field is affine in $w$) into an ODE step of
# the *unguided* conditional and a Langevin step on CFG at strength $2w$ (Bradley & Nakkiran). Run both samplers from
# the same start with the same noise: the path-by-path gap shrinks with the step size, while the naive corrector at
# $w' = w$ stays away.

# %%
gmm = zoo.teaching_1d()
steps = (16, 64, 256) if FAST else (32, 128, 512)
start = gmm.sample(400 if FAST else 2000, c=0, sigma=80.0, generator=0)
with P.style():
    fig, ax = P.new_figure(P.SINGLE_COLUMN, 2.4)
    for i, w in enumerate((1.0, 4.0)):
        gap = claims.predictor_corrector_gap(gmm, 0, w, start, steps)
        ax.loglog(steps, gap["rms_to_sde"], "o-", color=P.class_color(i),
                  label=f"w = {w:g}: corrector at 2w (order {gap['order']:.2f})")
        ax.loglog(steps, gap["rms_to_sde_naive"], "o--", color=P.class_color(i),
                  label=f"w = {w:g}: corrector at w")
    ax.set_xlabel("steps")
    ax.set_ylabel("RMS gap to the SDE, path by path")
    ax.legend(fontsize=6)

# %% [markdown]
# ## High dimension: fixed K fades, K = exp(alpha d) does not
# The overshoot of CFG samples along their class mean over dimension $d$ and class count $K$ (the claim's cached
# phase diagram): along lines of constant $\alpha = \log K / d$ it stays put.

# %%
fig = figures.claims_phase_diagram_figure(fast=FAST)

# %% [markdown]
# ## Which sigma window guidance needs
# CFG applied only on a window $[\sigma_{lo}, \sigma_{hi}]$ (crowded_4d, $w = 4$): how much of CFG's confidence each
# window keeps, and how many modes it leaves covered (the claim's cached measurements).

# %%
fig = figures.claims_windows_figure(fast=FAST)

# %% [markdown]
# ## Counterexamples
# Every counterexample the family of random mixtures produced is kept as a mixture file (`mclr-sandbox claims
# --counterexamples DIR`) and drawn here; `ClassConditionalGMM.load` reads it back for any other experiment.

# %%
found = claims.counterexamples(verdicts)
print(f"{len(found)} counterexample(s):", ", ".join(f"{name} ({g.fingerprint})" for name, g in found.items()))
fig = figures.claims_counterexamples_figure(fast=FAST)

# %% [markdown]
# ## The debates of 2024-2026
# Eight claims from the recent literature join the first eight: whether ICG behaves like CFG, whether rising
# schedules keep diversity, whether early guidance removes between-mode and late guidance within-mode diversity,
# whether CFG-Zero*'s zero-init is a late start, whether the linear approximation tracks CFG, when classes speciate,
# whether a Gibbs-like refinement reaches $q_0$, and whether `guidance_rescale` fixes over-exposure. Every claim's
# panel, with its verdict:

# %%
fig = figures.claims_figure(fast=FAST)
print("\n".join(f"{name}: {v.verdict}" for name, v in verdicts.items()))

# %% [markdown]
# **Reading it.** Each verdict above is computed from the numbers it prints, never written by hand; a claim that
# fails says so, and its reason names the numbers that decided it (in the fast setting the verdicts can differ:
# smaller samples, fewer mixtures). Counterexamples of `icg-matches-cfg` (the random mixtures where ICG and CFG
# differ most) are mixture files too: `claims.counterexamples(verdicts)` returns them with the others.
