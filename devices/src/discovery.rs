//! WS-Discovery on the network: send a Probe by multicast and/or unicast, collect the
//! ProbeMatches that answer it.
//!
//! Vocabulary: a *probe* is one WS-Discovery Probe for ONVIF video transmitters, named by
//! its *message id*; an answer is tied to it by its *RelatesTo*. A *responder* is whatever
//! sent a ProbeMatches datagram (its socket address is [`DiscoveredDevice::from`]); a
//! *device* is one endpoint reference, however many datagrams, interfaces or probes
//! announced it.
//!
//! The message handling is the sync state machine [`DiscoverySession`] (no socket, no
//! clock: datagrams go in, devices come out); [`discover`] is the thin IO shell around it:
//! one UDP socket per address family, the probe sent to the multicast group and to every
//! unicast address (once more a quarter of the timeout later, as UDP may drop it), answers
//! read until the timeout.
//!
//! Multicast is sent only out of the interface named in [`MulticastOptions::interface`]
//! (`IP_MULTICAST_IF`) with a TTL of 1 (WS-Discovery's link-local scope). Its default is
//! the loopback interface (`127.0.0.1`): a caller that wants the cameras of a real network
//! names that network's interface address explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::onvif::discovery::{self as wsd, ProbeMatch};
use crate::onvif::security::{RandomError, random_nonce};

/// The WS-Discovery IPv4 multicast group, `239.255.255.250`.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// The WS-Discovery port, 3702.
pub const DISCOVERY_PORT: u16 = 3702;
/// Largest datagram read; WS-Discovery messages fit in one UDP datagram.
const MAX_DATAGRAM: usize = 65_535;

/// Where and how the multicast probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastOptions {
    /// The IPv4 address of the interface the probe leaves by (`IP_MULTICAST_IF`). Default
    /// `127.0.0.1`, the loopback interface: nothing leaves the machine unless the caller
    /// names another interface.
    pub interface: Ipv4Addr,
    /// The group and port probed; default `239.255.255.250:3702`.
    pub group: SocketAddrV4,
}

impl Default for MulticastOptions {
    fn default() -> Self {
        Self {
            interface: Ipv4Addr::LOCALHOST,
            group: SocketAddrV4::new(MULTICAST_GROUP, DISCOVERY_PORT),
        }
    }
}

/// What [`discover`] probes, and for how long it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverRequest {
    /// Probe the multicast group, when given.
    pub multicast: Option<MulticastOptions>,
    /// Probe each of these addresses directly (a camera's `IP:3702`, or a responder on
    /// another port); IPv4 or IPv6.
    pub unicast: Vec<SocketAddr>,
    /// How long to collect answers after the first probe is sent.
    pub timeout: Duration,
}

impl Default for DiscoverRequest {
    /// Multicast on the loopback interface, no unicast, 2 s.
    fn default() -> Self {
        Self {
            multicast: Some(MulticastOptions::default()),
            unicast: Vec::new(),
            timeout: Duration::from_secs(2),
        }
    }
}

/// One device that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredDevice {
    /// The device's stable id, `wsa:EndpointReference/wsa:Address` (`urn:uuid:…`).
    pub endpoint_reference: String,
    /// Its device-service URLs (`XAddrs`), in the order first announced, without
    /// duplicates; may be empty (then a `Resolve` would be needed, which we do not do).
    pub xaddrs: Vec<String>,
    /// Every scope URI, as announced first.
    pub scopes: Vec<String>,
    /// The announced types (`dn:NetworkVideoTransmitter tds:Device`).
    pub types: Vec<String>,
    /// `onvif://www.onvif.org/name/…`, percent-decoded.
    pub name: Option<String>,
    /// `onvif://www.onvif.org/hardware/…`, percent-decoded: ONVIF's scope for the model.
    pub hardware: Option<String>,
    /// `onvif://www.onvif.org/location/…`, percent-decoded.
    pub location: Option<String>,
    /// The model: a vendor's `onvif://www.onvif.org/model/…` scope where there is one (not
    /// standard, but common), else [`Self::hardware`].
    pub model: Option<String>,
    /// The socket address the first answer came from.
    pub from: SocketAddr,
}

impl DiscoveredDevice {
    fn from_match(m: ProbeMatch, from: SocketAddr) -> Self {
        let model = m
            .scopes
            .iter()
            .find_map(|s| s.strip_prefix("onvif://www.onvif.org/model/"))
            .map(crate::onvif::discovery::percent_decode)
            .or_else(|| m.hardware.clone());
        let mut xaddrs: Vec<String> = Vec::new();
        for x in m.xaddrs {
            if !xaddrs.contains(&x) {
                xaddrs.push(x);
            }
        }
        Self {
            endpoint_reference: m.endpoint_reference,
            xaddrs,
            scopes: m.scopes,
            types: m.types,
            name: m.name,
            hardware: m.hardware,
            location: m.location,
            model,
            from,
        }
    }
}

/// What became of the datagrams a session was handed; malformed input is counted here,
/// never an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryStats {
    /// Datagrams handed to [`DiscoverySession::handle_datagram`].
    pub datagrams: u64,
    /// ProbeMatches answering our probe (each may carry several matches).
    pub answers: u64,
    /// Matches that added a device.
    pub devices: u64,
    /// Matches of a device already known (another interface, the repeated probe).
    pub duplicates: u64,
    /// ProbeMatches whose RelatesTo names another probe (someone else's discovery).
    pub unrelated: u64,
    /// Well-formed SOAP that is not a ProbeMatches (Hello, Bye, Probe — our own multicast
    /// probe comes back on the loopback interface, too).
    pub other_messages: u64,
    /// Not UTF-8, not XML, not SOAP, or a ProbeMatches without an endpoint reference.
    pub malformed: u64,
}

/// What one datagram was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramOutcome {
    /// A ProbeMatches for our probe; how many of its matches were new devices.
    Answer {
        /// Matches that added a device.
        new_devices: usize,
    },
    /// A ProbeMatches for another probe.
    Unrelated,
    /// Another WS-Discovery or SOAP message.
    Other,
    /// Unreadable.
    Malformed,
}

/// One probe and the answers to it: the sync core of [`discover`].
///
/// Feed every received datagram to [`Self::handle_datagram`]; [`Self::devices`] holds
/// one entry per endpoint reference in the order first answered. A ProbeMatches is taken
/// when its RelatesTo equals [`Self::message_id`], or when it has none (older firmware
/// omits it).
#[derive(Debug, Clone)]
pub struct DiscoverySession {
    message_id: String,
    devices: Vec<DiscoveredDevice>,
    stats: DiscoveryStats,
}

impl DiscoverySession {
    /// A session whose probe's message id is made from `random` (16 fresh random bytes,
    /// e.g. [`random_nonce`]).
    pub fn new(random: [u8; 16]) -> Self {
        Self {
            message_id: wsd::message_id(random),
            devices: Vec::new(),
            stats: DiscoveryStats::default(),
        }
    }

    /// The probe's message id, `urn:uuid:…`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The Probe datagram to send (UTF-8 XML).
    pub fn probe(&self) -> String {
        wsd::probe(&self.message_id)
    }

    /// Takes one received datagram from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8]) -> DatagramOutcome {
        self.stats.datagrams += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.stats.malformed += 1;
            return DatagramOutcome::Malformed;
        };
        let parsed = match wsd::parse_probe_matches(text) {
            Ok(parsed) => parsed,
            Err(crate::onvif::OnvifError::UnexpectedResponse { .. }) => {
                self.stats.other_messages += 1;
                return DatagramOutcome::Other;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return DatagramOutcome::Malformed;
            }
        };
        if parsed
            .relates_to
            .as_deref()
            .is_some_and(|r| r != self.message_id)
        {
            self.stats.unrelated += 1;
            return DatagramOutcome::Unrelated;
        }
        self.stats.answers += 1;
        let mut new_devices = 0;
        for m in parsed.matches {
            match self
                .devices
                .iter_mut()
                .find(|d| d.endpoint_reference == m.endpoint_reference)
            {
                Some(known) => {
                    self.stats.duplicates += 1;
                    for x in m.xaddrs {
                        if !known.xaddrs.contains(&x) {
                            known.xaddrs.push(x);
                        }
                    }
                }
                None => {
                    self.stats.devices += 1;
                    new_devices += 1;
                    self.devices.push(DiscoveredDevice::from_match(m, from));
                }
            }
        }
        DatagramOutcome::Answer { new_devices }
    }

    /// The devices found so far, in the order first answered.
    pub fn devices(&self) -> &[DiscoveredDevice] {
        &self.devices
    }

    /// The counters.
    pub fn stats(&self) -> DiscoveryStats {
        self.stats
    }

    /// The devices found, in the order first answered.
    pub fn into_devices(self) -> Vec<DiscoveredDevice> {
        self.devices
    }
}

/// Why [`discover`] found nothing at all (individual bad answers never fail it).
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Neither multicast nor any unicast address was asked for.
    #[error("discovery: nothing to probe (no multicast, no unicast address)")]
    NothingToProbe,
    /// A socket could not be set up.
    #[error("discovery: cannot {what}: {source}")]
    Socket {
        /// What failed (`bind 127.0.0.1:0`, `set IP_MULTICAST_IF 127.0.0.1`…).
        what: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Not a single probe could be sent; one error per destination.
    #[error("discovery: no probe could be sent: {}", summary(.failures))]
    NoProbeSent {
        /// Each destination and why sending to it failed.
        failures: Vec<(SocketAddr, String)>,
    },
    /// No message id: the system random generator failed.
    #[error("discovery: {0}")]
    Random(#[from] RandomError),
}

fn summary(failures: &[(SocketAddr, String)]) -> String {
    failures
        .iter()
        .map(|(to, why)| format!("{to}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything one [`discover_with_report`] run saw.
#[derive(Debug, Clone)]
pub struct DiscoveryReport {
    /// The devices that answered, one per endpoint reference, in the order first answered.
    pub devices: Vec<DiscoveredDevice>,
    /// What the received datagrams were.
    pub stats: DiscoveryStats,
    /// Destinations the probe could not be sent to (others were probed).
    pub send_failures: Vec<(SocketAddr, String)>,
}

/// Probes as `request` says and returns the devices that answered within
/// `request.timeout`, one per endpoint reference. Fails only when no probe could be sent
/// at all; see [`discover_with_report`] for the counters and partial send failures.
pub async fn discover(request: &DiscoverRequest) -> Result<Vec<DiscoveredDevice>, DiscoveryError> {
    discover_with_report(request)
        .await
        .map(|report| report.devices)
}

/// [`discover`], with what was received and which destinations failed.
///
/// Sockets: one IPv4 socket (bound to `127.0.0.1:0` when every destination is on the
/// loopback interface, else `0.0.0.0:0`), one IPv6 socket only for IPv6 unicast
/// destinations (`[::1]:0` or `[::]:0` likewise). Takes `request.timeout` (plus the time
/// to set up the sockets), however early answers come.
pub async fn discover_with_report(
    request: &DiscoverRequest,
) -> Result<DiscoveryReport, DiscoveryError> {
    let mut destinations: Vec<SocketAddr> = Vec::new();
    if let Some(m) = &request.multicast {
        destinations.push(SocketAddr::V4(m.group));
    }
    for &to in &request.unicast {
        if !destinations.contains(&to) {
            destinations.push(to);
        }
    }
    if destinations.is_empty() {
        return Err(DiscoveryError::NothingToProbe);
    }
    let mut session = DiscoverySession::new(random_nonce()?);
    let probe = session.probe();

    let wants_v4 = destinations.iter().any(SocketAddr::is_ipv4);
    let wants_v6 = destinations.iter().any(SocketAddr::is_ipv6);
    let loopback_only = |v6: bool| {
        request
            .multicast
            .is_none_or(|m| v6 || m.interface.is_loopback())
            && request
                .unicast
                .iter()
                .filter(|a| a.is_ipv6() == v6)
                .all(|a| a.ip().is_loopback())
    };
    let v4 = if wants_v4 {
        let ip = if loopback_only(false) {
            Ipv4Addr::LOCALHOST
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        Some(open_socket(IpAddr::V4(ip), request.multicast.as_ref())?)
    } else {
        None
    };
    let v6 = if wants_v6 {
        let ip = if loopback_only(true) {
            Ipv6Addr::LOCALHOST
        } else {
            Ipv6Addr::UNSPECIFIED
        };
        Some(open_socket(IpAddr::V6(ip), None)?)
    } else {
        None
    };

    let send_all = async |failures: &mut Vec<(SocketAddr, String)>| {
        let mut sent = 0;
        for &to in &destinations {
            let socket = if to.is_ipv4() { &v4 } else { &v6 };
            let Some(socket) = socket else { continue };
            match socket.send_to(probe.as_bytes(), to).await {
                Ok(_) => sent += 1,
                Err(e) => failures.push((to, e.to_string())),
            }
        }
        sent
    };
    let mut send_failures = Vec::new();
    if send_all(&mut send_failures).await == 0 {
        return Err(DiscoveryError::NoProbeSent {
            failures: send_failures,
        });
    }

    let deadline = tokio::time::Instant::now() + request.timeout;
    let repeat_at = tokio::time::Instant::now() + (request.timeout / 4).min(Duration::from_secs(1));
    let mut repeated = false;
    let mut buf4 = vec![0u8; MAX_DATAGRAM];
    let mut buf6 = vec![0u8; MAX_DATAGRAM];
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break;
        }
        if !repeated && now >= repeat_at {
            repeated = true;
            // Failures of the repeat are not news: the first round reported them.
            let _ = send_all(&mut Vec::new()).await;
        }
        let wake = if repeated { deadline } else { repeat_at };
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            received = recv(v4.as_ref(), &mut buf4) => {
                if let Ok((n, from)) = received {
                    session.handle_datagram(from, &buf4[..n]);
                }
            }
            received = recv(v6.as_ref(), &mut buf6) => {
                if let Ok((n, from)) = received {
                    session.handle_datagram(from, &buf6[..n]);
                }
            }
        }
    }
    Ok(DiscoveryReport {
        stats: session.stats(),
        devices: session.into_devices(),
        send_failures,
    })
}

/// Receives on `socket`, or never when there is none. Errors (an ICMP "port unreachable"
/// reported on the socket) are returned and skipped by the caller.
async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// A non-blocking UDP socket bound to `ip:0`, set up for multicast out of the given
/// interface when `multicast` is given (IPv4 only).
fn open_socket(
    ip: IpAddr,
    multicast: Option<&MulticastOptions>,
) -> Result<UdpSocket, DiscoveryError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let fail = |what: String| move |source| DiscoveryError::Socket { what, source };
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
        .map_err(fail("create a UDP socket".into()))?;
    if let (IpAddr::V4(_), Some(m)) = (ip, multicast) {
        socket
            .set_multicast_if_v4(&m.interface)
            .map_err(fail(format!("set IP_MULTICAST_IF {}", m.interface)))?;
        socket
            .set_multicast_ttl_v4(1)
            .map_err(fail("set IP_MULTICAST_TTL 1".into()))?;
        // Responders on this very host (the simulator, a camera's emulator) must hear it.
        socket
            .set_multicast_loop_v4(true)
            .map_err(fail("set IP_MULTICAST_LOOP".into()))?;
    }
    let bind = SocketAddr::new(ip, 0);
    socket
        .bind(&bind.into())
        .map_err(fail(format!("bind {bind}")))?;
    socket
        .set_nonblocking(true)
        .map_err(fail("make the socket non-blocking".into()))?;
    UdpSocket::from_std(socket.into()).map_err(fail("register the socket with tokio".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::ns;

    fn from() -> SocketAddr {
        "127.0.0.1:3702".parse().unwrap()
    }

    fn matches(relates_to: Option<&str>, endpoint: &str, xaddr: &str) -> String {
        let relates = relates_to
            .map(|r| format!("<a:RelatesTo>{r}</a:RelatesTo>"))
            .unwrap_or_default();
        format!(
            r#"<s:Envelope xmlns:s="{}" xmlns:a="{}" xmlns:d="{}"><s:Header>{relates}</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>
            <a:EndpointReference><a:Address>{endpoint}</a:Address></a:EndpointReference>
            <d:Types>dn:NetworkVideoTransmitter</d:Types>
            <d:Scopes>onvif://www.onvif.org/name/Gate%20North onvif://www.onvif.org/hardware/WP-1 onvif://www.onvif.org/location/yard%2Fwest</d:Scopes>
            <d:XAddrs>{xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"#,
            ns::SOAP12,
            ns::WSA,
            ns::DISCOVERY
        )
    }

    #[test]
    fn answers_to_our_probe_become_devices_deduplicated() {
        let mut session = DiscoverySession::new([7; 16]);
        let id = session.message_id().to_owned();
        assert!(session.probe().contains(&id));
        let a = matches(
            Some(&id),
            "urn:uuid:a",
            "http://127.0.0.1:1/onvif/device_service",
        );
        assert_eq!(
            session.handle_datagram(from(), a.as_bytes()),
            DatagramOutcome::Answer { new_devices: 1 }
        );
        // The same device by another interface: one device, both addresses.
        let again = matches(
            Some(&id),
            "urn:uuid:a",
            "http://10.0.0.1/onvif/device_service",
        );
        assert_eq!(
            session.handle_datagram("127.0.0.1:9".parse().unwrap(), again.as_bytes()),
            DatagramOutcome::Answer { new_devices: 0 }
        );
        // No RelatesTo: accepted (older firmware).
        let b = matches(
            None,
            "urn:uuid:b",
            "http://127.0.0.1:2/onvif/device_service",
        );
        session.handle_datagram(from(), b.as_bytes());
        let devices = session.devices();
        assert_eq!(devices.len(), 2);
        assert_eq!(
            devices[0].xaddrs,
            [
                "http://127.0.0.1:1/onvif/device_service",
                "http://10.0.0.1/onvif/device_service"
            ]
        );
        assert_eq!(devices[0].name.as_deref(), Some("Gate North"));
        assert_eq!(devices[0].hardware.as_deref(), Some("WP-1"));
        assert_eq!(devices[0].model.as_deref(), Some("WP-1"));
        assert_eq!(devices[0].location.as_deref(), Some("yard/west"));
        assert_eq!(devices[0].from, from());
        let stats = session.stats();
        assert_eq!((stats.answers, stats.devices, stats.duplicates), (3, 2, 1));
    }

    #[test]
    fn foreign_and_bad_datagrams_are_counted_never_fatal() {
        let mut session = DiscoverySession::new([1; 16]);
        let other = matches(Some("urn:uuid:someone-else"), "urn:uuid:c", "http://x/");
        assert_eq!(
            session.handle_datagram(from(), other.as_bytes()),
            DatagramOutcome::Unrelated
        );
        // Our own probe, looped back by multicast.
        let probe = session.probe();
        assert_eq!(
            session.handle_datagram(from(), probe.as_bytes()),
            DatagramOutcome::Other
        );
        for bad in [&b"\xff\xfe"[..], b"", b"<a>", b"not xml at all"] {
            assert_eq!(
                session.handle_datagram(from(), bad),
                DatagramOutcome::Malformed
            );
        }
        let no_address = matches(Some(session.message_id()), "", "http://x/");
        assert_eq!(
            session.handle_datagram(from(), no_address.as_bytes()),
            DatagramOutcome::Malformed
        );
        let stats = session.stats();
        assert_eq!(
            (
                stats.datagrams,
                stats.unrelated,
                stats.other_messages,
                stats.malformed
            ),
            (7, 1, 1, 5)
        );
        assert!(session.into_devices().is_empty());
    }

    #[test]
    fn a_vendor_model_scope_wins_over_hardware() {
        let m = ProbeMatch {
            endpoint_reference: "urn:uuid:x".into(),
            scopes: vec!["onvif://www.onvif.org/model/DS%2D2CD".into()],
            hardware: Some("hw".into()),
            xaddrs: vec!["http://a/".into(), "http://a/".into()],
            ..ProbeMatch::default()
        };
        let d = DiscoveredDevice::from_match(m, from());
        assert_eq!(d.model.as_deref(), Some("DS-2CD"));
        assert_eq!(d.xaddrs, ["http://a/"]);
    }

    #[tokio::test]
    async fn unicast_probe_reaches_a_loopback_responder() {
        // A minimal responder: answers any datagram with a ProbeMatches for its message id.
        let responder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = responder.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            let (n, peer) = responder.recv_from(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let start = text.find("<a:MessageID>").unwrap() + "<a:MessageID>".len();
            let end = text[start..].find('<').unwrap() + start;
            let answer = matches(Some(&text[start..end]), "urn:uuid:r", "http://127.0.0.1:5/");
            responder.send_to(b"garbage", peer).await.unwrap();
            responder.send_to(answer.as_bytes(), peer).await.unwrap();
        });
        let report = discover_with_report(&DiscoverRequest {
            multicast: None,
            unicast: vec![addr],
            timeout: Duration::from_millis(600),
        })
        .await
        .unwrap();
        task.await.unwrap();
        assert_eq!(report.devices.len(), 1, "{report:?}");
        assert_eq!(report.devices[0].from, addr);
        assert_eq!(report.stats.malformed, 1);
        assert!(report.send_failures.is_empty());
        assert!(matches!(
            discover(&DiscoverRequest {
                multicast: None,
                unicast: Vec::new(),
                timeout: Duration::from_millis(1),
            })
            .await,
            Err(DiscoveryError::NothingToProbe)
        ));
    }
}
