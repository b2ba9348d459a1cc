//! Helpers shared by the RTSP source's test files (`rtsp_ingest.rs`, `replay.rs`): a sink
//! that records what a source delivers, and a source constructor.

// Each test file is its own crate and uses part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use watchpost_config::{RtspTransport, SecretUrl};
use watchpost_media::ingest::{FrameSink, RtspSource, RtspSourceSpec, SourceWarning};
use watchpost_media::{Frame, MediaKind, Track};

/// What a sink received.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Every `tracks` call.
    pub tracks: Vec<Vec<Track>>,
    /// Every frame, in order.
    pub frames: Vec<Frame>,
    /// Every warning, in order.
    pub warnings: Vec<SourceWarning>,
}

impl Seen {
    /// The frames of the tracks of `kind` (by the first track announcement).
    pub fn frames_of(&self, kind: MediaKind) -> Vec<&Frame> {
        let Some(tracks) = self.tracks.first() else {
            return Vec::new();
        };
        self.frames
            .iter()
            .filter(|f| tracks[f.track].kind == kind)
            .collect()
    }

    /// The video frames.
    pub fn video(&self) -> Vec<&Frame> {
        self.frames_of(MediaKind::Video)
    }

    /// The audio frames.
    pub fn audio(&self) -> Vec<&Frame> {
        self.frames_of(MediaKind::Audio)
    }

    /// How many video frames are key frames.
    pub fn key_frames(&self) -> usize {
        self.video().iter().filter(|f| f.key).count()
    }
}

/// A sink that records into shared state, so a test can watch while the source runs.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Seen>>);

impl Recorder {
    /// What was received so far.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FrameSink for Recorder {
    fn tracks(&mut self, tracks: Vec<Track>) {
        self.seen().tracks.push(tracks);
    }

    fn frame(&mut self, frame: Frame) {
        self.seen().frames.push(frame);
    }

    fn warning(&mut self, warning: SourceWarning) {
        self.seen().warnings.push(warning);
    }
}

/// An RTSP source for `url` without credentials or policies.
pub fn rtsp_source(url: impl Into<String>, transport: RtspTransport) -> RtspSource {
    RtspSource::new(RtspSourceSpec {
        url: SecretUrl::new(url),
        username: None,
        password: None,
        transport,
        policies: Vec::new(),
    })
    .expect("valid URL")
}
