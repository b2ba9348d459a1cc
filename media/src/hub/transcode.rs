//! AAC → Opus, once per path, for readers that asked for WebRTC-compatible audio
//! ([`ReaderOptions::opus_audio`](super::ReaderOptions)). WebRTC has no AAC.
//!
//! The stream starts one [`Transcoder`] while at least one such reader is attached and the
//! path has an AAC track, and drops it when the last one leaves or the connection ends.
//! Those readers see the AAC track replaced by `CodecParams::Opus { sample_rate: 48000, .. }`
//! (an [`OpusView`]); the other readers keep the AAC frames.
//!
//! A transcoder is one thread that runs one GStreamer pipeline at a time:
//! `appsrc` (raw AAC access units, the AudioSpecificConfig as `codec_data`) → `aacparse` →
//! `avdec_aac` (or `faad`/`fdkaacdec`) → `audioconvert` → `audioresample` (48 kHz, the
//! view's channel count) → `opusenc frame-size=20` → `appsink`. The writer hands frames
//! over through a bounded channel and never waits: when it is full the frame is dropped and
//! counted (`PathStats::transcode_drops`). The thread reports what happens as
//! [`TranscodeEvent`]s; the stream turns them into reader frames, counters and log lines.
//!
//! # Restarts
//!
//! The pipeline is rebuilt, while the Opus readers stay attached and see nothing but a
//! gap in the audio, when
//! - **the AAC parameters change** (sample rate, channels or AudioSpecificConfig, as
//!   [`Frame::new_params`](crate::Frame::new_params) announces on the AAC track): every
//!   frame is offered with the parameters it was coded with, so the thread notices at the
//!   first frame that has new ones — also when the frame that carried `new_params` was
//!   dropped. The old pipeline is drained (end-of-stream, at most [`DRAIN_TIMEOUT`]) so
//!   its last packets still reach the readers, and the new one starts with that frame.
//!   The Opus side does not change: 48 kHz, and the channel count the view announced.
//! - **the pipeline fails**: a GStreamer error on the bus (an element failing, the
//!   decoder failing on about [`DECODER_MAX_ERRORS`] frames in a row — wrong parameters or
//!   garbage from the camera), or a buffer it refuses. The error is reported
//!   ([`TranscodeEvent::Failed`]: the stream logs it with the path name and counts it in
//!   `transcode_errors`), the thread waits, discarding (and counting) the AAC frames
//!   offered meanwhile, then builds a new pipeline with the latest parameters. The wait is
//!   `1 s × 2^(failures in a row)`, at most 30 s ([`RESTART_INITIAL`], [`RESTART_MAX`]), so
//!   a pipeline that fails at once is rebuilt at most once a second and ever more rarely;
//!   a pipeline that delivered Opus before it failed (it worked: the input went bad) ends
//!   the run of failures, so the next wait is 1 s again. Restarts of both kinds are
//!   counted in `transcode_restarts`.
//!
//! What a restart cannot fix ends the thread for good: GStreamer not initialising, or no
//! AAC decoder installed (`gstreamer1.0-libav`). That is reported once as a failure with
//! no retry; the Opus readers then get no audio, and the frames offered are counted as
//! `transcode_drops`.
//!
//! # Timestamps
//!
//! The thread reports each Opus packet with the 48 kHz time its encoder gave it (AAC pts →
//! nanoseconds → encoder → 48 kHz ticks). The stream keeps the readers' timeline
//! ([`OpusTimeline`]): packets are 960 ticks (20 ms) apart and never go back — also
//! across restarts, whose first packets the encoder's lookahead shifts back; a gap in the
//! input (a restart's wait, lost frames) stays a gap. The timeline starts again with each
//! connection, as the readers' other tracks do.
//!
//! Without the `gstreamer` feature nothing is transcoded: [`opus_view`] returns `None` and
//! AAC paths play video only over WebRTC.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::frame::Track;

/// One 20 ms Opus packet in 48 kHz ticks (`opusenc frame-size=20`).
const PACKET_TICKS: i64 = 960;

/// First wait before rebuilding a failed pipeline; doubles with every failure in a row.
#[cfg(feature = "gstreamer")]
pub(crate) const RESTART_INITIAL: Duration = Duration::from_secs(1);
/// Longest wait before rebuilding a failed pipeline.
#[cfg(feature = "gstreamer")]
pub(crate) const RESTART_MAX: Duration = Duration::from_secs(30);
/// How long an old pipeline may take to hand out its last packets when the AAC parameters
/// change.
#[cfg(feature = "gstreamer")]
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);
/// The decoder's `max-errors`: it fails the pipeline once its undecodable frames outnumber
/// the frames it decoded since by more than this (each decoded frame forgives one failure;
/// GStreamer's default, -1, never fails). 25 frames in a row are half a second of audio
/// at 48 kHz, 1.6 s at 16 kHz; fewer are skipped (a gap in the audio), as packet loss
/// causes.
#[cfg(feature = "gstreamer")]
pub(crate) const DECODER_MAX_ERRORS: u32 = 25;

/// How the tracks look to readers that receive the AAC track as Opus.
#[derive(Debug, Clone)]
pub(crate) struct OpusView {
    /// Index of the AAC track (the same index carries Opus for these readers).
    pub(crate) aac: usize,
    /// Opus channels (1 or 2); the transcoder's output keeps it for the whole connection.
    pub(crate) channels: u16,
    /// The tracks, with the AAC one replaced by 48 kHz Opus.
    pub(crate) tracks: Arc<[Track]>,
}

/// The view for `tracks`: the first audio track with AAC parameters becomes 48 kHz Opus
/// with `channels` channels, or as many as the AAC has (mono or stereo) when `None`.
/// `None` when there is no such track (or without the `gstreamer` feature).
#[cfg(feature = "gstreamer")]
pub(crate) fn opus_view(tracks: &[Track], channels: Option<u16>) -> Option<OpusView> {
    use crate::frame::{CodecParams, MediaKind};
    let aac = tracks.iter().position(|t| {
        t.kind == MediaKind::Audio && matches!(t.params.as_deref(), Some(CodecParams::Aac { .. }))
    })?;
    let Some(CodecParams::Aac {
        channels: aac_channels,
        ..
    }) = tracks[aac].params.as_deref()
    else {
        return None;
    };
    let channels = channels.unwrap_or(*aac_channels).clamp(1, 2);
    let mut view = tracks.to_vec();
    view[aac] = Track {
        clock_rate: OPUS_RATE,
        kind: MediaKind::Audio,
        params: Some(Arc::new(CodecParams::Opus {
            sample_rate: OPUS_RATE,
            channels,
        })),
    };
    Some(OpusView {
        aac,
        channels,
        tracks: view.into(),
    })
}

/// Without GStreamer nothing is transcoded.
#[cfg(not(feature = "gstreamer"))]
pub(crate) fn opus_view(_tracks: &[Track], _channels: Option<u16>) -> Option<OpusView> {
    None
}

#[cfg(feature = "gstreamer")]
const OPUS_RATE: u32 = 48_000;

/// Why a transcoder builds a new pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "gstreamer"), allow(dead_code))]
pub(crate) enum RestartCause {
    /// The previous pipeline failed ([`TranscodeEvent::Failed`] came first).
    Failure,
    /// The AAC parameters changed.
    NewParameters,
}

impl RestartCause {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RestartCause::Failure => "after a failure",
            RestartCause::NewParameters => "for new AAC parameters",
        }
    }
}

/// What a transcoder reports, on its own thread or a GStreamer streaming thread.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "gstreamer"), allow(dead_code))]
pub(crate) enum TranscodeEvent {
    /// One Opus packet, stamped with the encoder's time in 48 kHz ticks (see
    /// [`OpusTimeline`] for what readers get).
    Packet {
        /// Encoder time, 48 kHz ticks.
        pts: i64,
        /// The packet.
        data: Bytes,
    },
    /// The pipeline failed. `retry_in`: when a new one will be built; `None`: never (the
    /// thread has ended).
    Failed {
        /// GStreamer's error, with the element that raised it.
        error: String,
        /// The wait before the restart.
        retry_in: Option<Duration>,
    },
    /// A new pipeline is being built.
    Restarting {
        /// Why.
        cause: RestartCause,
    },
    /// AAC frames thrown away while waiting to restart.
    Discarded {
        /// How many.
        frames: u64,
    },
}

/// The Opus timestamps readers see, for one connection of a path: 960 ticks apart and
/// monotonic across transcoder restarts.
#[derive(Debug, Default, Clone)]
pub(crate) struct OpusTimeline {
    next: Option<i64>,
}

impl OpusTimeline {
    /// The reader pts of a packet the encoder stamped `encoder_pts`: 960 after the previous
    /// packet when the encoder's time is at most one packet later than that (or earlier: a
    /// restarted encoder's lookahead, a pipeline that ran ahead), else the encoder's time
    /// (a gap).
    pub(crate) fn place(&mut self, encoder_pts: i64) -> i64 {
        let pts = match self.next {
            Some(next) if encoder_pts <= next.saturating_add(PACKET_TICKS) => next,
            _ => encoder_pts,
        };
        self.next = Some(pts.saturating_add(PACKET_TICKS));
        pts
    }
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
        _channels: u16,
        _on_event: impl Fn(TranscodeEvent) + Send + Sync + 'static,
    ) -> Option<Transcoder> {
        None
    }

    pub(crate) fn offer(
        &self,
        _frame: &crate::frame::Frame,
        _params: &Arc<crate::frame::CodecParams>,
    ) -> bool {
        match self.0 {}
    }
}

#[cfg(feature = "gstreamer")]
mod imp {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;

    use super::{
        DECODER_MAX_ERRORS, DRAIN_TIMEOUT, OPUS_RATE, RESTART_INITIAL, RESTART_MAX, RestartCause,
        TranscodeEvent,
    };
    use crate::frame::{CodecParams, Frame, Track};
    use crate::hub::Backoff;

    /// AAC frames that may wait for the transcoder (~2 s at 48 kHz, 1024 samples each).
    const QUEUE_FRAMES: usize = 96;

    /// How often the thread looks at the pipeline's bus while no frame arrives.
    const BUS_POLL: Duration = Duration::from_millis(100);

    /// One frame for the transcoder, with the AAC parameters of its track at the time.
    struct Input {
        frame: Frame,
        params: Arc<CodecParams>,
    }

    /// The AAC parameters a pipeline is built for.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct AacFormat {
        config: Bytes,
        sample_rate: u32,
        channels: u16,
    }

    impl AacFormat {
        fn of(params: &CodecParams) -> Option<AacFormat> {
            match params {
                CodecParams::Aac {
                    config,
                    sample_rate,
                    channels,
                } => Some(AacFormat {
                    config: config.clone(),
                    sample_rate: *sample_rate,
                    channels: *channels,
                }),
                _ => None,
            }
        }
    }

    /// One AAC → Opus transcoder: a thread running one pipeline at a time (see the
    /// [module documentation](super)). Dropping it ends the thread (the running pipeline
    /// gets end-of-stream and stops; a wait for a restart ends at once).
    pub(crate) struct Transcoder {
        tx: SyncSender<Input>,
    }

    impl Transcoder {
        /// Starts the thread for an AAC `track`, with `channels` Opus channels (1 or 2).
        /// `on_event` is called on that thread and on GStreamer's streaming threads.
        /// `None` if `track` is not AAC or no thread could be started.
        pub(crate) fn start(
            track: &Track,
            channels: u16,
            on_event: impl Fn(TranscodeEvent) + Send + Sync + 'static,
        ) -> Option<Transcoder> {
            let params = track.params.clone()?;
            let format = AacFormat::of(&params)?;
            let clock_rate = track.clock_rate.max(1);
            let (tx, rx) = sync_channel(QUEUE_FRAMES);
            let on_event: Arc<dyn Fn(TranscodeEvent) + Send + Sync> = Arc::new(on_event);
            let spawned = std::thread::Builder::new()
                .name("aac-opus".to_owned())
                .spawn(move || {
                    Worker {
                        rx,
                        clock_rate,
                        channels: channels.clamp(1, 2),
                        on_event,
                        delivered: Arc::new(AtomicBool::new(false)),
                    }
                    .run(params, format)
                });
            match spawned {
                Ok(_) => Some(Transcoder { tx }),
                Err(err) => {
                    tracing::warn!("cannot start the AAC → Opus transcoder thread: {err}");
                    None
                }
            }
        }

        /// Hands an AAC frame over without waiting, with `params`, the AAC parameters of
        /// its track now (new ones rebuild the pipeline). `false`: dropped (queue full, or
        /// the transcoder gave up).
        pub(crate) fn offer(&self, frame: &Frame, params: &Arc<CodecParams>) -> bool {
            let input = Input {
                frame: frame.clone(),
                params: params.clone(),
            };
            match self.tx.try_send(input) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            }
        }
    }

    /// How one pipeline ended.
    enum Ended {
        /// The [`Transcoder`] was dropped.
        Closed,
        /// This frame has other AAC parameters; build a pipeline for them.
        NewParameters(Input, AacFormat),
        /// The pipeline failed.
        Failed(String),
    }

    /// The transcoder thread.
    struct Worker {
        rx: Receiver<Input>,
        clock_rate: u32,
        channels: u16,
        on_event: Arc<dyn Fn(TranscodeEvent) + Send + Sync>,
        /// The current pipeline has delivered an Opus packet.
        delivered: Arc<AtomicBool>,
    }

    impl Worker {
        fn run(self, mut params: Arc<CodecParams>, mut format: AacFormat) {
            let decoder = match setup() {
                Ok(decoder) => decoder,
                Err(error) => {
                    (self.on_event)(TranscodeEvent::Failed {
                        error,
                        retry_in: None,
                    });
                    return;
                }
            };
            let backoff = Backoff::new(RESTART_INITIAL, RESTART_MAX, 0.0);
            let mut failures: u32 = 0;
            let mut first: Option<Input> = None;
            loop {
                self.delivered.store(false, Ordering::Relaxed);
                match self.run_pipeline(decoder, &mut params, &format, first.take()) {
                    Ended::Closed => return,
                    Ended::NewParameters(input, new_format) => {
                        params = input.params.clone();
                        format = new_format;
                        first = Some(input);
                        (self.on_event)(TranscodeEvent::Restarting {
                            cause: RestartCause::NewParameters,
                        });
                    }
                    Ended::Failed(error) => {
                        if self.delivered.load(Ordering::Relaxed) {
                            failures = 0;
                        }
                        let delay = backoff.delay(failures);
                        failures = failures.saturating_add(1);
                        (self.on_event)(TranscodeEvent::Failed {
                            error,
                            retry_in: Some(delay),
                        });
                        match self.discard_for(delay) {
                            None => return,
                            Some(latest) => {
                                if let Some(latest) = latest
                                    && let Some(latest_format) = AacFormat::of(&latest)
                                {
                                    params = latest;
                                    format = latest_format;
                                }
                            }
                        }
                        (self.on_event)(TranscodeEvent::Restarting {
                            cause: RestartCause::Failure,
                        });
                    }
                }
            }
        }

        /// Throws away what arrives during `delay`. `None`: the transcoder was dropped;
        /// otherwise the parameters of the last frame thrown away, if any.
        fn discard_for(&self, delay: Duration) -> Option<Option<Arc<CodecParams>>> {
            let until = Instant::now() + delay;
            let mut latest = None;
            let mut discarded = 0u64;
            let closed = loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break false;
                }
                match self.rx.recv_timeout(left) {
                    Ok(input) => {
                        discarded += 1;
                        latest = Some(input.params);
                    }
                    Err(RecvTimeoutError::Timeout) => break false,
                    Err(RecvTimeoutError::Disconnected) => break true,
                }
            };
            if discarded > 0 {
                (self.on_event)(TranscodeEvent::Discarded { frames: discarded });
            }
            (!closed).then_some(latest)
        }

        /// Builds a pipeline for `format`, feeds it (`first`, then what arrives) until it
        /// fails, the parameters change or the transcoder is dropped, and tears it down.
        fn run_pipeline(
            &self,
            decoder: &str,
            params: &mut Arc<CodecParams>,
            format: &AacFormat,
            first: Option<Input>,
        ) -> Ended {
            let pipeline = match self.build(decoder, format) {
                Ok(pipeline) => pipeline,
                Err(error) => return Ended::Failed(error),
            };
            let ended = self.feed(&pipeline, params, format, first);
            if let (Ended::NewParameters(..), Some(src)) = (&ended, appsrc(&pipeline)) {
                // Let the old pipeline hand out its last packets.
                let _ = src.end_of_stream();
                if let Some(bus) = pipeline.bus() {
                    let _ = bus.timed_pop_filtered(
                        gst::ClockTime::from_nseconds(DRAIN_TIMEOUT.as_nanos() as u64),
                        &[gst::MessageType::Eos, gst::MessageType::Error],
                    );
                }
            }
            let _ = pipeline.set_state(gst::State::Null);
            ended
        }

        fn build(&self, decoder: &str, format: &AacFormat) -> Result<gst::Pipeline, String> {
            let description = format!(
                "appsrc name=src format=time ! aacparse ! \
                 {decoder} max-errors={DECODER_MAX_ERRORS} ! audioconvert ! audioresample ! \
                 audio/x-raw,rate={OPUS_RATE},channels={} ! \
                 opusenc frame-size=20 ! appsink name=sink sync=false",
                self.channels
            );
            let pipeline = gst::parse::launch(&description)
                .map_err(|e| format!("pipeline: {e}"))?
                .downcast::<gst::Pipeline>()
                .map_err(|_| "not a pipeline")?;
            let src = appsrc(&pipeline).ok_or("no appsrc")?;
            let sink = pipeline
                .by_name("sink")
                .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
                .ok_or("no appsink")?;
            let caps = gst::Caps::builder("audio/mpeg")
                .field("mpegversion", 4i32)
                .field("stream-format", "raw")
                .field("rate", i32::try_from(format.sample_rate).unwrap_or(48_000))
                .field("channels", i32::from(format.channels))
                .field("codec_data", gst::Buffer::from_slice(format.config.clone()))
                .build();
            src.set_caps(Some(&caps));
            let on_event = self.on_event.clone();
            let delivered = self.delivered.clone();
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                        let Some(pts) = buffer.pts() else {
                            return Ok(gst::FlowSuccess::Ok);
                        };
                        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                        let ticks = (i128::from(pts.nseconds()) * i128::from(OPUS_RATE)
                            / 1_000_000_000) as i64;
                        delivered.store(true, Ordering::Relaxed);
                        on_event(TranscodeEvent::Packet {
                            pts: ticks,
                            data: Bytes::copy_from_slice(map.as_slice()),
                        });
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
            pipeline
                .set_state(gst::State::Playing)
                .map_err(|e| format!("cannot play: {e}"))?;
            Ok(pipeline)
        }

        fn feed(
            &self,
            pipeline: &gst::Pipeline,
            params: &mut Arc<CodecParams>,
            format: &AacFormat,
            first: Option<Input>,
        ) -> Ended {
            let (Some(src), Some(bus)) = (appsrc(pipeline), pipeline.bus()) else {
                return Ended::Failed("pipeline without appsrc or bus".to_owned());
            };
            let mut pending = first;
            loop {
                if let Some(error) = bus_error(&bus, None) {
                    return Ended::Failed(error);
                }
                let input = match pending.take() {
                    Some(input) => input,
                    None => match self.rx.recv_timeout(BUS_POLL) {
                        Ok(input) => input,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => {
                            let _ = src.end_of_stream();
                            return Ended::Closed;
                        }
                    },
                };
                if !Arc::ptr_eq(&input.params, params) {
                    match AacFormat::of(&input.params) {
                        Some(new) if new != *format => return Ended::NewParameters(input, new),
                        // The same parameters announced again.
                        Some(_) => *params = input.params.clone(),
                        // Not AAC: nothing this transcoder can do with the frame.
                        None => continue,
                    }
                }
                let frame = input.frame;
                if frame.pts < 0 {
                    continue;
                }
                let ns = i128::from(frame.pts) * 1_000_000_000 / i128::from(self.clock_rate);
                let mut buffer = gst::Buffer::from_slice(frame.data);
                if let Some(b) = buffer.get_mut() {
                    b.set_pts(gst::ClockTime::from_nseconds(ns as u64));
                }
                if let Err(flow) = src.push_buffer(buffer) {
                    // The reason is on the bus, unless the pipeline just stopped taking data.
                    let error = bus_error(&bus, Some(BUS_POLL))
                        .unwrap_or_else(|| format!("appsrc refused a buffer: {flow:?}"));
                    return Ended::Failed(error);
                }
            }
        }
    }

    fn appsrc(pipeline: &gst::Pipeline) -> Option<gst_app::AppSrc> {
        pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
    }

    /// An error message waiting on `bus` (or arriving within `wait`), as text naming the
    /// element that raised it.
    fn bus_error(bus: &gst::Bus, wait: Option<Duration>) -> Option<String> {
        let msg = match wait {
            None => bus.pop_filtered(&[gst::MessageType::Error])?,
            Some(wait) => bus.timed_pop_filtered(
                gst::ClockTime::from_nseconds(wait.as_nanos() as u64),
                &[gst::MessageType::Error],
            )?,
        };
        let gst::MessageView::Error(err) = msg.view() else {
            return None;
        };
        let source = msg
            .src()
            .map_or_else(|| "pipeline".to_owned(), |s| s.name().to_string());
        // The debug text names the source file and element path, over several lines.
        Some(match err.debug() {
            Some(debug) => format!(
                "{source}: {} ({})",
                err.error(),
                debug.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            None => format!("{source}: {}", err.error()),
        })
    }

    /// Initialises GStreamer and picks the AAC decoder: what a restart cannot fix.
    fn setup() -> Result<&'static str, String> {
        gst::init().map_err(|e| format!("GStreamer init: {e}"))?;
        ["avdec_aac", "faad", "fdkaacdec"]
            .into_iter()
            .find(|name| gst::ElementFactory::find(name).is_some())
            .ok_or_else(|| "no AAC decoder element (install gstreamer1.0-libav)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_timeline_is_continuous_monotonic_and_keeps_gaps() {
        let mut t = OpusTimeline::default();
        // The encoder's first packet is shifted back by its lookahead: taken as it is.
        assert_eq!(t.place(-312), -312);
        // Jitter within a packet snaps to the 960-tick grid.
        assert_eq!(t.place(700), 648);
        assert_eq!(t.place(1500), 1608);
        // A restarted encoder behind the timeline: never backwards.
        assert_eq!(t.place(0), 2568);
        assert_eq!(t.place(960), 3528);
        // A gap of more than a packet stays a gap.
        assert_eq!(t.place(48_000), 48_000);
        assert_eq!(t.place(48_960), 48_960);
        // Extremes do not overflow.
        let mut t = OpusTimeline::default();
        assert_eq!(t.place(i64::MAX), i64::MAX);
        assert_eq!(t.place(0), i64::MAX);
    }

    #[cfg(feature = "gstreamer")]
    #[test]
    fn opus_view_replaces_the_first_aac_track() {
        use crate::frame::{CodecParams, MediaKind};
        let aac = |channels| Track {
            clock_rate: 44_100,
            kind: MediaKind::Audio,
            params: Some(Arc::new(CodecParams::Aac {
                config: Bytes::from_static(&[0x12, 0x10]),
                sample_rate: 44_100,
                channels,
            })),
        };
        let video = Track {
            clock_rate: 90_000,
            kind: MediaKind::Video,
            params: None,
        };
        let view = opus_view(&[video.clone(), aac(6)], None).unwrap();
        assert_eq!((view.aac, view.channels), (1, 2));
        assert_eq!(view.tracks[0], video);
        assert_eq!(view.tracks[1].clock_rate, 48_000);
        assert_eq!(
            view.tracks[1].params.as_deref(),
            Some(&CodecParams::Opus {
                sample_rate: 48_000,
                channels: 2
            })
        );
        // A view rebuilt for new parameters keeps its channel count.
        let kept = opus_view(&[video.clone(), aac(1)], Some(2)).unwrap();
        assert_eq!(kept.channels, 2);
        assert_eq!(
            opus_view(&[video.clone(), aac(1)], None).unwrap().channels,
            1
        );
        assert!(opus_view(&[video], None).is_none());
    }
}
