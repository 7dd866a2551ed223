"""Class-conditional Gaussian mixtures with closed-form noised densities, scores and posteriors.

Model (docs/theory.md, section 1), classes ``c = 0..K-1`` (0-based in code):

    p(x0 | c)        = sum_m phi_cm N(x0; mu_cm, S_cm)
    p_sigma(x | c)   = sum_m phi_cm N(x; mu_cm, S_cm + sigma^2 I)        (x = x0 + sigma eps)
    p_sigma(x)       = sum_c pi_c p_sigma(x | c)
    p_sigma(c | x)   = pi_c p_sigma(x | c) / p_sigma(x)

Each covariance is diagonalised once, ``S = U diag(lam) U^T``; any sigma only shifts the eigenvalues,
``S + sigma^2 I = U diag(lam + sigma^2) U^T``, so every quantity below is a closed form in the rotated
coordinates ``z = U^T (x - mu)``. Responsibilities use log-sum-exp, so scores stay finite far from the
data and at tiny sigma.

Covariances come in scikit-learn's three forms (``covariance_type``), each with its own path:

    full       S_j any SPD matrix          rotation to each component's eigenbasis: O(N C d^2)
    diag       S_j = diag(lam_j)           no rotation (U = I): O(N C d)
    spherical  S_j = lam_j I               squared distances as matrix products,
                                           ||x - mu_j||^2 = ||x||^2 - 2 x.mu_j + ||mu_j||^2: two (N x d)(d x C)
                                           products and O(N C) more (the same cancellation as the rotated
                                           difference of the full path, so the same accuracy)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .files import atomic_open, check_writable
from .posterior import Posterior
from .posterior import build as build_posterior
from .validation import (
    as_batch_scalar,
    as_class_ids,
    as_count,
    as_device,
    as_generator,
    as_points,
    as_probabilities,
    as_real_tensor,
)

Tensor = torch.Tensor

_LOG_2PI = math.log(2.0 * math.pi)
_SYMMETRY_RTOL = 1e-10
_SPD_RTOL = 1e-14  # smallest eigenvalue relative to the largest before a covariance counts as singular
_ELEMENTS_PER_CHUNK = 1 << 17  # rows x components x dim per chunk: keeps temporaries cache-sized


class ClassConditionalGMM:
    """Class-conditional Gaussian mixture, exact at every VE noise level ``sigma``.

    Args:
        means: ``K`` arrays, ``means[c]: (M_c, d)``.
        covs: ``K`` arrays: ``covs[c]: (M_c, d, d)`` symmetric positive definite (``covariance_type="full"``),
            ``(M_c, d)`` positive variances per axis (``"diag"``) or ``(M_c,)`` one variance each (``"spherical"``).
        weights: ``K`` arrays, ``weights[c]: (M_c,)``, positive, summing to 1.
        class_probs: ``(K,)`` class prior ``pi``, positive, summing to 1 (default uniform).
        dtype, device: where the model computes (float64 on the CPU by default).
        name: a label for reports and figures (not part of the identity: see ``fingerprint``).
        source: where the mixture came from, as plain JSON-ready data (e.g. ``core.fitting.fit``'s record of the
            data set, its sizes and the fit's settings); kept in its file, not part of the identity.
        covariance_type: ``"full"`` (default), ``"diag"`` or ``"spherical"`` (scikit-learn's names): the form of
            ``covs``, and the fast path used (module docstring).

    Two mixtures are equal when their parameters are (``fingerprint``). ``save``/``load`` round-trip a mixture
    through a JSON file with keys ``means``, ``covs``, ``weights``, ``class_probs`` (and optionally ``name``,
    ``covariance_type`` and ``source``).

    Conventions: ``x: (N, d)``; ``sigma``: a float or an ``(N,)`` tensor (per-sample noise), ``sigma >= 0``;
    ``c``: ``None`` (the unconditional mixture), an int, or an ``(N,)`` integer tensor.
    """

    def __init__(
        self,
        means: Sequence[object],
        covs: Sequence[object],
        weights: Sequence[object],
        class_probs: object | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        name: str | None = None,
        covariance_type: str = "full",
        source: dict[str, object] | None = None,
    ) -> None:
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
        self.covariance_type = covariance_type
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        device = as_device(device if device is not None else "cpu")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {type(name).__name__}")
        if source is not None and not isinstance(source, dict):
            raise TypeError(f"source must be a dict of plain data or None, got {type(source).__name__}")
        self.source = source
        mu, cov, phi = check_components(means, covs, weights, covariance_type)
        self._means, self._covs, self._weights = mu, cov, phi
        num_classes = len(mu)
        pi = (torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64)
              if class_probs is None else as_probabilities(class_probs, "class_probs", num_classes))
        self._class_probs = pi
        self.fingerprint = _fingerprint(mu, cov, phi, pi, covariance_type)
        self.name = name or f"mixture-{self.fingerprint[:8]}"
        self.dtype = dtype
        self.device = device

        # Padded (K, M, ...) layout: a missing component has log-weight -inf and a harmless unit Gaussian.
        d = mu[0].shape[1]
        k_max, m_max = num_classes, max(m.shape[0] for m in mu)
        means_p = torch.zeros(k_max, m_max, d, dtype=torch.float64)
        lam = torch.ones(k_max, m_max, d, dtype=torch.float64)
        # eigenvectors only where they are not the identity: (K, M, d, d) would not fit for large d and K
        rot = torch.eye(d, dtype=torch.float64).repeat(k_max, m_max, 1, 1) if covariance_type == "full" else None
        log_phi = torch.full((k_max, m_max), -math.inf, dtype=torch.float64)
        for k in range(k_max):
            mk = mu[k].shape[0]
            if covariance_type == "full":
                lam[k, :mk], rot[k, :mk] = torch.linalg.eigh(cov[k])
            else:
                lam[k, :mk] = cov[k] if covariance_type == "diag" else cov[k][:, None].expand(mk, d)
            means_p[k, :mk], log_phi[k, :mk] = mu[k], phi[k].log()

        def put(t: Tensor) -> Tensor:
            return t.to(dtype=dtype, device=self.device).contiguous()

        # Flat component axis j = (class, component), C = K*M. Rotated quantities are laid out [.., d, C]:
        # reductions over d then run across contiguous C-vectors, which is what makes small d fast.
        d_c = (2, 0, 1)                                                      # [K, M, d] -> [d, K, M]
        self._mu = put(means_p.reshape(-1, d))                               # [C, d]
        self._lam = put(lam.permute(*d_c).reshape(d, -1))                    # [d, C] eigenvalues of S_j
        if covariance_type == "full":
            self._rot = put(rot)                                             # [K, M, d, d] columns: eigenvectors
            self._rot_cat = put(rot.permute(2, 3, 0, 1).reshape(d, -1))     # [d, d*C] U_j columns, (i, j) order
            self._mu_rot = put(torch.einsum("kmj,kmji->ikm", means_p, rot).reshape(d, -1))  # [d, C] U_j^T mu_j
            self._chol = put(rot * lam.sqrt().unsqueeze(-2))                 # [K, M, d, d] U diag(sqrt(lam))
        else:
            self._sd = put(lam.sqrt().reshape(-1, d))                        # [C, d] standard deviations
            if covariance_type == "diag":
                self._mu_rot = put(means_p.permute(*d_c).reshape(d, -1))    # [d, C] (U = I)
            else:
                self._var = put(lam[:, :, 0].reshape(-1))                    # [C] lam_j
                self._mu_sq = put(means_p.square().sum(-1).reshape(-1))      # [C] ||mu_j||^2
        self._log_phi = put(log_phi.reshape(-1))                             # [C] log phi_cm
        self._log_pi = put(pi.log())                                         # [K]
        self._log_joint = put((pi.log()[:, None] + log_phi).reshape(-1))     # [C] log(pi_c phi_cm)
        self._class_of = torch.arange(k_max, device=self.device).repeat_interleave(m_max)  # [C]
        # the real components of the padded layout, class 0's first: the j of component_log_posterior and posterior
        self._real = torch.tensor([k * m_max + i for k in range(k_max) for i in range(mu[k].shape[0])],
                                  device=self.device)
        self._shape = (k_max, m_max, d)
        # full and diag hold (rows, d, C) temporaries; spherical only (rows, C), and wants long matrix products
        # (at most 2^24 elements per temporary however large d C is). Matrix-product paths (spherical, and diag with
        # one sigma) hold only (rows, C) temporaries and want long products: their own, larger chunks.
        per_row = k_max * m_max * d
        self._chunk_rows = max(min(256, (1 << 24) // per_row), _ELEMENTS_PER_CHUNK // per_row)
        self._chunk_rows_products = max(256, (_ELEMENTS_PER_CHUNK * 32) // (k_max * m_max))
        # log det(S_j + s^2 I) as the log of a product (one log per component, not per eigenvalue) is safe
        # while every product stays inside the dtype's range; beyond it the slower sum of logs is used.
        fin = torch.finfo(dtype)
        self._log_range = (math.log(fin.tiny) + 4.0, math.log(fin.max) - 4.0)
        self._lam_min, self._lam_max = float(lam.min()), float(lam.max())
        # Inputs beyond these limits would overflow the dtype inside (|x| through sum_i z_i^2 / v_i over d axes,
        # sigma through sigma^2): they are refused with the limit instead of returning NaN.
        reach = float(means_p.abs().max())
        self.x_limit = math.sqrt(fin.max * self._lam_min / 8.0) / d - reach
        self.sigma_limit = math.sqrt(fin.max) / 4.0

    # ------------------------------------------------------------------ description
    @property
    def num_classes(self) -> int:
        return len(self._means)

    @property
    def dim(self) -> int:
        return self._means[0].shape[1]

    @property
    def means(self) -> list[Tensor]:
        """Per-class component means ``(M_c, d)`` (float64, CPU copies)."""
        return [m.clone() for m in self._means]

    @property
    def covs(self) -> list[Tensor]:
        """Per-class component covariances as given, in the form of ``covariance_type``: ``(M_c, d, d)``,
        ``(M_c, d)`` or ``(M_c,)`` (float64, CPU copies). ``dense_covs`` gives ``(M_c, d, d)`` for any type."""
        return [s.clone() for s in self._covs]

    def component_variances(self) -> list[Tensor]:
        """Per-class component variances along each axis, ``(M_c, d)``: the covariances' diagonals, any type."""
        if self.covariance_type == "full":
            return [torch.diagonal(s, dim1=1, dim2=2).clone() for s in self._covs]
        return [s.clone() if self.covariance_type == "diag" else s[:, None].expand(-1, self.dim).clone()
                for s in self._covs]

    def dense_covs(self) -> list[Tensor]:
        """Per-class component covariances as ``(M_c, d, d)`` matrices, whatever ``covariance_type`` is."""
        if self.covariance_type == "full":
            return self.covs
        d = self.dim
        return [torch.diag_embed(s if self.covariance_type == "diag" else s[:, None].expand(-1, d))
                for s in self._covs]

    @property
    def weights(self) -> list[Tensor]:
        """Per-class component weights ``(M_c,)`` (float64, CPU copies)."""
        return [w.clone() for w in self._weights]

    @property
    def class_probs(self) -> Tensor:
        """Class prior ``pi: (K,)`` (float64, CPU copy)."""
        return self._class_probs.clone()

    def to(self, *args: torch.dtype | torch.device | str, dtype: torch.dtype | None = None,
           device: torch.device | str | None = None) -> ClassConditionalGMM:
        """The same mixture computing in another dtype and/or on another device. Like ``torch.nn.Module.to``,
        positional arguments may be a device (``"cuda"``) and/or a dtype (``torch.float32``)."""
        for arg in args:
            if isinstance(arg, torch.dtype):
                dtype = arg
            elif isinstance(arg, (str, torch.device)):
                device = arg
            else:
                raise TypeError(f"to() takes a dtype and/or a device, got {type(arg).__name__}")
        return ClassConditionalGMM(self._means, self._covs, self._weights, self._class_probs,
                                   dtype=dtype or self.dtype, device=device or self.device, name=self.name,
                                   covariance_type=self.covariance_type, source=self.source)

    def __repr__(self) -> str:
        sizes = [m.shape[0] for m in self._means]
        return (f"ClassConditionalGMM(name={self.name!r}, num_classes={self.num_classes}, dim={self.dim}, "
                f"components={sizes}, covariance_type={self.covariance_type!r}, fingerprint={self.fingerprint!r}, "
                f"dtype={self.dtype}, device={self.device})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassConditionalGMM):
            return NotImplemented
        return self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, object]:
        """The parameters as nested lists in the constructor's layout, plus ``name`` and, unless full,
        ``covariance_type``, and the ``source`` record when there is one (JSON-ready)."""
        out = {"name": self.name, "means": [m.tolist() for m in self._means], "covs": [s.tolist() for s in self._covs],
               "weights": [w.tolist() for w in self._weights], "class_probs": self._class_probs.tolist()}
        if self.covariance_type != "full":
            out["covariance_type"] = self.covariance_type
        return out if self.source is None else {**out, "source": self.source}

    @classmethod
    def from_dict(cls, data: object, source: str = "data", **kwargs: object) -> ClassConditionalGMM:
        """A mixture from ``to_dict()``'s layout, validated like the constructor (``source`` names it in errors)."""
        if not isinstance(data, dict):
            raise ValueError(f"{source} must hold a JSON object with keys {list(_FILE_KEYS)}, got "
                             f"{type(data).__name__}")
        missing = [k for k in _FILE_KEYS[:3] if k not in data]
        unknown = sorted(set(data) - {*_FILE_KEYS, "name", "covariance_type", "source"})
        if missing or unknown:
            raise ValueError(f"{source} must have keys {list(_FILE_KEYS)} (and optionally 'name', "
                             f"'covariance_type', 'source'); missing {missing}, unknown {unknown}")
        try:
            return cls(data["means"], data["covs"], data["weights"], data.get("class_probs"),
                       name=data.get("name"), covariance_type=data.get("covariance_type", "full"),
                       source=data.get("source"), **kwargs)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: {err}") from None

    def save(self, path: str | Path) -> Path:
        """Write the mixture as JSON (``to_dict``), atomically. Floats are written exactly (shortest repr), so
        ``load`` gives back the same fingerprint."""
        check_writable(path, "path")
        with atomic_open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, **kwargs: object) -> ClassConditionalGMM:
        """Read a mixture written by ``save`` (or by hand in the same layout); the name defaults to the file stem."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"mixture file {path} does not exist or is not a file")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"mixture file {path} is not readable JSON: {err}") from None
        if isinstance(data, dict) and "name" not in data:
            data = {**data, "name": path.stem}
        return cls.from_dict(data, source=f"mixture file {path}", **kwargs)

    def extent(self, pad: float = 3.0) -> list[tuple[float, float]]:
        """Per axis, ``[min_j (mu_j - pad sd_j), max_j (mu_j + pad sd_j)]`` over the components (sd: marginal):
        where the data lives."""
        mu = torch.cat(self._means)
        sd = torch.cat(self.component_variances()).sqrt()
        lo, hi = (mu - pad * sd).amin(0), (mu + pad * sd).amax(0)
        return [(float(a), float(b)) for a, b in zip(lo, hi)]

    # ------------------------------------------------------------------ densities and scores
    def log_prob(self, x: Tensor, sigma: float | Tensor = 0.0, c: int | Tensor | None = None) -> Tensor:
        """``log p_sigma(x | c)`` (``c=None``: ``log p_sigma(x)``). ``x: (N, d)`` -> ``(N,)``."""
        x, s, logw = self._inputs(x, sigma, c)

        def block(x: Tensor, s: Tensor, logw: Tensor) -> Tensor:
            _, log_norm = self._terms(x, s)
            return torch.logsumexp(logw + log_norm, dim=1)

        return self._chunked(block, x, s, logw)

    def log_prob_per_class(self, x: Tensor, sigma: float | Tensor = 0.0) -> Tensor:
        """``log p_sigma(x | c)`` for every class. ``x: (N, d)`` -> ``(N, K)``."""
        x, s, _ = self._inputs(x, sigma, None)
        k, m, _ = self._shape

        def block(x: Tensor, s: Tensor) -> Tensor:
            _, log_norm = self._terms(x, s)
            if m == 1:        # one component per class: the log-sum-exp is the identity (bit for bit)
                return self._log_phi + log_norm
            return torch.logsumexp((self._log_phi + log_norm).view(-1, k, m), dim=2)

        return self._chunked(block, x, s)

    def class_posterior(self, x: Tensor, sigma: float | Tensor = 0.0) -> Tensor:
        """Noisy classifier ``p_sigma(c | x) = pi_c p_sigma(x|c) / p_sigma(x)``. ``(N, d)`` -> ``(N, K)``."""
        return torch.softmax(self._log_pi + self.log_prob_per_class(x, sigma), dim=1)

    def log_class_posterior(self, x: Tensor, sigma: float | Tensor = 0.0) -> Tensor:
        """``log p_sigma(c | x)``, exact where the posterior itself underflows (far into other classes' territory,
        or raised to a large power). ``(N, d)`` -> ``(N, K)``."""
        return torch.log_softmax(self._log_pi + self.log_prob_per_class(x, sigma), dim=1)

    def component_posterior(self, x: Tensor, sigma: float | Tensor, c: int) -> Tensor:
        """Within-class responsibilities ``phi_cm N_m(x) / p_sigma(x|c)``. ``(N, d)`` -> ``(N, M_c)``."""
        x, s, _ = self._inputs(x, sigma, None)
        k, m, _ = self._shape
        cls = int(as_class_ids(c, 1, self.num_classes, self.device)[0])

        def block(x: Tensor, s: Tensor) -> Tensor:
            _, log_norm = self._terms(x, s)
            return torch.softmax(self._log_phi.view(k, m)[cls] + log_norm.view(-1, k, m)[:, cls], dim=1)

        return self._chunked(block, x, s)[:, :self._means[cls].shape[0]]

    def component_log_posterior(self, x: Tensor, sigma: float | Tensor, c: int | Tensor | None = None) -> Tensor:
        """``log P(j | x_sigma = x, c)`` for every component ``j = (class, component)``, class 0's first (``-inf``
        outside class ``c``; ``c=None``: every class, weighted by its prior). ``(N, d)`` -> ``(N, J)``."""
        x, s, logw = self._inputs(x, sigma, c)

        def block(x: Tensor, s: Tensor, logw: Tensor) -> Tensor:
            _, log_norm = self._terms(x, s)
            return torch.log_softmax(logw + log_norm, dim=1)

        return self._chunked(block, x, s, logw)[:, self._real]

    def posterior(self, x: Tensor, sigma: float | Tensor, c: int | Tensor | None = None) -> Posterior:
        """The exact posterior over clean data ``p(x0 | x_sigma = x, c)`` at each point, a Gaussian mixture with
        sampling, density and moments (``sandbox.core.posterior``); its mean is ``denoise``. ``x: (N, d)``."""
        log_r = self.component_log_posterior(x, sigma, c)
        x, s, _ = self._inputs(x, sigma, c)
        k, m, d = self._shape
        lam = self._lam.T[self._real]                                                    # (J, d)
        axes = (self._rot.reshape(k * m, d, d)[self._real] if self.covariance_type == "full"
                else torch.eye(d, dtype=self.dtype, device=self.device).expand(len(self._real), d, d))
        return build_posterior(log_r, self._mu[self._real], lam, axes, x, s)

    def score(self, x: Tensor, sigma: float | Tensor = 0.0, c: int | Tensor | None = None) -> Tensor:
        """``grad_x log p_sigma(x | c) = -sum_j r_j (S_j + sigma^2 I)^-1 (x - mu_j)``. ``(N, d)`` -> ``(N, d)``."""
        x, s, logw = self._inputs(x, sigma, c)

        def block(x: Tensor, s: Tensor, logw: Tensor) -> Tensor:
            state, log_norm = self._terms(x, s)
            return -self._pull(state, torch.softmax(logw + log_norm, dim=1))

        return self._chunked(block, x, s, logw)

    def cfg_score(self, x: Tensor, sigma: float | Tensor, c: int | Tensor, w: float | Tensor) -> Tensor:
        """CFG score ``s_w = s_c + w (s_c - s_u)`` (``w = 0``: conditional). ``(N, d)`` -> ``(N, d)``.

        Computed in one pass as ``-sum_j [(1 + w) r_j^c - w r_j^u] (S_j + sigma^2 I)^-1 (x - mu_j)``.
        """
        if c is None:
            raise ValueError("c must be a class id (int or (N,) tensor) for cfg_score, got None")
        x, s, logw_c = self._inputs(x, sigma, c)
        w = as_batch_scalar(w, x.shape[0], self.dtype, self.device, "w")

        def block(x: Tensor, s: Tensor, logw_c: Tensor, w: Tensor) -> Tensor:
            state, log_norm = self._terms(x, s)
            r_c = torch.softmax(logw_c + log_norm, dim=1)
            r_u = torch.softmax(self._log_joint + log_norm, dim=1)
            return -self._pull(state, (1.0 + w[:, None]) * r_c - w[:, None] * r_u)

        return self._chunked(block, x, s, logw_c, w)

    def class_scores(self, x: Tensor, sigma: float | Tensor = 0.0) -> Tensor:
        """Every class score ``s_c(x) = grad log p_sigma(x | c)``. ``x: (N, d)`` -> ``(N, K, d)``."""
        x, s, _ = self._inputs(x, sigma, None)
        k, m, _ = self._shape

        def block(x: Tensor, s: Tensor) -> Tensor:
            state, log_norm = self._terms(x, s)
            r = torch.softmax((self._log_phi + log_norm).view(-1, k, m), dim=2)   # [n, K, M] within class
            return -self._pull_per_class(state, r)

        return self._chunked(block, x, s)

    def denoise(self, x: Tensor, sigma: float | Tensor, c: int | Tensor | None = None) -> Tensor:
        """Tweedie denoiser ``E[x0 | x, c] = x + sigma^2 s_c(x)``. ``(N, d)`` -> ``(N, d)``.

        Evaluated as ``sum_j r_j [mu_j + S_j (S_j + sigma^2 I)^-1 (x - mu_j)]``, which equals the
        Tweedie form but avoids its cancellation at large sigma.
        """
        x, s, logw = self._inputs(x, sigma, c)

        def block(x: Tensor, s: Tensor, logw: Tensor) -> Tensor:
            state, log_norm = self._terms(x, s)
            r = torch.softmax(logw + log_norm, dim=1)
            return r @ self._mu + self._pull(state, r, shrink=True)

        return self._chunked(block, x, s, logw)

    # ------------------------------------------------------------------ sampling
    def sample_joint(self, n: int, generator: torch.Generator | int | None = None) -> tuple[Tensor, Tensor]:
        """``n`` rows of the joint data law: labels ``y ~ pi`` and ``x0 ~ p(. | y)``. -> ``(x0: (n, d), y: (n,))``."""
        n = as_count(n)
        g = as_generator(generator, self.device)
        if n == 0:
            return torch.empty(0, self.dim, dtype=self.dtype, device=self.device), \
                torch.empty(0, dtype=torch.long, device=self.device)
        y = torch.multinomial(self._class_probs.to(self.device), n, replacement=True, generator=g)
        return self.sample(n, c=y, generator=g), y

    def sample(
        self,
        n: int | Sequence[int] | torch.Size,
        c: int | Tensor | None = None,
        sigma: float | Tensor = 0.0,
        generator: torch.Generator | int | None = None,
    ) -> Tensor:
        """``n`` draws ``x = x0 + sigma eps``, ``x0 ~ p(. | c)`` (``c=None``: class drawn from ``pi``): ``(n, d)``.

        ``n`` may also be a ``sample_shape`` as in ``torch.distributions`` (a tuple or ``torch.Size``): then the
        result has shape ``(*sample_shape, d)`` (``c`` and ``sigma`` per draw, if tensors, of that shape).
        ``generator`` is a ``torch.Generator`` on the model's device or an int seed.
        """
        if isinstance(n, (tuple, list, torch.Size)):
            shape = tuple(as_count(k, "sample_shape entries") for k in n)
            flat = math.prod(shape)
            c = c.reshape(-1) if isinstance(c, Tensor) else c
            sigma = sigma.reshape(-1) if isinstance(sigma, Tensor) else sigma
            return self.sample(flat, c, sigma, generator).reshape(*shape, self.dim)
        n = as_count(n)
        g = as_generator(generator, self.device)
        s = as_batch_scalar(sigma, n, self.dtype, self.device, "sigma")
        if n == 0:
            return torch.empty(0, self.dim, dtype=self.dtype, device=self.device)
        if c is None:
            cls = torch.multinomial(self._log_pi.exp(), n, replacement=True, generator=g)
        else:
            cls = as_class_ids(c, n, self.num_classes, self.device)
        k, m, d = self._shape
        comp = torch.multinomial(self._log_phi.view(k, m)[cls].exp(), 1, replacement=True, generator=g)[:, 0]
        eps = torch.randn(n, d, dtype=self.dtype, device=self.device, generator=g)
        if self.covariance_type == "full":     # x0 = mu + U diag(sqrt(lam)) eps
            x0 = self._mu.view(k, m, d)[cls, comp] + torch.einsum("nij,nj->ni", self._chol[cls, comp], eps)
        else:
            x0 = self._mu.view(k, m, d)[cls, comp] + self._sd[cls * m + comp] * eps
        noise = torch.randn(n, d, dtype=self.dtype, device=self.device, generator=g)
        return x0 + s[:, None] * noise

    # ------------------------------------------------------------------ internals
    def _inputs(self, x: object, sigma: object, c: object) -> tuple[Tensor, Tensor, Tensor]:
        """Validated ``x: (N, d)``, ``sigma: (N,)`` and component log-weights ``(N, C)`` (or ``(C,)``)."""
        x = as_points(x, self.dim, self.dtype, self.device)
        n = x.shape[0]
        s = as_batch_scalar(sigma, n, self.dtype, self.device, "sigma")
        if n:
            big_x, big_s = float(x.detach().abs().max()), float(s.detach().max())
            if big_x > self.x_limit:
                raise ValueError(f"x must have entries of absolute value <= {self.x_limit:.3g} for this mixture in "
                                 f"{self.dtype} (beyond, its scores overflow), got {big_x:.3g}")
            if big_s > self.sigma_limit:
                raise ValueError(f"sigma must be <= {self.sigma_limit:.3g} in {self.dtype} (sigma^2 overflows), "
                                 f"got {big_s:.3g}")
        if c is None:
            return x, s, self._log_joint.expand(n, -1)
        cls = as_class_ids(c, n, self.num_classes, self.device)
        # Conditioning on c keeps only class c's components: the others get log-weight -inf.
        logw = torch.where(self._class_of[None, :] == cls[:, None], self._log_phi,
                           torch.tensor(-math.inf, dtype=self.dtype, device=self.device))
        return x, s, logw

    def _terms(self, x: Tensor, s: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """``log N(x; mu_j, S_j + s^2 I)`` for every component ``(n, C)``, and the state ``_pull`` needs.

        full (and diag with several sigmas): ``z = U_j^T (x - mu_j)``, ``v = lam_j + s^2`` per axis, state
        ``(z / v,)`` of shape ``(n, d, C)``; diag with one sigma: quadratic forms as matrix products, state
        ``(x, 1 / v, mu / v)`` with ``(d, C)`` tables; spherical: ``v = lam_j + s^2`` and squared distances by
        matrix products, state ``(x, 1 / v)``. ``x: (n, d)``, ``s: (n,)``.
        """
        d = x.shape[1]
        s2 = s * s
        # one sigma for the whole chunk (the usual case): per-component variances are a row, not an (n, C) table
        uniform = s2.numel() > 0 and bool((s2 == s2[0]).all())
        if self.covariance_type == "spherical":
            v = self._var + (s2[:1, None] if uniform else s2[:, None])                  # [1 or n, C]
            dist2 = torch.addmm((x * x).sum(1, keepdim=True) + self._mu_sq, x, self._mu.T, alpha=-2.0)
            inv_v = 1.0 / v
            log_norm = (dist2.clamp_min_(0.0) * (-0.5 * inv_v)).add_(-0.5 * d * (v.log() + _LOG_2PI))
            return (x, inv_v), log_norm
        if self.covariance_type == "diag" and uniform:
            # sum_i (x_i - mu_i)^2 / v_i = x^2 . (1/v) - 2 x . (mu/v) + mu^2 . (1/v): matrix products, no (n, d, C)
            inv_v = 1.0 / (self._lam + s2[0])                                            # [d, C]
            mu_v = self._mu_rot * inv_v
            quad = torch.addmm((self._mu_rot * mu_v).sum(0), x * x, inv_v).sub_(2.0 * (x @ mu_v)).clamp_min_(0.0)
            log_norm = quad.add_(-inv_v.log().sum(0) + d * _LOG_2PI).mul_(-0.5)
            return (x, inv_v, mu_v), log_norm
        if self.covariance_type == "full":
            z = (x @ self._rot_cat).view(-1, d, self._mu_rot.shape[1]) - self._mu_rot   # [n, d, C]
        else:
            z = x[:, :, None] - self._mu_rot                                              # [n, d, C] (U = I)
        v = self._lam + s2[:, None, None]                                                # [n, d, C]
        zv = z / v
        s2_max = float(s2.max()) if s2.numel() else 0.0
        lo, hi = self._log_range
        if d * math.log(self._lam_max + s2_max) < hi and d * math.log(self._lam_min) > lo:
            log_det = v.prod(1).log()
        else:
            log_det = v.log().sum(1)
        log_norm = -0.5 * ((z * zv).sum(1) + log_det + d * _LOG_2PI)                    # [n, C]
        return (zv,), log_norm

    def _pull(self, state: tuple[Tensor, ...], r: Tensor, shrink: bool = False) -> Tensor:
        """``sum_j r_j (S_j + s^2 I)^-1 (x - mu_j)``; with ``shrink``, ``sum_j r_j S_j (S_j + s^2 I)^-1 (x - mu_j)``
        (the denoiser's correction to ``sum_j r_j mu_j``). ``r: (n, C)`` -> ``(n, d)``."""
        if self.covariance_type == "spherical":
            x, inv_v = state
            a = r * inv_v * self._var if shrink else r * inv_v                           # [n, C]
            return torch.addmm(x * a.sum(1, keepdim=True), a, self._mu, alpha=-1.0)
        if len(state) == 3:                        # diag, one sigma: sum_j r_j (x - mu_j) / v_j as matrix products
            x, inv_v, mu_v = state
            if shrink:
                inv_v, mu_v = inv_v * self._lam, mu_v * self._lam
            return x * (r @ inv_v.T) - r @ mu_v.T
        zv = state[0] * self._lam if shrink else state[0]
        if self.covariance_type == "diag":
            return (r.unsqueeze(1) * zv).sum(2)
        return (r.unsqueeze(1) * zv).flatten(1) @ self._rot_cat.T

    def _pull_per_class(self, state: tuple[Tensor, ...], r: Tensor) -> Tensor:
        """``_pull`` with within-class weights ``r: (n, K, M)``, each class apart. -> ``(n, K, d)``."""
        k, m, d = self._shape
        if self.covariance_type == "spherical":
            x, inv_v = state
            a = r * inv_v.view(-1, k, m)                                                  # [n, K, M]
            return x[:, None, :] * a.sum(2, keepdim=True) - torch.einsum("nkm,kmd->nkd", a, self._mu.view(k, m, d))
        if len(state) == 3:
            x, inv_v, mu_v = state
            inv_v, mu_v = inv_v.T.reshape(k, m, d), mu_v.T.reshape(k, m, d)
            return x[:, None, :] * torch.einsum("nkm,kmd->nkd", r, inv_v) - torch.einsum("nkm,kmd->nkd", r, mu_v)
        t = r.unsqueeze(1) * state[0].view(-1, d, k, m)                                   # [n, d, K, M]
        if self.covariance_type == "diag":
            return t.sum(3).transpose(1, 2)
        return torch.einsum("nikm,kmji->nkj", t, self._rot)

    def _chunked(self, fn: Callable[..., Tensor], *rows: Tensor) -> Tensor:
        """Apply ``fn`` to row-chunks of ``rows`` (``x``, ``sigma``, ...) so temporaries stay cache-sized;
        concatenate the results."""
        n, s = rows[0].shape[0], rows[1]
        products = self.covariance_type == "spherical" or (
            self.covariance_type == "diag" and n > 0 and bool((s == s[0]).all()))
        size = self._chunk_rows_products if products else self._chunk_rows
        if n <= size:
            return fn(*rows)
        return torch.cat([fn(*(r[i:i + size] for r in rows)) for i in range(0, n, size)])


_FILE_KEYS = ("means", "covs", "weights", "class_probs")
COVARIANCE_TYPES = ("full", "diag", "spherical")


def _fingerprint(mu: list[Tensor], cov: list[Tensor], phi: list[Tensor], pi: Tensor,
                 covariance_type: str = "full") -> str:
    """SHA-256 (first 16 hex digits) of the float64 parameters and their shapes (and the covariance type unless
    full, so that full mixtures keep the fingerprints they always had): the mixture's identity."""
    h = hashlib.sha256()
    if covariance_type != "full":
        h.update(covariance_type.encode())
    for t in (*mu, *cov, *phi, pi):
        h.update(str(tuple(t.shape)).encode())
        h.update(np.ascontiguousarray(t.numpy(), dtype="<f8").tobytes())
    return h.hexdigest()[:16]


def check_components(
    means: Sequence[object], covs: Sequence[object], weights: Sequence[object], covariance_type: str = "full"
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    """Validate per-class component parameters; return float64 CPU tensors (full covs symmetrised exactly)."""
    for name, seq in (("means", means), ("covs", covs), ("weights", weights)):
        if isinstance(seq, (str, bytes)) or (not isinstance(seq, Sequence) and not isinstance(seq, Tensor)):
            raise TypeError(f"{name} must be a sequence with one entry per class, got {type(seq).__name__}")
    if len(means) == 0:
        raise ValueError("means must hold at least one class")
    if not len(means) == len(covs) == len(weights):
        raise ValueError(f"means, covs and weights must have one entry per class, got lengths "
                         f"{len(means)}, {len(covs)}, {len(weights)}")
    mu, cov, phi = [], [], []
    dim = None
    for k, (m, s, w) in enumerate(zip(means, covs, weights)):
        m = as_real_tensor(m, f"means[{k}]")
        if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
            raise ValueError(f"means[{k}] must have shape (M_c, d) with M_c, d >= 1, got {tuple(m.shape)}")
        dim = m.shape[1] if dim is None else dim
        if m.shape[1] != dim:
            raise ValueError(f"means[{k}] must have dimension d = {dim} like means[0], got {m.shape[1]}")
        mc = m.shape[0]
        s = as_real_tensor(s, f"covs[{k}]")
        shape = {"full": (mc, dim, dim), "diag": (mc, dim), "spherical": (mc,)}[covariance_type]
        if s.shape != shape:
            raise ValueError(f"covs[{k}] must have shape {shape} for covariance_type {covariance_type!r}, got "
                             f"{tuple(s.shape)}")
        if not bool(torch.isfinite(m).all()) or not bool(torch.isfinite(s).all()):
            raise ValueError(f"means[{k}] and covs[{k}] must be finite")
        if covariance_type != "full":
            if bool((s <= 0).any()):
                raise ValueError(f"covs[{k}] must hold variances > 0 for covariance_type {covariance_type!r}, "
                                 f"got min {float(s.min()):.3g}")
            mu.append(m)
            cov.append(s)
            phi.append(as_probabilities(w, f"weights[{k}]", mc))
            continue
        asym = (s - s.transpose(1, 2)).abs().amax(dim=(1, 2))
        scale = s.abs().amax(dim=(1, 2))
        if bool((asym > _SYMMETRY_RTOL * scale).any()):
            bad = int((asym > _SYMMETRY_RTOL * scale).nonzero()[0])
            raise ValueError(f"covs[{k}][{bad}] must be symmetric (max |S - S^T| = {float(asym[bad]):.3g})")
        s = 0.5 * (s + s.transpose(1, 2))
        evals = torch.linalg.eigvalsh(s)
        bad_spd = evals[:, 0] <= _SPD_RTOL * evals[:, -1].clamp_min(0.0)
        if bool(bad_spd.any()):
            bad = int(bad_spd.nonzero()[0])
            raise ValueError(f"covs[{k}][{bad}] must be symmetric positive definite "
                             f"(eigenvalues {evals[bad].tolist()})")
        mu.append(m)
        cov.append(s)
        phi.append(as_probabilities(w, f"weights[{k}]", mc))
    return mu, cov, phi
