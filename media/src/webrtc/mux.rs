//! The IO side: one shared UDP socket, the mux task that routes datagrams to sessions, and
//! one task per session that drives its [`WhepSession`] with tokio time.
//!
//! ```text
//! socket ──recv──▶ mux task ──route──▶ session inbox ──▶ session task ──▶ WhepSession (str0m)
//!                   (STUN USERNAME's                      │ also reads its hub Reader
//!                    local ufrag for a new                ▼
//!                    address, then the address)   socket.send_to (shared socket)
//! ```

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::session::{CloseReason, Poll, SessionSetup, SessionState, SessionStats, WhepSession};
use super::{SessionId, SessionInfo, WebRtcError};
use crate::hub::{HubError, HubHandle, Reader, ReaderEvent, ReaderOptions};

/// Datagrams queued per session before the mux drops them (UDP semantics).
const INBOX: usize = 512;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// One datagram routed to a session.
#[derive(Debug)]
struct Inbound {
    at: Instant,
    source: SocketAddr,
    data: Vec<u8>,
}

/// Which session a datagram belongs to.
#[derive(Default)]
struct Routes {
    by_ufrag: HashMap<String, SessionId>,
    by_addr: HashMap<SocketAddr, SessionId>,
    inbox: HashMap<SessionId, mpsc::Sender<Inbound>>,
}

struct SessionEntry {
    path: String,
    created: Instant,
    close: watch::Sender<bool>,
    info: Arc<Mutex<(SessionState, SessionStats)>>,
    task: Option<JoinHandle<()>>,
}

pub(super) struct Shared {
    socket: Arc<UdpSocket>,
    local_addr: SocketAddr,
    setup: SessionSetup,
    hub: HubHandle,
    routes: Mutex<Routes>,
    sessions: Mutex<HashMap<SessionId, SessionEntry>>,
    stop: watch::Sender<bool>,
    mux_task: Mutex<Option<JoinHandle<()>>>,
    unrouted: std::sync::atomic::AtomicU64,
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
        advertised: &[std::net::IpAddr],
        setup_cert: str0m::config::DtlsCert,
        disconnect_timeout: Duration,
        hub: HubHandle,
    ) -> Result<Arc<Shared>, WebRtcError> {
        let socket = UdpSocket::bind(bind).await.map_err(|e| {
            WebRtcError::Io(format!("cannot bind UDP {bind} (webrtc.udp_listen): {e}"))
        })?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| WebRtcError::Io(e.to_string()))?;
        let candidates: Vec<SocketAddr> = if advertised.is_empty() {
            if local_addr.ip().is_unspecified() {
                return Err(WebRtcError::Io(format!(
                    "webrtc.udp_listen {local_addr} is a wildcard address: set \
                     webrtc.advertised_addresses to the addresses browsers should use"
                )));
            }
            vec![local_addr]
        } else {
            advertised
                .iter()
                .map(|ip| SocketAddr::new(*ip, local_addr.port()))
                .collect()
        };
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            socket: Arc::new(socket),
            local_addr,
            setup: SessionSetup {
                cert: setup_cert,
                candidates,
                disconnect_timeout,
            },
            hub,
            routes: Mutex::new(Routes::default()),
            sessions: Mutex::new(HashMap::new()),
            stop,
            mux_task: Mutex::new(None),
            unrouted: std::sync::atomic::AtomicU64::new(0),
        });
        let task = tokio::spawn(mux_task(shared.clone(), stop_rx));
        *lock(&shared.mux_task) = Some(task);
        tracing::info!(udp = %local_addr, candidates = ?shared.setup.candidates, "WebRTC mux listening");
        Ok(shared)
    }

    pub(super) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Attaches a reader, negotiates and spawns the session task.
    pub(super) async fn create_session(
        self: &Arc<Self>,
        path: &str,
        offer: &str,
    ) -> Result<(SessionId, String), WebRtcError> {
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
        let (tx, rx) = mpsc::channel(INBOX);
        {
            let mut routes = lock(&self.routes);
            routes.by_ufrag.insert(ufrag, id.clone());
            routes.inbox.insert(id.clone(), tx);
        }
        let (close, close_rx) = watch::channel(false);
        let info = Arc::new(Mutex::new((session.state(), session.stats().clone())));
        // Register before spawning so that the task's cleanup always finds the entry.
        let mut sessions = lock(&self.sessions);
        let task = tokio::spawn(session_task(
            self.clone(),
            id.clone(),
            session,
            reader,
            rx,
            close_rx,
            info.clone(),
        ));
        sessions.insert(
            id.clone(),
            SessionEntry {
                path: path.to_owned(),
                created: Instant::now(),
                close,
                info,
                task: Some(task),
            },
        );
        drop(sessions);
        tracing::info!(path, session = %id, "WHEP session created");
        Ok((id, answer))
    }

    pub(super) fn close_session(&self, id: &str) -> bool {
        match lock(&self.sessions).get(id) {
            Some(entry) => {
                let _ = entry.close.send(true);
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
        let _ = self.stop.send(true);
        let mut tasks = Vec::new();
        for entry in lock(&self.sessions).values_mut() {
            let _ = entry.close.send(true);
            tasks.extend(entry.task.take());
        }
        for task in tasks {
            let _ = task.await;
        }
        let mux = lock(&self.mux_task).take();
        if let Some(task) = mux {
            let _ = task.await;
        }
    }

    /// Routes one datagram. STUN binding requests are routed by their USERNAME (and
    /// teach the table the sender's address); everything else by address.
    fn route(&self, source: SocketAddr, data: Vec<u8>) {
        let at = Instant::now();
        let mut routes = lock(&self.routes);
        let by_ufrag = stun_local_ufrag(&data).and_then(|u| routes.by_ufrag.get(u).cloned());
        let id = match by_ufrag {
            Some(id) => {
                routes.by_addr.insert(source, id.clone());
                Some(id)
            }
            None => routes.by_addr.get(&source).cloned(),
        };
        let inbox = id.and_then(|id| routes.inbox.get(&id).cloned());
        drop(routes);
        match inbox {
            // Full inbox: the session is behind; drop like a congested network would.
            Some(tx) => {
                let _ = tx.try_send(Inbound { at, source, data });
            }
            None => {
                self.unrouted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::trace!(%source, "datagram for no session");
            }
        }
    }

    /// The session sends to `addr`: replies (STUN responses to our checks) come from it.
    fn learn(&self, addr: SocketAddr, id: &SessionId) {
        lock(&self.routes).by_addr.insert(addr, id.clone());
    }

    fn remove_session(&self, id: &SessionId) {
        {
            let mut routes = lock(&self.routes);
            routes.by_ufrag.retain(|_, v| v != id);
            routes.by_addr.retain(|_, v| v != id);
            routes.inbox.remove(id);
        }
        lock(&self.sessions).remove(id);
    }
}

async fn mux_task(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let socket = shared.socket.clone();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => shared.route(source, buf[..n].to_vec()),
                Err(e) => {
                    // ICMP port unreachable from a vanished viewer shows up here on Linux.
                    tracing::debug!(error = %e, "UDP receive error");
                }
            },
            _ = stop.changed() => break,
        }
    }
    tracing::debug!("WebRTC mux stopped");
}

/// Removes the session's routes and registry entry when its task ends, however it ends.
struct Cleanup {
    shared: Arc<Shared>,
    id: SessionId,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.shared.remove_session(&self.id);
    }
}

/// Drives one session: hub Reader → WhepSession → shared socket, and socket → WhepSession.
async fn session_task(
    shared: Arc<Shared>,
    id: SessionId,
    mut session: WhepSession,
    mut reader: Reader,
    mut inbox: mpsc::Receiver<Inbound>,
    mut close: watch::Receiver<bool>,
    info: Arc<Mutex<(SessionState, SessionStats)>>,
) {
    let _cleanup = Cleanup {
        shared: shared.clone(),
        id: id.clone(),
    };
    let mut known: HashSet<SocketAddr> = HashSet::new();
    let mut publish_at = Instant::now();
    let reason = 'run: loop {
        // 1. Drain output.
        let deadline = loop {
            match session.poll(Instant::now().into_std()) {
                Poll::Transmit { destination, data } => {
                    if known.insert(destination) {
                        shared.learn(destination, &id);
                    }
                    if let Err(e) = shared.socket.send_to(&data, destination).await {
                        tracing::trace!(error = %e, %destination, "send failed");
                    }
                }
                Poll::Wait(at) => break at,
                Poll::Closed(reason) => break 'run reason,
            }
        };
        let now = Instant::now();
        if now >= publish_at {
            *lock(&info) = (session.state(), session.stats().clone());
            publish_at = now + Duration::from_millis(500);
        }
        let deadline = Instant::from_std(deadline).min(now + Duration::from_secs(1));
        let wants_media = session.wants_media();
        // 2. Wait for input.
        tokio::select! {
            biased;
            _ = close.changed() => break 'run CloseReason::Requested,
            datagram = inbox.recv() => match datagram {
                Some(d) => {
                    session.handle_datagram(d.at.into_std(), d.source, &d.data);
                    // Take what else is queued without going round the loop each time.
                    while let Ok(d) = inbox.try_recv() {
                        session.handle_datagram(d.at.into_std(), d.source, &d.data);
                    }
                }
                None => break 'run CloseReason::Rtc("mux stopped".into()),
            },
            event = reader.next(), if wants_media => match event {
                Some(event) => session.handle_reader(Instant::now().into_std(), event),
                None => break 'run CloseReason::PathClosed,
            },
            _ = tokio::time::sleep_until(deadline) => {
                session.handle_timeout(Instant::now().into_std());
            }
        }
    };
    *lock(&info) = (SessionState::Closed, session.stats().clone());
    tracing::info!(session = %id, path = reader.path(), ?reason, stats = ?session.stats(), "WHEP session ended");
    drop(reader);
}

#[cfg(test)]
mod tests {
    use super::stun_local_ufrag;

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
