// Browser check of the Sluice web pages with Debian's Chromium, driven by
// playwright-core. Prints one JSON object on stdout.
//
//   node web/test/player.mjs --base http://127.0.0.1:8080 --proto flv \
//        [--path live/cam1] [--out artifacts] [--seconds 5] [--timeout 30]
//        [--chromium /usr/bin/chromium] [--profile DIR]
//
// --proto flv|wsflv|hls|dash|whep opens /PATH?proto=P and waits until the
// video's currentTime has advanced by --seconds; --proto dashboard opens /
// and waits until the stream is listed.
// --expect missing: PATH is not published; waits for the page's fatal
// error (the reason it shows). --expect end: waits until the stream plays,
// prints {"event":"playing"} on a line of its own (the caller then stops
// the publisher) and waits until the page leaves "playing" for good,
// recording every status it shows. A screenshot goes to
// OUT/web-PROTO.png. Exit code 0 when the check passed, 1 when it did not,
// 2 on a usage or launch error.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { options, playerArgs, session, sleep } from './browser.mjs';

const opt = options({
  base: { type: 'string' },
  proto: { type: 'string', default: 'flv' },
  path: { type: 'string', default: 'live/cam1' },
  out: { type: 'string', default: 'artifacts' },
  seconds: { type: 'string', default: '5' },
  timeout: { type: 'string', default: '30' },
  expect: { type: 'string', default: 'play' },
}, 'player.mjs --base URL --proto flv|wsflv|hls|dash|whep|dashboard [--path APP/NAME] [--out DIR]');
const need = Number(opt.seconds);
const deadline = Date.now() + Number(opt.timeout) * 1000;
const outDir = resolve(opt.out);
mkdirSync(outDir, { recursive: true });
const screenshot = join(outDir, `web-${opt.proto}${opt.expect === 'play' ? '' : '-' + opt.expect}.png`);

const result = { proto: opt.proto, ok: false, screenshot, pageErrors: [], consoleErrors: [] };
const browser = session(opt, result);
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

// The page's visible state: status, LIVE badge, overlay, errors.
const readState = (page) => page.evaluate(() => {
  const s = window.sluicePlayer;
  const o = document.getElementById('overlay');
  return {
    status: s.status, errors: s.errors, currentTime: document.getElementById('video').currentTime,
    liveBadge: !document.getElementById('live-badge').hidden,
    overlay: o.hidden ? '' : o.innerText,
    shownLatency: document.getElementById('st-latency').textContent,
    shownBitrate: document.getElementById('st-bitrate').textContent,
  };
});

// --expect missing: the stream is not published; the page must say why.
async function checkMissing(page) {
  await page.goto(`${opt.base}/${opt.path}?proto=${opt.proto}`, { waitUntil: 'domcontentloaded', timeout: left() });
  await page.waitForFunction(() => window.sluicePlayer, null, { timeout: left() });
  let r = await readState(page);
  while (left() > 0 && !r.errors.some((e) => e.fatal)) {
    await sleep(200);
    r = await readState(page);
  }
  await sleep(300); // let the overlay render
  r = await readState(page);
  Object.assign(result, r);
  result.fatalErrors = r.errors.filter((e) => e.fatal).map((e) => e.message);
  result.ok = result.fatalErrors.length > 0;
}

// --expect end: the stream plays, the caller stops its publisher, the page
// must stop claiming to be live.
async function checkEnd(page) {
  await page.goto(`${opt.base}/${opt.path}?proto=${opt.proto}`, { waitUntil: 'domcontentloaded', timeout: left() });
  await page.waitForFunction(() => window.sluicePlayer, null, { timeout: left() });
  let r = await readState(page);
  while (left() > 0 && !(r.status === 'playing' && r.currentTime > 1 && r.liveBadge)) {
    await sleep(200);
    r = await readState(page);
  }
  result.playedLive = r.status === 'playing' && r.liveBadge;
  if (!result.playedLive) { Object.assign(result, r); return; }
  process.stdout.write(JSON.stringify({ event: 'playing' }) + '\n');
  const t0 = Date.now();
  result.statuses = [];
  const final = new Set(['ended', 'offline', 'error']);
  while (left() > 0 && !final.has(r.status)) {
    await sleep(200);
    r = await readState(page);
    const last = result.statuses[result.statuses.length - 1];
    if (!last || last.status !== r.status || last.liveBadge !== r.liveBadge) {
      result.statuses.push({ after: (Date.now() - t0) / 1000, status: r.status, liveBadge: r.liveBadge, overlay: r.overlay });
    }
  }
  await sleep(300);
  r = await readState(page);
  Object.assign(result, r);
  result.fatalErrors = r.errors.filter((e) => e.fatal).map((e) => e.message);
  result.ok = final.has(r.status) && !r.liveBadge;
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

// WHEP against a server on 127.0.0.1: let WebRTC use loopback candidates.
await browser.launch([...playerArgs, '--allow-loopback-in-peer-connection'], {
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
  colorScheme: 'dark',
});

await browser.run(async (page) => {
  if (opt.proto === 'dashboard') await checkDashboard(page);
  else if (opt.expect === 'missing') await checkMissing(page);
  else if (opt.expect === 'end') await checkEnd(page);
  else await checkPlayer(page);
  await page.screenshot({ path: screenshot });
}, { pageErrors: result.pageErrors, consoleErrors: result.consoleErrors });
