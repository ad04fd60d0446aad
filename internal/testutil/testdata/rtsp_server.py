#!/usr/bin/python3
"""A real RTSP server for the camera-pull tests: GStreamer's gst-rtsp-server
(Debian gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, python3-gi).

It serves one shared mount, /cam, whose pipeline reads a live MPEG-TS
stream (sent by ffmpeg to a UDP port on 127.0.0.1) and packetizes it as
RTP, over TCP or UDP as the client asks: H.264 (RFC 6184) and AAC as
mpeg4-generic (RFC 3640), or with "h265-opus" H.265 (RFC 7798) and Opus
(RFC 7587). tsdemux ignores the PCR, so RTP times
follow the stream's own PTS exactly, as a camera stamps its frames (with
the PCR, a live source is stamped by arrival and jitters by milliseconds).
It listens on an ephemeral port on 127.0.0.1 and prints "PORT <n>" on
stdout once it is bound.

Usage: rtsp_server.py UDP_TS_PORT [h264-aac|h265-opus] [RTSP_PORT]
(RTSP_PORT default 0: ephemeral; a fixed one restarts a camera in place)
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ts_port = int(sys.argv[1])
    codecs = sys.argv[2] if len(sys.argv) > 2 else "h264-aac"
    rtsp_port = sys.argv[3] if len(sys.argv) > 3 else "0"
    if codecs == "h265-opus":
        tracks = ("d. ! queue ! h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96 config-interval=-1 "
                  "d. ! queue ! opusparse ! rtpopuspay name=pay1 pt=97")
    else:
        tracks = ("d. ! queue ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 "
                  "d. ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97")
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(rtsp_port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( udpsrc address=127.0.0.1 port=%d buffer-size=2097152 caps=video/mpegts,systemstream=true "
        "! tsdemux name=d ignore-pcr=true %s )" % (ts_port, tracks)
    )
    factory.set_shared(True)
    factory.set_latency(200)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("cannot attach the RTSP server", file=sys.stderr)
        sys.exit(1)
    print("PORT %d" % server.get_bound_port(), flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
