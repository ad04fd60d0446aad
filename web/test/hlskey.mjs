// hls.js (low-latency mode) in Debian's Chromium, driven by playwright-core,
// plays a multivariant playlist that needs a key, level by level. Prints one
// JSON object on stdout.
//
//   node web/test/hlskey.mjs --base http://127.0.0.1:8080 --path live/cam1 --key K
//        [--timeout 60] [--chromium /usr/bin/chromium] [--profile DIR]
//
// It loads BASE/PATH.m3u8?key=K on a blank page of BASE's origin, then
// switches to every level in turn (hls.currentLevel) and waits until
// hls.js has loaded that level's media playlist and a fragment (part or
// segment) of it: the child playlists (and their blocking reloads) must
// carry the key the server handed on, since hls.js resolves them without
// the multivariant playlist's query, and the media URLs must work without
// it. (Whether the media then plays smoothly is the QoE tests' business.)
// Exit code 0 when every level was fetched, 1 when not, 2 on a usage or
// launch error.
import { hlsScript, options, playerArgs, session, sleep } from './browser.mjs';

const opt = options({
  base: { type: 'string' },
  path: { type: 'string', default: 'live/cam1' },
  key: { type: 'string' },
  timeout: { type: 'string', default: '60' },
}, 'hlskey.mjs --base URL --key K [--path APP/NAME] [--timeout S]', ['base', 'key']);
const deadline = Date.now() + Number(opt.timeout) * 1000;
const left = () => deadline - Date.now();
const result = {
  ok: false, url: `${opt.base}/${opt.path}.m3u8?key=${encodeURIComponent(opt.key)}`, levels: [], fetched: [],
  pageErrors: [],
};
const browser = session(opt, result);
await browser.launch(playerArgs);

const read = (page) => page.evaluate(() => ({
  currentTime: document.querySelector('video').currentTime,
  level: window.t.hls.currentLevel,
  levels: window.t.levels, errors: window.t.errors, loaded: window.t.loaded, frags: window.t.frags,
}));

await browser.run(async (page) => {
  await page.goto(`${opt.base}/healthz`, { timeout: left() });
  await page.setContent('<!doctype html><video muted autoplay playsinline width="320" height="180"></video>');
  await page.addScriptTag({ path: hlsScript });
  await page.evaluate((url) => {
    const video = document.querySelector('video');
    const hls = new window.Hls({ lowLatencyMode: true, capLevelToPlayerSize: false, debug: false });
    window.t = { hls, levels: [], errors: [], loaded: [], frags: [] };
    hls.on(window.Hls.Events.MANIFEST_PARSED, (_, d) => {
      window.t.levels = d.levels.map((l) => ({ height: l.height, url: l.url[0] }));
    });
    hls.on(window.Hls.Events.LEVEL_LOADED, (_, d) => {
      if (window.t.loaded.length < 50) window.t.loaded.push({ level: d.level, url: d.details.url });
    });
    hls.on(window.Hls.Events.FRAG_LOADED, (_, d) => {
      const f = d.part || d.frag;
      if (window.t.frags.length < 200) window.t.frags.push({ level: d.frag.level, url: f.url });
    });
    hls.on(window.Hls.Events.ERROR, (_, d) => window.t.errors.push({
      type: d.type, details: d.details, fatal: d.fatal, status: d.response ? d.response.code : 0,
    }));
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
  }, result.url);

  let r = await read(page);
  while (left() > 0 && r.levels.length === 0 && !r.errors.some((e) => e.fatal)) {
    await sleep(250);
    r = await read(page);
  }
  result.levels = r.levels;
  for (let i = 0; i < r.levels.length && left() > 0; i++) {
    await page.evaluate((n) => { window.t.hls.currentLevel = n; }, i);
    for (;;) {
      r = await read(page);
      if (r.errors.some((e) => e.fatal) || left() <= 0) break;
      const frag = r.frags.find((f) => f.level === i);
      if (r.loaded.some((l) => l.level === i) && frag) {
        result.fetched.push({ level: i, frag: frag.url });
        break;
      }
      await sleep(250);
    }
  }
  Object.assign(result, { errors: r.errors, loaded: r.loaded, currentTime: r.currentTime });
  result.ok = result.levels.length > 0 && result.fetched.length === result.levels.length;
}, { pageErrors: result.pageErrors });
