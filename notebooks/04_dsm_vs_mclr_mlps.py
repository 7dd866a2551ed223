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
# # DSM vs MCLR with small MLPs
#
# The paper's empirical claim, where every answer is known. A small conditional MLP denoiser trained with DSM
# (with label dropout, so the same net also gives CFG) separates the classes of `overlap_2d` less than CFG does.
# Fine-tuning it with the sample-adaptive weighted MCLR objective at $w = 2$ should move its *unguided* samples
# to where CFG's are, because the objective's optimum is the CFG score (notebook 02). Here we can also say how far
# every net is from the exact conditional and the exact CFG score at every noise level.
#
# Fine-tunes compared (all from the same DSM net, `sandbox.learn.training`; the names are those of `sandbox.methods`):
# * `weighted-mclr`, **exact weights**: the noisy classifier in the weights is the exact $p_\sigma(c\mid x)$;
# * `weighted-mclr-classifier`, **learned classifier**: the weights come from a small noisy classifier trained on the
#   same data;
# * `mclr`, **unweighted** ($\lambda = 1$): unbounded below where other classes dominate (`docs/theory.md`, section 4), so each negative
#   DSM term is capped at $\kappa\, d/\sigma^2$ ($\kappa = 4$): the push stops once a row's negative loss is a few
#   times the loss's natural scale.
#
# `SANDBOX_FAST=1` trains for a few hundred small steps (same code path); the full setting is the default of
# `mclr-sandbox compare` for one seed (that command runs three). Trained nets are cached on disk by their whole
# configuration, so the figure below and `mclr-sandbox compare` reuse them. To run all of it on your own mixture,
# pass `TrainConfig(mixture=...)` (a `ClassConditionalGMM`, a zoo name or a mixture file) as `CompareConfig(train=...)`.

# %%
import os

from sandbox import comparison, figures, yardsticks

FAST = os.environ.get("SANDBOX_FAST") == "1"
config = comparison.CompareConfig()
config = config.fast() if FAST else config
nets = comparison.train_all(config, seed=0, progress=not FAST)
print({name: f"{r.seconds:.1f} s" for name, r in nets.items()})

# %% [markdown]
# ## Training curves, score error against the exact CFG score, samples
# Top middle: the RMS of $\sigma\|s - s_w\|$ under $p_\sigma(\cdot\mid c)$ per noise level ($s_w$ the exact CFG score),
# in noise-prediction units. The DSM net sits at the distance between $s_c$ and $s_w$; the weighted fine-tunes drop
# to the level of the DSM net's own error, i.e. they learned the CFG score.

# %%
figures.mlp_comparison_figure(fast=FAST);

# %% [markdown]
# ## The comparison table
# Class-averaged, with 95% intervals (one seed). `model_log_ratio` is the inter-class log-likelihood ratio of the
# *model*: its own probability-flow-ODE log-likelihoods of its samples under their class minus under the other
# classes — the quantity MCLR maximises. `energy_distance_cfg` is the energy distance to exact CFG samples.

# %%
results = comparison.evaluate(config, nets, seed=0, progress=not FAST)
one = {"per_seed": [results], "acceptance": [comparison.acceptance(results)],
       "summary": {row: {k: (v[k].value, 0.0) for k in comparison.KEYS} for row, v in results.items()}}
print(comparison.table(one))
print()
print("\n".join(yardsticks.compare_lines(one)))

# %% [markdown]
# **Reading it.** Unguided, the DSM net behaves like the exact conditional score (accuracy ~0.82, leakage ~0.18).
# The weighted fine-tunes at $w = 0$ reach the accuracy, leakage, entropy and log-likelihood ratio of CFG at
# $w = 2$, and their samples are as close to exact CFG samples as the DSM net's own guided samples. The learned
# classifier's weights do almost as well as the oracle's. Unweighted MCLR also separates the classes, but along a
# different path: its score is not CFG's (its error against $s_w$ stays large), and its model log-likelihood
# ratio overshoots — it maximises exactly that quantity, without the weights that make the optimum CFG.
