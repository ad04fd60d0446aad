// Quality-of-experience check of the Sluice player page: one Chromium, one
// page per protocol, all playing the same stream at the same time.
//
//   node web/test/qoe.mjs --base http://127.0.0.1:8080 [--path live/qoe]
//        [--protos hls,dash,flv,wsflv,whep] [--startup 30]
//        [--chromium /usr/bin/chromium] [--profile DIR]
//
// The publisher burns its wall clock into the picture: the top 16 rows of
// every frame are 32 blocks of 20 px, black or white, the bits (MSB first)
// of the frame's capture time in ms modulo 2^32 (ffmpeg setpts=RTCTIME and
// geq; see test/e2e/qoe_test.go). Each page copies that strip of the frame
// on screen into a canvas 4 times a second and decodes it, so live latency
// is glass-to-glass — capture, encode, server, network, player buffer,
// decode — measured the same way for every player, on one machine clock.
// The players' own estimates (hls.js latency, dash.js
// getCurrentLiveLatency, …, as the page shows them) are kept beside it.
//
// Protocol on stdin/stdout (one JSON object or word per line):
//   out {"ready":true,...}  every page has started playing (or --startup
//                           seconds passed)
//   in  mark NAME           remember the wall clock of event NAME
//   in  report              print {"report":{...}} with every page's samples
//                           and media events, then exit
// Exit code 0 after a report, 2 on a launch error.
//
// Diagnosis (environment): QOE_HLS_LOG=1 keeps hls.js's own debug log in
// the report (qoe.hlsLog, "ms-since-epoch level message" lines);
// QOE_REQUESTS=N keeps the last N request timings instead of 600.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    path: { type: 'string', default: 'live/qoe' },
    protos: { type: 'string', default: 'hls,dash,flv,wsflv,whep' },
    startup: { type: 'string', default: '30' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    profile: { type: 'string' },
  },
});
if (!opt.base) {
  console.error('usage: qoe.mjs --base URL [--path APP/NAME] [--protos hls,dash,flv,wsflv,whep]');
  process.exit(2);
}
const protos = opt.protos.split(',').filter(Boolean);
const ownProfile = !opt.profile;
const profile = opt.profile || mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs in every page before its scripts: media events of the <video> and a
// 4 Hz sampler of the burnt-in clock. Results live in window.__qoe.
function probe(diag) {
  const q = (window.__qoe = { events: [], samples: [], firstPlaying: null });
  if (diag.hlsLog) {
    // Diagnosis (QOE_HLS_LOG=1): hls.js's own debug log, last 20000 lines.
    q.hlsLog = [];
    const log = (kind) => (...a) => {
      q.hlsLog.push(Date.now() + ' ' + kind + ' ' + a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
      if (q.hlsLog.length > 20000) q.hlsLog.shift();
    };
    const logger = { debug: log('D'), log: log('L'), info: log('I'), warn: log('W'), error: log('E') };
    let H;
    Object.defineProperty(window, 'Hls', {
      configurable: true,
      get: () => H,
      set: (v) => { H = class extends v { constructor(c) { super(Object.assign({}, c, { debug: logger })); } }; },
    });
  }
  for (const type of ['waiting', 'playing', 'stalled', 'seeking', 'seeked', 'pause', 'ended', 'error', 'emptied']) {
    document.addEventListener(type, (e) => {
      if (e.target.id !== 'video') return;
      const t = Date.now();
      if (type === 'playing' && q.firstPlaying == null) q.firstPlaying = t;
      q.events.push({ t, type, ct: e.target.currentTime });
    }, true);
  }
  // Request timings (diagnosis: when a player asked for what), the last
  // 600 (QOE_REQUESTS=N: N).
  q.requests = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const name = e.name.replace(/^.*\//, '');
        if (!/\.(m3u8|mpd|m4s|mp4|ts)(\?|$)/.test(name)) continue;
        q.requests.push({ name, start: Math.round(performance.timeOrigin + e.startTime), first: Math.round(performance.timeOrigin + e.responseStart), end: Math.round(performance.timeOrigin + e.responseEnd) });
        if (q.requests.length > diag.requests) q.requests.shift();
      }
    }).observe({ type: 'resource', buffered: true });
  } catch (e) { /* no resource timing */ }
  let canvas = null;
  let g = null;
  setInterval(() => {
    const v = document.getElementById('video');
    if (!v || v.readyState < 2 || !v.videoWidth) return;
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvas.width = 640; canvas.height = 16;
      g = canvas.getContext('2d', { willReadFrequently: true });
    }
    const now = Date.now();
    let stamp = null;
    try {
      // The strip in the video's own pixels (the stream is 640 wide).
      g.drawImage(v, 0, 0, 640, 16, 0, 0, 640, 16);
      const px = g.getImageData(0, 0, 640, 16).data;
      let val = 0;
      for (let i = 0; i < 32; i++) {
        // mean luma of a 10×8 patch at the block's centre
        let sum = 0;
        for (let y = 4; y < 12; y++) for (let x = i * 20 + 5; x < i * 20 + 15; x++) sum += px[(y * 640 + x) * 4];
        val = val * 2 + (sum / 80 > 128 ? 1 : 0);
      }
      stamp = val;
    } catch (e) { /* not drawable yet */ }
    let lat = null;
    if (stamp != null) {
      const d = (now % 4294967296) - stamp;
      const ms = ((d % 4294967296) + 4294967296) % 4294967296;
      // Outside 0..60 s: a misread strip (or a frame without one).
      if (ms < 60000) lat = ms / 1000;
    }
    const s = window.sluicePlayer || {};
    const b = v.buffered;
    const buf = b.length ? b.end(b.length - 1) - v.currentTime : 0;
    q.samples.push({ t: now, ct: v.currentTime, stamp, lat, api: s.latency ?? null, status: s.status, rate: v.playbackRate, buf });
    if (q.samples.length > 2000) q.samples.shift(); // 500 s at 4 Hz
  }, 250);
}

const result = { protos, marks: {}, pages: {} };
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: opt.chromium,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
      '--allow-loopback-in-peer-connection',
      // Several pages play at once: none of them may be throttled as a
      // background tab.
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
    viewport: { width: 960, height: 700 },
    deviceScaleFactor: 1,
  });
} catch (e) {
  say({ error: `launch chromium: ${e.message}` });
  if (ownProfile) rmSync(profile, { recursive: true, force: true });
  process.exit(2);
}

async function closeAll(code) {
  try { await context?.close(); } catch { /* ignore */ }
  if (ownProfile) rmSync(profile, { recursive: true, force: true });
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => closeAll(1));

await context.addInitScript(probe, {
  hlsLog: !!process.env.QOE_HLS_LOG,
  requests: Number(process.env.QOE_REQUESTS) || 600,
});
const pages = {};
for (const p of protos) {
  const page = context.pages().length && !Object.keys(pages).length ? context.pages()[0] : await context.newPage();
  const info = (result.pages[p] = { pageErrors: [], consoleErrors: [] });
  page.on('pageerror', (e) => info.pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && info.consoleErrors.length < 20) info.consoleErrors.push(m.text()); });
  pages[p] = page;
}
await Promise.all(protos.map((p) => pages[p].goto(`${opt.base}/${opt.path}?proto=${p}`, { waitUntil: 'domcontentloaded' })
  .catch((e) => { result.pages[p].error = e.message.split('\n')[0]; })));

const readyBy = Date.now() + Number(opt.startup) * 1000;
let started = {};
while (Date.now() < readyBy) {
  for (const p of protos) {
    if (started[p]) continue;
    const fp = await pages[p].evaluate(() => window.__qoe && window.__qoe.firstPlaying).catch(() => null);
    if (fp) started[p] = fp;
  }
  if (Object.keys(started).length === protos.length) break;
  await sleep(250);
}
const vis = await pages[protos[0]].evaluate(() => document.visibilityState).catch(() => '?');
say({ ready: Object.keys(started).length === protos.length, started, visibility: vis });

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [cmd, name] = line.trim().split(/\s+/);
  if (cmd === 'mark' && name) {
    result.marks[name] = Date.now();
  } else if (cmd === 'report') {
    for (const p of protos) {
      const page = pages[p];
      try {
        Object.assign(result.pages[p], await page.evaluate(() => ({
          qoe: window.__qoe,
          player: { status: window.sluicePlayer?.status, errors: window.sluicePlayer?.errors },
          ua: navigator.userAgent,
        })));
      } catch (e) {
        result.pages[p].error = e.message.split('\n')[0];
      }
    }
    say({ report: result });
    break;
  }
}
await closeAll(0);
