#!/usr/bin/env node
// Prints one table from the JSON of `dmc bench --json` and of
// `ort_bench.mjs --json` (onnxruntime-node, and optionally onnxruntime-web).
// Used by bench.sh:
//   node table.mjs DMC.json ORT.json [ORT_WEB.json]

import fs from 'node:fs';

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

function load(file, what) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`cannot read the ${what} results '${file}': ${e.message}`);
  }
  if (!doc || !Array.isArray(doc.runs) || doc.runs.length === 0) fail(`the ${what} results '${file}' have no runs`);
  for (const r of doc.runs)
    if (!(r.us_per_image > 0) || typeof r.accuracy !== 'number')
      fail(`the ${what} results '${file}': run '${r.name}' lacks us_per_image or accuracy`);
  return doc;
}

if (process.argv.length !== 4 && process.argv.length !== 5) fail('usage: node table.mjs DMC.json ORT.json [ORT_WEB.json]');
const dmc = load(process.argv[2], 'dmc bench');
const ort = load(process.argv[3], 'ONNX Runtime');
const ortWeb = process.argv.length === 5 ? load(process.argv[4], 'onnxruntime-web') : null;
if (ortWeb && ortWeb.images !== dmc.images) fail(`dmc bench timed ${dmc.images} images but onnxruntime-web ${ortWeb.images}`);

if (dmc.images !== ort.images) fail(`dmc bench timed ${dmc.images} images but ONNX Runtime ${ort.images}`);
const ours = dmc.runs.find((r) => r.name === 'float');
const ortSingle = ort.runs.find((r) => r.batch === 1);
const ortBatched = ort.runs.find((r) => r.batch > 1);
if (!ours) fail("the dmc bench results have no 'float' run");
if (!ortSingle) fail('the ONNX Runtime results have no one-image-at-a-time run');
if (!ortBatched) fail('the ONNX Runtime results have no batched run');

const label = (r) => (r.name === 'float' ? 'dmc float (reference)' : `dmc ${r.name}`);
const rows = [
  ...dmc.runs.map((r) => ({ label: label(r), ...r })),
  ...ort.runs.map((r) => ({
    label: r.batch === 1 ? 'ORT float, 1 at a time' : `ORT float, batch ${r.batch}`, ...r,
  })),
  ...(ortWeb ? ortWeb.runs : []).map((r) => ({
    label: r.batch === 1 ? 'ORT-web float, 1 at a time' : `ORT-web float, batch ${r.batch}`, ...r,
  })),
];

// "2.6x": that many times faster than `base`; below 1, two decimals ("0.21x").
const ratio = (base, r) => {
  const x = base.us_per_image / r.us_per_image;
  return `${x.toFixed(x < 1 ? 2 : 1)}x`;
};
const head = ['run', 'us/image', 'images/s', 'accuracy', 'vs dmc float', 'vs ORT 1-at-a-time', 'vs ORT batched'];
const body = rows.map((r) => [
  r.label, r.us_per_image.toFixed(1), Math.round(1e6 / r.us_per_image).toString(),
  `${(100 * r.accuracy).toFixed(2)}%`, ratio(ours, r), ratio(ortSingle, r), ratio(ortBatched, r),
]);
const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
const line = (cells) => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');

const out = [];
out.push(`model ${dmc.model}: ${dmc.images} MNIST test images, best of ${dmc.repeat} runs; ` +
         `dmc kernels ${dmc.kernels ?? '?'}; ` +
         `ONNX Runtime = onnxruntime-node ${ort.version ?? '?'}, CPU` +
         (ortWeb ? `; ORT-web = onnxruntime-web ${ortWeb.version ?? '?'}, WebAssembly SIMD in Node.js` : ''));
out.push('');
out.push(line(head));
out.push(widths.map((w) => '-'.repeat(w)).join('  '));
for (const b of body) out.push(line(b));
out.push('');
out.push('"vs" columns: speed relative to that run; 2.0x = twice as fast, 0.50x = half as fast.');
out.push('dmc runs from uint8 pixels to the output, one image at a time or in batches (each step over');
out.push('the whole batch before the next). ONNX Runtime gets images normalised before timing; its');
out.push('timed loop holds tensor creation, run() and argmax.');
if (Math.abs(ours.accuracy - ortSingle.accuracy) * dmc.images > 2)
  out.push(`NOTE: the float accuracies differ (dmc ${(100 * ours.accuracy).toFixed(2)}%, ` +
           `ORT ${(100 * ortSingle.accuracy).toFixed(2)}%): the two may not run the same model.`);
process.stdout.write(out.join('\n') + '\n');
