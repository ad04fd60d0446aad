// Audio check of the player page with Debian's Chromium (playwright-core):
// plays /PATH?proto=P until the video's currentTime has advanced by
// --seconds, and reports how many audio bytes Chromium decoded
// (HTMLMediaElement.webkitAudioDecodedByteCount) besides the player's
// errors. Prints one JSON object on stdout; exit code 0 when playback
// advanced with decoded audio and no fatal error, 1 otherwise, 2 on a usage
// or launch error.
//
//   node web/test/audio.mjs --base http://127.0.0.1:8080 --proto hls \
//        [--path live/cam1] [--seconds 4] [--timeout 30] [--profile DIR]
import { options, session, sleep } from './browser.mjs';

const opt = options({
  base: { type: 'string' },
  proto: { type: 'string', default: 'hls' },
  path: { type: 'string', default: 'live/cam1' },
  seconds: { type: 'string', default: '4' },
  timeout: { type: 'string', default: '30' },
}, 'audio.mjs --base URL --proto flv|wsflv|hls|dash|whep [--path APP/NAME]');
const need = Number(opt.seconds);
const deadline = Date.now() + Number(opt.timeout) * 1000;
const left = () => Math.max(1, deadline - Date.now());
const result = { proto: opt.proto, ok: false, advanced: 0, audioBytes: 0, fatalErrors: [], errors: [] };
const browser = session(opt, result);
await browser.launch(['--no-sandbox', '--autoplay-policy=no-user-gesture-required']);

await browser.run(async (page) => {
  await page.goto(`${opt.base}/${opt.path}?proto=${opt.proto}`, { waitUntil: 'domcontentloaded', timeout: left() });
  await page.waitForFunction(() => window.sluicePlayer, null, { timeout: left() });
  const read = () => page.evaluate(() => {
    const v = document.getElementById('video');
    const s = window.sluicePlayer;
    return { currentTime: v.currentTime, audioBytes: v.webkitAudioDecodedByteCount, errors: s.errors || [] };
  });
  let r = await read();
  while (Date.now() < deadline && r.currentTime <= 0 && !r.errors.some((e) => e.fatal)) {
    await sleep(200);
    r = await read();
  }
  const t0 = r.currentTime;
  while (Date.now() < deadline && r.currentTime - t0 < need && !r.errors.some((e) => e.fatal)) {
    await sleep(250);
    r = await read();
  }
  result.advanced = r.currentTime - t0;
  result.audioBytes = r.audioBytes;
  result.errors = r.errors.map((e) => e.message);
  result.fatalErrors = r.errors.filter((e) => e.fatal).map((e) => e.message);
  result.ok = result.advanced >= need && result.audioBytes > 0 && result.fatalErrors.length === 0;
});
