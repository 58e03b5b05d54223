// The page at GET /: one self-contained HTML file (no build step, no
// external assets). It sends the chosen image to :predict (scores) and to
// :explain (the heat map, drawn by the server with Captum's colours).

#include "serve/http_server.h"

namespace guidedbp {
namespace cli {
namespace serve {

const char* web_page() {
  return R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>guidedbp serve</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
fieldset{border:1px solid #ccc;padding:.8em;margin-bottom:1em}
label{margin-right:1.2em}
figure{display:inline-block;margin:0 1.5em 0 0;vertical-align:top}
figure img{width:280px;height:280px;object-fit:contain;image-rendering:pixelated;border:1px solid #ddd;background:#fff}
figure img:not([src]){visibility:hidden}
figcaption{text-align:center;margin-top:.3em}
table{border-collapse:collapse}td{padding:.1em .6em}
#error{color:#b00}
</style></head>
<body>
<h1>guidedbp serve</h1>
<fieldset>
<label>Model <select id="model"></select></label>
<label>Image <input type="file" id="file" accept="image/png,image/jpeg"></label><br><br>
<label>Method <select id="method">
<option>guided-backprop</option><option>deconvolution</option><option>saliency</option></select></label>
<label>Sign <select id="sign"><option>absolute_value</option><option>all</option>
<option>positive</option><option>negative</option></select></label>
<label>Visual <select id="visual"><option>heat_map</option><option>blended_heat_map</option>
<option>masked_image</option><option>alpha_scaling</option></select></label>
<label>Target <input id="target" size="6" placeholder="predicted"></label>
</fieldset>
<div>
<figure><img id="input" alt="input"><figcaption>image</figcaption></figure>
<figure><img id="map" alt="heat map"><figcaption id="mapcaption">heat map</figcaption></figure>
<figure><table id="scores"></table><figcaption>top classes (softmax)</figcaption></figure>
</div>
<p id="status">pick a model and an image</p>
<p id="error"></p>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
async function errorText(r) {
  try { return (await r.json()).error; } catch (e) { return r.status + " " + r.statusText; }
}
// Each model's class names (serve --labels), from GET /v1/models/NAME.
const labels = {};
async function loadModels() {
  const r = await fetch("/v1/models");
  const models = (await r.json()).models;
  for (const m of models) {
    const o = document.createElement("option"); o.textContent = m; $("model").appendChild(o);
    const info = await (await fetch("/v1/models/" + encodeURIComponent(m))).json();
    labels[m] = info.labels || [];
  }
}
function className(model, i) {
  const names = labels[model] || [];
  return i < names.length ? i + " " + names[i] : "class " + i;
}
async function run() {
  const file = $("file").files[0];
  if (!file) return;
  $("error").textContent = "";
  $("status").textContent = "working";
  $("input").src = URL.createObjectURL(file);
  const name = $("model").value;
  const model = encodeURIComponent(name);
  const type = file.type || "image/png";
  const body = await file.arrayBuffer();
  try {
    const p = await fetch("/v1/models/" + model + ":predict",
                          {method: "POST", headers: {"Content-Type": type}, body});
    if (!p.ok) throw new Error(await errorText(p));
    const scores = (await p.json()).predictions[0];
    const top = Math.max(...scores);
    const exp = scores.map((s) => Math.exp(s - top));
    const total = exp.reduce((a, b) => a + b, 0);
    const ranked = exp.map((e, i) => [i, e / total]).sort((a, b) => b[1] - a[1]).slice(0, 5);
    $("scores").innerHTML = "";
    for (const [i, s] of ranked) {
      const row = $("scores").insertRow();
      row.insertCell().textContent = className(name, i);
      row.insertCell().textContent = s.toFixed(4);
    }
    const q = new URLSearchParams({method: $("method").value, sign: $("sign").value,
                                   visual: $("visual").value});
    if ($("target").value.trim() !== "") q.set("target", $("target").value.trim());
    const e = await fetch("/v1/models/" + model + ":explain?" + q,
                          {method: "POST", headers: {"Content-Type": type}, body});
    if (!e.ok) throw new Error(await errorText(e));
    const target = e.headers.get("X-Target-Class");
    const blob = await e.blob();
    await new Promise((resolve, reject) => {
      $("map").onload = resolve; $("map").onerror = reject;
      $("map").src = URL.createObjectURL(blob);
    });
    const predicted = Number(e.headers.get("X-Predicted-Class"));
    $("mapcaption").textContent = "heat map, " + className(name, Number(target));
    $("status").textContent = "done: predicted " + className(name, predicted) +
        ", explained " + className(name, Number(target));
  } catch (err) {
    $("error").textContent = String(err.message || err);
    $("status").textContent = "failed";
  }
}
for (const id of ["file", "model", "method", "sign", "visual", "target"]) {
  $(id).addEventListener("change", run);
}
loadModels();
</script>
</body></html>
)HTML";
}

} // namespace serve
} // namespace cli
} // namespace guidedbp
