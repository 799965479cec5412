// dmc.js - the page side of the workbench: loads the models and the MNIST
// files into the app's in-memory file system before main() runs, and gives
// the app what only a page can do (downloads, the URL fragment, the file
// picker, drag and drop). Also window.dmc, the scripting hook:
//
//   dmc.state()              the whole state as a plain object (ready, model,
//                            config, float_accuracy, accuracy, images_evaluated,
//                            flash_bytes, peak_ram_bytes, layers, timing, ...)
//   dmc.setConfig(obj)       applies a config as if the sliders were moved
//                            (throws with the engine's message if refused)
//   dmc.widgetRect(label)    {x, y, width, height} of a named widget, in page
//                            pixels ("conv2 keep", "fc1 bits", "Download header")
//   dmc.widgetNames()        the names widgetRect knows this frame
//   dmc.downloadHeader()     what the button does; resolves with the file name
//                            once the file is handed to the browser
//   dmc.downloadConfig()     the same for the config
//   dmc.loadModel(name, data) loads a model file or an ONNX file, as text or
//                             a Uint8Array (throws if refused)
//   dmc.findBudget({flash, ram, macs, maxDrop, bits, keeps, subset})
//                            the budget panel's Find: the budget solver on the
//                            worker (0 or absent: no limit; bits, keeps and
//                            subset default to the panel's, budgetDefaults()).
//                            Resolves with dmc search --json's object plus
//                            config, accuracy, flash_bytes, peak_ram_bytes,
//                            macs (the chosen one's), scored (every config
//                            scored), ms (request to answer) and cli_args
//                            (the dmc search options that ask the same);
//                            rejects with the engine's message, or
//                            'cancelled' (cancelBudget) or when replaced
//   dmc.cancelBudget()       the panel's Cancel
//   dmc.budgetDefaults()     {bits, keeps, subset}: the panel's search space
//   dmc.budgetResult()       the last answer (as findBudget resolves), or null
//   dmc.whenReady()          resolves once the model and data are loaded
'use strict';

(function () {
  const status = (text) => {
    const el = document.getElementById('status');
    if (el) el.textContent = text;
  };
  const fetchBytes = async (url) => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return new Uint8Array(await r.arrayBuffer());
  };
  // What the app reads at startup (the data folder is written by `dmc data`).
  const dataFiles = ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte',
                     'calibration-images-idx3-ubyte', 'calibration-labels-idx1-ubyte'];

  const pending = { header: [], config: [], budget: [] };

  window.Module = {
    canvas: document.getElementById('canvas'),
    arguments: ['--fragment', location.hash.replace(/^#/, '')],
    print: (t) => console.log(t),
    printErr: (t) => console.warn(t),
    preRun: [function () {
      Module.addRunDependency('dmc-files');
      (async () => {
        status('Loading models and MNIST...');
        const FS = Module.FS;
        FS.mkdir('/assets');
        FS.mkdir('/data');
        const index = JSON.parse(new TextDecoder().decode(await fetchBytes('assets/index.json')));
        const jobs = index.map(async (m) => FS.writeFile('/assets/' + m, await fetchBytes('assets/' + m)));
        // A missing data file is left missing: the app says what is wrong.
        for (const f of dataFiles)
          jobs.push(fetchBytes('data/' + f).then((b) => FS.writeFile('/data/' + f, b), (e) => console.warn(e)));
        await Promise.all(jobs);
        status('Starting...');
      })().catch((e) => status('Could not load the workbench files: ' + e))
        .finally(() => Module.removeRunDependency('dmc-files'));
    }],
  };

  if (!window.crossOriginIsolated)
    status('This page needs cross-origin isolation (for threads): serve it with `make serve`.');

  window.dmcAppStarted = () => {
    const el = document.getElementById('status');
    if (el) el.remove();
  };

  // ---- called by the app (app/platform.cpp) ----

  // A real download: a Blob behind a link that is clicked.
  window.dmcSave = (name, mime, bytes) => {
    const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  };
  window.dmcDownloadDone = (kind, ok, detail) => {
    const waiting = pending[kind] || [];
    pending[kind] = [];
    for (const p of waiting) ok ? p.resolve(detail) : p.reject(new Error(detail));
  };
  window.dmcBudgetDone = (ok, text) => {
    const waiting = pending.budget;
    pending.budget = [];
    for (const p of waiting) ok ? p.resolve(JSON.parse(text)) : p.reject(new Error(text));
  };
  window.dmcOwnHash = location.hash;
  window.addEventListener('hashchange', () => {
    if (location.hash === window.dmcOwnHash) return;
    window.dmcOwnHash = location.hash;
    call('dmc_apply_fragment', ['string'], [location.hash.replace(/^#/, '')]);
  });

  // ---- the scripting hook ----

  const call = (name, types, args) => Module.ccall(name, 'string', types || [], args || []);
  // A model file can be megabytes, and ccall copies 'string' arguments onto
  // the wasm stack (5 MB, shared with the C++ below it): a 1.4 MB file
  // overflowed it and corrupted memory. The bytes go to the heap instead,
  // with their length (an ONNX file holds NULs). `data`: a string (a model
  // file's text) or a Uint8Array (any file, ONNX included).
  const loadModel = (name, data) => {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const heap = Module._malloc(bytes.length + 1);
    if (!heap) throw new Error(`${name}: no memory for a file of ${bytes.length} bytes`);
    try {
      Module.HEAPU8.set(bytes, heap);
      const error = Module.ccall('dmc_load_model', 'string', ['string', 'number', 'number'],
                                 [name, heap, bytes.length]);
      if (error) throw new Error(error);
    } finally {
      Module._free(heap);
    }
    return true;
  };

  window.dmc = {
    state: () => JSON.parse(call('dmc_state_json')),
    setConfig: (config) => {
      const text = typeof config === 'string' ? config : JSON.stringify(config);
      const error = call('dmc_set_config', ['string'], [text]);
      if (error) throw new Error(error);
      return true;
    },
    widgetRect: (label) => {
      const r = JSON.parse(call('dmc_widget_rect', ['string'], [label]));
      if (!r) return null;
      // The app's coordinates are the canvas's CSS pixels.
      const c = Module.canvas.getBoundingClientRect();
      return { x: c.left + r.x, y: c.top + r.y, width: r.w, height: r.h };
    },
    widgetNames: () => JSON.parse(call('dmc_widget_names')),
    downloadHeader: () => new Promise((resolve, reject) => {
      pending.header.push({ resolve, reject });
      Module.ccall('dmc_download_header', null, [], []);
    }),
    downloadConfig: () => new Promise((resolve, reject) => {
      pending.config.push({ resolve, reject });
      Module.ccall('dmc_download_config', null, [], []);
    }),
    loadModel,
    findBudget: (request) => {
      // The app settles the promises of earlier requests (replaced) before
      // it returns, so this one is registered after the call.
      const error = call('dmc_find_budget', ['string'], [JSON.stringify(request || {})]);
      if (error) return Promise.reject(new Error(error));
      return new Promise((resolve, reject) => pending.budget.push({ resolve, reject }));
    },
    cancelBudget: () => { Module.ccall('dmc_cancel_budget', null, [], []); },
    budgetDefaults: () => JSON.parse(call('dmc_budget_defaults')),
    budgetResult: () => JSON.parse(call('dmc_budget_result')),
    whenReady: () => new Promise((resolve) => {
      const poll = () => {
        try {
          if (Module.calledRun && window.dmc.state().ready) return resolve(window.dmc.state());
        } catch (e) { /* not started yet */ }
        setTimeout(poll, 50);
      };
      poll();
    }),
  };

  // ---- model files: the picker and drag and drop ----

  const readAndLoad = (file) => {
    file.arrayBuffer().then((buffer) => {
      try { loadModel(file.name, new Uint8Array(buffer)); } catch (e) { console.warn(e.message); }
    });
  };
  document.getElementById('model-file').addEventListener('change', (e) => {
    if (e.target.files.length) readAndLoad(e.target.files[0]);
    e.target.value = '';
  });
  window.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
  window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    if (e.dataTransfer && e.dataTransfer.files.length) readAndLoad(e.dataTransfer.files[0]);
  });
})();
