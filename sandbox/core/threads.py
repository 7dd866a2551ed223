"""How many CPU threads torch uses: one by default, so a run does not collapse when other work holds a core.

Measured on 2 cores (``benchmarks/bench_load.py``): with torch's default of one thread per core, its OpenMP
workers spin while waiting for each other, and once another CPU-bound process holds a core every parallel region
waits for a descheduled thread: ``claims --fast`` took 50 s instead of 17 s. With one thread it took 19 s on a
quiet machine and 19 s beside the busy process. A passive OpenMP wait policy avoids the spinning but costs more
than it saves on a quiet machine (claims 31 s, atlas 43 s instead of 32 s), and counting free cores at start
misjudges two runs started together. The workloads here are many small operations (small nets, mixtures of
modest size), which one thread runs nearly as fast as two.

The count is ``MCLR_SANDBOX_THREADS`` if set, else torch's own when the user configured it (``OMP_NUM_THREADS``
or ``MKL_NUM_THREADS``), else 1; ``--threads N`` on every command and ``use(n)`` set it explicitly. It is applied
when ``sandbox`` is imported, so the command line, the API and the notebooks behave the same.
"""

from __future__ import annotations

import os
import warnings

import torch

from .validation import as_int

ENV = "MCLR_SANDBOX_THREADS"


def default() -> int | None:
    """The policy's count (module docstring), or None to leave torch's own (configured by the user)."""
    if os.environ.get(ENV, "").strip():
        return as_int(_parse(os.environ[ENV]), ENV, minimum=1)
    if any(os.environ.get(name, "").strip() for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return None
    return 1


def _parse(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{ENV} must be a whole number of threads >= 1, got {text!r}") from None


def use(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (default: the policy's; a malformed ``MCLR_SANDBOX_THREADS`` is a
    warning and 1); returns the count in force."""
    if n is None:
        try:
            n = default()
        except ValueError as err:
            warnings.warn(f"{err}; using 1 thread", stacklevel=2)
            n = 1
    n = as_int(n, "threads", minimum=1) if n is not None else None
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()
