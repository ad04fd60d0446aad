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

  // Protocols, in switcher order. url() is what the player loads;
  // reasonURL() is what the page GETs to learn the server's own reason when
  // the player fails (the WHEP endpoint takes only POST, so WHEP asks the
  // FLV URL, which answers at once when the stream is not there).
  const flvURL = () => `${httpBase}/${path}.flv`;
  const flvNote = 'Latency: not measured — FLV carries no server clock, so the page cannot tell how far behind the live edge it plays. Buffer is the media buffered ahead of playback; mpegts.js skips ahead when it exceeds 1.5 s.';
  const protocols = {
    flv: { label: 'HTTP-FLV', note: 'FLV over a chunked HTTP response, played by mpegts.js through Media Source Extensions. ' + flvNote, url: flvURL, reasonURL: flvURL, start: startFLV },
    wsflv: { label: 'WS-FLV', note: 'The same FLV stream over a WebSocket, played by mpegts.js. ' + flvNote, url: () => `${wsBase}/${path}.flv`, reasonURL: flvURL, start: startFLV },
    hls: { label: 'LL-HLS', note: 'Low-Latency HLS (parts, blocking playlist reload) played by hls.js in low-latency mode. Latency: how far playback is behind the newest media in the playlist (hls.latency).', url: () => `${httpBase}/${path}.m3u8`, start: startHLS },
    dash: { label: 'DASH', note: 'MPEG-DASH over the same CMAF segments, played by dash.js with live catch-up. Latency: the live latency dash.js measures against the server clock (UTCTiming).', url: () => `${httpBase}/${path}.mpd`, start: startDASH },
    whep: { label: 'WebRTC (WHEP)', note: 'WebRTC over WHEP: the browser POSTs an SDP offer and receives video and audio over RTP. Latency: jitter-buffer delay from getStats (network and encoder delay not included).', url: () => `${httpBase}/${path}/whep`, reasonURL: flvURL, start: startWHEP },
  };
  for (const p of Object.values(protocols)) if (!p.reasonURL) p.reasonURL = p.url;

  const state = (window.sluicePlayer = {
    path,
    proto: null,
    status: 'idle',
    /** Every error shown, oldest first: {time, proto, message, fatal}. */
    errors: [],
    latency: null,
    bitrate: null,
    /** Seconds of media buffered ahead of playback (MSE players). */
    buffer: null,
    width: 0,
    height: 0,
  });

  let session = null; // the running engine: {stop, latency, bitrate, buffer, dropped}
  let generation = 0; // bumps on every switch; stale callbacks check it
  let failedGen = 0; // the generation that has failed (libraries report twice)
  let playedGen = 0; // the generation that has played
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

  // Statuses: connecting, playing, buffering, stalled (WebRTC: no frames),
  // ended (the stream ended), offline (the server says it is not
  // published), error. LIVE is shown only while playing.
  function setStatus(s) {
    state.status = s;
    $('st-status').textContent = s;
    $('st-status').className = 'status-' + s.split(' ')[0];
    $('live-badge').hidden = s !== 'playing';
    statusSince = performance.now();
  }
  let statusSince = performance.now();
  let probedAt = 0;

  // A player that waits for media long (buffering, or a WebRTC stall) may
  // be waiting for a stream that is gone: players wait quietly (an ended
  // stream's playlist and MPD stay readable, with #EXT-X-ENDLIST, and the
  // last segment may never play out), so the page asks the server every
  // probeMs and ends the session with its reason. It asks the FLV URL,
  // which answers 404 once the stream is gone (and 200 during the
  // publisher's republish grace).
  const waitMs = 4000, probeMs = 4000;
  function watchdog() {
    const now = performance.now();
    if (!session || (state.status !== 'buffering' && state.status !== 'stalled')) return;
    if (now - statusSince < waitMs || now - probedAt < probeMs) return;
    probedAt = now;
    const secs = Math.round((now - statusSince) / 1000);
    explain(generation, `${state.status} for ${secs} s`, null, true, flvURL());
  }

  function overlay(title, detail, opts = {}) {
    const o = $('overlay');
    if (!title) { o.hidden = true; return; }
    o.hidden = false;
    o.classList.toggle('error', !!opts.error);
    o.classList.toggle('calm', !!opts.calm); // ended or offline: not a failure
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
        copy, S.h('code', {}, url)));
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

  /**
   * Reports the end of the current session, shows it and retries later.
   * opts.status: 'error' (default), 'offline' or 'ended'; opts.title
   * replaces "PROTO failed"; opts.detail is the player library's own words,
   * kept in the event log and state.errors when the message is the server's.
   */
  function fail(gen, message, opts = {}) {
    if (gen !== generation || gen === failedGen) return; // one end per session
    failedGen = gen;
    const status = opts.status || 'error';
    state.errors.push({ time: Date.now(), proto: state.proto, message, fatal: true, status, detail: opts.detail || null });
    log(opts.detail ? `${message} [${opts.detail}]` : message, status === 'ended' ? 'warn' : 'error');
    setStatus(status);
    stopSession();
    const secs = retryDelay;
    retryDelay = Math.min(retryDelay * 2, 30);
    overlay(opts.title || `${protocols[state.proto].label} failed`, `${message} — retrying in ${secs} s`, { error: true, calm: status !== 'error' });
    tick(); // no stale latency or bitrate next to "ended"
    retryTimer = setTimeout(() => play(state.proto, { keepRetryDelay: true }), secs * 1000);
  }

  /**
   * Fails with the server's reason when it has one: a library error
   * ("NetworkError HttpStatusCodeInvalid", "DASH error 25") becomes the
   * server's answer ("stream live/cam1 is not published (HTTP 404)"), the
   * library's words kept as detail. Without a refusal from the server the
   * library's message is shown as is, or `ended` when given (the stream
   * ended while playing).
   */
  async function explain(gen, libMessage, ended, onlyIfRefused, url) {
    if (gen !== generation) return;
    let r = await S.serverReason(url || protocols[state.proto].reasonURL());
    if (gen !== generation) return;
    if (!r && !url && protocols[state.proto].reasonURL() !== flvURL()) {
      // HLS and DASH: an ended stream's playlist and MPD still answer 200
      // (with #EXT-X-ENDLIST), so a failure after the end (e.g. dash.js's
      // "segment not available" for the segment that never came) would
      // read as an error; the FLV URL tells whether the stream is there.
      r = await S.serverReason(flvURL());
      if (gen !== generation) return;
    }
    if (!r && onlyIfRefused) return;
    if (r) {
      const notLive = r.status === 404;
      // Not there any more after playing: the stream ended. A session that
      // never played was refused, whatever the library says (mpegts.js
      // reports a refused WebSocket either as an error or as a completed
      // load, whichever comes first).
      const over = playedGen === gen && (ended || notLive);
      const status = over ? 'ended' : notLive ? 'offline' : 'error';
      const title = over ? 'Stream ended' : notLive ? 'Not live' : undefined;
      fail(gen, `${r.text} (HTTP ${r.status})`, { status, title, detail: libMessage });
    } else if (ended) {
      fail(gen, ended, { status: 'ended', title: 'Stream ended', detail: libMessage });
    } else {
      fail(gen, libMessage);
    }
  }

  /** WebRTC: media stopped arriving on a live connection. */
  function stall(gen, message) {
    if (gen !== generation || state.status === 'stalled') return;
    if (state.status !== 'playing' && state.status !== 'buffering') return;
    setStatus('stalled');
    log(message, 'warn');
    overlay('No video', message);
  }

  /** WebRTC: media flows again after a stall. */
  function resume(gen) {
    if (gen !== generation || state.status !== 'stalled') return;
    setStatus('playing');
    overlay(null);
    log('video resumed');
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
    state.latency = state.bitrate = state.buffer = null;
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
        fail: (m, opts) => fail(gen, m, opts),
        explain: (m, ended) => explain(gen, m, ended),
        warn: (m) => warn(gen, m),
        stall: (m) => stall(gen, m),
        resume: () => resume(gen),
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
      if (e && e.serverStatus) { // the server refused (WHEP POST): its words
        const notLive = e.serverStatus === 404;
        fail(gen, e.message, { status: notLive ? 'offline' : 'error', title: notLive ? 'Not live' : undefined });
      } else {
        fail(gen, e && e.message ? e.message : String(e));
      }
    }
  }

  video.addEventListener('playing', () => {
    if (failedGen === generation) return; // a last frame after the end
    playedGen = generation;
    setStatus('playing');
    overlay(null);
    $('live-badge').hidden = false;
    retryDelay = 2;
  });
  video.addEventListener('waiting', () => { if (state.status === 'playing') setStatus('buffering'); });
  // A live stream that ends (HLS #EXT-X-ENDLIST played out, MSE
  // endOfStream): not an error, but no longer live.
  video.addEventListener('ended', () => { if (session) explain(generation, 'media ended', 'the stream ended'); });
  video.addEventListener('error', () => {
    const err = video.error;
    // MSE reports a stream that never came as a decode error: ask the server.
    if (err && (session || state.status !== 'error')) explain(generation, `media error ${err.code}: ${err.message || 'decode failed'}`);
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
      ctx.explain(`${type} ${detail}${code}${msg}`);
    });
    // The server ends the response when the stream ends.
    player.on(mpegts.Events.LOADING_COMPLETE, () => ctx.explain('mpegts.js: loading complete', 'the stream ended'));
    player.on(mpegts.Events.STATISTICS_INFO, (s) => {
      if (typeof s.speed === 'number') kbps = (s.speed * 1024 * 8) / 1000; // KiB/s → kbit/s
      if (typeof s.droppedFrames === 'number') dropped = s.droppedFrames;
    });
    player.attachMediaElement(video);
    player.load();
    return {
      stop: () => { player.pause(); player.unload(); player.detachMediaElement(); player.destroy(); },
      latency: null, // not measurable: FLV carries no server clock (see flvNote)
      bitrate: () => kbps,
      buffer: bufferAhead,
      dropped: () => dropped,
    };
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
    // hls.js by default never regains its latency target: it plays faster
    // (up to maxLiveSyncPlaybackRate, default 1×) only within one target
    // duration of it, seeks back to the live edge only past
    // liveMaxLatencyDuration (default never), and raises the target by 1 s
    // after every stall. One stall at start-up left it 4 s behind for good.
    // Here: aim 1 s behind (PART-HOLD-BACK is 0.6 s; hls.js takes both
    // liveSync durations or neither), catch up at up to 1.5×, jump to the
    // live edge beyond 3 s, and raise the target by 0.2 s per stall.
    const hls = new Hls({ lowLatencyMode: true, backBufferLength: 30, liveSyncDuration: 1, liveMaxLatencyDuration: 3, maxLiveSyncPlaybackRate: 1.5, liveSyncOnStallIncrease: 0.2 });
    const rate = new S.ByteRate();
    hls.on(Hls.Events.ERROR, (ev, d) => {
      const code = d.response && d.response.code ? ` (HTTP ${d.response.code})` : '';
      const m = `${d.type}: ${d.details}${code}${d.error && d.error.message && !code ? ' — ' + d.error.message : ''}`;
      if (d.fatal) {
        if (d.type === Hls.ErrorTypes.MEDIA_ERROR && !ctx.recovered) { ctx.recovered = true; ctx.warn(m + ' — recovering'); hls.recoverMediaError(); return; }
        ctx.explain(m);
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
    player.on(ev.ERROR, (e) => {
      const err = e.error || {};
      const msg = err.message || (typeof e.error === 'string' ? e.error : 'error');
      ctx.explain(`DASH${err.code ? ' error ' + err.code : ''}: ${msg}`);
    });
    if (ev.PLAYBACK_ERROR) player.on(ev.PLAYBACK_ERROR, (e) => ctx.explain(`DASH playback: ${e.error && e.error.message ? e.error.message : 'error'}`));
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
      if (s === 'failed') ctx.explain('WebRTC connection failed (ICE): is webrtc.listen reachable from this browser?');
      else if (s === 'closed') ctx.explain('WebRTC connection closed by the server', 'the stream ended');
      else if (s === 'disconnected') ctx.warn('WebRTC disconnected');
    };
    const stream = await client.start();
    video.srcObject = stream;
    const rate = new S.ByteRate();
    let latency = null, dropped = null;
    let last = null;
    // A WebRTC connection outlives its media: after the publisher leaves
    // the last frame stays on screen at 0 kbit/s. No new decoded frame for
    // stallMs is a stall (the watchdog then asks the server whether the
    // stream is still there).
    const stallMs = 2500;
    let frames = 0, progressAt = performance.now();
    const timer = setInterval(async () => {
      if (!client.pc) return;
      const stats = await client.pc.getStats();
      if (!client.pc) return;
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
      const now = performance.now();
      if (rtc.framesDecoded > frames) {
        frames = rtc.framesDecoded;
        progressAt = now;
        ctx.resume();
      } else if (frames > 0 && now - progressAt >= stallMs) {
        const secs = Math.round((now - progressAt) / 1000);
        ctx.stall(`no video frames for ${secs} s: the publisher may have left`);
      }
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

  // The sparkline shows the latency, or the buffer where latency is not
  // measured (FLV), over the last minute.
  const latHistory = [];
  let sparkWhat = 'latency';
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
    g.fillText(`${sparkWhat} · max ${max.toFixed(1)} s`, 4, 11);
  }

  function tick() {
    const s = session;
    const safe = (f) => { try { return f ? f() : null; } catch (e) { return null; } };
    state.latency = s ? safe(s.latency) : null;
    state.bitrate = s ? safe(s.bitrate) : null;
    state.buffer = s ? safe(s.buffer) : null;
    state.width = video.videoWidth;
    state.height = video.videoHeight;
    const measured = !s || s.latency != null;
    $('st-latency').textContent = measured ? S.fmtSeconds(state.latency) : 'not measured';
    $('st-latency').title = measured ? '' : 'FLV carries no server clock: see Buffer and the note under the player';
    $('st-latency').classList.toggle('na', !measured);
    $('st-bitrate').textContent = S.fmtBitrate(state.bitrate);
    $('st-resolution').textContent = video.videoWidth ? `${video.videoWidth}×${video.videoHeight}` : '—';
    $('st-buffer').textContent = S.fmtSeconds(state.buffer);
    let dropped = s ? safe(s.dropped) : null;
    if (s && dropped == null && video.getVideoPlaybackQuality) dropped = video.getVideoPlaybackQuality().droppedVideoFrames;
    $('st-dropped').textContent = dropped == null ? '—' : String(dropped);
    const what = measured ? 'latency' : 'buffer';
    if (what !== sparkWhat) { latHistory.length = 0; sparkWhat = what; }
    latHistory.push(state.status === 'playing' ? (measured ? state.latency : state.buffer) : null);
    if (latHistory.length > 60) latHistory.shift();
    drawSpark();
    watchdog();
  }
  setInterval(tick, 1000);

  // ---- start ----------------------------------------------------------------------

  const want = new URL(location.href).searchParams.get('proto');
  play(protocols[want] ? want : 'flv');
})();
