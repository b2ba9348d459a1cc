//! Frames and tracks: what flows from a source through the hub to readers.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::time::Instant;

/// Video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// Pictures.
    Video,
    /// Sound.
    Audio,
}

/// A codec and the parameters a decoder needs, as carried by the source.
///
/// Video parameter sets are kept here *and* repeated in-band before every key frame (see
/// [`Frame::data`]), so a reader can start at any key frame without this struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecParams {
    /// H.264 / AVC.
    H264 {
        /// Sequence parameter set (NAL unit without start code).
        sps: Bytes,
        /// Picture parameter set (NAL unit without start code).
        pps: Bytes,
        /// Picture width in pixels.
        width: u32,
        /// Picture height in pixels.
        height: u32,
        /// RFC 6381 codec string, e.g. `avc1.4d401f`.
        rfc6381: String,
    },
    /// H.265 / HEVC.
    H265 {
        /// Video parameter set (NAL unit without start code).
        vps: Bytes,
        /// Sequence parameter set.
        sps: Bytes,
        /// Picture parameter set.
        pps: Bytes,
        /// Picture width in pixels.
        width: u32,
        /// Picture height in pixels.
        height: u32,
        /// RFC 6381 codec string, e.g. `hvc1.1.6.L93.B0`.
        rfc6381: String,
    },
    /// AAC (MPEG-4 audio).
    Aac {
        /// AudioSpecificConfig.
        config: Bytes,
        /// Samples per second.
        sample_rate: u32,
        /// Channel count.
        channels: u16,
    },
    /// G.711 A-law.
    Pcma {
        /// Samples per second (8000 for G.711).
        sample_rate: u32,
        /// Channel count.
        channels: u16,
    },
    /// G.711 µ-law.
    Pcmu {
        /// Samples per second (8000 for G.711).
        sample_rate: u32,
        /// Channel count.
        channels: u16,
    },
    /// Opus.
    Opus {
        /// RTP clock rate (always 48000 for Opus).
        sample_rate: u32,
        /// Channel count.
        channels: u16,
    },
}

impl CodecParams {
    /// Short codec name: `h264`, `h265`, `aac`, `pcma`, `pcmu`, `opus`.
    pub fn name(&self) -> &'static str {
        match self {
            CodecParams::H264 { .. } => "h264",
            CodecParams::H265 { .. } => "h265",
            CodecParams::Aac { .. } => "aac",
            CodecParams::Pcma { .. } => "pcma",
            CodecParams::Pcmu { .. } => "pcmu",
            CodecParams::Opus { .. } => "opus",
        }
    }

    /// Video or audio.
    pub fn kind(&self) -> MediaKind {
        match self {
            CodecParams::H264 { .. } | CodecParams::H265 { .. } => MediaKind::Video,
            _ => MediaKind::Audio,
        }
    }

    /// Picture size in pixels, for video.
    pub fn dimensions(&self) -> Option<(u32, u32)> {
        match self {
            CodecParams::H264 { width, height, .. } | CodecParams::H265 { width, height, .. } => {
                Some((*width, *height))
            }
            _ => None,
        }
    }

    /// For H.264: whether the stream may contain B-frames (pictures sent before pictures
    /// they are displayed after), which browsers' WebRTC decoders reject. `None` for other
    /// codecs or an SPS that cannot be parsed. See
    /// [`Sps::may_have_b_frames`](crate::codec::h264::Sps::may_have_b_frames).
    pub fn may_have_b_frames(&self) -> Option<bool> {
        match self {
            CodecParams::H264 { sps, .. } => crate::codec::h264::Sps::parse(sps)
                .ok()
                .map(|sps| sps.may_have_b_frames()),
            _ => None,
        }
    }

    /// Samples per second and channels, for audio.
    pub fn audio_format(&self) -> Option<(u32, u16)> {
        match self {
            CodecParams::Aac {
                sample_rate,
                channels,
                ..
            }
            | CodecParams::Pcma {
                sample_rate,
                channels,
            }
            | CodecParams::Pcmu {
                sample_rate,
                channels,
            }
            | CodecParams::Opus {
                sample_rate,
                channels,
            } => Some((*sample_rate, *channels)),
            _ => None,
        }
    }
}

/// One track of a source, as announced when the source connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Ticks per second of this track's timestamps (90000 for video, the sample rate for
    /// most audio, 48000 for Opus).
    pub clock_rate: u32,
    /// Codec parameters; for video these may change mid-stream (see [`Frame::new_params`]).
    /// `None` when the source did not learn them before the first frame (some cameras
    /// send parameter sets only in-band).
    pub params: Option<Arc<CodecParams>>,
    /// Video or audio.
    pub kind: MediaKind,
}

/// One access unit: a whole picture or a chunk of audio.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Index of the track in the list the source announced.
    pub track: usize,
    /// Presentation timestamp in the track's clock ticks ([`Track::clock_rate`]), on a
    /// timeline that starts near 0 at each connection and never wraps.
    pub pts: i64,
    /// For video: a random-access point (IDR for H.264, IRAP for H.265), which a decoder can
    /// start from. Always `true` for audio.
    pub key: bool,
    /// The payload. H.264/H.265: Annex B (start codes), with the parameter sets in front of
    /// every key frame. AAC: one raw access unit (no ADTS header). G.711: samples. Opus:
    /// one packet.
    pub data: Bytes,
    /// Set on the frame from which new codec parameters apply (a camera changed
    /// resolution or profile mid-stream).
    pub new_params: Option<Arc<CodecParams>>,
    /// When the frame was complete at the source (the hub's clock), for latency and
    /// statistics.
    pub received: Instant,
    /// The frame's RTP payloads, packetized once by the first egress session that needs
    /// them and shared by every clone of the frame. A new frame starts with
    /// `PayloadCache::default()`; a frame whose `data` is changed must get a new one.
    pub rtp: crate::payload::PayloadCache,
}
