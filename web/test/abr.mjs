// ABR check with hls.js in Debian's Chromium, driven by playwright-core.
// Prints one JSON object on stdout.
//
//   node web/test/abr.mjs --base http://127.0.0.1:8080 [--path live/cam1]
//        [--kbps 300] [--timeout 60] [--chromium /usr/bin/chromium] [--profile DIR]
//
// It plays the multivariant playlist BASE/PATH.m3u8 with hls.js (from
// web/node_modules) on a blank page of BASE's origin, held on the top
// level (manual level selection) until playback runs there; then it
// throttles the download bandwidth to --kbps kbit/s with the DevTools
// protocol (Network.emulateNetworkConditions), hands level selection back
// to hls.js's ABR with a bandwidth estimate reset to twice the top level's
// bitrate, and waits for hls.js to switch to a level of lower bitrate
// (LEVEL_SWITCHED). Holding the top level first matters on a loaded
// machine: left to itself, hls.js may already have fallen to the lowest
// level before the throttle (slow part loads look like a slow network),
// and then there is nothing to switch down to. Exit code 0 when it
// switched down, 1 when not, 2 on a usage or launch error.
import { hlsScript, options, playerArgs, session, sleep } from './browser.mjs';

const opt = options({
  base: { type: 'string' },
  path: { type: 'string', default: 'live/cam1' },
  kbps: { type: 'string', default: '300' },
  timeout: { type: 'string', default: '60' },
}, 'abr.mjs --base URL [--path APP/NAME] [--kbps N] [--timeout S]');
const deadline = Date.now() + Number(opt.timeout) * 1000;
const left = () => deadline - Date.now();
const result = { ok: false, url: `${opt.base}/${opt.path}.m3u8`, pageErrors: [] };
const browser = session(opt, result);
await browser.launch(playerArgs);

// The page state hls.js leaves for us to read.
const read = (page) => page.evaluate(() => ({
  currentTime: document.querySelector('video').currentTime,
  level: window.abr.hls.currentLevel, top: window.abr.top, auto: window.abr.hls.autoLevelEnabled,
  switches: window.abr.switches, errors: window.abr.errors, levels: window.abr.levels,
}));

await browser.run(async (page, context) => {
  // A page of the server's origin, so hls.js's requests are same-origin.
  await page.goto(`${opt.base}/healthz`, { timeout: left() });
  await page.setContent('<!doctype html><video muted autoplay playsinline width="640" height="360"></video>');
  await page.addScriptTag({ path: hlsScript });
  await page.evaluate((url) => {
    const video = document.querySelector('video');
    // Start and stay on the top level (manual selection) until the
    // throttle; then ABR reacts to the throttle only.
    const hls = new window.Hls({ capLevelToPlayerSize: false, startLevel: -1, testBandwidth: false, debug: false });
    window.abr = { hls, switches: [], errors: [], levels: [], top: -1 };
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_, d) => {
      window.abr.levels = d.levels.map((l) => ({ bitrate: l.bitrate, height: l.height, url: l.url[0] }));
      let top = 0;
      d.levels.forEach((l, i) => { if (l.bitrate > d.levels[top].bitrate) top = i; });
      window.abr.top = top;
      hls.startLevel = top;
      hls.loadLevel = top; // manual: no ABR decision before the throttle
    });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (_, d) => {
      const l = hls.levels[d.level];
      window.abr.switches.push({ level: d.level, bitrate: l.bitrate, height: l.height, at: video.currentTime });
    });
    hls.on(window.Hls.Events.ERROR, (_, d) => window.abr.errors.push({ type: d.type, details: d.details, fatal: d.fatal }));
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
  }, result.url);

  // 1: playback runs for a few seconds on the top level.
  let r = await read(page);
  const onTop = (x) => x.switches.length > 0 && x.switches[x.switches.length - 1].level === x.top;
  while (left() > 0 && (r.currentTime < 4 || !onTop(r)) && !r.errors.some((e) => e.fatal)) {
    await sleep(250);
    r = await read(page);
  }
  result.before = r.switches[r.switches.length - 1] || null;
  result.levels = r.levels;
  if (!result.before) throw new Error(`no playback: ${JSON.stringify(r.errors)}`);
  if (!onTop(r)) throw new Error(`playback did not reach the top level ${r.top}: ${JSON.stringify(r.switches)}`);

  // 2: throttle; hls.js must switch down.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const bytesPerSecond = (Number(opt.kbps) * 1000) / 8;
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 40, downloadThroughput: bytesPerSecond, uploadThroughput: -1,
  });
  result.throttledAt = r.currentTime;
  const n0 = r.switches.length;
  // Back to ABR, from an estimate well above the top level: a switch down
  // now comes from what hls.js measures through the throttle.
  result.autoAfterThrottle = await page.evaluate(() => {
    const hls = window.abr.hls;
    hls.bandwidthEstimate = 2 * hls.levels[window.abr.top].bitrate;
    hls.loadLevel = -1;
    return hls.autoLevelEnabled;
  });
  while (left() > 0) {
    r = await read(page);
    const down = r.switches.slice(n0).find((s) => s.bitrate < result.before.bitrate);
    if (down) { result.after = down; break; }
    if (r.errors.some((e) => e.fatal)) break;
    await sleep(250);
  }
  Object.assign(result, { switches: r.switches, errors: r.errors, currentTime: r.currentTime });
  result.ok = !!result.after;
}, { pageErrors: result.pageErrors });
