// A small WHEP client (RFC 9725, WebRTC-HTTP Egress Protocol): a recvonly
// RTCPeerConnection for video and audio, the SDP offer POSTed to the
// endpoint as application/sdp, the answer applied, and the session resource
// (the Location header) DELETEd on leave.
'use strict';
(function () {
  class WHEPClient {
    /** @param {string} endpoint  e.g. /live/cam1/whep */
    constructor(endpoint) {
      this.endpoint = endpoint;
      this.pc = null;
      this.resource = null;
      this.stream = new MediaStream();
      this.onstate = null;
    }

    /** Negotiates the session; resolves with the MediaStream to play. */
    async start() {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
      this.pc = pc;
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.ontrack = (e) => {
        if (!this.stream.getTracks().includes(e.track)) this.stream.addTrack(e.track);
      };
      pc.onconnectionstatechange = () => this.onstate && this.onstate(pc.connectionState);
      await pc.setLocalDescription(await pc.createOffer());
      await this.gathered(pc, 2000);
      const res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp' },
        body: pc.localDescription.sdp,
      });
      const body = await res.text();
      if (res.status !== 201 && res.status !== 200) {
        // The server's plain-text reason first ("stream live/cam1 is not
        // published (HTTP 404)"); serverStatus tells the page it is the
        // server's answer, not a transport failure.
        const why = body.trim().split('\n')[0].slice(0, 200);
        const err = new Error(why ? `${why} (HTTP ${res.status})` : `WHEP endpoint answered HTTP ${res.status} ${res.statusText}`);
        err.serverStatus = res.status;
        throw err;
      }
      const loc = res.headers.get('Location');
      if (loc) this.resource = new URL(loc, new URL(this.endpoint, location.href)).href;
      if (this.pc !== pc) throw new Error('stopped');
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      return this.stream;
    }

    /** Waits for ICE gathering (non-trickle offer), at most ms. */
    gathered(pc, ms) {
      if (pc.iceGatheringState === 'complete') return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(done, ms);
        function done() { clearTimeout(t); pc.removeEventListener('icegatheringstatechange', check); resolve(); }
        function check() { if (pc.iceGatheringState === 'complete') done(); }
        pc.addEventListener('icegatheringstatechange', check);
      });
    }

    /** Ends the session: closes the peer connection and DELETEs the resource. */
    stop() {
      if (this.pc) { this.pc.close(); this.pc = null; }
      if (this.resource) {
        fetch(this.resource, { method: 'DELETE', keepalive: true }).catch(() => {});
        this.resource = null;
      }
      this.stream.getTracks().forEach((t) => t.stop());
    }
  }
  window.WHEPClient = WHEPClient;
})();
