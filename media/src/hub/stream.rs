//! A path's stream: tracks, the cached GOP, the reader queues and the counters. Shared by
//! the path task (through [`StreamWriter`]), the readers and the registry (for stats).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::watch;
use tokio::time::{Duration, Instant};

use super::PathName;
use super::reader::{ReaderEvent, ReaderSlot};
use super::stats::{ErrorStats, PathStats, TrackStats};
use super::transcode::{self, Transcoder};
use crate::frame::{Frame, MediaKind, Track};
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
    source: String,
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
    opus_view: Option<(usize, Arc<[Track]>)>,
    /// The path's one AAC → Opus transcoder, while an Opus reader is attached.
    transcoder: Option<Transcoder>,
    /// Increases with every transcoder start; late output of an old one is ignored.
    transcoder_generation: u64,
}

impl Inner {
    /// The tracks as `slot` sees them.
    fn tracks_for(&self, slot: &ReaderSlot) -> Option<Arc<[Track]>> {
        match &self.opus_view {
            Some((_, view)) if slot.opus => Some(view.clone()),
            _ => self.tracks.clone(),
        }
    }

    /// `frame` is AAC that `slot` receives as Opus from the transcoder instead.
    fn transcoded_for(&self, slot: &ReaderSlot, track: usize) -> bool {
        slot.opus
            && self
                .opus_view
                .as_ref()
                .is_some_and(|(aac, _)| *aac == track)
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
    reconnects: u64,
    warnings: u64,
    errors: BTreeMap<&'static str, u64>,
    last_error: Option<(SourceError, Instant)>,
    last_key_frame: Option<Instant>,
    ready_since: Option<Instant>,
    /// Pictures of the lead video track received.
    video_frames_in: u64,
    rate_samples: VecDeque<RateSample>,
}

impl StreamShared {
    pub(crate) fn new(
        name: PathName,
        this: Weak<StreamShared>,
        source: String,
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
            Some((aac, _)) if inner.readers.iter().any(|s| s.opus) => Some(*aac),
            _ => None,
        };
        match (wanted, inner.transcoder.is_some()) {
            (Some(aac), false) => {
                let Some(track) = inner.tracks.as_ref().and_then(|t| t.get(aac)).cloned() else {
                    return;
                };
                inner.transcoder_generation += 1;
                let generation = inner.transcoder_generation;
                let this = self.this.clone();
                let on_output = move |pts: i64, data: bytes::Bytes| {
                    if let Some(stream) = this.upgrade() {
                        stream.transcoded(generation, aac, pts, data);
                    }
                };
                inner.transcoder = Transcoder::start(&track, on_output);
                if inner.transcoder.is_some() {
                    inner.counters.transcoders_started += 1;
                    tracing::info!(track = aac, "AAC → Opus transcoder started");
                }
            }
            (None, true) => {
                inner.transcoder = None;
                tracing::info!("AAC → Opus transcoder stopped");
            }
            _ => {}
        }
    }

    /// An Opus packet from the transcoder: to the Opus readers, never waiting.
    fn transcoded(&self, generation: u64, track: usize, pts: i64, data: bytes::Bytes) {
        let mut inner = self.lock();
        if inner.transcoder.is_none() || inner.transcoder_generation != generation {
            return;
        }
        let frame = Frame {
            track,
            pts,
            key: true,
            data,
            new_params: None,
            received: Instant::now(),
        };
        let starts_gop = inner.lead_video.is_none();
        let mut dropped = 0;
        for slot in inner.readers.iter().filter(|s| s.opus) {
            dropped += slot.push_frame(&frame, starts_gop);
        }
        inner.counters.drops += dropped;
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
            source: self.source.clone(),
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
            readers: inner.readers.len(),
            frames_in: c.frames_in,
            bytes_in: c.bytes_in,
            drops: c.drops,
            transcoders_started: c.transcoders_started,
            transcode_drops: c.transcode_drops,
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
fn warn_if_b_frames(params: &crate::frame::CodecParams) {
    if params.may_have_b_frames() == Some(true) {
        tracing::warn!(
            codec = params.name(),
            "this H.264 stream may contain B-frames, which browsers cannot play over WebRTC; \
             set the camera to a profile without B-frames or use its sub stream"
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
            inner.opus_view = transcode::opus_view(&tracks);
            // A new connection: a new transcoder (the AAC parameters may differ).
            inner.transcoder = None;
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
            tracing::info!(track = frame.track, codec = params.name(), dimensions = ?params.dimensions(), "codec parameters changed");
            warn_if_b_frames(params);
        }

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
            && inner
                .opus_view
                .as_ref()
                .is_some_and(|(aac, _)| *aac == frame.track)
            && !transcoder.offer(&frame)
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
