"""The explainer page: one self-contained HTML file (no server, no Python, no network to view it) that draws the
numbers of ``sandbox.experiments.explainer`` with two sliders, ``w`` and ``sigma``.

Three panels, each with its caption: the guided paths of the class at the chosen ``w`` down to the chosen sigma;
the exact posterior over clean data ``p(x0 | x_sigma, c)`` at the highlighted path's point, with the denoisers
``D_c``, ``D_u`` and ``D_w``; and the unconditional posterior ``p(x0 | x_sigma)``. Posterior log-densities are stored
as bytes over the ``RANGE`` nats below each panel's peak (the page's resolution: ``RANGE / 255`` nats), everything
else as numbers. Opened with ``#selftest``, the page moves both sliders itself and writes what it drew (a hash of each
canvas per state, console errors, and the log-density it draws at a checked cell) into ``<pre id="selftest">``: what
the browser test reads.
"""

from __future__ import annotations

import base64
import html
import json

import torch

RANGE = 12.0        # nats below the peak that a posterior panel resolves (beyond: the colour of the floor)

LESSONS = (
    "The posterior narrows as sigma falls: at high noise it is close to the class's whole distribution, at low "
    "noise it sits on the path's point.",
    "CFG's denoiser D_w leaves the posterior's support at large w: it extrapolates from D_u through D_c, past where "
    "the clean data of the class can be.",
    "The class is decided at intermediate noise: there the unconditional posterior moves from several classes' "
    "components to one class's.",
    "CFG is not sampling the tilted q_0: its paths follow D_w step by step, not the posterior of any one density.",
)


def _quantised(log_post: torch.Tensor) -> tuple[str, list[float]]:
    """``(W, S, 2, G, G)`` log-densities as base64 bytes (255 at each panel's peak, 0 at ``RANGE`` nats below or
    less) and the peaks, one per panel."""
    flat = log_post.reshape(-1, log_post.shape[-2] * log_post.shape[-1])
    peaks = flat.max(1).values
    q = ((flat - peaks[:, None]) / RANGE + 1.0).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return base64.b64encode(q.numpy().tobytes()).decode("ascii"), [round(float(p), 6) for p in peaks]


def page(result: dict[str, torch.Tensor], mixture_name: str, c: int) -> str:
    """The HTML page for ``ExplainerConfig.compute``'s ``result`` (class ``c`` of the mixture ``mixture_name``)."""
    bytes_b64, peaks = _quantised(result["log_post"])
    data = {
        "mixture": mixture_name, "c": c, "range": RANGE,
        "ws": result["ws"].tolist(), "sigmas": [round(float(s), 6) for s in result["sigmas"]],
        "extent": result["extent"].tolist(), "grid": int(result["log_post"].shape[-1]),
        "paths": torch.round(result["paths"], decimals=5).tolist(),
        "denoisers": torch.round(result["denoisers"], decimals=6).tolist(),
        "means": result["means"].tolist(), "peaks": peaks, "logpost": bytes_b64,
    }
    return fill(TEMPLATE, f"CFG and the exact posterior: {mixture_name}, class {c}", LESSONS, data)


# what every explainer page shares: it records console errors and exceptions (read by the #selftest), and hashes a
# canvas's pixels (what the browser test compares between slider states)
ERRORS_JS = """<script>
window.pageErrors = [];
window.addEventListener("error", e => window.pageErrors.push(String(e.message)));
const consoleError = console.error;
console.error = (...a) => { window.pageErrors.push(a.join(" ")); consoleError(...a); };
</script>"""
HASH_JS = """function canvasHash(id) {
  const c = document.getElementById(id), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 0; for (let k = 0; k < d.length; k++) h = (h * 31 + d[k]) >>> 0; return h;
}"""


def fill(template: str, title: str, lessons: tuple[str, ...], data: dict) -> str:
    """An explainer page: ``template`` with its title, lessons, shared scripts and data (JSON) filled in."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lessons)
    return template.replace("__ERRORS__", ERRORS_JS).replace("__HASH__", HASH_JS) \
        .replace("__TITLE__", html.escape(title)).replace("__LESSONS__", items) \
        .replace("__DATA__", json.dumps(data, separators=(",", ":")))


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
__ERRORS__
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
.panels { display: flex; gap: 16px; flex-wrap: wrap; }
figure { margin: 0; width: 340px; } canvas { border: 1px solid #ccc; width: 340px; height: 340px; }
figcaption { font-size: 12.5px; color: #444; } label { display: inline-block; min-width: 9em; }
.controls { display: grid; grid-template-columns: 12em 340px; gap: 0.4em 0.8em; align-items: center; }
input[type=range] { width: 320px; }
.key span { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin: 0 4px 0 10px; }
</style></head><body>
<h1>__TITLE__</h1>
<p>Exact classifier-free guidance on a Gaussian mixture: every number on this page was computed in closed form by
mclr-sandbox (<code>mclr-sandbox explain</code>). Move the sliders.</p>
<div class="controls">
<label for="w">guidance w = <b id="wv"></b></label><input id="w" type="range" min="0" step="1">
<label for="s">noise sigma = <b id="sv"></b></label><input id="s" type="range" min="0" step="1">
</div>
<p class="key"><span style="background:#1f77b4"></span>D_c (class denoiser)<span style="background:#888"></span>D_u
(unconditional)<span style="background:#d62728"></span>D_w = D_c + w (D_c - D_u)<span style="background:#000"></span>the
noisy point x_sigma; a triangle at a panel's edge: that point lies beyond it, in the direction it points</p>
<div class="panels">
<figure><canvas id="paths" width="340" height="340"></canvas><figcaption>Guided paths of the class at this w, from
high noise down to this sigma (the highlighted one is the point the other panels condition on; crosses: the
components' means).</figcaption></figure>
<figure><canvas id="cond" width="340" height="340"></canvas><figcaption>The exact posterior over clean data
p(x0 | x_sigma, c) at the highlighted point, and the three denoisers: D_c is its mean; D_w leaves it as w
grows.</figcaption></figure>
<figure><canvas id="uncond" width="340" height="340"></canvas><figcaption>The unconditional posterior
p(x0 | x_sigma): spread over several classes at high noise, one class's once the class is decided.</figcaption>
</figure>
</div>
<h2>What to notice</h2><ol>__LESSONS__</ol>
<pre id="selftest"></pre>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const bytes = Uint8Array.from(atob(D.logpost), ch => ch.charCodeAt(0));
const G = D.grid, W = D.ws.length, S = D.sigmas.length;
const wIn = document.getElementById("w"), sIn = document.getElementById("s");
wIn.max = W - 1; sIn.max = S - 1; wIn.value = Math.min(3, W - 1); sIn.value = Math.floor(S / 2);
const [x0, x1, y0, y1] = D.extent;
const px = (x, c) => (x - x0) / (x1 - x0) * c.width, py = (y, c) => (1 - (y - y0) / (y1 - y0)) * c.height;
function panel(w, s, which) { return (w * S + s) * 2 + which; }
function logDensity(w, s, which, i, j) {   // drawn value at cell (i along x, j along y): dequantised bytes
  const p = panel(w, s, which);
  return D.peaks[p] + (bytes[p * G * G + j * G + i] / 255 - 1) * D.range;
}
function heat(canvas, w, s, which) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(G, G), p = panel(w, s, which);
  for (let j = 0; j < G; j++) for (let i = 0; i < G; i++) {
    const q = bytes[p * G * G + j * G + i] / 255, k = ((G - 1 - j) * G + i) * 4;
    img.data[k] = 255 - 200 * q; img.data[k + 1] = 255 - 150 * q; img.data[k + 2] = 255 - 60 * q; img.data[k + 3] = 255;
  }
  const tmp = document.createElement("canvas"); tmp.width = G; tmp.height = G;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true; ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}
function dot(ctx, x, y, colour, r, ring) {
  const c = ctx.canvas, u = px(x, c), v = py(y, c), m = 9;
  if (u < 0 || u > c.width || v < 0 || v > c.height) {
    // beyond the panel (high noise, or D_w at large w): a triangle at the edge, pointing to where the point is
    const cu = c.width / 2, cv = c.height / 2;
    const t = Math.min(1, (cu - m) / Math.abs(u - cu), (cv - m) / Math.abs(v - cv));
    const eu = cu + t * (u - cu), ev = cv + t * (v - cv), a = Math.atan2(v - cv, u - cu);
    ctx.beginPath(); ctx.moveTo(eu + 8 * Math.cos(a), ev + 8 * Math.sin(a));
    ctx.lineTo(eu + 6 * Math.cos(a + 2.4), ev + 6 * Math.sin(a + 2.4));
    ctx.lineTo(eu + 6 * Math.cos(a - 2.4), ev + 6 * Math.sin(a - 2.4)); ctx.closePath();
    ctx.fillStyle = colour; ctx.fill(); return;
  }
  ctx.beginPath(); ctx.arc(u, v, r, 0, 2 * Math.PI);
  if (ring) { ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke(); } else { ctx.fillStyle = colour; ctx.fill(); }
}
function axes(ctx) {      // faint grid lines with their values along the bottom and left edges (mixture coordinates)
  const c = ctx.canvas, span = Math.max(x1 - x0, y1 - y0), step = span > 8 ? 2 : span > 4 ? 1 : 0.5;
  ctx.strokeStyle = "rgba(0,0,0,0.1)"; ctx.fillStyle = "#555"; ctx.lineWidth = 1; ctx.font = "10px sans-serif";
  ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) {
    const u = px(t, c); ctx.beginPath(); ctx.moveTo(u, 0); ctx.lineTo(u, c.height); ctx.stroke();
    ctx.fillText(+t.toFixed(1), u, c.height - 2);
  }
  ctx.textAlign = "left"; ctx.textBaseline = "middle";
  for (let t = Math.ceil(y0 / step) * step; t <= y1; t += step) {
    const v = py(t, c); ctx.beginPath(); ctx.moveTo(0, v); ctx.lineTo(c.width, v); ctx.stroke();
    ctx.fillText(+t.toFixed(1), 3, v);
  }
}
function crosses(ctx) {
  ctx.strokeStyle = "#555"; ctx.lineWidth = 1;
  for (const [x, y] of D.means) {
    const u = px(x, ctx.canvas), v = py(y, ctx.canvas);
    ctx.beginPath(); ctx.moveTo(u - 4, v - 4); ctx.lineTo(u + 4, v + 4);
    ctx.moveTo(u - 4, v + 4); ctx.lineTo(u + 4, v - 4); ctx.stroke();
  }
}
function draw() {
  const w = +wIn.value, s = +sIn.value;
  document.getElementById("wv").textContent = D.ws[w];
  document.getElementById("sv").textContent = D.sigmas[s].toPrecision(3);
  const paths = document.getElementById("paths"), ctx = paths.getContext("2d");
  ctx.clearRect(0, 0, paths.width, paths.height); axes(ctx); crosses(ctx);
  const P = D.paths[w][0].length;
  for (let p = P - 1; p >= 0; p--) {
    ctx.beginPath(); ctx.strokeStyle = p === 0 ? "#d62728" : "rgba(31,119,180,0.35)"; ctx.lineWidth = p === 0 ? 2 : 1;
    for (let t = 0; t <= s; t++) {
      const [x, y] = D.paths[w][t][p];
      t === 0 ? ctx.moveTo(px(x, paths), py(y, paths)) : ctx.lineTo(px(x, paths), py(y, paths));
    }
    ctx.stroke(); const [x, y] = D.paths[w][s][p]; dot(ctx, x, y, p === 0 ? "#d62728" : "#1f77b4", p === 0 ? 4 : 2);
  }
  const [xc, yc] = D.paths[w][s][0], [dc, du, dw] = D.denoisers[w][s];
  for (const [id, which] of [["cond", 0], ["uncond", 1]]) {
    const canvas = document.getElementById(id), c2 = canvas.getContext("2d");
    heat(canvas, w, s, which); axes(c2); crosses(c2); dot(c2, xc, yc, "#000", 6, true);
    dot(c2, du[0], du[1], "#888", 5);
    if (which === 0) { dot(c2, dc[0], dc[1], "#1f77b4", 5); dot(c2, dw[0], dw[1], "#d62728", 5); }
  }
}
__HASH__
wIn.addEventListener("input", draw); sIn.addEventListener("input", draw);
draw();
if (location.hash === "#selftest") {
  const states = [];
  const record = () => states.push({w: +wIn.value, s: +sIn.value, paths: canvasHash("paths"),
                                    cond: canvasHash("cond"), uncond: canvasHash("uncond")});
  record();
  for (const [input, value] of [[wIn, 0], [wIn, W - 1], [sIn, 0], [sIn, S - 1]]) {
    input.value = value; input.dispatchEvent(new Event("input")); record();
  }
  const w = 1 % W, s = Math.floor(S / 2), p0 = panel(w, s, 0) * G * G;
  let best = 0; for (let k = 1; k < G * G; k++) if (bytes[p0 + k] > bytes[p0 + best]) best = k;
  const i = best % G, j = Math.floor(best / G);      // the class posterior's peak cell: where it is resolved
  const check = {w: D.ws[w], sigma: D.sigmas[s], x: D.paths[w][s][0],
                 cell: [x0 + i * (x1 - x0) / (G - 1), y0 + j * (y1 - y0) / (G - 1)],
                 drawn: [logDensity(w, s, 0, i, j), logDensity(w, s, 1, i, j)],
                 peaks: [D.peaks[panel(w, s, 0)], D.peaks[panel(w, s, 1)]], resolution: D.range / 255};
  document.getElementById("selftest").textContent = JSON.stringify({states, check, errors: window.pageErrors});
}
</script></body></html>
"""
