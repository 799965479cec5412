// helpers.cjs - what the browser tests and the benchmark share: the local
// server (wasm/serve.py on 127.0.0.1, a free port), Debian's Chromium through
// playwright-core (never a downloaded browser), and waiting on window.dmc.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const { chromium } = require('playwright-core');

const REPO = process.env.DMC_REPO || path.resolve(__dirname, '../..');

// Headless Chromium with WebGL through SwiftShader (wasm/TOOLCHAIN.md).
const CHROMIUM_ARGS = [
  '--no-sandbox', '--use-gl=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
  '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // Keep rendering at full rate although nobody looks at the window.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

// Starts wasm/serve.py on a free port; resolves with {url, stop}.
function startServer(root) {
  return new Promise((resolve, reject) => {
    const python = process.env.PYTHON || '/usr/bin/python3';
    const proc = spawn(python, [path.join(REPO, 'wasm/serve.py'), root, '--port', '0'],
                       { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    process.on('exit', () => proc.kill()); // never leave a server behind
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve({ url: m[0], stop: () => proc.kill() });
    });
    proc.on('exit', (code) => reject(new Error('serve.py exited with ' + code + ': ' + out)));
  });
}

async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

async function openPage(browser, url, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('[page error]', e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/favicon|404/.test(m.text())) console.log('[console]', m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => window.dmc && window.Module && window.Module.calledRun, null,
                             { timeout: opts.timeout || 120000 });
  return page;
}

const state = (page) => page.evaluate(() => window.dmc.state());

// Waits until pred(state) holds; returns that state.
async function waitState(page, pred, timeout = 120000, what = 'condition') {
  const t0 = Date.now();
  for (;;) {
    const s = await state(page);
    if (pred(s)) return s;
    if (Date.now() - t0 > timeout) throw new Error('timed out waiting for ' + what + ': ' + JSON.stringify(s).slice(0, 600));
    await page.waitForTimeout(50);
  }
}

// The state once the current config's evaluation is final (all images).
const waitFinal = (page, timeout) =>
  waitState(page, (s) => s.ready && s.float_images_evaluated === s.test_images && s.test_images > 0 &&
                         s.images_evaluated === s.test_images && !s.busy, timeout, 'the full evaluation');

// A real mouse drag on a named widget, from one fraction of its width to
// another (0 = left end, 1 = right end).
async function dragWidget(page, label, from, to) {
  const r = await page.evaluate((l) => window.dmc.widgetRect(l), label);
  if (!r) throw new Error('no widget named ' + label);
  const y = r.y + r.height / 2;
  const x0 = r.x + 4 + (r.width - 8) * from, x1 = r.x + 4 + (r.width - 8) * to;
  await page.mouse.move(x0, y);
  await page.mouse.down();
  for (let i = 1; i <= 8; ++i) {
    await page.mouse.move(x0 + (x1 - x0) * i / 8, y);
    await page.waitForTimeout(20);
  }
  await page.mouse.up();
  return r;
}

async function clickWidget(page, label) {
  const r = await page.evaluate((l) => window.dmc.widgetRect(l), label);
  if (!r) throw new Error('no widget named ' + label);
  // Move, press, release a frame or more apart: ImGui reads the mouse once
  // per frame, and some widgets (tabs) act on the frame the press is seen.
  await page.mouse.move(r.x + r.width / 2, r.y + r.height / 2);
  await page.waitForTimeout(60);
  await page.mouse.down();
  await page.waitForTimeout(60);
  await page.mouse.up();
}

module.exports = { REPO, startServer, launch, openPage, state, waitState, waitFinal, dragWidget, clickWidget };
