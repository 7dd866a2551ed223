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

import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import settings

import sandbox

torch.set_num_threads(1)

# Property tests draw the same examples on every run and machine (a CI run cannot flake on a new draw);
# HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for counterexamples locally.
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


# the longest tests (seconds on 2 quiet cores, last measured): they start first, so that no worker is left with one
# of them at the end while the other idles
LONGEST = ("test_report.py::test_the_committed_fast_page_is_what_the_code_computes",         # 236
           "test_theory.py::test_learning_reaches_cfg_score_and_dsm_reaches_conditional_score",  # 60
           "test_verify_resolution.py::test_the_issues_2d_mixture_passes_verify_fast",          # 61
           "test_sweeps_distributed.py::test_a_cluster_by_address_gives_the_serial_results")    # 58, 37


# the notebooks draw what the fast results page computes (claims, atlas, nets): run after the page's test (the
# first of ``LONGEST``), they read its results from the run's shared cache (measured: 07_claims 54 s -> 12 s,
# 06_guidance_atlas 40 s -> 9 s)
LAST = ("test_notebooks.py::",)


def _rank(item) -> tuple[int, int]:
    """0: one of the ``LONGEST`` (in their order), 1: slow, 2: the rest, 3: ``LAST``."""
    for i, name in enumerate(LONGEST):
        if name in item.nodeid:
            return (0, i)
    if any(name in item.nodeid for name in LAST):
        return (3, 0)
    return (1, 0) if item.get_closest_marker("slow") else (2, 0)


def pytest_collection_modifyitems(items):
    """The longest tests first, then the other slow ones (in their own order), then the rest, the notebooks last:
    with ``--dist worksteal`` (``make test``) a worker that runs out of tests takes the other's last ones, so both
    finish together."""
    items.sort(key=_rank)


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package's source in ``tmp_path / "pkg"`` (the folder to put on ``PYTHONPATH``): a test adds or
    edits a module there and runs it, leaving the real package alone."""
    root = tmp_path / "pkg"
    shutil.copytree(Path(sandbox.__file__).parent, root / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def copy_cli(tmp_path: Path, package_copy: Path):
    """``run(*args)``: ``python -m sandbox ARGS`` on ``package_copy`` in ``tmp_path``, without a cache, as a new user
    would run the copy (what a test that adds a module to the package checks it with)."""
    import subprocess
    import sys

    env = {"PYTHONPATH": str(package_copy), "PATH": "", "MCLR_SANDBOX_CACHE": "off", "OMP_NUM_THREADS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sandbox", *args], capture_output=True, text=True, cwd=tmp_path,
                              env=env, timeout=600)
    return run
