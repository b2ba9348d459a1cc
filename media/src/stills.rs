//! Stills: one JPEG picture from a path's latest key frame.
//!
//! A *still* is a key frame (H.264 IDR or H.265 IRAP, Annex B with its parameter sets in
//! front, as the hub keeps it) decoded and encoded as a baseline JPEG at the stream's own
//! size. Cameras without an ONVIF snapshot URI get their snapshots this way; a path that is
//! idle is started for it (a reader is attached until the key frame arrives, so the usual
//! on-demand linger applies afterwards).
//!
//! [`key_frame_to_jpeg`] is synchronous and blocking (a GStreamer pipeline: `appsrc` →
//! `h264parse`/`h265parse` → `avdec_h264`/`avdec_h265` → `videoconvert` → `jpegenc` →
//! `appsink`); [`snapshot`] runs it on the blocking pool. Without the `gstreamer` feature
//! both answer [`StillError::Unsupported`].

use std::time::Duration;

use crate::frame::{CodecParams, MediaKind};
use crate::hub::{HubError, HubHandle, ReaderEvent};

/// Longest time the decoder may take for one picture, in addition to waiting for the key
/// frame.
pub const DECODE_TIMEOUT: Duration = Duration::from_secs(5);

/// A video codec stills can be decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StillCodec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    H265,
}

impl StillCodec {
    /// The codec of `params`, if it is a video codec stills support.
    pub fn of(params: &CodecParams) -> Option<StillCodec> {
        match params {
            CodecParams::H264 { .. } => Some(StillCodec::H264),
            CodecParams::H265 { .. } => Some(StillCodec::H265),
            _ => None,
        }
    }
}

/// Why no still could be made. Messages name the path and never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum StillError {
    /// The hub refused the reader (no such path, start timeout, hub closed).
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The path has no video track this build can decode.
    #[error("path {path}: no H.264 or H.265 video track to take a still from")]
    NoVideo {
        /// The path.
        path: String,
    },
    /// No key frame arrived in time (the camera stalled, or its GOP is very long).
    #[error("path {path}: no key frame within {waited:?}")]
    NoKeyFrame {
        /// The path.
        path: String,
        /// How long we waited after the path was ready.
        waited: Duration,
    },
    /// The decoder or encoder failed on the key frame; the message says how.
    #[error("decoding a still: {0}")]
    Decode(String),
    /// This build has no GStreamer (`gstreamer` feature off).
    #[error("stills need the gstreamer feature, which this build lacks")]
    Unsupported,
}

/// A JPEG picture and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Still {
    /// Baseline JPEG (`FF D8` … `FF D9`).
    pub jpeg: Vec<u8>,
    /// Picture width in pixels, as the stream's parameters announce it (0 when unknown).
    pub width: u32,
    /// Picture height in pixels (0 when unknown).
    pub height: u32,
}

/// Takes a still of `path`: attaches a reader (starting the source if idle, at most the
/// hub's start timeout), waits at most `key_frame_wait` for the first key frame of the
/// video track (the GOP cache usually has one at once), detaches, and decodes it on the
/// blocking pool (at most [`DECODE_TIMEOUT`]).
pub async fn snapshot(
    hub: &HubHandle,
    path: &str,
    key_frame_wait: Duration,
) -> Result<Still, StillError> {
    if !cfg!(feature = "gstreamer") {
        return Err(StillError::Unsupported);
    }
    let mut reader = hub.add_reader_ready(path).await?;
    let deadline = tokio::time::Instant::now() + key_frame_wait;
    let mut video: Option<(usize, StillCodec, (u32, u32))> = None;
    let no_key = || StillError::NoKeyFrame {
        path: path.to_owned(),
        waited: key_frame_wait,
    };
    let (codec, data, (width, height)) = loop {
        let event = tokio::time::timeout_at(deadline, reader.next())
            .await
            .map_err(|_| no_key())?
            .ok_or_else(no_key)?;
        match event {
            ReaderEvent::Tracks(tracks) => {
                video = tracks.iter().enumerate().find_map(|(i, t)| {
                    let params = t.params.as_deref()?;
                    (t.kind == MediaKind::Video)
                        .then(|| StillCodec::of(params))
                        .flatten()
                        .map(|c| (i, c, params.dimensions().unwrap_or((0, 0))))
                });
                if video.is_none() {
                    return Err(StillError::NoVideo {
                        path: path.to_owned(),
                    });
                }
            }
            ReaderEvent::Frame(frame) => {
                if let Some((track, codec, dims)) = video
                    && frame.track == track
                    && frame.key
                {
                    break (codec, frame.data, dims);
                }
            }
            ReaderEvent::Dropped { .. } | ReaderEvent::Discontinuity { .. } => {}
        }
    };
    drop(reader);
    let jpeg = tokio::task::spawn_blocking(move || key_frame_to_jpeg(codec, &data))
        .await
        .map_err(|e| StillError::Decode(format!("decoder task: {e}")))??;
    Ok(Still {
        jpeg,
        width,
        height,
    })
}

/// Decodes one key frame (Annex B, parameter sets in front) and encodes it as JPEG.
/// Blocks for at most [`DECODE_TIMEOUT`].
#[cfg(feature = "gstreamer")]
pub fn key_frame_to_jpeg(codec: StillCodec, annex_b: &[u8]) -> Result<Vec<u8>, StillError> {
    imp::key_frame_to_jpeg(codec, annex_b)
}

/// Without GStreamer: always [`StillError::Unsupported`].
#[cfg(not(feature = "gstreamer"))]
pub fn key_frame_to_jpeg(_codec: StillCodec, _annex_b: &[u8]) -> Result<Vec<u8>, StillError> {
    Err(StillError::Unsupported)
}

#[cfg(feature = "gstreamer")]
mod imp {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;

    use super::{DECODE_TIMEOUT, StillCodec, StillError};

    pub(super) fn key_frame_to_jpeg(
        codec: StillCodec,
        annex_b: &[u8],
    ) -> Result<Vec<u8>, StillError> {
        let err =
            |what: &str, e: &dyn std::fmt::Display| StillError::Decode(format!("{what}: {e}"));
        gst::init().map_err(|e| err("GStreamer", &e))?;
        let (caps, parse, decode) = match codec {
            StillCodec::H264 => ("video/x-h264", "h264parse", "avdec_h264"),
            StillCodec::H265 => ("video/x-h265", "h265parse", "avdec_h265"),
        };
        let description = format!(
            "appsrc name=src format=time ! {parse} ! {decode} ! videoconvert ! \
             video/x-raw,format=I420 ! jpegenc quality=85 ! appsink name=sink sync=false"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| err("pipeline (is gstreamer1.0-libav installed?)", &e))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| StillError::Decode("not a pipeline".to_owned()))?;
        let result = run(&pipeline, caps, annex_b);
        let _ = pipeline.set_state(gst::State::Null);
        result
    }

    fn run(pipeline: &gst::Pipeline, caps: &str, annex_b: &[u8]) -> Result<Vec<u8>, StillError> {
        let decode = |m: String| StillError::Decode(m);
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| decode("no appsrc".to_owned()))?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| decode("no appsink".to_owned()))?;
        src.set_caps(Some(
            &gst::Caps::builder(caps)
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
        ));
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| decode(format!("cannot play: {e}")))?;
        let mut buffer = gst::Buffer::from_slice(annex_b.to_vec());
        if let Some(b) = buffer.get_mut() {
            b.set_pts(gst::ClockTime::ZERO);
        }
        src.push_buffer(buffer)
            .map_err(|e| decode(format!("appsrc refused the frame: {e:?}")))?;
        // End of stream makes the decoder drain: the one picture comes out.
        let _ = src.end_of_stream();
        let timeout = gst::ClockTime::from_nseconds(DECODE_TIMEOUT.as_nanos() as u64);
        match sink.try_pull_sample(timeout) {
            Some(sample) => {
                let buffer = sample
                    .buffer()
                    .ok_or_else(|| decode("sample without buffer".to_owned()))?;
                let map = buffer
                    .map_readable()
                    .map_err(|e| decode(format!("map: {e}")))?;
                Ok(map.as_slice().to_vec())
            }
            None => Err(decode(bus_error(pipeline).unwrap_or_else(|| {
                format!("no picture within {DECODE_TIMEOUT:?} (not a decodable key frame?)")
            }))),
        }
    }

    fn bus_error(pipeline: &gst::Pipeline) -> Option<String> {
        let msg = pipeline.bus()?.pop_filtered(&[gst::MessageType::Error])?;
        let gst::MessageView::Error(e) = msg.view() else {
            return None;
        };
        let source = msg
            .src()
            .map_or_else(|| "pipeline".to_owned(), |s| s.name().to_string());
        Some(format!("{source}: {}", e.error()))
    }
}

#[cfg(all(test, feature = "gstreamer"))]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        let err = key_frame_to_jpeg(StillCodec::H264, &[0, 0, 0, 1, 0x65, 1, 2, 3]).unwrap_err();
        assert!(matches!(err, StillError::Decode(_)), "{err}");
    }
}
