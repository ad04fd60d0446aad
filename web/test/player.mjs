// Browser check of the Sluice web pages with Debian's Chromium, driven by
// playwright-core. Prints one JSON object on stdout.
//
//   node web/test/player.mjs --base http://127.0.0.1:8080 --proto flv \
//        [--path live/cam1] [--out artifacts] [--seconds 5] [--timeout 30]
//        [--chromium /usr/bin/chromium] [--profile DIR]
//
// --proto flv|wsflv|hls|dash|whep opens /PATH?proto=P and waits until the
// video's currentTime has advanced by --seconds; --proto dashboard opens /
// and waits until the stream is listed. A screenshot goes to
// OUT/web-PROTO.png. Exit code 0 when the check passed, 1 when it did not,
// 2 on a usage or launch error.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    proto: { type: 'string', default: 'flv' },
    path: { type: 'string', default: 'live/cam1' },
    out: { type: 'string', default: 'artifacts' },
    seconds: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '30' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    // A fresh, empty --user-data-dir; default: a new temporary directory
    // (removed at exit). The caller may pass its own to find and kill
    // leftover browser processes by it.
    profile: { type: 'string' },
  },
});
if (!opt.base) {
  console.error('usage: player.mjs --base URL --proto flv|wsflv|hls|dash|whep|dashboard [--path APP/NAME] [--out DIR]');
  process.exit(2);
}
const need = Number(opt.seconds);
const deadline = Date.now() + Number(opt.timeout) * 1000;
const outDir = resolve(opt.out);
mkdirSync(outDir, { recursive: true });
const screenshot = join(outDir, `web-${opt.proto}.png`);
const ownProfile = !opt.profile;
const profile = opt.profile || mkdtempSync(join(tmpdir(), 'sluice-chromium-'));

const result = { proto: opt.proto, ok: false, screenshot, pageErrors: [], consoleErrors: [] };
let context;

function finish(code) {
  process.stdout.write(JSON.stringify(result) + '\n');
  if (ownProfile) rmSync(profile, { recursive: true, force: true });
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    result.error = `stopped by ${sig}`;
    try { await context?.close(); } catch { /* ignore */ }
    finish(1);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const left = () => deadline - Date.now();

async function checkPlayer(page) {
  await page.goto(`${opt.base}/${opt.path}?proto=${opt.proto}`, { waitUntil: 'domcontentloaded', timeout: left() });
  await page.waitForFunction(() => window.sluicePlayer, null, { timeout: left() });
  const read = () => page.evaluate(() => {
    const v = document.getElementById('video');
    const s = window.sluicePlayer;
    return {
      currentTime: v.currentTime, paused: v.paused, readyState: v.readyState,
      status: s.status, errors: s.errors, latency: s.latency, bitrate: s.bitrate, webrtc: s.webrtc || null,
      width: v.videoWidth, height: v.videoHeight,
      shownLatency: document.getElementById('st-latency').textContent,
      shownBitrate: document.getElementById('st-bitrate').textContent,
      overlay: document.getElementById('overlay').hidden ? '' : document.getElementById('overlay').innerText,
    };
  });
  // 1: playback starts (or a fatal error is shown).
  let r = await read();
  while (left() > 0 && r.currentTime <= 0 && !r.errors.some((e) => e.fatal)) {
    await sleep(200);
    r = await read();
  }
  result.startedAfter = Number(opt.timeout) - left() / 1000;
  // Live players may seek to the live edge just after starting: measure
  // from a settled baseline, so a jump is not mistaken for playback.
  await sleep(1000);
  r = await read();
  const t0 = r.currentTime;
  const w0 = Date.now();
  // 2: play in real time for `need` seconds of wall clock and of media.
  while (left() > 0 && (r.currentTime - t0 < need || (Date.now() - w0) / 1000 < need) && !r.errors.some((e) => e.fatal)) {
    await sleep(250);
    r = await read();
  }
  // Let the readout refresh once more (it updates every second).
  await sleep(1100);
  r = await read();
  Object.assign(result, r, { advanced: r.currentTime - t0, wallSeconds: (Date.now() - w0) / 1000 });
  result.fatalErrors = r.errors.filter((e) => e.fatal).map((e) => e.message);
  // Real playback: at least `need` seconds of media, and not a jump
  // (media time may run up to 1.5x wall time while a player catches up).
  result.ok = result.advanced >= need && result.advanced <= 1.5 * result.wallSeconds && result.fatalErrors.length === 0;
}

async function checkDashboard(page) {
  await page.goto(`${opt.base}/`, { waitUntil: 'domcontentloaded', timeout: left() });
  const sel = `.stream-card[data-path="${opt.path}"]`;
  try {
    await page.waitForSelector(sel, { timeout: Math.max(1000, left() - 12000) });
    result.listed = true;
  } catch (e) {
    result.listed = false;
    result.error = `stream ${opt.path} not listed: ${e.message.split('\n')[0]}`;
  }
  if (result.listed) {
    // Wait for the first preview frame (best effort) and a second poll.
    try {
      await page.waitForSelector(`${sel} canvas[data-snap="1"]`, { timeout: Math.min(10000, left()) });
      result.preview = true;
    } catch { result.preview = false; }
    result.card = await page.locator(sel).innerText();
  }
  result.dashboard = await page.evaluate(() => ({
    polls: window.sluiceDashboard?.polls, error: window.sluiceDashboard?.error,
    streams: window.sluiceDashboard?.streams?.map((s) => s.path),
  }));
  result.ok = !!result.listed;
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: opt.chromium,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
      // WHEP against a server on 127.0.0.1: let WebRTC use loopback candidates.
      '--allow-loopback-in-peer-connection',
    ],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    colorScheme: 'dark',
  });
} catch (e) {
  result.error = `launch chromium: ${e.message}`;
  finish(2);
}

let code = 1;
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => result.pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  if (opt.proto === 'dashboard') await checkDashboard(page);
  else await checkPlayer(page);
  await page.screenshot({ path: screenshot });
  code = result.ok ? 0 : 1;
} catch (e) {
  result.error = e.message.split('\n')[0];
} finally {
  try { await context.close(); } catch { /* ignore */ }
}
finish(code);
