// bench.cjs - the workbench's speed in headless Chromium (a benchmark, not a
// timed test): for a series of real slider drags on LeNet-5, how long after
// the slider's release the page first shows an updated accuracy, and the
// full 10,000-image result, and how long frames take meanwhile.
//
//   NODE_PATH=build-web/node/node_modules node tests/browser/bench.cjs build-web/www [--json OUT]
//
// Timings come from the app (state().timing: request = release, measured at
// the frame that first draws the figure) and, independently, from
// requestAnimationFrame in the page (the longest gap between frames while
// the evaluation runs).
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const h = require('./helpers.cjs');

const root = process.argv[2] || 'build-web/www';
const jsonOut = process.argv.indexOf('--json') > 0 ? process.argv[process.argv.indexOf('--json') + 1] : null;

// Each move: a widget and the drag, as fractions of its width. A drag
// evaluates the values it passes, as a person's does; a click (from === to)
// changes the value and releases in the same frame: nothing is known before
// the release.
const MOVES = [
  ['fc1 bits', 0.66, 0.33, 'fc1 8 -> 4 bits'],
  ['fc1 keep', 0.99, 0.5, 'fc1 keep 1 -> 0.5'],
  ['fc2 bits', 0.66, 0.33, 'fc2 8 -> 4 bits'],
  ['conv2 keep', 0.99, 0.6, 'conv2 keep 1 -> 0.6'],
  ['conv2 bits', 0.66, 0.33, 'conv2 8 -> 4 bits'],
  ['conv1 bits', 0.66, 0.33, 'conv1 8 -> 4 bits'],
  ['fc3 bits', 0.66, 0.0, 'fc3 8 -> 2 bits'],
  ['fc1 bits', 0.33, 0.66, 'fc1 4 -> 8 bits'],
  ['fc1 keep', null, 0.3, 'click: fc1 keep 0.3'],
  ['fc2 bits', null, 0.0, 'click: fc2 2 bits'],
  ['conv2 keep', null, 0.8, 'click: conv2 keep 0.8'],
  ['conv2 bits', null, 0.66, 'click: conv2 8 bits'],
  ['conv1 keep', null, 0.5, 'click: conv1 keep 0.5'],
  ['fc3 bits', null, 0.33, 'click: fc3 4 bits'],
];

(async () => {
  const server = await h.startServer(root);
  const browser = await h.launch();
  const page = await h.openPage(browser, server.url);
  const t0 = Date.now();
  await h.waitFinal(page, 300000);
  const loaded = Date.now() - t0;
  // Frame gaps measured by the page itself.
  await page.evaluate(() => {
    window.gaps = [];
    let last = performance.now();
    const tick = (t) => { window.gaps.push(t - last); last = t; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const rows = [];
  for (const [widget, from, to, what] of MOVES) {
    const before = JSON.stringify((await h.state(page)).config);
    await page.evaluate(() => { window.gaps = []; });
    if (from === null) {
      const r = await page.evaluate((l) => window.dmc.widgetRect(l), widget);
      await page.mouse.click(r.x + 4 + (r.width - 8) * to, r.y + r.height / 2);
    } else {
      await h.dragWidget(page, widget, from, to);
    }
    // A move that leaves the config as it was (the value was there
    // already, or a slow frame lost the press) has nothing to time.
    const changed = await h.waitState(page, (st) => JSON.stringify(st.config) !== before, 10000, 'a change')
      .then(() => true, () => false);
    if (!changed) {
      console.error(`${what}: the config did not change; not timed`);
      continue;
    }
    const s = await h.waitFinal(page, 120000);
    // Where the move landed (a drag ends where the mouse is released).
    const [layer, field] = widget.split(' ');
    const layerConfig = s.config.layers[layer] || {};
    const landed = field in layerConfig ? layerConfig[field] : s.config.default[field];
    await page.waitForTimeout(100);
    const gaps = await page.evaluate(() => window.gaps);
    const t = s.timing;
    rows.push({ move: `${what} (${landed})`, accuracy: s.accuracy, compress_ms: t.compress_ms, first_ms: t.shown_first_ms,
                first_images: t.shown_first_images, estimate: t.first_kind, full_ms: t.shown_full_ms,
                resumed_at_step: t.resumed_at_step, frame_max_ms: Math.max(...gaps),
                frame_mean_ms: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length) });
  }
  const median = (k, sel = () => true) => {
    const v = rows.filter(sel).map((r) => r[k]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  console.log(`headless Chromium, ${os.cpus().length} cores (load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}), ` +
              `LeNet-5, 10,000 test images; page ready with the float and 8-bit results after ${loaded} ms`);
  console.log('move (value reached)            accuracy  compress  first estimate      full result  resumed  frame max/mean');
  for (const r of rows)
    console.log(`${r.move.padEnd(31)} ${(100 * r.accuracy).toFixed(2).padStart(7)}%  ${r.compress_ms.toFixed(0).padStart(5)} ms` +
                `  ${r.first_ms.toFixed(0).padStart(5)} ms (${String(r.first_images).padStart(5)} img)  ${r.full_ms.toFixed(0).padStart(6)} ms` +
                `  step ${String(r.resumed_at_step).padStart(2)}  ${r.frame_max_ms.toFixed(0).padStart(4)} / ${r.frame_mean_ms.toFixed(1)} ms`);
  for (const [name, sel] of [['drags', (r) => !r.move.startsWith('click')], ['clicks', (r) => r.move.startsWith('click')]])
    console.log(`median of the ${name}: first estimate ${median('first_ms', sel).toFixed(0)} ms, full result ` +
                `${median('full_ms', sel).toFixed(0)} ms, compress ${median('compress_ms', sel).toFixed(0)} ms, ` +
                `longest frame ${median('frame_max_ms', sel).toFixed(0)} ms, mean frame ${median('frame_mean_ms', sel).toFixed(1)} ms`);
  // The worst case: a conv1 change recompresses and re-evaluates the whole network.
  const conv1 = rows.filter((r) => r.move.includes('conv1'));
  if (conv1.length) {
    const worst = conv1.reduce((a, b) => (b.full_ms > a.full_ms ? b : a));
    console.log(`worst conv1 change: ${worst.move}, full result ${worst.full_ms.toFixed(0)} ms ` +
                `(compress ${worst.compress_ms.toFixed(0)} ms)`);
  }
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ loaded_ms: loaded, rows }, null, 2));
  await browser.close();
  server.stop();
})().catch((e) => { console.error(e); process.exit(1); });
