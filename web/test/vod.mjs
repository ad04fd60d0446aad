// hls.js in Debian's Chromium, driven by playwright-core, plays an HLS VOD
// playlist of a recording and seeks to its middle. Prints one JSON object
// on stdout.
//
//   node web/test/vod.mjs --url http://127.0.0.1:8080/live/cam1/vod.m3u8
//        [--timeout 40] [--chromium /usr/bin/chromium] [--profile DIR]
//
// It plays from the start until currentTime passes 1 s, then seeks to
// duration/2 and waits until playback has gone 1 s past that point.
// Exit code 0 when both happened without a fatal hls.js error, 1 when not,
// 2 on a usage or launch error.
import { hlsScript, options, playerArgs, session, sleep } from './browser.mjs';

const opt = options({
  url: { type: 'string' },
  timeout: { type: 'string', default: '40' },
}, 'vod.mjs --url URL [--timeout S]', ['url']);
const deadline = Date.now() + Number(opt.timeout) * 1000;
const left = () => deadline - Date.now();
const result = { ok: false, url: opt.url, duration: 0, played: 0, seekTo: 0, afterSeek: 0, errors: [], pageErrors: [] };
const browser = session(opt, result);
await browser.launch(playerArgs);

const read = (page) => page.evaluate(() => {
  const v = document.querySelector('video');
  return { currentTime: v.currentTime, duration: v.duration, errors: window.t.errors };
});

await browser.run(async (page) => {
  await page.goto(new URL('/healthz', opt.url).href, { timeout: left() });
  await page.setContent('<!doctype html><video muted autoplay playsinline width="320" height="180"></video>');
  await page.addScriptTag({ path: hlsScript });
  await page.evaluate((url) => {
    const video = document.querySelector('video');
    const hls = new window.Hls({ debug: false });
    window.t = { hls, errors: [] };
    hls.on(window.Hls.Events.ERROR, (_, d) => window.t.errors.push({ details: d.details, fatal: d.fatal }));
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
  }, opt.url);
  const fatal = (r) => r.errors.some((e) => e.fatal);
  let r = await read(page);
  while (left() > 0 && r.currentTime < 1 && !fatal(r)) {
    await sleep(200);
    r = await read(page);
  }
  result.played = r.currentTime;
  result.duration = r.duration;
  if (r.currentTime >= 1 && r.duration > 2) {
    result.seekTo = r.duration / 2;
    await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, result.seekTo);
    while (left() > 0 && !fatal(r)) {
      await sleep(200);
      r = await read(page);
      if (r.currentTime >= result.seekTo + 1) break;
    }
    result.afterSeek = r.currentTime;
  }
  result.errors = r.errors;
  result.ok = !fatal(r) && result.played >= 1 && result.afterSeek >= result.seekTo + 1 && result.afterSeek < result.seekTo + 10;
}, { pageErrors: result.pageErrors });
