"""Notebook 08's two interactive figures, in plain matplotlib (any interactive backend; ipympl in JupyterLab).

``Explorer``: press or drag on the plane to move the noisy point ``x_t``; it draws the exact posterior over clean
data at ``x_t`` for the class (filled contours and draws) and unconditionally (grey lines and draws), the denoisers
``D_c``, ``D_u`` and ``D_w = D_c + w (D_c - D_u)`` on the line through them, and how far ``D_w`` lies outside the
class posterior (``posterior_view``). ``set_w``/``set_sigma``/``set_class`` are what the sliders call;
``follow`` walks a guided path (``guided_path``) frame by frame, the posterior collapsing as sigma falls.

``MixtureDrawer``: press on the plane to place a component of the current class and drag to shape it (the drag
sets its long axis), press on a centre and drag to move it, right-click a centre to remove it; ``save`` writes the
mixture file every command takes (``--mixture FILE``).

Both compute exactly and draw only; every interaction has a method (what the mouse does, a script or a test can
do), and ``listeners`` are called after every redraw (the notebook's read-outs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backend_bases import MouseEvent
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.patches import Ellipse

from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_int, as_number
from ..experiments.explainer import PosteriorView, guided_path, posterior_view, square_extent
from .plotting import NEUTRAL, class_color, grid_2d, new_figure

LEVELS = (9.0, 6.0, 3.0, 1.0)          # nats below each posterior's peak drawn as contours (outermost first)
PICK_PIXELS = 12.0                     # a press this close to a component's centre picks it


def _two_d(gmm: object) -> ClassConditionalGMM:
    if not isinstance(gmm, ClassConditionalGMM):
        raise TypeError(f"gmm must be a ClassConditionalGMM, got {type(gmm).__name__}")
    if gmm.dim != 2:
        raise ValueError(f"gmm must be 2-D (the figure draws the plane), got d = {gmm.dim}")
    return gmm


def _attach(owner: Explorer | MixtureDrawer, ax: Axes | None, height: float) -> None:
    """``owner.figure`` and ``owner.ax`` (a new figure unless ``ax`` is given), its mouse handlers connected."""
    owner.figure, owner.ax = new_figure(5.2, height) if ax is None else (ax.figure, ax)
    for event, handler in (("button_press_event", owner._press), ("motion_notify_event", owner._motion),
                           ("button_release_event", owner._release)):
        owner.figure.canvas.mpl_connect(event, handler)


def _xy(x: object, name: str) -> np.ndarray:
    """A finite point of the plane from any two numbers, or a ValueError naming ``name``."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.shape != (2,) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a finite point of the plane, 2 numbers, got {x!r}")
    return a


def _free(event: MouseEvent, ax: Axes) -> bool:
    """A press meant for this figure: inside ``ax``, no zoom or pan mode on."""
    toolbar = getattr(event.canvas, "toolbar", None)
    return event.inaxes is ax and event.xdata is not None and not (toolbar is not None and toolbar.mode)


class Explorer:
    """The exact posterior over clean data at a point ``x_t`` of the plane, for class ``c`` at strength ``w``.

    ``x``: ``(2,)`` (default: between the class's means and the others'); ``draws`` posterior draws per panel;
    ``grid`` cells per side for the contours; ``ax`` to draw into (default: a new figure)."""

    def __init__(self, gmm: ClassConditionalGMM, c: int = 0, w: float = 3.0, sigma: float = 0.5,
                 x: object = None, draws: int = 200, grid: int = 120, seed: int = 0, ax: Axes | None = None) -> None:
        self.gmm = _two_d(gmm)
        self.draws, self.seed = as_int(draws, "draws", minimum=1), as_int(seed, "seed")
        self.extent = square_extent(self.gmm)
        self.gx, self.gy, self.cells = grid_2d(self.extent, as_int(grid, "grid", minimum=8))
        _attach(self, ax, 5.4)
        self.listeners: list[Callable[[Explorer], None]] = []
        self._artists: list[object] = []
        self._dragging = False
        self.path: tuple[torch.Tensor, torch.Tensor] | None = None
        self.frame = 0
        self.c = self._class(c)
        self.w = as_number(w, "w", minimum=0.0)
        self.sigma = self._sigma(sigma)
        self.x = self._point(x) if x is not None else self._default_point()
        self._background()
        self.update()

    # ------------------------------------------------------------------ what the widgets and the mouse call
    def set_point(self, x: object) -> None:
        """Move ``x_t`` to ``x: (2,)`` (leaves any path being followed)."""
        self.x, self.path = self._point(x), None
        self.update()

    def set_w(self, w: float) -> None:
        self.w, self.path = as_number(w, "w", minimum=0.0), None
        self.update()

    def set_sigma(self, sigma: float) -> None:
        self.sigma, self.path = self._sigma(sigma), None
        self.update()

    def set_class(self, c: int) -> None:
        self.c, self.path = self._class(c), None
        self.update()

    def trajectory(self, steps: int = 24, sigma_min: float = 0.02) -> int:
        """Compute the guided path (exact CFG at ``w``, class ``c``) from ``x_t`` at the current sigma; returns its
        number of frames, for ``follow``."""
        self.path, self.frame = guided_path(self.gmm, self.x, self.sigma, self.c, self.w, steps, sigma_min), 0
        return len(self.path[0])

    def follow(self, k: int, path: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        """Show frame ``k`` of ``path`` (``(sigmas, states)``; default: the last ``trajectory``): ``x_t`` and sigma
        at that step, the path so far drawn."""
        path = path if path is not None else self.path
        if path is None:
            raise ValueError("no path to follow: call trajectory() first or pass path=(sigmas, states)")
        k = as_int(k, "k")
        if k >= len(path[0]):
            raise ValueError(f"k must be a frame of the path (0..{len(path[0]) - 1}), got {k}")
        self.path, self.frame = path, k
        self.sigma, self.x = float(path[0][k]), path[1][k].clone()
        self.update()

    # ------------------------------------------------------------------ numbers
    def view(self) -> PosteriorView:
        """The posterior view at the current state (one point): ``log_post: (1, 2, G*G)``, ``draws: (1, 2, n, 2)``."""
        return posterior_view(self.gmm, self.x[None], self.sigma, self.c, self.w, self.cells, self.draws, self.seed)

    def summary(self) -> str:
        """The state and its numbers in one line (the notebook's read-out)."""
        v = self.current
        d_c, d_u, d_w = (f"({a:.4f}, {b:.4f})" for a, b in v.denoisers[0].tolist())
        return (f"x_t = ({self.x[0]:.4f}, {self.x[1]:.4f}); sigma = {self.sigma:.4g}; w = {self.w:g}; c = {self.c}; "
                f"P(c | x_t) = {float(v.class_prob[0]):.4f}; D_c = {d_c}; D_u = {d_u}; D_w = {d_w}; "
                f"D_w outside {float(v.overshoot[0]):.1%} of p(x0 | x_t, c)")

    # ------------------------------------------------------------------ drawing
    def update(self) -> None:
        """Recompute the view and redraw what depends on the state."""
        self.current = v = self.view()
        for artist in self._artists:
            artist.remove()
        ax, colour = self.ax, class_color(self.c)
        log_cond, log_unc = (v.log_post[0, i].reshape(self.gx.shape).numpy() for i in range(2))
        tint = LinearSegmentedColormap.from_list("tint", ["white", colour])
        top = log_cond.max()
        fill = ax.contourf(self.gx, self.gy, log_cond, levels=[top - x for x in (*LEVELS, 0.0)], cmap=tint,
                           alpha=0.55, zorder=1)
        top = log_unc.max()
        lines = ax.contour(self.gx, self.gy, log_unc, levels=[top - x for x in LEVELS], colors=NEUTRAL,
                           linewidths=0.7, linestyles="--", zorder=2)
        cond, unc = v.draws[0, 0].numpy(), v.draws[0, 1].numpy()
        d_c, d_u, d_w = v.denoisers[0].numpy()
        x = self.x.numpy()
        self._artists = [
            fill, lines,
            ax.scatter(unc[:, 0], unc[:, 1], s=3, color=NEUTRAL, alpha=0.5, lw=0, zorder=3),
            ax.scatter(cond[:, 0], cond[:, 1], s=4, color=colour, alpha=0.8, lw=0, zorder=3),
            *ax.plot([d_u[0], d_w[0]], [d_u[1], d_w[1]], color="black", lw=0.8, ls=":", zorder=4),
            *ax.plot(*d_u, "s", color=NEUTRAL, mec="black", ms=7, zorder=5),
            *ax.plot(*d_c, "o", color=colour, mec="black", ms=8, zorder=5),
            *ax.plot(*d_w, "*", color="black", ms=13, zorder=6),
            *ax.plot(*x, "X", color="white", mec="black", ms=11, zorder=6),
        ]
        if self.path is not None:
            states = self.path[1][: self.frame + 1].numpy()
            self._artists += ax.plot(states[:, 0], states[:, 1], color="black", lw=1.0, zorder=5)
        ax.set_title(
            rf"$\sigma$ = {self.sigma:.3g}, $w$ = {self.w:g}: P(c={self.c} | $x_t$) = {float(v.class_prob[0]):.2f}"
            "\n" rf"$D_w$ outside {float(v.overshoot[0]):.0%} of p($x_0$ | $x_t$, c)", fontsize=9)
        self.figure.canvas.draw_idle()
        for listener in self.listeners:
            listener(self)

    def _background(self) -> None:
        """What does not change: the clean classes' densities (thin lines) and the legend."""
        ax, (x0, x1, y0, y1) = self.ax, self.extent
        log_p = self.gmm.log_prob_per_class(self.cells).numpy()
        for k in range(self.gmm.num_classes):
            z = log_p[:, k].reshape(self.gx.shape)
            ax.contour(self.gx, self.gy, z, levels=[z.max() - 4.0, z.max() - 1.0], colors=[class_color(k)],
                       linewidths=0.5, linestyles="solid", alpha=0.6, zorder=0)
        handles = [ax.plot([], [], "X", color="white", mec="black", ms=8, label=r"$x_t$ (press, drag)")[0],
                   ax.plot([], [], "o", color="white", mec="black", ms=7, label=r"$D_c$: mean of p($x_0$|$x_t$,c)")[0],
                   ax.plot([], [], "s", color=NEUTRAL, mec="black", ms=6, label=r"$D_u$: mean of p($x_0$|$x_t$)")[0],
                   ax.plot([], [], "*", color="black", ms=10, label=r"$D_w = D_c + w(D_c - D_u)$")[0]]
        ax.legend(handles=handles, loc="lower left", fontsize=7, handletextpad=0.3, borderaxespad=0.2)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set_xlabel(r"$x_0$, first axis")
        ax.set_ylabel(r"$x_0$, second axis")

    # ------------------------------------------------------------------ mouse
    def _press(self, event: MouseEvent) -> None:
        if event.button == 1 and _free(event, self.ax):
            self._dragging = True
            self.set_point((event.xdata, event.ydata))

    def _motion(self, event: MouseEvent) -> None:
        if self._dragging and event.inaxes is self.ax and event.xdata is not None:
            self.set_point((event.xdata, event.ydata))

    def _release(self, event: MouseEvent) -> None:
        # a front end may drop motion events while it draws (ipympl does): the release says where the drag ended
        if self._dragging and event.inaxes is self.ax and event.xdata is not None:
            self.set_point((event.xdata, event.ydata))
        self._dragging = False

    # ------------------------------------------------------------------ checks
    def _point(self, x: object) -> torch.Tensor:
        return torch.as_tensor(_xy(x, "x")).to(self.gmm.dtype)

    def _sigma(self, sigma: float) -> float:
        sigma = as_number(sigma, "sigma", minimum=0.0)
        if sigma <= 0:
            raise ValueError("sigma must be > 0: at sigma = 0 the posterior is a point mass at x_t")
        return sigma

    def _class(self, c: int) -> int:
        c = as_int(c, "c")
        if c >= self.gmm.num_classes:
            raise ValueError(f"c must be a class of the mixture (0..{self.gmm.num_classes - 1}), got {c}")
        return c

    def _default_point(self) -> torch.Tensor:
        """Halfway between the class's mean and the data's: where guidance has something to do."""
        mu = self.gmm.means
        own = mu[self.c].mean(0)
        return 0.5 * (own + torch.cat(mu).mean(0))


class MixtureDrawer:
    """Draw a 2-D class-conditional mixture: a list of components ``(class, mean (2,), cov (2, 2), weight)``.

    Each component's weight in the saved mixture is its share of the total (a new one gets the mean weight so far):
    class priors ``pi_k`` are their components' shares, ``phi`` the shares within the class. ``start``: a 2-D
    mixture to begin from; ``width``: the standard deviation of a new component (and of a shaped one across its
    long axis); ``current_class``: the class a press places."""

    def __init__(self, start: ClassConditionalGMM | None = None,
                 extent: tuple[float, float, float, float] | None = None, width: float = 0.4,
                 ax: Axes | None = None) -> None:
        self.components: list[tuple[int, np.ndarray, np.ndarray, float]] = []
        if start is not None:
            gmm = _two_d(start)
            for k in range(gmm.num_classes):
                pi = float(gmm.class_probs[k])
                for mean, cov, phi in zip(gmm.means[k], gmm.dense_covs()[k], gmm.weights[k]):
                    self.components.append((k, mean.numpy().copy(), cov.numpy().copy(), pi * float(phi)))
        self.extent = extent if extent is not None else (square_extent(start) if start is not None else (-4, 4, -4, 4))
        self.width = as_number(width, "width", minimum=0.0)
        if self.width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        self.current_class = 0
        _attach(self, ax, 5.2)
        ax = self.ax
        self.listeners: list[Callable[[MixtureDrawer], None]] = []
        self._artists: list[object] = []
        self._held: tuple[str, int] | None = None          # ("move" | "shape", component) while a button is down
        x0, x1, y0, y1 = self.extent
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        self.redraw()

    # ------------------------------------------------------------------ edits
    def add(self, mean: object, c: int | None = None, cov: object = None) -> int:
        """Place a component of class ``c`` (default ``current_class``) at ``mean``, covariance ``cov`` (default
        ``width^2 I``); returns its index."""
        c = self.current_class if c is None else as_int(c, "c")
        cov = np.eye(2) * self.width**2 if cov is None else np.asarray(cov, dtype=np.float64)
        weight = float(np.mean([w for *_, w in self.components])) if self.components else 1.0
        self.components.append((c, _xy(mean, "mean"), cov, weight))
        self.redraw()
        return len(self.components) - 1

    def move(self, i: int, mean: object) -> None:
        c, _, cov, weight = self.components[i]
        self.components[i] = (c, _xy(mean, "mean"), cov, weight)
        self.redraw()

    def shape(self, i: int, toward: object) -> None:
        """Stretch component ``i`` toward a point: its long axis from the centre to ``toward`` (one sd), ``width``
        across it (no stretch when the point is within ``width`` of the centre)."""
        c, mean, _, weight = self.components[i]
        v = _xy(toward, "toward") - mean
        length = float(np.hypot(*v))
        if length <= self.width:
            cov = np.eye(2) * self.width**2
        else:
            u = v / length
            cov = length**2 * np.outer(u, u) + self.width**2 * (np.eye(2) - np.outer(u, u))
        self.components[i] = (c, mean, cov, weight)
        self.redraw()

    def remove(self, i: int) -> None:
        del self.components[i]
        self.redraw()

    def mixture(self, name: str | None = None) -> ClassConditionalGMM:
        """The drawn mixture (full covariances); every class 0..K-1 needs at least one component."""
        if not self.components:
            raise ValueError("no components drawn yet: press on the plane to place one")
        classes = sorted({k for k, *_ in self.components})
        missing = sorted(set(range(classes[-1] + 1)) - set(classes))
        if missing:
            raise ValueError(f"class(es) {missing} have no component: classes must be 0..K-1; place one of each")
        total = sum(w for *_, w in self.components)
        means, covs, weights, pis = [], [], [], []
        for k in classes:
            own = [(m, s, w) for c, m, s, w in self.components if c == k]
            mass = sum(w for *_, w in own)
            means.append(np.stack([m for m, _, _ in own]))
            covs.append(np.stack([s for _, s, _ in own]))
            weights.append(np.array([w / mass for *_, w in own]))
            pis.append(mass / total)
        return ClassConditionalGMM(means, covs, weights, pis, name=name)

    def save(self, path: str | Path, name: str | None = None) -> Path:
        """Write the drawn mixture as a mixture file (``ClassConditionalGMM.save``; ``--mixture FILE``)."""
        return self.mixture(name or Path(path).stem).save(path)

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        for artist in self._artists:
            artist.remove()
        ax, self._artists = self.ax, []
        for c, mean, cov, _ in self.components:
            lam, vec = np.linalg.eigh(cov)
            angle = math.degrees(math.atan2(vec[1, 1], vec[0, 1]))
            for n_sd, alpha in ((1.0, 0.35), (2.0, 0.12)):
                patch = Ellipse(tuple(mean), 2 * n_sd * math.sqrt(lam[1]), 2 * n_sd * math.sqrt(lam[0]), angle=angle,
                                color=class_color(c), alpha=alpha, lw=0)
                self._artists.append(ax.add_patch(patch))
            self._artists += ax.plot(*mean, "o", color=class_color(c), mec="black", ms=6)
        counts = [sum(c == k for c, *_ in self.components) for k in range(max([c for c, *_ in self.components] +
                                                                              [self.current_class]) + 1)]
        ax.set_title(f"{len(self.components)} components (per class {counts}); a press places class "
                     f"{self.current_class}", fontsize=9)
        self.figure.canvas.draw_idle()
        for listener in self.listeners:
            listener(self)

    # ------------------------------------------------------------------ mouse
    def _nearest(self, event: MouseEvent) -> int | None:
        """The component whose centre is within ``PICK_PIXELS`` of the press, if any."""
        if not self.components:
            return None
        centres = self.ax.transData.transform(np.stack([m for _, m, _, _ in self.components]))
        dist = np.hypot(*(centres - [event.x, event.y]).T)
        i = int(dist.argmin())
        return i if dist[i] <= PICK_PIXELS else None

    def _press(self, event: MouseEvent) -> None:
        if not _free(event, self.ax):
            return
        picked = self._nearest(event)
        if event.button == 3 and picked is not None:
            self.remove(picked)
        elif event.button == 1:
            self._held = ("move", picked) if picked is not None else ("shape", self.add((event.xdata, event.ydata)))

    def _motion(self, event: MouseEvent) -> None:
        if self._held is None or event.inaxes is not self.ax or event.xdata is None:
            return
        what, i = self._held
        (self.move if what == "move" else self.shape)(i, (event.xdata, event.ydata))

    def _release(self, event: MouseEvent) -> None:
        self._motion(event)                    # where the drag ended, if motion events were dropped on the way
        self._held = None

