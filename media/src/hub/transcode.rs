//! AAC → Opus, once per path, for readers that asked for WebRTC-compatible audio
//! ([`ReaderOptions::opus_audio`](super::ReaderOptions)). WebRTC has no AAC.
//!
//! The stream starts one [`Transcoder`] while at least one such reader is attached and the
//! path has an AAC track, and drops it when the last one leaves or the connection ends.
//! Those readers see the AAC track replaced by `CodecParams::Opus { sample_rate: 48000, .. }`
//! (see [`opus_view`]); the other readers keep the AAC frames.
//!
//! A transcoder is one GStreamer pipeline on its own thread:
//! `appsrc` (raw AAC access units, the AudioSpecificConfig as `codec_data`) → `aacparse` →
//! `avdec_aac` (or `faad`/`fdkaacdec`) → `audioconvert` → `audioresample` (48 kHz) →
//! `opusenc frame-size=20` → `appsink`. The writer hands frames over through a bounded
//! channel and never waits: when it is full the frame is dropped and counted
//! (`PathStats::transcode_drops`). Opus timestamps are 48 kHz ticks derived from the AAC
//! timestamps (AAC pts → nanoseconds → encoder → 48 kHz), so packets are 960 ticks apart.
//!
//! Without the `gstreamer` feature nothing is transcoded: [`opus_view`] returns `None` and
//! AAC paths play video only over WebRTC.

use std::sync::Arc;

use crate::frame::Track;

/// The AAC track that would be transcoded, and the tracks as an Opus reader sees them.
#[cfg(feature = "gstreamer")]
pub(crate) fn opus_view(tracks: &[Track]) -> Option<(usize, Arc<[Track]>)> {
    use crate::frame::{CodecParams, MediaKind};
    let index = tracks.iter().position(|t| {
        t.kind == MediaKind::Audio && matches!(t.params.as_deref(), Some(CodecParams::Aac { .. }))
    })?;
    let Some(CodecParams::Aac { channels, .. }) = tracks[index].params.as_deref() else {
        return None;
    };
    let mut view = tracks.to_vec();
    view[index] = Track {
        clock_rate: OPUS_RATE,
        kind: MediaKind::Audio,
        params: Some(Arc::new(CodecParams::Opus {
            sample_rate: OPUS_RATE,
            channels: out_channels(*channels),
        })),
    };
    Some((index, view.into()))
}

/// Without GStreamer nothing is transcoded.
#[cfg(not(feature = "gstreamer"))]
pub(crate) fn opus_view(_tracks: &[Track]) -> Option<(usize, Arc<[Track]>)> {
    None
}

#[cfg(feature = "gstreamer")]
const OPUS_RATE: u32 = 48_000;

/// Opus output is mono or stereo.
#[cfg(feature = "gstreamer")]
fn out_channels(channels: u16) -> u16 {
    channels.clamp(1, 2)
}

#[cfg(feature = "gstreamer")]
pub(crate) use imp::Transcoder;

/// Never constructed without the `gstreamer` feature.
#[cfg(not(feature = "gstreamer"))]
pub(crate) struct Transcoder(std::convert::Infallible);

#[cfg(not(feature = "gstreamer"))]
impl Transcoder {
    pub(crate) fn start(
        _track: &Track,
        _on_output: impl Fn(i64, bytes::Bytes) + Send + Sync + 'static,
    ) -> Option<Transcoder> {
        None
    }

    pub(crate) fn offer(&self, _frame: &crate::frame::Frame) -> bool {
        match self.0 {}
    }
}

#[cfg(feature = "gstreamer")]
mod imp {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

    use bytes::Bytes;
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;

    use super::{OPUS_RATE, out_channels};
    use crate::frame::{CodecParams, Frame, Track};

    /// One 20 ms Opus packet in 48 kHz ticks (`opusenc frame-size=20`).
    const PACKET_TICKS: i64 = 960;

    /// AAC frames that may wait for the transcoder (~2 s at 48 kHz, 1024 samples each).
    const QUEUE_FRAMES: usize = 96;

    /// One running AAC → Opus pipeline. Dropping it ends the pipeline (its thread drains
    /// nothing more, sends end-of-stream and stops).
    pub(crate) struct Transcoder {
        tx: SyncSender<Frame>,
    }

    impl Transcoder {
        /// Starts a pipeline for an AAC `track`; `on_output(pts_48k, opus_packet)` is
        /// called on a GStreamer thread for every Opus packet. `None` if `track` is not
        /// AAC or no thread could be started.
        pub(crate) fn start(
            track: &Track,
            on_output: impl Fn(i64, Bytes) + Send + Sync + 'static,
        ) -> Option<Transcoder> {
            let Some(CodecParams::Aac {
                config,
                sample_rate,
                channels,
            }) = track.params.as_deref()
            else {
                return None;
            };
            let (config, sample_rate, channels) = (config.clone(), *sample_rate, *channels);
            let clock_rate = track.clock_rate.max(1);
            let (tx, rx) = sync_channel(QUEUE_FRAMES);
            let spawned = std::thread::Builder::new()
                .name("aac-opus".to_owned())
                .spawn(move || {
                    if let Err(err) = run(rx, &config, sample_rate, channels, clock_rate, on_output)
                    {
                        tracing::warn!("AAC → Opus transcoder failed: {err}");
                    }
                });
            match spawned {
                Ok(_) => Some(Transcoder { tx }),
                Err(err) => {
                    tracing::warn!("cannot start the AAC → Opus transcoder thread: {err}");
                    None
                }
            }
        }

        /// Hands an AAC frame over without waiting. `false`: dropped (queue full or the
        /// pipeline failed).
        pub(crate) fn offer(&self, frame: &Frame) -> bool {
            match self.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            }
        }
    }

    fn run(
        rx: Receiver<Frame>,
        config: &Bytes,
        sample_rate: u32,
        channels: u16,
        clock_rate: u32,
        on_output: impl Fn(i64, Bytes) + Send + Sync + 'static,
    ) -> Result<(), String> {
        gst::init().map_err(|e| format!("GStreamer init: {e}"))?;
        let decoder = ["avdec_aac", "faad", "fdkaacdec"]
            .into_iter()
            .find(|name| gst::ElementFactory::find(name).is_some())
            .ok_or("no AAC decoder element (install gstreamer1.0-libav)")?;
        let description = format!(
            "appsrc name=src format=time ! aacparse ! {decoder} ! audioconvert ! \
             audioresample ! audio/x-raw,rate={OPUS_RATE},channels={} ! \
             opusenc frame-size=20 ! appsink name=sink sync=false",
            out_channels(channels)
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| format!("pipeline: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "not a pipeline")?;
        let result = feed(
            &pipeline,
            rx,
            config,
            sample_rate,
            channels,
            clock_rate,
            on_output,
        );
        let _ = pipeline.set_state(gst::State::Null);
        result
    }

    fn feed(
        pipeline: &gst::Pipeline,
        rx: Receiver<Frame>,
        config: &Bytes,
        sample_rate: u32,
        channels: u16,
        clock_rate: u32,
        on_output: impl Fn(i64, Bytes) + Send + Sync + 'static,
    ) -> Result<(), String> {
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or("no appsrc")?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or("no appsink")?;
        let caps = gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4i32)
            .field("stream-format", "raw")
            .field("rate", i32::try_from(sample_rate).unwrap_or(48_000))
            .field("channels", i32::from(channels))
            .field("codec_data", gst::Buffer::from_slice(config.clone()))
            .build();
        src.set_caps(Some(&caps));
        // opusenc shifts its first packet by the encoder lookahead; packets are 20 ms, so
        // continue at +960 ticks unless the encoder's own time is more than a packet off
        // (a gap in the input).
        let next = AtomicI64::new(i64::MIN);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let Some(pts) = buffer.pts() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let ticks =
                        (i128::from(pts.nseconds()) * i128::from(OPUS_RATE) / 1_000_000_000) as i64;
                    let expected = next.load(Ordering::Relaxed);
                    let pts = if expected != i64::MIN && (ticks - expected).abs() <= PACKET_TICKS {
                        expected
                    } else {
                        ticks
                    };
                    next.store(pts + PACKET_TICKS, Ordering::Relaxed);
                    on_output(pts, Bytes::copy_from_slice(map.as_slice()));
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| format!("cannot play: {e}"))?;
        let bus = pipeline.bus().ok_or("no bus")?;
        for frame in rx {
            if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(err) = msg.view()
            {
                return Err(format!("{} ({:?})", err.error(), err.debug()));
            }
            if frame.pts < 0 {
                continue;
            }
            let ns = i128::from(frame.pts) * 1_000_000_000 / i128::from(clock_rate);
            let mut buffer = gst::Buffer::from_slice(frame.data);
            if let Some(b) = buffer.get_mut() {
                b.set_pts(gst::ClockTime::from_nseconds(ns as u64));
            }
            src.push_buffer(buffer)
                .map_err(|e| format!("push: {e:?}"))?;
        }
        let _ = src.end_of_stream();
        Ok(())
    }
}
