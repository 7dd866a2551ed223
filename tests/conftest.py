"""Test-wide settings: one torch thread per process, a private figure/net cache, reproducible property tests.

The suite runs under pytest-xdist with one worker per core; letting each worker (and each notebook
kernel it starts) also spawn a thread per core oversubscribes the CPU and OpenMP spin-waits make that
many times slower.
"""

import os
import tempfile

os.environ["OMP_NUM_THREADS"] = "1"
# a private on-disk cache per test process: tests never read or fill the user's cache
os.environ["MCLR_SANDBOX_CACHE"] = tempfile.mkdtemp(prefix="mclr-sandbox-test-cache-")
os.environ["MKL_NUM_THREADS"] = "1"

import torch
from hypothesis import settings

torch.set_num_threads(1)

# Property tests draw the same examples on every run and machine (a CI run cannot flake on a new draw);
# HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for counterexamples locally.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
