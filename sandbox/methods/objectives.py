"""Training objectives on batches ``(x0, eps, sigma, c)``: DSM, MCLR and sample-adaptive weighted MCLR.

A score is any ``LabelledField`` (``sandbox.fields``), ``score_fn(x: (N, d), sigma: (N,), c: (N,)) -> (N, d)``:
the exact ``ClassConditionalGMM.score``, a field, or a network. Every loss returns per-row values ``(N,)``; average
them for the batch estimate. Rows are drawn from the joint data distribution ``(x0, y) ~ pi_y p(x0 | y)``.

docs/theory.md, sections 3-5, for one target label ``c``:

    l(s; x0, eps, c)  = || s(x0 + sigma eps, c) + eps / sigma ||^2                       (DSM)
    MCLR_lambda       = (1 + lambda) l(x0, y) - lambda l(x0, c~),   c~ ~ U({1..K} \\ {y})
    J_w^c[s]          = E_{p(.|c)}[ alpha_w l ] - sum_{c' != c} pi_c' E_{p(.|c')}[ beta_w l ]   (mismatched)
                      = (1 + w) E_{p(.|c)}[ l ] - w E_p[ (r_c / pi_c) l ]                      (unconditional)
    alpha_w = 1 + w (1 - r_c(x)),  beta_w = w r_c(x) / pi_c,  r_c(x) = p_sigma(c | x).

Summed over target labels with weights ``pi_c``, the priors cancel and each data row ``(x0, y)`` carries

    mismatched:     alpha_w^y(x) l(x0, y) - (K - 1) w r_c~(x) l(x0, c~),   c~ ~ U({1..K} \\ {y})
    unconditional:  (1 + w)       l(x0, y) -  K      w r_c~(x) l(x0, c~),   c~ ~ U({1..K})

(the factors K - 1 and K undo the uniform draw of the negative label). Both are minimised by the CFG
score ``s_w`` for every label (see ``sandbox.theory``).

The MCLR losses take one negative label per row, ``c_neg: (N,)``, or several, ``c_neg: (N, M)``, and then average
the negative term over them. With all ``K - 1`` mismatched labels (``all_mismatched_labels``) that average *is* the
expectation over the draw of ``c~``: the same objective, without the noise of drawing the label (a Rao-Blackwell
estimator, at ``K`` net passes per row instead of 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..core.fields import Field, LabelledField
from ..core.validation import (
    as_batch_scalar,
    as_callable,
    as_class_ids,
    as_count,
    as_device,
    as_generator,
    as_int,
    as_number,
    as_probability_table,
)

Tensor = torch.Tensor
PosteriorFn = Callable[[Tensor, Tensor], Tensor]
VARIANTS = ("mismatched", "unconditional")


def dsm_loss(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
             num_classes: int | None = None) -> Tensor:
    """Per-row DSM loss ``|| s(x0 + sigma eps, sigma, c) + eps / sigma ||^2``, ``sigma > 0``. -> ``(N,)``."""
    x0, eps, sigma, c = _batch(x0, eps, sigma, c, num_classes)
    return _dsm(score_fn, x0, eps, sigma, c)


def mclr_loss(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
              c_neg: Tensor, lam: float, num_classes: int, neg_cap: float | None = None) -> Tensor:
    """Unweighted MCLR ``(1 + lam) l(x0, c) - lam l(x0, c_neg)`` per row, ``c_neg != c``. -> ``(N,)``.

    Draw ``c_neg`` with ``mismatched_labels``. Unbounded below where ``A(x) <= 0`` (``theory.mclr_coefficient``):
    pushing ``s(x, c_neg)`` away from the data there lowers the loss without end. ``neg_cap = kappa`` is the
    stabiliser used for fine-tuning: each negative term is capped, ``min(l(x0, c_neg), kappa d / sigma^2)``
    (``d / sigma^2`` is the DSM loss's scale, ``E ||eps / sigma||^2``), so a row stops rewarding the push once its
    negative loss exceeds ``kappa`` times that scale and the objective is bounded below.
    """
    lam = as_number(lam, "lam", minimum=0.0)
    if neg_cap is not None:
        neg_cap = as_number(neg_cap, "neg_cap", minimum=0.0, strict=True)
    num_classes = as_int(num_classes, "num_classes", minimum=2)
    x0, eps, sigma, c = _batch(x0, eps, sigma, c, num_classes)
    c_neg = _negative_labels(c_neg, c, num_classes)
    pos, neg = _pos_neg(score_fn, x0, eps, sigma, c, c_neg)
    if neg_cap is not None:
        neg = torch.minimum(neg, neg_cap * x0.shape[1] / sigma[:, None] ** 2)
    return (1.0 + lam) * pos - lam * neg.mean(1)


def sample_adaptive_weights(r_c: Tensor, w: float, prior_c: float | Tensor) -> tuple[Tensor, Tensor]:
    """``alpha_w = 1 + w (1 - r_c)`` (positives) and ``beta_w = w r_c / pi_c`` (negatives), ``r_c = p_sigma(c|x)``.

    ``r_c``: a floating tensor of probabilities (any shape); ``w >= 0``; ``prior_c`` in ``(0, 1]``."""
    if not isinstance(r_c, Tensor):
        raise TypeError(f"r_c must be a floating torch.Tensor of probabilities, got {type(r_c).__name__}")
    r_c = as_probability_table(r_c, "r_c", tuple(r_c.shape))
    w = as_number(w, "w", minimum=0.0)
    prior_c = as_number(prior_c, "prior_c", minimum=0.0, maximum=1.0, strict=True)
    return 1.0 + w * (1.0 - r_c), w * r_c / prior_c


def weighted_mclr_loss(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
                       c_neg: Tensor, w: float | Tensor, posterior_fn: PosteriorFn, num_classes: int,
                       variant: str = "mismatched") -> Tensor:
    """Sample-adaptive weighted MCLR per row (module docstring), minimised by the CFG score. -> ``(N,)``.

    ``c``: the data rows' labels ``y``; ``c_neg``: negative labels from ``mismatched_labels`` (variant
    ``"mismatched"``) or ``uniform_labels`` (``"unconditional"``), ``(N,)``, or ``(N, M)`` (the negative term
    averaged over them: ``all_mismatched_labels``, module docstring). ``posterior_fn(x, sigma) -> (N, K)`` is the
    noisy classifier that sets the weights: ``gmm.class_posterior`` for exact weights, or a model's own.
    The weights are treated as constants (no gradient flows through them).
    """
    terms = weighted_mclr_terms(score_fn, x0, eps, sigma, c, c_neg, w, posterior_fn, num_classes, variant)
    return terms.pos_weight * terms.pos_loss - (terms.neg_weight * terms.neg_loss).mean(1)


class WeightedTerms(NamedTuple):
    """The two halves of a weighted-MCLR row: ``pos_weight * pos_loss - mean(neg_weight * neg_loss)``; the positive
    halves ``(N,)``, the negative ones ``(N, M)``, one column per negative label."""

    pos_weight: Tensor
    pos_loss: Tensor
    neg_weight: Tensor
    neg_loss: Tensor


def weighted_mclr_terms(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
                        c_neg: Tensor, w: float | Tensor, posterior_fn: PosteriorFn, num_classes: int,
                        variant: str = "mismatched") -> WeightedTerms:
    """Row weights and DSM losses of ``weighted_mclr_loss``, kept apart (for diagnostics and checks)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    as_callable(posterior_fn, "posterior_fn", "posterior_fn(x: (N, d), sigma: (N,)) -> (N, K) class probabilities")
    num_classes = as_int(num_classes, "num_classes", minimum=2)
    x0, eps, sigma, c = _batch(x0, eps, sigma, c, num_classes)
    n = x0.shape[0]
    c_neg = _negative_labels(c_neg, c, num_classes, mismatched=variant == "mismatched")
    w = as_batch_scalar(w, n, x0.dtype, x0.device, "w")
    with torch.no_grad():
        r = as_probability_table(posterior_fn(x0 + sigma[:, None] * eps, sigma), "posterior_fn's output",
                                 (n, num_classes)).to(x0.dtype)
        r_pos = r.gather(1, c[:, None])[:, 0]
        r_neg = r.gather(1, c_neg)
        if variant == "mismatched":
            pos_weight = 1.0 + w * (1.0 - r_pos)
            neg_weight = (num_classes - 1) * w[:, None] * r_neg
        else:
            pos_weight = 1.0 + w
            neg_weight = num_classes * w[:, None] * r_neg
    pos, neg = _pos_neg(score_fn, x0, eps, sigma, c, c_neg)
    return WeightedTerms(pos_weight, pos, neg_weight, neg)


def gft_loss(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
             beta: float | Tensor, uncond_fn: Field, num_classes: int | None = None) -> Tensor:
    """Guidance-free training (Chen et al. 2025), per row:
    ``|| beta s(x, c) + (1 - beta) sg(s_u(x)) + eps / sigma ||^2``, with ``s = score_fn`` the sampling model at
    temperature ``beta`` in (0, 1] (a float or ``(N,)``) and ``uncond_fn(x, sigma)`` the unconditional model (its
    gradient stopped). Pointwise optimum ``s_u + (s_c - s_u) / beta``. -> ``(N,)``."""
    x0, eps, sigma, c = _batch(x0, eps, sigma, c, num_classes)
    beta = as_batch_scalar(beta, x0.shape[0], x0.dtype, x0.device, "beta")
    if bool(((beta <= 0) | (beta > 1)).any()):
        raise ValueError("beta must lie in (0, 1]")
    x = x0 + sigma[:, None] * eps
    with torch.no_grad():
        s_u = uncond_fn(x, sigma)
    b = beta[:, None]
    return (b * score_fn(x, sigma, c) + (1.0 - b) * s_u + eps / sigma[:, None]).square().sum(1)


def model_guidance_loss(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
                        w_mg: float | Tensor, direction_fn: LabelledField, num_classes: int | None = None) -> Tensor:
    """Model guidance (Tang et al. 2025) in score form, per row: ``|| s(x, c) - t ||^2`` with the self-referential
    target ``t = -eps / sigma + w_mg sg(d(x, c))``, ``d = direction_fn`` the current model's guidance direction
    ``s(x, c) - s(x, null)`` (its gradient stopped); ``w_mg >= 0``, a float or ``(N,)``. Fixed point
    ``s_u + (s_c - s_u) / (1 - w_mg)`` for ``w_mg < 1``. -> ``(N,)``."""
    x0, eps, sigma, c = _batch(x0, eps, sigma, c, num_classes)
    w_mg = as_batch_scalar(w_mg, x0.shape[0], x0.dtype, x0.device, "w_mg")
    x = x0 + sigma[:, None] * eps
    with torch.no_grad():
        target = -eps / sigma[:, None] + w_mg[:, None] * direction_fn(x, sigma, c)
    return (score_fn(x, sigma, c) - target).square().sum(1)


@dataclass(frozen=True)
class TrainingBatch:
    """One step of the training loop, as a method's ``loss(batch) -> (N,)`` sees it.

    ``x0, eps: (N, d)``; ``y, sigma, w: (N,)`` (labels, noise levels, each row's strength); ``num_classes`` K (the
    null class is K); ``score(x, sigma, c)`` the model being trained, ``null_score(x, sigma)`` its unconditional
    field; ``dropped()`` draws a fresh label-dropout mask ``(N,)``; ``generator`` draws anything else;
    ``posterior(x, sigma) -> (N, K)`` the noisy classifier (exact, or the learned one for methods that need
    ``"classifier"``); ``lam`` and ``neg_cap`` unweighted MCLR's strength and cap; ``negatives`` how an MCLR-type
    loss takes its negative labels: ``"one"`` drawn per row, or ``"all"`` ``K - 1`` (the expectation over the draw).
    """

    x0: Tensor
    y: Tensor
    eps: Tensor
    sigma: Tensor
    w: Tensor
    num_classes: int
    score: LabelledField
    null_score: Field
    dropped: Callable[[], Tensor]
    generator: torch.Generator
    posterior: PosteriorFn
    lam: float
    neg_cap: float
    negatives: str = "one"


def mismatched_labels(c: Tensor, num_classes: int, generator: torch.Generator | int | None = None) -> Tensor:
    """``c~`` uniform over ``{0..K-1} \\ {c}`` for each row (``K >= 2``). ``c: (N,)`` -> ``(N,)``."""
    num_classes = as_int(num_classes, "num_classes (mismatched labels need K >= 2)", minimum=2)
    if not isinstance(c, Tensor) or c.ndim != 1:
        raise TypeError("c must be an (N,) integer tensor of labels")
    c = as_class_ids(c, c.shape[0], num_classes, c.device)
    g = as_generator(generator, c.device)
    shift = torch.randint(1, num_classes, c.shape, generator=g, device=c.device)
    return (c + shift) % num_classes


def all_mismatched_labels(c: Tensor, num_classes: int) -> Tensor:
    """Every label but ``c`` for each row, ``(c + 1..K-1) mod K``. ``c: (N,)`` -> ``(N, K - 1)``."""
    num_classes = as_int(num_classes, "num_classes (mismatched labels need K >= 2)", minimum=2)
    if not isinstance(c, Tensor) or c.ndim != 1:
        raise TypeError("c must be an (N,) integer tensor of labels")
    c = as_class_ids(c, c.shape[0], num_classes, c.device)
    return (c[:, None] + torch.arange(1, num_classes, device=c.device)) % num_classes


def uniform_labels(n: int, num_classes: int, generator: torch.Generator | int | None = None,
                   device: torch.device | str = "cpu") -> Tensor:
    """``n`` labels uniform over ``{0..K-1}``."""
    n, num_classes, device = as_count(n, "n"), as_int(num_classes, "num_classes", minimum=1), as_device(device)
    g = as_generator(generator, device)
    return torch.randint(0, num_classes, (n,), generator=g, device=device)


def _negative_labels(c_neg: object, c: Tensor, num_classes: int, mismatched: bool = True) -> Tensor:
    """``c_neg`` as ``(N, M)`` long class ids (an ``(N,)`` one is a column), each differing from the row's ``c`` when
    ``mismatched``."""
    n = c.shape[0]
    if isinstance(c_neg, Tensor) and c_neg.ndim == 2:
        if c_neg.shape[0] != n or c_neg.shape[1] < 1:
            raise ValueError(f"c_neg must have shape ({n},) or ({n}, M), got {tuple(c_neg.shape)}")
        c_neg = as_class_ids(c_neg.reshape(-1), c_neg.numel(), num_classes, c.device, "c_neg").reshape(n, -1)
    else:
        c_neg = as_class_ids(c_neg, n, num_classes, c.device, "c_neg")[:, None]
    if mismatched and bool((c_neg == c[:, None]).any()):
        raise ValueError("c_neg must differ from c in every row (a mismatched label)")
    return c_neg


def _pos_neg(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: Tensor, c: Tensor, c_neg: Tensor
             ) -> tuple[Tensor, Tensor]:
    """DSM losses at the row's label ``(N,)`` and at each negative label ``(N, M)``: every term evaluates the field
    at the row's own noisy point (shared noise), in one call on the stacked batch."""
    n, m = c_neg.shape
    k = m + 1
    both = _dsm(score_fn, x0.repeat(k, 1), eps.repeat(k, 1), sigma.repeat(k), torch.cat([c, c_neg.T.reshape(-1)]))
    return both[:n], both[n:].reshape(m, n).T


def _dsm(score_fn: LabelledField, x0: Tensor, eps: Tensor, sigma: Tensor, c: Tensor) -> Tensor:
    s = score_fn(x0 + sigma[:, None] * eps, sigma, c)
    return (s + eps / sigma[:, None]).square().sum(1)


def _batch(x0: Tensor, eps: Tensor, sigma: float | Tensor, c: int | Tensor,
           num_classes: int | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if not isinstance(x0, Tensor) or not isinstance(eps, Tensor):
        raise TypeError("x0 and eps must be torch.Tensors of shape (N, d)")
    if not x0.is_floating_point() or eps.dtype != x0.dtype:
        raise TypeError(f"x0 and eps must be floating tensors of one dtype, got {x0.dtype} and {eps.dtype}")
    if x0.ndim != 2 or eps.shape != x0.shape:
        raise ValueError(f"x0 and eps must both have shape (N, d), got {tuple(x0.shape)} and {tuple(eps.shape)}")
    if not bool(torch.isfinite(x0).all() & torch.isfinite(eps).all()):
        raise ValueError("x0 and eps must be finite")
    n = x0.shape[0]
    sigma = as_batch_scalar(sigma, n, x0.dtype, x0.device, "sigma")
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be > 0 for the DSM loss (it divides by sigma)")
    if num_classes is not None:
        num_classes = as_int(num_classes, "num_classes", minimum=1)
    c = as_class_ids(c, n, num_classes if num_classes is not None else 2**62, x0.device)
    return x0, eps, sigma, c
