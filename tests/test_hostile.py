"""Hostile input: every bad input gets the promised error naming what is wrong, never NaN or garbage; every edge
input a finite, correct answer; every command-line failure one line and the right exit code."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest
import torch

from sandbox import (
    ClassConditionalGMM,
    checkpoints,
    cli,
    guidance,
    metrics,
    objectives,
    samplers,
    theory,
    training,
    zoo,
)
from sandbox.core.files import atomic_open

D = torch.float64
GMM = zoo.overlap_2d()
X = GMM.sample(50, sigma=0.5, generator=0)
S = torch.full((50,), 0.5, dtype=D)


def no_cuda() -> bool:
    return not torch.cuda.is_available()


# ---------------------------------------------------------------------------------------------- the mixture
@pytest.mark.parametrize("means, message", [
    ([[[True]]], "means\\[0\\] must hold real numbers"),
    (torch.tensor([[[1 + 1j]]]), "means\\[0\\] must hold real numbers"),
    ([[["a"]]], "means\\[0\\]"),
])
def test_mixture_parameters_of_the_wrong_kind_are_refused(means, message):
    with pytest.raises(TypeError, match=message):
        ClassConditionalGMM(means, [[[[1.0]]]], [[1.0]])
    with pytest.raises(TypeError, match=r"weights\[0\] must hold real numbers"):
        ClassConditionalGMM([[[0.0]]], [[[[1.0]]]], [[True]])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_inputs_beyond_the_dtype_are_refused_with_the_limit_and_edges_stay_finite(dtype):
    gmm = GMM.to(dtype)
    edge = torch.tensor([[0.5 * gmm.x_limit, 0.0]], dtype=dtype)
    for value in (gmm.score(edge, 0.1), gmm.denoise(edge, 0.1), gmm.log_prob(edge, 0.1), gmm.class_posterior(edge)):
        assert bool(torch.isfinite(value).all())
    # far out along +x1 the score points back: negative first coordinate
    assert float(gmm.score(edge, 0.1)[0, 0]) < 0
    with pytest.raises(ValueError, match=r"x must have entries of absolute value <= .* in torch.float"):
        gmm.score(edge * 4, 0.1)
    with pytest.raises(ValueError, match=r"sigma must be <= "):
        gmm.score(edge * 0, 4 * gmm.sigma_limit)
    assert bool(torch.isfinite(gmm.score(edge * 0, 0.5 * gmm.sigma_limit)).all())


def test_to_takes_a_device_or_a_dtype_positionally_like_a_module():
    assert GMM.to(torch.float32).dtype == torch.float32
    assert GMM.to("cpu", torch.float32).dtype == torch.float32
    assert GMM.to(torch.float32).fingerprint == GMM.fingerprint
    with pytest.raises(TypeError, match="to\\(\\) takes a dtype and/or a device"):
        GMM.to(3)
    if no_cuda():
        for make in (lambda: GMM.to("cuda"), lambda: ClassConditionalGMM([[[0.0]]], [[[[1.0]]]], [[1.0]],
                                                                         device="cuda")):
            with pytest.raises(ValueError, match="'cuda' is not available"):
                make()
        with pytest.raises(ValueError, match="device"):
            training.train(training.TrainConfig(mixture="two_gaussians_1d", steps=1, batch=4), device="cuda",
                           progress=False)
    with pytest.raises(ValueError, match="device must be a torch device"):
        GMM.to("gpu0")


# ---------------------------------------------------------------------------------------------- objectives, theory
def _batch():
    x0, y = GMM.sample_joint(8, generator=1)
    return x0, torch.randn(8, 2, dtype=D, generator=torch.Generator().manual_seed(2)), y


@pytest.mark.parametrize("lam", [math.inf, math.nan, -1.0])
def test_bad_mclr_strengths_are_refused(lam):
    x0, eps, y = _batch()
    c_neg = objectives.mismatched_labels(y, 3, generator=0)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        objectives.mclr_loss(GMM.score, x0, eps, 0.5, y, c_neg, lam, 3)
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        theory.mclr_coefficient(GMM, X, 0.5, 0, lam)
    with pytest.raises(ValueError, match="lam"):
        training.TrainConfig(lam=lam)


@pytest.mark.parametrize("value", [5.0, -4.0, math.nan])
def test_a_posterior_that_is_not_a_probability_is_refused(value):
    x0, eps, y = _batch()
    c_neg = objectives.mismatched_labels(y, 3, generator=0)
    with pytest.raises(ValueError, match="posterior_fn's output must hold probabilities"):
        objectives.weighted_mclr_loss(GMM.score, x0, eps, 0.5, y, c_neg, 2.0,
                                      lambda x, s: torch.full((8, 3), value, dtype=D), 3)
    with pytest.raises(ValueError, match="r_c must hold probabilities"):
        objectives.sample_adaptive_weights(torch.tensor([value], dtype=D), 2.0, 0.3)


def test_weights_labels_and_batches_are_checked():
    with pytest.raises(ValueError, match="prior_c must be a finite number > 0"):
        objectives.sample_adaptive_weights(torch.tensor([0.5], dtype=D), 2.0, 0.0)
    with pytest.raises(ValueError, match="w must be a finite number >= 0"):
        objectives.sample_adaptive_weights(torch.tensor([0.5], dtype=D), math.nan, 0.3)
    # the formulas at an edge: r = 1 gives alpha = 1, beta = w / pi
    alpha, beta = objectives.sample_adaptive_weights(torch.tensor([1.0], dtype=D), 2.0, 0.25)
    assert float(alpha) == 1.0 and float(beta) == 8.0
    with pytest.raises(ValueError, match="n must be a non-negative int"):
        objectives.uniform_labels(-1, 3)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        objectives.uniform_labels(4, 0)
    with pytest.raises(ValueError, match="num_classes \\(mismatched labels need K >= 2\\)"):
        objectives.mismatched_labels(torch.tensor([0, 0]), 1)
    x0, eps, y = _batch()
    with pytest.raises(TypeError, match="x0 and eps must be floating tensors"):
        objectives.dsm_loss(GMM.score, x0.long(), eps.long(), 2.7, y, 3)
    with pytest.raises(ValueError, match="x0 and eps must be finite"):
        objectives.dsm_loss(GMM.score, x0 * math.nan, eps, 2.7, y, 3)


def test_theory_takes_only_point_tensors_and_enough_classes():
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        theory.minimiser(GMM, X.tolist(), 0.5, 0, "weighted-mclr", w=2.0)
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        theory.mclr_coefficient(GMM, X.tolist(), 0.5, 0, 1.0)
    one = zoo.gaussian_classes([0.0], [1.0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        theory.mclr_coefficient(one, torch.zeros(3, 1, dtype=D), 0.5, 0, 1.0)
    with pytest.raises(ValueError, match="w must be a finite number >= 0"):
        guidance.CFG(guidance.conditional(GMM.score, 0), guidance.conditional(GMM.score, None), math.inf)


# ---------------------------------------------------------------------------------------------- samplers
def test_samplers_refuse_bad_states_and_bad_fields():
    sigmas = torch.tensor([1.0, 0.5, 0.0], dtype=D)
    field = guidance.conditional(GMM.score, 0)
    with pytest.raises(ValueError, match="x must be finite"):
        samplers.heun_ode(field, X * math.nan, sigmas)
    with pytest.raises(TypeError, match="x must be a floating tensor"):
        samplers.euler_ode(field, X.long(), sigmas)
    with pytest.raises(ValueError, match=r"the field must return a tensor of shape \(50, 2\).*got \(50, 1\)"):
        samplers.heun_ode(lambda x, s: GMM.score(x, s, 0)[:, :1], X, sigmas)
    with pytest.raises(FloatingPointError, match="non-finite values at sigma=1"):
        samplers.euler_maruyama(lambda x, s: x * math.nan, X, sigmas, generator=0)


# ---------------------------------------------------------------------------------------------- metrics
def test_metrics_options_and_values_are_checked_and_edges_are_right():
    x = GMM.sample(200, c=1, generator=3)
    one = metrics.bayes_accuracy(GMM, x, torch.tensor([1]))          # a one-element tensor is the class id 1
    assert one == metrics.bayes_accuracy(GMM, x, 1) and 0.0 <= one.value <= 1.0
    with pytest.raises(ValueError, match="c must be one class id"):
        metrics.bayes_accuracy(GMM, x, torch.tensor([0, 1]))
    for bad in (-1, 1):
        with pytest.raises(ValueError, match="max_points must be an int >= 2"):
            metrics.energy_distance(x, x, max_points=bad)
    with pytest.raises(ValueError, match="projections must be an int >= 1"):
        metrics.sliced_wasserstein(x, x, projections=0)
    x1 = zoo.teaching_1d().sample(100, c=0, generator=0)
    with pytest.raises(ValueError, match="cdf must map"):
        metrics.ks_distance(x1, lambda t: np.full_like(t, np.nan))
    with pytest.raises(ValueError, match="values must be finite"):
        metrics.normal_mean(torch.tensor([1.0, math.nan], dtype=D))


# ---------------------------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def small_net(tmp_path_factory):
    result = training.train(training.TrainConfig(mixture="two_gaussians_1d", steps=5, batch=16), progress=False)
    return checkpoints.save(tmp_path_factory.mktemp("ck") / "dsm.pt", result)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.__setitem__("history", [1.0]), "malformed fields \\['history'\\]"),
    (lambda p: p.__setitem__("kind", ["denoiser"]), "malformed fields \\['kind'\\]"),
    (lambda p: p.__setitem__("kind", "oracle"), "unknown kind"),
    (lambda p: p["state_dict"].update({k: v * math.nan for k, v in p["state_dict"].items()}), "non-finite"),
    (lambda p: p["train_config"].__setitem__("steps", "many"), "does not match its own architecture or config"),
    (lambda p: p["train_config"].__setitem__("mixture", {"means": 1}), "does not match its own"),
])
def test_a_damaged_checkpoint_is_one_clear_error(small_net, tmp_path, damage, message):
    payload = torch.load(small_net, weights_only=True)
    damage(payload)
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(ValueError, match=message) as err:
        checkpoints.load(bad)
    assert "bad.pt" in str(err.value) and "\n" not in str(err.value)


def test_unsafe_pickles_and_folders_are_refused_in_one_line(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"format": "mclr-sandbox-checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="corrupted, truncated or not a checkpoint") as err:
        checkpoints.load(tmp_path / "evil.pt")
    assert "\n" not in str(err.value) and not (tmp_path / "pwned").exists()
    with pytest.raises(ValueError, match="is a directory"):
        checkpoints.load(tmp_path)


# ---------------------------------------------------------------------------------------------- files
def test_written_files_have_normal_permissions_even_when_replacing(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "f.json"
        target.write_text("{}")
        os.chmod(target, 0o600)
        with atomic_open(target) as fh:
            fh.write("{}")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_sigterm_in_the_middle_of_a_write_leaves_no_file(tmp_path):
    import subprocess
    import sys
    code = """
import os, signal, sys
from sandbox import cli, figures
from sandbox.core.files import atomic_open
def killed_while_writing(fast):
    with atomic_open(sys.argv[1] + "/partial.bin", "wb") as fh:
        fh.write(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
figures.FIGURES["zoo"] = figures.FigureSpec("zoo", killed_while_writing, "", figures.NEAR)
sys.exit(cli.main(["figures", "--only", "zoo", "--out", sys.argv[1], "--quiet"]))
"""
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 128 + 15 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unusable_cache_warns_once_and_the_run_goes_on(tmp_path, monkeypatch):
    from sandbox import cache
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MCLR_SANDBOX_CACHE", str(blocker / "cache"))
    with pytest.warns(cache.CacheWarning, match="cannot be written"):
        assert cache.cached("thing", {}, lambda: 42) == 42


# ---------------------------------------------------------------------------------------------- command line
def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_cli_input_errors_are_one_line_with_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        (["verify", "--fast", "--quiet", "--json", str(blocker / "r.json")], "--json"),
        (["train", "--objective", "dsm", "--out", str(tmp_path), "--fast", "--quiet"], "is a folder"),
        (["train", "--objective", "dsm", "--out", "", "--fast", "--quiet"], "empty string"),
        (["train", "--objective", "dsm", "--w", "3", "--out", str(tmp_path / "a.pt")], "--w is not used"),
        (["train", "--objective", "dsm", "--init", "missing.pt", "--out", str(tmp_path / "a.pt")], "--init"),
        (["train", "--objective", "mclr", "--lam", "inf", "--init", "x.pt", "--out", str(tmp_path / "a.pt")], ""),
        (["compare", "--fast", "--quiet", "--seeds", "-1"], "argument --seeds: must be a whole number >= 0"),
        (["separation", "--fast", "--quiet", "--mixture", str(tmp_path / "nope.json")], "does not exist"),
        (["figures", "--list", "--only", "zoo"], "--list only lists"),
        (["figures", "--out", str(blocker), "--only", "zoo", "--quiet"], "not a folder"),
    ]
    if os.path.isdir("/proc"):   # a folder no one (not even root, as in CI) can write to: found by a real write
        cases.append((["verify", "--fast", "--quiet", "--json", "/proc/r.json"], "cannot be written"))
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        assert message in _err(capsys), argv


def test_cli_refuses_a_net_of_the_wrong_kind(small_net, tmp_path, capsys):
    clf = training.train_classifier(training.TrainConfig(mixture="two_gaussians_1d", steps=3, batch=16),
                                    progress=False)
    clf_path = checkpoints.save(tmp_path / "clf.pt", clf)
    out = str(tmp_path / "t.pt")
    assert cli.main(["train", "--objective", "weighted-mclr", "--init", str(clf_path), "--out", out]) == 2
    assert "holds a NoisyClassifier, not a Denoiser" in _err(capsys)
    assert cli.main(["train", "--objective", "weighted-mclr-classifier", "--init", str(small_net),
                     "--classifier", str(small_net), "--out", out]) == 2
    assert "holds a Denoiser, not a NoisyClassifier" in _err(capsys)


@pytest.mark.parametrize("error, code, word", [(FloatingPointError("the loss became nan"), 1, "failed"),
                                               (KeyboardInterrupt(), 130, "interrupted")])
def test_cli_run_failures_are_one_line(monkeypatch, capsys, error, code, word):
    def boom(*args, **kwargs):
        raise error
    monkeypatch.setattr(training, "train", boom)
    assert cli.main(["train", "--objective", "dsm", "--out", "/tmp/never-written.pt", "--fast"]) == code
    assert word in _err(capsys)


def test_usage_errors_and_unexpected_failures_are_one_line_too(monkeypatch, capsys):
    for argv in (["train", "--objective", "nope"], [], ["compare", "--seeds", "x"]):
        assert cli.main(argv) == 2 and "see mclr-sandbox" in _err(capsys)
    monkeypatch.setattr(training, "train", lambda *a, **k: [][1])
    assert cli.main(["train", "--objective", "dsm", "--out", "/tmp/never-written.pt", "--fast"]) == 1
    assert "IndexError" in _err(capsys)


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(ValueError, match="--list only lists"):
        cli.main(["figures", "--list", "--fast", "--debug"])


# ---------------------------------------------------------------------------------------------- conventions
def test_ecosystem_conventions():
    from sandbox import fields
    from sandbox.learn.models import Denoiser, ModelConfig
    net = Denoiser(ModelConfig(2, 3))
    x = GMM.sample(6, generator=0)
    with torch.no_grad():
        assert torch.equal(net(x, 0.5, 1), net.denoise(x, 0.5, 1))          # net(x, sigma) is its denoiser
    # a denoiser drives the samplers: the exact Tweedie denoiser gives the exact score's samples
    sigmas = torch.tensor([2.0, 1.0, 0.3, 0.0], dtype=D)
    by_score = samplers.heun_ode(guidance.conditional(GMM.score, 0), x, sigmas)
    by_denoiser = samplers.heun_ode(fields.from_denoiser(lambda y, s: GMM.denoise(y, s, 0)), x, sigmas)
    assert torch.allclose(by_score, by_denoiser, rtol=1e-10, atol=1e-10)
    # sample_shape as torch.distributions takes it, the old form kept
    assert GMM.sample((10,), generator=0).shape == (10, 2)
    assert GMM.sample(torch.Size([2, 5]), c=1, generator=0).shape == (2, 5, 2)
    assert torch.equal(GMM.sample((10,), generator=3), GMM.sample(10, generator=3))


def test_version_flag(capsys):
    from sandbox import __version__
    assert cli.main(["--version"]) == 0 and __version__ in capsys.readouterr().out
