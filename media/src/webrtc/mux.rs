//! The IO side: one shared UDP socket, the optional ICE-TCP listener, the mux task that
//! routes datagrams to sessions, and one task per session that drives its [`WhepSession`]
//! with tokio time.
//!
//! ```text
//! UDP socket ──recv──▶ mux task ──route──▶ session inbox ──▶ session task ──▶ WhepSession (str0m)
//! TCP conn ──RFC 4571 frame──▶ route ─┘   (STUN USERNAME's      │ also reads its hub Reader
//!                                          local ufrag for a new ▼ and its PATCH commands
//!                                          address, then the     send: UDP socket, or the
//!                                          address)              TCP connection's writer
//! ```
//!
//! ICE-TCP (RFC 6544): we announce passive TCP host candidates; a viewer connects, and
//! each connection carries RFC 4571 frames (two-byte big-endian length, then one STUN,
//! DTLS or SRTP packet). A connection has a reader task (frames → routes, like UDP
//! datagrams) and a writer task with a bounded queue: a session never waits for a slow
//! TCP viewer; a full queue drops the packet, as a congested UDP path would, and NACK/PLI
//! repair it. A connection that carries nothing routable within
//! [`TCP_IDLE_TIMEOUT`] is closed; at most [`MAX_TCP_CONNECTIONS`] are open at a time.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::session::{
    PatchOutcome, Poll, SessionSetup, SessionState, SessionStats, Transport, WhepSession,
};
use super::trickle::IceFragment;
use super::{EndReason, SessionEvent, SessionId, SessionInfo, WebRtcError};
use crate::hub::{HubError, HubHandle, Reader, ReaderEvent, ReaderOptions};

/// Datagrams queued per session before the mux drops them (UDP semantics).
const INBOX: usize = 512;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// A TCP connection on which nothing routable arrived for this long is closed.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// ICE-TCP connections open at a time; further ones are refused (closed at once).
pub const MAX_TCP_CONNECTIONS: usize = 4096;
/// The largest RFC 4571 frame accepted; a larger one closes the connection.
const MAX_TCP_FRAME: usize = 8192;
/// Frames queued per TCP connection before packets are dropped.
const TCP_WRITE_QUEUE: usize = 1024;

/// One datagram (or ICE-TCP frame) routed to a session.
#[derive(Debug)]
struct Inbound {
    at: Instant,
    transport: Transport,
    source: SocketAddr,
    data: Vec<u8>,
}

/// A request to a session task.
enum Command {
    /// A WHEP PATCH: trickle ICE or ICE restart. `if_match` is the request's `If-Match`.
    Patch {
        fragment: IceFragment,
        if_match: Option<String>,
        reply: oneshot::Sender<Result<Patched, WebRtcError>>,
    },
}

/// What a PATCH did, with the session's entity tag after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// Trickled or restarted.
    pub outcome: PatchOutcome,
    /// The ICE session's entity tag (`ETag`), quoted; changes with every ICE restart.
    pub etag: String,
}

/// The entity tag of an ICE session: its local ufrag, quoted (RFC 9110 §8.8.3).
fn etag_of(ufrag: &str) -> String {
    format!("\"{ufrag}\"")
}

/// Which session a datagram belongs to.
#[derive(Default)]
struct Routes {
    by_ufrag: HashMap<String, SessionId>,
    by_addr: HashMap<(Transport, SocketAddr), SessionId>,
    inbox: HashMap<SessionId, mpsc::Sender<Inbound>>,
}

struct SessionEntry {
    path: String,
    created: Instant,
    /// Wall-clock creation time, for [`SessionEvent`]s.
    started_at: SystemTime,
    /// Set once (the first reason wins) to end the session: DELETE or shutdown.
    close: watch::Sender<Option<EndReason>>,
    commands: mpsc::Sender<Command>,
    info: Arc<Mutex<(SessionState, SessionStats)>>,
    task: Option<JoinHandle<()>>,
}

pub(super) struct Shared {
    socket: Arc<UdpSocket>,
    /// Whether a viewer's datagrams of one frame leave in one system call.
    gso: super::udp::Gso,
    local_addr: SocketAddr,
    /// The ICE-TCP listener's address, when `webrtc.tcp_listen` is set.
    tcp_addr: Option<SocketAddr>,
    /// Writers of the open ICE-TCP connections, by the viewer's address.
    tcp_writers: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
    tcp_dropped: std::sync::atomic::AtomicU64,
    setup: SessionSetup,
    hub: HubHandle,
    routes: Mutex<Routes>,
    sessions: Mutex<HashMap<SessionId, SessionEntry>>,
    stop: watch::Sender<bool>,
    mux_task: Mutex<Option<JoinHandle<()>>>,
    unrouted: std::sync::atomic::AtomicU64,
    /// Where [`SessionEvent`]s go (`None`: nowhere, or after shutdown).
    events: Mutex<Option<mpsc::Sender<SessionEvent>>>,
    /// Events dropped because that queue was full.
    events_dropped: std::sync::atomic::AtomicU64,
    /// Serialises [`Shared::shutdown`].
    shutdown_lock: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The local ICE ufrag in a STUN binding request's USERNAME (`local:remote`), if `data`
/// is one. RFC 5389: 20-byte header with the magic cookie, then type-length-value
/// attributes padded to 4 bytes; USERNAME is type 0x0006.
pub fn stun_local_ufrag(data: &[u8]) -> Option<&str> {
    if data.len() < 20 || data[0] >> 6 != 0 || data[4..8] != [0x21, 0x12, 0xA4, 0x42] {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let attrs = data.get(20..20 + len)?;
    let mut i = 0;
    while i + 4 <= attrs.len() {
        let kind = u16::from_be_bytes([attrs[i], attrs[i + 1]]);
        let alen = usize::from(u16::from_be_bytes([attrs[i + 2], attrs[i + 3]]));
        let value = attrs.get(i + 4..i + 4 + alen)?;
        if kind == 0x0006 {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        i += 4 + alen.div_ceil(4) * 4;
    }
    None
}

impl Shared {
    pub(super) async fn start(
        bind: SocketAddr,
        tcp_bind: Option<SocketAddr>,
        advertised: &[std::net::IpAddr],
        setup_cert: str0m::config::DtlsCert,
        disconnect_timeout: Duration,
        hub: HubHandle,
        events: Option<mpsc::Sender<SessionEvent>>,
    ) -> Result<Arc<Shared>, WebRtcError> {
        let socket = UdpSocket::bind(bind).await.map_err(|e| {
            WebRtcError::Io(format!("cannot bind UDP {bind} (webrtc.udp_listen): {e}"))
        })?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| WebRtcError::Io(e.to_string()))?;
        let candidates = host_candidates(local_addr, advertised, "webrtc.udp_listen")?;
        let listener = match tcp_bind {
            Some(bind) => Some(TcpListener::bind(bind).await.map_err(|e| {
                WebRtcError::Io(format!("cannot bind TCP {bind} (webrtc.tcp_listen): {e}"))
            })?),
            None => None,
        };
        let tcp_addr = match &listener {
            Some(l) => Some(l.local_addr().map_err(|e| WebRtcError::Io(e.to_string()))?),
            None => None,
        };
        let tcp_candidates = match tcp_addr {
            Some(addr) => host_candidates(addr, advertised, "webrtc.tcp_listen")?,
            None => Vec::new(),
        };
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            socket: Arc::new(socket),
            gso: super::udp::Gso::new(),
            local_addr,
            tcp_addr,
            tcp_writers: Mutex::new(HashMap::new()),
            tcp_dropped: std::sync::atomic::AtomicU64::new(0),
            setup: SessionSetup {
                cert: setup_cert,
                candidates,
                tcp_candidates,
                disconnect_timeout,
            },
            hub,
            routes: Mutex::new(Routes::default()),
            sessions: Mutex::new(HashMap::new()),
            stop,
            mux_task: Mutex::new(None),
            unrouted: std::sync::atomic::AtomicU64::new(0),
            events: Mutex::new(events),
            events_dropped: std::sync::atomic::AtomicU64::new(0),
            shutdown_lock: tokio::sync::Mutex::new(()),
        });
        let task = tokio::spawn(mux_task(shared.clone(), listener, stop_rx));
        *lock(&shared.mux_task) = Some(task);
        tracing::info!(
            udp = %local_addr,
            tcp = ?tcp_addr,
            candidates = ?shared.setup.candidates,
            tcp_candidates = ?shared.setup.tcp_candidates,
            "WebRTC mux listening"
        );
        Ok(shared)
    }

    pub(super) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(super) fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// Hands a PATCH to the session's task and waits for its answer.
    pub(super) async fn patch_session(
        &self,
        id: &str,
        body: &str,
        if_match: Option<String>,
    ) -> Result<Patched, WebRtcError> {
        // Unknown session first (404), then the body (400).
        let commands = lock(&self.sessions)
            .get(id)
            .map(|e| e.commands.clone())
            .ok_or_else(|| WebRtcError::UnknownSession(id.to_owned()))?;
        let fragment = IceFragment::parse(body).map_err(WebRtcError::MalformedFragment)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Patch {
                fragment,
                if_match,
                reply,
            })
            .await
            .map_err(|_| WebRtcError::UnknownSession(id.to_owned()))?;
        answer
            .await
            .map_err(|_| WebRtcError::UnknownSession(id.to_owned()))?
    }

    /// Queues one packet to a viewer's ICE-TCP connection (dropped, and counted, when that
    /// queue is full or the connection is gone). UDP goes out in batches
    /// ([`super::udp`]).
    fn send_tcp(&self, destination: SocketAddr, data: Vec<u8>) {
        let writer = lock(&self.tcp_writers).get(&destination).cloned();
        let sent = writer.is_some_and(|w| w.try_send(data).is_ok());
        if !sent {
            self.tcp_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A new ICE session (restart): datagrams naming `ufrag` now go to `id`; the old
    /// ufrag no longer routes.
    fn set_ufrag(&self, id: &SessionId, ufrag: String) {
        let mut routes = lock(&self.routes);
        routes.by_ufrag.retain(|_, v| v != id);
        routes.by_ufrag.insert(ufrag, id.clone());
    }

    /// Attaches a reader, negotiates and spawns the session task.
    pub(super) async fn create_session(
        self: &Arc<Self>,
        path: &str,
        offer: &str,
    ) -> Result<(SessionId, String, String), WebRtcError> {
        if *self.stop.borrow() {
            return Err(WebRtcError::Closed);
        }
        // Cheap checks first, so that a bad request never starts a camera.
        self.hub.path(path).await?;
        let summary =
            super::negotiate::OfferSummary::parse(offer).map_err(WebRtcError::MalformedOffer)?;
        str0m::change::SdpOffer::from_sdp_string(offer)
            .map_err(|e| WebRtcError::MalformedOffer(e.to_string()))?;
        // AAC cannot travel over WebRTC: a viewer that accepts Opus gets the path's one
        // AAC → Opus transcoder's output instead (no effect on other audio codecs).
        let options = ReaderOptions {
            opus_audio: summary.accepts_opus(),
        };
        let mut reader = self.hub.add_reader_ready_with(path, options).await?;
        let tracks = match reader.try_next() {
            Some(ReaderEvent::Tracks(tracks)) => tracks,
            _ => {
                // Ready means the tracks were announced; the first event is them.
                return Err(WebRtcError::Hub(HubError::Closed));
            }
        };
        let now = Instant::now().into_std();
        let (mut session, answer) = WhepSession::accept(offer, &tracks, &self.setup, now)?;
        for omitted in session.omitted() {
            tracing::info!(path, omitted = %omitted, "track not sent to this viewer");
        }
        let id = SessionId::random();
        let ufrag = session.local_ufrag();
        let ufrag_for_etag = ufrag.clone();
        let (tx, rx) = mpsc::channel(INBOX);
        let (close, close_rx) = watch::channel(None);
        let (commands, commands_rx) = mpsc::channel(8);
        let info = Arc::new(Mutex::new((session.state(), session.stats().clone())));
        // Under the registry lock: `shutdown` (which sets `stop` before taking it) either
        // finds this session or it is refused here; and the task's cleanup (which takes
        // it too) always finds the entry, after `Started` was queued.
        let mut sessions = lock(&self.sessions);
        if *self.stop.borrow() {
            return Err(WebRtcError::Closed);
        }
        {
            let mut routes = lock(&self.routes);
            routes.by_ufrag.insert(ufrag, id.clone());
            routes.inbox.insert(id.clone(), tx);
        }
        let started_at = SystemTime::now();
        self.emit(SessionEvent::Started {
            id: id.clone(),
            path: path.to_owned(),
            at: started_at,
        });
        let task = tokio::spawn(session_task(
            self.clone(),
            id.clone(),
            session,
            reader,
            Inputs {
                inbox: rx,
                commands: commands_rx,
                close: close_rx,
            },
            info.clone(),
        ));
        sessions.insert(
            id.clone(),
            SessionEntry {
                path: path.to_owned(),
                created: Instant::now(),
                started_at,
                close,
                commands,
                info,
                task: Some(task),
            },
        );
        drop(sessions);
        tracing::info!(path, session = %id, "WHEP session created");
        Ok((id, answer, etag_of(&ufrag_for_etag)))
    }

    pub(super) fn close_session(&self, id: &str) -> bool {
        match lock(&self.sessions).get(id) {
            Some(entry) => {
                close_once(&entry.close, EndReason::Requested);
                true
            }
            None => false,
        }
    }

    pub(super) fn sessions(&self) -> Vec<SessionInfo> {
        let now = Instant::now();
        let mut out: Vec<SessionInfo> = lock(&self.sessions)
            .iter()
            .map(|(id, e)| {
                let (state, stats) = lock(&e.info).clone();
                SessionInfo {
                    id: id.clone(),
                    path: e.path.clone(),
                    state,
                    age_ms: u64::try_from(now.duration_since(e.created).as_millis())
                        .unwrap_or(u64::MAX),
                    stats,
                }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    pub(super) fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    pub(super) async fn shutdown(&self) {
        let _serial = self.shutdown_lock.lock().await;
        // `send_replace`: stored even when no receiver is left (a second shutdown).
        self.stop.send_replace(true);
        let mut tasks = Vec::new();
        for entry in lock(&self.sessions).values_mut() {
            close_once(&entry.close, EndReason::Shutdown);
            tasks.extend(entry.task.take());
        }
        // Every session's task is among these (creation is refused from the moment
        // `stop` is set); each queues its `Ended` before it completes.
        for task in tasks {
            let _ = task.await;
        }
        let mux = lock(&self.mux_task).take();
        if let Some(task) = mux {
            let _ = task.await;
        }
        // Close the event queue: the consumer reads what is left, then `None`.
        lock(&self.events).take();
    }

    /// Queues a lifecycle event without waiting: dropped and counted when the queue is
    /// full, discarded when there is no queue or its receiver is gone.
    fn emit(&self, event: SessionEvent) {
        let events = lock(&self.events);
        let Some(tx) = events.as_ref() else { return };
        match tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                let dropped = self
                    .events_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                // The first, then every thousandth: a stalled consumer must not flood the log.
                if dropped == 1 || dropped.is_multiple_of(1000) {
                    tracing::warn!(
                        session = %event.id(),
                        path = event.path(),
                        dropped,
                        "WHEP session event queue full: event dropped"
                    );
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub(super) fn dropped_events(&self) -> u64 {
        self.events_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Routes one datagram. STUN binding requests are routed by their USERNAME (and
    /// teach the table the sender's address); everything else by address.
    /// Returns whether the datagram reached a session.
    fn route(&self, transport: Transport, source: SocketAddr, data: Vec<u8>) -> bool {
        let at = Instant::now();
        let mut routes = lock(&self.routes);
        let by_ufrag = stun_local_ufrag(&data).and_then(|u| routes.by_ufrag.get(u).cloned());
        let id = match by_ufrag {
            Some(id) => {
                routes.by_addr.insert((transport, source), id.clone());
                Some(id)
            }
            None => routes.by_addr.get(&(transport, source)).cloned(),
        };
        let inbox = id.and_then(|id| routes.inbox.get(&id).cloned());
        drop(routes);
        match inbox {
            // Full inbox: the session is behind; drop like a congested network would.
            Some(tx) => {
                let _ = tx.try_send(Inbound {
                    at,
                    transport,
                    source,
                    data,
                });
                true
            }
            None => {
                self.unrouted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::trace!(%source, ?transport, "datagram for no session");
                false
            }
        }
    }

    /// The session sends to `addr`: replies (STUN responses to our checks) come from it.
    fn learn(&self, transport: Transport, addr: SocketAddr, id: &SessionId) {
        lock(&self.routes)
            .by_addr
            .insert((transport, addr), id.clone());
    }

    /// A TCP connection closed: forget its writer and routes.
    fn tcp_closed(&self, peer: SocketAddr) {
        lock(&self.tcp_writers).remove(&peer);
        lock(&self.routes).by_addr.remove(&(Transport::Tcp, peer));
    }

    /// Removes a session's routes and registry entry, then queues its `Ended`: once per
    /// session (only its task's [`Cleanup`] calls this).
    fn end_session(&self, id: &SessionId, reason: EndReason) {
        {
            let mut routes = lock(&self.routes);
            routes.by_ufrag.retain(|_, v| v != id);
            routes.by_addr.retain(|_, v| v != id);
            routes.inbox.remove(id);
        }
        let entry = lock(&self.sessions).remove(id);
        if let Some(entry) = entry {
            self.emit(SessionEvent::Ended {
                id: id.clone(),
                path: entry.path,
                started_at: entry.started_at,
                ended_at: SystemTime::now(),
                reason,
            });
        }
    }
}

/// The announced host candidates for a bound socket: the advertised addresses with its
/// port, or the bound address itself (which must then not be a wildcard).
fn host_candidates(
    bound: SocketAddr,
    advertised: &[std::net::IpAddr],
    key: &str,
) -> Result<Vec<SocketAddr>, WebRtcError> {
    if advertised.is_empty() {
        if bound.ip().is_unspecified() {
            return Err(WebRtcError::Io(format!(
                "{key} {bound} is a wildcard address: set webrtc.advertised_addresses to \
                 the addresses browsers should use"
            )));
        }
        return Ok(vec![bound]);
    }
    Ok(advertised
        .iter()
        .map(|ip| SocketAddr::new(*ip, bound.port()))
        .collect())
}

async fn mux_task(
    shared: Arc<Shared>,
    listener: Option<TcpListener>,
    mut stop: watch::Receiver<bool>,
) {
    let socket = shared.socket.clone();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => {
                    shared.route(Transport::Udp, source, buf[..n].to_vec());
                }
                Err(e) => {
                    // ICMP port unreachable from a vanished viewer shows up here on Linux.
                    tracing::debug!(error = %e, "UDP receive error");
                }
            },
            accepted = accept(listener.as_ref()) => match accepted {
                Ok((stream, peer)) => {
                    // Reap finished connection tasks before counting.
                    while connections.try_join_next().is_some() {}
                    if connections.len() >= MAX_TCP_CONNECTIONS {
                        tracing::warn!(%peer, "ICE-TCP connection refused: too many open");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    connections.spawn(tcp_connection(shared.clone(), stream, peer, stop.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "TCP accept error");
                    // EMFILE and friends: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    connections.shutdown().await;
    tracing::debug!("WebRTC mux stopped");
}

/// Accepts on the listener, or never when there is none.
async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// One ICE-TCP connection: RFC 4571 frames in → routes; the writer task sends what
/// sessions queue for `peer`. Ends on EOF, an error, idleness or shutdown.
async fn tcp_connection(
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
    lock(&shared.tcp_writers).insert(peer, tx);
    let writer = tokio::spawn(async move {
        let mut frame = Vec::with_capacity(MAX_DATAGRAM + 2);
        while let Some(data) = rx.recv().await {
            let Ok(len) = u16::try_from(data.len()) else {
                continue;
            };
            frame.clear();
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&data);
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let mut last_routed = Instant::now();
    // Grown to the largest frame seen (at most MAX_TCP_FRAME), not 64 KiB per connection.
    let mut buf = Vec::with_capacity(MAX_DATAGRAM);
    let why = loop {
        let mut len = [0u8; 2];
        let read = async {
            rd.read_exact(&mut len).await?;
            let n = usize::from(u16::from_be_bytes(len));
            if n > MAX_TCP_FRAME {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a {n}-byte frame (STUN, DTLS and RTP fit in {MAX_TCP_FRAME})"),
                ));
            }
            if buf.len() < n {
                buf.resize(n, 0);
            }
            rd.read_exact(&mut buf[..n]).await?;
            Ok::<usize, std::io::Error>(n)
        };
        let idle = tokio::time::sleep_until(last_routed + TCP_IDLE_TIMEOUT);
        tokio::select! {
            n = read => match n {
                Ok(n) => {
                    if shared.route(Transport::Tcp, peer, buf[..n].to_vec()) {
                        last_routed = Instant::now();
                    }
                }
                Err(e) => break format!("closed: {e}"),
            },
            _ = idle => break "idle".to_owned(),
            _ = stop.changed() => break "shutdown".to_owned(),
        }
    };
    tracing::debug!(%peer, why, "ICE-TCP connection ended");
    shared.tcp_closed(peer);
    writer.abort();
}

/// Applies a PATCH in the session task: checks `If-Match` against the current ICE
/// session, hands the fragment to the session, routes a restarted session's new ufrag.
fn patch(
    shared: &Shared,
    id: &SessionId,
    session: &mut WhepSession,
    fragment: &IceFragment,
    if_match: Option<String>,
) -> Result<Patched, WebRtcError> {
    let current = etag_of(&session.local_ufrag());
    if let Some(tag) = if_match
        && tag.trim() != "*"
        && !tag.split(',').any(|t| t.trim() == current)
    {
        return Err(WebRtcError::PreconditionFailed(format!(
            "If-Match {tag} does not name the current ICE session {current}"
        )));
    }
    let outcome = session.patch(Instant::now().into_std(), fragment)?;
    let ufrag = session.local_ufrag();
    if let PatchOutcome::Restarted { .. } = &outcome {
        shared.set_ufrag(id, ufrag.clone());
    }
    Ok(Patched {
        outcome,
        etag: etag_of(&ufrag),
    })
}

/// Removes the session's routes and registry entry and reports its `Ended` when its task
/// ends, however it ends: with `reason` when the task set it, else (a panic unwinding, the
/// runtime dropping the task) as an error.
struct Cleanup {
    shared: Arc<Shared>,
    id: SessionId,
    reason: Option<EndReason>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let reason = self.reason.take().unwrap_or_else(|| {
            EndReason::Error("the session task ended abnormally (panic or runtime shutdown)".into())
        });
        self.shared.end_session(&self.id, reason);
    }
}

/// Asks a session task to end with `reason`, unless it was already asked (the first
/// reason wins).
fn close_once(close: &watch::Sender<Option<EndReason>>, reason: EndReason) {
    close.send_if_modified(|current| {
        if current.is_some() {
            return false;
        }
        *current = Some(reason);
        true
    });
}

/// What reaches a session task besides its hub reader.
struct Inputs {
    /// Datagrams and ICE-TCP frames routed to it.
    inbox: mpsc::Receiver<Inbound>,
    /// PATCH requests.
    commands: mpsc::Receiver<Command>,
    /// `Some`: end, for this reason (DELETE, shutdown).
    close: watch::Receiver<Option<EndReason>>,
}

/// Drives one session: hub Reader → WhepSession → shared socket, and socket → WhepSession.
async fn session_task(
    shared: Arc<Shared>,
    id: SessionId,
    mut session: WhepSession,
    mut reader: Reader,
    inputs: Inputs,
    info: Arc<Mutex<(SessionState, SessionStats)>>,
) {
    let Inputs {
        mut inbox,
        mut commands,
        mut close,
    } = inputs;
    let mut cleanup = Cleanup {
        shared: shared.clone(),
        id: id.clone(),
        reason: None,
    };
    let mut known: HashSet<(Transport, SocketAddr)> = HashSet::new();
    let mut last_destination: Option<(Transport, SocketAddr)> = None;
    let mut batch = super::udp::Batch::default();
    let mut publish_at = Instant::now();
    let reason = 'run: loop {
        // 1. Drain output. A timeout that is already due (str0m asks for one right after
        // new media is written) is handled here rather than through the timer and a
        // round trip through the scheduler; a few in a row at most, then the select below
        // gets its turn.
        let mut due_in_a_row = 0;
        let deadline = loop {
            let now = Instant::now().into_std();
            match session.poll(now) {
                Poll::Transmit {
                    transport,
                    destination,
                    data,
                } => {
                    // Hash only when the destination changes, not for every packet.
                    if last_destination != Some((transport, destination)) {
                        last_destination = Some((transport, destination));
                        if known.insert((transport, destination)) {
                            shared.learn(transport, destination, &id);
                        }
                    }
                    match transport {
                        // Collected, and sent together when the session has nothing more
                        // (one frame's packets: one system call).
                        Transport::Udp => {
                            if !batch.try_push(destination, &data) {
                                shared.gso.send(&shared.socket, &mut batch).await;
                                batch.try_push(destination, &data);
                            }
                        }
                        Transport::Tcp => shared.send_tcp(destination, data),
                    }
                }
                Poll::Wait(at) if at <= now && due_in_a_row < 8 => {
                    due_in_a_row += 1;
                    session.handle_timeout(now);
                }
                Poll::Wait(at) => {
                    shared.gso.send(&shared.socket, &mut batch).await;
                    break at;
                }
                Poll::Closed(reason) => {
                    shared.gso.send(&shared.socket, &mut batch).await;
                    break 'run EndReason::from(reason);
                }
            }
        };
        let now = Instant::now();
        if now >= publish_at {
            *lock(&info) = (session.state(), session.stats().clone());
            publish_at = now + Duration::from_millis(500);
        }
        let deadline = Instant::from_std(deadline).min(now + Duration::from_secs(1));
        let wants_media = session.wants_media();
        // Not reading the hub yet (connecting): notice a closed path anyway, within the
        // second this loop waits at most.
        if !wants_media && reader.is_closed() {
            break 'run EndReason::PathClosed;
        }
        // 2. Wait for input.
        tokio::select! {
            biased;
            _ = close.changed() => {
                let requested = close.borrow_and_update().clone();
                break 'run requested.unwrap_or(EndReason::Requested);
            }
            datagram = inbox.recv() => match datagram {
                Some(d) => {
                    session.handle_datagram(d.at.into_std(), d.transport, d.source, &d.data);
                    // Take what else is queued without going round the loop each time.
                    while let Ok(d) = inbox.try_recv() {
                        session.handle_datagram(d.at.into_std(), d.transport, d.source, &d.data);
                    }
                }
                None => break 'run EndReason::Error("mux stopped".into()),
            },
            Some(command) = commands.recv() => match command {
                Command::Patch { fragment, if_match, reply } => {
                    let result = patch(&shared, &id, &mut session, &fragment, if_match);
                    // Publish at once: a client reading the stats after its PATCH sees it.
                    *lock(&info) = (session.state(), session.stats().clone());
                    let _ = reply.send(result);
                }
            },
            event = reader.next(), if wants_media => match event {
                Some(event) => session.handle_reader(Instant::now().into_std(), event),
                None => break 'run EndReason::PathClosed,
            },
            _ = tokio::time::sleep_until(deadline) => {
                session.handle_timeout(Instant::now().into_std());
            }
        }
    };
    *lock(&info) = (SessionState::Closed, session.stats().clone());
    tracing::info!(session = %id, path = reader.path(), %reason, stats = ?session.stats(), "WHEP session ended");
    drop(reader);
    // `cleanup` drops last: the `Ended` event follows the reader's detach.
    cleanup.reason = Some(reason);
}

#[cfg(test)]
mod tests {
    use super::{host_candidates, stun_local_ufrag};

    /// NAT 1:1: the advertised addresses with the bound port (UDP and TCP alike); without
    /// them the bound address, which must then not be a wildcard.
    #[test]
    fn host_candidates_are_the_advertised_addresses_with_the_bound_port() {
        let bound: std::net::SocketAddr = "10.1.2.3:8189".parse().unwrap();
        let advertised = ["203.0.113.7".parse().unwrap(), "192.0.2.9".parse().unwrap()];
        let c = host_candidates(bound, &advertised, "webrtc.udp_listen").unwrap();
        assert_eq!(
            c,
            [
                "203.0.113.7:8189".parse().unwrap(),
                "192.0.2.9:8189".parse().unwrap()
            ]
        );
        assert_eq!(host_candidates(bound, &[], "k").unwrap(), [bound]);
        let wildcard = "0.0.0.0:8189".parse().unwrap();
        let err = host_candidates(wildcard, &[], "webrtc.tcp_listen").unwrap_err();
        assert!(
            err.to_string().contains("webrtc.tcp_listen")
                && err.to_string().contains("advertised_addresses"),
            "{err}"
        );
        assert_eq!(
            host_candidates(wildcard, &advertised[..1], "k").unwrap(),
            ["203.0.113.7:8189".parse().unwrap()]
        );
    }

    #[test]
    fn finds_the_local_ufrag_in_a_binding_request() {
        let username = b"srv1:cli2";
        let mut msg = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        msg.extend_from_slice(&[7; 12]); // transaction id
        // An unrelated attribute first (PRIORITY), then USERNAME padded to 12 bytes.
        msg.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        msg.extend_from_slice(&[0x00, 0x06, 0x00, username.len() as u8]);
        msg.extend_from_slice(username);
        msg.extend_from_slice(&[0; 3]);
        let len = (msg.len() - 20) as u16;
        msg[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(stun_local_ufrag(&msg), Some("srv1"));
        assert_eq!(stun_local_ufrag(&[0x80; 40]), None, "RTP is not STUN");
    }
}
