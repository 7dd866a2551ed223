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
# # CFG intuition
#
# A diffusion model turns noise into data by following a **score**: an arrow field that points, at every noise
# level $\sigma$, towards where the data is more likely. With a class label $c$ there are two fields: the
# conditional score $s_c$ ("towards class $c$") and the unconditional score $s_u$ ("towards any data").
#
# **Classifier-free guidance** follows neither. It follows
# $$s_w = s_c + w\,(s_c - s_u),$$
# that is: take the conditional arrow, then add $w$ times *the difference between "towards class $c$" and "towards
# any data"*. That difference points away from where other classes live. With $w = 0$ you get plain conditional
# sampling; larger $w$ pushes samples deeper into their own class, away from the others.
#
# Two sliders below: $w$ (how hard to push) and $\sigma$ (how noisy the picture is). Try these:
# * $w = 0$: the black score equals the blue one. Nothing special happens.
# * $w = 3$, $\sigma = 0.5$: the shaded density (the one $s_w$ is the score of at this noise level) has lost most of
#   its mass near $x = 0.2$, where class 1 also lives; the paths on the right end up away from the other arms.
# * Small $\sigma$: the classes no longer overlap much, $s_c \approx s_u$ near class $c$, and guidance changes little
#   there; it matters most at intermediate noise, where the classes still blur into each other.
#
# Without `ipywidgets` (or when run headless, as in the test suite) the notebook shows a few fixed settings instead.

# %%
import os

import matplotlib.pyplot as plt

from sandbox import figures

FAST = os.environ.get("SANDBOX_FAST") == "1"
try:
    import ipywidgets as widgets
except ImportError:      # the static fallback below needs nothing beyond matplotlib
    widgets = None


def show(w: float, sigma: float) -> None:
    fig = figures.cfg_intuition_figure(fast=True, w=w, sigma=sigma)
    plt.show()
    plt.close(fig)


# %%
if widgets is not None and not FAST:
    widgets.interact(show,
                     w=widgets.FloatSlider(value=3.0, min=0.0, max=8.0, step=0.5, description="w"),
                     sigma=widgets.FloatLogSlider(value=0.5, base=10, min=-2, max=1, step=0.1, description="sigma"))
else:
    for w, sigma in ((0.0, 0.5), (3.0, 0.5), (3.0, 0.05)):
        print(f"w = {w:g}, sigma = {sigma:g}")
        show(w, sigma)

# %% [markdown]
# ## What guidance is *not*
# A common reading is that CFG samples the "sharpened" distribution $p(x\mid c)^{1+w}p(x)^{-w}$. It does not: the
# shaded density above is the one whose score is $s_w$ *at that noise level*, and those densities at different
# $\sigma$ do not fit together into one diffusion. Notebook 03 measures the difference exactly (the tilted density is
# computed on a grid and sampled exactly): CFG separates classes faster and loses diversity faster than that target.
#
# ## Why it is still principled
# Notebook 02 shows that $s_w$ is exactly the best score field for a training objective: DSM on your own class,
# minus DSM on other classes' data, each weighted by how much a noisy classifier believes the sample is of class
# $c$ (sample-adaptive weighted MCLR). Notebook 04 trains a small network with that objective and finds that, with no
# guidance at all at sampling time, it reproduces CFG's samples.
