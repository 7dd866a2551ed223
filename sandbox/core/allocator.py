"""How freed memory goes back to the operating system: kept for reuse, up to a bound (glibc's malloc on Linux).

The sandbox's work is many small numerical steps, each allocating and freeing temporaries of a few MB (a sampler
step on a mixture holds ``(rows, d, C)`` arrays). glibc serves allocations above its mmap threshold (128 KiB at first,
adjusted as it goes) with fresh pages from the kernel and returns the top of its heap once more than its trim
threshold is free, so the same memory is faulted in again at every step: measured on the 2-core machine
(``benchmarks/bench_allocator.py``), a Heun run of exact CFG on crowded_4d (4000 samples, 32 steps) took 0.60 s, 40%
of it in the kernel (199,000 page faults), and 0.30 s with memory kept (2,500 faults); a Dask worker, which sets
``MALLOC_TRIM_THRESHOLD_=65536``, was slower still. The policy, applied when ``sandbox`` is imported (in every
process: command line, API, notebooks, Dask workers), raises both thresholds with ``mallopt``: allocations up to
``MMAP_THRESHOLD`` come from the heap, and up to ``TRIM_THRESHOLD`` of free heap is kept instead of returned. A
process then keeps its peak heap (bounded by what it uses plus ``TRIM_THRESHOLD``). ``MCLR_SANDBOX_MALLOC=system``
leaves the allocator as it is; elsewhere than glibc nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ENV = "MCLR_SANDBOX_MALLOC"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3          # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 256 << 20                            # larger allocations still get their own pages
TRIM_THRESHOLD = 1 << 30                              # free heap kept for reuse before any is returned


def use() -> bool:
    """Apply the policy (module docstring) unless ``MCLR_SANDBOX_MALLOC=system``. -> whether it is in force."""
    if os.environ.get(ENV, "").strip().lower() == "system":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):     # no C library by that name, or not glibc: nothing to tune
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
