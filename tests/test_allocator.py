"""The allocator policy: freed memory is kept for reuse, so a sampler run does not fault its temporaries in again at
every step (glibc's malloc on Linux; elsewhere the policy does nothing)."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

# page faults of one Heun run of exact CFG on crowded_4d, after a warm-up run (imports and first allocations)
FAULTS = """
import resource, sandbox
from sandbox import methods, samplers, zoo
from sandbox.core.schedules import edm_sigmas
gmm = zoo.crowded_4d()
field = methods.field("cfg", gmm, 0, w=4.0)
def run():
    return samplers.heun_ode(field, gmm.sample(4000, c=0, sigma=80.0, generator=0), edm_sigmas(32, 0.002, 80.0))
first = run()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
again = run()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults, sandbox.allocator.use(), bool((first == again).all()))
"""


def _faults(env: dict[str, str]) -> tuple[int, str, str]:
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}, timeout=120)
    faults, policy, same = out.stdout.split()
    return int(faults), policy, same


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
                    reason="the policy tunes glibc's malloc")
def test_a_sampler_run_reuses_its_memory_instead_of_faulting_it_in_again():
    kept, policy, same = _faults({})
    system, off, same_off = _faults({"MCLR_SANDBOX_MALLOC": "system"})
    # measured: about 2,500 faults with the policy, 199,000 without (a fresh page for every temporary at every step)
    assert policy == "True" and off == "False" and same == same_off == "True"
    assert kept * 10 < system, (kept, system)
    # Dask's workers set MALLOC_TRIM_THRESHOLD_=65536 in their environment: the policy overrides it too
    dask_like, _, _ = _faults({"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert dask_like * 10 < system, (dask_like, system)
