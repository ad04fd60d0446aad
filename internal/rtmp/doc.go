// Package rtmp implements the RTMP wire protocol (Adobe RTMP Specification
// 1.0, December 2012): the handshake (§5.2, plus the FP9 digest variant that
// Flash, FMS and ffmpeg use), chunking (§5.3), protocol control messages
// (§5.4), user control messages (§6.2, §7.1.7), command and data messages
// (§7.1, §7.2) on top of package amf0, a message-level Conn and a Client.
//
// The package is pure wire: it knows nothing about streams, paths or the hub.
// Every parser enforces Limits and returns errors instead of panicking on
// hostile input.
package rtmp
