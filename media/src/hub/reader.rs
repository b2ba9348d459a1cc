//! Readers: one bounded queue per consumer of a path.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Duration;

use super::HubError;
use super::stream::{PathState, StreamShared};
use crate::frame::{Frame, Track};

/// What a reader receives, in order.
#[derive(Debug, Clone)]
pub enum ReaderEvent {
    /// The source's tracks. Comes first, and again after every reconnect (the tracks or
    /// their parameters may differ). Frames refer to tracks by index in this list.
    Tracks(Arc<[Track]>),
    /// A frame. The first frame after `Tracks`, `Dropped` or `Discontinuity` is a key frame
    /// of the video track (any frame for audio-only paths).
    Frame(Frame),
    /// This reader fell behind: its backlog and the frames up to the next key frame were
    /// skipped. `frames` counts them.
    Dropped {
        /// Frames this reader missed.
        frames: u64,
    },
    /// The connection to the camera was lost; timestamps restart with the next connection,
    /// announced by a new `Tracks`. The reader stays attached.
    Discontinuity {
        /// Why, redacted (safe to show).
        reason: String,
    },
}

pub(crate) struct ReaderSlot {
    /// Receives AAC transcoded to Opus ([`super::ReaderOptions::opus_audio`]).
    pub(crate) opus: bool,
    queue: Mutex<Queue>,
    notify: Notify,
}

struct Queue {
    events: VecDeque<ReaderEvent>,
    /// Frames among `events` (control events do not count against the capacity).
    frames: usize,
    capacity: usize,
    /// A starting frame (key frame) was queued since the last (re)start.
    started: bool,
    /// Overflowed: dropping until the next starting frame.
    skipping: bool,
    pending_drops: u64,
    total_drops: u64,
    closed: bool,
}

impl ReaderSlot {
    pub(crate) fn new(capacity: usize, opus: bool) -> ReaderSlot {
        ReaderSlot {
            opus,
            queue: Mutex::new(Queue {
                events: VecDeque::with_capacity(capacity.min(64)),
                frames: 0,
                capacity,
                started: false,
                skipping: false,
                pending_drops: 0,
                total_drops: 0,
                closed: false,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push_event(&self, event: ReaderEvent) {
        self.lock().events.push_back(event);
        self.notify.notify_one();
    }

    /// Offers a frame; never waits. `starts_gop`: a key frame of the lead video track (or
    /// any frame on an audio-only path). Returns how many frames this reader dropped now.
    pub(crate) fn push_frame(&self, frame: &Frame, starts_gop: bool) -> u64 {
        let mut q = self.lock();
        if q.closed {
            return 0;
        }
        if !q.started {
            // Waiting for the first key frame after attach or a discontinuity: not a drop.
            if !starts_gop {
                return 0;
            }
            q.started = true;
        }
        let mut dropped = 0;
        if q.skipping {
            if !starts_gop {
                q.pending_drops += 1;
                q.total_drops += 1;
                return 1;
            }
        } else if q.frames >= q.capacity {
            // Overflow: the backlog is stale; throw it away (keeping control events) and
            // resume at the next key frame.
            let backlog = q.frames as u64;
            q.events.retain(|e| !matches!(e, ReaderEvent::Frame(_)));
            q.frames = 0;
            q.pending_drops += backlog;
            q.total_drops += backlog;
            dropped += backlog;
            if !starts_gop {
                q.skipping = true;
                q.pending_drops += 1;
                q.total_drops += 1;
                return dropped + 1;
            }
        }
        if q.pending_drops > 0 {
            let frames = std::mem::take(&mut q.pending_drops);
            q.events.push_back(ReaderEvent::Dropped { frames });
        }
        q.skipping = false;
        q.events.push_back(ReaderEvent::Frame(frame.clone()));
        q.frames += 1;
        drop(q);
        self.notify.notify_one();
        dropped
    }

    pub(crate) fn discontinuity(&self, reason: String) {
        let mut q = self.lock();
        q.events.push_back(ReaderEvent::Discontinuity { reason });
        q.started = false;
        q.skipping = false;
        q.pending_drops = 0;
        drop(q);
        self.notify.notify_one();
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    fn pop(&self) -> Result<Option<ReaderEvent>, ()> {
        let mut q = self.lock();
        match q.events.pop_front() {
            Some(event) => {
                if matches!(event, ReaderEvent::Frame(_)) {
                    q.frames -= 1;
                }
                Ok(Some(event))
            }
            None if q.closed => Err(()),
            None => Ok(None),
        }
    }

    fn drops(&self) -> u64 {
        self.lock().total_drops
    }
}

/// One consumer of a path: a WebRTC viewer, a re-served RTSP client, a test.
///
/// Dropping it detaches it from the path (the path lingers, then stops its source when it
/// was the last reader).
pub struct Reader {
    stream: Arc<StreamShared>,
    slot: Option<Arc<ReaderSlot>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.stream.name)
            .finish_non_exhaustive()
    }
}

impl Reader {
    pub(crate) fn attach(stream: Arc<StreamShared>, options: super::ReaderOptions) -> Reader {
        let slot = stream.attach(options.opus_audio);
        Reader { stream, slot }
    }

    /// The path this reader reads.
    pub fn path(&self) -> &str {
        self.stream.name.as_str()
    }

    /// The next event; waits for it. `None` once the path is removed or the hub shut down.
    ///
    /// Cancel-safe: dropping the future loses no event.
    pub async fn next(&mut self) -> Option<ReaderEvent> {
        let slot = self.slot.as_ref()?;
        loop {
            let notified = slot.notify.notified();
            match slot.pop() {
                Ok(Some(event)) => return Some(event),
                Err(()) => return None,
                Ok(None) => notified.await,
            }
        }
    }

    /// The next event if one is queued, without waiting.
    pub fn try_next(&mut self) -> Option<ReaderEvent> {
        self.slot.as_ref()?.pop().ok().flatten()
    }

    /// Whether the path is removed or the hub shut down, even while events are still
    /// queued (which [`Self::next`] hands out before its `None`). Never waits.
    pub fn is_closed(&self) -> bool {
        self.slot.as_ref().is_none_or(|s| s.lock().closed)
    }

    /// Frames this reader has missed because it fell behind.
    pub fn drops(&self) -> u64 {
        self.slot.as_ref().map_or(0, |s| s.drops())
    }

    /// Waits until the path is ready (its tracks are known), at most `timeout`. On timeout
    /// the reader is detached and the error carries the path's state and last error.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), HubError> {
        let mut state = self.stream.subscribe_state();
        let ready = tokio::time::timeout(timeout, state.wait_for(|s| *s == PathState::Ready)).await;
        match ready {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(HubError::Closed),
            Err(_) => {
                let stats = self.stream.stats();
                self.detach();
                Err(HubError::StartTimeout {
                    path: self.stream.name.to_string(),
                    timeout,
                    state: stats.state,
                    last_error: stats
                        .last_error
                        .map(|e| format!("{}: {}", e.kind, e.message)),
                })
            }
        }
    }

    fn detach(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.stream.detach(&slot);
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.detach();
    }
}
