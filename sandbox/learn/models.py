"""Small networks: a conditional MLP denoiser (EDM preconditioning, null class) and a noisy classifier.

The denoiser follows EDM (Karras et al. 2022, Table 1) in the VE frame ``x = x0 + sigma eps``:

    D(x; sigma, c) = c_skip x + c_out F(c_in x, c_noise, c),
    c_skip = s_d^2 / (sigma^2 + s_d^2),  c_out = sigma s_d / sqrt(sigma^2 + s_d^2),
    c_in = 1 / sqrt(sigma^2 + s_d^2),    c_noise = log(sigma) / 4,

with ``s_d`` the data's standard deviation. Labels ``0..K-1`` are classes and label ``K`` is the null class, so one
network gives the conditional (``c`` a class) and the unconditional (``c=None``) prediction; the score is
``(D - x) / sigma^2`` (Tweedie). ``denoise``/``score`` take and return the same shapes as ``ClassConditionalGMM``:
``x: (N, d)``, ``sigma`` a float or ``(N,)``, ``c`` None, an int or ``(N,)``. A net made with ``strength_input``
also takes a guidance strength ``w >= 0`` (a float or ``(N,)``; this project's ``w``, GFT's ``beta = 1/(1 + w)``):
one net for every ``w``, as GFT trains it; the null class ignores it (the unconditional model has no strength).
The network computes in its own dtype and device (float32 on the CPU by default, the usual for training;
``.to(device)`` moves it) and returns results in the dtype and on the device of ``x``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..core.validation import as_batch_scalar, as_class_ids

Tensor = torch.Tensor


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of ``Denoiser`` / ``NoisyClassifier`` (stored in checkpoints)."""

    dim: int
    num_classes: int
    sigma_data: float = 1.0
    width: int = 128
    depth: int = 3
    embedding: int = 32
    strength_input: bool = False    # the net also takes w (one net for every guidance strength)

    def __post_init__(self) -> None:
        for name in ("dim", "num_classes", "width", "depth", "embedding"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (isinstance(self.sigma_data, (int, float)) and math.isfinite(self.sigma_data) and self.sigma_data > 0):
            raise ValueError(f"sigma_data must be a finite number > 0, got {self.sigma_data!r}")
        if not isinstance(self.strength_input, bool):
            raise ValueError(f"strength_input must be a bool, got {self.strength_input!r}")

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


class _Backbone(nn.Module):
    """MLP on ``[x_in, fourier(c_noise), label embedding]`` with SiLU activations; with ``strength_input`` the
    label embedding is shifted by a linear map of ``fourier(log(1 + w))``, zero at initialisation (so a net given a
    strength input starts as the net it was copied from, at every ``w``)."""

    def __init__(self, config: ModelConfig, in_dim: int, out_dim: int, labels: int) -> None:
        super().__init__()
        e = config.embedding
        # fixed random Fourier frequencies for c_noise (a buffer: saved, not trained)
        self.register_buffer("freqs", torch.randn(e // 2, generator=torch.Generator().manual_seed(0)) * 4.0)
        self.label = nn.Embedding(labels, e)
        self.strength = _zero_linear(2 * (e // 2), e) if config.strength_input else None
        layers: list[nn.Module] = [nn.Linear(in_dim + 2 * (e // 2) + e, config.width), nn.SiLU()]
        for _ in range(config.depth - 1):
            layers += [nn.Linear(config.width, config.width), nn.SiLU()]
        layers.append(nn.Linear(config.width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, c_noise: Tensor, label: Tensor, strength: Tensor | None = None) -> Tensor:
        phase = c_noise[:, None] * self.freqs[None] * (2 * math.pi)
        embedding = self.label(label)
        if self.strength is not None:
            w_phase = torch.log1p(strength)[:, None] * self.freqs[None] * (2 * math.pi)
            embedding = embedding + self.strength(torch.cat([w_phase.cos(), w_phase.sin()], dim=1))
        return self.net(torch.cat([x, phase.cos(), phase.sin(), embedding], dim=1))


def _zero_linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class _Network(nn.Module):
    """Shared input handling: validation, casting to the network dtype, labels (``None`` -> null class ``K``)."""

    config: ModelConfig

    def _inputs(self, x: object, sigma: object, c: object) -> tuple[Tensor, Tensor, Tensor]:
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.config.dim:
            raise ValueError(f"x must be a tensor of shape (N, {self.config.dim}), got {getattr(x, 'shape', type(x))}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating tensor, got {x.dtype}")
        p = next(self.parameters())
        n = x.shape[0]
        s = as_batch_scalar(sigma if not isinstance(sigma, Tensor) else sigma.to(p.device, p.dtype), n, p.dtype,
                            p.device, "sigma")
        if bool((s <= 0).any()):
            raise ValueError("sigma must be > 0 for a network (it is preconditioned by log sigma)")
        # the network computes in its own dtype: inputs must survive the cast, and sigma^2 must not overflow
        limit = math.sqrt(torch.finfo(p.dtype).max) / 4.0
        big = max(float(x.detach().abs().max()), float(s.detach().max())) if n else 0.0
        if n and (not bool(torch.isfinite(x).all()) or big > limit):
            raise ValueError(f"x must be finite and x, sigma at most {limit:.3g} in absolute value for a "
                             f"{p.dtype} network")
        k = self.config.num_classes
        label = (torch.full((n,), k, dtype=torch.long, device=p.device) if c is None
                 else as_class_ids(c.to(p.device) if isinstance(c, Tensor) else c, n, k + 1, p.device))  # K: null
        return x.to(p.device, p.dtype), s, label


class Denoiser(_Network):
    """Conditional MLP denoiser with EDM preconditioning and a null class (module docstring)."""

    def __init__(self, config: ModelConfig, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.config = config
        self.backbone = _Backbone(config, config.dim, config.dim, config.num_classes + 1).to(dtype)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def dim(self) -> int:
        return self.config.dim

    def with_strength(self) -> Denoiser:
        """A copy that also takes a guidance strength ``w``, equal to this net at every ``w`` until trained."""
        if self.config.strength_input:
            return copy.deepcopy(self)
        p = next(self.parameters())
        out = Denoiser(replace(self.config, strength_input=True), dtype=p.dtype).to(p.device)
        out.load_state_dict(self.state_dict(), strict=False)
        return out

    def denoise(self, x: Tensor, sigma: float | Tensor, c: int | Tensor | None = None,
                w: float | Tensor | None = None) -> Tensor:
        """``D(x; sigma, c)`` (``c=None``: unconditional, the null class), at strength ``w`` for a net with a
        strength input (required there, refused elsewhere). ``(N, d)`` -> ``(N, d)``."""
        xin, s, label = self._inputs(x, sigma, c)
        strength = self._strength(w, label)
        sd2 = self.config.sigma_data ** 2
        norm = (s * s + sd2).sqrt()[:, None]
        out = (sd2 / norm ** 2) * xin + (s[:, None] * self.config.sigma_data / norm) * self.backbone(
            xin / norm, s.log() / 4, label, strength)
        return out.to(x.device, x.dtype)

    def _strength(self, w: float | Tensor | None, label: Tensor) -> Tensor | None:
        if not self.config.strength_input:
            if w is not None:
                raise ValueError("w is for a net with a strength input (Denoiser.with_strength); this one has none")
            return None
        if w is None:
            raise ValueError("this net takes a guidance strength: pass w (a float or an (N,) tensor, >= 0)")
        p = next(self.parameters())
        w = as_batch_scalar(w.to(p.device, p.dtype) if isinstance(w, Tensor) else w, label.shape[0], p.dtype,
                            p.device, "w")
        return torch.where(label == self.config.num_classes, 0.0, w)     # the null class has no strength

    def forward(self, x: Tensor, sigma: float | Tensor, c: int | Tensor | None = None,
                w: float | Tensor | None = None) -> Tensor:
        """``net(x, sigma, c)`` is the denoiser ``D(x; sigma, c)``, as k-diffusion and azula models are called."""
        return self.denoise(x, sigma, c, w)

    def score(self, x: Tensor, sigma: float | Tensor, c: int | Tensor | None = None,
              w: float | Tensor | None = None) -> Tensor:
        """``(D(x; sigma, c) - x) / sigma^2``. ``(N, d)`` -> ``(N, d)``."""
        d = self.denoise(x, sigma, c, w)
        s = as_batch_scalar(sigma if not isinstance(sigma, Tensor) else sigma.to(x.device, x.dtype), x.shape[0],
                            x.dtype, x.device, "sigma")
        return (d - x) / (s * s)[:, None]


class NoisyClassifier(_Network):
    """``p_theta(c | x, sigma)``: an MLP on ``[x / sqrt(sigma^2 + s_d^2), fourier(log sigma / 4)]``."""

    def __init__(self, config: ModelConfig, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.config = config
        self.backbone = _Backbone(config, config.dim, config.num_classes, 1).to(dtype)

    def logits(self, x: Tensor, sigma: float | Tensor) -> Tensor:
        """Unnormalised log-probabilities. ``(N, d)`` -> ``(N, K)``."""
        xin, s, _ = self._inputs(x, sigma, None)
        norm = (s * s + self.config.sigma_data ** 2).sqrt()[:, None]
        return self.backbone(xin / norm, s.log() / 4, torch.zeros_like(s, dtype=torch.long))

    def posterior(self, x: Tensor, sigma: float | Tensor) -> Tensor:
        """``softmax(logits)``: same role and shapes as ``ClassConditionalGMM.class_posterior``. -> ``(N, K)``."""
        return torch.softmax(self.logits(x, sigma), dim=1).to(x.device, x.dtype)
