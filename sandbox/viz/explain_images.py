"""The explainer page of an image mixture (``digits``): one self-contained HTML file that draws the numbers of
``sandbox.experiments.explainer.ImageExplainerConfig`` with two sliders, ``w`` and ``sigma``.

Five panels: the noisy image ``x_sigma`` (scaled by ``1 / sqrt(1 + sigma^2)``, so that it keeps the data's grey scale
at every sigma), the denoisers ``D_c``, ``D_u`` and ``D_w`` as images on the data's grey scale [-1, 1] (a value
beyond it saturates; each image's largest |pixel| is printed under it), and the exact class posterior
``p_sigma(c | x)`` as bars with their axis. Pixels are drawn as exact colours (no smoothing), so the browser test
can read back what was drawn. Opened with ``#selftest`` the page moves both sliders itself and writes what it drew
(a hash of each canvas per state, console errors, and the grey it drew at a checked pixel of ``D_w``) into
``<pre id="selftest">``, as ``sandbox.viz.explain``'s page does.
"""

from __future__ import annotations

import torch

from ..core import zoo
from ..core.mixtures import ClassConditionalGMM
from .explain import LESSONS, fill


def _images(gmm: ClassConditionalGMM, points: torch.Tensor) -> list:
    """``(W, S, d)`` points as ``(W, S, H*W)`` images (``zoo.image``), rounded to 6 decimals."""
    w, s, _ = points.shape
    return torch.round(zoo.image(gmm, points.reshape(w * s, -1)).reshape(w, s, -1), decimals=6).tolist()


def page(result: dict[str, torch.Tensor], gmm: ClassConditionalGMM, c: int) -> str:
    """The HTML page for ``ImageExplainerConfig.compute``'s ``result`` (class ``c`` of the image mixture ``gmm``)."""
    scale = (1.0 + result["sigmas"] ** 2).rsqrt()[None, :, None]
    classes = [str(k) for k in gmm.source["classes"]]
    height, width = gmm.source["image_shape"]
    data = {
        "mixture": gmm.name, "c": c, "classes": classes, "shape": [height, width],
        "ws": result["ws"].tolist(), "sigmas": [round(float(s), 6) for s in result["sigmas"]],
        "x": _images(gmm, result["x"] * scale),
        **{key: _images(gmm, result[key]) for key in ("D_c", "D_u", "D_w")},
        "posterior": torch.round(result["posterior"], decimals=6).tolist(),
    }
    return fill(TEMPLATE, f"CFG on real images, exactly: {gmm.name}, class {classes[c]}",
                (*LESSONS[1:3], IMAGE_LESSON), data)


IMAGE_LESSON = ("At high noise D_c and D_u are blurry averages while D_w is already a sharp, saturated digit: guidance "
                "decides the picture early, and by extrapolating, not by finding a more likely image.")

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
__ERRORS__
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
.controls { display: grid; grid-template-columns: 12em 340px; gap: 0.4em 0.8em; align-items: center; }
.panels { display: flex; gap: 14px; flex-wrap: wrap; align-items: flex-start; margin-top: 1em; }
figure { margin: 0; width: 168px; } figure.bars { width: 340px; }
canvas { border: 1px solid #ccc; } figcaption { font-size: 12.5px; color: #444; }
.max { font-size: 12px; color: #666; }
</style></head><body>
<h1>__TITLE__</h1>
<p>A Gaussian mixture fitted to real images (<code>mclr-sandbox fit</code>; the zoo's digits), and exact classifier-free
guidance on it: every number on this page was computed in closed form for that mixture by mclr-sandbox
(<code>mclr-sandbox explain --mixture digits</code>). One guided path per w, all from the same starting noise. Move the
sliders.</p>
<div class="controls">
<label for="w">guidance w = <b id="wv"></b></label><input id="w" type="range" min="0" step="1">
<label for="s">noise sigma = <b id="sv"></b></label><input id="s" type="range" min="0" step="1">
</div>
<div class="panels">
<figure><canvas id="x" width="160" height="160"></canvas><figcaption>the noisy image x_sigma / sqrt(1 + sigma^2)
<span class="max" id="x-max"></span></figcaption></figure>
<figure><canvas id="D_c" width="160" height="160"></canvas><figcaption>D_c: the class's denoiser (mean of
p(x0 | x_sigma, c)) <span class="max" id="D_c-max"></span></figcaption></figure>
<figure><canvas id="D_u" width="160" height="160"></canvas><figcaption>D_u: the unconditional denoiser
<span class="max" id="D_u-max"></span></figcaption></figure>
<figure><canvas id="D_w" width="160" height="160"></canvas><figcaption>D_w = D_c + w (D_c - D_u): what the guided
path follows <span class="max" id="D_w-max"></span></figcaption></figure>
<figure class="bars"><canvas id="bars" width="340" height="170"></canvas><figcaption>The exact class posterior
p_sigma(c | x) at the noisy image (the guided class in red): spread over the classes at high noise, decided at
intermediate noise.</figcaption></figure>
</div>
<p>Grey scale: the data's, from -1 (white) to 1 (black ink); values beyond it saturate (max |pixel| under each
image).</p>
<h2>What to notice</h2><ol>__LESSONS__</ol>
<pre id="selftest"></pre>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const W = D.ws.length, S = D.sigmas.length, [H, V] = D.shape, K = D.classes.length;
const wIn = document.getElementById("w"), sIn = document.getElementById("s");
wIn.max = W - 1; sIn.max = S - 1; wIn.value = Math.min(3, W - 1); sIn.value = Math.floor(S / 2);
const grey = v => Math.round(255 * (1 - (Math.max(-1, Math.min(1, v)) + 1) / 2));
function image(id, pixels) {
  const canvas = document.getElementById(id), ctx = canvas.getContext("2d");
  const cw = canvas.width / V, ch = canvas.height / H;
  for (let i = 0; i < H; i++) for (let j = 0; j < V; j++) {
    const g = grey(pixels[i * V + j]);
    ctx.fillStyle = `rgb(${g},${g},${g})`; ctx.fillRect(j * cw, i * ch, cw, ch);
  }
  document.getElementById(id + "-max").textContent =
    "(max |pixel| " + Math.max(...pixels.map(Math.abs)).toFixed(2) + ")";
}
function bars(post) {
  const canvas = document.getElementById("bars"), ctx = canvas.getContext("2d");
  const left = 34, bottom = 22, top = 8, w = canvas.width - left - 6, h = canvas.height - bottom - top;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#444"; ctx.fillStyle = "#444"; ctx.lineWidth = 1; ctx.font = "11px sans-serif";
  ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, top + h); ctx.lineTo(left + w, top + h); ctx.stroke();
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const t of [0, 0.5, 1]) {
    const y = top + h * (1 - t);
    ctx.beginPath(); ctx.moveTo(left - 4, y); ctx.lineTo(left, y); ctx.stroke();
    ctx.fillText(t.toFixed(1), left - 6, y);
  }
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  const slot = w / K;
  for (let k = 0; k < K; k++) {
    ctx.fillStyle = k === D.c ? "#d62728" : "#1f77b4";
    ctx.fillRect(left + k * slot + 0.15 * slot, top + h * (1 - post[k]), 0.7 * slot, h * post[k]);
    ctx.fillStyle = "#444"; ctx.fillText(D.classes[k], left + (k + 0.5) * slot, top + h + 4);
  }
}
function draw() {
  const w = +wIn.value, s = +sIn.value;
  document.getElementById("wv").textContent = D.ws[w];
  document.getElementById("sv").textContent = D.sigmas[s].toPrecision(3);
  for (const key of ["x", "D_c", "D_u", "D_w"]) image(key, D[key][w][s]);
  bars(D.posterior[w][s]);
}
__HASH__
wIn.addEventListener("input", draw); sIn.addEventListener("input", draw);
draw();
if (location.hash === "#selftest") {
  const states = [];
  const record = () => states.push({w: +wIn.value, s: +sIn.value, x: canvasHash("x"), D_w: canvasHash("D_w"),
                                    D_c: canvasHash("D_c"), bars: canvasHash("bars")});
  record();
  for (const [input, value] of [[wIn, 0], [wIn, W - 1], [sIn, 0], [sIn, S - 1]]) {
    input.value = value; input.dispatchEvent(new Event("input")); record();
  }
  const w = 1 % W, s = Math.floor(S / 2);
  wIn.value = w; sIn.value = s; draw();
  const pixels = D.D_w[w][s];
  // a pixel inside the grey scale (|value| nearest 0.5): its drawn grey is not a saturated end
  const off = v => Math.abs(Math.abs(v) - 0.5);
  let k = 0; for (let i = 1; i < pixels.length; i++) if (off(pixels[i]) < off(pixels[k])) k = i;
  const canvas = document.getElementById("D_w"), cw = canvas.width / V, ch = canvas.height / H;
  const at = canvas.getContext("2d").getImageData(Math.floor(((k % V) + 0.5) * cw),
                                                  Math.floor((Math.floor(k / V) + 0.5) * ch), 1, 1).data;
  const check = {w: D.ws[w], sigma: D.sigmas[s], pixel: k, value: pixels[k], drawn: at[0],
                 posterior: D.posterior[w][s]};
  document.getElementById("selftest").textContent = JSON.stringify({states, check, errors: window.pageErrors});
}
</script></body></html>
"""
