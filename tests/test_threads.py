"""The thread policy: one torch thread unless told otherwise, the same for the API, the notebooks and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sandbox import cli

SHOW = "import sandbox, torch; print(torch.get_num_threads())"


def _threads(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, env={**clean, **env})
    return out.stdout.strip() + out.stderr


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="torch's own default is 1 thread on one core")
def test_importing_the_package_sets_one_thread_unless_told_otherwise():
    assert _threads({}) == "1"                                    # torch's own default here: one per core
    assert _threads({"MCLR_SANDBOX_THREADS": "2"}) == "2"
    assert _threads({"OMP_NUM_THREADS": "2"}) == "2"              # the user's own setting is kept
    bad = _threads({"MCLR_SANDBOX_THREADS": "many"})
    assert bad.startswith("1") and "MCLR_SANDBOX_THREADS must be a whole number" in bad


def test_every_command_takes_threads(capsys):
    import torch

    before = torch.get_num_threads()
    try:
        assert cli.main(["zoo", "--threads", "2"]) == 0 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert cli.main(["zoo", "--threads", "0"]) == 2
    assert "argument --threads: must be a whole number >= 1" in capsys.readouterr().err
