"""Input checks shared by every public function.

Each helper either returns a clean tensor or raises ``ValueError``/``TypeError`` naming the
parameter and what was expected, so bad input never turns into a silent NaN downstream.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Annotated, Any, TypeVar

import numpy as np
import torch

Tensor = torch.Tensor
T = TypeVar("T")


def as_points(x: object, dim: int, dtype: torch.dtype, device: torch.device, name: str = "x") -> Tensor:
    """Check ``x: (N, dim)``, finite, of the model's dtype and device."""
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, {dim}), got {type(x).__name__}; "
            f"convert with torch.as_tensor({name}, dtype={dtype})"
        )
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the model's), got {x.dtype}")
    if x.device != device:
        raise ValueError(f"{name} must be on device {device} (the model's), got {x.device}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite; it contains NaN or Inf")
    return x


def as_batch_scalar(
    value: object,
    n: int,
    dtype: torch.dtype,
    device: torch.device,
    name: str,
    minimum: float = 0.0,
) -> Tensor:
    """A float or an ``(N,)`` tensor of finite values >= ``minimum``, returned as ``(N,)``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a float or an ({n},) tensor, got bool")
    if isinstance(value, Real) and not isinstance(value, Tensor):
        v = float(value)
        if not math.isfinite(v) or v < minimum:
            raise ValueError(f"{name} must be a finite number >= {minimum}, got {v}")
        return torch.full((n,), v, dtype=dtype, device=device)
    if isinstance(value, Tensor):
        if value.ndim == 0:
            value = value.reshape(1).expand(n)
        if value.shape != (n,):
            raise ValueError(f"{name} must be a float or a tensor of shape ({n},), got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor, got {value.dtype}")
        if value.dtype != dtype:
            raise TypeError(f"{name} must have dtype {dtype} (the model's), got {value.dtype}")
        if value.device != device:
            raise ValueError(f"{name} must be on device {device} (the model's), got {value.device}")
        if not bool(torch.isfinite(value).all()) or bool((value < minimum).any()):
            raise ValueError(f"{name} must be finite and >= {minimum} everywhere")
        return value
    raise TypeError(f"{name} must be a float or an ({n},) tensor, got {type(value).__name__}")


def as_class_ids(c: object, n: int, num_classes: int, device: torch.device, name: str = "c") -> Tensor:
    """An int or an ``(N,)`` integer tensor with values in ``[0, num_classes)``, returned as ``(N,)`` long."""
    if isinstance(c, bool):
        raise TypeError(f"{name} must be an int or an ({n},) integer tensor, got bool")
    if isinstance(c, Integral):
        if not 0 <= int(c) < num_classes:
            raise ValueError(f"{name} must be a class id in [0, {num_classes}), got {int(c)}")
        return torch.full((n,), int(c), dtype=torch.long, device=device)
    if isinstance(c, Tensor):
        if c.is_floating_point() or c.is_complex() or c.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer tensor, got {c.dtype}")
        if c.ndim == 0:
            c = c.reshape(1).expand(n)
        if c.shape != (n,):
            raise ValueError(f"{name} must be an int or a tensor of shape ({n},), got shape {tuple(c.shape)}")
        if c.device != device:
            raise ValueError(f"{name} must be on device {device} (the model's), got {c.device}")
        if n and (int(c.min()) < 0 or int(c.max()) >= num_classes):
            raise ValueError(f"{name} must hold class ids in [0, {num_classes}), got values in "
                             f"[{int(c.min())}, {int(c.max())}]")
        return c.long()
    raise TypeError(f"{name} must be an int or an ({n},) integer tensor, got {type(c).__name__}")


def as_real_tensor(a: object, name: str) -> Tensor:
    """``a`` as a float64 CPU tensor; bools, complex numbers and strings are refused, not cast."""
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be numeric, got {type(a).__name__}")
    try:
        kind = a.dtype if isinstance(a, Tensor) else np.asarray(a).dtype
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array: {err}") from None
    if (isinstance(kind, torch.dtype) and (kind == torch.bool or kind.is_complex)) or \
            (isinstance(kind, np.dtype) and kind.kind not in "iuf"):
        raise TypeError(f"{name} must hold real numbers, got dtype {kind}")
    try:
        return torch.as_tensor(a, dtype=torch.float64).detach().cpu().clone()
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a numeric array: {err}") from None


def as_probabilities(p: object, name: str, length: int | None = None, atol: float = 1e-6) -> Tensor:
    """A 1-D float64 vector of positive entries summing to 1 (within ``atol``: float32 rounding passes).

    Returned renormalised, unless the sum is already 1 up to rounding: then exactly as given, so that
    normalising is idempotent (a saved and re-loaded mixture keeps its fingerprint)."""
    t = as_real_tensor(p, name)
    if t.ndim != 1 or (length is not None and t.shape[0] != length):
        want = f"({length},)" if length is not None else "(n,)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty")
    if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise ValueError(f"{name} must be finite and > 0, got {t.tolist()}")
    total = float(t.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, sums to {total!r}")
    if abs(total - 1.0) <= 2 * t.numel() * torch.finfo(torch.float64).eps:
        return t
    return t / t.sum()


def as_generator(generator: torch.Generator | int | None, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` from a generator or an int seed (None: a fresh random seed)."""
    if isinstance(generator, torch.Generator):
        if torch.device(generator.device).type != torch.device(device).type:
            raise ValueError(f"generator must live on {device}, got one on {generator.device}")
        return generator
    if generator is None:
        g = torch.Generator(device=device)
        g.seed()
        return g
    if isinstance(generator, Integral) and not isinstance(generator, bool):
        g = torch.Generator(device=device)
        g.manual_seed(int(generator))
        return g
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}")


def as_count(n: object, name: str = "n") -> int:
    """A non-negative Python int."""
    if isinstance(n, bool) or not isinstance(n, Integral) or int(n) < 0:
        raise ValueError(f"{name} must be a non-negative int, got {n!r}")
    return int(n)


def as_seeds(value: object, name: str = "seeds") -> tuple[int, ...]:
    """A non-empty tuple of ints >= 0 (an experiment's seeds)."""
    if not isinstance(value, tuple) or not value:
        raise ValueError(f"{name} must be a non-empty tuple of ints >= 0, got {value!r}")
    return tuple(as_int(seed, f"each of {name}", minimum=0) for seed in value)


def as_scales(value: object, name: str = "ws") -> tuple[float, ...]:
    """A non-empty sequence of guidance scales ``w >= 0``, as a tuple of floats."""
    if not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"{name} must hold at least one guidance scale >= 0, got {value!r}")
    return tuple(as_number(w, f"each of {name}", minimum=0.0) for w in value)


def as_number(value: object, name: str, minimum: float | None = None, maximum: float | None = None,
              strict: bool = False) -> float:
    """A finite real number (not a bool) in ``[minimum, maximum]`` (``strict``: ``> minimum``), as a float."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    low_ok = minimum is None or (v > minimum if strict else v >= minimum)
    if not math.isfinite(v) or not low_ok or (maximum is not None and v > maximum):
        bounds = ("" if minimum is None else f" {'>' if strict else '>='} {minimum:g}") + \
            ("" if maximum is None else f"{' and' if minimum is not None else ''} <= {maximum:g}")
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
    return v


def as_int(value: object, name: str, minimum: int = 0) -> int:
    """A Python int (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {int(value)}")
    return int(value)


def as_callable(value: object, name: str, signature: str) -> object:
    """``value`` if it can be called, else a ``TypeError`` naming ``name`` and the expected ``signature``."""
    if not callable(value):
        raise TypeError(f"{name} must be a callable {signature}, got {type(value).__name__}")
    return value


def as_device(device: object, name: str = "device") -> torch.device:
    """A ``torch.device`` that exists on this machine (a CUDA device only where CUDA is available)."""
    try:
        dev = torch.device(device)
    except (TypeError, RuntimeError) as err:
        raise ValueError(f"{name} must be a torch device such as 'cpu' or 'cuda', got {device!r} ({err})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} {str(dev)!r} is not available: this machine has no CUDA device")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name} {str(dev)!r} is not available: this machine has {torch.cuda.device_count()} "
                             f"CUDA device(s)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be a cpu or cuda device, got {str(dev)!r}")
    return dev


def as_probability_table(p: object, name: str, shape: tuple[int, ...]) -> Tensor:
    """A floating tensor of ``shape`` with finite entries in ``[0, 1]`` (e.g. a classifier's output)."""
    if not isinstance(p, Tensor) or not p.is_floating_point():
        raise TypeError(f"{name} must be a floating torch.Tensor of shape {shape}, got "
                        f"{p.dtype if isinstance(p, Tensor) else type(p).__name__}")
    if tuple(p.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(p.shape)}")
    if not bool((torch.isfinite(p) & (p >= 0) & (p <= 1)).all()):
        raise ValueError(f"{name} must hold probabilities: finite values in [0, 1]")
    return p


def register_once(registry: dict[str, T], name: str, item: T, kind: str) -> T:
    """``registry[name] = item``, refusing a second registration of ``name`` (one vocabulary: one name, once)."""
    if name in registry:
        raise ValueError(f"{kind} {name!r} is registered already")
    registry[name] = item
    return item



# ------------------------------------------------------------------------------------------------ declared limits
@dataclass(frozen=True)
class Limit:
    """A declared constraint on one setting, checked by ``check``: a finite real number in ``[lo, hi]`` (``open``
    excludes ``lo``; ``infinite`` admits +inf, an open end such as a window's), a whole number (``whole``), one of
    ``choices``, any non-empty ``text`` (a name), a bool (``flag``), or (``many``) a non-empty tuple of such values,
    strictly ``increasing`` if asked.
    ``invalid()`` lists values it refuses, from which the tests generate bad input for every declared setting."""

    lo: float | None = None
    hi: float | None = None
    open: bool = False
    whole: bool = False
    infinite: bool = False
    choices: tuple[str, ...] | None = None
    text: bool = False
    flag: bool = False
    many: bool = False
    increasing: bool = False

    def describe(self) -> str:
        """What it admits, in words: ``a whole number >= 1``."""
        if self.flag:
            return "true or false"
        if self.text:
            one = "a non-empty name"
        elif self.choices is not None:
            one = f"one of {list(self.choices)}"
        else:
            bounds = [f"{'>' if self.open else '>='} {self.lo:g}"] if self.lo is not None else []
            bounds += [f"<= {self.hi:g}"] if self.hi is not None else []
            one = (("a whole number" if self.whole else "a finite number" if not self.infinite else "a number")
                   + (" " + " and ".join(bounds) if bounds else "") + (" (or inf)" if self.infinite else ""))
        if not self.many:
            return one
        return f"a non-empty list{', strictly increasing,' if self.increasing else ''} of values each {one}"

    def one(self, value: object, name: str) -> object:
        """``value`` checked as one item (not ``many``)."""
        if self.flag:
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be true or false, got {value!r}")
            return value
        if self.text:
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty name, got {value!r}")
            return value
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{name} must be one of {list(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be {self.describe()}, got {type(value).__name__} {value!r}")
        v = float(value)
        inside = (not math.isnan(v) and (math.isfinite(v) or (self.infinite and v == math.inf))
                  and (self.lo is None or (v > self.lo if self.open else v >= self.lo))
                  and (self.hi is None or v <= self.hi) and (not self.whole or v == int(v)))
        if not inside:
            raise ValueError(f"{name} must be {dataclasses.replace(self, many=False).describe()}, got {value!r}")
        return int(v) if self.whole else v

    def check(self, value: object, name: str) -> object:
        """``value`` checked (a tuple of checked items for ``many``), or ``ValueError``/``TypeError`` naming
        ``name`` and what it admits."""
        if not self.many:
            return self.one(value, name)
        if not isinstance(value, (tuple, list)) or not value:
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        items = tuple(self.one(v, f"each of {name}") for v in value)
        if self.increasing and any(b <= a for a, b in itertools.pairwise(items)):
            raise ValueError(f"{name} must strictly increase, got {list(items)}")
        return items

    def invalid(self) -> list[object]:
        """Values this limit refuses (a sample: wrong types, out of range, not whole, empty, not increasing)."""
        if self.flag:
            return ["yes", 1]
        if self.text:
            bad: list[object] = ["", " ", 3]
        elif self.choices is not None:
            bad: list[object] = ["no-such-choice", 1.0]
        else:
            bad = ["abc", math.nan, -math.inf, True]
            bad += [] if self.infinite else [math.inf]
            bad += [self.lo - 1.0] if self.lo is not None else []
            bad += [self.lo] if self.lo is not None and self.open else []
            bad += [self.hi + 1.0] if self.hi is not None else []
            bad += [(self.lo if self.lo is not None else 0.0) + 1.5] if self.whole else []
        if not self.many:
            return bad
        good = self.lo + 1.0 if self.lo is not None else None
        return [(), *((b,) for b in bad)] + ([(good + 1, good)] if self.increasing and good is not None else [])


REAL = Limit()
NONNEGATIVE = Limit(lo=0.0)
POSITIVE = Limit(lo=0.0, open=True)
UNIT = Limit(lo=0.0, hi=1.0)
COUNT = Limit(lo=1, whole=True)
SEED = Limit(lo=0, whole=True)
TEXT = Limit(text=True)


def limit_of(default: object) -> Limit:
    """The limit a setting has unless it declares one, from its default: a bool is a flag, an int a count (>= 1),
    a float a finite number, text a non-empty word; a tuple a non-empty list of its items' kind."""
    if isinstance(default, tuple):
        item = limit_of(default[0]) if default else REAL
        return dataclasses.replace(item, many=True)
    if isinstance(default, bool):
        return Limit(flag=True)
    if isinstance(default, Integral):
        return COUNT
    if isinstance(default, str):
        return TEXT
    return REAL


def setting(default: object, limit: Limit) -> Any:
    """A config field with a declared ``limit`` (``dataclasses.field`` metadata): ``n: int = setting(100, COUNT)``."""
    return dataclasses.field(default=default, metadata={"limit": limit})


def limit(f: dataclasses.Field, default: object) -> Limit:
    """The limit of config field ``f``: declared (``setting``), a seed's (a field named ``seed``: an int >= 0), or
    implied by its ``default`` (``limit_of``)."""
    return f.metadata.get("limit") or (SEED if f.name == "seed" else limit_of(default))


def check_config(config: Any, owner: str) -> Any:
    """Every field of the frozen dataclass ``config`` checked against its declared limit (``setting``), or the limit
    its default implies (``limit_of``), then every pair of ``ORDER`` (``lo < hi``, a class attribute); errors name
    ``owner.field``. -> ``config`` with each field in its checked form (ints as int, floats as float, lists as
    tuples)."""
    defaults = {f.name: f for f in dataclasses.fields(config)}
    checked = {}
    for name, f in defaults.items():
        default = f.default if f.default is not dataclasses.MISSING else getattr(config, name)
        checked[name] = limit(f, default).check(getattr(config, name), f"{owner}.{name}")
    for lo, hi in getattr(type(config), "ORDER", ()):
        if not checked[lo] < checked[hi]:
            raise ValueError(f"{owner}.{lo} must be below {owner}.{hi}, got {checked[lo]!r} and {checked[hi]!r}")
    return dataclasses.replace(config, **checked)
WHOLE = Limit(lo=0, whole=True)
SCALES = Limit(lo=0.0, many=True)                             # guidance scales w
RISING_SCALES = Limit(lo=0.0, many=True, increasing=True)
SIGMAS = Limit(lo=0.0, open=True, many=True)
RISING_COUNTS = Limit(lo=1, whole=True, many=True, increasing=True)   # step counts, coarse to fine


def declared(*order: tuple[str, str]) -> Callable[[T], T]:
    """A rule (a class or a function) whose signature is its schema: each parameter annotated
    ``Annotated[type, Limit]`` with its default is declared, e.g. ``eta: Annotated[float, UNIT] = 0.0``. The decorated
    rule checks those arguments against their limits, then each pair of ``order`` (``lo < hi``), on every call (a
    class: on construction), and carries its schema for whoever builds it (``methods.registry``):

        rule.defaults   name -> default, in signature order
        rule.limits     name -> Limit
        rule.order      the pairs that must increase"""
    def decorate(rule: T) -> T:
        target = rule.__init__ if isinstance(rule, type) else rule
        signature = inspect.signature(target)
        hints = typing.get_type_hints(target, include_extras=True)
        limits = {name: next(m for m in hints[name].__metadata__ if isinstance(m, Limit))
                  for name in signature.parameters
                  if typing.get_origin(hints.get(name)) is Annotated
                  and any(isinstance(m, Limit) for m in hints[name].__metadata__)}
        missing = [name for name in limits if signature.parameters[name].default is inspect.Parameter.empty]
        names = {name for pair in order for name in pair}
        if missing or names - set(limits):
            raise TypeError(f"a declared rule's limited parameters need defaults ({missing}) and order must pair "
                            f"them ({sorted(names - set(limits))})")

        @functools.wraps(target)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = bound.arguments
            for name, limit_ in limits.items():
                values[name] = limit_.check(values[name], name)
            for lo, hi in order:
                if not values[lo] < values[hi]:
                    raise ValueError(f"{lo} must be below {hi}, got {values[lo]!r} and {values[hi]!r}")
            return target(*bound.args, **bound.kwargs)

        if isinstance(rule, type):
            rule.__init__ = checked
            out = rule
        else:
            out = checked
        out.defaults = {name: signature.parameters[name].default for name in limits}
        out.limits, out.order = limits, tuple(order)
        return out
    return decorate
