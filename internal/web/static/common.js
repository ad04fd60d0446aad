// Shared helpers of the Sluice pages (no framework, no build step).
'use strict';
(function () {
  const loaded = new Map();

  /** Loads a classic script once; rejects with a readable error. */
  function loadScript(url, name) {
    if (loaded.has(url)) return loaded.get(url);
    const p = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = url;
      s.async = true;
      s.onload = () => resolve();
      s.onerror = () => {
        loaded.delete(url);
        reject(new Error(`${name || url} could not be loaded: the player libraries are not in this build (run "make web", then rebuild sluice)`));
      };
      document.head.appendChild(s);
    });
    loaded.set(url, p);
    return p;
  }

  /** Loads the vendored library `key` (mpegts, hls, dash) and returns its global. */
  async function vendor(key) {
    const globals = { mpegts: 'mpegts', hls: 'Hls', dash: 'dashjs' };
    const names = { mpegts: 'mpegts.js', hls: 'hls.js', dash: 'dash.js' };
    if (window[globals[key]]) return window[globals[key]];
    const url = document.getElementById('vendor').dataset[key];
    await loadScript(url, names[key]);
    const g = window[globals[key]];
    if (!g) throw new Error(`${names[key]} loaded but did not define ${globals[key]}`);
    return g;
  }

  function fmtBitrate(kbps) {
    if (kbps == null || !isFinite(kbps)) return '—';
    if (kbps >= 1000) return (kbps / 1000).toFixed(kbps >= 10000 ? 0 : 2) + ' Mbit/s';
    return Math.round(kbps) + ' kbit/s';
  }

  function fmtSeconds(s) {
    if (s == null || !isFinite(s)) return '—';
    if (s < 10) return s.toFixed(2) + ' s';
    return s.toFixed(1) + ' s';
  }

  function fmtDuration(sec) {
    if (sec == null || !isFinite(sec)) return '—';
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
    const pad = (n) => String(n).padStart(2, '0');
    if (d) return `${d}d ${h}h ${pad(m)}m`;
    if (h) return `${h}:${pad(m)}:${pad(s)}`;
    return `${m}:${pad(s)}`;
  }

  /** h('div', {class: 'x'}, child, 'text') builds an element. */
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  /** Moving bitrate from a byte counter: call add(bytes), read kbps(). */
  class ByteRate {
    constructor(windowMs = 4000) { this.windowMs = windowMs; this.samples = []; this.total = 0; }
    add(n) { if (n > 0) this.total += n; this.mark(); }
    /** set(total) records an absolute byte counter (e.g. from getStats). */
    set(total) { this.total = total; this.mark(); }
    mark() {
      const now = performance.now();
      this.samples.push([now, this.total]);
      while (this.samples.length > 2 && now - this.samples[1][0] > this.windowMs) this.samples.shift();
    }
    kbps() {
      if (this.samples.length < 2) return null;
      const [t0, b0] = this.samples[0];
      const [t1, b1] = this.samples[this.samples.length - 1];
      if (t1 - t0 < 500) return null;
      return ((b1 - b0) * 8) / (t1 - t0); // bits per ms = kbit/s
    }
  }

  /**
   * Asks url once more (GET, no cache, at most 4 s) for the server's own
   * reason when a player library reports a failure in its own terms
   * ("NetworkError HttpStatusCodeInvalid", "DASH error 25"). Resolves with
   * {status, text} when the server refuses (text: the first line of its
   * plain-text answer, e.g. "stream live/cam1 is not published"), null when
   * it answers 2xx or cannot be reached. A 2xx body (a live FLV stream) is
   * cancelled at once.
   */
  async function serverReason(url) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 4000);
    try {
      const r = await fetch(url, { cache: 'no-store', signal: ac.signal });
      if (r.ok) {
        if (r.body) r.body.cancel().catch(() => {});
        return null;
      }
      const text = (await r.text()).trim().split('\n')[0].slice(0, 200);
      return { status: r.status, text: text || r.statusText || 'refused' };
    } catch (e) {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  window.Sluice = { loadScript, vendor, fmtBitrate, fmtSeconds, fmtDuration, h, ByteRate, serverReason };
})();
