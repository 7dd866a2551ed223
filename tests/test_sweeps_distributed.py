"""Sweeps on Dask workers (``dask.distributed``, the ``distributed`` extra, which ``.ci/run`` installs): a local
cluster passed by address with ``--scheduler`` gives the serial run's results bit for bit, a worker killed mid-sweep
is replaced and damages nothing, and Ctrl-C cancels the outstanding units and leaves no partial file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from sandbox import sweeps
from sandbox.experiments.claims import fades_in_high_d

distributed = pytest.importorskip("distributed", reason="the distributed extra is not installed")
TIMINGS = {"seconds_per_1000", "train_seconds", "seconds", "code"}


def _without_timings(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if k not in TIMINGS}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def _cli(*args: str, cache_dir: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "MCLR_SANDBOX_CACHE": str(cache_dir)})


def _entries_intact(root: Path) -> int:
    """Every entry of the cache folder loads and carries its key; no temporary file is left. -> how many."""
    assert not list(root.glob(".*.tmp"))
    entries = list(root.glob("*.pt"))
    for path in entries:
        entry = torch.load(path, weights_only=True)
        assert isinstance(entry, dict) and json.loads(entry["key"])["name"] in path.name
    return len(entries)


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of 2 worker processes, as a user would start one (its address goes to --scheduler)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.mark.slow
# three claims whose units are cells, random mixtures and mixtures with counterexamples; the atlas on four of its
# methods: exact rows (a plain and a stateful rule) and two fine-tunes of the DSM net
@pytest.mark.parametrize("command", [["claims", "--fast", "--only", "fades-in-high-d", "monotone-over-mixtures",
                                      "icg-matches-cfg"],
                                     ["atlas", "--fast", "--methods", "cfg", "apg", "weighted-mclr", "gft"]],
                         ids=lambda c: c[0])
def test_a_cluster_by_address_gives_the_serial_results(command, cluster, tmp_path):
    serial = _cli(*command, "--json", str(tmp_path / "serial.json"), cache_dir=tmp_path / "serial-cache")
    assert serial.returncode == 0, serial.stderr
    spread = _cli(*command, "--scheduler", cluster.scheduler_address, "--json", str(tmp_path / "cluster.json"),
                  cache_dir=tmp_path / "cluster-cache")
    assert spread.returncode == 0, spread.stderr
    a, b = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("serial", "cluster"))
    assert _without_timings(a) == _without_timings(b)            # bit-identical numbers, timings aside
    # the workers wrote the units into the run's own cache folder, and a re-run computes nothing (claims: the
    # cheaper of the two to run once more)
    assert _entries_intact(tmp_path / "cluster-cache") > 10
    if command[0] == "claims":
        # nothing computed again: not one entry written or rewritten (a wall-time bound would fail on a busy machine)
        before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cluster-cache").glob("*.pt")}
        again = _cli(*command, "--scheduler", cluster.scheduler_address, cache_dir=tmp_path / "cluster-cache")
        assert again.returncode == 0
        assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cluster-cache").glob("*.pt")} == before


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_sweep_completes_undamaged(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path / "cache"))
    cells = [fades_in_high_d.Cell(256, 16, 2.0, 1000, 40 + i) for i in range(12)]    # about 0.3 s each
    with sweeps.local(2) as runner:
        victim = next(iter(runner.client.run(os.getpid).values()))
        killer = threading.Timer(1.0, os.kill, (victim, signal.SIGKILL))
        killer.start()
        t0 = time.monotonic()
        results = fades_in_high_d.distortions(cells, "kill test")
        assert time.monotonic() - t0 > 1.0                  # the worker died mid-sweep ...
        killer.join()
        assert victim not in runner.client.run(os.getpid).values()      # ... and its nanny started another
    assert _entries_intact(tmp_path / "cache") == len(cells)
    assert results == fades_in_high_d.distortions(cells, "serial")        # the serial run reads the same entries
    assert results[-1] == fades_in_high_d.cell_distortion(cells[-1])      # ... which equal a fresh computation


@pytest.mark.slow
def test_ctrl_c_cancels_the_sweep_and_leaves_no_partial_file(tmp_path):
    root = tmp_path / "cache"
    run = subprocess.Popen([sys.executable, "-m", "sandbox", "claims", "--only", "fades-in-high-d", "--workers", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                           env={**os.environ, "MCLR_SANDBOX_CACHE": str(root)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(root.glob("sphere-cell-*.pt"))) < 3:
        time.sleep(0.2)                                          # interrupt once some units are done
    os.killpg(run.pid, signal.SIGINT)                            # Ctrl-C: the whole group, the workers included
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and err == "mclr-sandbox claims: interrupted\n", err[-2000:]   # one line
    done = _entries_intact(root)
    assert 3 <= done < 116                                        # the finished units are kept, the rest cancelled
