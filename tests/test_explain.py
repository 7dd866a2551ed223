"""The explainer page: self-contained, its numbers are the posterior API's, and in a real (headless) browser it loads
without console errors, both sliders change what is drawn and the drawn posterior matches the API at a checked cell.

The browser test needs Chromium (Debian's ``chromium``, which ``.ci/run`` installs); without it, it is skipped.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from sandbox import cli, zoo
from sandbox.viz.explain import RANGE

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explain") / "page.html"
    assert cli.main(["explain", "--out", str(out)]) == 0
    return out


def _data(page: Path) -> dict:
    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page.read_text(),
                                re.S).group(1))


def _selftest(page: Path, tmp_path: Path) -> dict:
    """What the page reports when headless Chromium opens it with ``#selftest`` (its slider states and checks)."""
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                           f"{page.as_uri()}#selftest"], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="selftest">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1), done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


def _api_log_density(check: dict) -> tuple[float, float]:
    gmm = zoo.overlap_2d()
    x = torch.tensor([check["x"]], dtype=torch.float64)
    cell = torch.tensor([check["cell"]], dtype=torch.float64)
    return (float(gmm.posterior(x, check["sigma"], 0).log_prob(cell)), float(gmm.posterior(x, check["sigma"])
                                                                              .log_prob(cell)))


def test_the_page_is_self_contained_small_and_holds_the_apis_numbers(built):
    text = built.read_text()
    assert len(text.encode()) < 5e6                                         # a few MB at most
    assert not re.search(r'(src|href)=["\']?(https?:)?//', text)             # nothing fetched from anywhere
    data = _data(built)
    gmm = zoo.overlap_2d()
    w, s = 2, 5
    x = torch.tensor([data["paths"][w][s][0]], dtype=torch.float64)
    d_c, d_u = gmm.denoise(x, data["sigmas"][s], 0)[0], gmm.denoise(x, data["sigmas"][s])[0]
    stored = torch.tensor(data["denoisers"][w][s], dtype=torch.float64)
    guided = d_c + data["ws"][w] * (d_c - d_u)
    assert torch.allclose(stored, torch.stack([d_c, d_u, guided]), atol=1e-6)   # stored to 6 decimals


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_in_headless_chromium_the_sliders_redraw_and_the_posterior_is_the_apis(built, tmp_path):
    report = _selftest(built, tmp_path)
    assert report["errors"] == []                                            # no console errors, no exceptions
    states = report["states"]               # start, w -> 0, w -> last, sigma -> first, sigma -> last
    for before, after, moved in zip(states, states[1:], ("w", "w", "s", "s")):
        assert after[moved] != before[moved]
        assert (after["paths"], after["cond"]) != (before["paths"], before["cond"]), (moved, before, after)
    # the drawn log-density at the checked cell is the API's, to the page's resolution (RANGE / 255 nats), unless
    # the API's value lies below the page's floor (RANGE nats under the peak), where it draws the floor
    check = report["check"]
    for drawn, peak, api in zip(check["drawn"], check["peaks"], _api_log_density(check)):
        assert abs(drawn - max(api, peak - RANGE)) <= 0.5 * check["resolution"] + 1e-9, (drawn, api, peak)


def test_bad_input_is_one_line(tmp_path, capsys):
    for args, message in ((["--mixture", "teaching_1d"], "mixture must be 2-D for the explainer (it draws the plane) "
                                                          "or an image mixture"),
                          (["--class", "7"], "c must be a class of the mixture (0..2), got 7"),
                          (["--out", str(tmp_path)], "is a folder")):
        assert cli.main(["explain", *args] + ([] if "--out" in args else ["--out", str(tmp_path / "p.html")])) == 2
        assert message in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- the digits page
@pytest.fixture(scope="module")
def digits_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explain") / "digits.html"
    assert cli.main(["explain", "--mixture", "digits", "--class", "3", "--out", str(out)]) == 0
    return out


def test_the_digits_page_holds_the_apis_denoisers_and_posterior(digits_page):
    from sandbox.experiments.explainer import ImageExplainerConfig

    text = digits_page.read_text()
    assert len(text.encode()) < 2e6 and not re.search(r'(src|href)=["\']?(https?:)?//', text)
    data, gmm = _data(digits_page), zoo.get("digits")
    result = ImageExplainerConfig(mixture=gmm, c=3).compute()
    w, s = 4, 10
    x, sigma, strength = result["x"][w, s][None], data["sigmas"][s], data["ws"][w]
    # another route: D = x + sigma^2 score, D_w from the CFG score itself
    d_c = x + sigma**2 * gmm.score(x, sigma, 3)
    d_w = x + sigma**2 * gmm.cfg_score(x, sigma, 3, strength)
    assert torch.allclose(torch.tensor(data["D_c"][w][s], dtype=torch.float64), d_c[0], atol=1e-6)
    assert torch.allclose(torch.tensor(data["D_w"][w][s], dtype=torch.float64), d_w[0], atol=1e-6)
    assert torch.allclose(torch.tensor(data["x"][w][s], dtype=torch.float64), x[0] / (1 + sigma**2) ** 0.5,
                          atol=1e-6)
    post = gmm.class_posterior(x, sigma)[0]
    assert torch.allclose(torch.tensor(data["posterior"][w][s], dtype=torch.float64), post, atol=1e-6)
    assert data["classes"] == [str(k) for k in range(10)] and data["shape"] == [8, 8]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_in_headless_chromium_the_digits_sliders_redraw_and_the_pixels_are_the_apis(digits_page, tmp_path):
    report = _selftest(digits_page, tmp_path)
    assert report["errors"] == []
    states = report["states"]               # start, w -> 0, w -> last, sigma -> first, sigma -> last
    for before, after, moved in zip(states, states[1:], ("w", "w", "s", "s")):
        assert after[moved] != before[moved]
        assert (after["x"], after["D_w"], after["bars"]) != (before["x"], before["D_w"], before["bars"])
    # the grey drawn at the checked pixel of D_w is the API's value on the data's scale: 255 (1 - (v + 1) / 2)
    check = report["check"]
    data = _data(digits_page)
    w = data["ws"].index(check["w"])
    s = data["sigmas"].index(check["sigma"])
    value = data["D_w"][w][s][check["pixel"]]
    assert abs(value) < 1 and check["value"] == value
    assert check["drawn"] == round(255 * (1 - (value + 1) / 2))
    assert check["posterior"] == data["posterior"][w][s] and abs(sum(check["posterior"]) - 1) < 1e-5
