// workbench.test.cjs - the workbench in a real browser (Debian's Chromium,
// headless, driven by playwright-core), against the page served on
// 127.0.0.1: it loads and reports ready, draws, agrees with `dmc eval`, takes
// real mouse drags on the sliders, downloads the header `dmc export` writes
// (which compiles as C99), survives a malformed model file, keeps its
// state in the URL, and its budget panel answers what `dmc search` answers
// (and stops on Cancel).
//
// Run by tests/browser/run.sh (CTest test "browser"); needs DMC_WEB_ROOT,
// DMC_CLI, DMC_TEST_OUT and MNIST_DIR.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('./helpers.cjs');

const ROOT = process.env.DMC_WEB_ROOT, DMC = process.env.DMC_CLI, OUT = process.env.DMC_TEST_OUT;
const MNIST = process.env.MNIST_DIR;
const MODEL = path.join(h.REPO, 'assets/lenet5.json');

let server, browser, page;

test.before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  server = await h.startServer(ROOT);
  browser = await h.launch();
  page = await h.openPage(browser, server.url);
});

test.after(async () => {
  if (browser) await browser.close();
  if (server) server.stop();
});

test('the page loads, reports ready and draws the workbench', async () => {
  const s = await h.waitFinal(page, 180000);
  assert.equal(s.ready, true);
  assert.equal(s.model, 'lenet5');
  assert.equal(s.images_evaluated, 10000);
  assert.ok(s.flash_bytes > 0 && s.peak_ram_bytes > 0, 'flash and RAM reported');
  assert.equal(s.layers.length, 5);
  await page.waitForTimeout(300);
  const shot = path.join(OUT, 'workbench.png');
  const png = await page.screenshot({ path: shot });
  // Not blank: count the distinct colours and the pixels that differ from
  // the background, in the page itself (it decodes PNG).
  const stats = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width, c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let differ = 0;
    for (let i = 0; i < d.length; i += 4) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 30) differ++;
    }
    return { colours: colours.size, differ, total: d.length / 4 };
  }, png.toString('base64'));
  console.log(`screenshot ${shot}: ${stats.colours} colours, ${stats.differ} of ${stats.total} pixels off the background`);
  assert.ok(stats.colours > 50, 'the canvas shows many colours');
  assert.ok(stats.differ > stats.total * 0.05, 'the canvas is not blank');
});

test('the float accuracy equals dmc eval\'s', async () => {
  const s = await h.waitFinal(page);
  const cli = JSON.parse(execFileSync(DMC, ['eval', '--model', MODEL, '--mnist', MNIST, '--json'], { encoding: 'utf8' }));
  assert.equal(s.float_accuracy, cli.float_accuracy);
  assert.equal(s.accuracy, cli.accuracy, 'the default (8-bit) accuracy too');
  assert.equal(s.flash_bytes, cli.flash_bytes);
  assert.equal(s.peak_ram_bytes, cli.peak_ram_bytes);
});

test('a real mouse drag on a keep slider and on a bit-width slider changes config and accuracy', async () => {
  const before = await h.waitFinal(page);
  // conv2's keep from 1 (right end) to about a fifth.
  await h.dragWidget(page, 'conv2 keep', 0.99, 0.15);
  const afterKeep = await h.waitState(page, (s) => s.config.layers.conv2 && s.config.layers.conv2.keep < 0.5 &&
                                                  s.images_evaluated === 10000 && !s.busy, 120000, 'conv2 keep');
  assert.ok(afterKeep.accuracy !== before.accuracy, `accuracy moved: ${before.accuracy} -> ${afterKeep.accuracy}`);
  assert.ok(afterKeep.flash_bytes < before.flash_bytes, 'flash shrank');
  const conv2 = afterKeep.layers.find((l) => l.name === 'conv2');
  assert.ok(conv2.channels_kept < 16, 'conv2 kept fewer channels');
  // fc1's bit width from 8 to 2 (the slider's left stop).
  await h.dragWidget(page, 'fc1 bits', 0.66, 0.0);
  const afterBits = await h.waitState(page, (s) => s.config.layers.fc1 && s.config.layers.fc1.bits === 2 &&
                                                  s.images_evaluated === 10000 && !s.busy, 120000, 'fc1 bits');
  assert.ok(afterBits.accuracy !== afterKeep.accuracy || afterBits.flash_bytes < afterKeep.flash_bytes);
  assert.ok(afterBits.flash_bytes < afterKeep.flash_bytes, 'fc1 at 2 bits takes less flash');
  console.log(`drag: accuracy ${before.accuracy} -> ${afterKeep.accuracy} (conv2 keep ${afterKeep.config.layers.conv2.keep})` +
              ` -> ${afterBits.accuracy} (fc1 2-bit); first estimate shown after ${afterBits.timing.shown_first_ms.toFixed(0)} ms`);
});

test('Download header gives the bytes dmc export writes, and they compile as C99', async () => {
  page.evaluate(() => window.dmc.setConfig({ default: { bits: 4 }, layers: { conv2: { keep: 0.5 }, fc1: { keep: 0.5 } } }));
  await h.waitFinal(page);
  // Download config, then Download header, with the mouse on the buttons.
  const [configDl] = await Promise.all([page.waitForEvent('download'), h.clickWidget(page, 'Download config')]);
  assert.equal(configDl.suggestedFilename(), 'lenet5.config.json');
  const configPath = path.join(OUT, 'lenet5.config.json');
  await configDl.saveAs(configPath);
  // The promise: the page's accuracy for this pruned 4-bit config is the
  // engine's (and so the header's), to the image.
  const pruned = await h.state(page);
  const cliPruned = JSON.parse(execFileSync(DMC, ['eval', '--model', MODEL, '--config', configPath, '--mnist', MNIST, '--json'],
                                            { encoding: 'utf8' }));
  assert.equal(pruned.accuracy, cliPruned.accuracy, 'the pruned 4-bit accuracy equals dmc eval\'s');
  assert.equal(pruned.flash_bytes, cliPruned.flash_bytes);
  const [headerDl] = await Promise.all([page.waitForEvent('download', { timeout: 300000 }),
                                        h.clickWidget(page, 'Download header')]);
  assert.equal(headerDl.suggestedFilename(), 'lenet5.h');
  const headerPath = path.join(OUT, 'lenet5.h');
  await headerDl.saveAs(headerPath);

  const cliPath = path.join(OUT, 'cli_lenet5.h');
  execFileSync(DMC, ['export', '--model', MODEL, '--config', configPath, '--mnist', MNIST, '-o', cliPath]);
  const browserBytes = fs.readFileSync(headerPath), cliBytes = fs.readFileSync(cliPath);
  assert.ok(browserBytes.equals(cliBytes), `the browser's header (${browserBytes.length} bytes) differs from dmc export's (${cliBytes.length})`);

  const main = path.join(OUT, 'use_header.c');
  fs.writeFileSync(main, '#define LENET5_IMPLEMENTATION\n#include "lenet5.h"\n' +
                         'int main(void) { static const float x[LENET5_INPUT_SIZE]; return lenet5_predict(x) < 0; }\n');
  execFileSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-I', OUT, '-c', main, '-o', path.join(OUT, 'use_header.o')]);

  // A float layer cannot go to the header: the app says why.
  page.evaluate(() => window.dmc.setConfig({ layers: { conv1: { bits: 32 } } }));
  await h.waitFinal(page);
  const refused = await page.evaluate(() => window.dmc.downloadHeader().then(() => 'downloaded', (e) => e.message));
  assert.match(refused, /float/);
  const s = await h.state(page);
  assert.match(s.error, /float/, 'the message is shown in the app');
});

test('a malformed model file shows an error and the app keeps working', async () => {
  await page.setInputFiles('#model-file', { name: 'broken.json', mimeType: 'application/json',
                                            buffer: Buffer.from('{"format": "dmc-model", "layers": [ {') });
  const s = await h.waitState(page, (st) => /broken\.json/.test(st.error), 30000, 'the error message');
  assert.equal(s.model, 'lenet5', 'the loaded model stays');
  await page.screenshot({ path: path.join(OUT, 'bad-model.png') });
  // Still working: a new config evaluates.
  await page.evaluate(() => window.dmc.setConfig({ default: { bits: 8 }, layers: { fc2: { bits: 4 } } }));
  const after = await h.waitFinal(page);
  assert.equal(after.config.layers.fc2.bits, 4);
  assert.ok(after.accuracy > 0.9);
  // A file that parses but is not a model is refused the same way.
  await page.setInputFiles('#model-file', { name: 'not-a-model.json', mimeType: 'application/json',
                                            buffer: Buffer.from('{"hello": 1}') });
  await h.waitState(page, (st) => /not-a-model\.json/.test(st.error), 30000, 'the second error');
  // Issue 11: a valid-looking model of 2.2 G MACs per inference is refused
  // at load, as dmc refuses it, instead of freezing the worker.
  const heavy = { format: 'dmc-model', version: 1, name: 'heavy',
                  input: { channels: 1, height: 28, width: 28 },
                  layers: [{ name: 'c1', type: 'conv2d', in_channels: 1, out_channels: 64, kernel: 64,
                             padding: 63, weight: Buffer.alloc(4 * 64 * 64 * 64).toString('base64') },
                           { name: 'p', type: 'maxpool2d', kernel: 64 }, { name: 'f', type: 'flatten' },
                           { name: 'l', type: 'linear', in_features: 64, out_features: 10,
                             weight: Buffer.alloc(4 * 640).toString('base64') }] };
  await page.setInputFiles('#model-file', { name: 'heavy.json', mimeType: 'application/json',
                                            buffer: Buffer.from(JSON.stringify(heavy)) });
  const refused = await h.waitState(page, (st) => /heavy\.json/.test(st.error), 30000, 'the MAC limit');
  assert.match(refused.error, /2,170,814,464 MACs per inference by layer 'c1' \(conv2d\) exceed the limit of 268,435,456/);
  assert.equal(refused.model, 'lenet5', 'the loaded model stays');
});

test('the URL fragment keeps the state: a reload or a shared link restores it', async () => {
  const config = { default: { bits: 4 }, layers: { conv1: { bits: 8 }, fc1: { keep: 0.4, bits: 2 } } };
  await page.evaluate((c) => window.dmc.setConfig(c), config);
  const s = await h.waitFinal(page);
  const url = page.url();
  assert.match(url, /#model=lenet5&config=/);
  const other = await h.openPage(browser, url);
  const restored = await h.waitFinal(other);
  assert.deepEqual(restored.config, s.config);
  assert.equal(restored.accuracy, s.accuracy);
  assert.equal(restored.flash_bytes, s.flash_bytes);
  // And reloading the page itself.
  await other.reload();
  await other.waitForFunction(() => window.Module && window.Module.calledRun);
  const reloaded = await h.waitFinal(other);
  assert.deepEqual(reloaded.config, s.config);
  await other.context().close();
});

// The dmc search options the app says it used, as the test builds them
// from the panel's defaults: the same search on both sides.
const searchArgs = (flash, d) => ['--flash', String(flash), '--bits', d.bits.join(','), '--keep', d.keeps.join(','),
                                  '--subset', String(d.subset), '--screen-calibration', String(d.screenCalibration),
                                  '--finalists', String(d.finalists)];

test('the budget panel (findBudget) gives dmc search\'s config for the same budget, and applies it on a click',
     async () => {
  await h.waitFinal(page);
  const defaults = await page.evaluate(() => window.dmc.budgetDefaults());
  const request = { flash: 20000, bits: defaults.bits, keeps: defaults.keeps, subset: defaults.subset };
  const load = os.loadavg()[0];
  const drawn = (await h.state(page)).timing.frames_drawn;
  const t0 = Date.now();
  const found = await page.evaluate((r) => window.dmc.findBudget(r), request);
  const pageMs = Date.now() - t0;
  const redraws = (await h.state(page)).timing.frames_drawn - drawn;
  console.log(`findBudget, LeNet-5, flash <= 20,000 bytes: full answer ${pageMs} ms after the call ` +
              `(${found.ms.toFixed(0)} ms in the app from request to answer; load average ${load.toFixed(1)} on ` +
              `${os.cpus().length} CPUs); ${found.evaluated} configs scored on ${found.subset_images} images, ` +
              `${found.confirmed} confirmed on ${found.test_images}; ${(100 * found.accuracy).toFixed(2)}% at ` +
              `${found.flash_bytes} bytes; ${redraws} frames drawn meanwhile (the progress bar); ` +
              `thread seconds: ${found.seconds.compressing.toFixed(1)} compressing, ` +
              `${found.seconds.screening.toFixed(1)} scoring on the subset, ` +
              `${found.seconds.confirming.toFixed(1)} on all images`);
  assert.deepEqual(found.cli_args, searchArgs(20000, defaults), 'the app states the options it used');

  const t1 = Date.now();
  const cli = JSON.parse(execFileSync(DMC, ['search', '--model', MODEL, '--mnist', MNIST, '--json',
                                            ...searchArgs(20000, defaults)], { encoding: 'utf8' }));
  console.log(`dmc search with the same options: ${Date.now() - t1} ms wall (loading MNIST included; ` +
              `load average ${os.loadavg()[0].toFixed(1)})`);
  assert.deepEqual(found.config, cli.best.config);
  assert.equal(found.accuracy, cli.best.accuracy);
  assert.equal(found.flash_bytes, cli.best.flash_bytes);
  assert.equal(found.peak_ram_bytes, cli.best.peak_ram_bytes);
  assert.equal(found.macs, cli.best.macs);
  assert.equal(found.evaluated, cli.evaluated);
  assert.deepEqual(found.front, cli.front);
  assert.equal(found.scored.length, found.evaluated);
  assert.ok(found.flash_bytes <= 20000);

  // The answer is drawn on the size-versus-error chart (its tab comes
  // forward); a click on the chosen config puts it on the sliders.
  await h.waitState(page, (s) => !s.budget.running && s.budget.has_result, 10000, 'the panel to show the answer');
  await page.waitForTimeout(200);
  assert.ok(await page.evaluate(() => window.dmc.widgetRect('Budget chosen')), 'the chosen config is on the chart');
  await page.screenshot({ path: path.join(OUT, 'budget-front.png') });
  await h.clickWidget(page, 'Budget chosen');
  const applied = await h.waitState(page, (s) => s.images_evaluated === s.test_images && !s.busy &&
                                                 JSON.stringify(s.config) === JSON.stringify(cli.best.config),
                                    120000, 'the chosen config on the sliders');
  assert.equal(applied.accuracy, cli.best.accuracy);
  assert.equal(applied.flash_bytes, cli.best.flash_bytes);

  // A budget nothing meets: the engine's message.
  const refused = await page.evaluate(() => window.dmc.findBudget({ flash: 100 }).then(() => 'found', (e) => e.message));
  assert.match(refused, /no configuration meets flash <= 100 bytes/);
});

test('Cancel stops the budget solver', async () => {
  await h.waitFinal(page);
  // dmc search's own grid and subset: far longer than the panel's.
  const pending = page.evaluate(() => window.dmc.findBudget({ flash: 12000, keeps: [1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25],
                                                              subset: 2000 }).then(() => 'finished', (e) => e.message));
  const running = await h.waitState(page, (s) => s.budget.running && s.budget.done >= 3, 120000, 'the solver to start');
  // The button is there once a frame with it is built: while the solver
  // runs the page builds one at most twice a second.
  for (const until = Date.now() + 5000; Date.now() < until;) {
    if (await page.evaluate(() => window.dmc.widgetRect('Cancel'))) break;
    await page.waitForTimeout(50);
  }
  const t0 = Date.now();
  await h.clickWidget(page, 'Cancel');
  assert.equal(await pending, 'cancelled');
  const s = await h.waitState(page, (st) => !st.budget.running, 30000, 'the solver to stop');
  assert.equal(s.budget.status, 'Cancelled.');
  console.log(`cancelled at ${running.budget.done} of ${running.budget.total} scores (or a few later); ` +
              `the promise settled ${Date.now() - t0} ms after the click`);
});

test('the preset "Smallest within 1 point" is the budget solver with a 1-point drop', async () => {
  await h.waitFinal(page);
  await h.clickWidget(page, 'Smallest within 1 point');
  const s = await h.waitState(page, (st) => /^Found/.test(st.budget.status) && !st.budget.running, 300000,
                              'the preset\'s answer');
  const found = await page.evaluate(() => window.dmc.budgetResult());
  assert.equal(found.budget.max_drop_points, 1);
  assert.equal(found.budget.flash_bytes, null);
  assert.deepEqual(s.config, found.config, 'the answer is on the sliders');
  assert.ok(found.accuracy >= found.float_accuracy - 0.01, 'within 1 point on all test images');
  console.log(`preset: ${(100 * found.accuracy).toFixed(2)}% (float ${(100 * found.float_accuracy).toFixed(2)}%) at ` +
              `${found.flash_bytes} bytes, ${found.ms.toFixed(0)} ms from the click to the answer`);
});

test('another model from assets/ loads from the model list, with dmc eval\'s float accuracy', async (t) => {
  const s0 = await h.state(page);
  const other = s0.models.find((m) => m !== 'lenet5.json' && /lenet/.test(m) && !/compressed/.test(m));
  if (!other) return t.skip('no other MNIST model in assets/');
  const name = other.replace(/\.json$/, '');
  // The link names the model: the same path as choosing it in the list.
  await page.evaluate((m) => { location.hash = 'model=' + m; }, name);
  await h.waitState(page, (st) => st.model_file === name, 30000, 'the model to load');
  const s = await h.waitFinal(page, 300000);
  const cli = JSON.parse(execFileSync(DMC, ['eval', '--model', path.join(h.REPO, 'assets', other), '--mnist', MNIST,
                                            '--json'], { encoding: 'utf8' }));
  assert.equal(s.float_accuracy, cli.float_accuracy);
  assert.equal(s.accuracy, cli.accuracy);
  assert.equal(s.flash_bytes, cli.flash_bytes);
  console.log(`${name}: float ${s.float_accuracy}, 8-bit ${s.accuracy}, flash ${s.flash_bytes} bytes`);
});

// Issue 10: a model of one's own, as torch.onnx.export writes it (made here,
// never committed), opened in the page with its default (MNIST)
// normalisation, scores what `dmc eval --model FILE.onnx --mean 0.1307 --std
// 0.3081` reports and downloads the header `dmc export` writes for it.
const ONNX_NET = `
import sys, torch, torch.nn as nn
torch.manual_seed(3)
class Mine(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU6())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, 2, 1, groups=8), nn.ReLU6(), nn.Conv2d(8, 16, 1), nn.ReLU())
        self.head = nn.Linear(16, 10)
    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.block(self.stem(x)), 1)
        return self.head(torch.flatten(x, 1))
torch.onnx.export(Mine().eval(), torch.zeros(1, 1, 28, 28), sys.argv[1], opset_version=13)
`;

test('an ONNX file opens with MNIST\'s normalisation, scores as dmc eval and downloads dmc export\'s header', async () => {
  const onnx = path.join(OUT, 'mine.onnx');
  execFileSync(process.env.PYTHON || '/usr/bin/python3', ['-c', ONNX_NET, onnx], { stdio: 'ignore' });
  await page.setInputFiles('#model-file', onnx);
  await h.waitState(page, (st) => st.model_file === 'mine', 30000, 'the ONNX model to load');
  const s = await h.waitFinal(page, 300000);
  const normalisation = ['--mean', '0.1307', '--std', '0.3081'];
  const cli = JSON.parse(execFileSync(DMC, ['eval', '--model', onnx, ...normalisation, '--mnist', MNIST, '--json'],
                                      { encoding: 'utf8' }));
  assert.equal(s.float_accuracy, cli.float_accuracy);
  assert.equal(s.accuracy, cli.accuracy);
  assert.equal(s.flash_bytes, cli.flash_bytes);
  const [headerDl] = await Promise.all([page.waitForEvent('download', { timeout: 300000 }),
                                        h.clickWidget(page, 'Download header')]);
  assert.equal(headerDl.suggestedFilename(), 'mine.h');
  const headerPath = path.join(OUT, 'mine.h'), cliPath = path.join(OUT, 'cli_mine.h');
  await headerDl.saveAs(headerPath);
  execFileSync(DMC, ['export', '--model', onnx, ...normalisation, '--mnist', MNIST, '-o', cliPath]);
  assert.ok(fs.readFileSync(headerPath).equals(fs.readFileSync(cliPath)), 'the header is dmc export\'s');
  console.log(`mine.onnx: float ${s.float_accuracy}, 8-bit ${s.accuracy}, flash ${s.flash_bytes} bytes`);
});
