// hls.js (low-latency mode) in Debian's Chromium, driven by playwright-core,
// seeks back into a live stream's DVR window (hls.dvr_window), plays from
// there, then returns to the live edge. Prints one JSON object on stdout.
//
//   node web/test/dvr.mjs --base http://127.0.0.1:8080 --path live/cam1
//        [--back 20] [--timeout 90] [--chromium /usr/bin/chromium] [--profile DIR]
//
// Steps, each recorded in the result: play at the live edge (currentTime
// advances 2 s); seek BACK seconds behind the current position and play
// from there (currentTime advances 3 s past the seek target while still
// well behind the live edge); seek to hls.liveSyncPosition and play again
// (currentTime advances 2 s, latency back under 10 s). Any fatal hls.js
// error fails the check. Exit code 0 when every step passed, 1 when not, 2
// on a usage or launch error.
import { hlsScript, options, playerArgs, session, sleep } from './browser.mjs';

const opt = options({
  base: { type: 'string' },
  path: { type: 'string', default: 'live/cam1' },
  back: { type: 'string', default: '20' },
  timeout: { type: 'string', default: '90' },
}, 'dvr.mjs --base URL [--path APP/NAME] [--back S] [--timeout S]');
const back = Number(opt.back);
const deadline = Date.now() + Number(opt.timeout) * 1000;
const left = () => deadline - Date.now();
const result = { ok: false, url: `${opt.base}/${opt.path}.m3u8`, steps: {}, errors: [], pageErrors: [] };
const browser = session(opt, result);
await browser.launch(playerArgs);

const read = (page) => page.evaluate(() => {
  const v = document.querySelector('video');
  const h = window.t.hls;
  const lvl = h.levels && h.currentLevel >= 0 ? h.levels[h.currentLevel] : null;
  const s = v.seekable;
  return {
    currentTime: v.currentTime, paused: v.paused, readyState: v.readyState,
    liveSync: h.liveSyncPosition, latency: h.latency,
    span: lvl && lvl.details ? lvl.details.totalduration : 0,
    seekable: s.length ? [s.start(0), s.end(s.length - 1)] : [],
    errors: window.t.errors,
  };
});
const fatal = (r) => r.errors.some((e) => e.fatal);

// until polls page until cond(r) holds, a fatal error or the deadline;
// it returns the last reading and whether cond held.
async function until(page, cond) {
  let r = await read(page);
  while (left() > 0 && !fatal(r) && !cond(r)) {
    await sleep(200);
    r = await read(page);
  }
  return [r, !fatal(r) && cond(r)];
}

await browser.run(async (page) => {
  await page.goto(`${opt.base}/healthz`, { timeout: left() });
  await page.setContent('<!doctype html><video muted autoplay playsinline width="320" height="180"></video>');
  await page.addScriptTag({ path: hlsScript });
  await page.evaluate((url) => {
    const video = document.querySelector('video');
    const hls = new window.Hls({ lowLatencyMode: true, debug: false });
    window.t = { hls, errors: [] };
    hls.on(window.Hls.Events.ERROR, (_, d) => {
      if (window.t.errors.length < 100) {
        window.t.errors.push({ type: d.type, details: d.details, fatal: d.fatal, status: d.response ? d.response.code : 0 });
      }
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
  }, result.url);

  // 1: live.
  let [r, ok] = await until(page, (x) => x.currentTime > 0);
  const t0 = r.currentTime;
  [r, ok] = ok ? await until(page, (x) => x.currentTime >= t0 + 2) : [r, false];
  result.steps.live = { ok, ...r, errors: undefined };
  if (!ok) { result.errors = r.errors; return; }

  // 2: seek back.
  const target = r.currentTime - back;
  await page.evaluate((to) => { document.querySelector('video').currentTime = to; }, target);
  [r, ok] = await until(page, (x) => x.currentTime >= target + 3);
  result.steps.back = { ok, target, behind: (r.liveSync || 0) - r.currentTime, ...r, errors: undefined };
  if (ok) {
    ok = result.steps.back.behind >= back / 2;
    result.steps.back.ok = ok;
  }
  if (!ok) { result.errors = r.errors; return; }

  // 3: back to live.
  const live = r.liveSync;
  await page.evaluate((to) => { document.querySelector('video').currentTime = to; }, live);
  [r, ok] = await until(page, (x) => x.currentTime >= live + 2 && x.liveSync - x.currentTime < 10);
  result.steps.relive = { ok, target: live, ...r, errors: undefined };
  result.errors = r.errors;
  result.ok = ok;
}, { pageErrors: result.pageErrors });
