"""A trained net is usable: evaluate measures it against its mixture's exact answers, sample draws from it, and a
classifier or init from another mixture is refused, naming both."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sandbox import checkpoints, cli, net_evaluation, training


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nets")
    base = training.TrainConfig(mixture="two_gaussians_1d", steps=200, batch=256)
    dsm = training.train(base, progress=False)
    checkpoints.save(folder / "dsm.pt", dsm)
    clf = training.train_classifier(base.for_classifier(), progress=False)
    checkpoints.save(folder / "clf.pt", clf)
    for name in training.trainable_objectives():          # every objective's checkpoint, as train writes it
        if name != "dsm":
            tune = base.fine_tune(name, ws=(1.0, 4.0) if name == "gft" else (), pool=256)
            checkpoints.save(folder / f"{name}.pt", training.train(tune, init=dsm.model, classifier=clf.model,
                                                                   progress=False))
    other = training.TrainConfig(mixture="teaching_1d", steps=50, batch=64)       # d = 1, K = 2 too
    checkpoints.save(folder / "other-clf.pt", training.train_classifier(other, progress=False))
    return folder


@pytest.mark.parametrize("name", [*training.trainable_objectives(), "clf"])
def test_evaluate_works_on_every_kind_of_checkpoint(nets, name, tmp_path, capsys):
    out = tmp_path / "e.json"
    assert cli.main(["evaluate", "--fast", "--quiet", "--checkpoint", str(nets / f"{name}.pt"),
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mixture"]["name"] == "two_gaussians_1d" and report["results"]["rows"]
    if name == "gft":     # trained at w = 1 and 4: measured at both; GFT's optimum is CFG, so both errors agree
        rows = report["results"]["rows"]
        assert [r["w"] for r in rows] == [1.0, 4.0]
        assert rows[0]["score_error"]["value"] == pytest.approx(rows[0]["score_error_cfg"]["value"], rel=1e-9)


def test_sample_writes_every_class_or_one(nets, tmp_path):
    assert cli.main(["sample", "--checkpoint", str(nets / "gft.pt"), "--n", "30", "--out", str(tmp_path / "s.npz"),
                     "--w", "4"]) == 0
    data = np.load(tmp_path / "s.npz")
    assert data["x"].shape == (60, 1) and sorted(set(data["y"].tolist())) == [0, 1]
    assert cli.main(["sample", "--checkpoint", str(nets / "dsm.pt"), "--method", "cfg", "--w", "2", "--class", "1",
                     "--n", "20", "--out", str(tmp_path / "s.csv")]) == 0
    table = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert table.shape == (20, 2) and set(table[:, 1]) == {1.0}
    # guided samples of class 1 (the right-hand Gaussian) sit to the right of unguided ones
    x0, _ = net_evaluation.sample(checkpoints.load(nets / "dsm.pt"), 200, w=0.0, classes=(1,))
    x4, _ = net_evaluation.sample(checkpoints.load(nets / "dsm.pt"), 200, w=4.0, classes=(1,))
    assert float(x4.mean()) > float(x0.mean())
    assert cli.main(["sample", "--checkpoint", str(nets / "clf.pt"), "--n", "5", "--out", str(tmp_path / "c.npz")]) == 2


def test_a_classifier_of_another_mixture_is_refused(nets, tmp_path, capsys):
    code = cli.main(["train", "--fast", "--objective", "weighted-mclr-classifier", "--init", str(nets / "dsm.pt"),
                     "--classifier", str(nets / "other-clf.pt"), "--out", str(tmp_path / "t.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "teaching_1d" in err and "two_gaussians_1d" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "t.pt").exists()
