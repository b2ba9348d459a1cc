//! The RTSP source: pulls one camera stream with the `retina` RTSP client.
//!
//! # Vocabulary
//!
//! - **Presentation**: what the camera describes in its `DESCRIBE` answer (SDP): a list of
//!   **streams**, each one medium (video, audio, metadata) in one codec. A stream's
//!   **stream index** is its position in the SDP; it appears in logs and errors.
//! - **Track**: a stream this source set up and delivers. The **track index** (as in
//!   [`Frame::track`]) is the position in the list announced with [`FrameSink::tracks`];
//!   only supported streams become tracks: the first H.264 or H.265 video stream and the
//!   first AAC, G.711 A-law (PCMA), G.711 µ-law (PCMU) or Opus audio stream. Everything
//!   else (MJPEG, ONVIF metadata, a second video or audio stream) is skipped and logged;
//!   a camera whose only supported stream is its audio (say MJPEG video plus Opus) gives
//!   an audio-only source.
//! - **Session**: one RTSP session — `DESCRIBE`, `SETUP` per track, `PLAY`, then frames
//!   until the connection ends. One [`Source::run`] is one session.
//! - **Transport**: how RTP travels ([`RtspTransport`]): interleaved in the RTSP TCP
//!   connection (default), or over UDP with a client port pair bound to the local address
//!   of the RTSP connection.
//! - **Parameter sets**: H.264 SPS/PPS, H.265 VPS/SPS/PPS. They are taken from the SDP or
//!   from the stream, reported in [`CodecParams`], and repeated in-band before every key
//!   frame.
//! - **Policy**: a named workaround for a camera quirk ([`CameraPolicy`]), mapped onto a
//!   retina option in one place (the `policy` module).
//!
//! # What one session delivers
//!
//! Video frames are Annex B access units (`00 00 00 01` start codes) with the parameter
//! sets in front of every key frame; video frames that arrive before a track's first key
//! frame are dropped (they depend on pictures this session never received). Key frames are
//! H.264 IDR pictures and H.265 IRAP pictures: retina flags only IDR, so H.265 CRA/BLA
//! pictures (the key frames of open-GOP encoders) are recognised here and get their
//! parameter sets added. AAC frames are raw access units (no ADTS header), G.711 frames
//! are samples, Opus frames are one Opus packet each (RFC 7587 puts exactly one in every
//! RTP payload), announced as [`CodecParams::Opus`] at 48 kHz with one channel, or two if
//! the SDP's `sprop-stereo=1` says the camera sends stereo (the `/2` of `opus/48000/2` is
//! fixed by RFC 7587 and says nothing). [`Frame::pts`] is in the track's RTP clock ticks,
//! counted from the start of the session as retina computes it (the `RTP-Info` `rtptime`
//! of `PLAY`, or the first packet), extended to 64 bits so it never wraps. Parameters
//! unknown at `PLAY` (sent in-band only) are announced as `None` and arrive with
//! [`Frame::new_params`] on the first frame that has them; a mid-stream change (new
//! resolution) sets [`Frame::new_params`] on the frame it applies to.
//!
//! # Depacketization
//!
//! retina 0.4 has no Opus depacketizer, and `Session::demuxed()` refuses a session in
//! which any set-up stream lacks one (`SETUP` and `PLAY` of such a stream work). So this
//! source does not use `demuxed()`: it reads the playing session's own packet stream (RTP
//! packets already checked, loss-counted and put on retina's timeline, plus RTCP) and
//! depacketizes each track itself (`Depacketizer`): an Opus payload is a frame as it
//! is; every other codec goes through the same retina depacketizer `demuxed()` would have
//! used, built from the stream's `rtpmap` and `fmtp`. retina does not expose a stream's
//! `fmtp`, so it is read from the SDP of the `DESCRIBE` answer (`sdp_fmtps`). Building
//! and feeding a retina depacketizer (`codec::Depacketizer`, `testutil::DepacketizeBuf`,
//! `rtp::PacketMeta`) is public but doc-hidden retina API, which is why the workspace pins
//! retina to an exact version.
//!
//! Lost RTP packets are reported as [`SourceWarning::PacketLoss`]; everything retina
//! cannot recover from ends the session with a [`SourceError`] whose kind says what
//! happened (see [`SourceErrorKind`]) and whose message names the redacted URL, the RTSP
//! step, the stream index and the RTSP status where they apply — never a password.
//!
//! # Timeouts and cancellation
//!
//! Every request/answer step (TCP connect plus `DESCRIBE`, each `SETUP`, `PLAY`) must
//! complete within [`RESPONSE_TIMEOUT`], and after `PLAY` a media frame must arrive at
//! least every [`NO_DATA_TIMEOUT`]; otherwise the session ends with
//! [`SourceErrorKind::Timeout`]. Dropping the [`Source::run`] future drops the retina
//! session, which sends `TEARDOWN` in the background (per the camera's teardown policy:
//! by default one attempt on the open connection for TCP, retries until success or
//! session expiry for UDP) and closes the connection. The source's retina
//! `SessionGroup` tracks those background teardowns, and the next session waits up to
//! [`STALE_SESSION_WAIT`] for them, so a camera with few session slots is not asked for a
//! new session while the old one still holds a slot.

use std::fmt;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use retina::client::{
    Credentials, PacketItem, Playing, Session, SessionGroup, SessionOptions, SetupOptions, Stream,
    Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParameterSetInsertion, ParametersRef, VideoFrame};
use retina::rtp::{PacketMeta, ReceivedPacket};
use retina::testutil::DepacketizeBuf;
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, info};
use url::Url;
use watchpost_config::{CameraConfig, CameraPolicy, RtspTransport, Secret, SecretUrl};

use super::policy::RetinaPolicies;
use super::{FrameSink, Source, SourceError, SourceErrorKind, SourceWarning};
use crate::codec::{annexb, h265};
use crate::frame::{CodecParams, Frame, MediaKind, Track};

/// Longest wait for each RTSP request/answer step of a session: the TCP connect together
/// with `DESCRIBE` (and its digest-auth retry), each `SETUP`, and `PLAY`.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest gap between two media frames (of any track) once playing; then the session
/// ends with [`SourceErrorKind::Timeout`]. Covers a camera that stalls without closing the
/// connection (half-open TCP, frozen encoder, UDP packets that stopped arriving).
pub const NO_DATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait, at the start of a session, for `TEARDOWN`s of this source's previous
/// sessions that retina still runs in the background.
pub const STALE_SESSION_WAIT: Duration = Duration::from_secs(5);

/// Longest retina error description copied into a [`SourceError`] message, in bytes.
const MAX_DETAIL: usize = 300;

/// What to pull from a camera, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct RtspSourceSpec {
    /// `rtsp://[user[:password]@]host[:port]/path`. Credentials in the URL are used unless
    /// [`RtspSourceSpec::username`] / [`RtspSourceSpec::password`] are set, which take
    /// precedence; either way they are only sent to the camera (digest or basic auth, as
    /// the camera asks), never in the request URL and never printed.
    pub url: SecretUrl,
    /// User name for the camera, instead of the one in the URL.
    pub username: Option<String>,
    /// Password for the camera, instead of the one in the URL.
    pub password: Option<Secret>,
    /// How RTP travels: interleaved in the RTSP connection (default) or over UDP.
    pub transport: RtspTransport,
    /// Workarounds for this camera's quirks.
    pub policies: Vec<CameraPolicy>,
}

impl RtspSourceSpec {
    /// The spec of one stream (`url`: the camera's main or sub URL) of a configured camera,
    /// with its credentials, transport and policies.
    pub fn from_camera(camera: &CameraConfig, url: &SecretUrl) -> RtspSourceSpec {
        RtspSourceSpec {
            url: url.clone(),
            username: camera.username.clone(),
            password: camera.password.clone(),
            transport: camera.transport,
            policies: camera.policies.clone(),
        }
    }
}

/// A camera stream pulled over RTSP; see the [module documentation](self) for what a
/// session delivers and how it ends.
///
/// Built once per configured stream and run many times (the hub reconnects by calling
/// [`Source::run`] again). `Debug` and [`Source::describe`] never show the password.
pub struct RtspSource {
    /// The URL without credentials, as sent to the camera.
    url: Url,
    /// The URL for humans: user name kept, password as `***`.
    display: String,
    /// Credentials for the camera, if any.
    creds: Option<Credentials>,
    transport: RtspTransport,
    policies: Vec<CameraPolicy>,
    retina: RetinaPolicies,
    /// Tracks background `TEARDOWN`s of this source's dropped sessions.
    group: Arc<SessionGroup>,
}

impl fmt::Debug for RtspSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtspSource")
            .field("url", &self.display)
            .field("transport", &self.transport)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl RtspSource {
    /// Checks the URL and prepares the source; connects to nothing yet.
    ///
    /// Fails with [`SourceErrorKind::Describe`] (the stream cannot even be described) if
    /// the URL does not parse, is not `rtsp://` (retina has no `rtsps://`), or has no host;
    /// the message shows the URL with its password redacted.
    pub fn new(spec: RtspSourceSpec) -> Result<RtspSource, SourceError> {
        let redacted = spec.url.redacted();
        let bad = |why: String| {
            SourceError::new(
                SourceErrorKind::Describe,
                scrub(format!("invalid RTSP URL {redacted}: {why}"), &spec),
            )
        };
        let mut url = Url::parse(spec.url.expose()).map_err(|e| bad(e.to_string()))?;
        if url.scheme() != "rtsp" {
            return Err(bad(format!(
                "scheme {:?} is not supported (only rtsp://)",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host".to_owned()));
        }
        let url_user = percent_decode(url.username());
        let url_password = url.password().map(percent_decode);
        if url.set_username("").is_err() || url.set_password(None).is_err() {
            return Err(bad("cannot remove the credentials from it".to_owned()));
        }
        let username = spec
            .username
            .clone()
            .or_else(|| (!url_user.is_empty()).then_some(url_user));
        let password = spec
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .or(url_password);
        let creds = match (&username, password) {
            (None, None) => None,
            (user, password) => Some(Credentials {
                username: user.clone().unwrap_or_default(),
                password: password.unwrap_or_default(),
            }),
        };
        let display = display_url(&url, username.as_deref(), creds.is_some());
        let group = SessionGroup::default().named(display.clone());
        Ok(RtspSource {
            url,
            display,
            creds,
            transport: spec.transport,
            retina: RetinaPolicies::from_policies(&spec.policies),
            policies: spec.policies,
            group: Arc::new(group),
        })
    }

    /// Builds an error about this source: the redacted URL, then `what`; any occurrence
    /// of the password is replaced, whatever produced the text.
    fn error(&self, kind: SourceErrorKind, what: impl fmt::Display) -> SourceError {
        let mut message = format!("{}: {what}", self.display);
        if let Some(creds) = &self.creds
            && !creds.password.is_empty()
        {
            message = message.replace(&creds.password, "***");
        }
        SourceError::new(kind, message)
    }

    /// Classifies a retina error raised during `step` and builds the [`SourceError`].
    fn retina_error(&self, step: Step, err: &retina::Error) -> SourceError {
        let status = err.status_code();
        let text = err.to_string();
        let kind = classify(step, status, &text);
        let status = status.map_or(String::new(), |s| format!(" (RTSP status {s})"));
        self.error(kind, format!("{step} failed{status}: {}", summarize(&text)))
    }

    fn session_options(&self) -> SessionOptions {
        self.retina.session_options(
            SessionOptions::default()
                .creds(self.creds.clone())
                .session_group(self.group.clone())
                .user_agent(format!("watchpost/{}", env!("CARGO_PKG_VERSION"))),
        )
    }

    fn setup_options(&self) -> SetupOptions {
        let transport = match self.transport {
            RtspTransport::Tcp => Transport::Tcp(Default::default()),
            RtspTransport::Udp => Transport::Udp(Default::default()),
        };
        // No frame format: it would configure retina's own depacketizer of the stream,
        // which this source does not use (see "Depacketization" in the module docs).
        SetupOptions::default().transport(transport)
    }

    /// Waits (bounded) for background `TEARDOWN`s of earlier sessions.
    async fn wait_for_stale_sessions(&self) {
        let status = self.group.stale_sessions();
        if status.num_sessions == 0 {
            return;
        }
        debug!(
            source = %self.display,
            sessions = status.num_sessions,
            "waiting for the teardown of earlier sessions"
        );
        if timeout(STALE_SESSION_WAIT, self.group.await_stale_sessions(&status))
            .await
            .is_err()
        {
            debug!(source = %self.display, "earlier sessions still not torn down; connecting anyway");
        }
    }

    /// One session; returns why it ended.
    async fn session(&self, sink: &mut dyn FrameSink) -> SourceError {
        self.wait_for_stale_sessions().await;

        let describe = Session::describe(self.url.clone(), self.session_options());
        let mut session = match timeout(RESPONSE_TIMEOUT, describe).await {
            Err(_) => {
                return self.error(
                    SourceErrorKind::Timeout,
                    format!("no connection and answer to DESCRIBE within {RESPONSE_TIMEOUT:?}"),
                );
            }
            Ok(Err(e)) => return self.retina_error(Step::Describe, &e),
            // Once set up, a dropped session sends TEARDOWN from a spawned task.
            Ok(Ok(session)) => InRuntime::new(session),
        };

        let fmtps = sdp_fmtps(session.get().sdp(), session.get().streams());
        let chosen = match self.choose_streams(session.get().streams(), &fmtps) {
            Ok(chosen) => chosen,
            Err(e) => return e,
        };
        for track in &chosen {
            let setup = session.get_mut().setup(track.stream, self.setup_options());
            match timeout(RESPONSE_TIMEOUT, setup).await {
                Err(_) => {
                    return self.error(
                        SourceErrorKind::Timeout,
                        format!(
                            "no answer to SETUP of stream {} within {RESPONSE_TIMEOUT:?}",
                            track.stream
                        ),
                    );
                }
                Ok(Err(e)) => return self.retina_error(Step::Setup(track.stream), &e),
                Ok(Ok(())) => {}
            }
        }
        let playing = session.into_inner().play(self.retina.play_options());
        let playing = match timeout(RESPONSE_TIMEOUT, playing).await {
            Err(_) => {
                return self.error(
                    SourceErrorKind::Timeout,
                    format!("no answer to PLAY within {RESPONSE_TIMEOUT:?}"),
                );
            }
            Ok(Err(e)) => return self.retina_error(Step::Play, &e),
            Ok(Ok(playing)) => playing,
        };
        self.stream_frames(playing, chosen, sink).await
    }

    /// Picks the streams to set up: the first supported video and the first supported
    /// audio stream, each with its depacketizer (`fmtps`: the `fmtp` of each stream, see
    /// [`sdp_fmtps`]). Fails with [`SourceErrorKind::Describe`] if there is none.
    fn choose_streams(
        &self,
        streams: &[Stream],
        fmtps: &[Option<String>],
    ) -> Result<Vec<TrackState>, SourceError> {
        let mut chosen: Vec<TrackState> = Vec::new();
        let mut offered = Vec::new();
        for (i, stream) in streams.iter().enumerate() {
            let codec = format!("{}/{}", stream.media(), stream.encoding_name());
            let fmtp = fmtps.get(i).and_then(Option::as_deref);
            match supported(stream) {
                Ok(kind) if chosen.iter().any(|t| t.kind == kind) => {
                    info!(source = %self.display, stream = i, %codec, "skipping stream: a {kind:?} track is already set up");
                }
                Ok(kind) => match Depacketizer::new(stream, fmtp) {
                    Ok(depacketizer) => chosen.push(TrackState::new(i, kind, depacketizer)),
                    Err(why) => {
                        info!(source = %self.display, stream = i, %codec, "skipping stream: {why}");
                    }
                },
                Err(why) => {
                    info!(source = %self.display, stream = i, %codec, "skipping stream: {why}");
                }
            }
            offered.push(codec);
        }
        if chosen.is_empty() {
            let offered = if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            };
            return Err(self.error(
                SourceErrorKind::Describe,
                format!("no supported stream in the SDP (offered: {offered})"),
            ));
        }
        Ok(chosen)
    }

    /// Announces the tracks, then runs the receive loop until the session ends.
    ///
    /// # The receive loop
    ///
    /// It has one resting state: waiting for the next item of retina's packet stream,
    /// until a deadline [`NO_DATA_TIMEOUT`] after the last frame. Each item is handled
    /// completely before the next one is awaited, so dropping the future (how the hub
    /// stops a source) never leaves a packet half handled:
    ///
    /// - an RTP packet of a track is pushed into that track's [`Depacketizer`], then every
    ///   frame the packet completed is pulled and delivered ([`TrackState::deliver`]):
    ///   none (a video frame is complete only at its last packet), one, or several (an AAC
    ///   packet may carry several frames). Pulling until nothing is left is what the
    ///   depacketizer requires before the next push;
    /// - an RTCP compound packet ends the session once every track has sent BYE;
    /// - anything else is ignored (retina delivers nothing for streams not set up).
    ///
    /// The loop ends, returning why, when the deadline passes ([`SourceErrorKind::Timeout`]),
    /// the camera closes the connection or says BYE on every track
    /// ([`SourceErrorKind::Ended`]), retina fails (classified by [`classify`]), or a
    /// depacketizer rejects a packet ([`SourceErrorKind::Protocol`]).
    async fn stream_frames(
        &self,
        playing: Session<Playing>,
        mut tracks: Vec<TrackState>,
        sink: &mut dyn FrameSink,
    ) -> SourceError {
        // Dropped in a runtime context even if the future is dropped outside one, so
        // retina can spawn its background TEARDOWN.
        let mut playing = InRuntime::new(playing);
        let streams = playing.get().streams();
        let mut track_of = vec![None; streams.len()];
        let mut announced = Vec::with_capacity(tracks.len());
        for (i, track) in tracks.iter_mut().enumerate() {
            track_of[track.stream] = Some(i);
            track.params = track.depacketizer.params().map(Arc::new);
            announced.push(Track {
                clock_rate: streams[track.stream].clock_rate_hz(),
                params: track.params.clone(),
                kind: track.kind,
            });
        }
        debug!(source = %self.display, tracks = ?announced, "playing");
        sink.tracks(announced);

        let mut deadline = Instant::now() + NO_DATA_TIMEOUT;
        loop {
            let item = match timeout_at(deadline, playing.get_mut().next()).await {
                Err(_) => {
                    return self.error(
                        SourceErrorKind::Timeout,
                        format!("no media for {NO_DATA_TIMEOUT:?}"),
                    );
                }
                Ok(None) => {
                    return self.error(SourceErrorKind::Ended, "the camera closed the connection");
                }
                Ok(Some(Err(e))) => return self.retina_error(Step::Stream, &e),
                Ok(Some(Ok(item))) => item,
            };
            match item {
                PacketItem::Rtp(packet) => {
                    let Some(t) = track_of.get(packet.stream_id()).copied().flatten() else {
                        continue;
                    };
                    let track = &mut tracks[t];
                    if let Err(why) = track.depacketizer.push(packet) {
                        return self.depacketize_error(track.stream, &why);
                    }
                    while let Some(frame) = track.depacketizer.pull() {
                        match frame {
                            Ok(frame) => {
                                deadline = Instant::now() + NO_DATA_TIMEOUT;
                                track.deliver(t, frame, sink);
                            }
                            Err(why) => return self.depacketize_error(track.stream, &why),
                        }
                    }
                }
                PacketItem::Rtcp(rtcp) => {
                    // RTCP BYE (packet type 203): the camera ends that track. Like FFmpeg,
                    // end the session once every track has said goodbye.
                    let Some(t) = track_of.get(rtcp.stream_id()).copied().flatten() else {
                        continue;
                    };
                    if rtcp.pkts().any(|p| p.payload_type() == RTCP_BYE) {
                        tracks[t].bye = true;
                        if tracks.iter().all(|t| t.bye) {
                            return self.error(
                                SourceErrorKind::Ended,
                                "the camera ended the stream (RTCP BYE)",
                            );
                        }
                    }
                }
                // Future item kinds are ignored.
                _ => {}
            }
        }
    }

    /// The error for a packet the depacketizer of stream `stream` rejected.
    fn depacketize_error(&self, stream: usize, why: &str) -> SourceError {
        self.error(
            SourceErrorKind::Protocol,
            format!(
                "streaming failed: stream {stream}: {}",
                truncate(why, MAX_DETAIL)
            ),
        )
    }
}

impl Source for RtspSource {
    /// `rtsp://user:***@host:port/path over tcp` (or `udp`), plus the policies if any.
    fn describe(&self) -> String {
        let transport = match self.transport {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        };
        if self.policies.is_empty() {
            format!("{} over {transport}", self.display)
        } else {
            let policies: Vec<_> = self.policies.iter().map(|p| p.as_str()).collect();
            format!(
                "{} over {transport} (policies: {})",
                self.display,
                policies.join(", ")
            )
        }
    }

    fn run<'a>(&'a self, sink: &'a mut dyn FrameSink) -> BoxFuture<'a, SourceError> {
        Box::pin(self.session(sink))
    }
}

/// RTCP packet type of a BYE (RFC 3550 section 6.6).
const RTCP_BYE: u8 = 203;

/// The step of a session an error happened in; decides the error kind for answers with
/// an RTSP status and appears in the message.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Connecting and `DESCRIBE`.
    Describe,
    /// `SETUP` of the stream with this index.
    Setup(usize),
    /// `PLAY`.
    Play,
    /// Receiving frames.
    Stream,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Describe => f.write_str("DESCRIBE"),
            Step::Setup(stream) => write!(f, "SETUP of stream {stream}"),
            Step::Play => f.write_str("PLAY"),
            Step::Stream => f.write_str("streaming"),
        }
    }
}

/// Maps a retina error to a [`SourceErrorKind`].
///
/// retina's error type is opaque apart from the RTSP status, so this looks at the status
/// first and then at the stable beginning of retina's messages (one per error variant).
fn classify(step: Step, status: Option<u16>, text: &str) -> SourceErrorKind {
    use SourceErrorKind as K;
    if matches!(status, Some(401 | 403 | 407)) {
        return K::Auth;
    }
    if status.is_some() {
        // An RTSP answer (an error status, or a success that could not be used).
        return match step {
            Step::Describe => K::Describe,
            Step::Setup(_) | Step::Play => K::Setup,
            Step::Stream => K::Protocol,
        };
    }
    let text = text.trim_start();
    if text.contains("keepalive") && (text.contains("within") || text.contains("Timeout")) {
        // "Server failed to respond to keepalive N within 30s", "Unable to write keepalive".
        return K::Timeout;
    }
    if text.starts_with("Unable to connect to RTSP server")
        || text.starts_with("Error reading from RTSP peer")
        || text.starts_with("Error writing to RTSP peer")
        || text.starts_with("Error receiving UDP packet")
    {
        return K::Connect;
    }
    if text.starts_with("Invalid argument") {
        return K::Describe;
    }
    if text.starts_with("Timeout") {
        return K::Timeout;
    }
    // RTSP framing errors, bad RTP/RTCP packets, data on unassigned channels, and
    // anything else retina refuses on the wire.
    K::Protocol
}

/// The first line of a retina error (its description, without hex dumps of the offending
/// bytes) plus the connection it happened on, bounded to a readable length.
fn summarize(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = truncate(lines.next().unwrap_or("unknown error"), MAX_DETAIL);
    match text.lines().find_map(|l| l.trim().strip_prefix("conn: ")) {
        Some(conn) => format!("{first} [connection {}]", truncate(conn, 120)),
        None => first.to_owned(),
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Replaces the spec's passwords (field and URL) in `text` by `***`.
fn scrub(mut text: String, spec: &RtspSourceSpec) -> String {
    if let Some(password) = &spec.password
        && !password.is_empty()
    {
        text = text.replace(password.expose(), "***");
    }
    if let Some(userinfo) = spec
        .url
        .expose()
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty())
    {
        text = text.replace(userinfo, "***");
        text = text.replace(&percent_decode(userinfo), "***");
    }
    text
}

/// `rtsp://user:***@host:port/path` from a credential-free URL.
fn display_url(url: &Url, username: Option<&str>, has_password: bool) -> String {
    let plain = url.as_str();
    let userinfo = match (username, has_password) {
        (_, true) => format!("{}:***@", username.unwrap_or_default()),
        (Some(user), false) => format!("{user}@"),
        (None, false) => return plain.to_owned(),
    };
    match plain.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{userinfo}{rest}"),
        None => plain.to_owned(),
    }
}

/// Decodes `%XX` escapes (URL user info); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether this source can deliver `stream`, and as what; otherwise why not.
fn supported(stream: &Stream) -> Result<MediaKind, String> {
    match (stream.media(), stream.encoding_name()) {
        ("video", "h264" | "h265") => {
            if stream.clock_rate_hz() == 90_000 {
                Ok(MediaKind::Video)
            } else {
                Err(format!(
                    "video clock rate {} Hz (must be 90000)",
                    stream.clock_rate_hz()
                ))
            }
        }
        // For audio, missing parameters mean retina could not build a depacketizer (an
        // AAC stream without a usable `config`).
        ("audio", "mpeg4-generic" | "pcma" | "pcmu") => match stream.parameters() {
            Some(_) => Ok(MediaKind::Audio),
            None => Err("unusable codec parameters in the SDP".to_owned()),
        },
        ("audio", "opus") => {
            if stream.clock_rate_hz() == OPUS_CLOCK_RATE {
                Ok(MediaKind::Audio)
            } else {
                Err(format!(
                    "Opus clock rate {} Hz (must be {OPUS_CLOCK_RATE})",
                    stream.clock_rate_hz()
                ))
            }
        }
        _ => Err("codec not supported".to_owned()),
    }
}

/// RTP clock rate of Opus, whatever the sampling rate of the encoder (RFC 7587 section 4.1).
const OPUS_CLOCK_RATE: u32 = 48_000;

/// Channels of an Opus stream: two if the SDP says the camera sends stereo
/// (`sprop-stereo=1` in the `fmtp`, RFC 7587 section 6.1; the default is mono) and the
/// `rtpmap` does not insist on one channel, else one.
fn opus_channels(rtpmap_channels: Option<NonZeroU16>, fmtp: Option<&str>) -> u16 {
    if rtpmap_channels.is_some_and(|c| c.get() == 1) {
        return 1;
    }
    let stereo = fmtp
        .into_iter()
        .flat_map(|f| f.split(';'))
        .filter_map(|param| param.split_once('='))
        .any(|(name, value)| {
            name.trim().eq_ignore_ascii_case("sprop-stereo") && value.trim() == "1"
        });
    if stereo { 2 } else { 1 }
}

/// The `fmtp` value (format parameters, without the payload type) of each of retina's
/// `streams`, read from the SDP they were parsed from; `None` where there is none or it
/// cannot be found.
///
/// retina makes a stream of every media description it can parse, in order, and skips the
/// others; so each stream is matched with the next media description of the same media
/// type, RTP-based transport and payload type (the first format) whose `rtpmap` for that
/// payload type names the same encoding and clock rate (or that has none and a static
/// payload type).
fn sdp_fmtps(sdp: &[u8], streams: &[Stream]) -> Vec<Option<String>> {
    let mut fmtps = vec![None; streams.len()];
    // retina parsed the same bytes with the same parser, so this does not fail.
    let Ok(session) = sdp_types::Session::parse(sdp) else {
        return fmtps;
    };
    let mut medias = session.medias.iter();
    for (stream, fmtp) in streams.iter().zip(&mut fmtps) {
        let Some(media) = medias.by_ref().find(|m| describes(m, stream)) else {
            break;
        };
        let Some(payload_type) = media.fmt.split_ascii_whitespace().next() else {
            continue;
        };
        *fmtp = attribute_values(media, "fmtp")
            .filter_map(|v| v.split_once(' '))
            .filter(|(pt, _)| *pt == payload_type)
            .map(|(_, params)| params.to_owned())
            .last();
    }
    fmtps
}

/// Whether `media` is the SDP media description retina made `stream` of; see
/// [`sdp_fmtps`].
fn describes(media: &sdp_types::Media, stream: &Stream) -> bool {
    let rtp = media.proto.starts_with("RTP/")
        || media.proto.contains("/RTP/")
        || media.proto.contains("MP2T/");
    let Some(payload_type) = media.fmt.split_ascii_whitespace().next() else {
        return false;
    };
    if media.media != stream.media()
        || !rtp
        || payload_type.parse::<u8>().ok() != Some(stream.rtp_payload_type())
    {
        return false;
    }
    // `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`; retina uses the
    // last one for the payload type, and needs one unless the payload type is static.
    let rtpmap = attribute_values(media, "rtpmap")
        .filter_map(|v| v.trim_end().split_once(' '))
        .filter(|(pt, _)| *pt == payload_type)
        .last();
    match rtpmap {
        Some((_, map)) => {
            let mut parts = map.split('/');
            let encoding = parts.next().unwrap_or_default();
            let clock_rate = parts.next().and_then(|c| c.parse::<u32>().ok());
            encoding.eq_ignore_ascii_case(stream.encoding_name())
                && clock_rate == Some(stream.clock_rate_hz())
        }
        None => stream.rtp_payload_type() < 96,
    }
}

/// The values of the attributes named `name` of an SDP media description.
fn attribute_values<'a>(
    media: &'a sdp_types::Media,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    media
        .attributes
        .iter()
        .filter(move |a| a.attribute == name)
        .filter_map(|a| a.value.as_deref())
}

/// [`CodecParams`] from retina's parameters of a stream with this (lower-case)
/// `encoding` name.
fn codec_params(encoding: &str, params: ParametersRef<'_>) -> Option<CodecParams> {
    match params {
        ParametersRef::Video(video) => {
            let (width, height) = video.pixel_dimensions();
            let rfc6381 = video.rfc6381_codec().to_owned();
            match video.codec_params() {
                retina::codec::VideoParametersCodec::H264 { sps, pps } => Some(CodecParams::H264 {
                    sps: sps.clone(),
                    pps: pps.clone(),
                    width,
                    height,
                    rfc6381,
                }),
                retina::codec::VideoParametersCodec::H265 { vps, sps, pps } => {
                    Some(CodecParams::H265 {
                        vps: vps.clone(),
                        sps: sps.clone(),
                        pps: pps.clone(),
                        width,
                        height,
                        rfc6381,
                    })
                }
                _ => None,
            }
        }
        ParametersRef::Audio(audio) => {
            let sample_rate = audio.clock_rate();
            let channels = audio.channels().get();
            match encoding {
                "mpeg4-generic" => Some(CodecParams::Aac {
                    config: Bytes::copy_from_slice(audio.extra_data()),
                    sample_rate,
                    channels,
                }),
                "pcma" => Some(CodecParams::Pcma {
                    sample_rate,
                    channels,
                }),
                "pcmu" => Some(CodecParams::Pcmu {
                    sample_rate,
                    channels,
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Makes an H.265 IRAP picture that retina does not flag as a random-access point into a
/// key frame: retina counts only IDR pictures, so CRA and BLA pictures (what encoders with
/// open GOPs, e.g. x265 by default, send as every key frame but the first) would
/// otherwise never be key frames, and would lack the in-band parameter sets.
///
/// Returns the frame with VPS/SPS/PPS from `params` in front (unless it carries them
/// already) if every picture slice in `data` is a BLA, CRA or reserved IRAP NAL unit
/// (types 16–23); `None` otherwise, and always for other codecs.
fn h265_irap_fixup(data: &[u8], params: &CodecParams) -> Option<Vec<u8>> {
    let CodecParams::H265 { vps, sps, pps, .. } = params else {
        return None;
    };
    let types = h265_nal_types(data);
    let mut vcl = types.iter().filter(|t| t.is_vcl()).peekable();
    vcl.peek()?;
    if !vcl.all(|t| t.is_irap()) {
        return None;
    }
    if [h265::NalType::VPS, h265::NalType::SPS, h265::NalType::PPS]
        .iter()
        .all(|t| types.contains(t))
    {
        return Some(data.to_vec());
    }
    let mut out = Vec::with_capacity(data.len() + vps.len() + sps.len() + pps.len() + 12);
    for set in [vps, sps, pps] {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(set);
    }
    out.extend_from_slice(data);
    Some(out)
}

/// The H.265 NAL unit types of an Annex B access unit, in order.
fn h265_nal_types(data: &[u8]) -> Vec<h265::NalType> {
    annexb::nal_units(data).filter_map(h265::nal_type).collect()
}

fn warn_loss(sink: &mut dyn FrameSink, track: usize, loss: u16) {
    if loss > 0 {
        sink.warning(SourceWarning::PacketLoss {
            track,
            packets: u32::from(loss),
        });
    }
}

/// Per-track state during a session.
#[derive(Debug)]
struct TrackState {
    /// Stream index in the presentation.
    stream: usize,
    kind: MediaKind,
    /// Turns this track's RTP packets into frames.
    depacketizer: Depacketizer,
    /// The latest parameters (announced, or waiting in `pending_params`).
    params: Option<Arc<CodecParams>>,
    /// Parameters learnt or changed since the last delivered frame, to be attached to the
    /// next one as [`Frame::new_params`].
    pending_params: Option<Arc<CodecParams>>,
    /// Whether a key frame has been delivered (video; audio frames are all key frames).
    seen_key: bool,
    /// Whether the camera sent RTCP BYE for this track.
    bye: bool,
}

impl TrackState {
    fn new(stream: usize, kind: MediaKind, depacketizer: Depacketizer) -> TrackState {
        TrackState {
            stream,
            kind,
            depacketizer,
            params: None,
            pending_params: None,
            seen_key: kind == MediaKind::Audio,
            bye: false,
        }
    }

    /// Hands a frame just pulled from the depacketizer to `sink` as track `t`: reports
    /// the packets lost before it, picks up new parameters, and for video recognises
    /// H.265 IRAP key frames ([`h265_irap_fixup`]) and drops frames before the first key
    /// frame.
    fn deliver(&mut self, t: usize, frame: Depacketized, sink: &mut dyn FrameSink) {
        match frame {
            Depacketized::Video(frame) => {
                warn_loss(sink, t, frame.loss());
                self.refresh_params(frame.has_new_parameters());
                let pts = frame.timestamp().elapsed();
                let mut key = frame.is_random_access_point();
                let mut data = frame.into_data();
                if !key
                    && let Some(params) = self.params.as_deref()
                    && let Some(fixed) = h265_irap_fixup(&data, params)
                {
                    key = true;
                    data = fixed;
                }
                if !self.seen_key && !key {
                    return;
                }
                self.seen_key = true;
                sink.frame(Frame {
                    track: t,
                    pts,
                    key,
                    data: Bytes::from(data),
                    new_params: self.pending_params.take(),
                    received: Instant::now(),
                    rtp: Default::default(),
                });
            }
            Depacketized::Audio { pts, loss, data } => {
                warn_loss(sink, t, loss);
                self.refresh_params(false);
                sink.frame(Frame {
                    track: t,
                    pts,
                    key: true,
                    data,
                    new_params: self.pending_params.take(),
                    received: Instant::now(),
                    rtp: Default::default(),
                });
            }
        }
    }

    /// Picks up new parameters after a frame was pulled: the depacketizer says the frame
    /// changed them, or none were known yet and now they are. Frames dropped before the
    /// first key frame still update them; the next delivered frame carries them.
    fn refresh_params(&mut self, changed: bool) {
        if !changed && self.params.is_some() {
            return;
        }
        let Some(params) = self.depacketizer.params() else {
            return;
        };
        if self.params.as_deref() == Some(&params) {
            return;
        }
        let params = Arc::new(params);
        self.params = Some(params.clone());
        self.pending_params = Some(params);
    }
}

/// Turns the RTP packets of one track into frames; see "Depacketization" in the
/// [module documentation](self).
///
/// Calling contract (retina's, kept for Opus): after each [`push`](Self::push) (one RTP
/// packet in), call [`pull`](Self::pull) until it returns `None` (every frame that packet
/// completed out) before the next `push`. [`params`](Self::params) describe the frames
/// pulled so far, never a frame still inside.
enum Depacketizer {
    /// A codec retina depacketizes (H.264, H.265, AAC, G.711): the depacketizer
    /// `demuxed()` would have used, with the ring buffer it reads the payloads from.
    Retina {
        inner: retina::codec::Depacketizer,
        buf: DepacketizeBuf,
        /// The stream's encoding name (lower case), to name its parameters.
        encoding: Box<str>,
    },
    /// Opus (RFC 7587): every RTP payload is one Opus packet, so one frame.
    Opus {
        /// See [`opus_channels`].
        channels: u16,
        /// The frame of the last packet pushed, until pulled.
        pending: Option<Depacketized>,
        /// Packets lost before empty payloads that were skipped (an Opus packet has at
        /// least one byte), to count with the next frame.
        lost: u16,
    },
}

impl fmt::Debug for Depacketizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Depacketizer::Retina {
                inner, encoding, ..
            } => f
                .debug_struct("Retina")
                .field("inner", inner)
                .field("encoding", encoding)
                .finish_non_exhaustive(),
            Depacketizer::Opus {
                channels,
                pending,
                lost,
            } => f
                .debug_struct("Opus")
                .field("channels", channels)
                .field("pending", pending)
                .field("lost", lost)
                .finish(),
        }
    }
}

/// Initial size of the ring buffer of a retina depacketizer; it grows to hold the
/// largest frame in progress.
const DEPACKETIZE_BUF_CAPACITY: usize = 64 * 1024;

impl Depacketizer {
    /// The depacketizer of a stream [`supported`] accepted, with the `fmtp` of its media
    /// description (see [`sdp_fmtps`]).
    fn new(stream: &Stream, fmtp: Option<&str>) -> Result<Depacketizer, String> {
        if stream.encoding_name() == "opus" {
            return Ok(Depacketizer::Opus {
                channels: opus_channels(stream.channels(), fmtp),
                pending: None,
                lost: 0,
            });
        }
        let mut inner = retina::codec::Depacketizer::new(
            stream.media(),
            stream.encoding_name(),
            stream.clock_rate_hz(),
            stream.channels(),
            fmtp,
        )
        .map_err(|e| format!("unusable codec parameters in the SDP: {e}"))?;
        inner.set_frame_format(FrameFormat {
            h26x_framing: retina::codec::h26x::Framing::AnnexB,
            parameter_set_insertion: ParameterSetInsertion::EachKeyFrame,
            aac_framing: retina::codec::aac::Framing::Raw,
        });
        Ok(Depacketizer::Retina {
            inner,
            buf: DepacketizeBuf::new(DEPACKETIZE_BUF_CAPACITY),
            encoding: stream.encoding_name().into(),
        })
    }

    /// Takes one RTP packet of the track; fails if its payload is invalid for the codec.
    fn push(&mut self, packet: ReceivedPacket) -> Result<(), String> {
        match self {
            Depacketizer::Retina { inner, buf, .. } => buf
                .push(inner, PacketMeta::from_received(&packet), packet.payload())
                .map_err(|why| {
                    format!(
                        "RTP packet {} (SSRC {:08x}) rejected: {why}",
                        packet.sequence_number(),
                        packet.ssrc()
                    )
                }),
            Depacketizer::Opus { pending, lost, .. } => {
                let pts = packet.timestamp().elapsed();
                let loss = lost.saturating_add(packet.loss());
                let data = packet.into_payload_bytes();
                if data.is_empty() {
                    *lost = loss;
                } else {
                    *lost = 0;
                    *pending = Some(Depacketized::Audio { pts, loss, data });
                }
                Ok(())
            }
        }
    }

    /// The next frame completed by the packets pushed so far, if any.
    fn pull(&mut self) -> Option<Result<Depacketized, String>> {
        match self {
            Depacketizer::Retina { inner, .. } => loop {
                match inner.pull()? {
                    Ok(CodecItem::VideoFrame(frame)) => {
                        return Some(Ok(Depacketized::Video(frame)));
                    }
                    Ok(CodecItem::AudioFrame(frame)) => {
                        return Some(Ok(Depacketized::Audio {
                            pts: frame.timestamp().elapsed(),
                            loss: frame.loss(),
                            data: Bytes::copy_from_slice(frame.data()),
                        }));
                    }
                    // Metadata: never set up.
                    Ok(_) => {}
                    // retina's DepacketizeError shows its description only in Debug.
                    Err(e) => return Some(Err(format!("depacketizing failed: {e:?}"))),
                }
            },
            Depacketizer::Opus { pending, .. } => pending.take().map(Ok),
        }
    }

    /// The codec parameters as of the frames pulled so far, if known.
    fn params(&self) -> Option<CodecParams> {
        match self {
            Depacketizer::Retina {
                inner, encoding, ..
            } => codec_params(encoding, inner.parameters()?),
            Depacketizer::Opus { channels, .. } => Some(CodecParams::Opus {
                sample_rate: OPUS_CLOCK_RATE,
                channels: *channels,
            }),
        }
    }
}

/// A frame out of a [`Depacketizer`].
#[derive(Debug)]
enum Depacketized {
    /// An H.264 or H.265 access unit as retina assembled it.
    Video(VideoFrame),
    /// An audio frame.
    Audio {
        /// In the track's clock ticks, on retina's timeline.
        pts: i64,
        /// RTP packets lost just before this frame.
        loss: u16,
        data: Bytes,
    },
}

/// Holds a value that must be dropped inside a tokio runtime (retina spawns its
/// background `TEARDOWN` when a session is dropped). Enters the runtime that was current
/// when it was created, in case the owner is dropped outside any runtime.
struct InRuntime<T> {
    value: Option<T>,
    handle: tokio::runtime::Handle,
}

impl<T> InRuntime<T> {
    /// Must be called within a tokio runtime.
    fn new(value: T) -> InRuntime<T> {
        InRuntime {
            value: Some(value),
            handle: tokio::runtime::Handle::current(),
        }
    }

    fn get(&self) -> &T {
        self.value.as_ref().expect("present until dropped")
    }

    fn get_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("present until dropped")
    }

    /// Takes the value out; the caller is responsible for it from now on.
    fn into_inner(mut self) -> T {
        self.value.take().expect("present until dropped")
    }
}

impl<T> Drop for InRuntime<T> {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(self.value.take());
        } else {
            let _entered = self.handle.enter();
            drop(self.value.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> RtspSourceSpec {
        RtspSourceSpec {
            url: SecretUrl::new(url),
            username: None,
            password: None,
            transport: RtspTransport::Tcp,
            policies: Vec::new(),
        }
    }

    #[test]
    fn credentials_leave_the_url_and_never_print() {
        let source = RtspSource::new(spec("rtsp://admin:pa%3Ass@127.0.0.1:554/main")).unwrap();
        assert_eq!(source.url.as_str(), "rtsp://127.0.0.1:554/main");
        let creds = source.creds.as_ref().unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("admin", "pa:ss")
        );
        assert_eq!(
            source.describe(),
            "rtsp://admin:***@127.0.0.1:554/main over tcp"
        );
        let debug = format!("{source:?}");
        assert!(
            !debug.contains("pa:ss") && !debug.contains("pa%3Ass"),
            "{debug}"
        );

        let mut with_fields = spec("rtsp://cam.example/x");
        with_fields.username = Some("viewer".into());
        with_fields.password = Some(Secret::new("field-pw"));
        assert!(!format!("{with_fields:?}").contains("field-pw"));
        assert!(!format!("{:?}", spec("rtsp://a:url-pw@h/x")).contains("url-pw"));
        with_fields.transport = RtspTransport::Udp;
        with_fields.policies = vec![CameraPolicy::NeverTeardown];
        let source = RtspSource::new(with_fields).unwrap();
        assert_eq!(
            source.describe(),
            "rtsp://viewer:***@cam.example/x over udp (policies: never-teardown)"
        );
        let creds = source.creds.as_ref().unwrap();
        assert_eq!(creds.password, "field-pw");
        assert!(!format!("{source:?}").contains("field-pw"));

        let source = RtspSource::new(spec("rtsp://cam.example/x")).unwrap();
        assert!(source.creds.is_none());
        assert_eq!(source.describe(), "rtsp://cam.example/x over tcp");
    }

    #[test]
    fn the_spec_fields_win_over_url_credentials() {
        let mut s = spec("rtsp://urluser:urlpw@cam.example/x");
        s.password = Some(Secret::new("fieldpw"));
        let source = RtspSource::new(s).unwrap();
        let creds = source.creds.as_ref().unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("urluser", "fieldpw")
        );
    }

    #[test]
    fn bad_urls_are_describe_errors_without_the_password() {
        for url in [
            "rtsps://admin:s3cr3t@cam.example/x",
            "http://admin:s3cr3t@cam.example/x",
            "rtsp://admin:s3cr3t@[::1/x",
            "rtsp:///nohost",
        ] {
            let err = RtspSource::new(spec(url)).unwrap_err();
            assert_eq!(err.kind, SourceErrorKind::Describe, "{url}: {err}");
            assert!(!err.message.contains("s3cr3t"), "{url}: {err}");
        }
    }

    #[test]
    fn errors_never_contain_the_password() {
        let mut s = spec("rtsp://cam.example/x");
        s.username = Some("u".into());
        s.password = Some(Secret::new("hunter2"));
        let source = RtspSource::new(s).unwrap();
        let err = source.error(SourceErrorKind::Protocol, "echoed hunter2 back");
        assert_eq!(err.message, "rtsp://u:***@cam.example/x: echoed *** back");
    }

    #[test]
    fn classification() {
        use SourceErrorKind as K;
        let cases = [
            (
                Step::Describe,
                Some(401),
                "401 response to DESCRIBE",
                K::Auth,
            ),
            (Step::Setup(1), Some(403), "403 response to SETUP", K::Auth),
            (
                Step::Describe,
                Some(404),
                "404 response to DESCRIBE",
                K::Describe,
            ),
            (
                Step::Describe,
                Some(200),
                "200 response: bad SDP",
                K::Describe,
            ),
            (Step::Setup(0), Some(461), "461 response to SETUP", K::Setup),
            (
                Step::Play,
                Some(200),
                "200 response to PLAY: no RTP-Info",
                K::Setup,
            ),
            (
                Step::Describe,
                None,
                "Unable to connect to RTSP server: Connection refused (os error 111)",
                K::Connect,
            ),
            (
                Step::Describe,
                None,
                "Error reading from RTSP peer: EOF while expecting response",
                K::Connect,
            ),
            (
                Step::Stream,
                None,
                "Error reading from RTSP peer: Server failed to respond to keepalive 7 within 30s",
                K::Timeout,
            ),
            (
                Step::Describe,
                None,
                "RTSP framing error: Invalid RTSP message; buffered:",
                K::Protocol,
            ),
            (
                Step::Stream,
                None,
                "wrong ssrc after 3 RTP pkts",
                K::Protocol,
            ),
            (
                Step::Describe,
                None,
                "Invalid argument: Bad URL",
                K::Describe,
            ),
        ];
        for (step, status, text, want) in cases {
            assert_eq!(
                classify(step, status, text),
                want,
                "{step} {status:?} {text}"
            );
        }
    }

    #[test]
    fn summaries_drop_hex_dumps_and_keep_the_connection() {
        let text = "RTSP framing error: Invalid RTSP message; buffered:\n0000: 51 f3 1c\n\n\
                    conn: 127.0.0.1:4000(me)->127.0.0.1:554@2024-01-01T00:00:00\nmsg: 10@x";
        assert_eq!(
            summarize(text),
            "RTSP framing error: Invalid RTSP message; buffered: \
             [connection 127.0.0.1:4000(me)->127.0.0.1:554@2024-01-01T00:00:00]"
        );
        let long = "é".repeat(400);
        assert!(summarize(&long).len() <= MAX_DETAIL);
    }

    #[test]
    fn h265_cra_pictures_become_key_frames_with_parameter_sets() {
        let params = CodecParams::H265 {
            vps: Bytes::from_static(&[0x40, 0x01, 0xaa]),
            sps: Bytes::from_static(&[0x42, 0x01, 0xbb]),
            pps: Bytes::from_static(&[0x44, 0x01, 0xcc]),
            width: 320,
            height: 240,
            rfc6381: "hvc1.1.6.L60.90".into(),
        };
        // CRA_NUT (21) slice: header byte 21 << 1 = 0x2a.
        let cra = [0, 0, 0, 1, 0x2a, 0x01, 0xde, 0xad];
        let fixed = h265_irap_fixup(&cra, &params).expect("a CRA is a key frame");
        let types: Vec<u8> = h265_nal_types(&fixed).iter().map(|t| t.0).collect();
        assert_eq!(types, [32, 33, 34, 21]);
        assert!(fixed.ends_with(&cra));

        // Already carrying its parameter sets: unchanged.
        assert_eq!(h265_irap_fixup(&fixed, &params).unwrap(), fixed);
        // A trailing picture (TRAIL_R = 1), an empty frame, a CRA mixed with a trailing
        // slice, and other codecs: not key frames.
        assert_eq!(
            h265_irap_fixup(&[0, 0, 0, 1, 0x02, 0x01, 0x00], &params),
            None
        );
        assert_eq!(h265_irap_fixup(&[], &params), None);
        let mixed = [0, 0, 1, 0x2a, 0x01, 0x00, 0, 0, 1, 0x02, 0x01, 0x00];
        assert_eq!(h265_irap_fixup(&mixed, &params), None);
        let g711 = CodecParams::Pcma {
            sample_rate: 8000,
            channels: 1,
        };
        assert_eq!(h265_irap_fixup(&cra, &g711), None);
    }

    #[test]
    fn opus_channels_come_from_sprop_stereo() {
        let rtpmap_two = NonZeroU16::new(2);
        assert_eq!(opus_channels(rtpmap_two, None), 1, "mono by default");
        assert_eq!(opus_channels(rtpmap_two, Some("sprop-stereo=0")), 1);
        assert_eq!(
            opus_channels(
                rtpmap_two,
                Some("minptime=10; SPROP-STEREO = 1 ;useinbandfec=1")
            ),
            2
        );
        assert_eq!(opus_channels(None, Some("sprop-stereo=1")), 2);
        // `stereo` is what the camera would like to receive, not what it sends.
        assert_eq!(opus_channels(rtpmap_two, Some("stereo=1")), 1);
        // A (non-conforming) `opus/48000/1` is believed.
        assert_eq!(opus_channels(NonZeroU16::new(1), Some("sprop-stereo=1")), 1);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%40b%3a%2"), "a@b:%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
