//! Watchpost's HTTP face and composition root.
//!
//! [`app`] builds the axum [`Router`] from an [`AppState`]; it needs no socket, so tests
//! call it with `tower::ServiceExt::oneshot`. [`serve`] binds the configured address and
//! runs the app until a shutdown signal. Errors reach HTTP through [`ApiError`] only.

pub mod auth;
mod cameras;
pub mod console;
pub mod demo;
mod error;
pub mod events;
mod headers;
mod health;
mod incidents;
pub mod logging;
pub mod openapi;
mod org;
mod paths;
mod serve;
mod settings;
mod signal;
pub mod tls;
pub mod views;
pub mod walls;
mod whep;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_command::Database;
use watchpost_command::incidents::IncidentStore;
use watchpost_command::org::Organisation;
use watchpost_command::walls::WallStore;
use watchpost_config::Config;
use watchpost_devices::Devices;
use watchpost_media::hub::HubHandle;
use watchpost_media::webrtc::WebRtc;

pub use error::{ApiError, FieldProblem};
pub use serve::{Server, serve, start_devices};
pub use signal::shutdown_signal;

/// The version of this build, as `--version` and `/healthz` report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The validated configuration in force.
    pub config: Arc<Config>,
    /// The command database.
    pub db: Database,
    /// The stream hub (camera paths, readers, statistics).
    pub hub: HubHandle,
    /// When the server started (for uptime).
    pub started: Instant,
    /// The WebRTC layer (WHEP sessions); `None` until [`AppState::with_webrtc`], and
    /// then WHEP answers 503.
    pub webrtc: Option<WebRtc>,
    /// The devices service (camera inventory, PTZ, snapshots, discovery, health); `None`
    /// until [`AppState::with_devices`], and then its routes answer 503.
    pub devices: Option<Devices>,
    /// The incident store (incidents, reports, tasks, timeline); `None` until
    /// [`AppState::with_incidents`], and then its routes answer 503.
    pub incidents: Option<IncidentStore>,
    /// The live timeline behind `/api/v1/events`; `None` until [`AppState::with_incidents`].
    pub events: Option<events::EventFeed>,
    /// Command centres, units and the enterprise ledger; `None` until
    /// [`AppState::with_org`], and then their routes answer 503.
    pub org: Option<Organisation>,
    /// Users, sessions, tokens and the audit log; `None` until [`AppState::with_access`],
    /// and then every route but the public ones answers 503.
    pub access: Option<auth::Access>,
    /// The stream views being watched (their audit records).
    pub views: views::StreamViews,
    /// Video walls, their monitors, scenes and tours; `None` until
    /// [`AppState::with_walls`], and then their routes answer 503.
    pub walls: Option<WallStore>,
}

impl AppState {
    /// Wraps a validated configuration, an opened database and a running hub.
    pub fn new(config: Config, db: Database, hub: HubHandle) -> AppState {
        AppState {
            config: Arc::new(config),
            db,
            hub,
            started: Instant::now(),
            webrtc: None,
            devices: None,
            incidents: None,
            events: None,
            org: None,
            access: None,
            views: views::StreamViews::default(),
            walls: None,
        }
    }

    /// Uses `views` for the stream-view audit (the one whose `run` gets the WebRTC layer's
    /// session events).
    pub fn with_views(mut self, views: views::StreamViews) -> AppState {
        self.views = views;
        self
    }

    /// Adds the access service (what lets anybody log in and use the API).
    pub fn with_access(mut self, access: auth::Access) -> AppState {
        self.access = Some(access);
        self
    }

    /// Adds the opened organisation store (`/api/v1/centres`, `/units`, `/enterprises`).
    pub fn with_org(mut self, org: Organisation) -> AppState {
        self.org = Some(org);
        self
    }

    /// Adds the opened video wall store (`/api/v1/walls`, `/scenes`, `/tours`, the
    /// monitor pages `/wall/{wall}/{monitor}`).
    pub fn with_walls(mut self, walls: WallStore) -> AppState {
        self.walls = Some(walls);
        self
    }

    /// Adds the opened incident store (what makes `/api/v1/incidents` work) and the live
    /// event feed over it (`/api/v1/events`).
    pub fn with_incidents(
        mut self,
        incidents: IncidentStore,
        events: events::EventFeed,
    ) -> AppState {
        self.incidents = Some(incidents);
        self.events = Some(events);
        self
    }

    /// Adds the running devices service (what makes `/api/v1/cameras` work).
    pub fn with_devices(mut self, devices: Devices) -> AppState {
        self.devices = Some(devices);
        self
    }

    /// Adds the running WebRTC layer (what makes `/whep` work).
    pub fn with_webrtc(mut self, webrtc: WebRtc) -> AppState {
        self.webrtc = Some(webrtc);
        self
    }
}

/// The whole HTTP application: health, API and web UI.
pub fn app(state: AppState) -> Router {
    let (api, _) = documented_routes().split_for_parts();
    api.route("/", get(ui_index))
        .route("/login", get(ui_login))
        .route("/play/{*path}", get(ui_play))
        .route("/ui/whep.js", get(ui_whep_js))
        .route("/ui/index.js", get(ui_index_js))
        .route("/ui/play.js", get(ui_play_js))
        .route("/ui/app.js", get(ui_app_js))
        .route("/wall/{wall}/{monitor}", get(walls::ui_wall))
        .route("/ui/wall.js", get(walls::ui_wall_js))
        .route("/console", get(console::index))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::path))
        // Every route above, documented or a page, passes its access rule first.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(
            headers::SecurityHeaders::for_server(&state.config.server),
            headers::set,
        ))
        .with_state(state)
}

/// Every route of the OpenAPI document ([`openapi::document`]), each registered with its
/// operation: `/healthz`, WHEP and `/api/v1`.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .merge(whep::router())
        .nest("/api/v1", api_router())
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi::openapi_json))
        .merge(auth::router())
        .merge(settings::router())
        .routes(routes!(health::config_cameras))
        .merge(cameras::router())
        .merge(incidents::router())
        .merge(org::router())
        .merge(walls::router())
        .routes(routes!(events::events))
        .routes(routes!(paths::list))
        .routes(routes!(paths::one))
        .routes(routes!(whep::sessions))
}

async fn ui_index() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("ui/index.html"))
}

/// `GET /login`: the login form.
async fn ui_login() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("ui/login.html"))
}

/// `GET /ui/app.js`: what every page shares: the session (login form, redirect to it on
/// 401, logout).
async fn ui_app_js() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("ui/app.js"),
    )
}

/// `GET /ui/whep.js`: the WHEP client module the pages share.
async fn ui_whep_js() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("ui/whep.js"),
    )
}

/// `GET /ui/index.js`: the script of the index page (no inline scripts: see [`headers`]).
async fn ui_index_js() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("ui/index.js"),
    )
}

/// `GET /ui/play.js`: the script of the play page.
async fn ui_play_js() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("ui/play.js"),
    )
}

/// `GET /play/{path}`: a page that plays one path over WHEP (the path is read from the
/// page's own URL).
async fn ui_play() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("ui/play.html"))
}
