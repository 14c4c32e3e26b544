// The page of `python -m gan_keras export RUN --format web`: a grid of new faces, one face large with a
// slider per direction, and a self-check against the images Keras drew for a few latents.
//
// window.GAN (generator.js) holds the facts the exporter wrote: the ONNX graphs (base64), the latent
// size, the directions and the check cases. A face is drawn as the package draws it in Python:
//   z (and a class) -> [mapping -> w, truncated towards the mean w]   (style-based generators only)
//   latent + sum over sliders of amount * std * direction -> synthesis -> image in [-1, 1]
"use strict";

const gan = window.GAN;
const GRID = 12; // faces in the grid
const sessions = {}; // part name -> ort.InferenceSession
const state = { seeds: [], chosen: 0, label: 0, psi: 1, amounts: new Float32Array(gan.directions.vectors.length) };

// ---------------------------------------------------------------------------------------------
// Numbers

function bytesOf(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function floatsOf(base64) {
  return new Float32Array(bytesOf(base64).buffer);
}

// A seeded N(0, 1) vector (mulberry32 and Box-Muller): seed s draws the same face on every machine.
function gaussian(seed, n) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Drawing

// Images (N*H*W*C floats in [-1, 1]) for n latents `z` (n*latent_dim), one class per image,
// slider `amounts` (one list for all) and truncation `psi`.
async function draw(z, labels, amounts, psi) {
  const n = labels.length;
  const classFeed = () => new ort.Tensor("int32", Int32Array.from(labels), [n]);
  let latent = Float32Array.from(z);
  let size = gan.latent_dim;
  if (gan.models.mapping) {
    const feeds = { z: new ort.Tensor("float32", latent, [n, size]) };
    if (gan.models.mapping.inputs.includes("label")) feeds.label = classFeed();
    latent = Float32Array.from(await runPart("mapping", feeds));
    size = gan.w_dim;
    for (let i = 0; i < n; i++) {
      const centre = gan.w_avg[gan.w_avg.length > 1 ? labels[i] : 0];
      for (let j = 0; j < size; j++) {
        latent[i * size + j] = centre[j] + psi * (latent[i * size + j] - centre[j]);
      }
    }
  }
  const { vectors, std } = gan.directions;
  for (let k = 0; k < amounts.length; k++) {
    if (!amounts[k]) continue;
    const step = amounts[k] * std[k];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < size; j++) latent[i * size + j] += step * vectors[k][j];
    }
  }
  const synthesis = gan.models.synthesis;
  const feeds = { [synthesis.inputs[0]]: new ort.Tensor("float32", latent, [n, size]) };
  if (synthesis.inputs.includes("label")) feeds.label = classFeed();
  return runPart("synthesis", feeds);
}

async function runPart(name, feeds) {
  const session = sessions[name];
  const result = await session.run(feeds);
  return result[session.outputNames[0]].data;
}

// Paint image `index` of `images` onto `canvas` at its own size (the page's CSS scales it up).
function paint(canvas, images, index) {
  const [height, width, channels] = gan.image_shape;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(width, height);
  const offset = index * height * width * channels;
  for (let p = 0; p < height * width; p++) {
    for (let c = 0; c < 3; c++) {
      const value = images[offset + p * channels + (channels === 1 ? 0 : c)];
      pixels.data[p * 4 + c] = Math.round(Math.min(Math.max((value + 1) * 127.5, 0), 255));
    }
    pixels.data[p * 4 + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}

function latentsOf(seeds) {
  const z = new Float32Array(seeds.length * gan.latent_dim);
  seeds.forEach((seed, i) => z.set(gaussian(seed, gan.latent_dim), i * gan.latent_dim));
  return z;
}

async function newFaces() {
  const first = Math.floor(Math.random() * 1e9);
  state.seeds = Array.from({ length: GRID }, (_, i) => first + i);
  state.chosen = 0;
  const labels = new Array(GRID).fill(state.label);
  const images = await draw(latentsOf(state.seeds), labels, [], state.psi);
  const grid = document.getElementById("grid");
  grid.querySelectorAll("canvas").forEach((canvas, i) => {
    paint(canvas, images, i);
    canvas.classList.toggle("chosen", i === 0);
  });
  await redraw();
}

// Draw the chosen face with the sliders; the time it took goes on <body data-draw-ms>.
async function redraw() {
  const started = performance.now();
  const images = await draw(latentsOf([state.seeds[state.chosen]]), [state.label], state.amounts, state.psi);
  paint(document.getElementById("large"), images, 0);
  document.body.dataset.drawMs = (performance.now() - started).toFixed(1);
  document.body.dataset.draws = String(Number(document.body.dataset.draws || 0) + 1);
}

// ---------------------------------------------------------------------------------------------
// Controls

function slider(name, min, max, step, value, onInput) {
  const controls = document.getElementById("controls");
  const label = document.createElement("label");
  const input = document.createElement("input");
  const shown = document.createElement("output");
  label.textContent = name;
  Object.assign(input, { type: "range", min, max, step, value });
  input.dataset.control = name;
  shown.textContent = Number(value).toFixed(1);
  input.addEventListener("input", () => {
    shown.textContent = Number(input.value).toFixed(1);
    onInput(Number(input.value));
    redraw();
  });
  controls.append(label, input, shown);
  return input;
}

function buildControls() {
  const grid = document.getElementById("grid");
  for (let i = 0; i < GRID; i++) {
    const canvas = document.createElement("canvas");
    canvas.addEventListener("click", () => {
      state.chosen = i;
      grid.querySelectorAll("canvas").forEach((c, j) => c.classList.toggle("chosen", j === i));
      redraw();
    });
    grid.append(canvas);
  }
  if (gan.class_names) {
    const controls = document.getElementById("controls");
    const label = document.createElement("label");
    const select = document.createElement("select");
    label.textContent = "class";
    select.dataset.control = "class";
    gan.class_names.forEach((name, i) => select.append(new Option(name, i)));
    select.addEventListener("change", () => {
      state.label = Number(select.value);
      newFaces();
    });
    controls.append(label, select, document.createElement("span"));
  }
  if (gan.models.mapping) {
    slider("truncation", 0, 1, 0.05, 1, (value) => (state.psi = value));
  }
  gan.directions.names.forEach((name, k) => slider(name, -3, 3, 0.1, 0, (value) => (state.amounts[k] = value)));
  document.getElementById("new-faces").addEventListener("click", newFaces);
  document.getElementById("reset").addEventListener("click", () => {
    state.amounts.fill(0);
    document.querySelectorAll("#controls input[type=range]").forEach((input) => {
      if (input.dataset.control === "truncation") return;
      input.value = 0;
      input.nextElementSibling.textContent = "0.0";
    });
    redraw();
  });
  document.getElementById("download").addEventListener("click", downloadPng);
}

// The large face as a PNG, four times its size.
function downloadPng() {
  const source = document.getElementById("large");
  const scaled = document.createElement("canvas");
  scaled.width = source.width * 4;
  scaled.height = source.height * 4;
  const context = scaled.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(source, 0, 0, scaled.width, scaled.height);
  const link = document.createElement("a");
  link.download = `face-${state.seeds[state.chosen]}.png`;
  link.href = scaled.toDataURL("image/png");
  link.click();
}

// ---------------------------------------------------------------------------------------------
// The self-check: the page draws the exporter's check cases and compares with Keras's images.

async function selfCheck() {
  let largest = 0;
  for (const check of gan.checks) {
    const images = await draw(floatsOf(check.z), [check.label], check.amounts, check.psi);
    const expected = floatsOf(check.image);
    for (let i = 0; i < expected.length; i++) largest = Math.max(largest, Math.abs(images[i] - expected[i]));
  }
  document.body.dataset.maxDiff = largest.toExponential(2);
  const line = document.getElementById("check");
  if (largest > gan.tolerance) {
    line.textContent = `This page draws ${gan.checks.length} check faces ${largest.toExponential(1)} away from ` +
      `what Keras drew (more than ${gan.tolerance}): the runtime here computes something else.`;
    line.className = "bad";
  } else {
    line.textContent = `Self-check: ${gan.checks.length} faces drawn here match Keras's to ` +
      `${largest.toExponential(1)} (largest difference of a pixel in [-1, 1]). ` +
      `onnxruntime-web ${gan.runtime_version}, exported from ${gan.run}.`;
  }
  return largest;
}

async function start() {
  const started = performance.now();
  document.getElementById("title").textContent = gan.title;
  document.getElementById("about").textContent = gan.about;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([ORT_WASM.glue], { type: "text/javascript" })) };
  ort.env.wasm.wasmBinary = bytesOf(ORT_WASM.wasm);
  for (const [name, part] of Object.entries(gan.models)) {
    sessions[name] = await ort.InferenceSession.create(bytesOf(part.onnx), { executionProviders: ["wasm"] });
  }
  buildControls();
  await newFaces();
  document.body.dataset.firstFacesMs = (performance.now() - started).toFixed(0);
  document.getElementById("status").textContent = "Click a face to edit it; move the sliders.";
  document.querySelectorAll("button").forEach((button) => (button.disabled = false));
  await selfCheck();
  document.body.dataset.state = "ready";
}

start().catch((error) => {
  const status = document.getElementById("status");
  status.textContent = `The generator could not start: ${error.message || error}`;
  status.className = "bad";
  document.body.dataset.state = "failed";
  document.body.dataset.error = String(error.message || error);
});
