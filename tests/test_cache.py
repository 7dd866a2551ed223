"""The on-disk cache: keys follow the configuration, damaged entries are recomputed, cached figures are identical."""

from __future__ import annotations

import pytest
import torch

from sandbox import cache, checkpoints, figures, training


def test_cached_values_are_keyed_by_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path))
    calls = []

    def compute(v: float):
        calls.append(v)
        return {"x": torch.tensor([v], dtype=torch.float64)}

    a = cache.cached("thing", {"v": 1.0}, lambda: compute(1.0))
    b = cache.cached("thing", {"v": 1.0}, lambda: compute(99.0))       # same key: not recomputed
    c = cache.cached("thing", {"v": 2.0}, lambda: compute(2.0))        # new key: computed
    assert calls == [1.0, 2.0] and torch.equal(a["x"], b["x"]) and float(c["x"]) == 2.0
    # a damaged entry is recomputed and overwritten, never trusted
    path = cache.path_for("thing", {"v": 1.0})
    path.write_bytes(b"garbage")
    with pytest.warns(cache.CacheWarning, match="cannot be read"):
        assert float(cache.cached("thing", {"v": 1.0}, lambda: compute(1.5))["x"]) == 1.5
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", "off")
    assert cache.path_for("thing", {"v": 1.0}) is None
    cache.cached("thing", {"v": 1.0}, lambda: compute(3.0))
    assert calls[-1] == 3.0


def test_cached_training_reuses_the_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path))
    config = training.TrainConfig(mixture="two_gaussians_1d", steps=5, batch=16)
    first = checkpoints.cached_training({"config": 1}, lambda: training.train(config, progress=False))
    again = checkpoints.cached_training({"config": 1}, lambda: (_ for _ in ()).throw(AssertionError("retrained")))
    assert all(torch.equal(first.model.state_dict()[k], v) for k, v in again.model.state_dict().items())


def test_a_cached_figure_is_byte_identical_to_a_fresh_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path / "cache"))
    cold = figures.build(["separation_tradeoff"], tmp_path / "cold", fast=True, progress=False)
    assert list((tmp_path / "cache").glob("separation-*.pt"))
    warm = figures.build(["separation_tradeoff"], tmp_path / "warm", fast=True, progress=False)
    for a, b in zip(cold, warm):
        assert a.read_bytes() == b.read_bytes(), a.name
