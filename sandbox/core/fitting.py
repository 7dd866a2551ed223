"""Class-conditional Gaussian mixtures fitted to data: one scikit-learn ``GaussianMixture`` per class.

Given features ``X: (N, d)`` and labels ``y: (N,)`` with classes ``c = 0..K-1`` (the sorted distinct labels),

    pi_c        = N_c / N                                          (the label counts)
    p(x0 | c)   = sum_m phi_cm N(x0; mu_cm, S_cm),   (phi, mu, S)_c = EM on the rows of class c

with every covariance floored, ``S_cm >= floor * v I`` where ``v`` is the mean per-feature variance of ``X``
(scikit-learn's ``reg_covar``, made relative so that a floor means the same for data of any scale). The number of
components of each class is given, or chosen by BIC (``-2 log L + p log N_c``) among ``1..max_components``.
EM starts from k-means with a fixed seed, so the same data and settings give the same mixture.

The fitted mixture is a model of the data, not the data: everything the sandbox computes from it (scores, posteriors,
``q_0``) is exact *for the model*. ``heldout`` says how good a model it is: the mean log-likelihood per row of a
held-out split, against one Gaussian per class fitted on the same rows with the same floor.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from .mixtures import COVARIANCE_TYPES, ClassConditionalGMM
from .validation import as_int, as_number

FIT_TYPES = (*COVARIANCE_TYPES, "tied")     # scikit-learn's four; "tied" is written as full covariances


@dataclass(frozen=True)
class Settings:
    """What a fit depends on besides the data (recorded in the mixture's ``source``)."""

    components: int | None = None       # per class; None: chosen by BIC among 1..max_components
    covariance_type: str = "full"
    floor: float = 1e-3                 # covariance floor, relative to the mean per-feature variance of X
    max_components: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.components is not None:
            as_int(self.components, "components", 1)
        if self.covariance_type not in FIT_TYPES:
            raise ValueError(f"covariance_type must be one of {FIT_TYPES}, got {self.covariance_type!r}")
        as_number(self.floor, "floor", 0.0, strict=True)
        as_int(self.max_components, "max_components", 1)
        as_int(self.seed, "seed", 0)


def as_data(X: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as a float64 ``(N, d)`` array of finite numbers and ``y`` as ``(N,)`` labels, each class with >= 2
    rows, at least two classes."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"X must be a non-empty (N, d) array of numbers, got shape {X.shape} of {X.dtype}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"X must be finite, got {int((~np.isfinite(X)).sum())} NaN or infinite entries")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must hold one label per row of X, shape ({X.shape[0]},), got {y.shape}")
    labels, counts = np.unique(y, return_counts=True)
    if labels.size < 2:
        raise ValueError(f"y must have at least two classes, got {labels.tolist()}")
    if counts.min() < 2:
        raise ValueError(f"y: every class needs at least 2 rows, class {labels[counts.argmin()]!r} has "
                         f"{counts.min()}")
    return X, y


def digest(X: np.ndarray, y: np.ndarray) -> str:
    """The data's content fingerprint: sha256 over the float64 bytes of ``X`` and the labels (16 hex digits)."""
    h = hashlib.sha256(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    h.update(repr(np.asarray(y).tolist()).encode())
    return h.hexdigest()[:16]


def _reg_covar(X: np.ndarray, floor: float) -> float:
    return floor * float(X.var(axis=0).mean()) or floor        # constant data: the floor itself


def _one_class(rows: np.ndarray, settings: Settings, reg_covar: float):
    """EM on one class's rows (BIC over the component counts when not given) -> the fitted GaussianMixture."""
    from sklearn.mixture import GaussianMixture  # scikit-learn is imported only when fitting

    counts = ([settings.components] if settings.components is not None
              else range(1, min(settings.max_components, rows.shape[0]) + 1))
    best, best_bic = None, math.inf
    for m in counts:
        if m > rows.shape[0]:
            raise ValueError(f"components = {m} exceeds a class's {rows.shape[0]} rows")
        g = GaussianMixture(m, covariance_type=settings.covariance_type, reg_covar=reg_covar,
                            random_state=settings.seed, max_iter=500).fit(rows)
        bic = g.bic(rows)
        if bic < best_bic:
            best, best_bic = g, bic
    return best


def _as_components(g, covariance_type: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    covs = g.covariances_
    if covariance_type == "tied":       # one shared (d, d) matrix: each component gets its own copy
        covs = np.repeat(covs[None], g.n_components, axis=0)
    return g.means_, covs, g.weights_


def fit(X: object, y: object, components: int | None = None, covariance_type: str = "full", floor: float = 1e-3,
        max_components: int = 4, seed: int = 0, name: str | None = None,
        source: dict[str, object] | None = None) -> ClassConditionalGMM:
    """One mixture per class fitted to ``X: (N, d)`` with labels ``y: (N,)`` (module docstring).

    ``covariance_type``: scikit-learn's ``"full"``, ``"diag"``, ``"spherical"`` or ``"tied"`` (one covariance
    shared by a class's components); ``source``: what the data are (recorded with the fit's sizes and settings in
    the mixture's ``source``).
    """
    settings = Settings(components, covariance_type, floor, max_components, seed)
    X, y = as_data(X, y)
    labels, counts = np.unique(y, return_counts=True)
    reg_covar = _reg_covar(X, settings.floor)
    fitted = [_one_class(X[y == label], settings, reg_covar) for label in labels]
    parts = [_as_components(g, settings.covariance_type) for g in fitted]
    import sklearn

    record = {**(source or {}), "rows": int(X.shape[0]), "d": int(X.shape[1]),
              "classes": [lab.item() if hasattr(lab, "item") else lab for lab in labels],
              "counts": counts.tolist(), "components": [g.n_components for g in fitted],
              "chosen_by": "given" if components is not None else f"BIC over 1..{max_components}",
              "covariance_type": covariance_type, "floor": floor, "reg_covar": reg_covar, "seed": seed,
              "data_digest": digest(X, y), "fitted_with": f"scikit-learn {sklearn.__version__} GaussianMixture"}
    return ClassConditionalGMM([p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts],
                               counts / counts.sum(), name=name,
                               covariance_type="full" if covariance_type == "tied" else covariance_type,
                               source=record)


def split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)``: ``fraction`` of each class held out (at least one row each), drawn with
    ``seed``."""
    fraction = as_number(fraction, "fraction", 0.0, 1.0, strict=True)
    rng = np.random.default_rng(as_int(seed, "seed", 0))
    train, test = [], []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        held = min(max(1, round(fraction * rows.size)), rows.size - 2)
        if held < 1:
            raise ValueError(f"class {label!r} has {rows.size} rows: too few to hold any out and fit on 2")
        test.append(rows[:held])
        train.append(rows[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def heldout(X: object, y: object, fraction: float = 0.25, split_seed: int = 0,
            **settings: object) -> list[dict[str, object]]:
    """Per class, the mean held-out log-likelihood per row of the mixture ``fit(**settings)`` fitted on the other
    rows, and of one Gaussian per class fitted on the same rows with the same floor (``components=1``), computed
    with the sandbox's exact ``log_prob(x, c)``. -> records ``{class, train, test, components, mixture,
    gaussian}``."""
    X, y = as_data(X, y)
    train, test = split(y, fraction, split_seed)
    mix = fit(X[train], y[train], **settings)
    one = fit(X[train], y[train], **{**settings, "components": 1})
    import torch

    out = []
    for c, label in enumerate(mix.source["classes"]):
        rows = torch.as_tensor(X[test][y[test] == label])
        out.append({"class": label, "train": int((y[train] == label).sum()), "test": rows.shape[0],
                    "components": mix.source["components"][c],
                    "mixture": float(mix.log_prob(rows, c=c).mean()),
                    "gaussian": float(one.log_prob(rows, c=c).mean())})
    return out
