//! WebRTC egress: every hub path playable over WHEP, on [str0m](https://docs.rs/str0m).
//!
//! ```text
//! hub Reader ──▶ session task ──▶ WhepSession (str0m Rtc in RTP mode: SRTP) ──▶ shared UDP socket ──▶ viewer
//!                     ▲                                   (one GSO send per frame; or its ICE-TCP conn.) │
//!                     └──── session inbox ◀── mux task (routes by ufrag / address) ◀─────────────────────┘
//! ```
//!
//! A frame is packetized into RTP payloads once, by the first session that sends it
//! ([`crate::payload`]); every session writes the same shared payloads with its own
//! sequence numbers and SSRC, and str0m protects them (SRTP) per viewer. The one RTP header
//! extension negotiated is `mid`. Why, and what it bought: `docs/decisions/0002`.
//!
//! Vocabulary:
//! - a **session** is one viewer (one WHEP resource, one str0m `Rtc`), named by a
//!   [`SessionId`] that is also its unguessable URL;
//! - the **mux** owns the one UDP socket all sessions share, and the ICE-TCP listener
//!   (RFC 6544 passive candidates, RFC 4571 framing) when `webrtc.tcp_listen` is set; it
//!   routes an incoming datagram to a session by the local **ufrag** in a STUN binding
//!   request's USERNAME (a new viewer address) and from then on by the viewer's
//!   **address** (and transport);
//! - a **PATCH** ([`trickle`]) adds trickled candidates to a session or restarts its ICE
//!   (new credentials, same DTLS/SRTP); its **entity tag** names the current ICE session;
//! - the **plan** ([`negotiate::Plan`]) is which path track goes out on which offered
//!   payload type;
//! - the **key-frame gate**: a session sends video only from a key frame on — after
//!   connecting, after its reader dropped frames, after a picture-loss request (PLI/FIR).
//!
//! str0m is sans-IO: [`session::WhepSession`] holds the protocol state and is driven with
//! explicit time; the tasks in `mux` own the socket, the tokio clock and the hub reader.
//! NACKs are answered by str0m from its per-session packet history (RTX). Certificates
//! are ECDSA P-256 (str0m's default through dimpl/rcgen), one per [`WebRtc`].
//!
//! Lifecycle: a session ends on `DELETE`, when ICE does not complete within
//! [`session::CONNECT_TIMEOUT`], when its connected viewer stays silent for
//! `webrtc.disconnect_timeout` (no RTCP, no consent check, no PATCH: it vanished), when the
//! viewer closes the connection (DTLS `close_notify`), when its path closes, or at
//! [`WebRtc::shutdown`] ([`EndReason`] names each). ICE going `disconnected` does not end
//! it: the viewer has the disconnect timeout to come back by itself or with an ICE restart.
//! However it ends, its task removes its routes and registry entry and drops its
//! hub reader, so the path can linger-close. [`WebRtc::sessions`] reports each session's
//! state, age and stats: our frame counters plus str0m's per-track RTCP statistics
//! (packets/bytes sent, NACK/PLI/FIR received, loss, jitter, RTT).
//!
//! Lifecycle events: a [`WebRtc`] started with [`WebRtc::start_with_events`] reports every
//! session it creates ([`SessionEvent::Started`]) and, exactly once, how and when each of
//! them ended ([`SessionEvent::Ended`] with an [`EndReason`]) — for the audit record of who
//! watched what, when. The queue is bounded ([`SESSION_EVENT_QUEUE`]) and never makes a
//! session wait: an event that finds it full is dropped and counted
//! ([`WebRtc::dropped_session_events`]).
//!
//! TURN: we are a public-facing host (the advertised addresses); viewers that need a relay
//! use the TURN servers handed to them (`webrtc.ice_servers`, WHEP `Link` headers), and
//! str0m pairs their relayed candidates with our host candidates like any other.

#[doc(hidden)]
pub mod fuzzing;
pub mod mux;
pub mod negotiate;
pub mod session;
pub mod trickle;
pub mod udp;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::hub::{HubError, HubHandle};
pub use mux::Patched;
pub use negotiate::NegotiationError;
pub use session::{PatchOutcome, SessionState, SessionStats, TrackStats, Transport};

/// Names one session; random, 22 characters of `[A-Za-z0-9]`, safe in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    fn random() -> SessionId {
        // str0m's ICE password generator: at least 128 bits of randomness, alphanumeric.
        SessionId(str0m::IceCreds::new().pass)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What can go wrong creating a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebRtcError {
    /// The offer is not SDP we can read (HTTP 400).
    #[error("malformed SDP offer: {0}")]
    MalformedOffer(String),
    /// A PATCH body is not a trickle-ICE SDP fragment (HTTP 400).
    #[error("malformed trickle-ICE SDP fragment: {0}")]
    MalformedFragment(String),
    /// No such session (HTTP 404).
    #[error("no WHEP session {0:?}")]
    UnknownSession(String),
    /// A PATCH's `If-Match` names another ICE session (HTTP 412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// Nothing the path sends is in the offer (HTTP 406).
    #[error(transparent)]
    Negotiation(#[from] NegotiationError),
    /// The hub: unknown path (404), start timeout (503 for WHEP), shut down.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The socket could not be bound.
    #[error("{0}")]
    Io(String),
    /// str0m refused something it should not have (a bug; HTTP 500).
    #[error("WebRTC: {0}")]
    Rtc(String),
    /// The WebRTC layer is shutting down.
    #[error("the WebRTC layer has shut down")]
    Closed,
}

/// One session as the API reports it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Its id.
    pub id: SessionId,
    /// The path it plays.
    pub path: String,
    /// Where it is.
    pub state: SessionState,
    /// Milliseconds since it was created.
    pub age_ms: u64,
    /// Its counters (refreshed every half second; the RTCP-based ones every second).
    pub stats: SessionStats,
}

/// A new session, as `POST /whep/{path}` answers it.
#[derive(Debug, Clone)]
pub struct Created {
    /// The session (its resource URL is `/whep/sessions/{id}`).
    pub id: SessionId,
    /// The SDP answer, with every host candidate.
    pub answer: String,
    /// The ICE session's entity tag (`ETag`), quoted.
    pub etag: String,
}

/// How many [`SessionEvent`]s the queue of [`WebRtc::start_with_events`] holds before
/// further events are dropped (and counted in [`WebRtc::dropped_session_events`]). Every
/// session makes two; a consumer that stalls (its database is down) has this many events
/// of slack, at a few hundred bytes each, before it loses any.
pub const SESSION_EVENT_QUEUE: usize = 65_536;

/// Why a session ended, as far as the session itself can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Ended on request: [`WebRtc::close_session`] (the viewer's WHEP `DELETE`).
    Requested,
    /// ICE and DTLS did not complete within [`session::CONNECT_TIMEOUT`] of the answer:
    /// the viewer never connected (blocked UDP, it gave up, the answer never reached it).
    ConnectTimeout,
    /// The connected viewer sent nothing (no RTCP, no ICE consent check, no `PATCH`) for
    /// `webrtc.disconnect_timeout`: it vanished without a `DELETE` (tab closed, network
    /// gone).
    DisconnectTimeout,
    /// The connection was closed under the session: the viewer closed it (DTLS
    /// `close_notify`, e.g. `RTCPeerConnection.close()`), or str0m dropped it (its DTLS
    /// fingerprint did not match the offer's).
    PeerClosed,
    /// The hub closed the path the session played: the path was removed (camera deleted
    /// or disabled), or the hub shut down. A camera that is merely down does not end
    /// sessions: they stay attached through its retries.
    PathClosed,
    /// [`WebRtc::shutdown`].
    Shutdown,
    /// Something failed: str0m reported an error, or the session's task ended abnormally
    /// (a panic; the runtime dropping it). The text says what, for the log.
    Error(String),
}

impl EndReason {
    /// A stable name for storage and logs: `requested`, `connect_timeout`,
    /// `disconnect_timeout`, `peer_closed`, `path_closed`, `shutdown` or `error` (the
    /// same names the `Serialize` form uses).
    pub fn kind(&self) -> &'static str {
        match self {
            EndReason::Requested => "requested",
            EndReason::ConnectTimeout => "connect_timeout",
            EndReason::DisconnectTimeout => "disconnect_timeout",
            EndReason::PeerClosed => "peer_closed",
            EndReason::PathClosed => "path_closed",
            EndReason::Shutdown => "shutdown",
            EndReason::Error(_) => "error",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::Error(text) => write!(f, "error: {text}"),
            other => f.write_str(other.kind()),
        }
    }
}

impl From<session::CloseReason> for EndReason {
    fn from(reason: session::CloseReason) -> EndReason {
        use session::CloseReason;
        match reason {
            CloseReason::PeerClosed => EndReason::PeerClosed,
            CloseReason::ConnectTimeout => EndReason::ConnectTimeout,
            CloseReason::PeerSilent => EndReason::DisconnectTimeout,
            CloseReason::PathClosed => EndReason::PathClosed,
            CloseReason::Requested => EndReason::Requested,
            CloseReason::Rtc(text) => EndReason::Error(text),
        }
    }
}

/// A session's lifecycle, as [`WebRtc::start_with_events`] reports it.
///
/// Contract, per session: one `Started` when [`WebRtc::create_session`] succeeds (queued
/// before it returns), then exactly one `Ended`, however the session ends — including
/// sessions that never connect and [`WebRtc::shutdown`]. Each session's `Started` is
/// queued before its `Ended`; events of different sessions interleave. A
/// `create_session` that fails makes no event. Times are wall-clock (`SystemTime`, for
/// the record; they move when the system clock is set): `Started::at` and
/// `Ended::started_at` are the same value. `Ended` carries everything an audit record
/// needs, so a consumer that lost the `Started` (the queue was full) still has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A session was created; its answer is on its way to the viewer.
    Started {
        /// The session.
        id: SessionId,
        /// The hub path it plays.
        path: String,
        /// When it was created.
        at: SystemTime,
    },
    /// A session ended: its reader has detached, its id is no longer known to
    /// [`WebRtc::sessions`], [`WebRtc::close_session`] or `PATCH`.
    Ended {
        /// The session.
        id: SessionId,
        /// The hub path it played.
        path: String,
        /// When it was created (as in its `Started`).
        started_at: SystemTime,
        /// When it ended.
        ended_at: SystemTime,
        /// Why.
        reason: EndReason,
    },
}

impl SessionEvent {
    /// The session the event is about.
    pub fn id(&self) -> &SessionId {
        match self {
            SessionEvent::Started { id, .. } | SessionEvent::Ended { id, .. } => id,
        }
    }

    /// The hub path of that session.
    pub fn path(&self) -> &str {
        match self {
            SessionEvent::Started { path, .. } | SessionEvent::Ended { path, .. } => path,
        }
    }
}

/// The WebRTC layer: the shared socket, its mux task and the sessions. Cheap to clone.
#[derive(Clone)]
pub struct WebRtc {
    shared: Arc<mux::Shared>,
}

impl fmt::Debug for WebRtc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebRtc")
            .field("udp", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl WebRtc {
    /// Binds `config.udp_listen` (port 0: any; see [`Self::local_addr`]) and, when set,
    /// the ICE-TCP listener `config.tcp_listen`, makes the ECDSA P-256 DTLS certificate
    /// and starts the mux task. Host candidates are the `advertised_addresses` with the
    /// bound ports, or the bound addresses themselves.
    ///
    /// Reports no [`SessionEvent`]s: see [`Self::start_with_events`].
    pub async fn start(
        config: &watchpost_config::WebRtcConfig,
        hub: HubHandle,
    ) -> Result<WebRtc, WebRtcError> {
        WebRtc::start_inner(config, hub, None).await
    }

    /// [`Self::start`], and the one receiver of the sessions' [`SessionEvent`]s (see there
    /// for what is reported when).
    ///
    /// Delivery: a bounded queue of [`SESSION_EVENT_QUEUE`] events. Sessions never wait
    /// for the consumer: an event that finds the queue full is dropped, counted in
    /// [`Self::dropped_session_events`] and logged; the consumer can resynchronise with
    /// [`Self::sessions`] (the live ones: any session it holds open that is not listed
    /// there has ended, when and why unknown). After [`Self::shutdown`] has returned every
    /// session's `Ended` is queued and the queue is closed: `recv` yields what is left,
    /// then `None`. Dropping the receiver discards further events (not counted).
    pub async fn start_with_events(
        config: &watchpost_config::WebRtcConfig,
        hub: HubHandle,
    ) -> Result<(WebRtc, mpsc::Receiver<SessionEvent>), WebRtcError> {
        let (tx, rx) = mpsc::channel(SESSION_EVENT_QUEUE);
        let webrtc = WebRtc::start_inner(config, hub, Some(tx)).await?;
        Ok((webrtc, rx))
    }

    async fn start_inner(
        config: &watchpost_config::WebRtcConfig,
        hub: HubHandle,
        events: Option<mpsc::Sender<SessionEvent>>,
    ) -> Result<WebRtc, WebRtcError> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| WebRtcError::Io("cannot generate a DTLS certificate".into()))?;
        let shared = mux::Shared::start(
            config.udp_listen,
            config.tcp_listen,
            &config.advertised_addresses,
            cert,
            config.disconnect_timeout,
            hub,
            events,
        )
        .await?;
        Ok(WebRtc { shared })
    }

    /// The bound UDP address (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr()
    }

    /// The bound ICE-TCP address, when `webrtc.tcp_listen` is set.
    pub fn tcp_local_addr(&self) -> Option<SocketAddr> {
        self.shared.tcp_addr()
    }

    /// Plays `path` to the viewer that sent `offer` (SDP text): attaches a hub reader
    /// (starting the camera; waits up to the hub's start timeout), negotiates codecs,
    /// starts the session task.
    pub async fn create_session(&self, path: &str, offer: &str) -> Result<Created, WebRtcError> {
        let (id, answer, etag) = self.shared.create_session(path, offer).await?;
        Ok(Created { id, answer, etag })
    }

    /// A WHEP `PATCH` on session `id`: `body` is a trickle-ICE SDP fragment, `if_match`
    /// the request's `If-Match` (`*`, or entity tags, one of which must be the current
    /// ICE session's). Trickled candidates join the current ICE session; new credentials
    /// restart ICE and the outcome carries the answering fragment.
    pub async fn patch_session(
        &self,
        id: &str,
        body: &str,
        if_match: Option<String>,
    ) -> Result<Patched, WebRtcError> {
        self.shared.patch_session(id, body, if_match).await
    }

    /// Ends a session (its task stops, its reader detaches, its routes go) with
    /// [`EndReason::Requested`]; returns at once, the session's `Ended` follows. `false` if
    /// no such session exists. A session that was already ending for another reason
    /// (or is asked twice) ends once, with the first reason.
    pub fn close_session(&self, id: &str) -> bool {
        self.shared.close_session(id)
    }

    /// The live sessions, ordered by id.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.shared.sessions()
    }

    /// The live sessions playing `path`, ordered by id.
    pub fn sessions_of(&self, path: &str) -> Vec<SessionInfo> {
        let mut sessions = self.shared.sessions();
        sessions.retain(|s| s.path == path);
        sessions
    }

    /// How many sessions exist.
    pub fn session_count(&self) -> usize {
        self.shared.session_count()
    }

    /// Ends every session ([`EndReason::Shutdown`]) and stops the mux; returns when their
    /// tasks have ended, their `Ended` events queued and the event queue closed. Sessions
    /// cannot be created from the moment it is called ([`WebRtcError::Closed`]).
    /// Concurrent calls wait for the first; later calls return at once.
    pub async fn shutdown(&self) {
        self.shared.shutdown().await;
    }

    /// How many [`SessionEvent`]s were dropped because the queue of
    /// [`Self::start_with_events`] was full (0 without one).
    pub fn dropped_session_events(&self) -> u64 {
        self.shared.dropped_events()
    }
}
