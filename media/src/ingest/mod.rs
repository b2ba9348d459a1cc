//! Ingest: sources that pull media from cameras into the hub.
//!
//! A [`Source`] knows how to make *one* connection to a camera stream and push what it
//! receives into a [`FrameSink`]. It does not retry, keep state between connections or
//! count anything: the hub's per-path task owns the retry loop with backoff, the state and
//! the statistics, so every kind of source behaves the same way.

use std::fmt;

use futures_util::future::BoxFuture;

use crate::frame::{Frame, Track};

mod policy;
pub mod rtsp;

pub use rtsp::{RtspSource, RtspSourceSpec};

/// Receives what a source produces during one connection. Implemented by the hub's stream
/// writer; methods never block or wait for readers.
pub trait FrameSink: Send {
    /// The source is connected and playing; these are its tracks. Called once per
    /// connection, before any [`FrameSink::frame`].
    fn tracks(&mut self, tracks: Vec<Track>);

    /// A complete frame of the track at `frame.track`.
    fn frame(&mut self, frame: Frame);

    /// Something went wrong that the source survived (lost RTP packets, a frame that could
    /// not be depacketized and was skipped). Counted and logged (rate-limited) by the hub.
    fn warning(&mut self, warning: SourceWarning);
}

/// A problem a source survived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceWarning {
    /// RTP sequence numbers skipped this many packets.
    PacketLoss {
        /// Track index.
        track: usize,
        /// Packets missing.
        packets: u32,
    },
    /// Input that could not be used was skipped; the message says what (no secrets).
    BadInput {
        /// Track index, when known.
        track: Option<usize>,
        /// What was wrong.
        message: String,
    },
}

/// Why a connection ended. A live source never ends without an error: even a clean end of
/// stream is [`SourceErrorKind::Ended`], and the hub reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// The class of failure, for statistics and retry decisions.
    pub kind: SourceErrorKind,
    /// What happened, with context (stream, sequence number, …) and with credentials
    /// redacted; safe to log and to show in the API.
    pub message: String,
}

impl SourceError {
    /// Builds an error.
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for SourceError {}

/// Classes of connection failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceErrorKind {
    /// TCP connect failed or was refused, DNS failed, or the connection dropped.
    Connect,
    /// The camera rejected the credentials (401/403).
    Auth,
    /// DESCRIBE failed or its SDP was unusable (malformed, no supported track).
    Describe,
    /// SETUP or PLAY failed.
    Setup,
    /// The camera sent something that is not valid RTSP/RTP (garbage, truncated packets,
    /// an interleaved frame of absurd length).
    Protocol,
    /// Nothing arrived for too long.
    Timeout,
    /// The camera ended the stream.
    Ended,
}

impl SourceErrorKind {
    /// Stable lower-case name, as used in statistics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceErrorKind::Connect => "connect",
            SourceErrorKind::Auth => "auth",
            SourceErrorKind::Describe => "describe",
            SourceErrorKind::Setup => "setup",
            SourceErrorKind::Protocol => "protocol",
            SourceErrorKind::Timeout => "timeout",
            SourceErrorKind::Ended => "ended",
        }
    }
}

/// Something that can connect to a camera stream.
///
/// Calling contract for [`Source::run`]: it connects, calls [`FrameSink::tracks`] once
/// when playing, then [`FrameSink::frame`] for every frame, until the connection fails;
/// then it returns why. It never retries by itself. The hub cancels it by dropping the
/// future; implementations must then release the connection (a best-effort TEARDOWN for
/// RTSP) without blocking the drop.
pub trait Source: Send + Sync + fmt::Debug + 'static {
    /// What this source pulls, for logs and the API, with any password redacted
    /// (`rtsp://admin:***@192.0.2.10/main over tcp`).
    fn describe(&self) -> String;

    /// One connection; see the trait's calling contract.
    fn run<'a>(&'a self, sink: &'a mut dyn FrameSink) -> BoxFuture<'a, SourceError>;
}
