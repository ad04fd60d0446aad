// A WHIP publisher in Debian's Chromium with its fake camera and
// microphone, driven by playwright-core: what a browser publishing to
// Sluice sends (its encoder makes keyframes only when asked). Prints one
// JSON object on stdout when it ends.
//
//   node web/test/whip-publish.mjs --base http://127.0.0.1:8080 \
//        --path live/cam1 [--seconds 20] [--chromium /usr/bin/chromium] \
//        [--profile DIR]
//
// It opens BASE/ (a loopback origin is a secure context, so getUserMedia
// works), POSTs the offer to BASE/PATH/whip, publishes for --seconds after
// the connection is up, and reports the video sender's outbound-rtp stats
// (pliCount, firCount, keyFramesEncoded, framesEncoded). Exit code 0 when
// it published, 1 when it did not, 2 on a usage or launch error.
import { options, session } from './browser.mjs';

const opt = options({
  base: { type: 'string' },
  path: { type: 'string', default: 'live/cam1' },
  seconds: { type: 'string', default: '20' },
}, 'whip-publish.mjs --base URL [--path APP/NAME] [--seconds N]');
const result = { ok: false };
const browser = session(opt, result);
await browser.launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--no-sandbox']);

await browser.run(async (page) => {
  await page.goto(opt.base + '/');
  Object.assign(result, await page.evaluate(async ({ path, seconds }) => {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: 640, height: 360, frameRate: 30 }, audio: true,
    });
    const pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    const resp = await fetch(`/${path}/whip`, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
    });
    const answer = await resp.text();
    if (resp.status !== 201) return { error: `POST whip: ${resp.status} ${answer}` };
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not connected: ${pc.connectionState}`)), 15000);
      const check = () => pc.connectionState === 'connected' && (clearTimeout(t), resolve());
      pc.addEventListener('connectionstatechange', check);
      check();
    });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const out = { ok: true };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        Object.assign(out, {
          pliCount: s.pliCount, firCount: s.firCount, keyFramesEncoded: s.keyFramesEncoded,
          framesEncoded: s.framesEncoded, encoder: s.encoderImplementation, codec: s.codecId,
        });
      }
    });
    await fetch(resp.headers.get('Location'), { method: 'DELETE' });
    pc.close();
    return out;
  }, { path: opt.path, seconds: Number(opt.seconds) }));
});
