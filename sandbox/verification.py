"""The theorem checked five ways (THEORY.md 6): CFG is the unique optimum of sample-adaptive weighted MCLR.

Each check returns ``CheckResult`` rows (check, setting, residual, tolerance, passed, details):

1. ``closed-form``   pointwise minimiser from class densities and class scores vs ``cfg_score``;
2. ``quadrature``    ``J_w[s_w + delta h] - J_w[s_w] = delta^2 E_{p_sigma(.|c)} ||h||^2`` by Gauss-Hermite
                     quadrature per mixture component (the eps-integral in closed form: given x and a
                     component, eps is Gaussian), 1D and 2D;
3. ``monte-carlo``   the same identity from the *sampled* training loss, inside simultaneous 99% intervals;
4. ``learning``      an MLP field trained by SGD on the sampled weighted loss converges to ``s_w``; with DSM,
                     to ``s_c``;
5. ``symbolic``      sympy solves the pointwise quadratic for 1D Gaussian classes and simplifies
                     ``minimiser - CFG score`` to exactly 0;
6. ``distribution``  ``q_0 ∝ p(x|c)^(1+w) p(x)^(-w)`` maximises ``E_q[log p(c|x)] - KL(q || p(.|c)) / w`` on a grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from . import objectives, theory, zoo
from .mixtures import ClassConditionalGMM

Tensor = torch.Tensor

SIGMAS = (0.01, 0.05, 0.2, 1.0, 3.0, 10.0)
GUIDANCE = (0.0, 0.5, 2.0, 7.0)
VARIANTS = objectives.VARIANTS
EXTENTS = {"teaching_1d": (-3.5, 4.0), "overlap_2d": (-3.0, 3.0, -3.0, 3.0), "branching_2d": (-3.5, 3.5, -1.0, 5.0)}


@dataclass
class CheckResult:
    check: str
    setting: str
    residual: float
    tolerance: float
    passed: bool
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def relative_error(estimate: Tensor, reference: Tensor) -> float:
    """``max_i ||e_i - r_i|| / max(||r_i||, 1e-6 rms(||r||))``: relative per point, floored near zeros of ``r``."""
    ref_norm = reference.norm(dim=-1)
    floor = 1e-6 * float(ref_norm.square().mean().sqrt())
    return float(((estimate - reference).norm(dim=-1) / ref_norm.clamp_min(floor)).max())


def evaluation_points(gmm: ClassConditionalGMM, name: str, sigma: float, n_grid: int, n_random: int,
                      seed: int = 0) -> Tensor:
    """A regular grid over the mixture's plotting extent plus samples of ``p_sigma`` and wide points."""
    ext = EXTENTS[name]
    if gmm.dim == 1:
        grid = torch.linspace(ext[0], ext[1], n_grid, dtype=torch.float64)[:, None]
    else:
        xs = torch.linspace(ext[0], ext[1], n_grid, dtype=torch.float64)
        ys = torch.linspace(ext[2], ext[3], n_grid, dtype=torch.float64)
        grid = torch.cartesian_prod(xs, ys)
    g = torch.Generator().manual_seed(seed)
    near = gmm.sample(n_random, sigma=sigma, generator=g)
    wide = (4.0 + 2.0 * sigma) * torch.randn(n_random, gmm.dim, dtype=torch.float64, generator=g)
    return torch.cat([grid, near, wide])


# ------------------------------------------------------------------------------------------ 1. closed form


def check_closed_form(names: Iterable[str] = ("teaching_1d", "overlap_2d", "branching_2d"),
                      sigmas: Iterable[float] = SIGMAS, ws: Iterable[float] = GUIDANCE, n_grid: int = 61,
                      n_random: int = 1000, tol: float = 1e-10) -> list[CheckResult]:
    """Weighted-MCLR minimiser (densities + class scores) vs ``cfg_score`` (responsibilities), every label."""
    results = []
    for name in names:
        gmm = zoo.get(name)
        for sigma in sigmas:
            x = evaluation_points(gmm, name, sigma, n_grid, n_random)
            for variant in VARIANTS:
                for w in ws:
                    err = max(relative_error(theory.minimiser(gmm, x, sigma, c, f"weighted-{variant}", w=w).minimiser,
                                             gmm.cfg_score(x, sigma, c, w)) for c in range(gmm.num_classes))
                    results.append(CheckResult("closed-form", f"{name} {variant} sigma={sigma:g} w={w:g}", err, tol,
                                               err <= tol, {"points": x.shape[0]}))
    return results


# ------------------------------------------------------------------------------------------ fields h


def smooth_field(dim: int, num_classes: int, seed: int, features: int = 4) -> Callable[[Tensor, Tensor], Tensor]:
    """A random smooth perturbation ``h(x, c) = A_c cos(Omega_c x + b_c)``: ``x: (N, d)``, ``c: (N,)`` -> ``(N, d)``."""
    g = torch.Generator().manual_seed(seed)
    amp = torch.randn(num_classes, features, dim, dtype=torch.float64, generator=g) / math.sqrt(features)
    freq = 0.7 * torch.randn(num_classes, dim, features, dtype=torch.float64, generator=g)
    phase = 2 * math.pi * torch.rand(num_classes, features, dtype=torch.float64, generator=g)

    def h(x: Tensor, c: Tensor) -> Tensor:
        arg = torch.einsum("nd,ndf->nf", x, freq[c]) + phase[c]
        return torch.einsum("nf,nfd->nd", torch.cos(arg), amp[c])

    return h


# ------------------------------------------------------------------------------------------ 2. quadrature


def _gauss_hermite(dim: int, n: int) -> tuple[Tensor, Tensor]:
    """Tensor-product nodes ``(n^d, d)`` and weights ``(n^d,)`` for ``E_{xi ~ N(0, I)}``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    weights = weights / math.sqrt(2 * math.pi)
    grids = np.meshgrid(*([nodes] * dim), indexing="ij")
    wgrids = np.meshgrid(*([weights] * dim), indexing="ij")
    xi = np.stack([gr.ravel() for gr in grids], axis=1)
    wt = np.prod(np.stack([wg.ravel() for wg in wgrids], axis=1), axis=1)
    return torch.as_tensor(xi), torch.as_tensor(wt)


def quadrature_identity(gmm: ClassConditionalGMM, sigma: float, c: int, w: float, variant: str,
                        h: Callable[[Tensor, Tensor], Tensor], delta: float, n_nodes: int,
                        beta_scale: float = 1.0) -> tuple[float, float]:
    """``(J_w[s_w + delta h] - J_w[s_w], delta^2 E_{p_sigma(.|c)} ||h||^2)`` for label ``c``, by quadrature.

    ``J_w = sum_{k,m} pi-weight_km E_{x ~ N(mu_km, S_km + sigma^2 I)} E_{eps | x, km}[rw(x) l(s; x0, eps, c)]``;
    given ``x`` and component ``km``, ``eps`` is Gaussian with mean ``-sigma s_km(x)``, so the loss difference
    integrates over eps to ``rw(x) [2 delta h . (s_w - s_km) + delta^2 ||h||^2]`` (the trace terms cancel).
    Each component's x-integral uses Gauss-Hermite nodes through its own Cholesky factor.
    """
    xi, wt = _gauss_hermite(gmm.dim, n_nodes)
    eye = torch.eye(gmm.dim, dtype=torch.float64)
    pi = gmm.class_probs
    lhs, rhs = 0.0, 0.0
    for k in range(gmm.num_classes):
        if variant == "mismatched" and k != c:
            class_weight = -float(pi[k])          # negatives: sum_{c' != c} pi_c' E_{p(.|c')}[beta l]
        elif variant == "mismatched":
            class_weight = 1.0
        else:
            class_weight = None                   # unconditional: (1 + w) on class c, -pi_k beta on every class
        for mu, cov, phi in zip(gmm.means[k], gmm.covs[k], gmm.weights[k]):
            cov_s = cov + sigma**2 * eye
            x = mu + xi @ torch.linalg.cholesky(cov_s).T                      # [n^d, d]
            s_comp = -torch.linalg.solve(cov_s, (x - mu).T).T                  # component score
            cls = torch.full((x.shape[0],), c, dtype=torch.long)
            s_w = gmm.cfg_score(x, sigma, c, w)
            r = gmm.class_posterior(x, sigma)[:, c]
            alpha, beta = objectives.sample_adaptive_weights(r, w, pi[c])
            if variant == "mismatched":
                rw = class_weight * (alpha if k == c else beta_scale * beta)
            else:
                rw = (1.0 + w) * (k == c) - float(pi[k]) * beta_scale * beta
            hx = h(x, cls)
            integrand = rw * (2 * delta * (hx * (s_w - s_comp)).sum(1) + delta**2 * hx.square().sum(1))
            lhs += float(phi) * float((wt * integrand).sum())
            if k == c:
                rhs += float(phi) * delta**2 * float((wt * hx.square().sum(1)).sum())
    return lhs, rhs


def check_quadrature(names: Iterable[str] = ("teaching_1d", "overlap_2d"), sigmas: Iterable[float] = SIGMAS,
                     ws: Iterable[float] = GUIDANCE, delta: float = 0.3, tol: float = 1e-8,
                     nodes: dict[int, int] | None = None, seed: int = 0) -> list[CheckResult]:
    """Functional identity by quadrature, for both variants and every label, at each (mixture, sigma, w)."""
    nodes = nodes or {1: 120, 2: 70}
    results = []
    for name in names:
        gmm = zoo.get(name)
        h = smooth_field(gmm.dim, gmm.num_classes, seed)
        for sigma in sigmas:
            for variant in VARIANTS:
                for w in ws:
                    worst, pairs = 0.0, []
                    for c in range(gmm.num_classes):
                        lhs, rhs = quadrature_identity(gmm, sigma, c, w, variant, h, delta, nodes[gmm.dim])
                        worst = max(worst, abs(lhs - rhs) / abs(rhs))
                        pairs.append((lhs, rhs))
                    results.append(CheckResult("quadrature", f"{name} {variant} sigma={sigma:g} w={w:g}", worst, tol,
                                               worst <= tol, {"delta": delta, "lhs_rhs": pairs}))
    return results


# ------------------------------------------------------------------------------------------ 3. Monte Carlo


def monte_carlo_identity(gmm: ClassConditionalGMM, sigma: float, w: float, variant: str,
                         h: Callable[[Tensor, Tensor], Tensor], delta: float, n: int, seed: int,
                         beta_scale: float = 1.0) -> tuple[float, float]:
    """Mean and standard error of the sampled ``loss(s_w + delta h) - loss(s_w)`` over rows of the joint data.

    Its expectation is ``delta^2 sum_c pi_c E_{p_sigma(.|c)} ||h(., c)||^2`` when the weights are right.
    ``beta_scale`` multiplies the negative weights (a deliberately wrong weight for the power check).
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.multinomial(gmm.class_probs, n, replacement=True, generator=g)
    x0 = gmm.sample(n, c=y, generator=g)
    eps = torch.randn(n, gmm.dim, dtype=torch.float64, generator=g)
    if variant == "mismatched":
        c_neg = objectives.mismatched_labels(y, gmm.num_classes, g)
    else:
        c_neg = objectives.uniform_labels(n, gmm.num_classes, g)

    def s_w(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        return gmm.cfg_score(x, s, c, w)

    def s_pert(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        return gmm.cfg_score(x, s, c, w) + delta * h(x, c)

    args = (x0, eps, sigma, y, c_neg, w, gmm.class_posterior, gmm.num_classes, variant)
    t1 = objectives.weighted_mclr_terms(s_pert, *args)
    t0 = objectives.weighted_mclr_terms(s_w, *args)
    diff = t1.pos_weight * (t1.pos_loss - t0.pos_loss) - beta_scale * t1.neg_weight * (t1.neg_loss - t0.neg_loss)
    return float(diff.mean()), float(diff.std() / math.sqrt(n))


def predicted_quadratic(gmm: ClassConditionalGMM, sigma: float, h: Callable[[Tensor, Tensor], Tensor],
                        delta: float, n_nodes: int) -> float:
    """``delta^2 sum_c pi_c E_{p_sigma(.|c)} ||h(., c)||^2`` by per-component Gauss-Hermite quadrature."""
    xi, wt = _gauss_hermite(gmm.dim, n_nodes)
    eye = torch.eye(gmm.dim, dtype=torch.float64)
    total = 0.0
    for k in range(gmm.num_classes):
        for mu, cov, phi in zip(gmm.means[k], gmm.covs[k], gmm.weights[k]):
            x = mu + xi @ torch.linalg.cholesky(cov + sigma**2 * eye).T
            hx = h(x, torch.full((x.shape[0],), k, dtype=torch.long))
            total += float(gmm.class_probs[k] * phi) * float((wt * hx.square().sum(1)).sum())
    return delta**2 * total


def check_monte_carlo(names: Iterable[str] = ("teaching_1d", "overlap_2d"), sigmas: Iterable[float] = SIGMAS,
                      ws: Iterable[float] = GUIDANCE, n: int = 200_000, delta: float = 0.5, level: float = 0.99,
                      beta_scale: float = 1.0, seed: int = 0) -> list[CheckResult]:
    """Sampled-loss identity in every cell, judged with simultaneous (Bonferroni) ``level`` intervals.

    The residual is ``|mean - predicted| / se`` and the tolerance the Bonferroni z-value.
    """
    cells = [(name, sigma, variant, w) for name in names for sigma in sigmas for variant in VARIANTS for w in ws]
    z_crit = float(stats.norm.ppf(1 - (1 - level) / (2 * len(cells))))
    results = []
    models = {name: zoo.get(name) for name in names}
    fields = {name: smooth_field(g.dim, g.num_classes, seed) for name, g in models.items()}
    for i, (name, sigma, variant, w) in enumerate(cells):
        gmm, h = models[name], fields[name]
        mean, se = monte_carlo_identity(gmm, sigma, w, variant, h, delta, n, seed + 1 + i, beta_scale)
        pred = predicted_quadratic(gmm, sigma, h, delta, 120 if gmm.dim == 1 else 60)
        z = abs(mean - pred) / se
        results.append(CheckResult("monte-carlo", f"{name} {variant} sigma={sigma:g} w={w:g}", z, z_crit,
                                   z <= z_crit, {"mean": mean, "se": se, "predicted": pred, "n": n,
                                                 "level": level, "cells": len(cells), "beta_scale": beta_scale}))
    return results


# ------------------------------------------------------------------------------------------ 4. learning


def train_field(gmm: ClassConditionalGMM, sigma: float, c: int, objective: str, w: float, steps: int,
                batch: int, seed: int, width: int = 128, lr: float = 3e-3,
                progress: bool = False) -> tuple[torch.nn.Module, list[float]]:
    """Fit an MLP field ``s(x)`` for label ``c`` at one ``sigma`` by Adam on a sampled objective.

    ``objective``: ``"dsm"`` (rows of class c) or ``"weighted-mismatched"`` (rows of the joint data with
    mismatched negatives). The network predicts ``sigma * s(x)`` (unit scale at every sigma).
    Returns the network (float32) and the loss per step.
    """
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(gmm.dim, width), torch.nn.SiLU(), torch.nn.Linear(width, width),
                              torch.nn.SiLU(), torch.nn.Linear(width, width), torch.nn.SiLU(),
                              torch.nn.Linear(width, gmm.dim))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    scale = 1.0 / math.sqrt(1.0 + sigma**2)

    def field(x: Tensor, s: Tensor, cls: Tensor) -> Tensor:
        # only label c is trained; rows with other labels contribute through the exact score (a constant)
        out = net((x * scale).float()).double() / sigma
        if objective == "dsm":
            return out
        return torch.where((cls == c)[:, None], out, gmm.cfg_score(x, s, cls, w))

    losses = []
    for _ in tqdm(range(steps), desc=f"train {objective} sigma={sigma:g}", disable=not progress, leave=False):
        if objective == "dsm":
            y = torch.full((batch,), c, dtype=torch.long)
        else:
            y = torch.multinomial(gmm.class_probs, batch, replacement=True, generator=g)
        x0 = gmm.sample(batch, c=y, generator=g)
        eps = torch.randn(batch, gmm.dim, dtype=torch.float64, generator=g)
        if objective == "dsm":
            loss = objectives.dsm_loss(field, x0, eps, sigma, y, gmm.num_classes).mean()
        else:
            c_neg = objectives.mismatched_labels(y, gmm.num_classes, g)
            loss = objectives.weighted_mclr_loss(field, x0, eps, sigma, y, c_neg, w, gmm.class_posterior,
                                                 gmm.num_classes, "mismatched").mean()
        opt.zero_grad()
        (loss * sigma**2).backward()
        opt.step()
        sched.step()
        losses.append(float(loss))
    net.eval()
    return net, losses


def field_error(gmm: ClassConditionalGMM, fn: Callable[[Tensor], Tensor], target: Callable[[Tensor], Tensor],
                sigma: float, c: int, n: int = 20_000, seed: int = 123) -> float:
    """RMS error ``sqrt(E_{x ~ p_sigma(.|c)} ||fn(x) - target(x)||^2)``."""
    x = gmm.sample(n, c=c, sigma=sigma, generator=seed)
    return float((fn(x) - target(x)).square().sum(1).mean().sqrt())


def check_learning(name: str = "overlap_2d", sigmas: Iterable[float] = (0.3, 0.6, 1.2), w: float = 2.0, c: int = 0,
                   steps: int = 3000, batch: int = 4096, ratio_tol: float = 0.1, seed: int = 0,
                   progress: bool = False) -> list[CheckResult]:
    """Weighted MCLR field -> ``s_w`` and DSM field -> ``s_c``; residual = own error / ``||s_c - s_w||``."""
    gmm = zoo.get(name)
    results = []
    for sigma in sigmas:
        def s_w(x: Tensor, sigma: float = sigma) -> Tensor:
            return gmm.cfg_score(x, sigma, c, w)

        def s_c(x: Tensor, sigma: float = sigma) -> Tensor:
            return gmm.score(x, sigma, c)

        baseline = field_error(gmm, s_c, s_w, sigma, c)
        for objective, target in (("weighted-mismatched", s_w), ("dsm", s_c)):
            net, losses = train_field(gmm, sigma, c, objective, w, steps, batch, seed, progress=progress)
            scale = 1.0 / math.sqrt(1.0 + sigma**2)

            def learned(x: Tensor, net: torch.nn.Module = net, sigma: float = sigma, scale: float = scale) -> Tensor:
                with torch.no_grad():
                    return net((x * scale).float()).double() / sigma

            err = field_error(gmm, learned, target, sigma, c)
            other = s_c if target is s_w else s_w
            ratio = err / baseline
            results.append(CheckResult(
                "learning", f"{name} {objective} sigma={sigma:g} w={w:g}", ratio, ratio_tol, ratio <= ratio_tol,
                {"error_vs_target": err, "error_s_c_vs_s_w": baseline,
                 "error_vs_other": field_error(gmm, learned, other, sigma, c), "steps": steps, "batch": batch,
                 "loss_first": float(np.mean(losses[:50])), "loss_last": float(np.mean(losses[-50:])),
                 "losses": losses[:: max(1, steps // 200)]}))
    return results


# ------------------------------------------------------------------------------------------ 5. symbolic


def symbolic_minimiser(num_classes: int = 2, variant: str = "mismatched"):
    """sympy derivation for 1D Gaussian classes ``p_k = N(x; m_k, v_k + sigma^2)`` with prior ``pi_k``.

    1. DSM step: for a Gaussian class, ``eps | x`` has mean ``sigma (x - m_k) / (v_k + sigma^2)``, which is
       ``-sigma s_k(x)`` (checked), so ``E[l | x, k] = (s - s_k)^2 + const``.
    2. The weighted objective's pointwise quadratic ``Q(s) = sum_k a_k (s - s_k)^2``, with ``a_k`` the class
       density times the row weight of THEORY.md 5, is solved for ``s`` (``dQ/ds = 0``), keeping ``p_k`` and
       ``s_k`` as symbols so the algebra stays rational.
    3. ``s* - (s_c + w (s_c - s_u))`` is brought to one fraction and cancelled; then the Gaussian ``p_k``
       and ``s_k`` are substituted. Returns ``(s_star, s_cfg, difference)``, ``difference`` a sympy expression.
    """
    import sympy as sp

    x, s = sp.symbols("x s", real=True)
    sig, w = sp.Symbol("sigma", positive=True), sp.Symbol("w", nonnegative=True)
    m = sp.symbols(f"m0:{num_classes}", real=True)
    v = sp.symbols(f"v0:{num_classes}", positive=True)
    p = sp.symbols(f"p0:{num_classes}", positive=True)        # class densities p_sigma(x | k)
    sk = sp.symbols(f"s0:{num_classes}", real=True)           # class scores s_k(x)
    pis = list(sp.symbols(f"pi0:{num_classes - 1}", positive=True))
    pis.append(1 - sum(pis))
    gauss = [sp.exp(-(x - m[k]) ** 2 / (2 * (v[k] + sig**2))) / sp.sqrt(2 * sp.pi * (v[k] + sig**2))
             for k in range(num_classes)]
    gauss_scores = [sp.diff(sp.log(gauss[k]), x) for k in range(num_classes)]
    for k in range(num_classes):                               # step 1: E[eps | x, k] = -sigma s_k
        eps_mean = sig * (x - m[k]) / (v[k] + sig**2)            # Cov(eps, x) Var(x)^-1 (x - m_k)
        if sp.simplify(eps_mean / sig + gauss_scores[k]) != 0:
            raise AssertionError("Gaussian conditioning step failed")
    c = 0
    p_u = sum(pis[k] * p[k] for k in range(num_classes))
    r = pis[c] * p[c] / p_u
    alpha, beta = 1 + w * (1 - r), w * r / pis[c]
    # J_w^c of THEORY.md 5: positives weigh p(x|c); negatives sum_{c'} pi_c' p(x|c') (all c' if unconditional)
    if variant == "mismatched":
        coeff = [p[c] * alpha] + [-pis[k] * p[k] * beta for k in range(1, num_classes)]
    else:
        coeff = [(1 + w) * p[c] - pis[c] * p[c] * beta] + [-pis[k] * p[k] * beta for k in range(1, num_classes)]
    quadratic = sum(coeff[k] * (s - sk[k]) ** 2 for k in range(num_classes))
    (s_star,) = sp.solve(sp.diff(quadratic, s), s)              # step 2
    s_u = sum(pis[k] * p[k] * sk[k] for k in range(num_classes)) / p_u
    s_cfg = sk[c] + w * (sk[c] - s_u)
    difference = sp.cancel(sp.together(s_star - s_cfg))          # step 3
    difference = sp.cancel(difference.subs({**dict(zip(p, gauss)), **dict(zip(sk, gauss_scores))}))
    return s_star, s_cfg, difference


def check_symbolic(classes: Iterable[int] = (2, 3)) -> list[CheckResult]:
    results = []
    for k in classes:
        for variant in VARIANTS:
            _, _, diff = symbolic_minimiser(k, variant)
            results.append(CheckResult("symbolic", f"1D Gaussians K={k} {variant}", 0.0 if diff == 0 else math.inf,
                                       0.0, diff == 0, {"difference": str(diff)}))
    return results


# ------------------------------------------------------------------------------------------ 6. distribution


def alignment_objective(q: Tensor, log_post_c: Tensor, log_p_c: Tensor, w: float) -> float:
    """``F[q] = sum_i q_i log p(c|x_i) - (1/w) sum_i q_i log(q_i / p_i(c))`` for grid masses ``q`` (sum 1)."""
    p_c = torch.softmax(log_p_c, 0)
    return float((q * log_post_c).sum() - (q * (q.log() - p_c.log())).sum() / w)


def check_distribution(names: Iterable[str] = ("teaching_1d", "overlap_2d"), ws: Iterable[float] = (0.5, 2.0, 7.0),
                       n_grid: int = 201, perturbations: int = 20, tol: float = 1e-10,
                       seed: int = 0) -> list[CheckResult]:
    """On a grid: ``F[q_0] = log Z / w`` and ``F[q_0] - F[q] = KL(q || q_0) / w > 0`` for perturbed ``q``."""
    results = []
    for name in names:
        gmm = zoo.get(name)
        ext = EXTENTS[name]
        axes = [torch.linspace(ext[2 * i], ext[2 * i + 1], n_grid if gmm.dim == 1 else n_grid // 2,
                               dtype=torch.float64) for i in range(gmm.dim)]
        x = axes[0][:, None] if gmm.dim == 1 else torch.cartesian_prod(*axes)
        g = torch.Generator().manual_seed(seed)
        for c in range(gmm.num_classes):
            log_p_c = gmm.log_prob(x, 0.0, c)                     # cell masses ∝ density (uniform grid)
            log_post_c = gmm.class_posterior(x, 0.0)[:, c].log()
            for w in ws:
                log_q0 = theory.tilted_log_density_unnormalised(gmm, x, c, w)
                q0 = torch.softmax(log_q0, 0)
                # log Z of the discrete Gibbs form: q0 ∝ p_c(x) p(c|x)^w on the grid
                log_z = float(torch.logsumexp(torch.log_softmax(log_p_c, 0) + w * log_post_c, 0))
                f0 = alignment_objective(q0, log_post_c, log_p_c, w)
                worst = abs(f0 - log_z / w) / abs(log_z / w)
                maximal = True
                for _ in range(perturbations):
                    q = torch.softmax(log_q0 + 0.3 * torch.randn(x.shape[0], dtype=torch.float64, generator=g), 0)
                    gap = f0 - alignment_objective(q, log_post_c, log_p_c, w)
                    kl = float((q * (q.log() - q0.log())).sum()) / w
                    maximal &= gap > 0
                    worst = max(worst, abs(gap - kl) / kl)
                results.append(CheckResult("distribution", f"{name} c={c} w={w:g}", worst, tol,
                                           worst <= tol and maximal, {"F_q0": f0, "logZ_over_w": log_z / w}))
    return results


# ------------------------------------------------------------------------------------------ all


def run_all(fast: bool = False, progress: bool = True) -> list[CheckResult]:
    """Every check; ``fast`` trims sizes (same code paths) to finish in well under a minute."""
    if fast:
        plan: list[tuple[str, Callable[[], list[CheckResult]]]] = [
            ("closed form", lambda: check_closed_form(n_grid=31, n_random=300)),
            ("quadrature", lambda: check_quadrature(sigmas=(0.01, 0.2, 1.0, 3.0, 10.0))),
            ("Monte Carlo", lambda: check_monte_carlo(sigmas=(0.05, 1.0), ws=(0.5, 2.0), n=40_000)),
            ("learning", lambda: check_learning(sigmas=(0.6,), steps=600, batch=2048, ratio_tol=0.25)),
            ("symbolic", lambda: check_symbolic(classes=(2,))),
            ("distribution", lambda: check_distribution(ws=(2.0,))),
        ]
    else:
        plan = [
            ("closed form", check_closed_form),
            ("quadrature", check_quadrature),
            ("Monte Carlo", check_monte_carlo),
            ("learning", check_learning),
            ("symbolic", check_symbolic),
            ("distribution", check_distribution),
        ]
    results: list[CheckResult] = []
    bar = tqdm(plan, desc="verify", unit="check", disable=not progress)
    for label, run in bar:
        bar.set_postfix_str(label)
        results += run()
    return results
