"""Sweeps: independent units run serially or on Dask workers give the same results, each unit cached once.

The serial executor and what every executor shares (unit cache, failures, arguments) are tested here, in
process; ``test_sweeps_distributed`` runs them on Dask workers.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

from sandbox import cache, sweeps
from sandbox.core.files import remove_orphans
from sandbox.experiments.metrics import Estimate

CALLS: list[int] = []


def square(x: int) -> dict[str, object]:
    CALLS.append(x)
    if x < 0:
        raise ValueError(f"negative setting {x}")
    return {"x": x, "square": Estimate(float(x * x), x * x - 1.0, x * x + 1.0, "test"), "pair": (x, -x)}


def test_serial_map_returns_units_in_order_and_caches_each_once():
    CALLS.clear()
    first = sweeps.map(square, [3, 1, 2], "test-square", cost=[1, 5, 2])   # cost orders workers, not results
    assert [r["x"] for r in first] == [3, 1, 2] and CALLS == [3, 1, 2]
    again = sweeps.map(square, [1, 2, 3, 4], "test-square")
    assert CALLS == [3, 1, 2, 4]                                # only the new unit ran
    # from the cache: the Estimate comes back as one, a tuple as a list
    assert again[0] == {"x": 1, "square": Estimate(1.0, 0.0, 2.0, "test"), "pair": [1, -1]}


def test_a_failing_unit_is_named_and_the_others_are_cached():
    CALLS.clear()
    with pytest.raises(sweeps.SweepError, match=r"1 of 3 units of squares failed \(the others completed\): "
                                                r"setting -7: ValueError: negative setting -7"):
        sweeps.map(square, [10, -7, 11], "test-square", labels=["setting 10", "setting -7", "setting 11"],
                   desc="squares")
    assert CALLS == [10, -7, 11]                                # the unit after the failure ran too
    sweeps.map(square, [10, 11], "test-square")
    assert CALLS == [10, -7, 11]                                # ... and both are cached


def test_map_checks_its_arguments():
    with pytest.raises(ValueError, match=r"one entry per unit \(2\), got 1, 2 and 2"):
        sweeps.map(square, [1, 2], "test-square", labels=["only one"])
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        with sweeps.local(0):
            pass


def test_pack_round_trips_storable_dataclasses_and_refuses_unknown_ones():
    value = {"a": [Estimate(1.0, 0.5, 1.5, "m", p_value=0.01), {"t": torch.arange(3)}], "b": None}
    back = cache.unpack(cache.pack(value))
    assert back["a"][0] == value["a"][0] and torch.equal(back["a"][1]["t"], torch.arange(3))
    with pytest.raises(ValueError, match="'Nope' is not storable"):
        cache.unpack({"__storable__": "Nope", "x": 1})


def test_without_dask_the_workers_option_says_what_to_install(monkeypatch, capsys):
    from sandbox import cli

    monkeypatch.setitem(sys.modules, "distributed", None)      # import distributed -> ImportError
    with pytest.raises(ValueError, match=r"needs dask.distributed: pip install 'mclr-sandbox\[distributed\]'"):
        with sweeps.local(2):
            pass
    assert cli.main(["claims", "--fast", "--workers", "2"]) == 2
    assert "pip install 'mclr-sandbox[distributed]'" in capsys.readouterr().err


def test_orphaned_temporary_files_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / ".net-0123.pt.999999999.abcd1234.tmp"     # no process has this id
    alive = tmp_path / f".net-0123.pt.{os.getpid()}.abcd1234.tmp"
    for path in (dead, alive):
        path.write_bytes(b"partial")
    assert remove_orphans(tmp_path) == [dead] and alive.exists()


class Recording:
    """An executor that records the units it is handed (and runs them here)."""

    def __init__(self) -> None:
        self.handed: list[str] = []

    def run(self, tasks, labels, order, desc, progress):
        self.handed += list(labels)
        return sweeps.Serial().run(tasks, labels, order, desc, progress)


def test_only_units_not_in_the_cache_reach_the_executor():
    CALLS.clear()
    with sweeps.using(Recording()) as runner:
        first = sweeps.map(square, [21, 22], "test-square", labels=["a", "b"])
        again = sweeps.map(square, [21, 22, 23], "test-square", labels=["a", "b", "c"])
    assert runner.handed == ["a", "b", "c"] and CALLS == [21, 22, 23]   # 21 and 22 were read here the second time
    assert again[:2] == [{**r, "pair": list(r["pair"])} for r in first] and again[2]["x"] == 23


def test_a_local_cluster_starts_only_when_a_unit_is_left_to_compute():
    pytest.importorskip("distributed")
    sweeps.map(square, [31, 32], "test-square")                 # cached by a serial run
    with sweeps.local(2) as runner:
        assert sweeps.map(square, [31, 32], "test-square")[1]["x"] == 32
        assert not runner.started                                 # every unit cached: no cluster was started
