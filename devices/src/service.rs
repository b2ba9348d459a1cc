//! The devices service: the inventory kept in step with the media hub, and the operations
//! the API offers on cameras (PTZ, snapshots, discovery, health).
//!
//! Vocabulary: *attaching* a camera makes its hub paths (`cam/<id>/main`, `cam/<id>/sub`,
//! see [`crate::streams`]) and starts tracking its health; *detaching* removes them (their
//! viewers are closed). Every write through [`Devices`] updates the inventory first and
//! then the hub, so the hub never has a camera the inventory does not; a camera whose
//! streams did not change (only its name, tags, position…) stays attached and its viewers
//! keep playing.
//!
//! One [`OnvifCamera`] per camera with an ONVIF endpoint is shared by its two stream sources
//! and by PTZ, snapshot and health, so what is learned about the camera is learned once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use watchpost_media::hub::{HubError, HubHandle};
use watchpost_media::stills::{self, StillError};

use crate::health::{self, CameraHealth, HealthBoard, HealthTargets, MonitorSettings};
use crate::inventory::{
    Camera, CameraFilter, CameraId, CameraInput, CameraPage, Credentials, ImportMode, ImportReport,
    ImportRow, Inventory, InventoryError,
};
use crate::onvif::client::{self as onvif_client, HttpTransport, OnvifClient};
use crate::onvif_camera::{CameraError, Clock, OnvifCamera, PtzCommand, PtzReply, StreamProfile};
use crate::streams::{self, CameraPathError, RtspSettings, StreamOrigin};

/// How long one ONVIF or snapshot HTTP exchange may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a snapshot decoded from the stream waits for a key frame once the path plays.
pub const KEY_FRAME_WAIT: Duration = Duration::from_secs(8);

/// Why a devices operation failed; each variant names the camera.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// The inventory refused or failed (validation, not found, conflict, storage).
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The camera's ONVIF service failed or lacks what was asked.
    #[error(transparent)]
    Camera(#[from] CameraError),
    /// The camera has no ONVIF endpoint, which the operation needs.
    #[error("camera {camera}: {what} needs an ONVIF endpoint, which this camera has none of")]
    NoOnvif {
        /// The camera id.
        camera: String,
        /// The operation.
        what: &'static str,
    },
    /// The camera is disabled: it has no streams.
    #[error("camera {camera} is disabled")]
    Disabled {
        /// The camera id.
        camera: String,
    },
    /// The hub refused (a path conflict, or the hub is shutting down).
    #[error("camera {camera}: {source}")]
    Hub {
        /// The camera id.
        camera: String,
        /// The hub's error.
        source: HubError,
    },
    /// The camera's streams could not become hub paths (a bad URL).
    #[error(transparent)]
    Paths(#[from] CameraPathError),
    /// A discovery address is not `IP` or `IP:port`.
    #[error("discovery address {address:?} is not an IP address (optionally with :port)")]
    BadAddress {
        /// The address as given.
        address: String,
    },
    /// Discovery could not probe at all.
    #[error(transparent)]
    Discovery(#[from] crate::discovery::DiscoveryError),
    /// Neither the snapshot URI nor the stream gave a picture.
    #[error("camera {camera}: no snapshot: {reason}")]
    Snapshot {
        /// The camera id.
        camera: String,
        /// Why (both attempts, when both were made).
        reason: String,
        /// The still's error when decoding from the stream failed in a way with its own
        /// HTTP meaning (start timeout).
        still: Option<Box<StillError>>,
    },
}

/// A JPEG snapshot and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// `onvif` (the camera's snapshot URI) or `stream` (decoded from a key frame).
    pub origin: &'static str,
}

/// Settings of the devices service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicesSettings {
    /// Health checks.
    pub monitor: MonitorSettings,
    /// The interface (its IPv4 address) WS-Discovery multicast probes leave by.
    pub discovery_interface: std::net::Ipv4Addr,
}

impl Default for DevicesSettings {
    fn default() -> Self {
        DevicesSettings {
            monitor: MonitorSettings::default(),
            discovery_interface: std::net::Ipv4Addr::LOCALHOST,
        }
    }
}

/// A device that answered a discovery probe, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DiscoveredView {
    /// The device's WS-Discovery endpoint reference (`urn:uuid:…`), stable per device.
    pub endpoint_reference: String,
    /// Its device service URLs (XAddrs).
    pub xaddrs: Vec<String>,
    /// Its scopes, as announced.
    pub scopes: Vec<String>,
    /// Name, hardware and location from the scopes, when announced.
    pub name: Option<String>,
    /// Hardware (model) from the scopes.
    pub model: Option<String>,
    /// Location from the scopes.
    pub location: Option<String>,
    /// The address the answer came from.
    pub address: String,
    /// The inventory camera with one of these XAddrs as its ONVIF endpoint, if any.
    pub camera_id: Option<String>,
}

struct Inner {
    inventory: Inventory,
    hub: HubHandle,
    board: HealthBoard,
    clock: Arc<dyn Clock>,
    settings: DevicesSettings,
    /// The ONVIF side of attached cameras that have an endpoint.
    onvif: Mutex<HashMap<String, Arc<OnvifCamera>>>,
    /// Attached cameras: the stream-relevant fields they were attached with.
    attached: Mutex<HashMap<String, StreamKey>>,
    /// Serialises attach/detach so two writes to one camera cannot interleave hub changes.
    writes: tokio::sync::Mutex<()>,
}

/// What decides a camera's hub paths: when it is unchanged by an update, the paths stay.
#[derive(Debug, Clone, PartialEq)]
struct StreamKey {
    onvif_url: Option<String>,
    main_url: Option<String>,
    sub_url: Option<String>,
    transport: watchpost_config::RtspTransport,
    /// SHA-256 of the user name and password (so the key, which derives `Debug`, never
    /// holds the password): a credentials change re-attaches.
    credentials: Option<[u8; 32]>,
}

/// The devices service; cheap to clone. See the [module documentation](self).
#[derive(Clone)]
pub struct Devices {
    inner: Arc<Inner>,
    monitor: Arc<MonitorTask>,
}

struct MonitorTask(Mutex<Option<tokio::task::JoinHandle<()>>>);

impl Drop for MonitorTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.lock().unwrap_or_else(PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices")
            .field(
                "attached",
                &self
                    .inner
                    .attached
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len(),
            )
            .finish_non_exhaustive()
    }
}

impl Devices {
    /// Attaches every enabled camera of `inventory` to `hub` and starts the health
    /// monitor (a task that ends when the last clone of the service is dropped). A camera
    /// that cannot be attached (a bad stored URL) is logged and skipped, not fatal.
    pub async fn start(
        inventory: Inventory,
        hub: HubHandle,
        clock: Arc<dyn Clock>,
        settings: DevicesSettings,
    ) -> Result<Devices, DevicesError> {
        let inner = Arc::new(Inner {
            inventory,
            hub,
            board: HealthBoard::new(),
            clock,
            settings,
            onvif: Mutex::new(HashMap::new()),
            attached: Mutex::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
        });
        let devices = Devices {
            inner: inner.clone(),
            monitor: Arc::new(MonitorTask(Mutex::new(None))),
        };
        for camera in devices.inner.inventory.all_enabled().await? {
            let _guard = devices.inner.writes.lock().await;
            if let Err(err) = devices.attach(&camera).await {
                tracing::error!(camera = %camera.id, error = %err, "camera not attached");
            }
        }
        let targets = Arc::new(Targets(Arc::downgrade(&inner)));
        let task = tokio::spawn(health::run_monitor(
            targets,
            inner.board.clone(),
            inner.clock.clone(),
            settings.monitor,
        ));
        *devices
            .monitor
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
        Ok(devices)
    }

    /// The inventory (reads go straight to it).
    pub fn inventory(&self) -> &Inventory {
        &self.inner.inventory
    }

    /// The health board.
    pub fn health_board(&self) -> &HealthBoard {
        &self.inner.board
    }

    /// The health of camera `id`, when it is attached.
    pub fn health(&self, id: &str) -> Option<CameraHealth> {
        self.inner.board.get(id)
    }

    /// Whether camera `id` can be steered (ONVIF PTZ), as far as is known without asking
    /// it: `Some(false)` for a camera without an ONVIF endpoint (or not attached),
    /// `Some(true|false)` once its ONVIF services were learned (by its stream sources, a
    /// PTZ or snapshot request, or health), `None` while they were not (a client that
    /// needs to know asks, e.g. with a PTZ `presets` command).
    pub fn ptz_known(&self, id: &str) -> Option<bool> {
        let onvif = self
            .inner
            .onvif
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned();
        match onvif {
            None => Some(false),
            Some(camera) => camera.cached().map(|learned| learned.has_ptz()),
        }
    }

    fn now_ms(&self) -> i64 {
        health::unix_ms(self.inner.clock.now())
    }

    /// One camera.
    pub async fn get(&self, id: &CameraId) -> Result<Camera, DevicesError> {
        Ok(self.inner.inventory.get(id).await?)
    }

    /// A filtered page of cameras.
    pub async fn list(&self, filter: &CameraFilter) -> Result<CameraPage, DevicesError> {
        Ok(self.inner.inventory.list(filter).await?)
    }

    /// Creates a camera and attaches it when enabled.
    pub async fn create(&self, input: CameraInput) -> Result<Camera, DevicesError> {
        let _guard = self.inner.writes.lock().await;
        let camera = self.inner.inventory.create(input, self.now_ms()).await?;
        self.attach(&camera).await?;
        Ok(camera)
    }

    /// Replaces camera `id` (when its revision is `expected_revision`, if given) and
    /// re-attaches it when its streams changed.
    pub async fn update(
        &self,
        id: &CameraId,
        input: CameraInput,
        expected_revision: Option<i64>,
    ) -> Result<Camera, DevicesError> {
        let _guard = self.inner.writes.lock().await;
        let camera = self
            .inner
            .inventory
            .update(id, input, self.now_ms(), expected_revision)
            .await?;
        self.attach(&camera).await?;
        Ok(camera)
    }

    /// Deletes camera `id`: its paths go first, then its record.
    pub async fn delete(&self, id: &CameraId) -> Result<(), DevicesError> {
        let _guard = self.inner.writes.lock().await;
        self.inner.inventory.get(id).await?;
        self.detach(id.as_str()).await?;
        self.inner.inventory.delete(id).await?;
        Ok(())
    }

    /// Imports rows (each alone: a bad row does not stop the others) and attaches what was
    /// created or updated.
    pub async fn import(&self, rows: Vec<ImportRow>, mode: ImportMode) -> ImportReport {
        let _guard = self.inner.writes.lock().await;
        let report = self.inner.inventory.import(rows, mode, self.now_ms()).await;
        for id in report.created.iter().chain(&report.updated) {
            match self.inner.inventory.get(id).await {
                Ok(camera) => {
                    if let Err(err) = self.attach(&camera).await {
                        tracing::error!(camera = %id, error = %err, "imported camera not attached");
                    }
                }
                Err(err) => tracing::error!(camera = %id, error = %err, "imported camera"),
            }
        }
        report
    }

    /// Makes the hub match `camera`: paths for an enabled camera (kept when its streams did
    /// not change), none for a disabled one. Callers hold `writes`.
    async fn attach(&self, camera: &Camera) -> Result<(), DevicesError> {
        let id = camera.id.as_str();
        if !camera.enabled {
            return self.detach(id).await;
        }
        let credentials = self.inner.inventory.credentials(&camera.id).await?;
        let key = StreamKey {
            onvif_url: camera.onvif_url.clone(),
            main_url: camera.main_url.clone(),
            sub_url: camera.sub_url.clone(),
            transport: camera.transport,
            credentials: credentials.as_ref().map(credentials_digest),
        };
        let unchanged = self
            .inner
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            == Some(&key);
        if unchanged {
            return Ok(());
        }
        self.detach(id).await?;
        let rtsp = RtspSettings {
            username: credentials.as_ref().map(|c| c.username.clone()),
            password: credentials.as_ref().map(|c| c.password.clone()),
            transport: camera.transport,
            policies: Vec::new(),
        };
        let origin = match (&camera.onvif_url, &camera.main_url) {
            (Some(url), _) => {
                let onvif = Arc::new(self.onvif_camera(id, url, credentials.as_ref()));
                self.inner
                    .onvif
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_owned(), onvif.clone());
                StreamOrigin::Onvif(onvif)
            }
            (None, Some(main)) => StreamOrigin::Static {
                main: main.clone(),
                sub: camera.sub_url.clone(),
            },
            // The inventory refuses such cameras; nothing to attach.
            (None, None) => return Ok(()),
        };
        for spec in streams::camera_paths(id, &origin, &rtsp)? {
            self.inner
                .hub
                .add_path(spec)
                .await
                .map_err(|source| DevicesError::Hub {
                    camera: id.to_owned(),
                    source,
                })?;
        }
        self.inner.board.track(id, self.now_ms());
        self.inner
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), key);
        self.check_soon(id);
        Ok(())
    }

    /// Checks a camera just attached (added, or its streams changed) at once rather than at
    /// the monitor's next round, up to an interval away: the operator who added it sees it
    /// online or offline within the check's timeout. Not during start-up, before the monitor
    /// runs: its first round checks every camera at once anyway.
    fn check_soon(&self, id: &str) {
        let running = self
            .monitor
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if !running {
            return;
        }
        let targets = Targets(Arc::downgrade(&self.inner));
        let board = self.inner.board.clone();
        let clock = self.inner.clock.clone();
        let timeout = self.inner.settings.monitor.timeout;
        let id = id.to_owned();
        tokio::spawn(async move {
            health::check_now(&targets, &board, clock.as_ref(), timeout, &id).await;
        });
    }

    fn onvif_camera(
        &self,
        id: &str,
        url: &str,
        credentials: Option<&Credentials>,
    ) -> OnvifCamera<HttpTransport> {
        let client = OnvifClient::new(
            HttpTransport::new(HTTP_TIMEOUT),
            id,
            url,
            credentials.map(|c| onvif_client::Credentials {
                username: c.username.clone(),
                password: c.password.expose().to_owned(),
            }),
        );
        OnvifCamera::new(client, self.inner.clock.clone())
    }

    /// Removes camera `id`'s paths (absent ones are fine) and stops tracking it.
    async fn detach(&self, id: &str) -> Result<(), DevicesError> {
        for profile in [StreamProfile::Main, StreamProfile::Sub] {
            let Ok(name) = streams::path_name(id, profile) else {
                continue;
            };
            match self.inner.hub.remove_path(name.as_str()).await {
                Ok(()) | Err(HubError::NotFound { .. }) => {}
                Err(source) => {
                    return Err(DevicesError::Hub {
                        camera: id.to_owned(),
                        source,
                    });
                }
            }
        }
        self.inner
            .onvif
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        self.inner
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        self.inner.board.forget(id);
        Ok(())
    }

    fn onvif_of(&self, id: &str, what: &'static str) -> Result<Arc<OnvifCamera>, DevicesError> {
        self.inner
            .onvif
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| DevicesError::NoOnvif {
                camera: id.to_owned(),
                what,
            })
    }

    /// Runs a PTZ command on camera `id`.
    pub async fn ptz(&self, id: &CameraId, command: &PtzCommand) -> Result<PtzReply, DevicesError> {
        let camera = self.inner.inventory.get(id).await?;
        if !camera.enabled {
            return Err(DevicesError::Disabled {
                camera: id.as_str().to_owned(),
            });
        }
        let onvif = self.onvif_of(id.as_str(), "PTZ")?;
        Ok(onvif.ptz(command).await?)
    }

    /// Probes for ONVIF devices (multicast on the configured interface when `multicast`,
    /// unicast to each of `addresses`, `IP` or `IP:port`, port 3702 by default) for
    /// `timeout`, and says which answering device is already in the inventory (same ONVIF
    /// endpoint URL, or same host and port).
    pub async fn discover(
        &self,
        multicast: bool,
        addresses: &[String],
        timeout: Duration,
    ) -> Result<Vec<DiscoveredView>, DevicesError> {
        let interface = self.inner.settings.discovery_interface;
        let unicast = addresses
            .iter()
            .map(|a| parse_probe_address(a))
            .collect::<Result<Vec<_>, _>>()?;
        let request = crate::discovery::DiscoverRequest {
            multicast: multicast.then(|| crate::discovery::MulticastOptions {
                interface,
                ..Default::default()
            }),
            unicast,
            timeout,
        };
        let found = crate::discovery::discover(&request).await?;
        let known = self.endpoints().await?;
        Ok(found
            .into_iter()
            .map(|d| {
                let camera_id = d.xaddrs.iter().find_map(|x| {
                    known
                        .iter()
                        .find(|(_, url)| same_endpoint(url, x))
                        .map(|(id, _)| id.clone())
                });
                DiscoveredView {
                    endpoint_reference: d.endpoint_reference,
                    xaddrs: d.xaddrs,
                    scopes: d.scopes,
                    name: d.name,
                    model: d.model.or(d.hardware),
                    location: d.location,
                    address: d.from.to_string(),
                    camera_id,
                }
            })
            .collect())
    }

    /// Every inventory camera's ONVIF endpoint, `(id, url)`.
    async fn endpoints(&self) -> Result<Vec<(String, String)>, DevicesError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let filter = CameraFilter {
                limit: Some(crate::inventory::MAX_LIMIT),
                offset: Some(offset),
                ..CameraFilter::default()
            };
            let page = self.inner.inventory.list(&filter).await?;
            let n = page.items.len() as u64;
            out.extend(
                page.items
                    .into_iter()
                    .filter_map(|c| c.onvif_url.map(|u| (c.id.as_str().to_owned(), u))),
            );
            offset += n;
            if n == 0 || offset >= page.total {
                return Ok(out);
            }
        }
    }

    /// A JPEG of camera `id`'s `profile` stream: from the camera's ONVIF snapshot URI when
    /// it has one and it answers with a JPEG, else decoded from the stream's latest key
    /// frame.
    pub async fn snapshot(
        &self,
        id: &CameraId,
        profile: StreamProfile,
    ) -> Result<Snapshot, DevicesError> {
        let camera = self.inner.inventory.get(id).await?;
        let key = id.as_str();
        if !camera.enabled {
            return Err(DevicesError::Disabled {
                camera: key.to_owned(),
            });
        }
        let mut reasons = Vec::new();
        if let Ok(onvif) = self.onvif_of(key, "snapshot") {
            match onvif.snapshot(profile).await {
                Ok(jpeg) => {
                    return Ok(Snapshot {
                        jpeg,
                        origin: "onvif",
                    });
                }
                Err(reason) => {
                    tracing::debug!(camera = key, %reason, "ONVIF snapshot failed; decoding the stream");
                    reasons.push(format!("snapshot URI: {reason}"));
                }
            }
        }
        let path = streams::path_name(key, profile).map_err(|source| DevicesError::Hub {
            camera: key.to_owned(),
            source,
        })?;
        match stills::snapshot(&self.inner.hub, path.as_str(), KEY_FRAME_WAIT).await {
            Ok(still) => Ok(Snapshot {
                jpeg: still.jpeg,
                origin: "stream",
            }),
            Err(err) => {
                reasons.push(format!("stream: {err}"));
                Err(DevicesError::Snapshot {
                    camera: key.to_owned(),
                    reason: reasons.join("; "),
                    still: Some(Box::new(err)),
                })
            }
        }
    }
}

/// SHA-256 over the length-prefixed user name and the password.
fn credentials_digest(c: &Credentials) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&(c.username.len() as u64).to_be_bytes());
    ctx.update(c.username.as_bytes());
    ctx.update(c.password.expose().as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `IP` or `IP:port` (`[v6]:port`), port 3702 when absent.
fn parse_probe_address(text: &str) -> Result<SocketAddr, DevicesError> {
    let text = text.trim();
    text.parse::<SocketAddr>()
        .or_else(|_| {
            text.parse::<IpAddr>()
                .map(|ip| SocketAddr::new(ip, crate::discovery::DISCOVERY_PORT))
        })
        .map_err(|_| DevicesError::BadAddress {
            address: text.to_owned(),
        })
}

/// Whether two device service URLs name the same endpoint: equal, or the same scheme,
/// host and port (cameras vary the path's case and trailing slash).
fn same_endpoint(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// The monitor's view of the service: weak, so the monitor does not keep it alive.
struct Targets(std::sync::Weak<Inner>);

impl HealthTargets for Targets {
    async fn targets(&self) -> Vec<String> {
        let Some(inner) = self.0.upgrade() else {
            return Vec::new();
        };
        let mut ids: Vec<String> = inner
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    async fn check(&self, id: &str) -> Result<(), String> {
        let Some(inner) = self.0.upgrade() else {
            return Ok(());
        };
        // A stream that plays proves the camera reachable.
        for profile in [StreamProfile::Main, StreamProfile::Sub] {
            if let Ok(name) = streams::path_name(id, profile)
                && let Ok(stats) = inner.hub.path(name.as_str()).await
                && stats.state == watchpost_media::hub::PathState::Ready.name()
            {
                return Ok(());
            }
        }
        let onvif = inner
            .onvif
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(onvif) = onvif {
            return onvif.ping().await.map_err(|e| e.to_string());
        }
        let url = inner
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .and_then(|k| k.main_url.clone());
        match url {
            Some(url) => tcp_reachable(&url).await,
            None => Ok(()),
        }
    }
}

/// Connects to the host and port of an `rtsp://` URL (554 by default) and hangs up.
async fn tcp_reachable(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    let host = parsed.host_str().ok_or("URL without host")?;
    let port = parsed.port().unwrap_or(554);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tokio::net::TcpStream::connect((host, port))
        .await
        .map(drop)
        .map_err(|e| format!("RTSP port {host}:{port}: {e}"))
}
