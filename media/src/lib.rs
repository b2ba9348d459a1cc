//! Watchpost's media core: everything that touches packets.
//!
//! The packet path, and the module each step will live in:
//! camera → `ingest` (a `Source` per camera stream, RTSP through retina) → `hub` (the path
//! registry; per path a stream writer, the last GOP, and a bounded queue per reader) →
//! egress (`webrtc` WHEP sessions, `rtsp` re-serving) → browser or platform.
//!
//! This crate depends only on `watchpost-config`; cameras reach it as stream URIs.
