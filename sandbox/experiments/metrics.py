"""Separation and diversity measures of samples, against exact densities at sigma = 0 (docs/theory.md, section 7).

Samples ``x: (N, d)`` are meant to be of target class ``c``. Every measure returns an ``Estimate``: the
value and a confidence interval (default 95%), with the interval's method named:

    bayes_accuracy      mean 1[argmax_k p(k|x) = c]                            Wilson (binomial)
    mean_posterior      mean p(c|x)                                            normal (CLT)
    log_ratio           mean over x of  mean_{k!=c} / min_{k!=c}  log p(x|c) - log p(x|k)   normal
    leakage             fraction of x with max_{k!=c} p(x|k) > p(x|c)          Wilson
    mode_occupancy      soft share of each component, mean r_m(x)  (= phi_cm for exact samples)   normal
    mode_coverage       sum_m min(occupancy_m, phi_cm)  (1 = every mode at its weight)        bootstrap
    entropy             Kozachenko-Leonenko k-NN estimate                       normal over per-point terms
    covariance_trace    tr Cov(x)                                               bootstrap
    energy_distance     2 E|X-Y| - E|X-X'| - E|Y-Y'|  (V-statistic)            bootstrap
    sliced_wasserstein  mean over random directions of W1 of the projections  bootstrap
    ks_distance (1D)    sup |F_N - F|, with the KS p-value                      DKW band
    x0_overshoot        a rule's denoiser along its own paths, in posterior sds from the exact posterior mean
                        (mean over steps, per path)                              normal over paths

Bootstrap intervals are percentile intervals from a seeded generator (so reports are reproducible); for the two
distances the bootstrap law is recentred on the estimate (resampling repeats points, which biases distances up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import spatial, special, stats

from ..core import cache
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_callable, as_class_ids, as_count, as_int, as_number, as_points

Tensor = torch.Tensor
LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 200
MAX_PAIRWISE_POINTS = 2000   # energy distance / sliced Wasserstein use at most this many points per sample


@cache.storable
@dataclass(frozen=True)
class Estimate:
    """``value`` with the interval ``[lo, hi]`` at confidence ``level``; ``p_value`` for tests (KS)."""

    value: float
    lo: float
    hi: float
    method: str
    level: float = LEVEL
    p_value: float | None = None

    def __str__(self) -> str:
        return f"{self.value:.4g} [{self.lo:.4g}, {self.hi:.4g}]"

    @property
    def half_width(self) -> float:
        return 0.5 * (self.hi - self.lo)

    def as_dict(self) -> dict[str, float | str | None]:
        return {"value": self.value, "lo": self.lo, "hi": self.hi, "method": self.method, "level": self.level,
                "p_value": self.p_value}

    @staticmethod
    def from_dict(data: dict[str, object]) -> Estimate:
        """Inverse of ``as_dict``."""
        return Estimate(**data)

    @staticmethod
    def exact(value: float, method: str) -> Estimate:
        """A value known without sampling error (a count, a measured time): its interval is the point itself."""
        return Estimate(value, value, value, method)

    @staticmethod
    def mean(estimates: Sequence[Estimate]) -> Estimate:
        """Mean of independent estimates; half-widths add in quadrature: ``sqrt(sum h_k^2) / K``, clipped to the
        span of the constituent intervals."""
        if not estimates:
            raise ValueError("estimates must not be empty")
        k = len(estimates)
        value = sum(e.value for e in estimates) / k
        half = math.sqrt(sum(e.half_width ** 2 for e in estimates)) / k
        # never beyond the constituent intervals (keeps e.g. a proportion's interval inside [0, 1])
        lo, hi = max(value - half, min(e.lo for e in estimates)), min(value + half, max(e.hi for e in estimates))
        return Estimate(value, lo, hi, f"mean of {k} ({estimates[0].method})", estimates[0].level)


# ---------------------------------------------------------------------------------------------- class separation
def bayes_accuracy(gmm: ClassConditionalGMM, x: Tensor, c: int, level: float = LEVEL) -> Estimate:
    """Fraction of ``x`` that the Bayes classifier at sigma = 0 assigns to ``c``, with a Wilson interval.

    Exact ties are split evenly (uniform tie-breaking), so ``K`` identical classes give ``1/K``.
    """
    c = _class(gmm, c)
    post = _posterior(gmm, x)
    top = post == post.amax(1, keepdim=True)
    return proportion(float((top[:, c].double() / top.sum(1)).sum()), x.shape[0], level)


def mean_posterior(gmm: ClassConditionalGMM, x: Tensor, c: int, level: float = LEVEL) -> Estimate:
    """Mean of ``p(c | x)`` at sigma = 0, with a normal interval."""
    c = _class(gmm, c)
    return normal_mean(_posterior(gmm, x)[:, c], level)


def log_ratio(gmm: ClassConditionalGMM, x: Tensor, c: int, reduce: str = "mean", level: float = LEVEL) -> Estimate:
    """Inter-class log-likelihood ratio ``log p(x|c) - log p(x|k)``, averaged (``reduce="mean"``) or minimised
    (``"min"``) over ``k != c`` per sample, then averaged over samples (normal interval)."""
    if reduce not in ("mean", "min"):
        raise ValueError(f"reduce must be 'mean' or 'min', got {reduce!r}")
    ratio = _other_classes(gmm, x, c)
    return normal_mean(ratio.mean(1) if reduce == "mean" else ratio.amin(1), level)


def leakage(gmm: ClassConditionalGMM, x: Tensor, c: int, level: float = LEVEL) -> Estimate:
    """Fraction of ``x`` where another class is more likely, ``max_{k!=c} p(x|k) > p(x|c)`` (Wilson interval)."""
    ratio = _other_classes(gmm, x, c)
    return proportion(float((ratio.amin(1) < 0).sum()), x.shape[0], level)


# ---------------------------------------------------------------------------------------------- diversity
def mode_occupancy(gmm: ClassConditionalGMM, x: Tensor, c: int, level: float = LEVEL) -> list[Estimate]:
    """Soft share of each component ``m`` of class ``c``: mean of its responsibility ``r_m(x)`` within class ``c``.

    For exact samples of ``p(.|c)`` the expectation is exactly ``phi_cm``; a collapsed mode shows as ~0.
    """
    r = gmm.component_posterior(_points(gmm, x), 0.0, _class(gmm, c))
    return [normal_mean(r[:, m], level) for m in range(r.shape[1])]


def mode_coverage(gmm: ClassConditionalGMM, x: Tensor, c: int, level: float = LEVEL,
                  seed: int = 0) -> Estimate:
    """``sum_m min(occupancy_m, phi_cm)``: 1 when every mode holds its weight, less as modes empty (bootstrap)."""
    c = _class(gmm, c)
    r = gmm.component_posterior(_points(gmm, x), 0.0, c)
    phi = gmm.weights[c].to(r)
    return _bootstrap(lambda i: torch.minimum(r[i].mean(1), phi).sum(1), (x.shape[0],), level, seed)


def entropy(x: Tensor, k: int = 4, level: float = LEVEL) -> Estimate:
    """Kozachenko-Leonenko estimate of the differential entropy (nats) from ``k``-th neighbour distances ``e_i``:

        H = psi(N) - psi(k) + log V_d + (d / N) sum_i log e_i,    V_d = pi^(d/2) / Gamma(d/2 + 1).

    The interval is a normal interval over the per-point terms (neighbour dependence ignored: approximate).
    """
    pts = _numpy_points(x, "x")
    n, d = pts.shape
    k = as_count(k, "k")
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, N) = [1, {n}), got {k}")
    dist = spatial.cKDTree(pts).query(pts, k=k + 1)[0][:, k]
    if not (dist > 0).all():
        raise ValueError("x holds duplicate points; the k-NN entropy estimate needs distinct points")
    const = special.digamma(n) - special.digamma(k) + 0.5 * d * math.log(math.pi) - special.gammaln(0.5 * d + 1)
    return normal_mean(torch.from_numpy(const + d * np.log(dist)), level, method="normal, per-point k-NN terms")


def covariance_trace(x: Tensor, level: float = LEVEL, seed: int = 0) -> Estimate:
    """``tr Cov(x)`` (the total variance), with a bootstrap interval."""
    pts = torch.as_tensor(_numpy_points(x, "x"))
    return _bootstrap(lambda i: pts[i].var(1).sum(1), (pts.shape[0],), level, seed)


# ---------------------------------------------------------------------------------------------- fidelity to a target
def energy_distance(x: Tensor, y: Tensor, level: float = LEVEL, seed: int = 0,
                    max_points: int = MAX_PAIRWISE_POINTS) -> Estimate:
    """Energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` (V-statistic; 0 iff the laws agree), on at most
    ``max_points`` points of each sample. The bootstrap reweights the three distance matrices."""
    dab, daa, dbb = _distance_matrices(x, y, as_int(max_points, "max_points", minimum=2))
    return _bootstrap(lambda i, j: _energy(_resample_weights(i), _resample_weights(j), dab, daa, dbb),
                      (daa.shape[0], dbb.shape[0]), level, seed, recentre=True)


def energy_statistic(x: Tensor, y: Tensor, max_points: int = MAX_PAIRWISE_POINTS) -> float:
    """The energy distance's value alone (no interval), e.g. to build a null distribution by simulation."""
    dab, daa, dbb = _distance_matrices(x, y, as_int(max_points, "max_points", minimum=2))
    wa, wb = (torch.full((1, n), 1.0 / n, dtype=torch.float64) for n in (daa.shape[0], dbb.shape[0]))
    return float(_energy(wa, wb, dab, daa, dbb)[0])


def sliced_wasserstein(x: Tensor, y: Tensor, projections: int = 32, level: float = LEVEL, seed: int = 0,
                       max_points: int = MAX_PAIRWISE_POINTS) -> Estimate:
    """Mean over ``projections`` random unit directions ``u`` of ``W1(u.X, u.Y)``, on ``n = min(N, M, max_points)``
    points of each sample (equal sizes make each 1-D W1 a mean gap between sorted projections)."""
    px, py = _numpy_points(x, "x"), _numpy_points(y, "y")
    if px.shape[1] != py.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {px.shape[1]} and {py.shape[1]}")
    n = min(px.shape[0], py.shape[0], as_int(max_points, "max_points", minimum=2))
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(px.shape[1], as_int(projections, "projections", minimum=1), dtype=torch.float64, generator=g)
    u = u / u.norm(dim=0)
    a, b = torch.as_tensor(px[:n]) @ u, torch.as_tensor(py[:n]) @ u

    def stat(i: Tensor, j: Tensor) -> Tensor:
        return (a[i].sort(1)[0] - b[j].sort(1)[0]).abs().mean((1, 2))

    return _bootstrap(stat, (n, n), level, seed, recentre=True)


def ks_distance(x: Tensor, cdf: Callable[[np.ndarray], np.ndarray], level: float = LEVEL) -> Estimate:
    """1-D Kolmogorov-Smirnov distance ``sup |F_N - F|`` to the exact CDF ``cdf``, with the KS p-value.

    Interval from the Dvoretzky-Kiefer-Wolfowitz band ``eps = sqrt(log(2 / (1 - level)) / (2N))``:
    the distance between the sampled law and ``F`` lies in ``[D - eps, D + eps]``.
    """
    as_callable(cdf, "cdf", "cdf(t: ndarray) -> ndarray of probabilities (the exact CDF)")
    pts = _numpy_points(x, "x")
    if pts.shape[1] != 1:
        raise ValueError(f"x must have shape (N, 1) for a KS test, got {pts.shape}")
    values = np.asarray(cdf(np.sort(pts[:, 0])), dtype=float)
    if values.shape != (pts.shape[0],) or not np.all(np.isfinite(values) & (values >= 0) & (values <= 1)) \
            or np.any(np.diff(values) < 0):
        raise ValueError("cdf must map an array of points to non-decreasing values in [0, 1] of the same shape")
    res = stats.kstest(pts[:, 0], cdf)
    eps = math.sqrt(math.log(2.0 / (1.0 - level)) / (2 * pts.shape[0]))
    return Estimate(float(res.statistic), max(0.0, float(res.statistic) - eps), float(res.statistic) + eps,
                    "DKW band", level, float(res.pvalue))


def ks_two_sample(a: Tensor, b: Tensor, level: float = LEVEL) -> Estimate:
    """Two-sample Kolmogorov-Smirnov distance ``sup |F_a - F_b|`` between the laws of two 1-D samples ``a: (N,)``,
    ``b: (M,)``, with scipy's exact or asymptotic p-value.

    Interval from two Dvoretzky-Kiefer-Wolfowitz bands, each at level ``(1 + level) / 2`` (Bonferroni):
    ``eps = sqrt(log(4 / (1 - level)) / (2N)) + sqrt(log(4 / (1 - level)) / (2M))``.
    """
    level = _check_level(level)
    x, y = (_numpy_points(t.reshape(-1, 1), name)[:, 0] for t, name in ((a, "a"), (b, "b")))
    res = stats.ks_2samp(x, y)
    eps = sum(math.sqrt(math.log(4.0 / (1.0 - level)) / (2 * len(v))) for v in (x, y))
    return Estimate(float(res.statistic), max(0.0, float(res.statistic) - eps), float(res.statistic) + eps,
                    "DKW bands", level, float(res.pvalue))


# ---------------------------------------------------------------------------------------------- a full report
def x0_overshoot(gmm: ClassConditionalGMM, states: Tensor, sigmas: Tensor, c: int,
                 denoiser: Callable[[Tensor, Tensor], Tensor], level: float = LEVEL) -> Estimate:
    """Where a rule's denoiser ``D(x, sigma)`` lands in x0 space relative to the exact posterior ``p(x0 | x, c)``,
    along paths ``states: (P, S, d)`` at ``sigmas: (S,)`` (steps with sigma = 0 are skipped):

        z = sqrt((D - m)^T C^-1 (D - m)),   m, C = mean and covariance of p(x0 | x_sigma = x, c)

    (0 for the class's own denoiser ``D_c``; a few units: ``D`` beyond the bulk of the posterior, its support),
    averaged over the steps of each path, then over paths with a normal interval."""
    c = _class(gmm, c)
    if not isinstance(states, Tensor) or states.ndim != 3 or states.shape[2] != gmm.dim:
        raise ValueError(f"states must be a tensor (P, S, {gmm.dim}), got {getattr(states, 'shape', states)}")
    if not isinstance(sigmas, Tensor) or sigmas.shape != states.shape[1:2]:
        raise ValueError(f"sigmas must be a tensor ({states.shape[1]},) matching states, got "
                         f"{getattr(sigmas, 'shape', sigmas)}")
    per_step = []
    for i in torch.nonzero(sigmas > 0).flatten().tolist():
        x = states[:, i]
        s = torch.full((x.shape[0],), float(sigmas[i]), dtype=x.dtype, device=x.device)
        post = gmm.posterior(x, s, c)
        gap = denoiser(x, s) - post.mean()
        per_step.append((gap * torch.linalg.solve(post.covariance(), gap)).sum(1).clamp_min(0.0).sqrt())
    if not per_step:
        raise ValueError("sigmas must hold at least one sigma > 0")
    return normal_mean(torch.stack(per_step, 1).mean(1), level)


# ---------------------------------------------------------------------------------------------- helpers
def _points(gmm: ClassConditionalGMM, x: Tensor) -> Tensor:
    return as_points(x, gmm.dim, gmm.dtype, gmm.device)


def _class(gmm: ClassConditionalGMM, c: object) -> int:
    """The target class as a Python int (an int or a one-element integer tensor)."""
    if isinstance(c, Tensor) and c.numel() != 1:
        raise ValueError(f"c must be one class id (an int), got a tensor of shape {tuple(c.shape)}")
    return int(as_class_ids(c.reshape(()) if isinstance(c, Tensor) else c, 1, gmm.num_classes, gmm.device)[0])


def _posterior(gmm: ClassConditionalGMM, x: Tensor) -> Tensor:
    return gmm.class_posterior(_points(gmm, x), 0.0)


def _other_classes(gmm: ClassConditionalGMM, x: Tensor, c: int) -> Tensor:
    """``log p(x|c) - log p(x|k)`` for ``k != c``: ``(N, K - 1)``."""
    c = _class(gmm, c)
    if gmm.num_classes < 2:
        raise ValueError("inter-class measures need at least 2 classes")
    logp = gmm.log_prob_per_class(_points(gmm, x), 0.0)
    others = [k for k in range(gmm.num_classes) if k != c]
    return logp[:, c:c + 1] - logp[:, others]


def _numpy_points(x: Tensor, name: str) -> np.ndarray:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must be a tensor of shape (N, d) with N >= 2, got {getattr(x, 'shape', type(x))}")
    pts = x.detach().to("cpu", torch.float64).numpy()
    if not np.isfinite(pts).all():
        raise ValueError(f"{name} must be finite; it contains NaN or Inf")
    return pts


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


def proportion(k: float, n: int, level: float = LEVEL) -> Estimate:
    """``k / n`` with the Wilson score interval (``k`` may be fractional: split ties)."""
    if n == 0:
        raise ValueError("x must hold at least one sample")
    z = float(stats.norm.ppf(0.5 + 0.5 * _check_level(level)))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at k = 0 (k = n) the Wilson bound is exactly 0 (1); say so instead of rounding near it
    lo = 0.0 if k == 0 else max(0.0, float(centre - half))
    hi = 1.0 if k == n else min(1.0, float(centre + half))
    return Estimate(p, lo, hi, "Wilson", level)


def normal_mean(values: Tensor, level: float = LEVEL, method: str = "normal") -> Estimate:
    """Mean of ``values: (N,)`` with a normal (CLT) interval."""
    if not isinstance(values, Tensor) or values.ndim != 1:
        raise TypeError(f"values must be a 1-D torch.Tensor, got {getattr(values, 'shape', type(values).__name__)}")
    n = values.shape[0]
    if n < 2:
        raise ValueError("x must hold at least two samples")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("values must be finite to average them; they contain NaN or Inf")
    m, sd = float(values.mean()), float(values.std())
    half = float(stats.norm.ppf(0.5 + 0.5 * _check_level(level))) * sd / math.sqrt(n)
    return Estimate(m, m - half, m + half, method, level)


def ratio_of_means(values: Tensor, level: float = LEVEL) -> Estimate:
    """``mean(a) / mean(b)`` of ``values: (N, 2)`` (columns ``a``, ``b``; ``mean(b) > 0``) with the delta-method
    normal interval, ``var(r) = (var(a) - 2 r cov(a, b) + r^2 var(b)) / (N mean(b)^2)``: accurate at any level,
    where a percentile bootstrap of 200 resamples cannot resolve a tail of 1e-3 (simultaneous intervals)."""
    if not isinstance(values, Tensor) or values.ndim != 2 or values.shape[1] != 2 or values.shape[0] < 2:
        raise ValueError(f"values must be a tensor of shape (N >= 2, 2), got {getattr(values, 'shape', values)}")
    n = values.shape[0]
    mean = values.mean(0)
    if not float(mean[1]) > 0:
        raise ValueError("the denominator's mean must be > 0")
    r = float(mean[0] / mean[1])
    cov = torch.cov(values.T)
    var = float(cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * float(mean[1]) ** 2)
    half = float(stats.norm.ppf(0.5 + 0.5 * _check_level(level))) * math.sqrt(max(var, 0.0))
    return Estimate(r, r - half, r + half, "delta method", level)


def bootstrap_curve(values: Tensor, stat: Callable[[Tensor], Tensor], level: float = LEVEL,
                    seed: int = 0, recentre: bool = False) -> Estimate:
    """``stat`` of the mean curve of ``values: (N, m)`` (one curve per sample), with a percentile bootstrap
    interval over the samples; ``stat`` maps mean curves ``(R, m)`` to ``(R,)`` (e.g. where a curve peaks).
    ``recentre``: for a ``stat`` whose resamples are biased (a squared norm of a mean: repeated rows add their
    noise), the bootstrap law is shifted so that its median is the estimate."""
    if not isinstance(values, Tensor) or values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(f"values must be a tensor of shape (N >= 2, m), got {getattr(values, 'shape', values)}")
    return _bootstrap(lambda i: stat(_resample_weights(i) @ values), (values.shape[0],), level, seed, recentre)


def quantile(values: Tensor, p: float, level: float = LEVEL) -> Estimate:
    """The ``p``-quantile of ``values: (N,)`` with the distribution-free order-statistic interval
    ``[x_(l), x_(u)]``: ``l, u`` the binomial(N, p) quantiles at ``(1 -+ level) / 2`` (plus one for ``u``), so the
    true quantile of a continuous law lies inside with probability at least ``level``."""
    if not isinstance(values, Tensor) or values.ndim != 1 or values.shape[0] < 2:
        raise ValueError(f"values must be a 1-D tensor of at least 2 samples, got {getattr(values, 'shape', values)}")
    p = as_number(p, "p")
    if not 0 < p < 1:
        raise ValueError(f"p must be a probability in (0, 1), got {p}")
    n, a = values.shape[0], 1 - _check_level(level)
    x = values.sort().values
    lo = max(int(stats.binom.ppf(a / 2, n, p)), 1)             # 1-based order statistics
    hi = min(int(stats.binom.ppf(1 - a / 2, n, p)) + 1, n)
    return Estimate(float(torch.quantile(values, p)), float(x[lo - 1]), float(x[hi - 1]), "order statistics", level)


def _distance_matrices(x: Tensor, y: Tensor, max_points: int) -> tuple[Tensor, Tensor, Tensor]:
    a, b = (torch.as_tensor(_numpy_points(t, name)[:max_points]) for t, name in ((x, "x"), (y, "y")))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {a.shape[1]} and {b.shape[1]}")
    # the direct route: cdist's matrix-product shortcut loses digits to cancellation (and is slower in low d)
    exact = "donot_use_mm_for_euclid_dist"
    return (torch.cdist(a, b, compute_mode=exact), torch.cdist(a, a, compute_mode=exact),
            torch.cdist(b, b, compute_mode=exact))


def _energy(wa: Tensor, wb: Tensor, dab: Tensor, daa: Tensor, dbb: Tensor) -> Tensor:
    """``2 wa' Dab wb - wa' Daa wa - wb' Dbb wb`` for weight rows ``wa: (R, n)``, ``wb: (R, m)`` -> ``(R,)``."""
    return 2 * ((wa @ dab) * wb).sum(1) - ((wa @ daa) * wa).sum(1) - ((wb @ dbb) * wb).sum(1)


def _resample_weights(i: Tensor) -> Tensor:
    """Bootstrap indices ``(R, n)`` -> the weights ``counts / n`` they put on each point, ``(R, n)``."""
    return torch.zeros(i.shape, dtype=torch.float64).scatter_add_(1, i, torch.ones(i.shape, dtype=torch.float64)) \
        / i.shape[1]


def _bootstrap(stat: Callable[..., Tensor], sizes: tuple[int, ...], level: float, seed: int,
               recentre: bool = False, resamples: int = BOOTSTRAP_RESAMPLES, batch: int = 25) -> Estimate:
    """Percentile bootstrap of ``stat``, which maps index tensors ``(R, size_i)`` (one per sample, resampled
    independently) to ``(R,)`` values. ``recentre`` shifts the bootstrap law so its median is the estimate:
    distances between samples are biased upwards under resampling (repeated points), and the raw percentile
    interval can then miss the estimate itself."""
    _check_level(level)
    g = torch.Generator().manual_seed(seed)
    value = float(stat(*(torch.arange(n)[None] for n in sizes))[0])
    draws = torch.cat([stat(*(torch.randint(n, (min(batch, resamples - r), n), generator=g) for n in sizes))
                       for r in range(0, resamples, batch)]).numpy()
    lo, mid, hi = np.quantile(draws, [0.5 - 0.5 * level, 0.5, 0.5 + 0.5 * level])
    shift = value - mid if recentre else 0.0
    kind = "percentile, recentred" if recentre else "percentile"
    return Estimate(value, float(lo + shift), float(hi + shift), f"bootstrap ({resamples}, {kind})", level)
