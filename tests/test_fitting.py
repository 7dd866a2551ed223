"""Mixtures fitted to data: a known mixture is recovered from its samples, the fit is deterministic and records
where it came from, the real-data zoo entries are what the fit gives, and the fit command reads a user's files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sandbox import ClassConditionalGMM, cli, fitting, zoo


def known() -> ClassConditionalGMM:
    """2 classes x 2 components in 2D, components 4 apart (sds <= 0.7): EM cannot confuse them."""
    r = math.radians(30)
    rot = torch.tensor([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]], dtype=torch.float64)
    a = rot @ torch.diag(torch.tensor([0.5, 0.1], dtype=torch.float64)) @ rot.T
    b = torch.diag(torch.tensor([0.2, 0.3], dtype=torch.float64))
    return ClassConditionalGMM([[[0.0, 0.0], [4.0, 0.0]], [[0.0, 4.0], [4.0, 4.0]]],
                               [torch.stack([a, b]), torch.stack([b, a])],
                               [[0.3, 0.7], [0.5, 0.5]], [0.4, 0.6], name="known")


def _by_first_mean(gmm: ClassConditionalGMM, c: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    order = gmm.means[c][:, 0].argsort()
    return gmm.means[c][order], gmm.covs[c][order], gmm.weights[c][order]


def test_a_known_mixture_is_recovered_from_its_samples():
    truth = known()
    n = 20_000
    c = torch.multinomial(truth.class_probs, n, replacement=True, generator=torch.Generator().manual_seed(1))
    x = truth.sample(n, c=c, generator=2)
    # floor 1e-6 of the mean variance (~4): a bias of 4e-6 on the covariances, far below the tolerance
    fitted = fitting.fit(x.numpy(), c.numpy(), floor=1e-6)
    assert fitted.source["components"] == [2, 2]              # chosen by BIC, not given
    counts = torch.bincount(c).double()
    assert torch.allclose(fitted.class_probs, counts / n, rtol=0, atol=1e-15)    # the label counts, exactly
    for k in range(2):
        mu, cov, phi = _by_first_mean(fitted, k)
        mu0, cov0, phi0 = _by_first_mean(truth, k)
        # >= 0.3 x 0.4 x 20000 = 2400 rows per component: a mean's standard error <= sqrt(0.5 / 2400) = 0.014,
        # a covariance entry's <= 0.5 sqrt(2 / 2400) = 0.014, a weight's <= sqrt(0.25 / 8000) = 0.006; 5 of them
        assert (mu - mu0).abs().max() < 0.07
        assert (cov - cov0).abs().max() < 0.07
        assert (phi - phi0).abs().max() < 0.03


def test_components_given_and_the_covariance_forms():
    truth = known()
    x = truth.sample(800, c=torch.arange(2).repeat(400), generator=0).numpy()
    y = np.repeat([[0, 1]], 400, axis=0).ravel()
    for kind, shape in (("full", (3, 2, 2)), ("diag", (3, 2)), ("spherical", (3,)), ("tied", (3, 2, 2))):
        g = fitting.fit(x, y, components=3, covariance_type=kind)
        assert g.source["components"] == [3, 3] and g.source["chosen_by"] == "given"
        assert tuple(g.covs[0].shape) == shape
        assert g.covariance_type == ("full" if kind == "tied" else kind)
    tied = fitting.fit(x, y, components=3, covariance_type="tied")
    assert torch.equal(tied.covs[1][0], tied.covs[1][2])       # one matrix shared by the class's components


def test_bad_data_is_refused_by_name():
    x, y = np.zeros((6, 2)), np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="X must be finite"):
        fitting.fit(np.where(np.eye(6, 2) > 0, np.nan, x), y)
    with pytest.raises(ValueError, match="y must hold one label per row"):
        fitting.fit(x, y[:5])
    with pytest.raises(ValueError, match="at least two classes"):
        fitting.fit(x, np.zeros(6))
    with pytest.raises(ValueError, match="at least 2 rows"):
        fitting.fit(x, np.array([0, 0, 0, 0, 0, 1]))
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        fitting.fit(x, y, covariance_type="banded")
    with pytest.raises(ValueError, match="floor"):
        fitting.fit(x, y, floor=0.0)


def test_the_source_travels_with_the_file_and_is_not_the_identity(tmp_path):
    g = fitting.fit(*_iris(), source={"data": "iris"})
    back = ClassConditionalGMM.load(g.save(tmp_path / "m.json"))
    assert back.source == json.loads(json.dumps(g.source)) and back.source["data"] == "iris"
    assert back.to("cpu", torch.float32).source == back.source
    bare = ClassConditionalGMM(g.means, g.covs, g.weights, g.class_probs)
    assert bare.fingerprint == g.fingerprint and bare.source is None


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def test_fitting_the_digits_twice_gives_the_same_file(tmp_path):
    X, y, about = zoo.bundled("digits")
    a = fitting.fit(X, y, name="digits", source=about).save(tmp_path / "a.json")
    b = fitting.fit(X, y, name="digits", source=about).save(tmp_path / "b.json")
    assert a.read_bytes() == b.read_bytes()
    # and the zoo entry is that fit (through the cache)
    assert zoo.get("digits") == ClassConditionalGMM.load(a)


def test_the_digits_latent_mixture_beats_one_gaussian_per_class_on_held_out_images():
    X, y, _ = zoo.bundled("digits_pca")
    rows = fitting.heldout(X, y)
    gains = [r["mixture"] - r["gaussian"] for r in rows]
    # BIC gives several classes two or three components; where it gives one, the two models are the same fit
    assert all(g > -1e-9 for g in gains) and np.mean(gains) > 0.2, gains
    assert all(r["components"] > 1 for r, g in zip(rows, gains) if g > 1e-9)


def test_images_of_the_image_mixtures():
    pixels, latent = zoo.get("digits"), zoo.get("digits_pca")
    assert (pixels.dim, latent.dim, pixels.num_classes) == (64, zoo.DIGITS_PCA, 10)
    # the decoder maps the latent mixture's class means to the PCA reconstruction of the pixel means
    img = zoo.image(latent, torch.stack([m[0] for m in latent.means]))
    assert img.shape == (10, 8, 8) and float(img.min()) > -1.5 and float(img.max()) < 1.5
    assert zoo.image(pixels, pixels.means[3][:1]).shape == (1, 8, 8)
    with pytest.raises(ValueError, match="image mixture"):
        zoo.image(zoo.get("wine"), torch.zeros(1, 13))
    with pytest.raises(ValueError, match="name must be one of"):
        zoo.bundled("iris")


def test_the_fit_command_reads_a_csv_and_an_npz(tmp_path, capsys):
    X, y = _iris()
    csv = tmp_path / "iris.csv"
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    csv.write_text("a,b,species,c,d\n" + "".join(f"{r[0]},{r[1]},{s},{r[2]},{r[3]}\n" for r, s in zip(X, names)))
    assert cli.main(["fit", str(csv), "--labels", "species", "--out", str(tmp_path / "m.json"),
                     "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "held-out log-likelihood" in out and "one Gaussian" in out
    g = ClassConditionalGMM.load(tmp_path / "m.json")
    assert g.source["classes"] == ["setosa", "versicolor", "virginica"] and g.dim == 4
    # the label column sat between features: the features are the other columns, in order
    assert torch.allclose(g.means[0][0], torch.tensor(X[y == 0].mean(0)), atol=1e-12)
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["heldout"]) == 3 and report["fingerprint"] == g.fingerprint
    npz = tmp_path / "iris.npz"
    np.savez(npz, X=X, y=y)
    assert cli.main(["fit", str(npz), "--components", "2", "--out", str(tmp_path / "n.json")]) == 0
    assert ClassConditionalGMM.load(tmp_path / "n.json").source["components"] == [2, 2, 2]


@pytest.mark.parametrize("argv, message", [
    (["--labels", "z"], "no array 'z'"),
    (["--features", "W"], "no array 'W'"),
])
def test_the_fit_command_names_what_is_wrong(tmp_path, capsys, argv, message):
    X, y = _iris()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert cli.main(["fit", str(tmp_path / "d.npz"), *argv, "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()


def test_the_digit_pictures_are_what_the_exact_fields_give():
    from sandbox import samplers
    from sandbox.core.schedules import edm_sigmas
    from sandbox.experiments.digit_pictures import DigitsConfig

    config = DigitsConfig().fast()
    r = config.compute()
    gmm, ws = config.mixture, config.ws
    assert r["cfg"].shape == r["q0"].shape == (len(ws), 10, config.n, 64)
    # one starting noise for every class and w: at w = 0 CFG is the conditional ODE from that noise
    start = config.sigma_max * torch.randn(config.n, 64, dtype=torch.float64,
                                           generator=torch.Generator().manual_seed(config.seed))
    grid = edm_sigmas(config.steps, config.sigma_min, config.sigma_max)
    alone = samplers.heun_ode(lambda x, s: gmm.score(x, s, 2), start, grid)
    assert torch.allclose(r["cfg"][0, 2], alone, rtol=0, atol=1e-10)
    # the path's denoisers by another route: D = x + sigma^2 score, D_w from the CFG score itself
    p, c, w = r["path"], config.path_class, config.path_w
    s2 = p["sigmas"][:, None] ** 2
    assert torch.allclose(p["D_c"], p["x"] + s2 * gmm.score(p["x"], p["sigmas"], c), atol=1e-9)
    assert torch.allclose(p["D_w"], p["x"] + s2 * gmm.cfg_score(p["x"], p["sigmas"], c, w), atol=1e-8)
    assert torch.allclose(p["posterior"].sum(1), torch.ones(len(p["sigmas"]), dtype=torch.float64), atol=1e-12)
    # the path ends in its class: the posterior of class c at the smallest shown sigma
    assert float(p["posterior"][-1, c]) > 0.99
    with pytest.raises(ValueError, match="image mixture"):
        DigitsConfig(mixture="overlap_2d")
    with pytest.raises(ValueError, match="path_class"):
        DigitsConfig(path_class=10)


# ---------------------------------------------------------------------------------------------- claims on real data
def test_the_claims_about_the_data_s_geometry_are_the_four_that_take_mixtures():
    from sandbox import claims

    assert {n for n in claims.names() if claims.about_data(claims.REGISTRY[n])} == {
        "speciation-time", "decided-mid-noise", "helps-on-average", "cfg-is-not-q0"}
    with pytest.raises(ValueError, match="mixtures"):
        claims.configure("speciation-time", True, {"mixtures": ("no-such-mixture",)})


def test_speciation_time_on_digits_states_sigma_s_against_sqrt_lambda():
    from sandbox import claims

    found = claims.on_data(("speciation-time",), ("digits",), fast=True)
    verdict = found["speciation-time"]["digits"]
    row = verdict.numbers["mixtures"][0]
    # Lambda by another route: the law of total covariance over classes and components, in numpy
    g = zoo.get("digits")
    pis, mus, covs, phis = (g.class_probs.numpy(), [m.numpy() for m in g.means], [s.numpy() for s in g.covs],
                            [w.numpy() for w in g.weights])
    mean = sum(p * (f[:, None] * m).sum(0) for p, m, f in zip(pis, mus, phis))
    second = sum(p * (f[:, None, None] * (s + m[:, :, None] * m[:, None, :])).sum(0)
                 for p, m, s, f in zip(pis, mus, covs, phis))
    lam = float(np.linalg.eigvalsh(second - np.outer(mean, mean))[-1])
    assert row["mixture"] == "digits" and row["d"] == 64 and row["Lambda"] == pytest.approx(lam, rel=1e-12)
    assert f"sqrt(Lambda) = {math.sqrt(lam):.3g}" in verdict.reason and "digits (d = 64): sigma_s = " in verdict.reason
    assert verdict.verdict in claims.VERDICTS


def test_the_claims_command_reports_real_data_beside_the_zoo(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert cli.main(["claims", "--fast", "--quiet", "--only", "decided-mid-noise", "--data", "wine",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "on real data: decided-mid-noise" in text and "wine" in text
    entry = json.loads(out.read_text())["results"]["decided-mid-noise"]
    assert entry["on_data"]["wine"]["verdict"] in ("holds", "fails", "holds with a caveat", "undecided")
    assert cli.main(["claims", "--fast", "--quiet", "--only", "decided-mid-noise", "--data", "none"]) == 0
    assert "on real data" not in capsys.readouterr().out


def test_the_two_sample_ks_distance_has_its_level_and_power():
    from scipy import stats

    from sandbox import metrics

    g = torch.Generator().manual_seed(0)
    # same law: over 200 pairs of samples (n = 500), p < 0.05 in about 5% of them: 10 expected, sd 3.1
    same = [metrics.ks_two_sample(torch.randn(500, generator=g, dtype=torch.float64),
                                  torch.randn(400, generator=g, dtype=torch.float64)).p_value for _ in range(200)]
    assert 2 <= sum(p < 0.05 for p in same) <= 20
    # a shift of 0.5 sd: the true distance is 2 Phi(0.25) - 1 = 0.197, inside the bands, and rejected
    a, b = torch.randn(2000, generator=g, dtype=torch.float64), torch.randn(2000, generator=g, dtype=torch.float64)
    d = metrics.ks_two_sample(a, b + 0.5)
    truth = 2 * stats.norm.cdf(0.25) - 1
    assert d.lo <= truth <= d.hi and d.p_value < 1e-10
