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
//! `webrtc.disconnect_timeout` (no RTCP, no consent check, no PATCH: it vanished), or when
//! its path closes. ICE going `disconnected` does not end it: the viewer has the disconnect
//! timeout to come back by itself or with an ICE restart. However it ends, its task removes its routes and registry entry and drops its
//! hub reader, so the path can linger-close. [`WebRtc::sessions`] reports each session's
//! state, age and stats: our frame counters plus str0m's per-track RTCP statistics
//! (packets/bytes sent, NACK/PLI/FIR received, loss, jitter, RTT).
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

use serde::Serialize;

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
    pub async fn start(
        config: &watchpost_config::WebRtcConfig,
        hub: HubHandle,
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

    /// Ends a session (its task stops, its reader detaches, its routes go). `false` if no
    /// such session exists.
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

    /// Ends every session and stops the mux; returns when their tasks have ended.
    pub async fn shutdown(&self) {
        self.shared.shutdown().await;
    }
}
