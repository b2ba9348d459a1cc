//! One WHEP viewer as a sans-IO state machine around a str0m [`Rtc`].
//!
//! Calling contract (the session task in [`super::mux`] is the only caller):
//! 1. [`WhepSession::accept`] the viewer's offer against the path's tracks → the session
//!    and the SDP answer.
//! 2. Loop: call [`WhepSession::poll`] until it returns [`Poll::Wait`] (send every
//!    [`Poll::Transmit`] on the shared socket) or [`Poll::Closed`] (stop).
//! 3. Feed what happens, each with the current time: a datagram for this session (UDP, or
//!    one RFC 4571 frame of an ICE-TCP connection) → [`WhepSession::handle_datagram`]; a
//!    WHEP `PATCH` (trickle ICE, ICE restart) → [`WhepSession::patch`], then re-read
//!    [`WhepSession::local_ufrag`]; the deadline of `Wait` passed →
//!    [`WhepSession::handle_timeout`]; a hub reader event → [`WhepSession::handle_reader`]
//!    (only while [`WhepSession::wants_media`]). Then go back to 2.
//!
//! No sockets, no clock, no tasks here: time comes in as arguments, so tests can drive it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, KeyframeRequestKind, MediaKind as RtcKind, Mid, Pt};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::{Extension, RtpWrite};
use str0m::stats::{MediaEgressStats, PeerStats};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use super::WebRtcError;
use super::negotiate::{OfferSummary, Plan, TrackPlan, negotiate};
use super::trickle::{self, IceFragment};
use crate::frame::{Frame, Track};
use crate::hub::ReaderEvent;
use crate::payload;

/// The largest RTP payload we send: with the 12-byte RTP header, the `mid` extension
/// (8 bytes) and the SRTP tag (16) a packet stays inside str0m's 1150-byte datagram
/// target, well under any path MTU.
pub const RTP_PAYLOAD_MAX: usize = 1100;

/// Our preferred id of the `mid` RTP header extension (the offer's id wins).
const MID_EXTENSION_ID: u8 = 4;

/// A viewer that has not completed ICE and DTLS within this time is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A picture-loss request this soon after the last key frame went out is only counted: the
/// viewer is most likely asking for the key frame that is already on its way.
const KEYFRAME_REQUEST_GRACE: Duration = Duration::from_millis(500);

/// The per-session view of the GOP cache (for answering picture-loss requests) holds at
/// most this many frames ...
const GOP_MAX_FRAMES: usize = 300;
/// ... and this many bytes; a longer GOP is not replayed (the viewer waits for the
/// source's next key frame instead): a burst that large would itself cause loss.
const GOP_MAX_BYTES: usize = 2 * 1024 * 1024;

/// The shortest disconnect timeout honoured (a configured 0 would end every session).
pub const MIN_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How a datagram travels between the viewer and us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The shared UDP socket.
    Udp,
    /// An ICE-TCP connection to our passive TCP candidate (RFC 6544), framed as RFC 4571
    /// says (two-byte big-endian length, then the packet).
    Tcp,
}

impl Transport {
    fn proto(self) -> Protocol {
        match self {
            Transport::Udp => Protocol::Udp,
            Transport::Tcp => Protocol::Tcp,
        }
    }

    fn from_proto(p: Protocol) -> Option<Transport> {
        match p {
            Protocol::Udp => Some(Transport::Udp),
            Protocol::Tcp => Some(Transport::Tcp),
            _ => None,
        }
    }
}

/// What a WHEP `PATCH` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    /// Candidates were added to the current ICE session (HTTP 204).
    Trickled {
        /// How many candidates were added.
        added: usize,
    },
    /// The ICE session restarted with the viewer's new credentials (HTTP 200).
    Restarted {
        /// The answer: our new credentials and candidates, as a trickle-ICE SDP fragment.
        fragment: String,
    },
}

/// What every session of a mux shares: the DTLS certificate, the host candidates and the
/// timeouts.
#[derive(Debug, Clone)]
pub struct SessionSetup {
    /// ECDSA P-256 certificate (aiortc accepts nothing else), one per mux.
    pub cert: DtlsCert,
    /// Host candidates announced in every answer: the bound address or the advertised
    /// ones. The first is also the local address incoming datagrams are reported on.
    pub candidates: Vec<SocketAddr>,
    /// Passive ICE-TCP host candidates (the TCP listener's port on the same addresses);
    /// empty when `webrtc.tcp_listen` is not set.
    pub tcp_candidates: Vec<SocketAddr>,
    /// A connected session that hears nothing from its viewer for this long ends with
    /// [`CloseReason::PeerSilent`] (`webrtc.disconnect_timeout`; at least
    /// [`MIN_DISCONNECT_TIMEOUT`]).
    pub disconnect_timeout: Duration,
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Answer sent; waiting for ICE and DTLS.
    Connecting,
    /// Media flows.
    Connected,
    /// Over.
    Closed,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// str0m's connection is over (`Rtc::is_alive` is false): the viewer closed it (DTLS
    /// `close_notify`; str0m drains its own close first), or str0m dropped it (a DTLS
    /// fingerprint that does not match the offer).
    PeerClosed,
    /// ICE and DTLS did not complete within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// Nothing arrived from the connected viewer (no RTCP, no consent check) for
    /// [`SessionSetup::disconnect_timeout`]: it vanished without `DELETE`.
    PeerSilent,
    /// The hub closed the path (removed, or shutdown).
    PathClosed,
    /// Ended on request (`DELETE`, or the server shutting down).
    Requested,
    /// str0m reported an error.
    Rtc(String),
}

/// Counters of one session: ours, and str0m's RTP/RTCP statistics (refreshed every
/// second from `Event::MediaEgressStats` and `Event::PeerStats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionStats {
    /// Video frames handed to str0m.
    pub video_frames: u64,
    /// Audio frames handed to str0m.
    pub audio_frames: u64,
    /// Key frames handed to str0m.
    pub key_frames: u64,
    /// H.264 pictures with B slices handed to str0m. WebRTC has no picture reordering:
    /// browsers show these out of order (a jerky picture). Non-zero means the camera's
    /// encoder should be set to a profile without B-frames (the path warns too).
    pub b_frames: u64,
    /// Picture loss indications (PLI) received.
    pub pli: u64,
    /// Full intra requests (FIR) received.
    pub fir: u64,
    /// Video frames not sent because the viewer waited for a key frame (after connect,
    /// a PLI/FIR or a reader drop).
    pub frames_skipped_for_key: u64,
    /// Frames the hub reader dropped because this session fell behind.
    pub reader_drops: u64,
    /// Picture-loss requests (PLI/FIR) answered at once by replaying the current GOP
    /// (its key frame and the frames since, squeezed into a few RTP ticks) instead of
    /// waiting for the source's next key frame.
    pub gop_replays: u64,
    /// Video frames sent in those replays.
    pub gop_replay_frames: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// The transport of the selected candidate pair (`udp` or `tcp`), once connected.
    pub transport: Option<Transport>,
    /// The viewer's address on the selected candidate pair (`address:port`).
    #[schema(value_type = Option<String>)]
    pub remote_address: Option<SocketAddr>,
    /// ICE restarts the viewer asked for (WHEP `PATCH` with new credentials).
    pub ice_restarts: u64,
    /// Remote candidates added by trickle ICE (WHEP `PATCH`).
    pub trickled_candidates: u64,
    /// Times ICE lost every candidate pair (`disconnected`). The session survives this for
    /// the disconnect timeout: a viewer whose network changed comes back with an ICE
    /// restart, one on a flaky 4G link often by itself.
    pub ice_disconnects: u64,
    /// RTP packets sent, all tracks, retransmissions included.
    pub packets_sent: u64,
    /// RTP bytes sent, all tracks, retransmissions included.
    pub bytes_sent: u64,
    /// NACKs received (each asks for lost packets, answered from the packet history).
    pub nacks: u64,
    /// Packets the viewer reported lost (RTCP receiver reports, cumulative, all tracks).
    pub packets_lost: u64,
    /// The fraction of packets lost, 0.0 to 1.0, from the latest receiver report of the
    /// video track (else audio); `None` before the first report.
    pub loss: Option<f32>,
    /// Interarrival jitter the viewer reports for the video track (else audio), ms.
    pub jitter_ms: Option<f64>,
    /// Round-trip time, ms: from RTCP (sender/receiver reports) when the viewer reports
    /// it, else from the ICE consent checks on the selected pair.
    pub rtt_ms: Option<f64>,
    /// Per sent track, the same from RTCP.
    pub tracks: Vec<TrackStats>,
}

/// RTP/RTCP statistics of one sent track.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = SessionTrackStats)]
pub struct TrackStats {
    /// `video` or `audio`.
    pub kind: &'static str,
    /// The codec it is sent as (`H264`, `PCMA`, ...).
    pub codec: String,
    /// RTP packets sent, retransmissions included.
    pub packets_sent: u64,
    /// RTP bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// NACKs received.
    pub nacks: u64,
    /// PLIs received.
    pub pli: u64,
    /// FIRs received.
    pub fir: u64,
    /// Packets the viewer reported lost (cumulative).
    pub packets_lost: u64,
    /// Latest reported fraction lost, 0.0 to 1.0.
    pub loss: Option<f32>,
    /// Latest reported interarrival jitter, ms.
    pub jitter_ms: Option<f64>,
    /// Latest round-trip time from RTCP, ms.
    pub rtt_ms: Option<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What the session wants done next.
#[derive(Debug)]
pub enum Poll {
    /// Send `data` to `destination` from the shared socket.
    Transmit {
        /// The UDP socket or the viewer's ICE-TCP connection.
        transport: Transport,
        /// The viewer's address.
        destination: SocketAddr,
        /// One datagram.
        data: Vec<u8>,
    },
    /// Nothing to do before this time (or before new input).
    Wait(Instant),
    /// The session is over; drop it.
    Closed(CloseReason),
}

/// Maps a track's source timestamps to RTP media time, continuous across the source's
/// reconnects (each restarts its timestamps near 0). Presentation order is kept as the
/// source has it (H.264 B-frames go out with earlier times than the frame before them);
/// after a GOP replay, which takes a few ticks beyond the latest time, frames are kept
/// after the replay until the source's times have passed it.
#[derive(Debug, Default)]
struct Timeline {
    offset: Option<i64>,
    /// The latest time handed out.
    last: u64,
    /// Set by a replay: times at or below it are moved just above.
    floor: Option<u64>,
}

impl Timeline {
    fn map(&mut self, pts: i64, step: u64) -> u64 {
        let offset = *self
            .offset
            .get_or_insert_with(|| self.last as i64 + step as i64 - pts);
        let mut t = (pts + offset).max(0) as u64;
        if let Some(floor) = self.floor {
            if t <= floor {
                t = floor + 1;
                self.floor = Some(t);
            } else {
                self.floor = None;
            }
        }
        self.last = self.last.max(t);
        t
    }

    /// One tick after the latest time handed out: replayed frames are squeezed in here.
    fn next_tick(&mut self) -> u64 {
        self.last += 1;
        self.floor = Some(self.last);
        self.last
    }

    fn reset(&mut self) {
        self.offset = None;
        self.floor = None;
    }
}

struct Outgoing {
    plan: TrackPlan,
    /// How frames of this track become RTP payloads.
    format: payload::Format,
    mid: Option<Mid>,
    /// The extended RTP sequence number of the next packet (starts below 2^15: the
    /// rollover counter stays 0, as a receiver assumes without signalling).
    next_seq: Option<u64>,
    timeline: Timeline,
    stats: TrackStats,
}

impl Outgoing {
    /// Takes str0m's egress statistics (cumulative counters; RTCP values only when a
    /// report arrived since the last event).
    fn update(&mut self, s: &MediaEgressStats) {
        let t = &mut self.stats;
        t.packets_sent = s.packets;
        t.bytes_sent = s.bytes;
        t.nacks = s.nacks;
        t.pli = s.plis;
        t.fir = s.firs;
        if let Some(loss) = s.loss {
            t.loss = Some(loss);
        }
        if let Some(rtt) = s.rtt {
            t.rtt_ms = Some(ms(rtt));
        }
        if let Some(remote) = &s.remote {
            t.packets_lost = remote.packets_lost;
            t.jitter_ms = Some(
                f64::from(remote.jitter) * 1000.0 / f64::from(self.plan.codec.clock_rate.max(1)),
            );
        }
    }
}

/// One viewer: a str0m [`Rtc`] with the negotiated [`Plan`] and the key-frame gate.
pub struct WhepSession {
    rtc: Rtc,
    video: Option<Outgoing>,
    audio: Option<Outgoing>,
    /// Local address reported as the destination of incoming UDP datagrams.
    local: SocketAddr,
    /// Local address reported as the destination of incoming ICE-TCP frames.
    local_tcp: Option<SocketAddr>,
    /// The viewer's offer as received: re-issued with new credentials on an ICE restart.
    offer_sdp: String,
    /// The viewer's current ICE ufrag (from the offer, or the last restart).
    remote_ufrag: String,
    state: SessionState,
    created: Instant,
    /// When the last datagram from the viewer arrived.
    last_heard: Instant,
    disconnect_timeout: Duration,
    /// RTT from the ICE consent checks (`PeerStats`), the fallback for [`SessionStats::rtt_ms`].
    ice_rtt: Option<Duration>,
    /// Drop video until the next key frame (at start, after PLI/FIR or reader drops).
    need_key: bool,
    last_key_sent: Option<Instant>,
    /// The video frames from the last key frame received on (same bytes as the hub's GOP
    /// cache: `Bytes` clones), empty when the GOP outgrew the limits.
    gop: Vec<Frame>,
    gop_bytes: usize,
    stats: SessionStats,
    omitted: Vec<String>,
}

impl std::fmt::Debug for WhepSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhepSession")
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn codec_of(name: &str) -> Option<Codec> {
    Some(match name {
        "H264" => Codec::H264,
        "H265" => Codec::H265,
        "PCMA" => Codec::PCMA,
        "PCMU" => Codec::PCMU,
        "OPUS" => Codec::Opus,
        _ => return None,
    })
}

fn add_to_config(config: &mut RtcConfig, plan: &TrackPlan) -> Result<(), WebRtcError> {
    let codec = codec_of(&plan.codec.name)
        .ok_or_else(|| WebRtcError::Rtc(format!("cannot send {}", plan.codec.name)))?;
    let rate = Frequency::new(plan.codec.clock_rate)
        .ok_or_else(|| WebRtcError::MalformedOffer("a clock rate of 0".into()))?;
    config.codec_config().add_config(
        Pt::from(plan.codec.pt),
        plan.rtx.map(Pt::from),
        codec,
        rate,
        plan.codec.channels,
        FormatParams::parse_line(&plan.codec.fmtp),
    );
    if plan.clock_rate == 0 {
        return Err(WebRtcError::Rtc("a track with a clock rate of 0".into()));
    }
    Ok(())
}

impl WhepSession {
    /// Accepts a WHEP offer for a path with `tracks`. Returns the session and the SDP
    /// answer (complete, with host candidates: no trickle needed).
    ///
    /// Errors: [`WebRtcError::MalformedOffer`] (400), [`WebRtcError::Negotiation`] (406).
    pub fn accept(
        offer_sdp: &str,
        tracks: &[Track],
        setup: &SessionSetup,
        now: Instant,
    ) -> Result<(WhepSession, String), WebRtcError> {
        let summary = OfferSummary::parse(offer_sdp).map_err(WebRtcError::MalformedOffer)?;
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| WebRtcError::MalformedOffer(e.to_string()))?;
        let Plan {
            video,
            audio,
            omitted,
        } = negotiate(tracks, &summary)?;

        let mut config = RtcConfig::new()
            // We hand str0m RTP payloads, packetized once per frame for all viewers (see
            // `send`), not frames to packetize once per viewer.
            .set_rtp_mode(true)
            .clear_codecs()
            // One RTP header extension: the BUNDLE `mid`. We estimate no bandwidth (the
            // camera's bitrate is relayed as it is), so transport-wide sequence numbers and
            // abs-send-time would only cost bytes and CPU on every packet and bring a stream
            // of transport-cc feedback back; audio level and video orientation are unused.
            // The answer carries the offer's id for it.
            .clear_extension_map()
            .set_extension(MID_EXTENSION_ID, Extension::RtpMid)
            .set_dtls_cert(setup.cert.clone())
            // Packet history for NACK answers (RTX): at most 2000 packets and (str0m) 3 s;
            // the payloads in it are the ones shared by all viewers of the frame.
            .set_send_buffer_video(2000)
            .set_stats_interval(Some(Duration::from_secs(1)));
        let mut outgoing = |plan: Option<TrackPlan>,
                            kind: &'static str|
         -> Result<Option<Outgoing>, WebRtcError> {
            let Some(plan) = plan else { return Ok(None) };
            add_to_config(&mut config, &plan)?;
            let stats = TrackStats {
                kind,
                codec: plan.codec.name.clone(),
                ..TrackStats::default()
            };
            let format = match plan.codec.name.as_str() {
                "H264" => payload::Format::H264,
                "H265" => payload::Format::H265,
                _ => payload::Format::Whole,
            };
            Ok(Some(Outgoing {
                plan,
                format,
                mid: None,
                next_seq: None,
                timeline: Timeline::default(),
                stats,
            }))
        };
        let video = outgoing(video, "video")?;
        let audio = outgoing(audio, "audio")?;

        let mut rtc = config.build(now);
        for addr in &setup.candidates {
            let candidate = Candidate::host(*addr, "udp")
                .map_err(|e| WebRtcError::Rtc(format!("host candidate {addr}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        for addr in &setup.tcp_candidates {
            let candidate = Candidate::builder()
                .tcp()
                .host(*addr)
                .tcptype(TcpType::Passive)
                .build()
                .map_err(|e| WebRtcError::Rtc(format!("ICE-TCP candidate {addr}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        let remote_ufrag = offer_ufrag(offer_sdp)
            .ok_or_else(|| WebRtcError::MalformedOffer("the offer has no a=ice-ufrag".into()))?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WebRtcError::MalformedOffer(e.to_string()))?;
        let local = *setup
            .candidates
            .first()
            .ok_or_else(|| WebRtcError::Rtc("no host candidate".into()))?;
        let session = WhepSession {
            rtc,
            video,
            audio,
            local,
            local_tcp: setup.tcp_candidates.first().copied(),
            offer_sdp: offer_sdp.to_owned(),
            remote_ufrag,
            state: SessionState::Connecting,
            created: now,
            last_heard: now,
            disconnect_timeout: setup.disconnect_timeout.max(MIN_DISCONNECT_TIMEOUT),
            ice_rtt: None,
            need_key: true,
            last_key_sent: None,
            gop: Vec::new(),
            gop_bytes: 0,
            stats: SessionStats::default(),
            omitted,
        };
        Ok((session, answer.to_sdp_string()))
    }

    /// The local ICE user name fragment: the first half of the STUN USERNAME the viewer
    /// sends, which is how the mux finds this session for a new address.
    pub fn local_ufrag(&mut self) -> String {
        self.rtc.direct_api().local_ice_credentials().ufrag
    }

    /// Tracks of the path left out, with why (for the log).
    pub fn omitted(&self) -> &[String] {
        &self.omitted
    }

    /// Where the session is.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Its counters.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Whether hub frames should be read now (once connected; until then the reader's
    /// bounded queue holds the cached GOP, or skips to a newer key frame).
    pub fn wants_media(&self) -> bool {
        self.state == SessionState::Connected
    }

    /// A datagram (or ICE-TCP frame) from `source` for this session arrived at `now`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        data: &[u8],
    ) {
        self.stats.datagrams_in += 1;
        self.last_heard = self.last_heard.max(now);
        let destination = match (transport, self.local_tcp) {
            (Transport::Udp, _) => self.local,
            (Transport::Tcp, Some(tcp)) => tcp,
            (Transport::Tcp, None) => return, // No ICE-TCP candidate was offered.
        };
        let Ok(contents) = data.try_into() else {
            return; // Not STUN, DTLS or (S)RTP: ignore.
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: transport.proto(),
                source,
                destination,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, %source, "datagram rejected");
        }
    }

    /// A WHEP `PATCH` body arrived at `now`: trickled candidates of the current ICE
    /// session, or an ICE restart (credentials other than the current ones). A restart
    /// re-issues the viewer's offer with the new credentials, so str0m restarts ICE with
    /// fresh local credentials, keeps our host candidates, DTLS and SRTP; the caller must
    /// route the new [`Self::local_ufrag`] to this session.
    ///
    /// Errors: [`WebRtcError::MalformedOffer`] (400) when the restart cannot be applied.
    pub fn patch(
        &mut self,
        now: Instant,
        fragment: &IceFragment,
    ) -> Result<PatchOutcome, WebRtcError> {
        // A PATCH proves the viewer is there, even when its network is not (yet).
        self.last_heard = self.last_heard.max(now);
        for why in &fragment.ignored {
            tracing::debug!(candidate = %why, "trickled candidate ignored");
        }
        let restart = match (&fragment.ufrag, &fragment.pwd) {
            (Some(ufrag), Some(pwd)) if *ufrag != self.remote_ufrag => Some((ufrag, pwd)),
            _ => None,
        };
        let Some((ufrag, pwd)) = restart else {
            let mut added = 0;
            for c in &fragment.candidates {
                if c.ufrag().is_some_and(|u| u != self.remote_ufrag) {
                    continue; // Of an earlier ICE session.
                }
                self.rtc.add_remote_candidate(c.clone());
                added += 1;
            }
            self.stats.trickled_candidates += added as u64;
            return Ok(PatchOutcome::Trickled { added });
        };
        let reoffer = trickle::with_credentials(&self.offer_sdp, ufrag, pwd);
        let offer = SdpOffer::from_sdp_string(&reoffer)
            .map_err(|e| WebRtcError::MalformedOffer(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WebRtcError::MalformedOffer(format!("ICE restart: {e}")))?;
        for c in &fragment.candidates {
            if c.ufrag().is_none_or(|u| u == ufrag) {
                self.rtc.add_remote_candidate(c.clone());
                self.stats.trickled_candidates += 1;
            }
        }
        self.offer_sdp = reoffer;
        self.remote_ufrag = ufrag.clone();
        self.stats.ice_restarts += 1;
        tracing::info!(restarts = self.stats.ice_restarts, "ICE restart");
        Ok(PatchOutcome::Restarted {
            fragment: trickle::answer_fragment(&answer.to_sdp_string()),
        })
    }

    /// The deadline from [`Poll::Wait`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(error = %e, "timeout handling failed");
        }
    }

    /// An event from the hub reader (only read while [`Self::wants_media`]).
    pub fn handle_reader(&mut self, now: Instant, event: ReaderEvent) {
        match event {
            ReaderEvent::Tracks(tracks) => {
                // A reconnect: timestamps restart; keep ours monotonic. (A codec change on
                // reconnect is not renegotiated in this increment.)
                for out in [&mut self.video, &mut self.audio].into_iter().flatten() {
                    out.timeline.reset();
                    if let Some(t) = tracks.get(out.plan.track)
                        && t.clock_rate != out.plan.clock_rate
                    {
                        tracing::warn!(
                            track = out.plan.track,
                            "the track's clock rate changed on reconnect"
                        );
                    }
                }
                self.need_key = true;
                self.forget_gop();
            }
            ReaderEvent::Frame(frame) => {
                self.remember(&frame);
                self.write_frame(now, &frame);
            }
            ReaderEvent::Dropped { frames } => {
                self.stats.reader_drops += frames;
                self.need_key = true;
                self.forget_gop();
            }
            ReaderEvent::Discontinuity { .. } => {
                self.need_key = true;
                self.forget_gop();
            }
        }
    }

    fn is_video(&self, frame: &Frame) -> bool {
        self.video
            .as_ref()
            .is_some_and(|v| v.plan.track == frame.track)
    }

    fn forget_gop(&mut self) {
        self.gop.clear();
        self.gop_bytes = 0;
    }

    /// Keeps a video frame for [`Self::replay_gop`]: a key frame starts a new GOP; later
    /// frames join it while it is within [`GOP_MAX_FRAMES`] / [`GOP_MAX_BYTES`].
    fn remember(&mut self, frame: &Frame) {
        if !self.is_video(frame) {
            return;
        }
        if frame.key {
            self.forget_gop();
        } else if self.gop.is_empty() {
            return; // No key frame to start from (or the GOP outgrew the limits).
        }
        if self.gop.len() >= GOP_MAX_FRAMES || self.gop_bytes + frame.data.len() > GOP_MAX_BYTES {
            self.forget_gop();
            return;
        }
        self.gop_bytes += frame.data.len();
        self.gop.push(frame.clone());
    }

    /// Answers a picture-loss request at once: sends the current GOP again, from its key
    /// frame, with RTP times one tick apart after the last frame sent, so the viewer's
    /// decoder is whole again within a round trip. `false` when there is nothing to
    /// replay (no key frame seen yet, GOP over the limits).
    fn replay_gop(&mut self, now: Instant) -> bool {
        if !self.gop.first().is_some_and(|f| f.key) {
            return false;
        }
        let gop = std::mem::take(&mut self.gop);
        let mut sent = 0;
        for frame in &gop {
            let Some(out) = self.video.as_mut() else {
                break;
            };
            let ticks = out.timeline.next_tick();
            if !self.send(now, frame, true, ticks) {
                break;
            }
            sent += 1;
        }
        self.gop = gop;
        if sent == 0 {
            return false;
        }
        self.stats.gop_replays += 1;
        self.stats.gop_replay_frames += sent;
        true
    }

    fn write_frame(&mut self, now: Instant, frame: &Frame) {
        let is_video = self.is_video(frame);
        let out = if is_video {
            if self.need_key && !frame.key {
                self.stats.frames_skipped_for_key += 1;
                return;
            }
            self.video.as_mut()
        } else {
            match &self.audio {
                Some(a) if a.plan.track == frame.track => self.audio.as_mut(),
                _ => None,
            }
        };
        let Some(out) = out else { return };
        if out.mid.is_none() {
            return;
        }
        let step = u64::from(out.plan.clock_rate / 25);
        let ticks = out.timeline.map(frame.pts, step);
        self.send(now, frame, is_video, ticks);
    }

    /// Hands one frame to str0m at RTP time `ticks`, as RTP packets whose payloads are
    /// shared with every other viewer of the frame ([`Frame::rtp`]); counts it. `false`
    /// if not written.
    fn send(&mut self, now: Instant, frame: &Frame, is_video: bool, ticks: u64) -> bool {
        let out = if is_video {
            &mut self.video
        } else {
            &mut self.audio
        };
        let Some(out) = out else { return false };
        let Some(mid) = out.mid else { return false };
        let pt = Pt::from(out.plan.codec.pt);
        let payloads = frame.rtp.get(out.format, &frame.data, RTP_PAYLOAD_MAX);
        let Some(last) = payloads.len().checked_sub(1) else {
            return false;
        };
        let mut direct = self.rtc.direct_api();
        let Some(stream) = direct.stream_tx_by_mid(mid, None) else {
            return false;
        };
        let seq = out
            .next_seq
            .get_or_insert_with(|| u64::from(*stream.ssrc() as u16 & 0x7fff));
        // RTP time wraps at 2^32 as the header's field does.
        let rtp_time = ticks as u32;
        let wallclock = frame.received.into_std();
        for (i, p) in payloads.iter().enumerate() {
            let write = RtpWrite::new(pt, (*seq).into(), rtp_time, wallclock, p.clone())
                // The marker ends a video frame; audio frames are one packet each and
                // carry it only at a talkspurt start, which relayed audio does not know.
                .marker(is_video && i == last)
                // Video packets stay in the history for NACK answers (RTX); audio is not
                // worth repeating late.
                .nackable(is_video);
            stream.write_rtp(write);
            *seq += 1;
        }
        if is_video {
            self.stats.video_frames += 1;
            if !frame.key
                && out.format == payload::Format::H264
                && crate::codec::h264::is_b_picture(&frame.data)
            {
                self.stats.b_frames += 1;
            }
            if frame.key {
                self.stats.key_frames += 1;
                self.need_key = false;
                self.last_key_sent = Some(now);
            }
        } else {
            self.stats.audio_frames += 1;
        }
        true
    }

    /// What to do next. Call until [`Poll::Wait`] or [`Poll::Closed`].
    pub fn poll(&mut self, now: Instant) -> Poll {
        if self.state == SessionState::Connecting && now >= self.created + CONNECT_TIMEOUT {
            return self.close(CloseReason::ConnectTimeout);
        }
        if self.state == SessionState::Connected && now >= self.silent_deadline() {
            return self.close(CloseReason::PeerSilent);
        }
        loop {
            if !self.rtc.is_alive() {
                return self.close(CloseReason::PeerClosed);
            }
            let output = match self.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => return self.close(CloseReason::Rtc(e.to_string())),
            };
            match output {
                Output::Transmit(t) => {
                    let Some(transport) = Transport::from_proto(t.proto) else {
                        continue; // We offer no TLS or SSL-TCP candidates.
                    };
                    self.stats.datagrams_out += 1;
                    return Poll::Transmit {
                        transport,
                        destination: t.destination,
                        data: t.contents.to_vec(),
                    };
                }
                Output::Timeout(at) => {
                    if !self.rtc.is_alive() {
                        // str0m has just drained its close (the viewer's DTLS
                        // `close_notify`): over now, not at the next wake-up.
                        return self.close(CloseReason::PeerClosed);
                    }
                    let at = match self.state {
                        SessionState::Connecting => at.min(self.created + CONNECT_TIMEOUT),
                        SessionState::Connected => at.min(self.silent_deadline()),
                        SessionState::Closed => at,
                    };
                    return Poll::Wait(at);
                }
                Output::Event(event) => {
                    if let Some(reason) = self.handle_event(now, event) {
                        return self.close(reason);
                    }
                }
            }
        }
    }

    fn silent_deadline(&self) -> Instant {
        self.last_heard + self.disconnect_timeout
    }

    /// How long ago the session was accepted.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    fn egress_stats(&mut self, s: &MediaEgressStats) {
        for out in [&mut self.video, &mut self.audio].into_iter().flatten() {
            if out.mid == Some(s.mid) {
                out.update(s);
            }
        }
        self.refresh_totals();
    }

    fn peer_stats(&mut self, s: &PeerStats) {
        if let Some(pair) = &s.selected_candidate_pair {
            self.stats.transport = Transport::from_proto(pair.protocol);
            self.stats.remote_address = Some(pair.remote.addr);
        }
        let ice = s
            .selected_candidate_pair
            .as_ref()
            .and_then(|p| p.current_round_trip_time);
        if let Some(rtt) = s.rtt.or(ice) {
            self.ice_rtt = Some(rtt);
        }
        self.refresh_totals();
    }

    /// The session totals from the per-track statistics.
    fn refresh_totals(&mut self) {
        let tracks: Vec<TrackStats> = [&self.video, &self.audio]
            .into_iter()
            .flatten()
            .map(|o| o.stats.clone())
            .collect();
        let st = &mut self.stats;
        st.packets_sent = tracks.iter().map(|t| t.packets_sent).sum();
        st.bytes_sent = tracks.iter().map(|t| t.bytes_sent).sum();
        st.nacks = tracks.iter().map(|t| t.nacks).sum();
        st.packets_lost = tracks.iter().map(|t| t.packets_lost).sum();
        // Video first: it is what a viewer notices.
        st.loss = tracks.iter().find_map(|t| t.loss);
        st.jitter_ms = tracks.iter().find_map(|t| t.jitter_ms);
        st.rtt_ms = tracks
            .iter()
            .find_map(|t| t.rtt_ms)
            .or(self.ice_rtt.map(ms));
        st.tracks = tracks;
    }

    fn handle_event(&mut self, now: Instant, event: Event) -> Option<CloseReason> {
        match event {
            Event::Connected => {
                tracing::debug!("WebRTC session connected");
                self.state = SessionState::Connected;
                // The silence clock starts now, not at the offer.
                self.last_heard = self.last_heard.max(now);
            }
            Event::MediaEgressStats(s) => self.egress_stats(&s),
            Event::PeerStats(s) => self.peer_stats(&s),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                // Not the end: the viewer may restart ICE (PATCH) or its link may recover;
                // a viewer that stays silent is reaped by the disconnect timeout.
                self.stats.ice_disconnects += 1;
                tracing::debug!("ICE disconnected; waiting for recovery or an ICE restart");
            }
            Event::MediaAdded(added) => {
                let slot = match added.kind {
                    RtcKind::Video => &mut self.video,
                    RtcKind::Audio => &mut self.audio,
                };
                if let Some(out) = slot
                    && out.mid.is_none()
                {
                    out.mid = Some(added.mid);
                }
            }
            Event::KeyframeRequest(req) => {
                match req.kind {
                    KeyframeRequestKind::Pli => self.stats.pli += 1,
                    KeyframeRequestKind::Fir => self.stats.fir += 1,
                }
                let recent = self
                    .last_key_sent
                    .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_GRACE);
                if !recent && !self.replay_gop(now) {
                    // Nothing to replay: restart this viewer at the source's next key frame.
                    self.need_key = true;
                }
            }
            _ => {}
        }
        None
    }

    fn close(&mut self, reason: CloseReason) -> Poll {
        self.state = SessionState::Closed;
        self.rtc.disconnect();
        Poll::Closed(reason)
    }
}

/// The first `a=ice-pwd` of an SDP (for tests).
#[cfg(test)]
fn offer_pwd(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.trim_end_matches('\r').strip_prefix("a=ice-pwd:"))
        .unwrap_or_default()
        .to_owned()
}

/// The first `a=ice-ufrag` of an SDP.
fn offer_ufrag(sdp: &str) -> Option<String> {
    sdp.lines().find_map(|l| {
        let v = l
            .trim_end_matches('\r')
            .strip_prefix("a=ice-ufrag:")?
            .trim();
        (!v.is_empty()).then(|| v.to_owned())
    })
}

/// The codecs per media kind an answer carries (for tests).
#[cfg(test)]
pub(crate) fn answer_codecs(answer: &str) -> std::collections::HashMap<String, Vec<String>> {
    let summary = OfferSummary::parse(answer).unwrap_or_default();
    summary
        .media
        .into_iter()
        .map(|m| {
            (
                m.kind,
                m.codecs.into_iter().map(|c| c.name).collect::<Vec<_>>(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use str0m::change::{SdpAnswer, SdpPendingOffer};
    use str0m::media::{Direction, MediaKind as RtcKind};
    use str0m::net::Receive;
    use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

    use super::*;
    use crate::frame::{CodecParams, MediaKind, Track};
    use crate::webrtc::NegotiationError;

    const SERVER: &str = "127.0.0.1:40000";
    const CLIENT: &str = "127.0.0.1:40001";
    const SERVER_TCP: &str = "127.0.0.1:40002";

    fn setup() -> SessionSetup {
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .unwrap();
        SessionSetup {
            cert,
            candidates: vec![SERVER.parse().unwrap()],
            tcp_candidates: Vec::new(),
            disconnect_timeout: Duration::from_secs(5),
        }
    }

    fn h264_pcma() -> Vec<Track> {
        vec![
            Track {
                clock_rate: 90000,
                kind: MediaKind::Video,
                params: Some(Arc::new(CodecParams::H264 {
                    sps: Bytes::new(),
                    pps: Bytes::new(),
                    width: 320,
                    height: 240,
                    rfc6381: "avc1.42c01e".into(),
                })),
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

    fn h265_only() -> Vec<Track> {
        vec![Track {
            clock_rate: 90000,
            kind: MediaKind::Video,
            params: Some(Arc::new(CodecParams::H265 {
                vps: Bytes::new(),
                sps: Bytes::new(),
                pps: Bytes::new(),
                width: 320,
                height: 240,
                rfc6381: "hvc1.1.6.L93.B0".into(),
            })),
        }]
    }

    /// A browser-like client on str0m: receive-only video and audio, H.264 + PCMA/PCMU.
    fn client(now: Instant) -> (Rtc, String, SdpPendingOffer) {
        client_with(now, Cands::Udp)
    }

    fn client_with(now: Instant, cands: Cands) -> (Rtc, String, SdpPendingOffer) {
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_h264(true)
            .enable_pcma(true, false)
            .enable_pcmu(true, false)
            .build(now);
        match cands {
            Cands::Udp => {
                rtc.add_local_candidate(Candidate::host(CLIENT.parse().unwrap(), "udp").unwrap());
            }
            Cands::TcpActive => {
                let c = Candidate::builder()
                    .tcp()
                    .host(CLIENT.parse().unwrap())
                    .tcptype(TcpType::Active)
                    .build()
                    .unwrap();
                rtc.add_local_candidate(c);
            }
            Cands::Trickled => {}
        }
        let mut change = rtc.sdp_api();
        change.add_media(RtcKind::Video, Direction::RecvOnly, None, None, None);
        change.add_media(RtcKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        (rtc, offer.to_sdp_string(), pending)
    }

    #[test]
    fn an_h264_and_pcma_offer_gets_an_answer_with_exactly_those() {
        let now = Instant::now();
        let (_client, offer, _) = client(now);
        let (session, answer) = WhepSession::accept(&offer, &h264_pcma(), &setup(), now).unwrap();
        let codecs = answer_codecs(&answer);
        assert!(codecs["video"].contains(&"H264".to_owned()), "{answer}");
        assert!(
            codecs["video"].iter().all(|c| c == "H264" || c == "RTX"),
            "{answer}"
        );
        assert_eq!(codecs["audio"], vec!["PCMA".to_owned()], "{answer}");
        assert!(
            answer.contains("a=candidate") && answer.contains("127.0.0.1 40000"),
            "{answer}"
        );
        assert!(answer.contains("a=sendonly"), "{answer}");
        assert_eq!(session.state(), SessionState::Connecting);
    }

    #[test]
    fn an_h265_path_offered_to_an_h264_only_client_is_not_acceptable() {
        let now = Instant::now();
        let (_client, offer, _) = client(now);
        let err = WhepSession::accept(&offer, &h265_only(), &setup(), now).unwrap_err();
        let WebRtcError::Negotiation(NegotiationError::NoCommonCodec { camera, offer }) = &err
        else {
            panic!("expected no common codec, got {err:?}");
        };
        assert_eq!(camera, "video H.265 (hvc1.1.6.L93.B0)");
        assert!(offer.contains("H264") && !offer.contains("H265"), "{offer}");
        assert!(
            err.to_string().contains("the camera sends video H.265"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_a_malformed_offer() {
        let now = Instant::now();
        let err = WhepSession::accept("hello", &h264_pcma(), &setup(), now).unwrap_err();
        assert!(matches!(err, WebRtcError::MalformedOffer(_)), "{err:?}");
    }

    /// Both ends in one thread on simulated time: ICE, DTLS, SRTP, then a key frame and
    /// an audio frame written by the session arrive at the client as media data.
    #[test]
    fn a_str0m_client_connects_and_receives_video_and_audio_on_simulated_time() {
        let mut rig = Rig::new();
        rig.connect_and_play(Transport::Udp);
    }

    /// The same over ICE-TCP: the client offers only an active TCP candidate, so the only
    /// pair is ours passive ↔ its active, and every packet travels as TCP.
    #[test]
    fn a_tcp_only_client_connects_over_ice_tcp() {
        let mut rig = Rig::with(Cands::TcpActive);
        rig.connect_and_play(Transport::Tcp);
        assert!(
            rig.seen.iter().all(|t| *t == Transport::Tcp),
            "{:?}",
            rig.seen
        );
        let answer_has_passive = rig.answer.lines().any(|l| {
            l.starts_with("a=candidate:") && l.contains(" tcp ") && l.contains("tcptype passive")
        });
        assert!(answer_has_passive, "{}", rig.answer);
    }

    /// Trickle ICE: an offer without candidates cannot connect until the client's
    /// candidate arrives in a PATCH fragment.
    #[test]
    fn trickled_candidates_let_a_client_connect() {
        let mut rig = Rig::with(Cands::Trickled);
        for _ in 0..40 {
            assert_eq!(rig.step(), None);
        }
        // Without a candidate of the client the server has no pair to check, and the
        // client's own checks are what connect it: in this rig it has none to send either.
        assert_eq!(rig.session.state(), SessionState::Connecting);
        let ufrag = offer_ufrag(&rig.offer).unwrap();
        let body = format!(
            "a=ice-ufrag:{ufrag}\r\na=ice-pwd:{}\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host\r\na=end-of-candidates\r\n",
            offer_pwd(&rig.offer)
        );
        let fragment = IceFragment::parse(&body).unwrap();
        let outcome = rig.session.patch(rig.now, &fragment).unwrap();
        assert_eq!(outcome, PatchOutcome::Trickled { added: 1 });
        rig.client
            .add_local_candidate(Candidate::host(CLIENT.parse().unwrap(), "udp").unwrap());
        rig.connect_and_play(Transport::Udp);
        assert_eq!(rig.session.stats().trickled_candidates, 1);
    }

    /// ICE restart the way a WHEP client does it: the client restarts ICE, sends its new
    /// credentials in a PATCH fragment, and builds its new answer from the old one with the
    /// credentials and candidates of our fragment. Media flows again afterwards, over the
    /// same DTLS/SRTP session, and the old credentials no longer route.
    #[test]
    fn an_ice_restart_through_patch_keeps_the_session_playing() {
        let mut rig = Rig::new();
        rig.connect_and_play(Transport::Udp);
        let old_ufrag = rig.session.local_ufrag();
        let bytes_before = rig.video_bytes;

        let mut change = rig.client.sdp_api();
        change.ice_restart(true);
        let (offer, pending) = change.apply().expect("a restart needs an offer");
        let fragment = IceFragment::parse(&offer.to_sdp_string()).unwrap();
        assert_ne!(
            fragment.ufrag.as_deref(),
            offer_ufrag(&rig.offer).as_deref()
        );
        let PatchOutcome::Restarted { fragment: ours } =
            rig.session.patch(rig.now, &fragment).unwrap()
        else {
            panic!("new credentials must restart ICE");
        };
        let ours = IceFragment::parse(&ours).unwrap();
        let new_ufrag = rig.session.local_ufrag();
        assert_ne!(new_ufrag, old_ufrag);
        assert_eq!(ours.ufrag.as_deref(), Some(new_ufrag.as_str()));
        assert_eq!(ours.candidates.len(), 1, "{ours:?}");
        assert!(ours.end_of_candidates);
        let answer = trickle::with_credentials(
            &rig.answer,
            ours.ufrag.as_deref().unwrap(),
            ours.pwd.as_deref().unwrap(),
        );
        // Our candidates go back in (they were stripped with the old credentials).
        let candidate = format!("a={}", ours.candidates[0].to_sdp_string());
        let answer: String = answer
            .lines()
            .flat_map(|l| {
                let extra = l.starts_with("a=mid:").then(|| candidate.clone());
                std::iter::once(l.to_owned()).chain(extra)
            })
            .map(|l| l + "\r\n")
            .collect();
        rig.client
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();

        rig.play_for(Duration::from_secs(3), 75);
        assert_eq!(rig.session.state(), SessionState::Connected);
        assert!(
            rig.video_bytes > bytes_before + 3000,
            "media after the restart: {} → {}",
            bytes_before,
            rig.video_bytes
        );
        let stats = rig.session.stats();
        assert_eq!(stats.ice_restarts, 1, "{stats:?}");
        // The same credentials again are no restart, just candidates (the client's one).
        let again = rig.session.patch(rig.now, &fragment).unwrap();
        assert_eq!(again, PatchOutcome::Trickled { added: 1 });
        assert_eq!(rig.session.stats().ice_restarts, 1);
    }

    /// A picture-loss request in the middle of a GOP is answered within a round trip by
    /// replaying the GOP (key frame and the frames since), not after the source's next
    /// key frame; the frames after it still arrive (RTP time keeps increasing).
    #[test]
    fn a_pli_is_answered_from_the_gop_at_once() {
        let mut rig = Rig::new();
        rig.connect_and_play(Transport::Udp);
        // Ten more frames of the same GOP (no key frame among them).
        for _ in 0..10 {
            rig.write_pair(false);
            for _ in 0..4 {
                assert_eq!(rig.step(), None);
            }
        }
        let (keys, before) = (rig.video_keys, rig.session.stats().clone());
        assert!(keys >= 1 && before.gop_replays == 0, "{before:?}");
        let mid = rig.video_mid.unwrap();
        rig.client
            .direct_api()
            .stream_rx_by_mid(mid, None)
            .unwrap()
            .request_keyframe(KeyframeRequestKind::Pli);
        let asked = rig.now;
        while rig.video_keys == keys {
            assert_eq!(rig.step(), None);
            assert!(rig.now - asked < Duration::from_millis(500), "no key frame");
        }
        let stats = rig.session.stats().clone();
        assert_eq!(stats.pli, 1, "{stats:?}");
        assert_eq!(stats.gop_replays, 1, "{stats:?}");
        assert!(stats.gop_replay_frames >= 11, "key frame + 10: {stats:?}");
        assert_eq!(stats.frames_skipped_for_key, 0, "nothing waited: {stats:?}");
        let bytes = rig.video_bytes;
        for _ in 0..5 {
            rig.write_pair(false);
            for _ in 0..4 {
                assert_eq!(rig.step(), None);
            }
        }
        assert!(rig.video_bytes > bytes, "live frames after the replay");
    }

    /// RTP times follow the source's presentation order (a B-frame goes out earlier than
    /// the P-frame before it); a replay takes ticks after the latest time, and what comes
    /// next stays after the replay until the source's times have passed it.
    #[test]
    fn timeline_keeps_b_frame_order_and_stays_after_a_replay() {
        let mut t = Timeline::default();
        let (i, p, b) = (t.map(0, 3600), t.map(7200, 3600), t.map(3600, 3600));
        assert_eq!((i, p, b), (3600, 10800, 7200), "decode order I P B");
        assert_eq!((t.next_tick(), t.next_tick()), (10801, 10802));
        assert_eq!(t.map(3600, 3600), 10803, "below the replay: moved after it");
        assert_eq!(
            t.map(10800, 3600),
            14400,
            "past the replay: the source's time"
        );
        assert_eq!(t.map(7200, 3600), 10800, "B-frames keep their order again");
        t.reset();
        assert_eq!(
            t.map(0, 3600),
            18000,
            "a reconnect continues after the latest"
        );
    }

    /// A video packet lost on the way is asked for again (NACK) and answered from the
    /// session's packet history: the key frame it belonged to arrives whole, the NACK is
    /// counted, and no key frame had to be requested.
    #[test]
    fn a_lost_packet_is_nacked_and_resent_from_the_history() {
        let mut rig = Rig::new();
        rig.connect_and_play(Transport::Udp);
        let keys = rig.video_keys;
        // The key frame is three packets (FU-A); its first is lost.
        rig.write_pair(true);
        rig.lose_video_packets = 1;
        let start = rig.now;
        let mut more = true;
        while rig.now - start < Duration::from_secs(3) {
            assert_eq!(rig.step(), None);
            if more && rig.now - start > Duration::from_millis(200) {
                // A later frame shows the receiver the gap in sequence numbers.
                rig.write_pair(false);
                more = false;
            }
        }
        let stats = rig.session.stats().clone();
        assert_eq!(rig.lose_video_packets, 0, "a packet was lost");
        assert!(stats.nacks >= 1, "{stats:?}");
        assert!(
            rig.video_keys > keys,
            "the key frame arrived whole after the resend"
        );
        assert_eq!(
            stats.pli, 0,
            "repaired without a key frame request: {stats:?}"
        );
    }

    /// What the client offers as its own candidates.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Cands {
        /// A UDP host candidate in the offer.
        Udp,
        /// An active ICE-TCP candidate in the offer (the server offers UDP and TCP).
        TcpActive,
        /// None in the offer (they come by PATCH).
        Trickled,
    }

    /// Simulated-time rig: one server session, one str0m client, datagrams passed by hand.
    struct Rig {
        session: WhepSession,
        client: Rtc,
        offer: String,
        answer: String,
        now: Instant,
        video_mid: Option<Mid>,
        video_bytes: usize,
        /// Video frames received that hold an IDR slice.
        video_keys: usize,
        audio_frames: usize,
        /// The transports of the packets the server sent.
        seen: std::collections::HashSet<Transport>,
        /// While false the client has vanished: nothing goes either way.
        client_alive: bool,
        next_pts: i64,
        /// This many of the next video RTP packets from the server are lost on the way.
        lose_video_packets: usize,
    }

    impl Rig {
        fn new() -> Rig {
            Rig::with(Cands::Udp)
        }

        fn with(cands: Cands) -> Rig {
            let now = Instant::now();
            let (mut client, offer, pending) = client_with(now, cands);
            let mut setup = setup();
            if cands == Cands::TcpActive {
                setup.tcp_candidates = vec![SERVER_TCP.parse().unwrap()];
            }
            let (session, answer) = WhepSession::accept(&offer, &h264_pcma(), &setup, now).unwrap();
            client
                .sdp_api()
                .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
                .unwrap();
            Rig {
                session,
                client,
                offer,
                answer,
                now,
                video_mid: None,
                video_bytes: 0,
                video_keys: 0,
                audio_frames: 0,
                seen: Default::default(),
                client_alive: true,
                next_pts: 0,
                lose_video_packets: 0,
            }
        }

        /// Connects, then plays key frames and audio until the client has received a
        /// whole key frame and two audio frames, within 10 simulated seconds.
        fn connect_and_play(&mut self, transport: Transport) {
            let start = self.now;
            while !self.session.wants_media() {
                assert_eq!(self.step(), None);
                assert!(self.now - start < Duration::from_secs(10), "no connection");
            }
            assert_eq!(self.session.state(), SessionState::Connected);
            self.play_for(Duration::from_secs(10), 1);
            assert!(
                self.video_bytes >= idr().len() - 8,
                "video bytes {}",
                self.video_bytes
            );
            assert!(self.audio_frames >= 2, "audio frames {}", self.audio_frames);
            assert!(self.session.stats().key_frames >= 1);
            assert!(self.seen.contains(&transport), "{:?}", self.seen);
            assert!(
                self.now - start < Duration::from_secs(10),
                "took {:?}",
                self.now - start
            );
        }

        /// Writes a frame pair (key video every 25th, audio) every 40 ms until `frames`
        /// pairs are written and the client received a key frame's worth of video and two
        /// audio frames since, or `limit` of simulated time passes.
        fn play_for(&mut self, limit: Duration, frames: usize) {
            let (start, bytes, audio) = (self.now, self.video_bytes, self.audio_frames);
            let (mut written, mut next) = (0, self.now);
            while self.now - start < limit {
                assert_eq!(self.step(), None);
                if written >= frames
                    && self.video_bytes >= bytes + idr().len() - 8
                    && self.audio_frames >= audio + 2
                {
                    return;
                }
                if self.session.wants_media() && self.now >= next {
                    let key = written == 0 || (self.next_pts / 3600) % 25 == 0;
                    self.write_pair(key);
                    written += 1;
                    next = self.now + Duration::from_millis(40);
                }
            }
        }

        /// An (S)RTP packet of the video track: RTP version 2, the video payload type (the
        /// RTP header is not encrypted), not RTCP (packet types 192-223 in the same byte).
        fn is_video_rtp(&self, data: &[u8]) -> bool {
            let pt = self.session.video.as_ref().unwrap().plan.codec.pt;
            data.len() > 12
                && data[0] >> 6 == 2
                && !(192..=223).contains(&data[1])
                && data[1] & 0x7f == pt
        }

        /// Writes one video frame (an IDR when `key`) and one audio frame, 40 ms on.
        fn write_pair(&mut self, key: bool) {
            let pts = self.next_pts;
            let video = if key {
                idr()
            } else {
                vec![0, 0, 0, 1, 0x41, 0x9a, 7, 7]
            };
            self.session
                .handle_reader(self.now, ReaderEvent::Frame(frame(0, pts, key, video)));
            self.session.handle_reader(
                self.now,
                ReaderEvent::Frame(frame(1, pts / 90 * 8, true, vec![0xd5; 320])),
            );
            self.next_pts += 3600;
        }

        /// One round both ways, then time advances to the next deadline (≤ 50 ms).
        /// `Some` once the session closed.
        fn step(&mut self) -> Option<CloseReason> {
            let client: SocketAddr = CLIENT.parse().unwrap();
            let now = self.now;
            let server_wait = loop {
                match self.session.poll(now) {
                    Poll::Transmit {
                        transport,
                        destination,
                        data,
                    } if self.client_alive => {
                        self.seen.insert(transport);
                        if self.lose_video_packets > 0 && self.is_video_rtp(&data) {
                            self.lose_video_packets -= 1;
                            continue;
                        }
                        let source = match transport {
                            Transport::Udp => SERVER,
                            Transport::Tcp => SERVER_TCP,
                        };
                        let input = Input::Receive(
                            now,
                            Receive {
                                proto: transport.proto(),
                                source: source.parse().unwrap(),
                                destination,
                                contents: data.as_slice().try_into().unwrap(),
                            },
                        );
                        self.client.handle_input(input).unwrap();
                    }
                    Poll::Transmit { .. } => {}
                    Poll::Wait(at) => break at,
                    Poll::Closed(reason) => return Some(reason),
                }
            };
            let mut client_wait = now + Duration::from_millis(50);
            if self.client_alive {
                client_wait = loop {
                    match self.client.poll_output().unwrap() {
                        Output::Transmit(t) => {
                            let transport = Transport::from_proto(t.proto).unwrap();
                            assert_eq!(t.source.ip(), client.ip());
                            self.session
                                .handle_datagram(now, transport, t.source, &t.contents)
                        }
                        Output::Timeout(at) => break at,
                        Output::Event(Event::MediaData(d)) => match d.params.spec().codec {
                            Codec::H264 => {
                                self.video_bytes += d.data.len();
                                self.video_mid = Some(d.mid);
                                if d.data.windows(4).any(|w| w == [0, 0, 1, 0x65]) {
                                    self.video_keys += 1;
                                }
                            }
                            Codec::PCMA => self.audio_frames += 1,
                            _ => {}
                        },
                        Output::Event(_) => {}
                    }
                };
            }
            let next = server_wait
                .min(client_wait)
                .max(now + Duration::from_millis(1));
            self.now = next.min(now + Duration::from_millis(50));
            self.session.handle_timeout(self.now);
            if self.client_alive {
                self.client.handle_input(Input::Timeout(self.now)).unwrap();
            }
            None
        }
    }

    fn frame(track: usize, pts: i64, key: bool, data: Vec<u8>) -> Frame {
        Frame {
            track,
            pts,
            key,
            data: Bytes::from(data),
            new_params: None,
            received: tokio::time::Instant::now(),
            rtp: Default::default(),
        }
    }

    fn idr() -> Vec<u8> {
        let mut idr = vec![
            0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
        ];
        idr.extend_from_slice(&[0, 0, 0, 1, 0x65]);
        idr.extend(std::iter::repeat_n(0x88u8, 3000));
        idr
    }

    /// Media flows for a few simulated seconds: str0m's egress statistics and the client's
    /// receiver reports fill the session's stats (packets, bytes, PLI, loss, jitter, RTT).
    /// Then the client vanishes without a word: the session ends as `PeerSilent` once
    /// the disconnect timeout has passed.
    #[test]
    fn rtcp_feeds_the_stats_and_a_vanished_viewer_is_reaped_on_simulated_time() {
        let mut rig = Rig::new();
        let start = rig.now;
        let (mut pts, mut next_frame, mut pli_sent) = (0i64, start, false);
        while rig.now - start < Duration::from_secs(6) {
            assert_eq!(rig.step(), None);
            if rig.session.wants_media() && rig.now >= next_frame {
                // One video frame (key every 25th) and one audio frame per 40 ms.
                let key = (pts / 3600) % 25 == 0;
                let video = if key {
                    idr()
                } else {
                    vec![0, 0, 0, 1, 0x41, 0x9a, 7, 7]
                };
                rig.session
                    .handle_reader(rig.now, ReaderEvent::Frame(frame(0, pts, key, video)));
                rig.session.handle_reader(
                    rig.now,
                    ReaderEvent::Frame(frame(1, pts / 90 * 8, true, vec![0xd5; 320])),
                );
                pts += 3600;
                next_frame = rig.now + Duration::from_millis(40);
            }
            if !pli_sent
                && rig.now - start > Duration::from_secs(3)
                && let Some(mid) = rig.video_mid
                && let Some(rx) = rig.client.direct_api().stream_rx_by_mid(mid, None)
            {
                rx.request_keyframe(KeyframeRequestKind::Pli);
                pli_sent = true;
            }
        }
        assert!(rig.video_bytes > 3000 && rig.audio_frames > 20);
        let stats = rig.session.stats().clone();
        eprintln!("{stats:#?}");
        assert_eq!(rig.session.state(), SessionState::Connected);
        assert!(stats.packets_sent > 100, "{stats:?}");
        assert!(stats.bytes_sent > 10_000, "{stats:?}");
        assert_eq!(stats.tracks.len(), 2, "{stats:?}");
        let (video, audio) = (&stats.tracks[0], &stats.tracks[1]);
        assert_eq!((video.kind, video.codec.as_str()), ("video", "H264"));
        assert_eq!((audio.kind, audio.codec.as_str()), ("audio", "PCMA"));
        assert!(
            video.packets_sent > 0 && audio.packets_sent > 0,
            "{stats:?}"
        );
        assert_eq!(
            stats.packets_sent,
            video.packets_sent + audio.packets_sent,
            "{stats:?}"
        );
        assert!(pli_sent && stats.pli >= 1 && video.pli >= 1, "{stats:?}");
        assert_eq!(stats.loss, Some(0.0), "{stats:?}");
        assert_eq!(stats.packets_lost, 0, "{stats:?}");
        assert!(stats.jitter_ms.is_some(), "{stats:?}");
        assert!(stats.rtt_ms.is_some(), "{stats:?}");

        rig.client_alive = false;
        let vanished = rig.now;
        let reason = loop {
            if let Some(reason) = rig.step() {
                break reason;
            }
            assert!(rig.now - vanished < Duration::from_secs(30), "not reaped");
        };
        let after = rig.now - vanished;
        assert_eq!(reason, CloseReason::PeerSilent, "after {after:?}");
        assert!(
            after >= Duration::from_secs(4) && after <= Duration::from_secs(6),
            "reaped {after:?} after the viewer vanished (timeout 5 s)"
        );
        assert_eq!(rig.session.state(), SessionState::Closed);
    }
}
