"""A battery of bad input to this year's surfaces (checkpoints, evaluate, sample, explain, plug-ins, claims --set,
the posterior, the new rules), tried as a careless user would: each is one line on stderr with exit 2 (the API: a
ValueError or TypeError) that names what is wrong. None is silent, none a bare exception of ours. (The declared
limits of every rule parameter, claim setting and option are tried one by one in test_declared_limits.py.)"""

from __future__ import annotations

import math

import pytest
import torch

from sandbox import checkpoints, cli, methods, samplers, training, zoo
from sandbox.core.schedules import edm_sigmas


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    result = training.train(training.TrainConfig(mixture="two_gaussians_1d", steps=5, batch=16), progress=False)
    return checkpoints.save(tmp_path_factory.mktemp("ck") / "dsm.pt", result)


def _set(claim: str, item: str) -> list[str]:
    """``claims --fast --only CLAIM --set ITEM``."""
    return ["claims", "--fast", "--only", claim, "--set", item]


CLI = [
    # checkpoints: missing, a folder, not a checkpoint, an empty file
    (["evaluate", "--fast", "--checkpoint", "missing.pt"], "does not exist"),
    (["evaluate", "--fast", "--checkpoint", "."], "is a directory"),
    (["evaluate", "--fast", "--checkpoint", "text.pt"], "not a checkpoint"),
    (["evaluate", "--fast", "--checkpoint", "empty.pt"], "not a checkpoint"),
    (["sample", "--checkpoint", "missing.pt", "--n", "2", "--out", "s.npz"], "does not exist"),
    # sample
    (["sample", "--checkpoint", "NET", "--n", "0", "--out", "s.npz"], "--n"),
    (["sample", "--checkpoint", "NET", "--n", "-3", "--out", "s.npz"], "--n"),
    (["sample", "--checkpoint", "NET", "--n", "two", "--out", "s.npz"], "--n"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--steps", "0"], "--steps"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--class", "9"], "class"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--class", "-1"], "--class"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--w", "nan"], "--w"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--w", "-1"], "--w"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--seed", "-2"], "--seed"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.npz", "--method", "nope"], "nope"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "s.txt"], ".npz or .csv"),
    (["sample", "--checkpoint", "NET", "--n", "2", "--out", "NET"], "--out"),
    # evaluate
    (["evaluate", "--fast", "--checkpoint", "NET", "--seed", "x"], "--seed"),
    (["evaluate", "--fast", "--checkpoint", "NET", "--json", "r.txt"], ".json"),
    (["evaluate", "--fast", "--checkpoint", "NET", "--json", "NET"], ".json"),
    # explain
    (["explain", "--out", "e.png"], ".html"),
    (["explain", "--out", "e"], ".html"),
    (["explain", "--class", "7"], "class"),
    (["explain", "--class", "-1"], "--class"),
    (["explain", "--mixture", "crowded_4d"], "2-D"),
    (["explain", "--mixture", "nope.json"], "nope.json"),
    (["explain", "--mixture", "text.pt"], "text.pt"),
    # plug-ins
    (["zoo", "--plugin", "missing.py"], "no such file"),
    (["zoo", "--plugin", "text.pt"], "not a .py file"),
    (["zoo", "--plugin", "empty.py"], "registered nothing"),
    (["zoo", "--plugin", "raises.py"], "failed to load"),
    (["zoo", "--plugin", "exits.py"], "exited while loading"),
    (["zoo", "--plugin", "no.such.module"], "no module named"),
    (["zoo", "--plugin", "a b"], "neither a .py file nor a module name"),
    (["zoo", "--plugin", "."], "is a folder"),
    # claims --set
    (_set("monotone-over-mixtures", "monotone-over-mixtures.count=-5"), "count"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.count=0"), "count"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.ws=,"), "ws"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.ws=4,1"), "ws"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.ws=nan"), "ws"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.n=1e9x"), ".n"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.nope=1"), "nope"),
    (_set("monotone-over-mixtures", "monotone-over-mixtures.count"), "--set"),
    (_set("monotone-over-mixtures", "cfg-is-not-q0.n=5"), "cfg-is-not-q0"),
    (_set("linear-cfg-tracks-cfg", "linear-cfg-tracks-cfg.low=9"), "low"),
    (_set("high-noise-hurts", "high-noise-hurts.edges=0,inf"), "edges"),
    (_set("cfg-is-not-q0", "cfg-is-not-q0.steps=128,64"), "steps"),
    (_set("cfg-is-not-q0", "cfg-is-not-q0.seed=-1"), "seed"),
    (["claims", "--fast", "--only", "nope"], "nope"),
    (["claims", "--fast", "--workers", "0"], "--workers"),
    (["claims", "--fast", "--scheduler", " "], "scheduler"),
    # the other commands' numbers and names
    (["atlas", "--fast", "--seeds", "-1"], "--seeds"),
    (["atlas", "--fast", "--methods", "nope"], "nope"),
    (["atlas", "--fast", "--mixture", "nope"], "nope"),
    (["separation", "--fast", "--methods", "cfg-pp-typo"], "cfg-pp-typo"),
    (["separation", "--fast", "--param", "cfg.w=1"], "cfg's strength"),        # was a TypeError per unit, mid-run
    (["atlas", "--fast", "--exact-only", "--param", "apg.w=1"], "apg.w"),
    (["train", "--fast", "--objective", "dsm", "--out", "n.pt", "--steps", "0"], "--steps"),
    (["train", "--fast", "--objective", "dsm", "--out", "n.pt", "--w", "inf"], "--w"),
    (["train", "--fast", "--objective", "gft", "--out", "n.pt", "--ws", "1", "-2"], "--ws"),
    (["train", "--fast", "--objective", "dsm", "--out", "n.json"], ".pt"),
    (["figures", "--check", "--tol", "-1"], "--tol"),
    (["report", "--fast", "--out", "page.html"], ".md"),
    (["verify", "--fast", "--seed", "1.5"], "--seed"),
    (["verify", "--fast", "--threads", "0"], "--threads"),
]


@pytest.mark.parametrize("argv, words", CLI, ids=[" ".join(a[:4]) for a, _ in CLI])
def test_bad_input_on_the_command_line_is_one_line_naming_it(argv, words, net, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "empty.py").write_text("x = 1\n")
    (tmp_path / "raises.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "NET").write_bytes(net.read_bytes())
    assert cli.main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err


GMM = zoo.overlap_2d()
X = GMM.sample(8, sigma=0.5, generator=0)
SIGMAS = edm_sigmas(4, 0.002, 80.0)
API = [
    (lambda: methods.field("fbg", GMM, 3, w=1.0), "c must be a class"),
    (lambda: methods.field("cfg", GMM, -1, w=1.0), "c must be a class"),
    (lambda: methods.field("cfg", GMM, 0, w=1.0, lam=math.nan), "lam"),
    (lambda: methods.field("cfg", GMM, 0, w="abc"), "w"),
    (lambda: methods.field("cfg-schedule", GMM, 0, w=1.0, sigma_lo=5.0, sigma_hi=0.3), "sigma_lo"),
    (lambda: methods.field("cfg-schedule", GMM, 0, w=1.0, sigma_lo=-1.0), "sigma_lo"),
    (lambda: methods.field("cfg-schedule", GMM, 0, w=1.0, decay=-3.0), "decay"),
    (lambda: methods.field("cfg-schedule", GMM, 0, w=1.0, schedule="nope"), "schedule"),
    (lambda: methods.field("cfg-interval", GMM, 0, w=1.0, sigma_lo=5.0, sigma_hi=0.3), "sigma_lo"),
    (lambda: methods.field("fbg", GMM, 0, w=1.0, pi=1.5), "pi"),
    (lambda: methods.field("apg", GMM, 0, w=1.0, momentum=2.0), "momentum"),
    (lambda: methods.field("cfg-rescale", GMM, 0, w=1.0, phi=1.5), "phi"),
    (lambda: methods.field("autoguidance", GMM, 0, w=1.0, kappa=0.0), "kappa"),
    (lambda: methods.sample("cfg-pp", GMM, 0, X, SIGMAS, w=-1.0), "w"),
    (lambda: methods.sample("cfg-pp", GMM, 0, X, SIGMAS, seed="a", w=1.0), "seed"),
    (lambda: methods.sample("gibbs-guidance", GMM, 0, X, SIGMAS, w=1.0, rounds=1.5), "rounds"),
    (lambda: methods.draw("tilted", GMM, 0, -1, 0, w=1.0), "n"),
    (lambda: GMM.posterior(X, 1e-320, 0).log_prob(X), "sigma >= 2.23e-308"),
    (lambda: GMM.posterior(X, -1.0, 0), "sigma"),
    (lambda: GMM.posterior(X, 0.5, 5), "c"),
    (lambda: GMM.posterior(X, 0.5, 0).sample(-1), "n"),
    (lambda: GMM.posterior(X, 0.5, 0).log_prob(torch.zeros(3, 5, dtype=torch.float64)), "x0"),
    (lambda: samplers.heun_ode(methods.field("cfg", GMM, 0, w=1.0), X, torch.tensor([1.0, math.nan])), "sigma"),
]


@pytest.mark.parametrize("call, words", API, ids=[str(i) for i in range(len(API))])
def test_bad_input_to_the_api_is_a_value_or_type_error_naming_it(call, words):
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert words in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_float_sigma_works_for_every_field_as_for_the_mixture():
    # every rule's field takes sigma as one number (was: AttributeError in linear-cfg, cfg-schedule, apg, icg)
    for name in methods.names():
        method = methods.get(name)
        if method.exact is None:
            continue
        strength = {method.strength: 1.0} if method.strength else {}
        given = methods.field(name, GMM, 0, **strength)(X, 0.5)
        rows = methods.field(name, GMM, 0, **strength)(X, torch.full((8,), 0.5, dtype=torch.float64))
        assert torch.equal(given, rows), name
