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
# # The posterior explorer
#
# A denoiser answers one question: *given the noisy point $x_t$ at noise level $\sigma$, where was the clean point
# $x_0$?* For a Gaussian mixture the full answer is known exactly: the posterior $p(x_0 \mid x_t, c)$ is again a
# Gaussian mixture (`gmm.posterior`, docs/theory.md section 14). The denoisers are its means: $D_c$ for the class,
# $D_u$ without a label. Classifier-free guidance does not use a posterior at all; it extrapolates,
# $$D_w = D_c + w\,(D_c - D_u),$$
# along the line from $D_u$ through $D_c$ and beyond.
#
# Below, the plane is the space of clean data. The thin lines are the classes' clean densities; the filled
# contours and coloured dots are the exact posterior for the class (and its draws), the grey dashed lines and grey
# dots the posterior without a label; the circle is $D_c$, the square $D_u$, the star $D_w$.
#
# **Try this** (in JupyterLab, with `pip install -e '.[notebooks]'`):
# * Press or drag anywhere on the plane to move $x_t$. Between classes, $D_c$ and $D_u$ part, and the star flies
#   past the class posterior: the title says what share of the posterior's mass lies closer to its peak than $D_w$.
# * Slide $\sigma$ down: the posterior shrinks onto $x_t$ and the three denoisers meet. Slide it up: the posterior
#   becomes the whole class.
# * Slide $w$: at $w = 0$ the star sits on the circle; at large $w$ it leaves the support.
#
# Without widgets (or headless, as in the test suite) each cell shows the same figures at a few fixed settings.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from sandbox import zoo
from sandbox.core.mixtures import ClassConditionalGMM
from sandbox.experiments.explainer import guided_path
from sandbox.viz.explain import LESSONS
from sandbox.viz.explorer import Explorer, MixtureDrawer
from sandbox.viz.plotting import new_figure

FAST = os.environ.get("SANDBOX_FAST") == "1"
try:
    import ipympl  # noqa: F401  (the interactive matplotlib backend)
    import ipywidgets as widgets
except ImportError:      # the fixed settings below need nothing beyond matplotlib
    widgets = None
INTERACTIVE = widgets is not None and not FAST
if INTERACTIVE:
    get_ipython().run_line_magic("matplotlib", "widget")  # noqa: F821  (IPython's global)

MIXTURE = zoo.get("overlap_2d")
display(Markdown("**What to notice**\n\n" + "\n".join(f"{i}. {line}" for i, line in enumerate(LESSONS, 1))))

# %% [markdown]
# ## Drag the point

# %%
if INTERACTIVE:
    plt.ioff()          # the figure is shown once, inside the widget box below
    w_slider = widgets.FloatSlider(value=3.0, min=0.0, max=8.0, step=0.5, description="w")
    sigma_slider = widgets.FloatLogSlider(value=10**-0.3, base=10, min=-1.7, max=1, step=0.05, description="sigma")
    explorer = Explorer(MIXTURE, c=0, w=w_slider.value, sigma=sigma_slider.value)
    explorer.figure.canvas.header_visible = False
    readout = widgets.HTML().add_class("explorer-readout")
    class_pick = widgets.Dropdown(options=list(range(MIXTURE.num_classes)), value=0, description="class")
    w_slider.observe(lambda change: explorer.set_w(change["new"]), "value")
    sigma_slider.observe(lambda change: explorer.set_sigma(change["new"]), "value")
    class_pick.observe(lambda change: explorer.set_class(change["new"]), "value")
    explorer.listeners.append(lambda e: setattr(readout, "value", e.summary()))
    explorer.update()
    display(widgets.VBox([widgets.HBox([w_slider, sigma_slider, class_pick]), explorer.figure.canvas, readout]))
else:
    fig, axes = new_figure(15.0, 5.4, ncols=3)
    for ax, (w, sigma) in zip(axes, ((0.0, 0.5), (3.0, 0.5), (3.0, 0.1))):
        print(Explorer(MIXTURE, c=0, w=w, sigma=sigma, x=(0.6, 0.2), ax=ax).summary())
    plt.show()

# %% [markdown]
# ## Follow a guided path
#
# Pick a point and a noise level above, then play: the path follows CFG's exact score from $x_t$ down to
# $\sigma = 0.02$ (Heun steps), and at each step the posterior is redrawn around the path's current point. Watch it
# collapse: at high noise it covers the class, somewhere in between it commits to one component, and at the end
# it is a dot on the path. The star runs ahead of the path while the class is still undecided.

# %%
if INTERACTIVE:
    play = widgets.Play(value=0, min=0, max=23, interval=400, description="play")
    step = widgets.IntSlider(value=0, min=0, max=23, description="step")
    widgets.jslink((play, "value"), (step, "value"))
    start = widgets.Button(description="path from x_t")

    def start_path(_button: object) -> None:
        frames = explorer.trajectory(steps=24)
        play.max = step.max = frames - 1
        play.value = step.value = 0
        explorer.follow(0)

    start.on_click(start_path)
    step.observe(lambda change: explorer.path is not None and explorer.follow(change["new"]), "value")
    display(widgets.HBox([start, play, step]))
else:
    path = guided_path(MIXTURE, torch.tensor([0.6, 0.2]), 5.0, c=0, w=3.0, steps=24)    # what the button runs
    fig, axes = new_figure(20.0, 5.4, ncols=4)
    for ax, k in zip(axes, (0, 10, 15, 20)):
        Explorer(MIXTURE, c=0, w=3.0, ax=ax).follow(k, path)
    plt.show()

# %% [markdown]
# ## Draw your own mixture
#
# Press on the plane to place a component of the chosen class; keep the button down and drag to stretch it (the
# drag sets its long axis). Press on a centre and drag to move it; right-click a centre to remove it. Every
# component carries the same weight. **Save** writes a mixture file that every command takes:
# `mclr-sandbox explain --mixture my_mixture.json`, `mclr-sandbox verify --mixture my_mixture.json`, and so on.
# **Explore it** sends it to the explorer above.

# %%
if INTERACTIVE:
    drawer = MixtureDrawer(start=MIXTURE)
    drawer.figure.canvas.header_visible = False
    status = widgets.HTML().add_class("drawer-status")
    draw_class = widgets.Dropdown(options=[0, 1, 2, 3], value=0, description="class")
    file_name = widgets.Text(value="my_mixture.json", description="file")
    save, use = widgets.Button(description="Save"), widgets.Button(description="Explore it")
    explored = widgets.Output()
    draw_class.observe(lambda change: setattr(drawer, "current_class", change["new"]), "value")

    def saved(_button: object) -> None:
        try:
            path = drawer.save(file_name.value)
            status.value = f"saved {path} ({len(drawer.components)} components)"
        except ValueError as err:
            status.value = f"not saved: {err}"

    def explore(_button: object) -> None:
        try:
            mine = drawer.mixture()
        except ValueError as err:
            status.value = f"not a mixture yet: {err}"
            return
        view = Explorer(mine, c=0)
        view.figure.canvas.header_visible = False
        with explored:
            explored.clear_output()
            display(view.figure.canvas)

    save.on_click(saved)
    use.on_click(explore)
    drawer.listeners.append(lambda d: setattr(status, "value", f"{len(d.components)} components"))
    drawer.redraw()
    display(widgets.VBox([widgets.HBox([draw_class, file_name, save, use]), drawer.figure.canvas, status, explored]))
else:
    fig, (left, right) = new_figure(10.4, 5.8, ncols=2)
    drawer = MixtureDrawer(extent=(-4, 4, -4, 4), ax=left)
    drawer.shape(drawer.add((-1.5, 1.0)), (0.5, 2.5))            # a stretched component of class 0
    drawer.add((1.5, 1.5))
    drawer.current_class = 1
    drawer.add((0.0, -1.0), cov=[[1.0, 0.0], [0.0, 0.2]])
    path = drawer.save(Path("my_mixture.json"))
    mine = ClassConditionalGMM.load(path)                          # what --mixture my_mixture.json reads
    print(f"saved {path}: {mine.num_classes} classes, {sum(len(m) for m in mine.means)} components")
    print(Explorer(mine, c=0, w=3.0, sigma=0.7, x=(0.0, 0.3), ax=right).summary())
    plt.show()
