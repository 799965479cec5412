#!/usr/bin/env node
// Times ONNX Runtime (onnxruntime-node, CPU, one thread) on the MNIST test
// images, for comparison with `dmc bench`: once one image at a time, once in
// batches. Usually run by bench.sh; see README.md in this folder.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HELP = `usage: node ort_bench.mjs --onnx FILE --model-file MODEL.json --mnist DIR
                          [--runtime node|web] [--limit N] [--repeat R] [--batch B]
                          [--ort DIR] [--json]

Times ONNX Runtime on the MNIST test images (t10k-images-idx3-ubyte and
t10k-labels-idx1-ubyte, .gz or decompressed, read from DIR), on one
thread: onnxruntime-node (CPU execution provider, intraOpNumThreads 1,
interOpNumThreads 1, sequential execution) or onnxruntime-web (its
WebAssembly SIMD build in this Node.js, V8 as in Chromium, one wasm
thread), all graph optimisations.

The images are normalised as the model file's "input" object says,
(pixel / 255 - mean) / std in float32, before any timing starts; the timed
loops include making the input tensor, session.run() and the argmax. After
a warm-up, two runs are timed, each the best of R repetitions:
  single   one image per session.run(), over the first N images
  batch    B images per session.run() (the last batch may be smaller)
For each: microseconds per image, images per second and top-1 accuracy
(argmax of the logits, ties to the lowest index).

  --onnx FILE        the ONNX model: input "input" [batch, C, H, W] float32,
                     output "output" [batch, classes] (python -m dmc onnx)
  --model-file FILE  the dmc model file (JSON) the ONNX file was made from;
                     its "input" gives mean, std and the image shape
  --mnist DIR        the folder with the MNIST IDX files
  --runtime R        node (onnxruntime-node, the default) or web
                     (onnxruntime-web)
  --limit N          use the first N test images only (default all)
  --repeat R         repetitions of each timed run, the fastest counts
                     (default 3)
  --batch B          images per session.run() in the batch run (default 1000)
  --ort DIR          a folder whose node_modules holds the runtime's package
                     (default: normal resolution from this script, then
                     build/bench of this repository)
  --json             print one JSON object instead of a table
  --help             this text
`;

class UsageError extends Error {}

function fail(message, code = 1) {
  process.stderr.write(`ort_bench: ${message}\n`);
  process.exit(code);
}

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const valued = new Set(['--onnx', '--model-file', '--mnist', '--limit', '--repeat', '--batch', '--ort', '--runtime']);
  const opts = { json: false, help: false };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--help' || a === '-h') opts.help = true;
    else if (a === '--json') opts.json = true;
    else if (valued.has(a)) {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`${a} needs a value`);
      opts[a.slice(2)] = argv[++i];
    } else throw new UsageError(`unknown argument '${a}' (see --help)`);
  }
  return opts;
}

function positiveInt(opts, name, fallback, max) {
  const v = opts[name];
  if (v === undefined) return fallback;
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, not '${v}'`);
  return Number(v);
}

// ---------------------------------------------------------------- MNIST

// The bytes of `dir`/`name`, else of `dir`/`name`.gz, and the path read.
function readIdx(dir, name) {
  const plain = path.join(dir, name);
  const gz = plain + '.gz';
  if (fs.existsSync(plain)) return { data: fs.readFileSync(plain), file: plain };
  if (fs.existsSync(gz)) {
    let data;
    try {
      data = zlib.gunzipSync(fs.readFileSync(gz));
    } catch (e) {
      throw new Error(`IDX file '${gz}': truncated or corrupt gzip data (${e.message})`);
    }
    return { data, file: gz };
  }
  throw new Error(`IDX file '${plain}' not found (nor '${gz}')`);
}

function checkSize(data, expected, file, what) {
  if (data.length < expected)
    throw new Error(`IDX file '${file}' is truncated: ${what} needs ${expected} bytes, the file has ${data.length}`);
  if (data.length > expected)
    throw new Error(`IDX file '${file}' has ${data.length - expected} bytes after the ${what} its header announces`);
}

function loadImages(dir) {
  const { data, file } = readIdx(dir, 't10k-images-idx3-ubyte');
  if (data.length < 16) throw new Error(`IDX file '${file}' is truncated: no complete header`);
  const magic = data.readUInt32BE(0);
  if (magic !== 2051)
    throw new Error(`IDX file '${file}': magic number ${magic} is not that of an image file (2051)`);
  const count = data.readUInt32BE(4), rows = data.readUInt32BE(8), cols = data.readUInt32BE(12);
  if (count > 1e6 || rows < 1 || rows > 4096 || cols < 1 || cols > 4096)
    throw new Error(`IDX file '${file}': dimensions ${count} x ${rows} x ${cols} are out of range`);
  checkSize(data, 16 + count * rows * cols, file, `${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels: data.subarray(16), file };
}

function loadLabels(dir) {
  const { data, file } = readIdx(dir, 't10k-labels-idx1-ubyte');
  if (data.length < 8) throw new Error(`IDX file '${file}' is truncated: no complete header`);
  const magic = data.readUInt32BE(0);
  if (magic !== 2049)
    throw new Error(`IDX file '${file}': magic number ${magic} is not that of a label file (2049)`);
  const count = data.readUInt32BE(4);
  if (count > 1e6) throw new Error(`IDX file '${file}': ${count} labels is out of range`);
  checkSize(data, 8 + count, file, `${count} labels`);
  const labels = data.subarray(8);
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`IDX file '${file}': label ${bad} is ${labels[bad]}, not a digit 0-9`);
  return { count, labels, file };
}

// ---------------------------------------------------------------- model file

function loadInputSpec(modelFile) {
  let model;
  try {
    model = JSON.parse(fs.readFileSync(modelFile, 'utf8'));
  } catch (e) {
    throw new Error(`model file '${modelFile}': ${e.code === 'ENOENT' ? 'not found' : e.message}`);
  }
  const task = model?.task ?? 'classification';
  const dataset = model?.dataset ?? (task === 'classification' ? 'mnist' : 'sine');
  if (task !== 'classification' || dataset !== 'mnist')
    throw new Error(`model file '${modelFile}' is a ${task} model on ${dataset}; this benchmark times ` +
                    `MNIST classifiers only`);
  const input = model.input;
  if (!input || typeof input !== 'object') throw new Error(`model file '${modelFile}' has no "input" object`);
  for (const k of ['mean', 'std', 'channels', 'height', 'width'])
    if (typeof input[k] !== 'number' || !Number.isFinite(input[k]))
      throw new Error(`model file '${modelFile}': input.${k} is missing or not a number`);
  if (!(input.std > 0)) throw new Error(`model file '${modelFile}': input.std must be positive, not ${input.std}`);
  return { name: typeof model.name === 'string' ? model.name : path.basename(modelFile, '.json'), input };
}

// (pixel / 255 - mean) / std, each step rounded to float32 like the engine
// and python/dmc/mnist.py.
function normalise(pixels, n, size, input) {
  const f = Math.fround;
  const mean = f(input.mean), std = f(input.std);
  const lut = new Float32Array(256);
  for (let p = 0; p < 256; ++p) lut[p] = f(f(f(p / 255) - mean) / std);
  const out = new Float32Array(n * size);
  for (let i = 0; i < n * size; ++i) out[i] = lut[pixels[i]];
  return out;
}

// ---------------------------------------------------------------- onnxruntime

function loadOrt(ortDir, pkg) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bases = ortDir ? [path.resolve(ortDir)] : [here, path.resolve(here, '..', '..', 'build', 'bench')];
  for (const base of bases) {
    const require = createRequire(path.join(base, 'package.json'));
    try {
      return require(pkg);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(`'${pkg}'`)) throw e;
    }
  }
  throw new Error(`cannot find ${pkg} under ${bases.join(' or ')}; install it with ` +
                  `'npm install --ignore-scripts ${pkg}@1.30.0' in such a folder (bench.sh does)`);
}

// Index of the largest of the `classes` values at `offset`; ties go to the
// lowest index.
function argmax(logits, offset, classes) {
  let best = 0, bestValue = logits[offset];
  for (let c = 1; c < classes; ++c)
    if (logits[offset + c] > bestValue) { bestValue = logits[offset + c]; best = c; }
  return best;
}

// Runs the first `n` images through the session `batch` at a time; returns
// the number classified correctly.
async function runAll(ort, session, x, labels, n, batch, shape, classes) {
  const size = shape[0] * shape[1] * shape[2];
  let correct = 0;
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const tensor = new ort.Tensor('float32', x.subarray(start * size, (start + b) * size), [b, ...shape]);
    const out = (await session.run({ input: tensor })).output;
    if (out.dims.length !== 2 || out.dims[0] !== b || out.dims[1] !== classes)
      throw new Error(`output has shape [${out.dims}], expected [${b}, ${classes}]`);
    const logits = out.data;
    for (let i = 0; i < b; ++i) correct += argmax(logits, i * classes, classes) === labels[start + i] ? 1 : 0;
  }
  return correct;
}

async function timeRun(ort, session, x, labels, n, batch, shape, classes, repeat) {
  let best = Infinity, correct = 0;
  for (let r = 0; r < repeat; ++r) {
    const t0 = process.hrtime.bigint();
    correct = await runAll(ort, session, x, labels, n, batch, shape, classes);
    const t1 = process.hrtime.bigint();
    best = Math.min(best, Number(t1 - t0) / 1e3 / n);
  }
  return { us_per_image: best, images_per_second: 1e6 / best, accuracy: correct / n };
}

// ---------------------------------------------------------------- main

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
    if (opts.help) {
      process.stdout.write(HELP);
      return;
    }
    for (const k of ['onnx', 'model-file', 'mnist'])
      if (!opts[k]) throw new UsageError(`--${k} is required (see --help)`);
    opts.limit = positiveInt(opts, 'limit', 0, 100000000);
    opts.repeat = positiveInt(opts, 'repeat', 3, 1000);
    opts.batch = positiveInt(opts, 'batch', 1000, 100000);
    opts.runtime = opts.runtime ?? 'node';
    if (opts.runtime !== 'node' && opts.runtime !== 'web')
      throw new UsageError(`--runtime must be node or web, not '${opts.runtime}'`);
  } catch (e) {
    if (e instanceof UsageError) fail(e.message, 2);
    throw e;
  }

  if (!fs.existsSync(opts.onnx)) throw new Error(`ONNX file '${opts.onnx}' not found`);
  if (!fs.statSync(opts.mnist, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`MNIST folder '${opts.mnist}' not found`);
  const { name, input } = loadInputSpec(opts['model-file']);
  const images = loadImages(opts.mnist);
  const labels = loadLabels(opts.mnist);
  if (labels.count !== images.count)
    throw new Error(`${images.file} has ${images.count} images but ${labels.file} has ${labels.count} labels`);
  if (input.channels !== 1 || input.height !== images.rows || input.width !== images.cols)
    throw new Error(`the model takes ${input.channels}x${input.height}x${input.width} input, ` +
                    `the MNIST images are 1x${images.rows}x${images.cols}`);
  const n = opts.limit > 0 && opts.limit < images.count ? opts.limit : images.count;
  if (n === 0) throw new Error(`${images.file} holds no images`);
  const shape = [1, images.rows, images.cols];
  const x = normalise(images.pixels, n, images.rows * images.cols, input);

  const web = opts.runtime === 'web';
  const pkg = web ? 'onnxruntime-web' : 'onnxruntime-node';
  const ort = loadOrt(opts.ort, pkg);
  if (web) ort.env.wasm.numThreads = 1;
  let session;
  try {
    session = await ort.InferenceSession.create(opts.onnx, web ? {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    } : {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw new Error(`ONNX Runtime cannot load '${opts.onnx}': ${e.message}`);
  }
  if (!session.inputNames.includes('input') || !session.outputNames.includes('output'))
    throw new Error(`'${opts.onnx}' has inputs [${session.inputNames}] and outputs [${session.outputNames}]; ` +
                    `expected "input" and "output"`);
  // The number of classes, from one run.
  const probe = (await session.run({ input: new ort.Tensor('float32', x.subarray(0, shape[1] * shape[2]), [1, ...shape]) })).output;
  const classes = probe.dims[1];
  if (probe.dims.length !== 2 || !(classes >= 1)) throw new Error(`output has shape [${probe.dims}], expected [1, classes]`);

  // Warm-up, untimed: 500 single-image runs (cycling through the first n
  // images) and two batches.
  const batch = Math.min(opts.batch, n);
  for (let done = 0; done < 500; done += Math.min(n, 500 - done))
    await runAll(ort, session, x, labels.labels, Math.min(n, 500 - done), 1, shape, classes);
  for (let k = 0; k < 2; ++k) await runAll(ort, session, x, labels.labels, batch, batch, shape, classes);

  const runs = [];
  for (const [runName, b] of [['ort-single', 1], [`ort-batch${batch}`, batch]])
    runs.push({ name: runName, batch: b,
                ...(await timeRun(ort, session, x, labels.labels, n, b, shape, classes, opts.repeat)) });
  await session.release?.();

  const versions = ort.env?.versions ?? {};
  const version = (web ? versions.web : versions.node) ?? null;
  if (opts.json) {
    const result = {
      runtime: pkg, version, model: name, images: n,
      repeat: opts.repeat, threads: 1,
      runs: runs.map((r) => ({
        name: r.name, batch: r.batch, us_per_image: +r.us_per_image.toFixed(3),
        images_per_second: +r.images_per_second.toFixed(1), accuracy: +r.accuracy.toFixed(4),
      })),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  process.stdout.write(`${name}: ${pkg} ${version ?? '?'}, ${n} test images, one thread, ` +
                       `best of ${opts.repeat} runs\n\n`);
  process.stdout.write(`${'run'.padEnd(16)}${'us/image'.padStart(12)}${'images/s'.padStart(14)}${'accuracy'.padStart(11)}\n`);
  for (const r of runs)
    process.stdout.write(`${r.name.padEnd(16)}${r.us_per_image.toFixed(1).padStart(12)}` +
                         `${r.images_per_second.toFixed(0).padStart(14)}${(100 * r.accuracy).toFixed(2).padStart(10)}%\n`);
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
