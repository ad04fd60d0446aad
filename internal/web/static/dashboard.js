// The Sluice dashboard: live streams from /api/v1/streams, polled every 2 s.
// Previews are still frames grabbed over HTTP-FLV every 15 s (one stream at a
// time, only for cards on screen); hovering a card plays it live, muted.
'use strict';
(function () {
  const S = window.Sluice;
  const h = S.h;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;
  const SNAP_EVERY_MS = 15000;
  const KEY_STORE = 'sluice.apiKey';

  const cards = new Map(); // path → {el, parts, stream, snappedAt, visible}
  const state = (window.sluiceDashboard = { streams: [], error: null, polls: 0 });
  let rtmpPort = '1935';

  // ---- API --------------------------------------------------------------------

  async function api(path) {
    const headers = { Accept: 'application/json' };
    const key = localStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = 'Bearer ' + key;
    const res = await fetch('/api/v1/' + path, { headers, cache: 'no-store' });
    let body = null;
    try { body = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const err = new Error((body && body.error) || `${res.status} ${res.statusText}`);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function showError(err) {
    state.error = err ? err.message : null;
    const box = $('api-error');
    if (!err) { box.hidden = true; $('keyform').hidden = true; return; }
    box.hidden = false;
    box.textContent = `The API answered: ${err.message}`;
    $('keyform').hidden = !(err.status === 401 || err.status === 403);
  }

  $('keyform').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('apikey').value.trim();
    if (v) localStorage.setItem(KEY_STORE, v); else localStorage.removeItem(KEY_STORE);
    poll();
  });

  // ---- formatting ---------------------------------------------------------------

  const vnames = { h264: 'H.264', h265: 'HEVC', av1: 'AV1', vp8: 'VP8', vp9: 'VP9' };
  const anames = { aac: 'AAC', opus: 'Opus', mp3: 'MP3' };

  function codecs(t) {
    const parts = [];
    if (t.video) parts.push(`${vnames[t.video.codec] || t.video.codec}`);
    if (t.audio) {
      const ch = t.audio.channels === 1 ? 'mono' : t.audio.channels === 2 ? 'stereo' : `${t.audio.channels} ch`;
      const sr = t.audio.sample_rate ? ` ${+(t.audio.sample_rate / 1000).toFixed(1)} kHz` : '';
      parts.push(`${anames[t.audio.codec] || t.audio.codec}${sr} ${ch}`);
    }
    return parts.join(' · ') || 'waiting for tracks';
  }

  function resolution(t) {
    return t.video && t.video.width ? `${t.video.width}×${t.video.height}` : '—';
  }

  function viewersTitle(v) {
    const by = Object.entries(v.by_protocol || {}).map(([k, n]) => `${k}: ${n}`);
    return by.length ? by.join(', ') : 'no viewers';
  }

  // ---- cards --------------------------------------------------------------------

  function makeCard(s) {
    const p = {};
    const href = '/' + s.path;
    p.canvas = h('canvas', { width: 320, height: 180, class: 'thumb-canvas' });
    p.badge = h('span', { class: 'badge live' }, 'LIVE');
    p.res = h('span', { class: 'thumb-res' });
    p.thumb = h('a', { class: 'thumb', href, title: 'Open the player' },
      p.canvas, h('span', { class: 'thumb-play', 'aria-hidden': 'true' }, '▶'), p.badge, p.res);
    p.codecs = h('div', { class: 'codecs' });
    p.bitrate = h('dd');
    p.viewers = h('dd');
    p.uptime = h('dd');
    p.publisher = h('div', { class: 'publisher' });
    const body = h('div', { class: 'card-body' },
      h('a', { class: 'path', href }, s.path),
      p.codecs,
      h('dl', { class: 'mini' },
        h('div', {}, h('dt', {}, 'Bitrate'), p.bitrate),
        h('div', {}, h('dt', {}, 'Viewers'), p.viewers),
        h('div', {}, h('dt', {}, 'Uptime'), p.uptime)),
      p.publisher,
      h('div', { class: 'links' },
        h('a', { class: 'btn small primary', href }, 'Play'),
        ...['flv', 'wsflv', 'hls', 'dash', 'whep'].map((proto) =>
          h('a', { class: 'chip', href: `${href}?proto=${proto}` }, { flv: 'FLV', wsflv: 'WS-FLV', hls: 'LL-HLS', dash: 'DASH', whep: 'WHEP' }[proto]))));
    const el = h('article', { class: 'stream-card', dataset: { path: s.path } }, p.thumb, body);
    const card = { el, p, stream: s, snappedAt: 0, visible: false, live: null };
    p.thumb.addEventListener('mouseenter', () => startLive(card));
    p.thumb.addEventListener('mouseleave', () => stopLive(card));
    observer.observe(el);
    return card;
  }

  function updateCard(card, s) {
    const p = card.p;
    card.stream = s;
    const live = !!s.publisher;
    p.badge.textContent = live ? 'LIVE' : 'RECONNECTING';
    p.badge.className = 'badge ' + (live ? 'live' : 'waiting');
    p.res.textContent = resolution(s.tracks || {});
    p.codecs.textContent = codecs(s.tracks || {});
    p.codecs.title = [s.tracks.video && s.tracks.video.codec_string, s.tracks.audio && s.tracks.audio.codec_string].filter(Boolean).join(', ');
    p.bitrate.textContent = S.fmtBitrate(s.bitrate_in_kbps);
    p.viewers.textContent = String(s.viewers ? s.viewers.total : 0);
    p.viewers.title = viewersTitle(s.viewers || {});
    p.uptime.textContent = S.fmtDuration(s.uptime_seconds);
    p.publisher.textContent = s.publisher ? `${s.publisher.protocol} from ${s.publisher.remote}` : 'publisher disconnected: waiting for it to come back';
  }

  function render(streams) {
    const grid = $('streams');
    const seen = new Set();
    for (const s of streams) {
      seen.add(s.path);
      let card = cards.get(s.path);
      if (!card) { card = makeCard(s); cards.set(s.path, card); }
      updateCard(card, s);
      grid.append(card.el); // keeps API order (sorted by path)
    }
    for (const [path, card] of cards) {
      if (seen.has(path)) continue;
      stopLive(card);
      observer.unobserve(card.el);
      card.el.remove();
      cards.delete(path);
    }
    $('empty').hidden = streams.length > 0 || state.error != null;
  }

  // ---- previews -------------------------------------------------------------------

  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const card = cards.get(e.target.dataset.path);
      if (card) card.visible = e.isIntersecting;
    }
  });

  function previewsOn() { return $('previews').checked; }
  $('previews').checked = localStorage.getItem('sluice.previews') !== 'off';
  $('previews').addEventListener('change', () => {
    localStorage.setItem('sluice.previews', previewsOn() ? 'on' : 'off');
    if (!previewsOn()) for (const c of cards.values()) stopLive(c);
  });

  function flvPlayer(mpegts, path, video) {
    const p = mpegts.createPlayer(
      { type: 'flv', isLive: true, hasAudio: false, url: `${location.origin}/${path}.flv` },
      { enableWorker: false, enableStashBuffer: false, lazyLoad: false, liveBufferLatencyChasing: true });
    p.attachMediaElement(video);
    p.load();
    return p;
  }

  /** Draws a video's current frame or an image to cover canvas. */
  function drawCover(canvas, video) {
    const g = canvas.getContext('2d');
    const cw = canvas.width, ch = canvas.height;
    const vw = video.videoWidth || video.width, vh = video.videoHeight || video.height;
    if (!vw || !vh) return false;
    const scale = Math.max(cw / vw, ch / vh);
    const w = vw * scale, hh = vh * scale;
    g.drawImage(video, (cw - w) / 2, (ch - hh) / 2, w, hh);
    return true;
  }

  /**
   * Draws the stream's thumbnail (GET /APP/NAME.jpg: its newest keyframe,
   * decoded by the server and shared by every dashboard) into the card's
   * canvas. 503 means no keyframe yet: asked again for up to 8 s.
   */
  async function snapshot(card) {
    const deadline = Date.now() + 8000;
    for (;;) {
      const r = await fetch(`${location.origin}/${card.stream.path}.jpg`, { cache: 'no-cache' });
      if (r.ok) {
        const img = await createImageBitmap(await r.blob());
        try {
          if (drawCover(card.p.canvas, img)) {
            card.p.canvas.dataset.snap = '1';
            card.el.classList.add('has-preview');
          }
        } finally { img.close(); }
        return;
      }
      if (r.status !== 503 || Date.now() > deadline) throw new Error(`thumbnail: HTTP ${r.status}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  let snapping = false;
  async function snapLoop() {
    if (snapping || !previewsOn() || document.hidden) return;
    const now = Date.now();
    const next = [...cards.values()]
      .filter((c) => c.visible && !c.live && c.stream.publisher && c.stream.tracks && c.stream.tracks.video && now - c.snappedAt > SNAP_EVERY_MS)
      .sort((a, b) => a.snappedAt - b.snappedAt)[0];
    if (!next) return;
    snapping = true;
    next.snappedAt = now;
    try { await snapshot(next); } catch (e) { next.p.canvas.title = 'preview: ' + e.message; } finally { snapping = false; }
  }
  setInterval(snapLoop, 1000);

  async function startLive(card) {
    if (card.live || !previewsOn() || !card.stream.publisher) return;
    const video = h('video', { class: 'thumb-live', muted: true, playsinline: true });
    video.muted = true;
    card.live = { video, player: null };
    card.p.thumb.prepend(video);
    try {
      const mpegts = await S.vendor('mpegts');
      if (card.live && card.live.video === video) {
        card.live.player = flvPlayer(mpegts, card.stream.path, video);
        video.play().catch(() => {});
      }
    } catch (e) { stopLive(card); }
  }

  function stopLive(card) {
    if (!card.live) return;
    const { video, player } = card.live;
    card.live = null;
    if (player) { try { drawCover(card.p.canvas, video); player.destroy(); } catch (e) { /* ignore */ } }
    video.remove();
  }

  // ---- polling ----------------------------------------------------------------------

  async function poll() {
    try {
      const [list, server] = await Promise.all([api('streams'), api('server').catch(() => null)]);
      state.streams = list.streams || [];
      state.polls++;
      showError(null);
      render(state.streams);
      $('m-streams').textContent = String(state.streams.length);
      if (server) {
        $('m-publishers').textContent = String(server.publishers);
        $('m-viewers').textContent = String(server.viewers ? server.viewers.total : 0);
        $('m-viewers').title = viewersTitle(server.viewers || {});
        $('m-uptime').textContent = S.fmtDuration(server.uptime_seconds);
        const r = (server.listeners || []).find((l) => l.name === 'rtmp');
        if (r) rtmpPort = r.addr.slice(r.addr.lastIndexOf(':') + 1);
        $('topbar-right').textContent = `sluice ${server.version}`;
      }
      $('empty-cmd').textContent = $('empty-cmd').textContent.replace(/rtmp:\/\/[^/]+\//, `rtmp://${location.hostname}:${rtmpPort}/`);
    } catch (e) {
      showError(e);
      $('empty').hidden = true;
    }
  }

  poll();
  setInterval(() => { if (!document.hidden) poll(); }, POLL_MS);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
})();
