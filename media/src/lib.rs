//! Watchpost's media core: everything that touches packets.
//!
//! The packet path, and the module each step lives in:
//!
//! ```text
//! camera ──▶ ingest::Source ──▶ hub: StreamWriter ──▶ Reader queue ──▶ egress (WebRTC, RTSP)
//!            (one task per        (last GOP kept,       (bounded; a slow
//!             camera stream,       tracks, stats)         reader skips to the
//!             retry + backoff)                            next key frame)
//! ```
//!
//! Vocabulary:
//! - a **path** is a named stream in the hub (`gas-station/main`); it has one source;
//! - a **source** produces **frames** of one or more **tracks** (video, audio);
//! - a **reader** is one consumer of a path (a WebRTC viewer, a re-served RTSP client);
//! - a **GOP** (group of pictures) is a key frame and the frames that depend on it.
//!
//! This crate depends only on `watchpost-config`; cameras reach it as stream URIs.

pub mod cameras;
pub mod codec;
pub mod frame;
pub mod hub;
pub mod ingest;
pub mod payload;
pub mod stills;
pub mod webrtc;

pub use frame::{CodecParams, Frame, MediaKind, Track};
