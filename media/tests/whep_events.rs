//! WHEP session lifecycle events ([`WebRtc::start_with_events`]): a synthetic H.264 + PCMA
//! camera on a hub path, viewers that are real str0m peers on loopback UDP. However a
//! session ends — `close_session`, a viewer that vanishes or closes, its path removed, a
//! viewer that never connects, `shutdown` — it reports one `Started` and exactly one
//! `Ended` with that reason. Every test ends with `shutdown`, which closes the event queue,
//! and checks the whole event stream for that pairing.
//!
//! Connecting takes real time (ICE, DTLS over loopback: tens of milliseconds); waiting for
//! a timeout does not: those tests pause tokio's clock once the viewer is gone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind as RtcKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, timeout};
use watchpost_config::WebRtcConfig;
use watchpost_media::frame::{CodecParams, Frame, MediaKind, Track};
use watchpost_media::hub::{Hub, HubConfig, HubHandle, PathName, PathSpec};
use watchpost_media::ingest::{FrameSink, Source, SourceError};
use watchpost_media::webrtc::{EndReason, SessionEvent, SessionId, WebRtc, WebRtcError};

const PATH: &str = "cam/main";
/// `webrtc.disconnect_timeout` of these tests: the shortest the session honours.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a test waits for something that should happen at once (real or paused time).
const PATIENCE: Duration = Duration::from_secs(10);

/// A camera: H.264 (an IDR every 25th frame) and PCMA, 25 frames per second each.
#[derive(Debug)]
struct Camera;

fn tracks() -> Vec<Track> {
    vec![
        Track {
            clock_rate: 90_000,
            kind: MediaKind::Video,
            params: Some(Arc::new(CodecParams::H264 {
                sps: Bytes::from_static(&[0x67, 0x42, 0xc0, 0x1e]),
                pps: Bytes::from_static(&[0x68, 0xce, 0x3c, 0x80]),
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

fn frame(track: usize, pts: i64, key: bool, data: Vec<u8>) -> Frame {
    Frame {
        track,
        pts,
        key,
        data: data.into(),
        new_params: None,
        received: Instant::now(),
        rtp: Default::default(),
    }
}

impl Source for Camera {
    fn describe(&self) -> String {
        "synthetic camera".into()
    }

    fn run<'a>(&'a self, sink: &'a mut dyn FrameSink) -> BoxFuture<'a, SourceError> {
        Box::pin(async move {
            sink.tracks(tracks());
            for n in 0i64.. {
                let video = if n % 25 == 0 {
                    let mut idr = vec![0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e];
                    idr.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
                    idr.extend_from_slice(&[0, 0, 0, 1, 0x65]);
                    idr.extend(std::iter::repeat_n(0x88u8, 2000));
                    idr
                } else {
                    vec![0, 0, 0, 1, 0x41, 0x9a, 7, 7]
                };
                sink.frame(frame(0, n * 3600, n % 25 == 0, video));
                sink.frame(frame(1, n * 320, true, vec![0xd5; 320]));
                sleep(Duration::from_millis(40)).await;
            }
            unreachable!("the camera runs until its path stops it")
        })
    }
}

/// The hub with [`PATH`] on the synthetic camera, and the WebRTC layer on it with its event
/// queue.
async fn start() -> (HubHandle, WebRtc, mpsc::Receiver<SessionEvent>) {
    let hub_config = HubConfig {
        start_timeout: Duration::from_secs(5),
        ..HubConfig::default()
    };
    let hub = Hub::spawn(
        hub_config,
        vec![PathSpec {
            name: PathName::new(PATH).unwrap(),
            source: Arc::new(Camera),
            always_on: false,
        }],
    )
    .unwrap();
    let config = WebRtcConfig {
        udp_listen: "127.0.0.1:0".parse().unwrap(),
        disconnect_timeout: DISCONNECT_TIMEOUT,
        ..WebRtcConfig::default()
    };
    let (webrtc, events) = WebRtc::start_with_events(&config, hub.clone())
        .await
        .unwrap();
    (hub, webrtc, events)
}

/// What a viewer's driver is told.
enum Control {
    /// Close the connection properly (DTLS `close_notify`), then stop.
    Close,
}

/// A browser-like viewer: a str0m peer on its own UDP socket, receive-only H.264 + PCMA,
/// driven by a task until it is told to close or is dropped (it vanishes: not a word more).
struct Viewer {
    id: SessionId,
    /// `true` once media arrived (so the server side is connected too).
    playing: watch::Receiver<bool>,
    control: mpsc::Sender<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Viewer {
    /// Offers, creates the session, starts driving the peer. `connect: false` sends the
    /// offer and never answers a packet: a viewer that never connects.
    async fn join(webrtc: &WebRtc, connect: bool) -> Viewer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_h264(true)
            .enable_pcma(true, false)
            .build(std::time::Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        change.add_media(RtcKind::Video, Direction::RecvOnly, None, None, None);
        change.add_media(RtcKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let created = webrtc
            .create_session(PATH, &offer.to_sdp_string())
            .await
            .unwrap();
        rtc.sdp_api()
            .accept_answer(
                pending,
                SdpAnswer::from_sdp_string(&created.answer).unwrap(),
            )
            .unwrap();
        let (playing_tx, playing) = watch::channel(false);
        let (control, control_rx) = mpsc::channel(1);
        let task = if connect {
            tokio::spawn(drive(rtc, socket, local, control_rx, playing_tx))
        } else {
            tokio::spawn(async move {
                let _keep = (rtc, socket, control_rx, playing_tx);
                std::future::pending::<()>().await;
            })
        };
        Viewer {
            id: created.id,
            playing,
            control,
            task,
        }
    }

    /// [`Self::join`], then waits until media arrives.
    async fn play(webrtc: &WebRtc) -> Viewer {
        let mut viewer = Viewer::join(webrtc, true).await;
        timeout(PATIENCE, viewer.playing.wait_for(|p| *p))
            .await
            .expect("media within 10 s")
            .expect("the viewer's driver stopped");
        assert!(
            webrtc.sessions().iter().any(|s| s.id == viewer.id),
            "a playing session is listed"
        );
        viewer
    }

    /// Gone without a word (tab killed, network lost): its peer and socket are dropped.
    async fn vanish(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Closes its peer connection (DTLS `close_notify`) and waits for its driver to stop.
    async fn close(self) {
        self.control.send(Control::Close).await.unwrap();
        timeout(PATIENCE, self.task)
            .await
            .expect("the viewer closes within 10 s")
            .unwrap();
    }
}

/// Drives a viewer's str0m peer on its socket.
async fn drive(
    mut rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mut control: mpsc::Receiver<Control>,
    playing: watch::Sender<bool>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Timeout(at)) => break at,
                Ok(Output::Event(Event::MediaData(_))) => {
                    playing.send_replace(true);
                }
                Ok(Output::Event(_)) => {}
                Err(e) => panic!("viewer: {e}"),
            }
        };
        if !rtc.is_alive() {
            return; // Closed, and its close sent.
        }
        let deadline = deadline.min(std::time::Instant::now() + Duration::from_secs(1));
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { continue };
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(
                    std::time::Instant::now(),
                    Receive { proto: Protocol::Udp, source, destination: local, contents },
                );
                let _ = rtc.handle_input(input);
            }
            Some(Control::Close) = control.recv() => rtc.close().unwrap(),
            () = tokio::time::sleep_until(Instant::from_std(deadline)) => {
                let _ = rtc.handle_input(Input::Timeout(std::time::Instant::now()));
            }
        }
    }
}

/// The next event, within [`PATIENCE`]; also appended to `seen`.
async fn next_event(
    events: &mut mpsc::Receiver<SessionEvent>,
    seen: &mut Vec<SessionEvent>,
) -> SessionEvent {
    next_event_within(events, seen, PATIENCE).await
}

/// The next event, within `within`; also appended to `seen`.
async fn next_event_within(
    events: &mut mpsc::Receiver<SessionEvent>,
    seen: &mut Vec<SessionEvent>,
    within: Duration,
) -> SessionEvent {
    let event = timeout(within, events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {within:?}"))
        .expect("the event queue is open");
    seen.push(event.clone());
    event
}

/// Skips `Started` events; the next `Ended`, within `within` of each other, must be
/// `id`'s: its reason.
async fn next_end(
    events: &mut mpsc::Receiver<SessionEvent>,
    seen: &mut Vec<SessionEvent>,
    id: &SessionId,
    within: Duration,
) -> EndReason {
    loop {
        match next_event_within(events, seen, within).await {
            SessionEvent::Started { .. } => {}
            SessionEvent::Ended {
                id: ended, reason, ..
            } => {
                assert_eq!(&ended, id, "another session ended first: {reason}");
                return reason;
            }
        }
    }
}

/// Shuts the layer down and returns every event it reported, in order (`seen`, those read
/// so far, then the rest): the queue closes once the last session's `Ended` is in it.
async fn shutdown_and_collect(
    webrtc: &WebRtc,
    mut events: mpsc::Receiver<SessionEvent>,
    mut seen: Vec<SessionEvent>,
) -> Vec<SessionEvent> {
    timeout(PATIENCE, webrtc.shutdown())
        .await
        .expect("shutdown within 10 s");
    assert_eq!(webrtc.session_count(), 0);
    while let Some(event) = timeout(PATIENCE, events.recv())
        .await
        .expect("the queue closes after shutdown")
    {
        seen.push(event);
    }
    assert_eq!(webrtc.dropped_session_events(), 0);
    seen
}

/// Per session, in `events`: exactly one `Started` and, after it, exactly one `Ended` with
/// the same path and start time. Returns each session's end reason.
fn paired(events: &[SessionEvent]) -> HashMap<SessionId, EndReason> {
    let mut started: HashMap<SessionId, (String, SystemTime)> = HashMap::new();
    let mut ended = HashMap::new();
    for event in events {
        match event {
            SessionEvent::Started { id, path, at } => {
                let again = started.insert(id.clone(), (path.clone(), *at));
                assert!(again.is_none(), "{id} started twice: {events:#?}");
                assert!(!ended.contains_key(id), "{id} ended before it started");
            }
            SessionEvent::Ended {
                id,
                path,
                started_at,
                ended_at,
                reason,
            } => {
                let (start_path, at) = started
                    .get(id)
                    .unwrap_or_else(|| panic!("{id} ended without starting: {events:#?}"));
                assert_eq!((path, started_at), (start_path, at), "{id}");
                assert!(
                    ended_at >= started_at,
                    "{id}: {ended_at:?} < {started_at:?}"
                );
                let again = ended.insert(id.clone(), reason.clone());
                assert!(again.is_none(), "{id} ended twice: {events:#?}");
            }
        }
    }
    assert_eq!(
        started.len(),
        ended.len(),
        "every session ends once: {events:#?}"
    );
    ended
}

/// `close_session` (WHEP `DELETE`) → `Ended` with `Requested`, once; a second close of
/// the same id finds nothing. Failed `create_session` calls report nothing.
#[tokio::test]
async fn close_session_reports_requested_once() {
    let (_hub, webrtc, mut events) = start().await;
    let mut seen = Vec::new();
    let viewer = Viewer::play(&webrtc).await;
    let id = viewer.id.clone();
    let started = next_event(&mut events, &mut seen).await;
    assert!(
        matches!(&started, SessionEvent::Started { id: s, path, .. } if *s == id && path == PATH),
        "{started:?}"
    );

    assert!(webrtc.close_session(id.as_str()));
    assert_eq!(
        next_end(&mut events, &mut seen, &id, PATIENCE).await,
        EndReason::Requested
    );
    assert!(!webrtc.close_session(id.as_str()), "already gone");

    // Sessions that are never created report nothing.
    assert!(matches!(
        webrtc.create_session("no/such", "v=0\r\n").await,
        Err(WebRtcError::Hub(_))
    ));
    assert!(matches!(
        webrtc.create_session(PATH, "not sdp").await,
        Err(WebRtcError::MalformedOffer(_))
    ));
    assert!(events.try_recv().is_err(), "no event for failed creations");
    viewer.vanish().await;

    let all = shutdown_and_collect(&webrtc, events, seen).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(paired(&all)[&id], EndReason::Requested);
}

/// A connected viewer that goes silent is reaped after `webrtc.disconnect_timeout`
/// (paused time: no real wait) → `DisconnectTimeout`.
#[tokio::test]
async fn a_vanished_viewer_reports_disconnect_timeout() {
    let (_hub, webrtc, mut events) = start().await;
    let mut seen = Vec::new();
    let viewer = Viewer::play(&webrtc).await;
    let id = viewer.id.clone();
    viewer.vanish().await;
    tokio::time::pause();
    let vanished = Instant::now();
    let reason = next_end(&mut events, &mut seen, &id, PATIENCE).await;
    let after = vanished.elapsed();
    assert_eq!(reason, EndReason::DisconnectTimeout, "after {after:?}");
    assert!(
        after >= DISCONNECT_TIMEOUT - Duration::from_millis(300) && after <= DISCONNECT_TIMEOUT * 2,
        "reaped {after:?} after the viewer vanished (timeout {DISCONNECT_TIMEOUT:?})"
    );

    let all = shutdown_and_collect(&webrtc, events, seen).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(paired(&all)[&id], EndReason::DisconnectTimeout);
}

/// A viewer that closes its peer connection (DTLS `close_notify`) → `PeerClosed`, at once
/// (well before the disconnect timeout).
#[tokio::test]
async fn a_viewer_that_closes_reports_peer_closed() {
    let (_hub, webrtc, mut events) = start().await;
    let mut seen = Vec::new();
    let viewer = Viewer::play(&webrtc).await;
    let id = viewer.id.clone();
    let closed = Instant::now();
    viewer.close().await;
    let reason = next_end(&mut events, &mut seen, &id, PATIENCE).await;
    assert_eq!(reason, EndReason::PeerClosed);
    assert!(
        closed.elapsed() < DISCONNECT_TIMEOUT,
        "{:?}",
        closed.elapsed()
    );

    let all = shutdown_and_collect(&webrtc, events, seen).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(paired(&all)[&id], EndReason::PeerClosed);
}

/// A viewer that never connects is given up after the connect timeout (paused time) →
/// `ConnectTimeout`: a session that fails after `create_session` returned Ok reports too.
#[tokio::test]
async fn a_viewer_that_never_connects_reports_connect_timeout() {
    let (_hub, webrtc, mut events) = start().await;
    let mut seen = Vec::new();
    let viewer = Viewer::join(&webrtc, false).await;
    tokio::time::pause();
    let created = Instant::now();
    let limit = watchpost_media::webrtc::session::CONNECT_TIMEOUT;
    let reason = next_end(&mut events, &mut seen, &viewer.id, limit + PATIENCE).await;
    assert_eq!(reason, EndReason::ConnectTimeout);
    let after = created.elapsed();
    assert!(
        after >= limit - Duration::from_secs(1) && after <= limit + Duration::from_secs(2),
        "{after:?}"
    );

    let all = shutdown_and_collect(&webrtc, events, seen).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(paired(&all)[&viewer.id], EndReason::ConnectTimeout);
}

/// Removing the path ends its sessions, playing or still connecting → `PathClosed`.
#[tokio::test]
async fn removing_the_path_reports_path_closed() {
    let (hub, webrtc, mut events) = start().await;
    let mut seen = Vec::new();
    let playing = Viewer::play(&webrtc).await;
    let connecting = Viewer::join(&webrtc, false).await;
    for _ in 0..2 {
        next_event(&mut events, &mut seen).await; // The two `Started`.
    }
    hub.remove_path(PATH).await.unwrap();
    let removed = Instant::now();
    for _ in 0..2 {
        next_event(&mut events, &mut seen).await; // The two `Ended`.
    }
    // The connecting one notices within the second its task waits at most.
    assert!(
        removed.elapsed() < Duration::from_secs(3),
        "{:?}",
        removed.elapsed()
    );

    let all = shutdown_and_collect(&webrtc, events, seen).await;
    let reasons = paired(&all);
    assert_eq!((all.len(), reasons.len()), (4, 2), "{all:#?}");
    assert_eq!(reasons[&playing.id], EndReason::PathClosed);
    assert_eq!(reasons[&connecting.id], EndReason::PathClosed);
}

/// `shutdown` ends every live session, playing or still connecting → one `Shutdown` each;
/// then no session can be created.
#[tokio::test]
async fn shutdown_reports_every_live_session() {
    let (_hub, webrtc, events) = start().await;
    let viewers = [
        Viewer::play(&webrtc).await,
        Viewer::play(&webrtc).await,
        Viewer::join(&webrtc, false).await,
    ];
    assert_eq!(webrtc.session_count(), 3);

    let all = shutdown_and_collect(&webrtc, events, Vec::new()).await;
    let reasons = paired(&all);
    assert_eq!((all.len(), reasons.len()), (6, 3), "{all:#?}");
    for viewer in &viewers {
        assert_eq!(reasons[&viewer.id], EndReason::Shutdown, "{all:#?}");
    }
    assert!(matches!(
        webrtc.create_session(PATH, "v=0\r\n").await,
        Err(WebRtcError::Closed)
    ));
}
