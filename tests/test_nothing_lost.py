"""Nothing lost: no command writes over one of its inputs (or writes one kind of file under another's name), and a
checkpoint edited after it was written is refused, not trusted."""

from __future__ import annotations

import os

import pytest
import torch

from sandbox import checkpoints, cli, training, zoo


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    result = training.train(training.TrainConfig(mixture="two_gaussians_1d", steps=5, batch=16), progress=False)
    return checkpoints.save(tmp_path_factory.mktemp("ck") / "dsm.pt", result)


def _refused(argv: list[str], capsys, *words: str) -> None:
    assert cli.main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(w in err for w in words), err


def test_an_output_that_is_an_input_is_refused_before_any_work(net, tmp_path, capsys):
    before = net.read_bytes()
    as_json = tmp_path / "net.json"          # a checkpoint under a name --json would accept
    as_json.write_bytes(before)
    _refused(["evaluate", "--fast", "--checkpoint", str(as_json), "--json", str(as_json)], capsys,
             "--json", "--checkpoint", "destroy")
    mixture = tmp_path / "mine.html"         # a mixture file under a name explain --out would accept
    zoo.overlap_2d().save(mixture)
    text = mixture.read_text()
    _refused(["explain", "--mixture", str(mixture), "--out", str(mixture)], capsys, "--out", "--mixture")
    # the same file by another name: a relative path, a symbolic link, a hard link
    link, hard = tmp_path / "link.json", tmp_path / "hard.json"
    link.symlink_to(as_json)
    os.link(as_json, hard)
    for alias in (os.path.relpath(as_json), link, hard):
        _refused(["evaluate", "--fast", "--checkpoint", str(as_json), "--json", str(alias)], capsys, "--checkpoint")
    second = tmp_path / "m.json"             # one of several mixtures
    zoo.overlap_2d().save(second)
    _refused(["verify", "--fast", "--mixture", "overlap_2d", str(second), "--json", str(second)], capsys,
             "--mixture")
    assert as_json.read_bytes() == before and mixture.read_text() == text and net.read_bytes() == before


def test_the_two_reported_cases_exit_2_and_keep_the_files(net, tmp_path, capsys):
    # evaluate --checkpoint v.pt --json v.pt and explain --mixture mine.json --out mine.json
    ckpt, mixture = tmp_path / "v.pt", tmp_path / "mine.json"
    ckpt.write_bytes(net.read_bytes())
    zoo.overlap_2d().save(mixture)
    saved = ckpt.read_bytes(), mixture.read_bytes()
    _refused(["evaluate", "--fast", "--checkpoint", str(ckpt), "--json", str(ckpt)], capsys, "--json", ".json")
    _refused(["explain", "--mixture", str(mixture), "--out", str(mixture)], capsys, "--out", ".html")
    assert (ckpt.read_bytes(), mixture.read_bytes()) == saved


@pytest.mark.parametrize("argv, flag, ending", [
    (["explain", "--out", "e.png"], "--out", ".html"),
    (["sample", "--checkpoint", "CK", "--n", "2", "--out", "s.txt"], "--out", ".npz or .csv"),
    (["train", "--fast", "--objective", "dsm", "--out", "net.json"], "--out", ".pt"),
    (["report", "--fast", "--out", "page.html"], "--out", ".md"),
    (["verify", "--fast", "--json", "r.txt"], "--json", ".json"),
])
def test_an_output_must_be_named_for_what_it_holds(argv, flag, ending, net, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused([str(net) if a == "CK" else a for a in argv], capsys, flag, ending)
    assert list(tmp_path.iterdir()) == []


def test_report_check_reads_the_page_it_compares_with(tmp_path, capsys):
    # --check reads --out: a missing page is one line, and nothing is written
    page = tmp_path / "results-fast.md"
    _refused(["report", "--fast", "--check", "--out", str(page)], capsys, "does not exist")
    assert not page.exists()


@pytest.mark.parametrize("edit, what", [
    (lambda p: p["train_config"]["mixture"]["means"][0][0].__setitem__(0, 3.0), "mixture"),
    (lambda p: p["train_config"].__setitem__("objective", "gft"), "settings"),
    (lambda p: p["train_config"].__setitem__("seed", 5), "settings"),
    (lambda p: p["state_dict"][next(iter(p["state_dict"]))].add_(1e-3), "weights"),
])
def test_a_checkpoint_edited_after_it_was_written_is_refused(net, tmp_path, capsys, edit, what):
    payload = torch.load(net, weights_only=True)
    edit(payload)
    edited = tmp_path / "edited.pt"
    torch.save(payload, edited)
    with pytest.raises(ValueError, match=f"changed after it was written.*{what}") as err:
        checkpoints.load(edited)
    assert "\n" not in str(err.value)
    _refused(["evaluate", "--fast", "--checkpoint", str(edited)], capsys, "changed after it was written", what)


def test_a_checkpoint_of_the_previous_format_asks_to_be_retrained(net, tmp_path):
    payload = torch.load(net, weights_only=True)
    payload["version"] = 2
    del payload["fingerprints"]
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ValueError, match=r"format version 2.*train it again"):
        checkpoints.load(tmp_path / "old.pt")
