"""One training loop for the small networks of ``sandbox.models``, objectives plugged in.

Every step draws a fresh batch from the exact mixture (``y ~ pi``, ``x0 ~ p(.|y)``), noise levels from the
chosen distribution, and minimises the mean of ``omega(sigma) * loss``, where ``loss`` is the objective's per-row
loss as its method registers it (``Method.loss`` of ``sandbox.methods``, on an ``objectives.TrainingBatch``) and
``omega(sigma) = sigma^2 (sigma^2 + s_d^2) / s_d^2`` turns it into EDM's weighted denoiser loss
``lambda(sigma) ||D - x0||^2`` (any positive per-sigma weight keeps every pointwise minimiser; this one keeps the
rows on one scale). Every method with a loss is an objective here (``trainable_objectives()``); what it ``needs`` is
supplied: a DSM net to fine-tune (``init``), a learned noisy classifier (``classifier``, else the exact one), rows
of the tilted ``q_0`` (pools of ``pool`` draws per class and strength, made once per run by rejection sampling).
The package's objectives: ``dsm`` (labels dropped to the null class with probability ``label_dropout``, for CFG),
``mclr`` (negatives capped at ``neg_cap d / sigma^2``: without a cap the loss is unbounded below where A(x) <= 0,
docs/theory.md, section 4), ``weighted-mclr`` (exact weights) and ``weighted-mclr-classifier`` (learned), ``gft``
(beta = 1/(1 + w); null rows at beta = 1), ``model-guidance`` (w_mg = w/(1 + w); null rows plain DSM) and
``data-tilt`` (conditional DSM on q_0 draws).

With ``ws`` set, a row's strength is drawn uniformly from
``ws`` and the net takes it as an input (``Denoiser.with_strength``): one net for every ``w``, as GFT trains it;
the loss is then the average over ``w`` of each strength's loss, so its pointwise optimum at each ``w`` is that
strength's.
``fit`` is the one optimisation loop of the package (these models, the noisy classifier, and the per-label fields
of the theorem's learning check): Adam, a learning-rate schedule, an exponential moving average (EMA) of the
weights (the returned model), a progress bar with the running loss, and a clear error as soon as the loss stops
being finite. Under the default constant rate nothing in a run depends on its length, so the first ``B`` steps of a
run are the run of ``B`` steps: ``train_budgets`` trains several budgets as one run (``length_free``).

What well-run diffusion training varies is a switch of ``TrainConfig``, each measured by ``mclr-sandbox recipe``
(``experiments.training_recipe``) before it is a default: ``lr_schedule`` (constant, the default since it measured
better with the EMA at every net, or cosine decay),
``weighting`` (EDM's ``omega``, or ``sigma^2``: the epsilon-prediction loss), ``negatives`` (the MCLR-type losses'
negative label drawn, or averaged over all ``K - 1``), ``ema`` (0: the last iterate) and ``snapshots`` (edm2's
power-function EMA, kept as snapshots for a post-hoc choice of its width: ``averaging``).

"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from .. import methods
from ..core import zoo
from ..core.mixtures import ClassConditionalGMM
from ..core.validation import as_device, as_int, as_number
from ..methods import objectives
from ..methods.tilted import TiltedTarget
from . import averaging
from .models import Denoiser, ModelConfig, NoisyClassifier

Tensor = torch.Tensor
SIGMA_SAMPLING = ("lognormal", "loguniform")
LR_SCHEDULES = ("cosine", "constant")
WEIGHTINGS = ("edm", "eps")
NEGATIVES = ("one", "all")


def trainable_objectives() -> tuple[str, ...]:
    """The trainable methods (those with a loss), plug-ins' included: what ``objective`` may be."""
    return methods.names(trainable=True)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in checkpoints). ``mixture``: a zoo name, a mixture JSON
    file or a ``ClassConditionalGMM`` (held as the mixture itself; cache keys use its fingerprint)."""

    mixture: zoo.MixtureSpec = "overlap_2d"
    objective: str = "dsm"
    steps: int = 6000
    batch: int = 1024
    lr: float = 2e-3
    ema: float = 0.999
    label_dropout: float = 0.1
    sigma_sampling: str = "lognormal"
    p_mean: float = -1.2            # lognormal: log sigma ~ N(p_mean, p_std^2)  (EDM)
    p_std: float = 1.2
    sigma_min: float = 0.002        # loguniform range, and the clamp of lognormal draws
    sigma_max: float = 80.0
    w: float = 2.0                  # weighted MCLR, GFT, model guidance, data tilt
    ws: tuple[float, ...] = ()      # strengths of a strength-conditioned fine-tune (one net for every w in ws)
    pool: int = 16384               # data tilt: at most this many exact q_0 draws per class and strength
    lam: float = 1.0                # unweighted MCLR
    neg_cap: float = 4.0            # unweighted MCLR stabiliser
    seed: int = 0
    width: int = 128
    depth: int = 3
    lr_schedule: str = "constant"   # constant (measured best with the EMA: recipe), or cosine decay to 0 over the run
    weighting: str = "edm"          # omega(sigma): EDM's lambda (edm), or sigma^2 (eps: the epsilon-prediction loss)
    negatives: str = "one"          # MCLR-type losses: one negative label drawn per row, or all K - 1 (same mean)
    snapshots: int = 0              # power-EMA snapshots per profile kept for post-hoc averaging (0: none)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mixture", zoo.resolve(self.mixture))
        if self.objective not in trainable_objectives():
            raise ValueError(f"objective must be one of {trainable_objectives()} (a plug-in's objective: load the "
                             f"plug-in first, --plugin), got {self.objective!r}")
        for name, allowed in (("sigma_sampling", SIGMA_SAMPLING), ("lr_schedule", LR_SCHEDULES),
                              ("weighting", WEIGHTINGS), ("negatives", NEGATIVES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.negatives == "all" and not methods.get(self.objective).negatives:
            raise ValueError(f"negatives='all' is for objectives that draw a negative label, not {self.objective!r} "
                             f"(those are {methods.names(negatives=True)})")
        object.__setattr__(self, "ws", tuple(float(as_number(w, "each of ws", minimum=0.0)) for w in self.ws))
        if self.ws and methods.get(self.objective).strength != "w":
            raise ValueError(f"ws (strength-conditioned nets) is for objectives of strength w, not {self.objective!r}")
        for name, minimum in (("steps", 1), ("batch", 2), ("seed", 0), ("width", 1), ("depth", 1), ("pool", 16),
                              ("snapshots", 0)):
            as_int(getattr(self, name), name, minimum)
        for name, low, high, strict in (("lr", 0.0, None, True), ("ema", 0.0, 1.0 - 1e-12, False),
                                        ("label_dropout", 0.0, 1.0 - 1e-12, False), ("p_mean", None, None, False),
                                        ("p_std", 0.0, None, True), ("sigma_min", 0.0, None, True),
                                        ("sigma_max", 0.0, None, True), ("w", 0.0, None, False),
                                        ("lam", 0.0, None, False), ("neg_cap", 0.0, None, True)):
            as_number(getattr(self, name), name, low, high, strict)
        if not self.sigma_min < self.sigma_max:
            raise ValueError(f"need sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")

    def fast(self) -> TrainConfig:
        """A few hundred small steps: tests and ``--fast`` (same code path)."""
        return replace(self, steps=300, batch=256)

    def for_classifier(self) -> TrainConfig:
        """The config of the noisy classifier that goes with a net trained with ``self``: half the steps."""
        return replace(self, steps=max(1, self.steps // 2))

    def fine_tune(self, objective: str, **changes: object) -> TrainConfig:
        """The config of a fine-tune (any objective but DSM) of a model trained with ``self``: shorter, lower learning
        rate."""
        return replace(self, objective=objective, steps=max(1, self.steps // 3), lr=self.lr / 4, **changes)

    def as_dict(self) -> dict[str, object]:
        """Plain data (the mixture as ``ClassConditionalGMM.to_dict``): what checkpoints store."""
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"mixture": self.mixture.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TrainConfig:
        """Inverse of ``as_dict`` (unknown keys are ignored: older checkpoints)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["mixture"] = ClassConditionalGMM.from_dict(values.get("mixture"), source="the stored mixture")
        return cls(**values)


@dataclass
class TrainResult:
    """The model, the loss per step (``history``), the wall time in seconds, what the run kept for post-hoc
    averaging (``config.snapshots``) and which average of the weights ``model`` is (``average``: ``"ema"``, the EMA
    of decay ``config.ema``; or one chosen post hoc, ``averaged``)."""

    model: torch.nn.Module
    config: TrainConfig
    history: list[float] = field(repr=False)
    seconds: float
    snapshots: averaging.Snapshots | None = field(default=None, repr=False)
    average: str = "ema"


def averaged(result: TrainResult, ema_width: float | None) -> tuple[TrainResult, float]:
    """``result`` with its model replaced by edm2's power-function EMA of relative width ``ema_width``,
    reconstructed from the run's snapshots (``None``: the last iterate), and the reconstruction's relative residual
    (``averaging``)."""
    if result.snapshots is None:
        raise ValueError("this run kept no snapshots to average post hoc: train it with snapshots > 0 (train "
                         "--snapshots N or --ema-width)")
    model, residual = averaging.averaged(result.model, result.snapshots, ema_width)
    label = "last" if ema_width is None else f"power {float(ema_width):g}"
    return replace(result, model=model, average=label), residual


def model_config(gmm: ClassConditionalGMM, config: TrainConfig) -> ModelConfig:
    """The architecture for ``gmm``: ``sigma_data`` is the mixture's exact per-coordinate standard deviation."""
    mean = sum(p * (w[:, None] * m).sum(0) for p, w, m in zip(gmm.class_probs, gmm.weights, gmm.means))
    second = sum(p * (w[:, None] * (v + m * m)).sum(0)         # E[x_i^2], axis by axis
                 for p, w, m, v in zip(gmm.class_probs, gmm.weights, gmm.means, gmm.component_variances()))
    var = float((second - mean * mean).mean())
    return ModelConfig(gmm.dim, gmm.num_classes, sigma_data=math.sqrt(var), width=config.width, depth=config.depth)


def sample_sigmas(config: TrainConfig, n: int, generator: torch.Generator) -> Tensor:
    """Noise levels for one batch: log-normal (EDM) or log-uniform on ``[sigma_min, sigma_max]``. -> ``(n,)``."""
    if config.sigma_sampling == "lognormal":
        log_s = config.p_mean + config.p_std * torch.randn(n, dtype=torch.float64, generator=generator)
    else:
        lo, hi = math.log(config.sigma_min), math.log(config.sigma_max)
        log_s = lo + (hi - lo) * torch.rand(n, dtype=torch.float64, generator=generator)
    return log_s.exp().clamp(config.sigma_min, config.sigma_max)


def data_batch(gmm: ClassConditionalGMM, config: TrainConfig, generator: torch.Generator
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x0, y, eps, sigma)`` for one step, in float64 on the CPU."""
    x0, y = gmm.sample_joint(config.batch, generator)
    eps = torch.randn(x0.shape, dtype=torch.float64, generator=generator)
    return x0, y, eps, sample_sigmas(config, config.batch, generator)


def strengths(config: TrainConfig, n: int, generator: torch.Generator) -> Tensor:
    """Each row's guidance strength: uniform over ``ws`` when set, else ``w``. -> ``(n,)`` float64."""
    if not config.ws:
        return torch.full((n,), config.w, dtype=torch.float64)
    return torch.tensor(config.ws, dtype=torch.float64)[torch.randint(len(config.ws), (n,), generator=generator)]


_POOLS: dict[tuple[str, int, float, int, int], Tensor] = {}     # this process's q_0 draws (read-only), by their key
_POOLS_KEPT = 256


def pool_size(config: TrainConfig) -> int:
    """Draws of ``q_0`` per class and strength of a data-tilt run: ``config.pool``, or twice the rows a short run
    can draw from one pool if that is fewer (never under 1024)."""
    per_pool = 2 * config.steps * config.batch // (config.mixture.num_classes * len(config.ws or (config.w,)))
    return min(config.pool, max(1024, per_pool))


def tilted_pools(config: TrainConfig) -> dict[tuple[int, float], Tensor]:
    """Exact draws of ``q_0`` for each class and strength (the data of ``data-tilt``), ``pool_size`` each. Runs
    that differ only in budget or width draw the same pools: a process makes each once (rejection sampling is most
    of a short data-tilt run)."""
    gmm, ws, n = config.mixture, config.ws or (config.w,), pool_size(config)
    pools = {}
    for i, w in enumerate(ws):
        for c in range(gmm.num_classes):
            key = (gmm.fingerprint, c, w, n, config.seed * 7919 + 97 * c + i)
            if key not in _POOLS:
                if len(_POOLS) >= _POOLS_KEPT:
                    _POOLS.clear()
                _POOLS[key] = TiltedTarget(gmm, c, w).sample(n, generator=key[-1])
            pools[c, w] = _POOLS[key]
    return pools


def train(config: TrainConfig, init: Denoiser | None = None, classifier: NoisyClassifier | None = None,
          device: torch.device | str = "cpu", progress: bool = True) -> TrainResult:
    """Train a ``Denoiser`` with ``config.objective``, given what its method ``needs`` (module docstring): ``init``
    (a DSM model to fine-tune) and ``classifier`` (a ``NoisyClassifier`` of the same mixture)."""
    return _train(config, init, classifier, device, progress, ())[config.steps]


def length_free(config: TrainConfig) -> tuple[object, ...]:
    """What a run of ``config`` depends on besides its number of steps, when its first ``B`` steps *are* the run of
    ``B`` steps: under a constant learning rate, without power-EMA snapshots (placed by the run's length) and with
    the same ``q_0`` pools, nothing else in a run looks at its length. Runs with equal keys are prefixes of one
    another; any other run is keyed by its whole config (a key of its own)."""
    if config.lr_schedule != "constant" or config.snapshots:
        return (config,)
    pools = pool_size(config) if "q0-data" in methods.get(config.objective).needs else None
    return (replace(config, steps=1), pools)


def train_budgets(config: TrainConfig, budgets: Sequence[int], init: Denoiser | None = None,
                  classifier: NoisyClassifier | None = None, device: torch.device | str = "cpu",
                  progress: bool = True) -> dict[int, TrainResult]:
    """``train(replace(config, steps=B))`` for every ``B`` in ``budgets`` (``B -> TrainResult``), training once per
    group of budgets whose runs are prefixes of one another (``length_free``): the longest run of a group, its EMA
    net kept after each shorter budget's steps. The same nets bit for bit as one run per budget (tested), at the cost
    of the longest."""
    budgets = sorted({as_int(b, "each of budgets", 1) for b in budgets})
    if not budgets:
        raise ValueError("budgets must name at least one number of steps")
    groups: dict[tuple[object, ...], list[int]] = {}
    for b in budgets:
        groups.setdefault(length_free(replace(config, steps=b)), []).append(b)
    out: dict[int, TrainResult] = {}
    for group in groups.values():
        out |= _train(replace(config, steps=group[-1]), init, classifier, device, progress, tuple(group[:-1]))
    return {b: out[b] for b in budgets}


def _train(config: TrainConfig, init: Denoiser | None, classifier: NoisyClassifier | None,
           device: torch.device | str, progress: bool, earlier: tuple[int, ...]) -> dict[int, TrainResult]:
    """One run of ``config``: its result after ``config.steps``, and after each of the ``earlier`` step counts (the
    EMA net then, for a run of that length: ``train_budgets``)."""
    gmm, method = config.mixture, methods.get(config.objective)
    if "init" in method.needs and init is None:
        raise ValueError(f"objective {config.objective!r} fine-tunes a DSM model: pass init=")
    if "classifier" in method.needs and classifier is None:
        raise ValueError(f"objective {config.objective!r} needs classifier= (see train_classifier)")
    device = as_device(device)
    if init is not None and not isinstance(init, Denoiser):
        raise TypeError(f"init must be a Denoiser (a DSM net to fine-tune), got {type(init).__name__}")
    if classifier is not None and not isinstance(classifier, NoisyClassifier):
        raise TypeError(f"classifier must be a NoisyClassifier, got {type(classifier).__name__}")
    for name, net in (("init", init), ("classifier", classifier)):
        if net is not None and (net.config.dim, net.config.num_classes) != (gmm.dim, gmm.num_classes):
            raise ValueError(f"{name} is a net for d = {net.config.dim}, K = {net.config.num_classes}; the mixture has "
                             f"d = {gmm.dim}, K = {gmm.num_classes}")
    torch.manual_seed(config.seed)
    if init is None:
        model = Denoiser(model_config(gmm, config))
    else:
        model = init.with_strength() if config.ws else copy.deepcopy(init)
    model = model.to(device).train()
    step_loss = objective_loss(config, model, classifier, device)
    kept = averaging.PowerEMA(model, config.steps, config.snapshots) if config.snapshots else None
    prefixes: dict[int, tuple[torch.nn.Module, float]] = {}
    t0 = time.perf_counter()

    def keep(step: int, ema_model: torch.nn.Module) -> None:
        if step in earlier:
            prefixes[step] = copy.deepcopy(ema_model).eval(), time.perf_counter() - t0

    model, history, seconds = fit(model, step_loss, config.steps, config.lr, config.ema,
                                  f"train {config.objective}", progress, schedule=config.lr_schedule, power=kept,
                                  after_step=keep if earlier else None)
    out = {b: TrainResult(m, replace(config, steps=b), history[:b], t) for b, (m, t) in prefixes.items()}
    return out | {config.steps: TrainResult(model, config, history, seconds, kept.snapshots() if kept else None)}


def objective_loss(config: TrainConfig, model: Denoiser, classifier: NoisyClassifier | None = None,
                   device: torch.device | str = "cpu") -> Callable[[], Tensor]:
    """The loss of one training step of ``model`` under ``config.objective``: a fresh batch drawn from its own
    generator (seeded by ``config.seed``) at every call, then ``mean(omega(sigma) * loss)`` (module docstring). What
    ``train`` minimises, and what a measurement of the objective's gradient noise calls repeatedly."""
    gmm, method = config.mixture, methods.get(config.objective)
    device = as_device(device)
    k, sd2 = gmm.num_classes, model.config.sigma_data ** 2
    dtype = next(model.parameters()).dtype
    g = torch.Generator().manual_seed(config.seed + 1)
    pools = tilted_pools(config) if "q0-data" in method.needs else None
    row_w: Tensor | None = None       # this step's strengths, for a strength-conditioned net

    def score_fn(x: Tensor, sigma: Tensor, c: Tensor) -> Tensor:
        # the MCLR losses stack positives and negatives: the strengths repeat with the rows
        w = None if row_w is None else row_w.repeat(x.shape[0] // row_w.shape[0])
        return model.score(x, sigma, c, w=w)

    def null_score(x: Tensor, sigma: Tensor) -> Tensor:
        return model.score(x, sigma, None, w=_zero_or_none(row_w, x))

    if "classifier" in method.needs:
        posterior_fn = classifier.to(device).eval().posterior
    else:
        def posterior_fn(x: Tensor, sigma: Tensor) -> Tensor:
            return gmm.class_posterior(x.double().cpu(), sigma.double().cpu()).to(x)

    def step_loss() -> Tensor:
        nonlocal row_w
        x0, y, eps, sigma = data_batch(gmm, config, g)
        w = strengths(config, config.batch, g) if config.ws else torch.full_like(sigma, config.w)
        if pools is not None:      # rows of q_0 at their class and strength, in place of the mixture's
            pick = torch.randint(len(next(iter(pools.values()))), (config.batch,), generator=g)   # pools: one size
            for (c, strength), pool in pools.items():
                rows = (y == c) & (w == strength)
                x0[rows] = pool[pick[rows]]
        x0, eps, sigma, w = (t.to(device, dtype) for t in (x0, eps, sigma, w))
        row_w = w if config.ws else None
        y = y.to(device)
        batch = objectives.TrainingBatch(
            x0, y, eps, sigma, w, k, score_fn, null_score,
            lambda: (torch.rand(y.shape, generator=g) < config.label_dropout).to(device), g, posterior_fn,
            config.lam, config.neg_cap, config.negatives)
        return (loss_weight(config.weighting, sigma, sd2) * method.loss(batch)).mean()

    return step_loss


def loss_weight(weighting: str, sigma: Tensor, sigma_data2: float) -> Tensor:
    """``omega(sigma)`` on a per-row loss in score units ``|s - s*|^2``: ``edm``, ``sigma^2 (sigma^2 + s_d^2) /
    s_d^2`` (= EDM's ``lambda(sigma) |D - x0|^2``, Karras et al. 2022); ``eps``, ``sigma^2`` (= ``|eps_hat - eps|^2``,
    the epsilon-prediction loss of Ho et al. 2020). -> ``(N,)``."""
    if weighting == "edm":
        return sigma ** 2 * (sigma ** 2 + sigma_data2) / sigma_data2
    if weighting == "eps":
        return sigma ** 2
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def _zero_or_none(row_w: Tensor | None, x: Tensor) -> Tensor | None:
    """The strength argument of an unconditional call (the null class ignores it, but a strength net needs one)."""
    return None if row_w is None else torch.zeros(x.shape[0], dtype=row_w.dtype, device=row_w.device)


def train_classifier(config: TrainConfig, device: torch.device | str = "cpu",
                     progress: bool = True) -> TrainResult:
    """A ``NoisyClassifier`` by cross-entropy on noisy samples ``x0 + sigma eps`` (same sigma law as ``config``)."""
    gmm, device = config.mixture, as_device(device)
    torch.manual_seed(config.seed)
    model = NoisyClassifier(model_config(gmm, config)).to(device).train()
    dtype = next(model.parameters()).dtype
    g = torch.Generator().manual_seed(config.seed + 2)

    def step_loss() -> Tensor:
        x0, y, eps, sigma = data_batch(gmm, config, g)
        x = (x0 + sigma[:, None] * eps).to(device, dtype)
        return torch.nn.functional.cross_entropy(model.logits(x, sigma.to(device, dtype)), y.to(device))

    model, history, seconds = fit(model, step_loss, config.steps, config.lr, config.ema, "train classifier", progress,
                                  schedule=config.lr_schedule)
    return TrainResult(model, config, history, seconds)


def fit(model: torch.nn.Module, step_loss: Callable[[], Tensor], steps: int, lr: float, ema: float, desc: str,
        progress: bool = False, record: Callable[[int, torch.nn.Module], None] | None = None,
        record_every: int = 50, schedule: str = "cosine", power: averaging.PowerEMA | None = None,
        after_step: Callable[[int, torch.nn.Module], None] | None = None
        ) -> tuple[torch.nn.Module, list[float], float]:
    """Adam + learning-rate ``schedule`` (cosine decay, or constant) + EMA over ``steps`` calls of ``step_loss``;
    stops on a non-finite loss. ``power`` (if given) is updated after every step as well.

    Returns the EMA model (eval mode), the loss per step and the wall time in seconds. ``record(step, model)`` is
    called every ``record_every`` steps with the current iterate, and once at the end with the EMA model;
    ``after_step(n, ema_model)`` after each step ``n = 1 .. steps`` with the EMA model (not a copy).
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    def ema_average(avg: list[Tensor], current: list[Tensor], n: Tensor) -> None:
        # warm-up: the decay grows from 0.1 to ema, so short runs average recent weights only
        decay = min(ema, (1.0 + float(n)) / (10.0 + float(n)))
        torch._foreach_mul_(avg, decay)
        torch._foreach_add_(avg, torch._foreach_mul(current, 1.0 - decay))

    averaged = AveragedModel(model, multi_avg_fn=ema_average, use_buffers=True)
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine"
             else torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0))
    history: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        if record is not None and step % record_every == 0:
            record(step, model)
        loss = step_loss()
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError(f"{desc}: the loss became {loss.detach().item()} at step {step} "
                                     f"(lr {sched.get_last_lr()[0]:.2e}); lower lr or, for 'mclr', neg_cap")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        averaged.update_parameters(model)
        if power is not None:
            power.update()
        if after_step is not None:
            after_step(step + 1, averaged.module)
        history.append(loss.detach().item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(history[-50:]) / len(history[-50:]):.4g}")
    result = averaged.module.eval()
    if record is not None:
        record(steps, result)
    return result, history, time.perf_counter() - t0
