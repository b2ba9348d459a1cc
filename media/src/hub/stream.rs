//! A path's stream: tracks, the cached GOP, the reader queues and the counters. Shared by
//! the path task (through [`StreamWriter`]), the readers and the registry (for stats).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::watch;
use tokio::time::{Duration, Instant};

use super::PathName;
use super::reader::{ReaderEvent, ReaderSlot};
use super::stats::{ErrorStats, PathStats, TrackStats};
use super::transcode::{self, OpusTimeline, OpusView, TranscodeEvent, Transcoder};
use crate::codec::h264;
use crate::frame::{CodecParams, Frame, MediaKind, Track};
use crate::ingest::{FrameSink, SourceError, SourceWarning};

/// Where a path is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathState {
    /// No source running (no reader, not `always_on`).
    Idle,
    /// The first connection attempt is under way.
    Starting,
    /// Connected; frames flow.
    Ready,
    /// The last attempt failed or the connection was lost; the next attempt waits for the
    /// backoff delay.
    Retrying {
        /// The error that ended the last attempt.
        last_error: SourceError,
        /// Failed attempts in a row.
        attempt: u32,
    },
}

impl PathState {
    /// `idle`, `starting`, `ready` or `retrying`.
    pub fn name(&self) -> &'static str {
        match self {
            PathState::Idle => "idle",
            PathState::Starting => "starting",
            PathState::Ready => "ready",
            PathState::Retrying { .. } => "retrying",
        }
    }
}

/// How far back the input bitrate and frame rate are averaged.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Minimum spacing of rate samples.
const RATE_SAMPLE_EVERY: Duration = Duration::from_millis(250);

pub(crate) struct StreamShared {
    pub(crate) name: PathName,
    /// Itself, for the transcoder's output callback.
    this: Weak<StreamShared>,
    /// Asked for its description at every statistics request: a source may learn where it
    /// pulls from only when it connects (ONVIF cameras resolve their URI then).
    source: Arc<dyn crate::ingest::Source>,
    always_on: bool,
    reader_capacity: usize,
    gop_max_bytes: u64,
    inner: Mutex<Inner>,
    state: watch::Sender<PathState>,
    /// Number of attached readers; the path task watches it for on-demand start/stop.
    pub(crate) demand: watch::Sender<usize>,
}

#[derive(Default)]
struct Inner {
    tracks: Option<Arc<[Track]>>,
    /// Index of the video track that key frames and the GOP follow (the first video track).
    lead_video: Option<usize>,
    gop: Gop,
    readers: Vec<Arc<ReaderSlot>>,
    closed: bool,
    counters: Counters,
    /// The AAC track and the tracks as Opus readers see them (`gstreamer` feature only).
    opus_view: Option<OpusView>,
    /// The path's one AAC → Opus transcoder, while an Opus reader is attached.
    transcoder: Option<Transcoder>,
    /// Increases with every transcoder start; late output of an old one is ignored.
    transcoder_generation: u64,
    /// The Opus readers' timestamps on this connection, across transcoder restarts.
    opus_timeline: OpusTimeline,
}

impl Inner {
    /// The tracks as `slot` sees them.
    fn tracks_for(&self, slot: &ReaderSlot) -> Option<Arc<[Track]>> {
        match &self.opus_view {
            Some(view) if slot.opus => Some(view.tracks.clone()),
            _ => self.tracks.clone(),
        }
    }

    /// Whether the lead video track is H.264 (as far as its parameters are known).
    fn lead_video_is_h264(&self) -> bool {
        let Some(lead) = self.lead_video else {
            return false;
        };
        self.tracks
            .as_ref()
            .and_then(|tracks| tracks.get(lead))
            .and_then(|track| track.params.as_deref())
            .is_some_and(|params| matches!(params, CodecParams::H264 { .. }))
    }

    /// `frame` is AAC that `slot` receives as Opus from the transcoder instead.
    fn transcoded_for(&self, slot: &ReaderSlot, track: usize) -> bool {
        slot.opus && self.opus_view.as_ref().is_some_and(|v| v.aac == track)
    }

    /// The parameters of the AAC track the transcoder reads, while there is one.
    fn transcoded_params(&self, track: usize) -> Option<&Arc<CodecParams>> {
        self.opus_view.as_ref().filter(|v| v.aac == track)?;
        self.tracks.as_ref()?.get(track)?.params.as_ref()
    }
}

#[derive(Default)]
struct Gop {
    frames: Vec<Frame>,
    bytes: u64,
    /// The cache holds a key frame and everything after it.
    valid: bool,
}

/// Running totals at one moment, for rates over [`RATE_WINDOW`].
#[derive(Clone, Copy)]
struct RateSample {
    at: Instant,
    bytes: u64,
    frames: u64,
    video_frames: u64,
}

#[derive(Default)]
struct Counters {
    frames_in: u64,
    bytes_in: u64,
    drops: u64,
    transcoders_started: u64,
    transcode_drops: u64,
    transcode_errors: u64,
    transcode_restarts: u64,
    reconnects: u64,
    warnings: u64,
    errors: BTreeMap<&'static str, u64>,
    last_error: Option<(SourceError, Instant)>,
    last_key_frame: Option<Instant>,
    ready_since: Option<Instant>,
    /// Pictures of the lead video track received.
    video_frames_in: u64,
    /// H.264 pictures of the lead video track that are B pictures.
    b_frames: u64,
    rate_samples: VecDeque<RateSample>,
}

impl StreamShared {
    pub(crate) fn new(
        name: PathName,
        this: Weak<StreamShared>,
        source: Arc<dyn crate::ingest::Source>,
        always_on: bool,
        reader_capacity: usize,
        gop_max_bytes: u64,
    ) -> StreamShared {
        StreamShared {
            name,
            this,
            source,
            always_on,
            reader_capacity,
            gop_max_bytes,
            inner: Mutex::default(),
            state: watch::channel(PathState::Idle).0,
            demand: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent-enough media state; keep going.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe_state(&self) -> watch::Receiver<PathState> {
        self.state.subscribe()
    }

    pub(crate) fn set_state(&self, state: PathState) {
        self.state.send_replace(state);
    }

    /// Registers a reader. On a ready path its queue starts with the tracks and the cached
    /// GOP, so its first frame is the last key frame — no wait for the camera's next IDR.
    pub(crate) fn attach(&self, opus: bool) -> Option<Arc<ReaderSlot>> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let slot = Arc::new(ReaderSlot::new(self.reader_capacity, opus));
        if let Some(tracks) = inner.tracks_for(&slot) {
            slot.push_event(ReaderEvent::Tracks(tracks));
            if inner.gop.valid {
                let mut first = true;
                for frame in &inner.gop.frames {
                    if inner.transcoded_for(&slot, frame.track) {
                        continue;
                    }
                    slot.push_frame(frame, first);
                    first = false;
                }
            }
        }
        inner.readers.push(slot.clone());
        self.sync_transcoder(&mut inner);
        drop(inner);
        self.demand.send_modify(|n| *n += 1);
        Some(slot)
    }

    pub(crate) fn detach(&self, slot: &Arc<ReaderSlot>) {
        let mut inner = self.lock();
        let before = inner.readers.len();
        inner.readers.retain(|s| !Arc::ptr_eq(s, slot));
        let removed = before != inner.readers.len();
        self.sync_transcoder(&mut inner);
        drop(inner);
        if removed {
            self.demand.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// The connection ended (or never came up). Readers are told about the discontinuity
    /// and will restart at the next connection's first key frame.
    pub(crate) fn connection_ended(&self, error: &SourceError, was_ready: bool) {
        let mut inner = self.lock();
        *inner
            .counters
            .errors
            .entry(error.kind.as_str())
            .or_default() += 1;
        inner.counters.last_error = Some((error.clone(), Instant::now()));
        inner.counters.ready_since = None;
        if was_ready {
            inner.tracks = None;
            inner.opus_view = None;
            inner.gop = Gop::default();
            self.sync_transcoder(&mut inner);
            for slot in &inner.readers {
                slot.discontinuity(error.to_string());
            }
        }
    }

    pub(crate) fn count_reconnect(&self) {
        self.lock().counters.reconnects += 1;
    }

    /// The source stopped for lack of readers (or shutdown): forget its media.
    pub(crate) fn stopped(&self) {
        let mut inner = self.lock();
        inner.tracks = None;
        inner.opus_view = None;
        self.sync_transcoder(&mut inner);
        inner.opus_timeline = OpusTimeline::default();
        inner.gop = Gop::default();
        inner.counters.ready_since = None;
        inner.counters.rate_samples.clear();
    }

    /// The path is gone: wake every reader with end-of-stream.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        for slot in inner.readers.drain(..) {
            slot.close();
        }
        self.sync_transcoder(&mut inner);
    }

    /// Starts the path's transcoder when an Opus reader is attached to a path with an AAC
    /// track, and drops it when there is none (or no AAC track) any more.
    fn sync_transcoder(&self, inner: &mut Inner) {
        let wanted = match &inner.opus_view {
            Some(view) if inner.readers.iter().any(|s| s.opus) => Some((view.aac, view.channels)),
            _ => None,
        };
        match (wanted, inner.transcoder.is_some()) {
            (Some((aac, channels)), false) => {
                let Some(track) = inner.tracks.as_ref().and_then(|t| t.get(aac)).cloned() else {
                    return;
                };
                inner.transcoder_generation += 1;
                let generation = inner.transcoder_generation;
                let this = self.this.clone();
                let on_event = move |event| {
                    if let Some(stream) = this.upgrade() {
                        stream.transcoder_event(generation, aac, event);
                    }
                };
                inner.transcoder = Transcoder::start(&track, channels, on_event);
                if inner.transcoder.is_some() {
                    inner.counters.transcoders_started += 1;
                    tracing::info!(path = %self.name, track = aac, "AAC → Opus transcoder started");
                }
            }
            (None, true) => {
                inner.transcoder = None;
                tracing::info!(path = %self.name, "AAC → Opus transcoder stopped");
            }
            _ => {}
        }
    }

    /// Rebuilds the Opus readers' view of the tracks after new codec parameters. The view
    /// keeps its Opus channel count, so the Opus readers notice nothing (the transcoder
    /// picks up new AAC parameters from the frames it is offered); only when the AAC track
    /// appears or goes (its parameters became known, or it changed codec) are they sent
    /// the new tracks and the transcoder started or stopped.
    fn refresh_opus_view(&self, inner: &mut Inner) {
        let Some(tracks) = inner.tracks.clone() else {
            return;
        };
        let old = inner.opus_view.take();
        let mut view = transcode::opus_view(&tracks, old.as_ref().map(|v| v.channels));
        let old_aac = old.as_ref().map(|v| v.aac);
        if view.as_ref().map(|v| v.aac) != old_aac {
            view = transcode::opus_view(&tracks, None);
            inner.opus_view = view;
            inner.transcoder = None;
            for slot in inner.readers.iter().filter(|s| s.opus) {
                if let Some(tracks) = inner.tracks_for(slot) {
                    slot.push_event(ReaderEvent::Tracks(tracks));
                }
            }
            self.sync_transcoder(inner);
        } else {
            inner.opus_view = view;
        }
    }

    /// What the transcoder of `generation` (reading track `track`) reports; a transcoder
    /// that was replaced or stopped is not listened to any more.
    fn transcoder_event(&self, generation: u64, track: usize, event: TranscodeEvent) {
        let mut inner = self.lock();
        if inner.transcoder.is_none() || inner.transcoder_generation != generation {
            return;
        }
        match event {
            TranscodeEvent::Packet { pts, data } => {
                let frame = Frame {
                    track,
                    pts: inner.opus_timeline.place(pts),
                    key: true,
                    data,
                    new_params: None,
                    received: Instant::now(),
                    rtp: Default::default(),
                };
                // Never waits: an Opus reader that is behind drops, as for any frame.
                let starts_gop = inner.lead_video.is_none();
                let mut dropped = 0;
                for slot in inner.readers.iter().filter(|s| s.opus) {
                    dropped += slot.push_frame(&frame, starts_gop);
                }
                inner.counters.drops += dropped;
            }
            TranscodeEvent::Failed { error, retry_in } => {
                inner.counters.transcode_errors += 1;
                drop(inner);
                match retry_in {
                    Some(delay) => tracing::warn!(
                        path = %self.name,
                        ?delay,
                        "AAC → Opus transcoder of {} failed: {error}; rebuilding it in {delay:?}",
                        self.name
                    ),
                    None => tracing::warn!(
                        path = %self.name,
                        "AAC → Opus transcoder of {} failed for good: {error}; \
                         its WebRTC viewers get no audio",
                        self.name
                    ),
                }
            }
            TranscodeEvent::Restarting { cause } => {
                inner.counters.transcode_restarts += 1;
                drop(inner);
                tracing::info!(
                    path = %self.name,
                    "AAC → Opus transcoder restarting {}",
                    cause.as_str()
                );
            }
            TranscodeEvent::Discarded { frames } => inner.counters.transcode_drops += frames,
        }
    }

    pub(crate) fn stats(&self) -> PathStats {
        let state = self.state.borrow().clone();
        let inner = self.lock();
        let now = Instant::now();
        let c = &inner.counters;
        let (bitrate_in_bps, fps_in, video_fps_in) =
            match (c.rate_samples.front(), state == PathState::Ready) {
                (Some(first), true) if now > first.at => {
                    let secs = (now - first.at).as_secs_f64().max(0.001);
                    (
                        ((c.bytes_in - first.bytes) as f64 * 8.0 / secs) as u64,
                        (c.frames_in - first.frames) as f64 / secs,
                        (c.video_frames_in - first.video_frames) as f64 / secs,
                    )
                }
                _ => (0, 0.0, 0.0),
            };
        PathStats {
            name: self.name.to_string(),
            source: self.source.describe(),
            always_on: self.always_on,
            state: state.name(),
            attempt: match &state {
                PathState::Retrying { attempt, .. } => *attempt,
                _ => 0,
            },
            last_error: c.last_error.as_ref().map(|(e, at)| ErrorStats {
                kind: e.kind.as_str(),
                message: e.message.clone(),
                age_ms: (now - *at).as_millis() as u64,
            }),
            tracks: inner
                .tracks
                .iter()
                .flat_map(|t| t.iter())
                .map(TrackStats::from_track)
                .collect(),
            bitrate_in_bps,
            fps_in: (fps_in * 10.0).round() / 10.0,
            video_fps_in: (video_fps_in * 10.0).round() / 10.0,
            b_frames: c.b_frames,
            readers: inner.readers.len(),
            frames_in: c.frames_in,
            bytes_in: c.bytes_in,
            drops: c.drops,
            transcoders_started: c.transcoders_started,
            transcode_drops: c.transcode_drops,
            transcode_errors: c.transcode_errors,
            transcode_restarts: c.transcode_restarts,
            reconnects: c.reconnects,
            warnings: c.warnings,
            errors: c
                .errors
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            last_key_frame_age_ms: c
                .last_key_frame
                .filter(|_| state == PathState::Ready)
                .map(|t| (now - t).as_millis() as u64),
            ready_for_ms: c.ready_since.map(|t| (now - t).as_millis() as u64),
        }
    }
}

/// Browsers' WebRTC H.264 decoders reject B-frames: say so where the operator looks.
fn warn_if_b_frames(params: &CodecParams) {
    // Only a possibility (High/Main profiles allow reordering): the path warns when a
    // picture really carries B slices (`b_frames` in the stats).
    if params.may_have_b_frames() == Some(true) {
        tracing::info!(
            codec = params.name(),
            "the SPS allows B-frames (picture reordering); watching for real ones"
        );
    }
}

/// The source's side of a stream for one connection. Never waits for a reader.
pub(crate) struct StreamWriter {
    stream: Arc<StreamShared>,
    /// Tracks were announced on this connection.
    pub(crate) ready: bool,
    warnings_logged_at: Option<Instant>,
    warnings_unlogged: u64,
}

/// At most one warning log line per path per this interval; the rest are counted.
const WARNING_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl StreamWriter {
    pub(crate) fn new(stream: Arc<StreamShared>) -> StreamWriter {
        StreamWriter {
            stream,
            ready: false,
            warnings_logged_at: None,
            warnings_unlogged: 0,
        }
    }
}

impl FrameSink for StreamWriter {
    fn tracks(&mut self, tracks: Vec<Track>) {
        let tracks: Arc<[Track]> = tracks.into();
        let lead_video = tracks.iter().position(|t| t.kind == MediaKind::Video);
        let summary: Vec<String> = tracks
            .iter()
            .map(|t| {
                t.params
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), |p| p.name().to_owned())
            })
            .collect();
        {
            let mut inner = self.stream.lock();
            inner.tracks = Some(tracks.clone());
            inner.opus_view = transcode::opus_view(&tracks, None);
            // A new connection: a new transcoder (the AAC parameters may differ) and a new
            // timeline (readers are told by these tracks that timestamps restart).
            inner.transcoder = None;
            inner.opus_timeline = OpusTimeline::default();
            inner.lead_video = lead_video;
            inner.gop = Gop::default();
            inner.counters.ready_since = Some(Instant::now());
            inner.counters.rate_samples.clear();
            for slot in &inner.readers {
                if let Some(tracks) = inner.tracks_for(slot) {
                    slot.push_event(ReaderEvent::Tracks(tracks));
                }
            }
            self.stream.sync_transcoder(&mut inner);
        }
        self.ready = true;
        tracing::info!(tracks = ?summary, "source ready");
        for params in tracks.iter().filter_map(|t| t.params.as_deref()) {
            warn_if_b_frames(params);
        }
        self.stream.set_state(PathState::Ready);
    }

    fn frame(&mut self, frame: Frame) {
        let mut guard = self.stream.lock();
        let inner = &mut *guard;
        let len = frame.data.len() as u64;
        let now = frame.received;
        let c = &mut inner.counters;
        c.frames_in += 1;
        c.bytes_in += len;
        if inner.lead_video == Some(frame.track) {
            c.video_frames_in += 1;
        }
        if c.rate_samples
            .back()
            .is_none_or(|s| now.saturating_duration_since(s.at) >= RATE_SAMPLE_EVERY)
        {
            c.rate_samples.push_back(RateSample {
                at: now,
                bytes: c.bytes_in,
                frames: c.frames_in,
                video_frames: c.video_frames_in,
            });
            while c
                .rate_samples
                .front()
                .is_some_and(|s| now.saturating_duration_since(s.at) > RATE_WINDOW)
            {
                c.rate_samples.pop_front();
            }
        }

        if let Some(params) = &frame.new_params
            && let Some(tracks) = &inner.tracks
            && frame.track < tracks.len()
        {
            let mut updated: Vec<Track> = tracks.to_vec();
            updated[frame.track].params = Some(params.clone());
            inner.tracks = Some(updated.into());
            tracing::info!(track = frame.track, codec = params.name(), dimensions = ?params.dimensions(), audio = ?params.audio_format(), "codec parameters changed");
            warn_if_b_frames(params);
            self.stream.refresh_opus_view(inner);
        }

        // B-frames as sent, not guessed from the SPS: one slice header per picture (key
        // frames are IDR pictures, never B).
        if inner.lead_video == Some(frame.track)
            && !frame.key
            && inner.lead_video_is_h264()
            && h264::is_b_picture(&frame.data)
        {
            inner.counters.b_frames += 1;
            if inner.counters.b_frames == 1 {
                tracing::warn!(
                    path = %self.stream.name,
                    "camera path {} sends H.264 B-frames; WebRTC viewers will see them out of \
                     order; set the camera's encoder profile to Baseline or disable B-frames",
                    self.stream.name
                );
            }
        }

        let c = &mut inner.counters;
        let starts_gop = match inner.lead_video {
            Some(v) => frame.track == v && frame.key,
            None => true,
        };
        if starts_gop && inner.lead_video.is_some() {
            c.last_key_frame = Some(now);
            inner.gop.frames.clear();
            inner.gop.bytes = 0;
            inner.gop.valid = true;
        }
        if inner.gop.valid {
            if inner.gop.bytes + len > self.stream.gop_max_bytes
                || inner.gop.frames.len() >= self.stream.reader_capacity
            {
                // Too long to replay to a new reader: it will wait for the next key frame.
                inner.gop = Gop::default();
            } else {
                inner.gop.bytes += len;
                inner.gop.frames.push(frame.clone());
            }
        }

        let mut dropped = 0;
        for slot in &inner.readers {
            if !inner.transcoded_for(slot, frame.track) {
                dropped += slot.push_frame(&frame, starts_gop);
            }
        }
        inner.counters.drops += dropped;
        if let Some(transcoder) = &inner.transcoder
            && let Some(params) = inner.transcoded_params(frame.track)
            && !transcoder.offer(&frame, params)
        {
            inner.counters.transcode_drops += 1;
        }
    }

    fn warning(&mut self, warning: SourceWarning) {
        self.stream.lock().counters.warnings += 1;
        let now = Instant::now();
        let due = self
            .warnings_logged_at
            .is_none_or(|t| now.saturating_duration_since(t) >= WARNING_LOG_INTERVAL);
        if due {
            tracing::warn!(
                ?warning,
                suppressed = self.warnings_unlogged,
                "source warning"
            );
            self.warnings_logged_at = Some(now);
            self.warnings_unlogged = 0;
        } else {
            self.warnings_unlogged += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use bytes::Bytes;

    use super::*;
    use crate::codec::annexb;
    use crate::codec::h264::test_streams::{
        B_STREAM_B1, B_STREAM_B2, B_STREAM_IDR, B_STREAM_P, unhex,
    };

    /// A `tracing` subscriber that keeps the message of every warning (for the thread that
    /// installs it with `with_default`).
    #[derive(Clone, Default)]
    struct Warnings(Arc<Mutex<Vec<String>>>);

    impl Warnings {
        fn containing(&self, text: &str) -> Vec<String> {
            let all = self.0.lock().unwrap();
            all.iter().filter(|w| w.contains(text)).cloned().collect()
        }
    }

    struct Message(String);

    impl tracing::field::Visit for Message {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                let mut message = Message(String::new());
                event.record(&mut message);
                self.0.lock().unwrap().push(message.0);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// A source that is never run.
    #[derive(Debug)]
    struct TestSource;

    impl crate::ingest::Source for TestSource {
        fn describe(&self) -> String {
            "test source".to_owned()
        }
        fn run<'a>(
            &'a self,
            _sink: &'a mut dyn FrameSink,
        ) -> futures_util::future::BoxFuture<'a, SourceError> {
            Box::pin(std::future::pending())
        }
    }

    fn stream(name: &str) -> Arc<StreamShared> {
        Arc::new_cyclic(|this| {
            StreamShared::new(
                PathName::new(name).unwrap(),
                this.clone(),
                Arc::new(TestSource),
                false,
                64,
                1 << 20,
            )
        })
    }

    fn frame(track: usize, data: &[u8], key: bool) -> Frame {
        Frame {
            track,
            pts: 0,
            key,
            data: Bytes::copy_from_slice(data),
            new_params: None,
            received: Instant::now(),
            rtp: Default::default(),
        }
    }

    /// Video (with `video` parameters) and G.711 audio.
    fn tracks(video: CodecParams) -> Vec<Track> {
        vec![
            Track {
                clock_rate: 90_000,
                kind: MediaKind::Video,
                params: Some(Arc::new(video)),
            },
            Track {
                clock_rate: 8000,
                kind: MediaKind::Audio,
                params: Some(Arc::new(CodecParams::Pcma {
                    sample_rate: 8000,
                    channels: 1,
                })),
            },
        ]
    }

    /// The x264 stream with B-frames: IDR, P, B, B, P, B, B (decoding order) on track 0,
    /// and a B picture's bytes on the audio track.
    fn play(writer: &mut StreamWriter) {
        let [idr, p, b1, b2] = [B_STREAM_IDR, B_STREAM_P, B_STREAM_B1, B_STREAM_B2].map(unhex);
        writer.frame(frame(0, &idr, true));
        for _ in 0..2 {
            writer.frame(frame(0, &p, false));
            writer.frame(frame(0, &b1, false));
            writer.frame(frame(0, &b2, false));
        }
        writer.frame(frame(1, &b1, true));
    }

    #[test]
    fn b_pictures_of_the_h264_track_are_counted_and_the_first_is_logged() {
        let idr = unhex(B_STREAM_IDR);
        let mut nals = annexb::nal_units(&idr);
        let (sps, pps) = (nals.next().unwrap(), nals.next().unwrap());
        let h264 = CodecParams::H264 {
            sps: Bytes::copy_from_slice(sps),
            pps: Bytes::copy_from_slice(pps),
            width: 32,
            height: 32,
            rfc6381: "avc1.64000a".to_owned(),
        };
        let h265 = CodecParams::H265 {
            vps: Bytes::new(),
            sps: Bytes::new(),
            pps: Bytes::new(),
            width: 32,
            height: 32,
            rfc6381: "hvc1.1.6.L30.B0".to_owned(),
        };
        let warnings = Warnings::default();
        let (with_b, not_h264) = (stream("yard/main"), stream("gate/main"));
        tracing::subscriber::with_default(warnings.clone(), || {
            let mut writer = StreamWriter::new(with_b.clone());
            writer.tracks(tracks(h264));
            play(&mut writer);
            play(&mut writer);
            // The same bytes on an H.265 path are not H.264 B-frames.
            let mut writer = StreamWriter::new(not_h264.clone());
            writer.tracks(tracks(h265));
            play(&mut writer);
        });
        // Four B pictures per play, video track only; key frames are never parsed.
        assert_eq!(with_b.stats().b_frames, 8);
        assert_eq!(not_h264.stats().b_frames, 0);
        let expected = "camera path yard/main sends H.264 B-frames; WebRTC viewers will see \
                        them out of order; set the camera's encoder profile to Baseline or \
                        disable B-frames";
        let logged = warnings.containing("sends H.264 B-frames");
        assert_eq!(logged, [expected], "one warning per path, naming it");
        // The SPS allowed them too (High profile, POC type 0): only the real ones warn.
        assert_eq!(
            warnings.containing("allows B-frames").len(),
            0,
            "not a warning"
        );
    }
}
