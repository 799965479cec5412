// screenshot.cjs - the README's picture of the workbench: LeNet-5 with what
// the "Smallest within 1 point" preset finds (all 4-bit, fc1 and fc2
// pruned), fc2 selected so its pruning mask shows.
//
//   NODE_PATH=build-web/node/node_modules node tests/browser/screenshot.cjs build-web/www OUT.png
'use strict';
const h = require('./helpers.cjs');

(async () => {
  const [root, out] = process.argv.slice(2);
  const server = await h.startServer(root);
  const browser = await h.launch();
  const page = await h.openPage(browser, server.url);
  await h.waitFinal(page, 300000);
  await page.evaluate(() => window.dmc.setConfig(
    { default: { bits: 4 }, layers: { fc1: { keep: 0.75 }, fc2: { keep: 0.5 } } }));
  await h.waitFinal(page);
  await h.clickWidget(page, 'fc2 row');
  await page.mouse.move(5, 790);
  await page.waitForTimeout(500);
  await page.screenshot({ path: out });
  console.log('wrote', out);
  await browser.close();
  server.stop();
})().catch((e) => { console.error(e); process.exit(1); });
