// What every browser check in this folder shares: its command line, a
// Chromium (playwright-core) on a profile of its own, one page with its
// errors recorded, and the end — one JSON object on stdout and the exit
// code (0 passed, 1 did not, 2 usage or launch error).
//
//   const opt = options({ base: { type: 'string' }, ... }, 'x.mjs --base URL ...');
//   const result = { ok: false, pageErrors: [] };
//   const browser = session(opt, result);
//   await browser.launch(playerArgs);
//   await browser.run(async (page, context) => { ...; result.ok = ... }, { pageErrors: result.pageErrors });
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// hls.js as web/node_modules has it (make web).
export const hlsScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'hls.js', 'dist', 'hls.min.js');

// Flags of a headless player: no background traffic of the browser's own
// (and no QUIC), so the server sees only the player's requests; autoplay
// without a user gesture.
export const playerArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// options parses the command line with spec plus --chromium (the browser
// binary, default /usr/bin/chromium) and --profile (a fresh, empty
// --user-data-dir; default a new temporary directory removed at exit —
// the caller may pass its own to find and kill leftover browser processes
// by it). Without every option named in required it prints usage and
// exits 2.
export function options(spec, usage, required = ['base']) {
  const { values } = parseArgs({
    options: {
      ...spec,
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      profile: { type: 'string' },
    },
  });
  if (required.some((k) => !values[k])) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return values;
}

// session owns one browser run that reports result. SIGINT and SIGTERM
// close the browser and end the run with code 1.
export function session(opt, result) {
  const ownProfile = !opt.profile;
  const profile = opt.profile || mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
  let context;

  // finish prints result as one line and exits with code.
  function finish(code) {
    process.stdout.write(JSON.stringify(result) + '\n');
    if (ownProfile) rmSync(profile, { recursive: true, force: true });
    process.exit(code);
  }
  async function close() {
    try { await context?.close(); } catch { /* ignore */ }
  }
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
      result.error = `stopped by ${sig}`;
      await close();
      finish(1);
    });
  }

  return {
    finish,
    // launch starts Chromium headless with args and the persistent
    // context's other settings extra; a failure ends the run with code 2.
    async launch(args, extra = {}) {
      try {
        context = await chromium.launchPersistentContext(profile, {
          executablePath: opt.chromium, headless: true, args, ...extra,
        });
      } catch (e) {
        result.error = `launch chromium: ${e.message}`;
        finish(2);
      }
      return context;
    },
    // run calls body with the context's page, closes the browser and ends
    // the run: code 0 when body set result.ok, 1 when not or when it
    // threw (result.error: the first line of the error). The page's
    // uncaught exceptions go to capture.pageErrors and its console errors
    // to capture.consoleErrors, where given.
    async run(body, capture = {}) {
      let code = 1;
      try {
        const page = context.pages()[0] || (await context.newPage());
        if (capture.pageErrors) page.on('pageerror', (e) => capture.pageErrors.push(e.message));
        if (capture.consoleErrors) {
          page.on('console', (m) => { if (m.type() === 'error') capture.consoleErrors.push(m.text()); });
        }
        await body(page, context);
        code = result.ok ? 0 : 1;
      } catch (e) {
        result.error = e.message.split('\n')[0];
      } finally {
        await close();
      }
      finish(code);
    },
  };
}
