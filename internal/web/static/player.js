// The Sluice player page: one <video>, five protocols, a live readout.
// State for scripts and tests: window.sluicePlayer.
'use strict';
(function () {
  const S = window.Sluice;
  const root = document.getElementById('player');
  const path = root.dataset.path;
  const video = document.getElementById('video');
  const $ = (id) => document.getElementById(id);

  const httpBase = location.origin;
  const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;

  // Protocols, in switcher order. url() is what the player loads.
  const protocols = {
    flv: { label: 'HTTP-FLV', note: 'FLV over a chunked HTTP response, played by mpegts.js through Media Source Extensions. Latency: buffered end − playback position.', url: () => `${httpBase}/${path}.flv`, start: startFLV },
    wsflv: { label: 'WS-FLV', note: 'The same FLV stream over a WebSocket, played by mpegts.js. Latency: buffered end − playback position.', url: () => `${wsBase}/${path}.flv`, start: startFLV },
    hls: { label: 'LL-HLS', note: 'Low-Latency HLS (parts, blocking playlist reload) played by hls.js in low-latency mode. Latency: hls.latency.', url: () => `${httpBase}/${path}.m3u8`, start: startHLS },
    dash: { label: 'DASH', note: 'MPEG-DASH over the same CMAF segments, played by dash.js with live catch-up. Latency: the live latency dash.js measures.', url: () => `${httpBase}/${path}.mpd`, start: startDASH },
    whep: { label: 'WebRTC (WHEP)', note: 'WebRTC over WHEP: the browser POSTs an SDP offer and receives video and audio over RTP. Latency: jitter-buffer delay from getStats.', url: () => `${httpBase}/${path}/whep`, start: startWHEP },
  };

  const state = (window.sluicePlayer = {
    path,
    proto: null,
    status: 'idle',
    /** Every error shown, oldest first: {time, proto, message, fatal}. */
    errors: [],
    latency: null,
    bitrate: null,
    width: 0,
    height: 0,
  });

  let session = null; // the running engine: {stop, latency, bitrate, buffer, dropped}
  let generation = 0; // bumps on every switch; stale callbacks check it
  let retryTimer = null;
  let retryDelay = 2;

  // ---- UI -------------------------------------------------------------------

  function log(msg, kind) {
    const li = S.h('li', { class: kind || '' },
      S.h('time', {}, new Date().toLocaleTimeString()), ' ', msg);
    const list = $('log');
    list.prepend(li);
    while (list.children.length > 50) list.lastChild.remove();
  }

  function setStatus(s) {
    state.status = s;
    $('st-status').textContent = s;
    $('st-status').className = 'status-' + s.split(' ')[0];
  }

  function overlay(title, detail, opts = {}) {
    const o = $('overlay');
    if (!title) { o.hidden = true; return; }
    o.hidden = false;
    o.classList.toggle('error', !!opts.error);
    $('overlay-title').textContent = title;
    $('overlay-detail').textContent = detail || '';
    $('overlay-spinner').hidden = !!opts.error;
    $('overlay-retry').hidden = !opts.error;
  }

  function renderURLs() {
    const ul = $('urls');
    ul.replaceChildren();
    for (const [key, p] of Object.entries(protocols)) {
      const url = p.url();
      const copy = S.h('button', {
        type: 'button', class: 'copy', title: 'Copy URL',
        onclick: () => navigator.clipboard && navigator.clipboard.writeText(url).then(() => {
          copy.textContent = 'Copied'; setTimeout(() => (copy.textContent = 'Copy'), 1200);
        }, () => {}),
      }, 'Copy');
      ul.append(S.h('li', { class: key === state.proto ? 'current' : '' },
        S.h('span', { class: 'url-label' }, p.label + (key === 'whep' ? ' · POST an SDP offer' : '')),
        S.h('code', {}, url), copy));
    }
  }

  function markSwitcher() {
    for (const b of $('switcher').querySelectorAll('button')) {
      const on = b.dataset.proto === state.proto;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    $('proto-badge').textContent = protocols[state.proto].label;
    $('proto-note').textContent = protocols[state.proto].note;
  }

  // ---- errors and retries -----------------------------------------------------

  /** Reports a fatal error of the current session, shows it and retries later. */
  function fail(gen, message) {
    if (gen !== generation) return;
    state.errors.push({ time: Date.now(), proto: state.proto, message, fatal: true });
    log(message, 'error');
    setStatus('error');
    stopSession();
    const secs = retryDelay;
    retryDelay = Math.min(retryDelay * 2, 30);
    overlay(`${protocols[state.proto].label} failed`, `${message} — retrying in ${secs} s`, { error: true });
    retryTimer = setTimeout(() => play(state.proto, { keepRetryDelay: true }), secs * 1000);
  }

  /** Reports a recoverable problem (the player goes on). */
  function warn(gen, message) {
    if (gen !== generation) return;
    state.errors.push({ time: Date.now(), proto: state.proto, message, fatal: false });
    log(message, 'warn');
  }

  function stopSession() {
    if (session) {
      try { session.stop(); } catch (e) { /* already gone */ }
      session = null;
    }
    video.removeAttribute('src');
    video.srcObject = null;
    try { video.load(); } catch (e) { /* ignore */ }
  }

  // ---- switching ----------------------------------------------------------------

  async function play(proto, opts = {}) {
    if (!protocols[proto]) proto = 'flv';
    clearTimeout(retryTimer);
    if (!opts.keepRetryDelay) retryDelay = 2;
    stopSession();
    const gen = ++generation;
    state.proto = proto;
    state.latency = state.bitrate = null;
    const u = new URL(location.href);
    u.searchParams.set('proto', proto);
    history.replaceState(null, '', u);
    markSwitcher();
    renderURLs();
    setStatus('connecting');
    overlay('Connecting…', protocols[proto].url());
    log(`${protocols[proto].label}: ${protocols[proto].url()}`);
    try {
      const s = await protocols[proto].start(protocols[proto].url(), {
        fail: (m) => fail(gen, m),
        warn: (m) => warn(gen, m),
        gen,
      });
      if (gen !== generation) { s.stop(); return; }
      session = s;
      // Engines that start playback themselves (s.autoplay) must see the
      // element's 'play' event: calling play() here, before they attach
      // their listeners, would fire it too early.
      if (!s.autoplay) {
        const p = video.play();
        if (p) p.catch((e) => { if (e.name !== 'AbortError') warn(gen, 'autoplay: ' + e.message); });
      }
    } catch (e) {
      fail(gen, e && e.message ? e.message : String(e));
    }
  }

  video.addEventListener('playing', () => {
    setStatus('playing');
    overlay(null);
    $('live-badge').hidden = false;
    retryDelay = 2;
  });
  video.addEventListener('waiting', () => { if (state.status === 'playing') setStatus('buffering'); });
  video.addEventListener('error', () => {
    const err = video.error;
    if (err && (session || state.status !== 'error')) fail(generation, `media error ${err.code}: ${err.message || 'decode failed'}`);
  });

  $('switcher').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-proto]');
    if (b) play(b.dataset.proto);
  });
  $('overlay-retry').addEventListener('click', () => play(state.proto));
  $('unmute').addEventListener('click', () => {
    video.muted = !video.muted;
    if (!video.muted) video.play().catch(() => {});
    $('unmute').querySelector('span').textContent = video.muted ? 'Unmute' : 'Mute';
    $('unmute').classList.toggle('on', !video.muted);
  });
  addEventListener('pagehide', stopSession);

  // ---- engines ------------------------------------------------------------------

  /** Latency of an MSE player without its own estimate: buffered end − currentTime. */
  function bufferAhead() {
    const b = video.buffered;
    if (!b.length) return null;
    return Math.max(0, b.end(b.length - 1) - video.currentTime);
  }

  async function startFLV(url, ctx) {
    const mpegts = await S.vendor('mpegts');
    if (!mpegts.getFeatureList().mseLivePlayback) throw new Error('this browser has no Media Source Extensions live playback');
    const player = mpegts.createPlayer({ type: 'flv', isLive: true, url }, {
      enableWorker: false,
      enableStashBuffer: false,
      lazyLoad: false,
      autoCleanupSourceBuffer: true,
      liveBufferLatencyChasing: true,
      liveBufferLatencyMaxLatency: 1.5,
      liveBufferLatencyMinRemain: 0.3,
    });
    let kbps = null;
    let dropped = null;
    player.on(mpegts.Events.ERROR, (type, detail, info) => {
      const code = info && info.code > 0 ? ` (HTTP ${info.code})` : '';
      const msg = info && info.msg ? `: ${info.msg}` : '';
      ctx.fail(`${type} ${detail}${code}${msg}`);
    });
    player.on(mpegts.Events.LOADING_COMPLETE, () => ctx.fail('the stream ended'));
    player.on(mpegts.Events.STATISTICS_INFO, (s) => {
      if (typeof s.speed === 'number') kbps = (s.speed * 1024 * 8) / 1000; // KiB/s → kbit/s
      if (typeof s.droppedFrames === 'number') dropped = s.droppedFrames;
    });
    player.attachMediaElement(video);
    player.load();
    return {
      stop: () => { player.pause(); player.unload(); player.detachMediaElement(); player.destroy(); },
      latency: bufferAhead,
      bitrate: () => kbps,
      buffer: bufferAhead,
      dropped: () => dropped,
    };
  }

  /** Asks url once more to name the HTTP status in an error message. */
  async function httpStatus(url) {
    try {
      const r = await fetch(url, { cache: 'no-store' });
      if (r.body) r.body.cancel().catch(() => {});
      if (r.ok) return '';
      return ` (HTTP ${r.status}${r.status === 404 ? ': this server does not serve it (yet)' : ''})`;
    } catch (e) { return ''; }
  }

  async function startHLS(url, ctx) {
    const Hls = await S.vendor('hls');
    if (!Hls.isSupported()) {
      if (video.canPlayType('application/vnd.apple.mpegurl')) { // Safari: native HLS
        video.src = url;
        return { stop: () => video.removeAttribute('src'), latency: () => null, bitrate: () => null, buffer: bufferAhead, dropped: () => null };
      }
      throw new Error('this browser cannot play HLS');
    }
    const hls = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
    const rate = new S.ByteRate();
    hls.on(Hls.Events.ERROR, (ev, d) => {
      const code = d.response && d.response.code ? ` (HTTP ${d.response.code})` : '';
      const m = `${d.type}: ${d.details}${code}${d.error && d.error.message && !code ? ' — ' + d.error.message : ''}`;
      if (d.fatal) {
        if (d.type === Hls.ErrorTypes.MEDIA_ERROR && !ctx.recovered) { ctx.recovered = true; ctx.warn(m + ' — recovering'); hls.recoverMediaError(); return; }
        ctx.fail(m);
      } else if (d.details !== 'bufferStalledError') {
        ctx.warn(m);
      }
    });
    hls.on(Hls.Events.FRAG_LOADED, (ev, d) => {
      const st = (d.part || d.frag || {}).stats;
      if (st) rate.add(st.loaded || st.total || 0);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    return {
      stop: () => hls.destroy(),
      latency: () => (isFinite(hls.latency) && hls.latency > 0 ? hls.latency : null),
      bitrate: () => rate.kbps(),
      buffer: bufferAhead,
      dropped: null,
    };
  }

  async function startDASH(url, ctx) {
    const dashjs = await S.vendor('dash');
    const player = dashjs.MediaPlayer().create();
    const ev = dashjs.MediaPlayer.events;
    const rate = new S.ByteRate();
    try {
      player.updateSettings({ streaming: { liveCatchup: { enabled: true } }, debug: { logLevel: dashjs.Debug ? dashjs.Debug.LOG_LEVEL_WARNING : 2 } });
    } catch (e) { /* settings differ between versions */ }
    player.on(ev.ERROR, async (e) => {
      const err = e.error || {};
      const msg = err.message || (typeof e.error === 'string' ? e.error : 'error');
      ctx.fail(`DASH${err.code ? ' error ' + err.code : ''}: ${msg}${await httpStatus(url)}`);
    });
    if (ev.PLAYBACK_ERROR) player.on(ev.PLAYBACK_ERROR, (e) => ctx.fail(`DASH playback: ${e.error && e.error.message ? e.error.message : 'error'}`));
    player.on(ev.FRAGMENT_LOADING_COMPLETED, (e) => {
      const n = (e.response && e.response.byteLength) || (e.request && (e.request.bytesLoaded || e.request.bytesTotal)) || 0;
      rate.add(n);
    });
    // autoPlay: dash.js calls play() once it has loaded the MPD and hooked
    // the video element. It starts refreshing a dynamic MPD
    // (minimumUpdatePeriod) only on the element's 'play' event
    // (PLAYBACK_STARTED); a play() issued before that fires the event
    // unseen, the SegmentTimeline is never extended and playback stalls
    // after the segments of the first MPD.
    player.initialize(video, url, true);
    return {
      autoplay: true,
      stop: () => { if (player.destroy) player.destroy(); else player.reset(); },
      latency: () => { const l = player.getCurrentLiveLatency(); return isFinite(l) && l > 0 ? l : null; },
      bitrate: () => rate.kbps(),
      buffer: bufferAhead,
      dropped: null,
    };
  }

  async function startWHEP(url, ctx) {
    if (!window.RTCPeerConnection) throw new Error('this browser has no WebRTC');
    const client = new window.WHEPClient(url);
    client.onstate = (s) => {
      if (s === 'failed') ctx.fail('WebRTC connection failed (ICE): is webrtc.listen reachable from this browser?');
      else if (s === 'disconnected') ctx.warn('WebRTC disconnected');
    };
    const stream = await client.start();
    video.srcObject = stream;
    const rate = new S.ByteRate();
    let latency = null, dropped = null;
    let last = null;
    const timer = setInterval(async () => {
      if (!client.pc) return;
      const stats = await client.pc.getStats();
      let bytes = 0;
      const rtc = { framesDecoded: 0, audioSamples: 0 };
      stats.forEach((r) => {
        if (r.type !== 'inbound-rtp') return;
        bytes += r.bytesReceived || 0;
        if (r.kind === 'audio') rtc.audioSamples += r.totalSamplesReceived || 0;
        if (r.kind === 'video') {
          rtc.framesDecoded += r.framesDecoded || 0;
          // jitter buffer delay per emitted frame, over the last second
          const cur = { d: r.jitterBufferDelay || 0, n: r.jitterBufferEmittedCount || 0 };
          if (last && cur.n > last.n) latency = (cur.d - last.d) / (cur.n - last.n);
          else if (!last && cur.n) latency = cur.d / cur.n;
          last = cur;
          if (typeof r.framesDropped === 'number') dropped = r.framesDropped;
        }
      });
      rate.set(bytes);
      state.webrtc = rtc; // getStats facts for the browser tests
    }, 1000);
    return {
      stop: () => { clearInterval(timer); client.stop(); },
      latency: () => latency,
      bitrate: () => rate.kbps(),
      buffer: () => null,
      dropped: () => dropped,
    };
  }

  // ---- readout ------------------------------------------------------------------

  const latHistory = [];
  function drawSpark() {
    const c = $('spark');
    const g = c.getContext('2d');
    const w = c.width, hgt = c.height;
    g.clearRect(0, 0, w, hgt);
    const vals = latHistory.filter((v) => v != null);
    if (vals.length < 2) return;
    const max = Math.max(1, ...vals) * 1.15;
    g.strokeStyle = getComputedStyle(document.body).getPropertyValue('--accent') || '#5eead4';
    g.lineWidth = 2;
    g.beginPath();
    latHistory.forEach((v, i) => {
      if (v == null) return;
      const x = (i / (latHistory.length - 1)) * (w - 2) + 1;
      const y = hgt - 2 - (v / max) * (hgt - 6);
      if (i === 0 || latHistory[i - 1] == null) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    g.fillStyle = 'rgba(148,163,184,.9)';
    g.font = '10px system-ui, sans-serif';
    g.fillText(`max ${max.toFixed(1)} s`, 4, 11);
  }

  function tick() {
    const s = session;
    const safe = (f) => { try { return f ? f() : null; } catch (e) { return null; } };
    state.latency = s ? safe(s.latency) : null;
    state.bitrate = s ? safe(s.bitrate) : null;
    state.width = video.videoWidth;
    state.height = video.videoHeight;
    $('st-latency').textContent = S.fmtSeconds(state.latency);
    $('st-bitrate').textContent = S.fmtBitrate(state.bitrate);
    $('st-resolution').textContent = video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '—';
    $('st-buffer').textContent = s ? S.fmtSeconds(safe(s.buffer)) : '—';
    let dropped = s ? safe(s.dropped) : null;
    if (s && dropped == null && video.getVideoPlaybackQuality) dropped = video.getVideoPlaybackQuality().droppedVideoFrames;
    $('st-dropped').textContent = dropped == null ? '—' : String(dropped);
    latHistory.push(state.status === 'playing' ? state.latency : null);
    if (latHistory.length > 60) latHistory.shift();
    drawSpark();
  }
  setInterval(tick, 1000);

  // ---- start ----------------------------------------------------------------------

  const want = new URL(location.href).searchParams.get('proto');
  play(protocols[want] ? want : 'flv');
})();
