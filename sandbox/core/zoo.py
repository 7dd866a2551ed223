"""Named example distributions shared by notebooks, figures and tests. Each is built deterministically.

| name            | d | K | what it is for |
|-----------------|---|---|----------------|
| ``teaching_1d`` | 1 | 2 | two bimodal classes overlapping near 0.5: every 1D plot and the KS tests |
| ``overlap_2d``  | 2 | 3 | three anisotropic classes at 120 degrees sharing a crowded centre: separation |
| ``branching_2d``| 2 | 2 | multi-scale tree-shaped classes (thin branches that split twice): fine structure |
| ``two_gaussians_1d`` | 1 | 2 | one Gaussian per class: network sanity checks with a simple exact score |
| ``crowded_4d``  | 4 | 6 | six heavily overlapping classes: exact CFG does not saturate for w up to 4 |
| ``shared_mean_2d`` | 2 | 2 | same mean, different covariances: a class split with no mean gap (speciation) |
| ``digits``      | 64 | 10 | scikit-learn's 8 x 8 handwritten digits, pixels in [-1, 1]: real images, exact scores |
| ``digits_pca``  | 12 | 10 | the digits' first 12 principal components: a linear latent space (decoder in source) |
| ``wine``        | 13 | 3 | scikit-learn's wine data, standardised: a real tabular set |

The last three are fitted to data bundled with scikit-learn (``core.fitting``: one ``GaussianMixture`` per class,
full covariances, components by BIC, a fixed seed), once per data content and fit code (the experiment cache).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import fitting
from .mixtures import ClassConditionalGMM
from .validation import as_int, as_number

fit = fitting.fit           # zoo.fit(X, y, ...): a user's own data as a mixture

Tensor = torch.Tensor


def teaching_1d() -> ClassConditionalGMM:
    """1D, 2 classes: class 0 = modes at -1.5 and 0.2, class 1 = modes at 0.8 and 2.0; they overlap on [0, 1]."""
    means = [[[-1.5], [0.2]], [[0.8], [2.0]]]
    stds = [[0.35, 0.3], [0.3, 0.4]]
    covs = [[[[s * s]] for s in row] for row in stds]
    return ClassConditionalGMM(means, covs, weights=[[0.6, 0.4], [0.5, 0.5]], name="teaching_1d")


def overlap_2d() -> ClassConditionalGMM:
    """2D, 3 classes: each an elongated arm pointing out at 120 degrees plus a blob in the shared centre."""
    means, covs, weights = [], [], []
    for k in range(3):
        angle = math.pi / 2 + 2 * math.pi * k / 3
        u = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
        perp = torch.stack([-u[1], u[0]])
        rot = torch.stack([u, perp], dim=1)                                  # columns: along, across
        arm = rot @ torch.diag(torch.tensor([0.55, 0.12], dtype=torch.float64)) @ rot.T
        centre = rot @ torch.diag(torch.tensor([0.30, 0.20], dtype=torch.float64)) @ rot.T
        means.append(torch.stack([1.6 * u, 0.35 * u + 0.25 * perp]))
        covs.append(torch.stack([arm, centre]))
        weights.append([0.6, 0.4])
    return ClassConditionalGMM(means, covs, weights, name="overlap_2d")


def branching_2d(levels: int = 3) -> ClassConditionalGMM:
    """2D, 2 classes: each a binary tree of thin elongated Gaussians, 0.6 times shorter at every level.

    Class 0 grows upward-left, class 1 upward-right from a shared root; ``levels`` sets the depth.
    """
    if not isinstance(levels, int) or not 1 <= levels <= 6:
        raise ValueError(f"levels must be an int in [1, 6], got {levels!r}")
    means, covs, weights = [], [], []
    for direction in (+1, -1):
        mu, cov, wt = [], [], []

        def grow(start: Tensor, angle: float, length: float, depth: int, mass: float,
                 mu: list = mu, cov: list = cov, wt: list = wt) -> None:
            u = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
            rot = torch.stack([u, torch.stack([-u[1], u[0]])], dim=1)
            scales = torch.tensor([(0.3 * length) ** 2, (0.04 * length) ** 2 + 1e-4], dtype=torch.float64)
            mu.append(start + 0.5 * length * u)
            cov.append(rot @ torch.diag(scales) @ rot.T)
            wt.append(mass * (0.4 if depth < levels else 1.0))
            if depth < levels:
                end = start + length * u
                for turn in (-0.45, 0.45):
                    grow(end, angle + turn, 0.6 * length, depth + 1, 0.3 * mass, mu, cov, wt)

        grow(torch.zeros(2, dtype=torch.float64), math.pi / 2 + direction * 0.5, 2.0, 1, 1.0)
        w = torch.tensor(wt, dtype=torch.float64)
        means.append(torch.stack(mu))
        covs.append(torch.stack(cov))
        weights.append(w / w.sum())
    return ClassConditionalGMM(means, covs, weights, name="branching_2d" if levels == 3 else f"branching_2d-{levels}")


def gaussian_classes(means: list[float], variances: list[float],
                     class_probs: list[float] | None = None, name: str = "gaussian_classes") -> ClassConditionalGMM:
    """1D, one Gaussian per class: ``p(x|c) = N(means[c], variances[c])`` (the symbolic and closed-form cases)."""
    if len(means) != len(variances):
        raise ValueError(f"means and variances must have the same length, got {len(means)} and {len(variances)}")
    return ClassConditionalGMM([[[m]] for m in means], [[[[v]]] for v in variances],
                               [[1.0] for _ in means], class_probs, name=name)


def two_gaussians_1d() -> ClassConditionalGMM:
    """1D, 2 classes, one Gaussian each: N(-1, 0.5^2) and N(1.5, 0.8^2) (network sanity checks)."""
    return gaussian_classes([-1.0, 1.5], [0.25, 0.64], name="two_gaussians_1d")


def crowded_4d() -> ClassConditionalGMM:
    """4D, 6 classes of 2 components crowded together: exact CFG keeps improving separation up to w = 4."""
    # Measured (exact CFG, Heun 32 steps, 1000 samples per class): Bayes accuracy 0.38, 0.51, 0.63, 0.80, 0.94 and
    # mean p(c|x) 0.28 ... 0.68 for w = 0, 0.5, 1, 2, 4, where the 2D zoo saturates (0.9999 at w = 2 on overlap_2d).
    g = random_mixture(6, 2, 4, seed=3, spread=0.3)
    return ClassConditionalGMM(g.means, g.covs, g.weights, g.class_probs, name="crowded_4d")


def shared_mean_2d() -> ClassConditionalGMM:
    """2D, 2 classes with the same mean, differing only in covariance: N(0, diag(4, 0.25)) and N(0, diag(0.25, 4))."""
    # no mean gap to speciate along: the speciation-time claim's test of a covariance-only split
    wide, tall = torch.diag(torch.tensor([4.0, 0.25], dtype=torch.float64)), torch.diag(
        torch.tensor([0.25, 4.0], dtype=torch.float64))
    return ClassConditionalGMM([torch.zeros(1, 2, dtype=torch.float64)] * 2, [wide[None], tall[None]],
                               [torch.ones(1, dtype=torch.float64)] * 2, name="shared_mean_2d")


def random_mixture(num_classes: int, components: int, dim: int, seed: int, spread: float = 3.0,
                   max_condition: float = 10.0) -> ClassConditionalGMM:
    """A random mixture: means ~ N(0, spread^2 I), covariances with eigenvalues log-uniform in a range of
    ratio ``max_condition`` around 0.3, Dirichlet(2) weights, Dirichlet(5) class prior."""
    k, m, d = (as_int(v, name, 1) for v, name in ((num_classes, "num_classes"), (components, "components"),
                                                   (dim, "dim")))
    spread = as_number(spread, "spread", 0.0, strict=True)
    max_condition = as_number(max_condition, "max_condition", 1.0)
    g = torch.Generator().manual_seed(as_int(seed, "seed"))
    means = spread * torch.randn(k, m, d, dtype=torch.float64, generator=g)
    q, _ = torch.linalg.qr(torch.randn(k, m, d, d, dtype=torch.float64, generator=g))
    log_ratio = math.log(max_condition)
    evals = 0.3 * torch.exp(log_ratio * (torch.rand(k, m, d, dtype=torch.float64, generator=g) - 0.5))
    covs = q @ torch.diag_embed(evals) @ q.transpose(-1, -2)
    return ClassConditionalGMM(list(means), list(0.5 * (covs + covs.transpose(-1, -2))),
                               list(_dirichlet(2, (k, m), g)), _dirichlet(5, (k,), g),
                               name=f"random_mixture-K{k}-M{m}-d{d}-seed{seed}")


def _dirichlet(alpha: int, shape: tuple[int, ...], g: torch.Generator) -> Tensor:
    """Dirichlet(alpha) rows over the last axis, integer ``alpha``: normalised Gamma(alpha) draws."""
    # torch's Gamma sampler takes no generator; Gamma(alpha) for integer alpha is a sum of alpha Exp(1).
    draws = -torch.log(torch.rand(*shape, alpha, dtype=torch.float64, generator=g)).sum(-1)
    return draws / draws.sum(-1, keepdim=True)


DIGITS_PCA = 12        # principal components of digits_pca


BUNDLED = ("digits", "digits_pca", "wine")      # the zoo's mixtures fitted to data bundled with scikit-learn
REAL_DATA = ("digits", "wine")      # those the claims about the data's geometry also run on (claims --data)


def bundled(name: str) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """A data set bundled with scikit-learn as the zoo uses it (``name`` one of ``BUNDLED``): features ``(N, d)``,
    labels ``(N,)``, and what was done to them."""
    if name not in BUNDLED:
        raise ValueError(f"name must be one of {BUNDLED}, got {name!r}")
    from sklearn import datasets

    if name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
        mean, scale = X.mean(0), X.std(0)
        return (X - mean) / scale, y, {"data": "scikit-learn load_wine (178 wines, 13 chemical measurements)",
                                       "transform": "standardised: (x - mean) / sd per feature",
                                       "mean": mean.tolist(), "sd": scale.tolist()}
    X, y = datasets.load_digits(return_X_y=True)
    X = X / 8.0 - 1.0
    about = {"data": "scikit-learn load_digits (1797 8 x 8 images of handwritten digits, grey levels 0..16)",
             "transform": "pixels x / 8 - 1, in [-1, 1]", "image_shape": [8, 8]}
    if name == "digits":
        return X, y, about
    from sklearn.decomposition import PCA

    pca = PCA(DIGITS_PCA, svd_solver="full").fit(X)
    return pca.transform(X), y, {**about, "transform": f"pixels x / 8 - 1, then the first {DIGITS_PCA} principal "
                                 "components: z = (x - mean) @ components.T; images x = mean + z @ components",
                                 "decoder": {"mean": pca.mean_.tolist(), "components": pca.components_.tolist()}}


@functools.cache
def _fitted_dict(name: str) -> dict[str, object]:
    import sklearn

    from . import cache

    X, y, about = bundled(name)
    # the fit's library is not code of ours (no fingerprint covers it): its version keys the entry
    key = {"data": fitting.digest(X, y), "settings": fitting.Settings(), "name": name, "sklearn": sklearn.__version__}
    return cache.cached("fitted-mixture", key,
                        lambda: fitting.fit(X, y, name=name, source=about).to_dict(), code=(fitting.fit, bundled))


def _fitted(name: str) -> ClassConditionalGMM:
    # a copy: the memoised record stays what the cache holds, whatever a caller does with its mixture's source
    return ClassConditionalGMM.from_dict(copy.deepcopy(_fitted_dict(name)), source=f"zoo {name}")


def digits() -> ClassConditionalGMM:
    """64D, 10 classes: scikit-learn's 8 x 8 handwritten digits as pixels in [-1, 1], fitted per class."""
    return _fitted("digits")


def digits_pca() -> ClassConditionalGMM:
    """12D, 10 classes: the digits' first 12 principal components (images through the decoder in its source)."""
    return _fitted("digits_pca")


def wine() -> ClassConditionalGMM:
    """13D, 3 classes: scikit-learn's wine measurements, standardised, fitted per class."""
    return _fitted("wine")


def image(gmm: ClassConditionalGMM, x: Tensor) -> Tensor:
    """Points of an image mixture as images ``(N, H, W)``: pixels as they are (``digits``), or decoded from the
    latent (``digits_pca``: ``mean + z @ components``); a mixture without ``image_shape`` in its source is refused."""
    about = gmm.source or {}
    if "image_shape" not in about:
        raise ValueError(f"gmm must be an image mixture (its source has an image_shape), got {gmm.name!r}")
    x = torch.as_tensor(x, dtype=torch.float64)
    if "decoder" in about:
        dec = about["decoder"]
        x = torch.tensor(dec["mean"], dtype=torch.float64) + x @ torch.tensor(dec["components"], dtype=torch.float64)
    return x.reshape(x.shape[0], *about["image_shape"])


ZOO: dict[str, Callable[[], ClassConditionalGMM]] = {
    "teaching_1d": teaching_1d,
    "overlap_2d": overlap_2d,
    "branching_2d": branching_2d,
    "two_gaussians_1d": two_gaussians_1d,
    "crowded_4d": crowded_4d,
    "shared_mean_2d": shared_mean_2d,
    "digits": digits,
    "digits_pca": digits_pca,
    "wine": wine,
}


def get(name: str) -> ClassConditionalGMM:
    """A zoo mixture by name (see ``ZOO``)."""
    if name not in ZOO:
        raise ValueError(f"name must be one of {sorted(ZOO)}, got {name!r}")
    return ZOO[name]()


MixtureSpec = str | Path | ClassConditionalGMM


def resolve(mixture: MixtureSpec, name: str = "mixture") -> ClassConditionalGMM:
    """A mixture from a zoo name, a mixture JSON file (``ClassConditionalGMM.save``) or a mixture object."""
    if isinstance(mixture, ClassConditionalGMM):
        return mixture
    if isinstance(mixture, (str, Path)):
        if str(mixture) in ZOO:
            return get(str(mixture))
        path = Path(mixture)
        if path.suffix.lower() == ".json" or path.exists():
            return ClassConditionalGMM.load(path)
        raise ValueError(f"{name} must be a zoo name {sorted(ZOO)} or a mixture .json file, got {str(mixture)!r}")
    raise TypeError(f"{name} must be a zoo name, a path to a mixture .json file or a ClassConditionalGMM, "
                    f"got {type(mixture).__name__}")
