"""Test-wide settings: one torch thread per process, a private figure/net cache, reproducible property tests.

The cache is private to the run and shared by its xdist workers (pytest-xdist gives every worker of a run the same
``PYTEST_XDIST_TESTRUNUID``): what one test computes (the fast atlas, the claims, the nets), another reads, as a
user's second command does; entries are written atomically, so two workers computing one entry are harmless.

The suite runs under pytest-xdist with one worker per core; letting each worker (and each notebook
kernel it starts) also spawn a thread per core oversubscribes the CPU and OpenMP spin-waits make that
many times slower.
"""

import os
import tempfile

os.environ["OMP_NUM_THREADS"] = "1"
# a private on-disk cache per test run: tests never read or fill the user's cache
os.environ["MCLR_SANDBOX_CACHE"] = (
    os.path.join(tempfile.gettempdir(), "mclr-sandbox-test-cache-" + os.environ["PYTEST_XDIST_TESTRUNUID"])
    if os.environ.get("PYTEST_XDIST_TESTRUNUID") else tempfile.mkdtemp(prefix="mclr-sandbox-test-cache-"))
os.environ["MKL_NUM_THREADS"] = "1"

import torch
from hypothesis import settings

torch.set_num_threads(1)

# Property tests draw the same examples on every run and machine (a CI run cannot flake on a new draw);
# HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for counterexamples locally.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def pytest_collection_modifyitems(items):
    """The slow tests first (in their own order): the workers start on the long ones and finish together, instead
    of one of them taking a two-minute test last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
