// glassnet playground: draws the state the server streams, sends the controls back.
// Plain JavaScript, no libraries, no network beyond this server.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const FEATURES = [
  ["x1", "x₁", (a, b) => a], ["x2", "x₂", (a, b) => b],
  ["x1^2", "x₁²", (a, b) => a * a], ["x2^2", "x₂²", (a, b) => b * b],
  ["x1x2", "x₁·x₂", (a, b) => a * b], ["sin(x1)", "sin x₁", (a, b) => Math.sin(a)],
  ["sin(x2)", "sin x₂", (a, b) => Math.sin(b)],
];
const ACTIVATIONS = ["tanh", "relu", "sigmoid", "identity", "leaky_relu", "elu", "gelu", "softplus"];
const $ = (id) => document.getElementById(id);

let state = null;     // the last snapshot
let config = null;    // the configuration the page edits
let selected = null;   // the clicked point: {split, index}

function api(path, body) {
  const options = { headers: { "X-Glassnet-Token": token } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return fetch(path, options).then(async (response) => {
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  });
}

function say(text) { $("message").textContent = text || ""; }

function send(changes) {
  const next = Object.assign({}, config, changes);
  return api("/api/config", next).then(() => { config = next; say(""); })
    .catch((error) => { say(error.message); showConfig(config); });
}

function control(action) {
  return api("/api/control", { action }).then((r) => say(r.diverged || ""))
    .catch((error) => say(error.message));
}

// -- colours: orange for negative, blue for positive, white at 0 --------------------
function colour(value, scale) {
  const t = Math.max(-1, Math.min(1, value / scale));
  const [r, g, b] = t < 0 ? [245, 147, 34] : [8, 119, 189];
  const s = Math.abs(t);
  return [255 + (r - 255) * s, 255 + (g - 255) * s, 255 + (b - 255) * s];
}

function paint(canvas, values, n, centre, scale) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = colour(values[i] - centre, scale);
    image.data.set([r, g, b, 255], 4 * i);
  }
  canvas.width = n; canvas.height = n;
  context.putImageData(image, 0, 0);
}

function gridValues(n, f) {
  const values = [], d = state ? state.domain : 6;
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      const x1 = -d + (2 * d * (col + 0.5)) / n, x2 = d - (2 * d * (row + 0.5)) / n;
      values.push(f(x1, x2));
    }
  }
  return values;
}

function spread(values) {
  let m = 1e-9;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

// -- the network's columns ------------------------------------------------------------
function buildColumns() {
  const columns = $("columns");
  columns.textContent = "";
  const inputs = column("Features");
  for (const [name, label, f] of FEATURES) {
    const on = config.features.includes(name);
    const box = neuron(label, `feature ${label}`);
    box.classList.add("feature");
    if (!on) box.classList.add("off");
    const toggle = document.createElement("button");
    toggle.type = "button"; toggle.textContent = label;
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.setAttribute("aria-label", `use feature ${label}`);
    toggle.addEventListener("click", () => {
      const features = on ? config.features.filter((x) => x !== name)
        : FEATURES.map((g) => g[0]).filter((x) => x === name || config.features.includes(x));
      send({ features });
    });
    box.replaceChild(toggle, box.querySelector("span"));
    const values = gridValues(16, f);
    paint(box.querySelector("canvas"), values, 16, 0, spread(values));
    box.dataset.feature = name;
    inputs.appendChild(box);
  }
  // the other numeric columns of the user's table: inputs too, held at their mean
  // in every heatmap (the page draws only the two chosen columns)
  for (const name of (state && state.extra_inputs) || []) {
    const box = neuron(name, `input column ${name}, held at its mean in the heatmaps`);
    box.classList.add("feature", "extra");
    box.title = `${name}: standardised; the heatmaps hold it at its mean`;
    paint(box.querySelector("canvas"), new Array(256).fill(0), 16, 0, 1);
    inputs.appendChild(box);
  }
  columns.appendChild(inputs);
  config.hidden.forEach((width, i) => {
    const col = column("");
    const head = col.querySelector(".layer-head");
    head.innerHTML = "";
    const plus = button("+", `add a neuron to layer ${i + 1}`, () => resize(i, 1));
    const minus = button("−", `remove a neuron from layer ${i + 1}`, () => resize(i, -1));
    const label = document.createElement("div");
    label.textContent = `${width} neurons`;
    const select = document.createElement("select");
    select.setAttribute("aria-label", `activation of layer ${i + 1}`);
    for (const name of ACTIVATIONS) select.add(new Option(name, name, false, name === config.activations[i]));
    select.addEventListener("change", () => {
      const activations = config.activations.slice(); activations[i] = select.value;
      send({ activations });
    });
    head.append(plus, minus, label, select);
    for (let j = 0; j < width; j++) col.appendChild(neuron("", `layer ${i + 1} neuron ${j + 1}`));
    columns.appendChild(col);
  });
  const out = column("Output");
  out.appendChild(neuron("", "output neuron"));
  columns.appendChild(out);
  $("n-layers").textContent = config.hidden.length;
  applyHide(); // a lesson's hidden controls stay hidden in the new columns
}

function column(title) {
  const col = document.createElement("div");
  col.className = "column";
  const head = document.createElement("div");
  head.className = "layer-head"; head.textContent = title;
  col.appendChild(head);
  return col;
}

function neuron(text, label) {
  const box = document.createElement("div");
  box.className = "neuron";
  const canvas = document.createElement("canvas");
  canvas.width = 16; canvas.height = 16;
  canvas.setAttribute("aria-label", label);
  const span = document.createElement("span"); span.textContent = text;
  box.append(canvas, span);
  return box;
}

function button(text, label, action) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.setAttribute("aria-label", label);
  b.addEventListener("click", action);
  return b;
}

function resize(i, change) {
  const hidden = config.hidden.slice();
  hidden[i] = hidden[i] + change;
  send({ hidden });
}

function drawNetwork() {
  const cols = Array.from($("columns").children);
  const n = state.neuron_resolution;
  // neurons[0] are the used features; then one entry per layer
  state.neurons.slice(1).forEach((layer, k) => {
    const boxes = cols[k + 1].querySelectorAll("canvas");
    const dead = state.dead[k] || [];
    layer.forEach((values, j) => {
      if (!boxes[j]) return;
      boxes[j].parentNode.classList.toggle("dead", Boolean(dead[j]));
      boxes[j].title = dead[j] ? "dead: 0 on every training point, no gradient flows" : "";
      const output = k === state.neurons.length - 2;
      const classify = output && state.task === "classification";
      paint(boxes[j], values, n, classify ? 0.5 : 0, classify ? 0.5 : spread(values));
    });
  });
  drawLinks(cols);
}

function drawLinks(cols) {
  const svg = $("links"), origin = $("net").getBoundingClientRect();
  const centre = (el, side) => {
    const r = el.getBoundingClientRect();
    return [(side ? r.right : r.left) - origin.left, r.top + r.height / 2 - origin.top];
  };
  const used = Array.from(cols[0].querySelectorAll(".neuron"))
    .filter((b) => config.features.includes(b.dataset.feature) || b.classList.contains("extra"))
    .map((b) => b.querySelector("canvas"));
  let sources = used, parts = [];
  const gradient = $("gradient-view").checked; // links by dL/dw instead of w
  const name = gradient ? "∂L/∂W" : "W";
  (gradient ? state.gradients : state.weights).forEach((layer, k) => {
    const targets = Array.from(cols[k + 1].querySelectorAll("canvas"));
    let scale = 1e-9;
    layer.W.forEach((row) => row.forEach((w) => { scale = Math.max(scale, Math.abs(w)); }));
    layer.W.forEach((row, j) => row.forEach((w, i) => {
      if (!sources[i] || !targets[j]) return;
      const [x0, y0] = centre(sources[i], true), [x1, y1] = centre(targets[j], false);
      const [r, g, b] = colour(w, Math.abs(w) || 1);
      const width = 0.5 + 4 * Math.abs(w) / scale;
      const mid = (x0 + x1) / 2;
      const mark = picked && picked.layer === k + 1 && picked.row === j + 1 && picked.col === i + 1
        ? ' class="picked"' : "";
      parts.push(`<path${mark} data-layer="${k + 1}" data-row="${j + 1}" data-col="${i + 1}" d="M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}" stroke="rgb(${r|0},${g|0},${b|0})" stroke-width="${width.toFixed(2)}"><title>${name}${k + 1}[${j + 1},${i + 1}] = ${w.toPrecision(6)}</title></path>`);
    }));
    sources = targets;
  });
  svg.innerHTML = parts.join("");
  showPicked();
}

// -- the output: heatmap, points, curves ----------------------------------------------
function drawOutput() {
  const canvas = $("heatmap"), n = state.resolution;
  const classify = state.task === "classification";
  const off = document.createElement("canvas");
  paint(off, state.output, n, classify ? 0.5 : 0, classify ? 0.5 : 1);
  const context = canvas.getContext("2d");
  canvas.width = 300; canvas.height = 300;
  context.imageSmoothingEnabled = true;
  context.globalAlpha = 0.8;
  context.drawImage(off, 0, 0, 300, 300);
  context.globalAlpha = 1;
  const draw = (points, stroke) => points.forEach(([x1, x2, y]) => {
    const [px, py] = toPixel(x1, x2);
    const [r, g, b] = colour(classify ? y - 0.5 : y, classify ? 0.5 : 1);
    context.beginPath(); context.arc(px, py, 3.5, 0, 2 * Math.PI);
    context.fillStyle = `rgb(${r|0},${g|0},${b|0})`; context.fill();
    context.strokeStyle = stroke; context.lineWidth = 1; context.stroke();
  });
  draw(state.train, "#fff");
  if ($("show-test").checked) draw(state.test, "#000");
  const point = selected && state[selected.split][selected.index];
  if (point) { // a ring round the clicked point
    const [px, py] = toPixel(point[0], point[1]);
    context.beginPath(); context.arc(px, py, 7, 0, 2 * Math.PI);
    context.strokeStyle = "#000"; context.lineWidth = 2; context.stroke();
  }
}

function toPixel(x1, x2) {
  const d = state.domain;
  return [((x1 + d) / (2 * d)) * 300, ((d - x2) / (2 * d)) * 300];
}

function drawCurve() {
  const canvas = $("curve"), context = canvas.getContext("2d");
  const { train_loss: train, test_loss: test } = state.history;
  context.clearRect(0, 0, canvas.width, canvas.height);
  const all = train.concat(test).filter((v) => v !== null);
  if (!all.length) return;
  const top = Math.max(...all) || 1;
  const line = (values, stroke) => {
    context.beginPath(); context.strokeStyle = stroke;
    values.forEach((v, i) => {
      const x = (i / Math.max(1, values.length - 1)) * canvas.width;
      const y = canvas.height - (v / top) * (canvas.height - 4);
      i ? context.lineTo(x, y) : context.moveTo(x, y);
    });
    context.stroke();
  };
  line(test, "#999"); line(train, "#222");
}

function show(snapshot) {
  const rebuild = !state || JSON.stringify(snapshot.config) !== JSON.stringify(state.config)
    || JSON.stringify(snapshot.extra_inputs) !== JSON.stringify(state.extra_inputs);
  if (snapshot.user_data) {
    const extra = snapshot.user_data.extra_columns || [];
    const text = `Your data (${snapshot.user_data.columns.join(", ")})` +
      (extra.length ? `; inputs ${extra.join(", ")} held at their mean in the heatmaps` : "");
    const option = $("dataset").querySelector("option[value=user]") || $("dataset").appendChild(new Option(text, "user"));
    option.textContent = text;
  }
  state = snapshot;
  if (rebuild) {
    config = snapshot.config; showConfig(config); buildColumns(); selected = null;
    $("export-trace-json").disabled = $("export-trace-html").disabled = true;
    // the settings in the address: a link or a bookmark brings them back
    history.replaceState(null, "", location.pathname + location.search + "#" +
      encodeURIComponent(JSON.stringify(config)));
  }
  $("epoch").textContent = snapshot.epoch;
  const last = (a) => (a.length && a[a.length - 1] !== null ? a[a.length - 1].toFixed(3) : "–");
  $("train-loss").textContent = last(snapshot.history.train_loss);
  $("test-loss").textContent = last(snapshot.history.test_loss);
  $("accuracy").textContent = snapshot.accuracy && snapshot.accuracy.test !== undefined
    ? ` · Test accuracy ${(100 * snapshot.accuracy.test).toFixed(1)}%` : "";
  $("play").textContent = snapshot.playing ? "❚❚ Pause" : "▶ Play";
  $("fast").checked = snapshot.fast;
  if (snapshot.diverged) say(snapshot.diverged);
  drawOutput(); drawNetwork(); drawCurve();
}

function showConfig(c) {
  for (const id of ["lr", "optimizer", "regularization", "reg_rate", "batch_size", "dataset"]) $(id).value = c[id];
  $("ratio").value = Math.round(c.ratio * 100); $("ratio-out").textContent = `${Math.round(c.ratio * 100)}%`;
  $("noise").value = Math.round(c.noise * 100); $("noise-out").textContent = Math.round(c.noise * 100);
  const loss = $("loss");
  const regression = state ? state.task === "regression" : c.dataset === "plane";
  loss.options[0].disabled = regression;
  loss.value = c.loss;
}

// -- a click on a point: its math -----------------------------------------------------
function nearest(px, py) {
  let best = null, bestD = 64; // within 8 pixels
  const look = (points, split) => points.forEach(([x1, x2], index) => {
    const [qx, qy] = toPixel(x1, x2), d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestD) { bestD = d; best = { split, index }; }
  });
  look(state.train, "train");
  if ($("show-test").checked) look(state.test, "test");
  return best;
}

function explainPoint(point) {
  return api("/api/explain", point).then((r) => {
    $("point").hidden = false;
    selected = point; drawOutput();
    $("export-trace-json").disabled = $("export-trace-html").disabled = false;
    const src = state[point.split][point.index];
    $("point-x").textContent = `${point.split} #${point.index}: (${src[0].toFixed(3)}, ${src[1].toFixed(3)}), target ${src[2]}`;
    $("point-output").textContent = r.output.toPrecision(6);
    $("point-loss").textContent = r.loss.toPrecision(6);
    $("point-loss").dataset.value = r.loss;
    $("point-loss-after").textContent = r.loss_after.toPrecision(6);
    $("trace").srcdoc = r.html;
  }).catch((error) => say(error.message));
}

$("heatmap").addEventListener("click", (event) => {
  const r = event.target.getBoundingClientRect();
  const point = nearest((event.clientX - r.left) * 300 / r.width, (event.clientY - r.top) * 300 / r.height);
  if (point) explainPoint(point);
});

// -- editing a weight: click its link (or choose it by keyboard), type the value --------
let editing = null; // {layer, row, col}
let returnFocus = null; // where the keyboard goes back to when the editor closes
$("links").addEventListener("click", (event) => {
  const path = event.target.closest("path");
  if (!path || !state) return;
  openEditor({ layer: Number(path.dataset.layer), row: Number(path.dataset.row), col: Number(path.dataset.col) });
});
function openEditor(link, from = null) {
  editing = { layer: link.layer, row: link.row, col: link.col }; returnFocus = from;
  const weight = state.weights[editing.layer - 1].W[editing.row - 1][editing.col - 1];
  $("weight-name").textContent = `W${editing.layer}[${editing.row},${editing.col}]`;
  $("weight-value").value = String(weight);
  $("weight-editor").hidden = false;
  $("weight-value").focus(); $("weight-value").select();
}

// By keyboard: focus "Choose a link", ↑ ↓ step through the links of a layer (row by
// row), ← → move to the previous or next layer, Enter opens the editor of the chosen
// link, Escape forgets it. The chosen link is drawn dashed; its name and value are
// announced (aria-live).
let picked = null; // {layer, row, col}
function pickedValid() {
  if (!picked || !state || !state.weights[picked.layer - 1]) return false;
  const W = state.weights[picked.layer - 1].W;
  return picked.row <= W.length && picked.col <= W[0].length;
}
function showPicked() {
  if (picked && !pickedValid()) picked = null; // the layers changed
  const W = picked && state.weights[picked.layer - 1].W;
  $("link-picked").textContent = picked
    ? `W${picked.layer}[${picked.row},${picked.col}] = ${W[picked.row - 1][picked.col - 1].toPrecision(6)}` : "";
}
function movePick(key) {
  if (!state || !state.weights.length) return;
  if (!picked) { picked = { layer: 1, row: 1, col: 1 }; return; }
  const n = state.weights.length;
  if (key === "ArrowLeft" || key === "ArrowRight") {
    const layer = Math.min(n, Math.max(1, picked.layer + (key === "ArrowRight" ? 1 : -1)));
    const W = state.weights[layer - 1].W;
    picked = { layer, row: Math.min(picked.row, W.length), col: Math.min(picked.col, W[0].length) };
    return;
  }
  const W = state.weights[picked.layer - 1].W, cols = W[0].length, count = W.length * cols;
  const flat = ((picked.row - 1) * cols + picked.col - 1 + (key === "ArrowDown" ? 1 : count - 1)) % count;
  picked = { layer: picked.layer, row: Math.floor(flat / cols) + 1, col: (flat % cols) + 1 };
}
$("link-picker").addEventListener("keydown", (event) => {
  if (["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(event.key)) {
    event.preventDefault(); movePick(event.key); drawNetwork();
  } else if (event.key === "Enter") {
    event.preventDefault();
    if (pickedValid()) openEditor(picked, $("link-picker")); else { movePick(""); drawNetwork(); }
  } else if (event.key === "Escape") {
    picked = null; drawNetwork();
  }
});
$("link-picker").addEventListener("click", () => { // a pointer: pick the first link
  if (!pickedValid()) { movePick(""); drawNetwork(); }
});
$("weight-editor").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("weight-value").value.trim(), value = Number(text);
  if (!editing) return;
  if (text === "" || !Number.isFinite(value)) {
    say(`the weight's value must be a finite number, got ${JSON.stringify(text)}`);
    return;
  }
  api("/api/weight", Object.assign({ name: "W", value }, editing)).then(() => {
    closeEditor(); say("");
    if (selected) explainPoint(selected); // the trace follows the new weight
  }).catch((error) => say(error.message));
});
function closeEditor() {
  $("weight-editor").hidden = true; editing = null;
  if (returnFocus) returnFocus.focus();
  returnFocus = null;
}
$("weight-cancel").addEventListener("click", closeEditor);
$("weight-value").addEventListener("keydown", (event) => { if (event.key === "Escape") $("weight-cancel").click(); });

// -- one batch, and what it changed ---------------------------------------------------
function oneBatch() {
  return api("/api/control", { action: "batch" }).then((r) => {
    say(r.diverged || "");
    if (r.step && r.step.after) showStep(r.step);
  }).catch((error) => say(error.message));
}

function showStep(view) {
  const classify = state ? state.task === "classification" : true;
  const fixed = (v) => (v === null || v === undefined ? "–" : v.toPrecision(6));
  $("step-view").hidden = false;
  $("step-title").textContent = `Epoch ${view.epoch}, step ${view.step} of the run: a batch of ${view.batch_size} points`;
  $("step-batch-before").textContent = fixed(view.before.batch_loss);
  $("step-batch-after").textContent = fixed(view.after.batch_loss);
  $("step-train-before").textContent = fixed(view.before.train_loss);
  $("step-train-after").textContent = fixed(view.after.train_loss);
  $("step-batch-before").dataset.value = view.before.batch_loss;
  $("step-batch-after").dataset.value = view.after.batch_loss;
  for (const [id, values] of [["step-before", view.before.output], ["step-after", view.after.output]]) {
    paint($(id), values, view.resolution, classify ? 0.5 : 0, classify ? 0.5 : 1);
  }
  const body = $("step-updates").querySelector("tbody");
  body.textContent = "";
  for (const tensor of view.updates) {
    for (const entry of tensor.largest) {
      const row = body.insertRow();
      const index = entry.index.map((i) => i + 1).join(",");
      const cells = [`Δ${tensor.name}[${index}]`, entry.old, entry.new, entry.delta];
      cells.forEach((value, k) => {
        const cell = row.insertCell();
        cell.textContent = k ? value.toPrecision(6) : value;
        if (k === 3) cell.dataset.value = value;
      });
    }
  }
}

// -- a CSV from this computer: sent to the server, parsed in memory, never saved --------
const MAX_UPLOAD = 2 * 1024 * 1024;
$("upload-send").addEventListener("click", async () => {
  const file = $("upload-file").files[0], target = $("upload-target").value.trim();
  if (!file) return say("choose a CSV file first");
  if (!target) return say("name the target column of the CSV file");
  if (file.size > MAX_UPLOAD) return say(`${file.name} is ${file.size} bytes; the playground takes at most ${MAX_UPLOAD}`);
  const query = new URLSearchParams({ name: file.name, target });
  if ($("upload-columns").value.trim()) query.set("columns", $("upload-columns").value.trim());
  try {
    const response = await fetch(`/api/upload?${query}`, {
      method: "POST", headers: { "X-Glassnet-Token": token, "Content-Type": "text/csv" }, body: await file.arrayBuffer(),
    });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || response.statusText);
    say(`${file.name}: ${data.rows} rows, ${data.task}, drawn: ${data.columns.join(", ")}`);
  } catch (error) { say(error.message); }
});

// -- export: the server answers with an attachment, the browser saves it -------------
function download(what, params) {
  const query = new URLSearchParams(params || {}).toString();
  return fetch(`/api/export/${what}${query ? "?" + query : ""}`, { headers: { "X-Glassnet-Token": token } })
    .then(async (response) => {
      if (!response.ok) {
        const data = await response.json().catch(() => ({ error: response.statusText }));
        throw new Error(data.error || response.statusText);
      }
      const name = (/filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "") || [])[1];
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = name || what;
      document.body.appendChild(link); link.click(); link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      say("");
    }).catch((error) => say(error.message));
}
$("export-model").addEventListener("click", () => download("model"));
$("export-script").addEventListener("click", () => download("script"));
for (const format of ["json", "html"]) {
  $(`export-trace-${format}`).addEventListener("click", () => selected &&
    download("trace", { split: selected.split, index: selected.index, format }));
}

// -- the controls ---------------------------------------------------------------------
$("play").addEventListener("click", () => control(state && state.playing ? "pause" : "play"));
$("step").addEventListener("click", () => control("step"));
$("fast").addEventListener("change", () => api("/api/control", { action: "fast", on: $("fast").checked }).catch((e) => say(e.message)));
$("batch").addEventListener("click", oneBatch);
$("reset").addEventListener("click", () => control("reset"));
$("regenerate").addEventListener("click", () => send({ seed: (config.seed + 1) % 4294967296 }));
$("add-layer").addEventListener("click", () => send({
  hidden: config.hidden.concat([4]), activations: config.activations.concat([config.activations.at(-1) || "tanh"]),
}));
$("remove-layer").addEventListener("click", () => send({
  hidden: config.hidden.slice(0, -1), activations: config.activations.slice(0, -1),
}));
const number = (id) => () => send({ [id]: Number($(id).value === "" ? NaN : $(id).value) });
for (const id of ["lr", "reg_rate", "batch_size"]) $(id).addEventListener("change", number(id));
for (const id of ["optimizer", "regularization", "loss"]) $(id).addEventListener("change", () => send({ [id]: $(id).value }));
$("dataset").addEventListener("change", () => {
  const name = $("dataset").value, regression = ["plane", "multi-gaussian"].includes(name);
  send({ dataset: name, loss: name === "user" ? null : regression ? "mse" : "binary_crossentropy" });
});
$("ratio").addEventListener("change", () => send({ ratio: Number($("ratio").value) / 100 }));
$("noise").addEventListener("change", () => send({ noise: Number($("noise").value) / 100 }));
$("show-test").addEventListener("change", () => state && drawOutput());
$("gradient-view").addEventListener("change", () => state && drawNetwork());
document.addEventListener("keydown", (event) => {
  if (event.target.matches("input, select, textarea")) return;
  if (event.key === " ") { event.preventDefault(); $("play").click(); }
  if (event.key === "s") $("step").click();
  if (event.key === "b") $("batch").click();
  if (event.key === "r") $("reset").click();
});

// the links follow the neurons when the layout changes (a panel opens, a resize)
new ResizeObserver(() => state && drawLinks(Array.from($("columns").children))).observe($("net"));

// -- lessons and projectors: ?hide=a,b hides controls, ?large=1 enlarges the text -----
// Each name hides the control with that id (its label too); a few name groups.
const HIDEABLE = {
  reset: ["reset"], play: ["play"], step: ["step"], batch: ["batch"], fast: ["fast"],
  lr: ["lr"], optimizer: ["optimizer"], loss: ["loss"], regularization: ["regularization", "reg_rate"],
  "link-picker": ["link-picker", "link-picked"],
  batch_size: ["batch_size"], dataset: ["dataset"], ratio: ["ratio"], noise: ["noise"],
  regenerate: ["regenerate"], "show-test": ["show-test"], "gradient-view": ["gradient-view"],
  export: ["export"], "large-text": ["large-text"], upload: ["upload"],
  layers: ["add-layer", "remove-layer"], // and the neuron + / − buttons
  activations: [], features: [], // the per-layer selects; the feature toggles
};
const address = new URLSearchParams(location.search);
const hidden = (address.get("hide") || "").split(",").map((x) => x.trim()).filter(Boolean);
function applyHide() {
  for (const name of hidden) {
    for (const id of HIDEABLE[name] || []) {
      const element = $(id);
      if (element) (element.closest("label") || element).hidden = true;
    }
  }
  const columns = $("columns");
  if (hidden.includes("layers")) columns.querySelectorAll(".layer-head button").forEach((b) => { b.hidden = true; });
  if (hidden.includes("activations")) columns.querySelectorAll(".layer-head select").forEach((s) => { s.disabled = true; });
  if (hidden.includes("features")) columns.querySelectorAll(".feature button").forEach((b) => { b.disabled = true; });
}
function setLarge(on) {
  document.body.classList.toggle("large", on);
  $("large-text").checked = on;
  const query = new URLSearchParams(location.search);
  if (on) query.set("large", "1"); else query.delete("large");
  history.replaceState(null, "", location.pathname + "?" + query.toString() + location.hash);
}
$("large-text").addEventListener("change", () => { setLarge($("large-text").checked); state && drawNetwork(); });
const unknown = hidden.filter((name) => !(name in HIDEABLE));
if (unknown.length) say(`hide= names unknown controls ${unknown.join(", ")}; known: ${Object.keys(HIDEABLE).join(", ")}`);
applyHide();
if (address.get("large") === "1") setLarge(true);

// -- the live stream ------------------------------------------------------------------
function sharedSettings() {
  try { return location.hash.length > 1 ? JSON.parse(decodeURIComponent(location.hash.slice(1))) : null; }
  catch (error) { say("the settings in the address are not readable; using the current ones"); return null; }
}
const shared = sharedSettings();
api("/api/state").then((snapshot) => {
  show(snapshot);
  if (shared && JSON.stringify(shared) !== JSON.stringify(snapshot.config)) send(shared);
}).catch((error) => say(error.message));
window.addEventListener("hashchange", () => { // settings pasted into the address
  const settings = sharedSettings();
  if (settings && config && JSON.stringify(settings) !== JSON.stringify(config)) send(settings);
});
const stream = new EventSource(`/api/stream?token=${encodeURIComponent(token)}`);
stream.addEventListener("state", (event) => show(JSON.parse(event.data)));
stream.onerror = () => say("the connection to the playground server was lost; it retries");
stream.onopen = () => { if ($("message").textContent.startsWith("the connection")) say(""); };
