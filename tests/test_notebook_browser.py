"""Notebook 08 in a real browser: JupyterLab serves it, headless Chromium (driven by Selenium) runs every cell with
the interactive widgets, drags the point on the explorer's canvas, moves the w slider, follows a guided path and
draws and saves a mixture; each action is checked through the notebook's read-outs against the API's numbers.

Needs Chromium and its driver (Debian's ``chromium`` and ``chromium-driver``, which ``.ci/run`` installs) and the
``notebooks`` and ``browser`` extras; without any of them, it is skipped.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from sandbox import ClassConditionalGMM, zoo

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")
MISSING = [name for name in ("selenium", "jupyterlab", "ipympl", "ipywidgets")
           if importlib.util.find_spec(name) is None]
NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "08_posterior_explorer.py"
TOKEN = "mclr-sandbox-test"
NUMBER = r"(-?\d+\.\d+)"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None, reason="needs chromium and chromium-driver (apt-get)"),
    pytest.mark.skipif(bool(MISSING), reason=f"needs {MISSING} (pip install -e '.[notebooks,browser]')"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on a free port, its own config and runtime folders, serving the notebook as .ipynb."""
    import jupytext

    base = tmp_path_factory.mktemp("lab")
    root, config = base / "root", base / "config"
    (config / "labconfig").mkdir(parents=True)
    root.mkdir()
    # no "news" pop-up over the canvases
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    nb = jupytext.read(NOTEBOOK)
    nb.metadata.pop("jupytext", None)          # a plain .ipynb, not paired with the .py (as `jupytext --to ipynb`)
    jupytext.write(nb, root / "08.ipynb")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SANDBOX_FAST", "MPLBACKEND")}   # the interactive path
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(base / "runtime"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(base / "server.log", "w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _status(url), 60, "JupyterLab did not start: " + str(base / "server.log"))
        yield url, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)       # the server and the kernels it started
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _status(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
            return True
    except OSError:
        return False


def _until(ready: Callable[[], object], timeout: float, what: str) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = ready()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s: {what}")


@pytest.fixture(scope="module")
def browser(lab):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    url, _ = lab
    try:
        driver.get(f"{url}/lab/tree/08.ipynb?token={TOKEN}")
        _until(lambda: driver.execute_script(
            "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel);"),
            90, "the notebook's kernel")
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _until(lambda: _text(driver, ".drawer-status"), 120, "every cell run (the drawer's status shown)")
        yield driver
    finally:
        driver.quit()


def _text(driver, selector: str) -> str:
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''",
                                 selector)


def _changed(driver, selector: str, old: str, timeout: float = 30) -> str:
    return _until(lambda: (lambda t: t if t and t != old else None)(_text(driver, selector)), timeout,
                  f"{selector} to change from {old!r}")


def _settled(driver, selector: str) -> str:
    """The text once it has not changed for a second (the events in flight handled)."""
    def same() -> str | None:
        text = _text(driver, selector)
        time.sleep(1.0)
        return text if _text(driver, selector) == text else None

    return _until(same, 30, f"{selector} to settle")


def _moved(driver, x: list[float]) -> str:
    """The explorer's read-out once its x_t is no longer ``x``."""
    return _until(lambda: (lambda t: t if t and _state(t)["x"] != x else None)(_text(driver, ".explorer-readout")),
                  30, f"x_t to move from {x}")


def _state(readout: str) -> dict[str, object]:
    """The explorer's read-out as numbers: x_t, sigma, w, c, P(c | x_t), D_c, D_u, D_w."""
    pair = rf"\({NUMBER}, {NUMBER}\)"
    m = re.search(rf"x_t = {pair}; sigma = ([\d.e+-]+); w = ([\d.]+); c = (\d+); P\(c \| x_t\) = {NUMBER}; "
                  rf"D_c = {pair}; D_u = {pair}; D_w = {pair}", readout)
    assert m, readout
    v = [float(g) for g in m.groups()]
    return {"x": v[0:2], "sigma": v[2], "w": v[3], "c": int(v[4]), "p": v[5], "D": [v[6:8], v[8:10], v[10:12]]}


def _api_agrees(state: dict) -> None:
    """The read-out's numbers are the API's at its (rounded) point: to 2e-3 (x_t is shown to 4 decimals)."""
    gmm = zoo.get("overlap_2d")
    x, sigma, c, w = torch.tensor([state["x"]], dtype=torch.float64), state["sigma"], state["c"], state["w"]
    d_c, d_u = gmm.denoise(x, sigma, c)[0], gmm.denoise(x, sigma)[0]
    for shown, api in zip(state["D"], (d_c, d_u, d_c + w * (d_c - d_u))):
        assert torch.allclose(torch.tensor(shown, dtype=torch.float64), api, atol=2e-3), (state, api)
    assert abs(state["p"] - float(gmm.class_posterior(x, sigma)[0, c])) < 2e-3


def _canvas(driver, box: str):
    """The topmost element at the centre of the figure in the widget box holding ``box`` (where ipympl listens),
    and the figure's drawn image as a data URL (to see it redrawn)."""
    return driver.execute_script(
        "const vbox = document.querySelector(arguments[0]).closest('.widget-vbox');"
        "vbox.scrollIntoView({block: 'center'});"
        "const c = vbox.querySelector('canvas'); const r = c.getBoundingClientRect();"
        "return [document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2), c.toDataURL()];", box)


def test_dragging_the_point_redraws_the_posterior_with_the_apis_numbers(browser):
    from selenium.webdriver.common.action_chains import ActionChains

    start = _changed(browser, ".explorer-readout", "")
    _api_agrees(_state(start))
    target, image = _canvas(browser, ".explorer-readout")
    ActionChains(browser).move_to_element_with_offset(target, 60, -40).click_and_hold().perform()
    pressed = _moved(browser, _state(start)["x"])
    ActionChains(browser).move_by_offset(40, 0).move_by_offset(40, 40).perform()       # (80, 40) pixels, in steps
    _moved(browser, _state(pressed)["x"])
    ActionChains(browser).release().perform()
    dragged = _settled(browser, ".explorer-readout")
    a, b = _state(pressed), _state(dragged)
    _api_agrees(a)
    _api_agrees(b)
    # 80 px right and 40 px down on an equal-aspect plane: x_t moves right and down, twice as far across as down.
    # The browser's pointer reaches the figure through ipympl's pixel mapping, measured here to within ~4 px per
    # 100 (clicks 100 px apart move x_t by 1.52 across and 1.49 down, with 0.05 of shear): a 15% tolerance.
    dx, dy = b["x"][0] - a["x"][0], b["x"][1] - a["x"][1]
    assert dx > 0 and dy < 0 and abs(dx / -dy - 2.0) < 0.3, (a["x"], b["x"])
    _until(lambda: _canvas(browser, ".explorer-readout")[1] != image, 30, "the figure to redraw")


def test_the_w_slider_and_the_path_player_move_the_explorer(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = _state(_text(browser, ".explorer-readout"))
    handle = browser.find_elements(By.CSS_SELECTOR, ".noUi-handle")[0]      # the first slider: w
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    _until(lambda: _state(_text(browser, ".explorer-readout"))["w"] == before["w"] + 0.5, 30, "w to move by a step")
    after = _state(_text(browser, ".explorer-readout"))
    assert after["x"] == before["x"] and after["D"][2] != before["D"][2]
    _api_agrees(after)
    # "path from x_t", then the step slider to its last frame: x_t moves along the path, sigma falls to 0.02
    shown = _text(browser, ".explorer-readout")
    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text == "path from x_t")
    button.click()
    steps = browser.find_elements(By.CSS_SELECTOR, ".noUi-handle")[2]       # w, sigma, then the step slider
    steps.send_keys(Keys.END)
    _until(lambda: abs(_state(_text(browser, ".explorer-readout"))["sigma"] - 0.02) < 1e-9, 30, "the last frame")
    last = _state(_text(browser, ".explorer-readout"))
    assert last["x"] != _state(shown)["x"]
    _api_agrees(last)


def test_drawing_a_component_and_saving_writes_a_mixture_file(browser, lab):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _, root = lab
    status = _text(browser, ".drawer-status")
    count = int(re.search(r"(\d+) components", status).group(1))
    target, _ = _canvas(browser, ".drawer-status")
    ActionChains(browser).move_to_element_with_offset(target, -150, 150).click_and_hold().move_by_offset(30, -30) \
        .release().perform()
    assert _changed(browser, ".drawer-status", status).startswith(f"{count + 1} components")
    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button") if b.text == "Save")
    button.click()
    _until(lambda: "saved" in _text(browser, ".drawer-status"), 30, "the file saved")
    mine = ClassConditionalGMM.load(root / "my_mixture.json")
    assert sum(len(m) for m in mine.means) == count + 1
    # the new component is class 0's and was stretched by the drag (its sds differ)
    lam = torch.linalg.eigvalsh(mine.dense_covs()[0][-1])
    assert float(lam[1] / lam[0]) > 1.5
