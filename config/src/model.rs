//! The configuration sections. Every field has a default (see `watchpost.example.toml`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::{Secret, SecretUrl};
use crate::units;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening sockets of the HTTP API and web UI.
    pub server: ServerConfig,
    /// Where Watchpost keeps its files and its database.
    pub storage: StorageConfig,
    /// Stream hub defaults: on-demand lifecycle, reconnects, reader queues.
    pub media: MediaConfig,
    /// WebRTC (WHEP) egress addresses and ICE servers.
    pub webrtc: WebRtcConfig,
    /// The device layer: the camera inventory's credential key, discovery, health checks.
    pub devices: DevicesConfig,
    /// Sessions, tokens and login rate limits.
    pub security: SecurityConfig,
    /// Cameras declared in the file (`[[cameras]]`), before the device inventory exists.
    pub cameras: Vec<CameraConfig>,
    /// Log level and format.
    pub log: LogConfig,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP API and web UI. Default `127.0.0.1:8080`: expose it deliberately.
    #[serde(with = "units::socket_addr")]
    pub http_listen: SocketAddr,
    /// How long a shutdown waits for open requests and sessions before it closes them.
    #[serde(with = "units::duration")]
    pub shutdown_grace: Duration,
    /// HTTPS: a PEM file with the server's certificate chain, leaf first. Set together with
    /// [`tls_key`](Self::tls_key) (both or neither) to serve HTTPS instead of HTTP on
    /// `http_listen`; browsers grant camera and microphone (video consultations) only to a
    /// secure context, i.e. HTTPS or `localhost`. Unset (the default): plain HTTP.
    /// `WATCHPOST__SERVER__TLS_CERT` overrides it. Read once, at start.
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: a PEM file with the private key of [`tls_cert`](Self::tls_cert) (PKCS#8,
    /// PKCS#1/RSA or SEC1/EC). Its contents are never logged or shown in an error.
    /// `WATCHPOST__SERVER__TLS_KEY` overrides it.
    pub tls_key: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            shutdown_grace: Duration::from_secs(10),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Directory for the embedded database and other state; created if missing.
    pub data_dir: PathBuf,
    /// Database URL. Empty (the default) means an embedded SQLite file
    /// `<data_dir>/watchpost.db`; `postgres://user:password@host/db` for several nodes.
    pub database_url: Option<SecretUrl>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("data"),
            database_url: None,
        }
    }
}

impl StorageConfig {
    /// The database URL in force: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> SecretUrl {
        match &self.database_url {
            Some(url) => url.clone(),
            None => SecretUrl::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("watchpost.db").display()
            )),
        }
    }
}

/// `[media]`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// `[media.on_demand]`: when sources start and stop.
    pub on_demand: OnDemandConfig,
    /// `[media.retry]`: reconnecting to a camera.
    pub retry: RetryConfig,
    /// `[media.reader]`: each viewer's queue.
    pub reader: ReaderConfig,
    /// `[media.gop_cache]`: the last group of pictures kept for instant start.
    pub gop_cache: GopCacheConfig,
}

/// `[media.on_demand]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnDemandConfig {
    /// How long a reader waits for a starting source before it is told the camera is
    /// unavailable.
    #[serde(with = "units::duration")]
    pub start_timeout: Duration,
    /// How long a source keeps running after its last reader left.
    #[serde(with = "units::duration")]
    pub linger: Duration,
}

impl Default for OnDemandConfig {
    fn default() -> Self {
        OnDemandConfig {
            start_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(10),
        }
    }
}

/// `[media.retry]`: exponential backoff with jitter between connection attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Delay before the first retry.
    #[serde(with = "units::duration")]
    pub initial_backoff: Duration,
    /// Upper bound of the delay.
    #[serde(with = "units::duration")]
    pub max_backoff: Duration,
    /// Random spread applied to each delay, as a fraction (0.2 = ±20 %).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

/// `[media.reader]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaderConfig {
    /// Frames a reader may fall behind before it skips to the next key frame.
    pub queue_frames: usize,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig { queue_frames: 256 }
    }
}

/// `[media.gop_cache]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GopCacheConfig {
    /// Upper bound of the cached group of pictures per path; a longer GOP is not cached
    /// (new readers then wait for the next key frame).
    #[serde(with = "units::bytes")]
    pub max_bytes: u64,
}

impl Default for GopCacheConfig {
    fn default() -> Self {
        GopCacheConfig {
            max_bytes: 16 << 20,
        }
    }
}

/// `[webrtc]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebRtcConfig {
    /// The one UDP socket all WebRTC sessions share.
    #[serde(with = "units::socket_addr")]
    pub udp_listen: SocketAddr,
    /// ICE-TCP listener for clients whose UDP is blocked; empty to disable.
    #[serde(with = "units::socket_addr::option")]
    pub tcp_listen: Option<SocketAddr>,
    /// Addresses announced to browsers as host candidates instead of the bound address
    /// (behind NAT or in a container). Empty: announce the bound address.
    pub advertised_addresses: Vec<IpAddr>,
    /// STUN/TURN servers handed to clients.
    pub ice_servers: Vec<IceServerConfig>,
    /// A connected viewer from which nothing (media feedback, consent checks) arrived for
    /// this long is gone: its session ends and its reader detaches. Default 30 s, the
    /// consent-freshness timeout of RFC 7675; str0m's own ICE checks may notice sooner.
    #[serde(with = "units::duration")]
    pub disconnect_timeout: Duration,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        WebRtcConfig {
            udp_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8189),
            tcp_listen: None,
            advertised_addresses: Vec::new(),
            ice_servers: Vec::new(),
            disconnect_timeout: Duration::from_secs(30),
        }
    }
}

/// `[[webrtc.ice_servers]]`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IceServerConfig {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:...`.
    pub urls: Vec<String>,
    /// TURN user name.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<Secret>,
}

/// `[devices]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Key that encrypts camera credentials in the inventory: standard base64 of 32 random
    /// bytes (`openssl rand -base64 32`). Unset (the default): a key file
    /// `<storage.data_dir>/credential.key` is created on first start, which suits a single
    /// node only; nodes sharing a database must share this key. Losing the key loses the
    /// stored camera passwords.
    pub credential_key: Option<Secret>,
    /// The IPv4 address of the interface WS-Discovery multicast probes leave by (the
    /// cameras' network). Default `127.0.0.1`: nothing leaves the machine.
    pub discovery_interface: Ipv4Addr,
    /// Time between two reachability checks of every camera.
    #[serde(with = "units::duration")]
    pub health_interval: Duration,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig {
            credential_key: None,
            discovery_interface: Ipv4Addr::LOCALHOST,
            health_interval: Duration::from_secs(30),
        }
    }
}

/// `[security]`: sessions, stream tokens and failed-login limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// The key that signs session and stream tokens: the standard base64 of 32 random
    /// bytes (`openssl rand -base64 32`). Without it, `<storage.data_dir>/token.key` is
    /// created on first start, which suits a single node only: nodes sharing a database
    /// must share this key. Changing it logs everybody out.
    pub token_key: Option<Secret>,
    /// How long a login lasts (1 min to 7 d).
    #[serde(with = "units::duration")]
    pub session_ttl: Duration,
    /// The longest a stream token may last (1 min to 30 d); callers may ask for less.
    #[serde(with = "units::duration")]
    pub stream_token_max_ttl: Duration,
    /// Failed logins of one account within `login_window` before it is locked for a window.
    pub login_failures_per_account: u32,
    /// Failed logins from one address (IPv6: one /64) within `login_window` before it is
    /// locked for a window.
    pub login_failures_per_address: u32,
    /// The window of the failed-login limits (1 s to 1 d).
    #[serde(with = "units::duration")]
    pub login_window: Duration,
    /// Set the session cookie's `Secure` flag even without TLS here (when a TLS proxy is in
    /// front). With `server.tls_cert` it is always set.
    pub secure_cookie: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            token_key: None,
            session_ttl: Duration::from_secs(8 * 3600),
            stream_token_max_ttl: Duration::from_secs(24 * 3600),
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            login_window: Duration::from_secs(15 * 60),
            secure_cookie: false,
        }
    }
}

/// How RTP travels from a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection: robust through firewalls and NAT.
    #[default]
    Tcp,
    /// Separate UDP ports: lower overhead on a clean LAN.
    Udp,
}

/// `[[cameras]]`: a camera declared in the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Stable identifier, used in paths (`<name>/main`, `<name>/sub`): lowercase letters,
    /// digits, `-` and `_`.
    pub name: String,
    /// Human label shown on the wall (`"Gas station — pump island 1"`).
    #[serde(default)]
    pub title: String,
    /// Main (high-resolution) stream, `rtsp://` or `rtsps://`.
    pub main_url: SecretUrl,
    /// Sub (low-resolution) stream, if the camera has one.
    #[serde(default)]
    pub sub_url: Option<SecretUrl>,
    /// RTSP user name (or put it in the URL).
    #[serde(default)]
    pub username: Option<String>,
    /// RTSP password (or put it in the URL).
    #[serde(default)]
    pub password: Option<Secret>,
    /// RTP transport from the camera.
    #[serde(default)]
    pub transport: RtspTransport,
    /// Keep pulling even with no viewer (instant start, recording later).
    #[serde(default)]
    pub always_on: bool,
    /// Workarounds for this camera's RTSP quirks (see [`CameraPolicy`]); none by default.
    #[serde(default)]
    pub policies: Vec<CameraPolicy>,
}

/// A named workaround for a camera whose RTSP server deviates from the standards.
///
/// Cameras are listed with `policies = ["use-first-session-id", ...]`; the default (no
/// policy) suits standard-conforming cameras and is what the simulator needs. Each policy
/// says which symptom it cures and which option of the RTSP client (`retina`) it sets. When
/// two policies set the same option, the more lenient one wins: `never-teardown` over
/// `always-teardown`, `ignore-rtp-info-timestamps` over `permissive-rtp-info-timestamps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CameraPolicy {
    /// `ignore-rtp-info-timestamps`: the camera's `PLAY` answer carries a wrong `rtptime`
    /// in `RTP-Info` (audio and video then start far apart), or none at all while the
    /// stream has several tracks (the connection fails at `PLAY` with "Expected rtptime on
    /// PLAY"; seen on some Vstarcam models). Every track's timeline then starts at its
    /// first packet. Sets `InitialTimestampPolicy::Ignore`.
    IgnoreRtpInfoTimestamps,
    /// `permissive-rtp-info-timestamps`: like `ignore-rtp-info-timestamps`, but still uses
    /// `rtptime` when the camera sends it for every track; for cameras that only sometimes
    /// leave it out. Sets `InitialTimestampPolicy::Permissive`.
    PermissiveRtpInfoTimestamps,
    /// `ignore-rtp-info-seq`: the camera announces an initial sequence number in
    /// `RTP-Info` that its first RTP packet does not have, which shows up as a burst of
    /// "packet loss" right after connecting or, over TCP, as a fatal "out-of-order packet
    /// or large loss". (The fixed values `seq=0` and `seq=1` some cameras send — e.g.
    /// Hikvision DS-2CD2032-I, Tapo C320WS — are already ignored without this policy.)
    /// Sets `InitialSequenceNumberPolicy::Ignore`.
    IgnoreRtpInfoSeq,
    /// `process-unknown-rtcp-ssrc`: the camera's RTCP sender reports carry an SSRC that
    /// differs from its RTP packets' and its `SETUP` answer names none; the stream then
    /// fails right after `PLAY` with "wrong ssrc" because the RTCP SSRC was learnt first.
    /// RTCP is then never used to learn the SSRC. Sets
    /// `UnknownRtcpSsrcPolicy::ProcessPackets`.
    ProcessUnknownRtcpSsrc,
    /// `use-first-session-id`: the camera answers each `SETUP` of a multi-track stream
    /// with a different `Session` id, and the second `SETUP` fails with "session id
    /// changed". The first id is kept for the whole session. Sets
    /// `SessionIdPolicy::UseFirst`.
    UseFirstSessionId,
    /// `never-teardown`: the camera misbehaves on `TEARDOWN` (stalls, drops its other
    /// viewers or reboots). Stopping a stream then only closes the connection and lets the
    /// camera expire the session. Sets `TeardownPolicy::Never`.
    NeverTeardown,
    /// `always-teardown`: the camera keeps a session (and keeps sending) after its RTSP
    /// connection closed, so a reconnecting server runs out of the camera's session slots
    /// (`453 Not Enough Bandwidth`) — the stale-session bug of live555 before 2017.06.04,
    /// found in e.g. older Reolink firmware; retina recognises the SDP `tool` of those
    /// versions by itself, this forces the behaviour for cameras that hide it. `TEARDOWN`
    /// is retried in the background until it succeeds or the session expires. Sets
    /// `TeardownPolicy::Always`.
    AlwaysTeardown,
    /// `strict-timestamps`: the camera's RTP clock sometimes jumps (backwards, or more than
    /// 10 s forwards, e.g. after it resynchronises its clock). The connection then fails
    /// with a protocol error, and reconnects on a fresh timeline, instead of delivering
    /// frames with absurd timestamps. Not for streams with B-frames, whose timestamps go
    /// backwards by design. Sets `PlayOptions::enforce_timestamps_with_max_jump_secs(10)`.
    StrictTimestamps,
}

impl CameraPolicy {
    /// Every policy, in declaration order.
    pub const ALL: [CameraPolicy; 8] = [
        CameraPolicy::IgnoreRtpInfoTimestamps,
        CameraPolicy::PermissiveRtpInfoTimestamps,
        CameraPolicy::IgnoreRtpInfoSeq,
        CameraPolicy::ProcessUnknownRtcpSsrc,
        CameraPolicy::UseFirstSessionId,
        CameraPolicy::NeverTeardown,
        CameraPolicy::AlwaysTeardown,
        CameraPolicy::StrictTimestamps,
    ];

    /// The name used in configuration files, e.g. `"use-first-session-id"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraPolicy::IgnoreRtpInfoTimestamps => "ignore-rtp-info-timestamps",
            CameraPolicy::PermissiveRtpInfoTimestamps => "permissive-rtp-info-timestamps",
            CameraPolicy::IgnoreRtpInfoSeq => "ignore-rtp-info-seq",
            CameraPolicy::ProcessUnknownRtcpSsrc => "process-unknown-rtcp-ssrc",
            CameraPolicy::UseFirstSessionId => "use-first-session-id",
            CameraPolicy::NeverTeardown => "never-teardown",
            CameraPolicy::AlwaysTeardown => "always-teardown",
            CameraPolicy::StrictTimestamps => "strict-timestamps",
        }
    }
}

impl std::fmt::Display for CameraPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (colours on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `tracing` syntax: `info`, or `info,watchpost_media=debug`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}
