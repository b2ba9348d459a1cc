//! Running the server: bind, serve until a shutdown signal, drain, close.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use watchpost_command::Database;
use watchpost_command::incidents::IncidentStore;
use watchpost_config::Config;
use watchpost_devices::inventory::{CredentialCipher, Inventory, KeyOrigin};
use watchpost_devices::onvif_camera::SystemClock;
use watchpost_devices::{Devices, DevicesSettings};
use watchpost_media::hub::{Hub, HubConfig};
use watchpost_media::webrtc::WebRtc;

use crate::tls::TlsListener;
use crate::{AppState, app};

/// The bound socket: plain HTTP, or HTTPS when `server.tls_cert` is set.
#[derive(Debug)]
enum Listener {
    Http(TcpListener),
    Https(TlsListener),
}

/// A server that is bound and ready to run.
#[derive(Debug)]
pub struct Server {
    listener: Listener,
    state: AppState,
}

impl Server {
    /// Opens the database (creating the data directory), starts the stream hub with a path
    /// per configured camera stream (idle until a reader comes) and binds the HTTP address.
    ///
    /// With `server.tls_cert` and `server.tls_key` set it serves HTTPS: the PEM files are
    /// read first, so a bad certificate or key fails the start before anything opens.
    ///
    /// Fails with context naming the address, database or certificate file when one is
    /// unavailable.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        std::fs::create_dir_all(&config.storage.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.storage.data_dir.display()
            )
        })?;
        let db = Database::connect(&config.storage.effective_database_url()).await?;
        let paths = watchpost_media::cameras::camera_paths(&config.cameras)?;
        let hub = Hub::spawn(HubConfig::from_config(&config.media), paths)?;
        let (webrtc, session_events) =
            WebRtc::start_with_events(&config.webrtc, hub.clone()).await?;
        let devices = start_devices(&config, &db, &hub).await?;
        let incidents = IncidentStore::open(db.clone())
            .await
            .context("the incident store")?;
        let org = watchpost_command::org::Organisation::open(db.clone())
            .await
            .context("the organisation store")?;
        let walls = watchpost_command::walls::WallStore::open(db.clone())
            .await
            .context("the video wall store")?;
        crate::walls::spawn_tour_driver(walls.clone());
        let access = crate::auth::Access::open(db.clone(), &config)
            .await
            .context("the access store")?;
        let views = crate::views::StreamViews::default();
        tokio::spawn(views.clone().run(access.clone(), session_events));
        let events = crate::events::EventFeed::start(incidents.clone())
            .await
            .map_err(|e| anyhow::anyhow!("the event feed: {e}"))?;
        let addr = config.server.http_listen;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (server.http_listen)"))?;
        let listener = match tls {
            Some(tls) => Listener::Https(
                TlsListener::new(listener, tls)
                    .with_context(|| format!("cannot listen on {addr} (server.http_listen)"))?,
            ),
            None => Listener::Http(listener),
        };
        Ok(Server {
            listener,
            state: AppState::new(config, db, hub)
                .with_webrtc(webrtc)
                .with_devices(devices)
                .with_incidents(incidents, events)
                .with_org(org)
                .with_walls(walls)
                .with_access(access)
                .with_views(views),
        })
    }

    /// The bound WebRTC UDP address (the real port when the configuration asked for 0).
    pub fn webrtc_addr(&self) -> Option<SocketAddr> {
        self.state.webrtc.as_ref().map(WebRtc::local_addr)
    }

    /// The bound ICE-TCP address, when `webrtc.tcp_listen` is set.
    pub fn webrtc_tcp_addr(&self) -> Option<SocketAddr> {
        self.state.webrtc.as_ref().and_then(WebRtc::tcp_local_addr)
    }

    /// The access service (users, sessions, stream tokens, audit).
    pub fn access(&self) -> Option<&crate::auth::Access> {
        self.state.access.as_ref()
    }

    /// The organisation store (command centres, units, enterprise ledger).
    pub fn org(&self) -> Option<&watchpost_command::org::Organisation> {
        self.state.org.as_ref()
    }

    /// The devices service (camera inventory), running once bound.
    pub fn devices(&self) -> Option<&Devices> {
        self.state.devices.as_ref()
    }

    /// The bound HTTP address (the real port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.listener {
            Listener::Http(tcp) => tcp.local_addr(),
            Listener::Https(tls) => axum::serve::Listener::local_addr(tls),
        }
        .expect("a bound TCP listener has an address")
    }

    /// Whether the server speaks HTTPS (`server.tls_cert` is set).
    pub fn is_https(&self) -> bool {
        matches!(self.listener, Listener::Https(_))
    }

    /// The web UI's URL: `https://ADDR/` or `http://ADDR/`.
    pub fn url(&self) -> String {
        let scheme = if self.is_https() { "https" } else { "http" };
        format!("{scheme}://{}/", self.local_addr())
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets open requests finish
    /// for up to `server.shutdown_grace`, stops every camera stream (TEARDOWN) and closes
    /// the database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Server { listener, state } = self;
        let grace = state.config.server.shutdown_grace;
        let db = state.db.clone();
        let hub = state.hub.clone();
        let webrtc = state.webrtc.clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            let _ = stop_tx.send(());
        };
        // Handlers may read the peer address (`ConnectInfo<SocketAddr>`) over either.
        let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
        let serving = match listener {
            Listener::Http(tcp) => tokio::spawn(
                axum::serve(tcp, app)
                    .with_graceful_shutdown(signal)
                    .into_future(),
            ),
            // `tap_io` only so that axum provides `ConnectInfo<SocketAddr>` for it.
            Listener::Https(tls) => tokio::spawn(
                axum::serve(tls.tap_io(|_| ()), app)
                    .with_graceful_shutdown(signal)
                    .into_future(),
            ),
        };
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => result.context("server task failed")??,
            _ = stop_rx => {
                tracing::info!(grace_s = grace.as_secs_f64(), "shutting down");
                match tokio::time::timeout(grace, &mut serving).await {
                    Ok(result) => result.context("server task failed")??,
                    Err(_) => {
                        tracing::warn!("open connections outlived the shutdown grace; closing them");
                        serving.abort();
                    }
                }
            }
        }
        if let Some(webrtc) = webrtc {
            webrtc.shutdown().await;
        }
        hub.shutdown().await;
        db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the camera inventory in `db` (migrating it), with the credential key the
/// configuration names, and attaches its enabled cameras to `hub`.
pub async fn start_devices(
    config: &Config,
    db: &Database,
    hub: &watchpost_media::hub::HubHandle,
) -> anyhow::Result<Devices> {
    let cipher = CredentialCipher::from_config(&config.devices, &config.storage.data_dir)
        .context("camera credential key")?;
    if let KeyOrigin::File { path, created } = cipher.origin() {
        tracing::warn!(
            key_file = %path.display(),
            created,
            "camera credentials are encrypted with a key file in the data directory; \
             set devices.credential_key when several nodes share the database"
        );
    }
    let inventory = Inventory::open(db.clone(), cipher)
        .await
        .context("camera inventory")?;
    let mut settings = DevicesSettings {
        discovery_interface: config.devices.discovery_interface,
        ..DevicesSettings::default()
    };
    settings.monitor.interval = config.devices.health_interval;
    let devices = Devices::start(inventory, hub.clone(), Arc::new(SystemClock), settings)
        .await
        .context("attaching the inventory's cameras")?;
    Ok(devices)
}

/// Binds and serves `config` until `shutdown` resolves. See [`Server`].
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    tracing::info!(http = %server.local_addr(), url = %server.url(), "listening");
    server.run(shutdown).await
}
