//! Per-path statistics, as the API reports them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::frame::{MediaKind, Track};

/// A snapshot of one path.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PathStats {
    /// Path name.
    pub name: String,
    /// The source, password redacted.
    pub source: String,
    /// Runs without readers.
    pub always_on: bool,
    /// `idle`, `starting`, `ready` or `retrying`.
    pub state: &'static str,
    /// Failed attempts in a row (while `retrying`).
    pub attempt: u32,
    /// The last connection error, if any ever happened.
    pub last_error: Option<ErrorStats>,
    /// Tracks of the current connection (empty unless ready).
    pub tracks: Vec<TrackStats>,
    /// Input bitrate over the last seconds, bits per second.
    pub bitrate_in_bps: u64,
    /// Input frames per second (all tracks: video pictures and audio packets) over the
    /// last seconds.
    pub fps_in: f64,
    /// Pictures per second of the video track over the last seconds (what an operator
    /// means by a camera's frame rate).
    pub video_fps_in: f64,
    /// H.264 pictures of the video track that were B pictures (first slice a B slice, see
    /// [`h264::is_b_picture`](crate::codec::h264::is_b_picture)), since the path was
    /// created. Non-zero means the camera really sends B-frames, which browsers' WebRTC
    /// decoders show out of order (WebRTC does not reorder): set the camera's encoder
    /// profile to Baseline or disable B-frames. The first one on a path is logged as a
    /// warning. (A track's `may_have_b_frames` is only what the SPS allows.)
    pub b_frames: u64,
    /// Attached readers.
    pub readers: usize,
    /// Frames received since the path was created.
    pub frames_in: u64,
    /// Payload bytes received since the path was created.
    pub bytes_in: u64,
    /// Frames dropped for readers that fell behind (all readers together).
    pub drops: u64,
    /// AAC → Opus transcoders started for WebRTC readers (at most one at a time): when
    /// the first reader that wants Opus arrives, and on every new connection while such
    /// readers are attached.
    pub transcoders_started: u64,
    /// AAC frames the transcoder could not take in time (dropped, never waited for), or
    /// threw away while it waited to restart after a failure.
    pub transcode_drops: u64,
    /// Failures of the transcoder's GStreamer pipeline (each one logged with the path and
    /// GStreamer's error).
    pub transcode_errors: u64,
    /// Transcoder pipelines rebuilt while its readers stayed attached: after a failure
    /// (with a growing wait, 1 s to 30 s) or for new AAC parameters.
    pub transcode_restarts: u64,
    /// Connection attempts after the first one of each start (after failures or losses).
    pub reconnects: u64,
    /// Problems the source survived (packet loss, skipped bad input).
    pub warnings: u64,
    /// Connection errors by kind (`connect`, `auth`, `describe`, `setup`, `protocol`,
    /// `timeout`, `ended`).
    pub errors: BTreeMap<String, u64>,
    /// Milliseconds since the last key frame of the video track (while ready).
    pub last_key_frame_age_ms: Option<u64>,
    /// Milliseconds since the current connection became ready.
    pub ready_for_ms: Option<u64>,
}

/// A connection error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorStats {
    /// The class of error.
    pub kind: &'static str,
    /// What happened (no credentials).
    pub message: String,
    /// How long ago, in milliseconds.
    pub age_ms: u64,
}

/// One track's codec and format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PathTrackStats)]
pub struct TrackStats {
    /// `video` or `audio`.
    pub kind: MediaKind,
    /// `h264`, `h265`, `aac`, `pcma`, `pcmu`, `opus`, or `unknown` until the parameters
    /// arrive in-band.
    pub codec: &'static str,
    /// Picture width in pixels (video).
    pub width: Option<u32>,
    /// Picture height in pixels (video).
    pub height: Option<u32>,
    /// Samples per second (audio).
    pub sample_rate: Option<u32>,
    /// Channels (audio).
    pub channels: Option<u16>,
    /// Timestamp ticks per second.
    pub clock_rate: u32,
    /// H.264 only: the stream may contain B-frames, which browsers' WebRTC decoders
    /// reject (use a profile without B-frames, or the camera's sub stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub may_have_b_frames: Option<bool>,
}

impl TrackStats {
    pub(crate) fn from_track(track: &Track) -> TrackStats {
        let params = track.params.as_deref();
        TrackStats {
            kind: track.kind,
            codec: params.map_or("unknown", |p| p.name()),
            width: params.and_then(|p| p.dimensions()).map(|d| d.0),
            height: params.and_then(|p| p.dimensions()).map(|d| d.1),
            sample_rate: params.and_then(|p| p.audio_format()).map(|a| a.0),
            channels: params.and_then(|p| p.audio_format()).map(|a| a.1),
            clock_rate: track.clock_rate,
            may_have_b_frames: params.and_then(|p| p.may_have_b_frames()),
        }
    }
}
