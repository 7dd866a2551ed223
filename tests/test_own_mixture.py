"""Bring your own mixture: files and fingerprints, the one method vocabulary, and a cache that cannot lie."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
import torch
from hypothesis import given, settings

from sandbox import ClassConditionalGMM, cache, checkpoints, cli, comparison, fields, methods, separation, training, zoo
from sandbox.experiments.separation import SweepConfig

from .strategies import mixtures, points


def mine() -> ClassConditionalGMM:
    """A mixture of our own (not in the zoo): 2D, 3 classes, two components each."""
    g = zoo.random_mixture(3, 2, 2, seed=7, spread=1.5)
    return ClassConditionalGMM(g.means, g.covs, g.weights, g.class_probs, name="mine")


# ---------------------------------------------------------------------------------------------- files, fingerprints
@settings(max_examples=25, deadline=None)
@given(gmm=mixtures(max_dim=4, max_classes=4, max_components=3))
def test_a_saved_mixture_loads_back_bit_for_bit(gmm, tmp_path_factory):
    path = gmm.save(tmp_path_factory.mktemp("m") / "g.json")
    back = ClassConditionalGMM.load(path)
    assert back.fingerprint == gmm.fingerprint and back == gmm
    for a, b in zip(back.means + back.covs + back.weights, gmm.means + gmm.covs + gmm.weights):
        assert torch.equal(a, b)
    assert torch.equal(back.class_probs, gmm.class_probs)
    # a file written again from the loaded mixture is the same file
    assert back.save(path.with_name("again.json")).read_text() == path.read_text()


def test_fingerprint_is_the_content_not_the_name():
    a, b = zoo.overlap_2d(), zoo.overlap_2d()
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 16
    assert a.to(torch.float32).fingerprint == a.fingerprint         # where it computes does not change what it is
    renamed = ClassConditionalGMM(a.means, a.covs, a.weights, a.class_probs, name="something else")
    assert renamed == a
    # one last-bit change in one mean is another mixture
    means = a.means
    means[1][0, 0] = torch.nextafter(means[1][0, 0], torch.tensor(10.0, dtype=torch.float64))
    assert ClassConditionalGMM(means, a.covs, a.weights, a.class_probs).fingerprint != a.fingerprint


def test_the_file_format_is_the_constructors_layout(tmp_path):
    path = tmp_path / "by_hand.json"
    path.write_text(json.dumps({"means": [[[0.0]], [[2.0], [3.0]]], "covs": [[[[1.0]]], [[[0.5]], [[0.2]]]],
                                "weights": [[1.0], [0.3, 0.7]], "class_probs": [0.5, 0.5]}))
    gmm = ClassConditionalGMM.load(path)
    assert gmm.name == "by_hand" and gmm.num_classes == 2 and gmm.dim == 1
    assert zoo.resolve(str(path)) == gmm and zoo.resolve(path) == gmm and zoo.resolve(gmm) is gmm
    no_prior = tmp_path / "no_prior.json"
    no_prior.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "class_probs"}))
    assert torch.allclose(ClassConditionalGMM.load(no_prior).class_probs, torch.tensor([0.5, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "not readable JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"means": [[[0.0]]], "covs": [[[[1.0]]]]}', r"missing \['weights'\]"),
    ('{"means": [[[0.0]]], "covs": [[[[1.0]]]], "weights": [[1.0]], "colour": 1}', r"unknown \['colour'\]"),
    ('{"means": [[[0.0]]], "covs": [[[[-1.0]]]], "weights": [[1.0]]}', "positive definite"),
    ('{"means": [[[0.0]]], "covs": [[[[1.0]]]], "weights": [[0.5]]}', "must sum to 1"),
])
def test_bad_mixture_files_are_clear_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        ClassConditionalGMM.load(path)
    assert "bad.json" in str(err.value)
    with pytest.raises(ValueError, match="zoo name"):
        zoo.resolve("no_such_mixture")
    with pytest.raises(TypeError, match="mixture must be"):
        zoo.resolve(3)


def test_sample_joint_draws_labels_from_the_prior_and_points_from_their_class():
    gmm = mine()
    x0, y = gmm.sample_joint(60_000, generator=0)
    assert x0.shape == (60_000, 2) and y.shape == (60_000,)
    pi = gmm.class_probs
    freq = torch.bincount(y, minlength=3).double() / 60_000
    # binomial sd sqrt(pi (1 - pi) / n) <= 0.002: 5 sd is a 6e-7 two-sided level per class
    assert torch.all((freq - pi).abs() <= 5 * (pi * (1 - pi) / 60_000).sqrt())
    # the same generator state gives the same rows as drawing labels, then points of those labels
    g = torch.Generator().manual_seed(1)
    y2 = torch.multinomial(pi, 100, replacement=True, generator=g)
    x2 = gmm.sample(100, c=y2, generator=g)
    x1, y1 = gmm.sample_joint(100, generator=1)
    assert torch.equal(y1, y2) and torch.equal(x1, x2)


# ---------------------------------------------------------------------------------------------- one vocabulary
def test_every_name_in_use_is_a_registered_method():
    assert set(training.trainable_objectives()) <= set(methods.names("objective"))
    assert set(separation.SweepConfig().methods) <= set(methods.REGISTRY)
    assert {m for m, _ in comparison.ROWS} <= set(methods.REGISTRY)
    with pytest.raises(ValueError, match="method must be one of"):
        methods.get("mclr-weighted")                       # the old spellings are gone
    with pytest.raises(ValueError, match="registered already"):
        methods.register(methods.get("cfg"))


def test_fields_from_the_exact_source():
    gmm = mine()
    x = points(gmm, 0.7, 64, seed=0)
    s = torch.full((64,), 0.7, dtype=torch.float64)
    assert torch.equal(methods.field("cfg", gmm, 1, w=2.0)(x, s), gmm.cfg_score(x, s, 1, 2.0))
    assert torch.equal(methods.field("dsm", gmm, 1)(x, s), gmm.score(x, s, 1))
    # the theorem through the registry: the weighted-MCLR optimum is the CFG score
    assert torch.allclose(methods.field("weighted-mclr", gmm, 1, w=2.0)(x, s), gmm.cfg_score(x, s, 1, 2.0),
                          rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="sampled directly"):
        methods.field("tilted", gmm, 0, w=1.0)
    assert methods.draw("tilted", gmm, 0, 10, 0, w=1.0).shape == (10, 2)
    with pytest.raises(ValueError, match="takes parameters \\['w'\\], got \\['kappa'\\]"):
        methods.field("cfg", gmm, 0, w=1.0, kappa=2.0)


def test_fields_from_nets_use_the_net_of_their_objective():
    class Fake(torch.nn.Module):
        def __init__(self, shift: float) -> None:
            super().__init__()
            self.shift = shift

        def score(self, x, sigma, c):
            return x * 0 + (self.shift if c is not None else -1.0)

    nets = {"dsm": Fake(1.0), "weighted-mclr": Fake(5.0)}
    x, s = torch.zeros(4, 2, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    assert float(methods.field("cfg", nets, 0, w=2.0)(x, s)[0, 0]) == 1.0 + 2.0 * (1.0 + 1.0)   # s_c + w (s_c - s_u)
    assert float(methods.field("weighted-mclr", nets, 0, w=2.0)(x, s)[0, 0]) == 5.0             # its own net, unguided
    with pytest.raises(ValueError, match="nets must hold a net trained with 'mclr'"):
        methods.field("mclr", nets, 0, lam=1.0)


def test_labelled_field_groups_rows_by_label():
    gmm = mine()
    x = points(gmm, 0.5, 40, seed=1)
    s = torch.full((40,), 0.5, dtype=torch.float64)
    c = torch.arange(40) % 3
    both = fields.labelled(lambda k: fields.conditional(gmm.score, k))(x, s, c)
    assert torch.equal(both, gmm.score(x, s, c))


# ---------------------------------------------------------------------------------------------- the command line
def test_a_mixture_file_trains_compares_and_sweeps_from_the_cli(tmp_path, capsys):
    gmm = zoo.gaussian_classes([-1.0, 1.2], [0.3, 0.5], class_probs=[0.4, 0.6], name="mine")
    path = gmm.save(tmp_path / "mine.json")
    net = tmp_path / "dsm.pt"
    assert cli.main(["train", "--objective", "dsm", "--fast", "--quiet", "--mixture", str(path),
                     "--out", str(net)]) == 0
    assert checkpoints.load(net).config.mixture == gmm          # the checkpoint carries the mixture itself
    out = tmp_path / "cmp.json"
    assert cli.main(["compare", "--fast", "--quiet", "--mixture", str(path), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mixture"] == {"name": "mine", "fingerprint": gmm.fingerprint}
    assert report["config"]["train"]["mixture"] == {"fingerprint": gmm.fingerprint}
    assert "cfg / exact" in report["results"]["per_seed"][0]
    sep = tmp_path / "sep.json"
    assert cli.main(["separation", "--fast", "--quiet", "--mixture", str(path), "--json", str(sep)]) == 0
    assert json.loads(sep.read_text())["mixture"]["fingerprint"] == gmm.fingerprint
    assert gmm.fingerprint in capsys.readouterr().out
    # a fine-tune takes its init's mixture; naming another one is an error, not silently ignored
    assert cli.main(["train", "--objective", "weighted-mclr", "--fast", "--quiet", "--init", str(net),
                     "--mixture", "overlap_2d", "--out", str(tmp_path / "t.pt")]) == 2
    assert "not the mixture the --init net was trained on" in capsys.readouterr().err


def test_the_api_takes_mixture_objects_wherever_it_takes_names():
    gmm = mine()
    assert training.TrainConfig(mixture=gmm).mixture is gmm
    assert SweepConfig(mixture=gmm).mixture is gmm
    assert comparison.CompareConfig(train=training.TrainConfig(mixture=gmm)).train.mixture is gmm
    assert training.TrainConfig(mixture="overlap_2d") == training.TrainConfig(mixture=zoo.overlap_2d())


# ---------------------------------------------------------------------------------------------- the cache
def _same_name_different_content() -> tuple[ClassConditionalGMM, ClassConditionalGMM]:
    a = zoo.gaussian_classes([-1.0, 1.0], [0.3, 0.3], name="mine")
    b = zoo.gaussian_classes([-1.0, 1.5], [0.3, 0.3], name="mine")
    return a, b


def test_two_mixtures_under_one_name_never_share_an_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path))
    a, b = _same_name_different_content()
    config = SweepConfig(mixture=a, methods=("cfg",), ws=(0.0,), n=50, steps=4, fidelity=False)
    assert cache.key_of("x", config) != cache.key_of("x", SweepConfig(mixture=b, methods=("cfg",), ws=(0.0,), n=50,
                                                                        steps=4, fidelity=False))
    runs = []
    for gmm in (a, b, a):
        train = training.TrainConfig(mixture=gmm, steps=3, batch=8)
        result = checkpoints.cached_training({"train": train}, lambda train=train: runs.append(1) or training.train(
            train, progress=False))
        assert result.config.mixture == gmm
    assert len(runs) == 2                                     # a, b trained; a again from the cache


def test_a_swapped_cache_entry_is_detected_and_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path))
    one = cache.cached("thing", {"v": 1}, lambda: {"x": torch.tensor([1.0])})
    cache.cached("thing", {"v": 2}, lambda: {"x": torch.tensor([2.0])})
    shutil.copy(cache.path_for("thing", {"v": 2}), cache.path_for("thing", {"v": 1}))    # 2's entry under 1's name
    with pytest.warns(cache.CacheWarning, match="stored under another key"):
        again = cache.cached("thing", {"v": 1}, lambda: {"x": torch.tensor([1.0])})
    assert torch.equal(again["x"], one["x"])
    with warnings.catch_warnings():                           # repaired: read back without a warning
        warnings.simplefilter("error")
        assert float(cache.cached("thing", {"v": 1}, lambda: pytest.fail("recomputed"))["x"]) == 1.0


def test_a_swapped_or_damaged_cached_net_is_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(tmp_path))
    a, b = _same_name_different_content()
    configs = [training.TrainConfig(mixture=g, steps=3, batch=8) for g in (a, b)]
    nets = [checkpoints.cached_training({"train": c}, lambda c=c: training.train(c, progress=False)) for c in configs]
    path_a, path_b = (cache.path_for("net", {"train": c}, code=(training,)) for c in configs)
    shutil.copy(path_b, path_a)
    runs = []
    with pytest.warns(cache.CacheWarning, match="another key"):
        back = checkpoints.cached_training({"train": configs[0]}, lambda: runs.append(1) or training.train(
            configs[0], progress=False))
    assert runs == [1] and back.config.mixture == a
    assert all(torch.equal(u, v) for u, v in zip(back.model.state_dict().values(), nets[0].model.state_dict().values()))
    # the right key around a damaged checkpoint: recomputed too
    entry = torch.load(path_a, weights_only=True)
    entry["value"]["state_dict"] = {k: v * float("nan") for k, v in entry["value"]["state_dict"].items()}
    torch.save(entry, path_a)
    with pytest.warns(cache.CacheWarning, match="non-finite"):
        checkpoints.cached_training({"train": configs[0]}, lambda: runs.append(2) or training.train(
            configs[0], progress=False))
    assert runs == [1, 2]


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "None"])
def test_the_cache_can_be_switched_off(monkeypatch, value, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", value)
    assert cache.directory() is None
    calls = []
    cache.cached("thing", {}, lambda: calls.append(1))
    cache.cached("thing", {}, lambda: calls.append(1))
    assert calls == [1, 1] and list(tmp_path.iterdir()) == []


def test_written_files_get_normal_permissions(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        path = mine().save(tmp_path / "m.json")
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize("name", ["ResidualsConfig", "ParabolaConfig", "LearningTraceConfig"])
def test_figure_experiments_key_what_changes_their_result(name):
    from sandbox import verification
    config = getattr(verification, name)()
    fast = config.fast()
    assert cache.key_of(name, config) != cache.key_of(name, fast)
    for field_name in ("rules", "quad_ws", "lr", "width", "seed", "rule"):
        if hasattr(config, field_name):
            assert f'"{field_name}"' in cache.key_of(name, config)


def test_any_mixture_in_the_checks():
    from sandbox import verification
    results = verification.check_closed_form([mine()], sigmas=(0.3,), ws=(2.0,), n_grid=11, n_random=100)
    assert results[0].params["mixture"] == mine().name and results[0].passed



def test_verify_plans_every_check_a_mixture_allows(tmp_path):
    from sandbox import verification
    default = [label for label, _ in verification.VerifyConfig(fast=True).plan()]
    assert default == ["closed-form", "quadrature", "monte-carlo", "learning", "symbolic", "distribution"]
    high = zoo.random_mixture(2, 2, 3, seed=1)
    config = verification.VerifyConfig((mine(), high), fast=True)
    labels = [label for label, _ in config.plan()]
    assert labels == ["closed-form", "quadrature", "monte-carlo", "learning", "learning", "symbolic", "distribution"]
    assert "d <= 2" in config.skipped()[0] and high.name in config.skipped()[0]
    only_high = verification.VerifyConfig((high,), fast=True)       # every check but quadrature runs in any d
    assert [label for label, _ in only_high.plan()] == ["closed-form", "monte-carlo", "learning", "symbolic",
                                                        "distribution"]
    closed = only_high.plan()[0][1]()
    assert all(r.passed and r.params["mixture"] == high.name for r in closed)
