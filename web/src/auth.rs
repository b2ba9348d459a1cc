//! Who is calling, and may they: login and logout, the session cookie and bearer tokens,
//! the per-route access rules, users, stream tokens and the audit log over HTTP.
//!
//! # Vocabulary
//!
//! - A **caller** ([`Caller`]) is what a request authenticated as: a user with a session
//!   (a session token in `Authorization: Bearer …` or the `watchpost_session` cookie), or a
//!   **stream token** ([`StreamClaims`]) that lets a wall screen play one path over WHEP.
//! - Every route has a **rule** ([`Rule`]): public (`/healthz`, login, the web pages), a
//!   session whose role allows an [`Action`], or — WHEP only — a session or a stream
//!   token. [`authorize`] applies it before the handler runs; a route without a rule is
//!   refused (500) rather than served, and the rules are keyed by the OpenAPI document's
//!   operation ids, which `web/tests/api/access.rs` enumerates.
//! - **Jurisdiction** is checked by the handlers, which know where an item belongs
//!   ([`Caller::require`] for one item, [`Caller::jurisdiction`] to constrain a list).
//!
//! Login failures are limited per account and per source address
//! ([`LoginLimiter`]); every login, failure, logout and change of a user is in the audit
//! log (`GET /api/v1/audit`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use watchpost_command::Database;
use watchpost_command::access::{
    AccessStore, Action, AuditAction, AuditContext, AuditFilter, AuditPage, Authenticated,
    Jurisdiction, LimitConfig, LoginLimiter, MAX_TARGET, NewAuditEntry, NewUser, Outcome, Password,
    PasswordHasher, PasswordParams, Scope, SessionClaims, SessionId, SignedToken, StreamClaims,
    StreamViewFilter, StreamViewPage, TokenError, TokenKey, User, UserFilter, UserId, UserPage,
    UserUpdate,
};
use watchpost_config::Config;

use crate::cameras::{if_match, json_body};
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "watchpost_session";
/// The key file in the data directory when `security.token_key` is not configured.
pub const TOKEN_KEY_FILE: &str = "token.key";
/// The shortest stream token a caller may ask for.
const MIN_STREAM_TTL: Duration = Duration::from_secs(10);

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What the access layer is configured with (from `[security]`).
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// The longest stream token.
    pub stream_token_max_ttl: Duration,
    /// Failed-login limits.
    pub limits: LimitConfig,
    /// Mark the session cookie `Secure`.
    pub secure_cookie: bool,
}

impl AccessSettings {
    /// The settings `config` asks for (`secure_cookie` also when TLS is configured).
    pub fn from_config(config: &Config) -> AccessSettings {
        let s = &config.security;
        AccessSettings {
            session_ttl: s.session_ttl,
            stream_token_max_ttl: s.stream_token_max_ttl,
            limits: LimitConfig {
                account_limit: s.login_failures_per_account,
                address_limit: s.login_failures_per_address,
                window: s.login_window,
                ..LimitConfig::default()
            },
            secure_cookie: s.secure_cookie || config.server.tls_cert.is_some(),
        }
    }
}

/// The access service: the store, the token key, the password hasher and the failed-login
/// limiter. Cheap to clone; `Debug` shows no key.
#[derive(Clone)]
pub struct Access {
    inner: Arc<Inner>,
}

struct Inner {
    store: AccessStore,
    key: TokenKey,
    hasher: PasswordHasher,
    limiter: Mutex<LoginLimiter>,
    settings: AccessSettings,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("store", &self.inner.store)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    /// Who.
    pub user: User,
    /// The session token (for `Authorization: Bearer`; also set as the cookie).
    pub token: SignedToken,
    /// When it expires, Unix ms.
    pub expires_at: i64,
}

impl Access {
    /// Opens the access tables in `db` and loads the token key the configuration names
    /// (`security.token_key`, else `<data_dir>/token.key`, created on first start with a
    /// warning that it suits a single node only).
    pub async fn open(db: Database, config: &Config) -> anyhow::Result<Access> {
        let key = match &config.security.token_key {
            Some(key) => TokenKey::from_base64(key.expose())
                .map_err(|e| anyhow::anyhow!("security.token_key: {e}"))?,
            None => {
                let (bytes, origin) = watchpost_devices::inventory::load_or_create_key_file(
                    &config.storage.data_dir,
                    TOKEN_KEY_FILE,
                )?;
                tracing::warn!(
                    ?origin,
                    "tokens are signed with a key file in the data directory: set \
                     security.token_key when several nodes share the database"
                );
                TokenKey::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("{TOKEN_KEY_FILE}: {e}"))?
            }
        };
        let store = AccessStore::open(db).await?;
        Access::new(store, key, AccessSettings::from_config(config))
    }

    /// An access service over an opened store with this key.
    pub fn new(
        store: AccessStore,
        key: TokenKey,
        settings: AccessSettings,
    ) -> anyhow::Result<Access> {
        let hasher = PasswordHasher::new(PasswordParams::OWASP)?;
        Ok(Access {
            inner: Arc::new(Inner {
                store,
                key,
                hasher,
                limiter: Mutex::new(LoginLimiter::new(settings.limits)),
                settings,
            }),
        })
    }

    /// The store (users, sessions, audit).
    pub fn store(&self) -> &AccessStore {
        &self.inner.store
    }

    /// Creates a user, hashing its password on a blocking thread; audited as `context`.
    pub async fn create_user(
        &self,
        new: NewUser,
        context: &AuditContext,
    ) -> Result<User, ApiError> {
        let errors = new.validate();
        if !errors.is_empty() {
            return Err(watchpost_command::access::AccessError::Invalid {
                what: watchpost_command::access::Entity::User,
                id: None,
                errors,
            }
            .into());
        }
        let hash = self.hash(new.password.clone()).await?;
        Ok(self
            .inner
            .store
            .create_user(&new, &hash, context, now_ms())
            .await?)
    }

    /// Sets `user`'s password (hashed on a blocking thread), revoking its sessions;
    /// audited as `context`.
    pub async fn set_password(
        &self,
        user: &User,
        password: Password,
        context: &AuditContext,
    ) -> Result<(), ApiError> {
        if let Err(reason) = password.check() {
            return Err(ApiError::Invalid {
                message: "invalid password".into(),
                fields: vec![crate::FieldProblem {
                    field: "password".into(),
                    reason,
                }],
            });
        }
        let hash = self.hash(password).await?;
        self.inner
            .store
            .set_password(
                &user.id,
                &hash,
                Some(user.revision),
                None,
                context,
                now_ms(),
            )
            .await?;
        Ok(())
    }

    async fn hash(
        &self,
        password: Password,
    ) -> Result<watchpost_command::access::PasswordHash, ApiError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.hasher.hash(&password))
            .await
            .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?
            .map_err(|e| ApiError::Internal(format!("password hashing: {e}")))
    }

    /// Checks a username and password and opens a session. Refusals are 401 (the same
    /// answer whether the user is unknown, disabled or the password wrong) or 429 while
    /// the account or `source` is locked; each is audited as `login_failed`.
    pub async fn login(
        &self,
        username: &str,
        password: Password,
        source: Option<IpAddr>,
    ) -> Result<LoggedIn, ApiError> {
        let address = source.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let now = tokio::time::Instant::now().into_std();
        let store = &self.inner.store;
        let locked = self.limiter().check(username, address, now);
        if let Err(limited) = locked {
            store
                .record_login_failed(username, source, "rate_limited", now_ms())
                .await?;
            return Err(too_many(limited.retry_after_secs()));
        }
        let found = store.credentials(username).await?;
        let inner = self.inner.clone();
        let verified = tokio::task::spawn_blocking(move || match &found {
            Some((user, hash)) => inner
                .hasher
                .verify(&password, hash)
                .map(|ok| ok.then(|| user.clone())),
            // No such user: spend the same time as a real check, then refuse.
            None => {
                let _ = inner.hasher.verify_dummy(&password);
                Ok(None)
            }
        })
        .await
        .map_err(|e| ApiError::Internal(format!("password check task: {e}")))?
        .map_err(|e| ApiError::Internal(format!("password check: {e}")))?;
        let user = match verified {
            Some(user) if !user.disabled => user,
            other => {
                let reason = if other.is_some() {
                    "disabled"
                } else {
                    "bad_credentials"
                };
                store
                    .record_login_failed(username, source, reason, now_ms())
                    .await?;
                if let Some(limited) = self.limiter().record_failure(username, address, now) {
                    return Err(too_many(limited.retry_after_secs()));
                }
                return Err(ApiError::Unauthorized(
                    "wrong username or password".to_owned(),
                ));
            }
        };
        self.limiter().record_success(username);
        let ttl = i64::try_from(self.inner.settings.session_ttl.as_millis()).unwrap_or(i64::MAX);
        let session = store.open_session(&user.id, ttl, source, now_ms()).await?;
        let token = self.inner.key.sign(&SessionClaims::new(&user, &session));
        Ok(LoggedIn {
            expires_at: session.expires_at,
            user,
            token,
        })
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, LoginLimiter> {
        self.inner
            .limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A stream token for hub path `path`, issued by `user`, lasting `ttl` (at most
    /// `security.stream_token_max_ttl`).
    pub fn stream_token(&self, path: &str, user: &UserId, ttl: Duration) -> (SignedToken, i64) {
        self.kiosk_token(path, user, ttl, 0)
    }

    /// A stream token as [`Self::stream_token`] carrying kiosk epoch `epoch` (a monitor
    /// page's link, `wall/<wall>/<monitor>`; see `walls.rs`). Returns the token and when it
    /// expires, Unix ms.
    pub fn kiosk_token(
        &self,
        path: &str,
        user: &UserId,
        ttl: Duration,
        epoch: i64,
    ) -> (SignedToken, i64) {
        let ttl = ttl
            .clamp(MIN_STREAM_TTL, self.inner.settings.stream_token_max_ttl)
            .as_secs();
        let now = now_ms() / 1000;
        let claims = StreamClaims::new(path, user.clone(), now, ttl as i64).with_kiosk_epoch(epoch);
        let exp = claims.exp;
        (self.inner.key.sign(&claims), exp * 1000)
    }

    /// The caller a request's credentials name: `None` without credentials; 401 for a
    /// malformed, forged, expired or revoked token. Stream tokens are accepted only when
    /// `allow_stream`.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        source: Option<IpAddr>,
        allow_stream: bool,
    ) -> Result<Option<Caller>, ApiError> {
        let Some(token) = presented_token(headers)? else {
            return Ok(None);
        };
        let now = now_ms() / 1000;
        match self.inner.key.verify::<SessionClaims>(&token, now) {
            Ok(claims) => {
                let Authenticated { session, user } = self
                    .inner
                    .store
                    .check_session(&claims.sid, now_ms())
                    .await?;
                Ok(Some(Caller {
                    who: Who::User {
                        user: Box::new(user),
                        session: session.id,
                    },
                    source,
                }))
            }
            Err(TokenError::WrongKind { .. }) if allow_stream => {
                let claims = self
                    .inner
                    .key
                    .verify::<StreamClaims>(&token, now)
                    .map_err(token_refused)?;
                Ok(Some(Caller {
                    who: Who::Stream(Box::new(claims)),
                    source,
                }))
            }
            Err(e) => Err(token_refused(e)),
        }
    }

    fn cookie(&self, token: &str, max_age_secs: i64) -> HeaderValue {
        let secure = if self.inner.settings.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("watchpost_session=; Max-Age=0"))
    }
}

fn too_many(retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests {
        message: format!("too many failed logins; retry in {retry_after_secs} s"),
        retry_after_secs,
    }
}

fn token_refused(err: TokenError) -> ApiError {
    ApiError::Unauthorized(match err {
        TokenError::Expired { .. } => "the token has expired; log in again".to_owned(),
        TokenError::WrongKind { .. } => "this kind of token is not accepted here".to_owned(),
        _ => "the token is not valid".to_owned(),
    })
}

/// The token of a request: `Authorization: Bearer …`, else the session cookie.
fn presented_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is not ASCII".into()))?;
        let Some((scheme, token)) = text.split_once(' ') else {
            return Err(ApiError::Unauthorized(
                "expected Authorization: Bearer <token>".into(),
            ));
        };
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthorized(
                "expected Authorization: Bearer <token>".into(),
            ));
        }
        return Ok(Some(token.trim().to_owned()));
    }
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, token)) = pair.trim().split_once('=')
                && name == SESSION_COOKIE
                && !token.is_empty()
            {
                return Ok(Some(token.to_owned()));
            }
        }
    }
    Ok(None)
}

/// What a request authenticated as; see the [module documentation](self). Handlers take
/// it as an extractor.
#[derive(Debug, Clone)]
pub struct Caller {
    who: Who,
    source: Option<IpAddr>,
}

#[derive(Debug, Clone)]
enum Who {
    User { user: Box<User>, session: SessionId },
    Stream(Box<StreamClaims>),
}

impl Caller {
    /// The user, or 403 for a stream token (which only plays its path).
    pub fn user(&self) -> Result<&User, ApiError> {
        match &self.who {
            Who::User { user, .. } => Ok(user),
            Who::Stream(_) => Err(ApiError::Forbidden(
                "a stream token only plays its own path".into(),
            )),
        }
    }

    /// The stream token's claims, when the caller is one.
    pub fn stream(&self) -> Option<&StreamClaims> {
        match &self.who {
            Who::Stream(claims) => Some(claims),
            Who::User { .. } => None,
        }
    }

    /// The client's address, when the server knows it.
    pub fn source(&self) -> Option<IpAddr> {
        self.source
    }

    /// The user's jurisdiction (a stream token's is none: it covers nothing but its path).
    pub fn jurisdiction(&self) -> Result<&Jurisdiction, ApiError> {
        Ok(&self.user()?.jurisdiction)
    }

    /// 403 unless the caller's role allows `action` on an item of `scope`; `what` names
    /// the item in the message.
    pub fn require(&self, action: Action, scope: &Scope<'_>, what: &str) -> Result<(), ApiError> {
        let user = self.user()?;
        if !user.role.may(action) {
            return Err(ApiError::Forbidden(format!(
                "the {} role may not {}",
                user.role.as_str(),
                action.as_str()
            )));
        }
        if !user.jurisdiction.covers(scope) {
            return Err(ApiError::Forbidden(format!(
                "{what} is outside your jurisdiction"
            )));
        }
        Ok(())
    }

    /// Whether the caller sees an item of `scope` (a user whose jurisdiction covers it).
    pub fn sees(&self, scope: &Scope<'_>) -> bool {
        self.user().is_ok_and(|u| u.jurisdiction.covers(scope))
    }

    /// The audit context of this caller.
    pub fn audit(&self) -> AuditContext {
        match &self.who {
            Who::User { user, .. } => AuditContext::user(user, self.source),
            Who::Stream(_) => AuditContext::anonymous(self.source),
        }
    }

    /// The name the timeline records for this caller: the username.
    pub fn operator(&self) -> Result<String, ApiError> {
        Ok(self.user()?.username.as_str().to_owned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("log in first".into()))
    }
}

/// The client's address, when the server was started with connect info (tests calling
/// the app without a socket have none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceAddr(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for SourceAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> Result<SourceAddr, std::convert::Infallible> {
        Ok(SourceAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip()),
        ))
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anybody (health, login, the web pages).
    Public,
    /// A user whose role allows the action; jurisdiction is checked by the handler.
    Session(Action),
    /// A user whose role allows the action, or a stream token (WHEP: the handler checks
    /// the token's path).
    SessionOrStream(Action),
}

/// The rule of each operation of the OpenAPI document, by operation id; `None` for an
/// operation without one (which [`authorize`] refuses, and a test catches).
pub fn rule(operation_id: &str) -> Option<Rule> {
    use Action::*;
    use Rule::*;
    Some(match operation_id {
        "healthz" | "login" => Public,
        // Who am I, and logging out, need only a session.
        "me" | "logout" => Session(View),
        // One's own console settings (the handlers read and write the caller's only).
        "get_console_settings" | "put_console_settings" => Session(View),
        "openapi" | "list_config_cameras" => Session(View),
        // Cameras and streams.
        "list_cameras"
        | "get_camera"
        | "camera_snapshot"
        | "list_paths"
        | "get_path"
        | "list_webrtc_sessions"
        | "incident_cameras" => Session(View),
        "create_camera" | "replace_camera" | "delete_camera" | "import_cameras"
        | "discover_devices" => Session(ManageDevices),
        "camera_ptz" => Session(Ptz),
        "whep_offer" | "whep_patch_session" | "whep_delete_session" => SessionOrStream(View),
        // Preflight requests carry no credentials (browsers never send them on OPTIONS).
        "whep_options" | "whep_session_options" => Public,
        "issue_stream_token" => Session(IssueStreamToken),
        // Incidents.
        "list_incidents"
        | "get_incident"
        | "incident_timeline"
        | "list_incident_tasks"
        | "list_reports"
        | "events" => Session(View),
        "open_incident"
        | "apply_incident_command"
        | "add_incident_evidence"
        | "record_report"
        | "link_report" => Session(ChangeIncident),
        "dispatch_unit" | "transition_task" | "set_unit_availability" => Session(Dispatch),
        // Organisation.
        "list_centres" | "get_centre" | "list_units" | "get_unit" | "list_enterprises"
        | "get_enterprise" => Session(View),
        "create_centre" | "replace_centre" | "delete_centre" | "import_centres" | "create_unit"
        | "replace_unit" | "delete_unit" | "import_units" | "create_enterprise"
        | "replace_enterprise" | "delete_enterprise" | "import_enterprises" => Session(ManageOrg),
        // Video walls (jurisdiction by the wall's, scene's or tour's scope, in the handlers).
        "list_walls" | "get_wall" | "list_scenes" | "get_scene" | "list_tours" | "get_tour" => {
            Session(View)
        }
        "create_wall" | "update_wall" | "delete_wall" => Session(ManageDevices),
        "monitor_command" | "create_scene" | "update_scene" | "delete_scene" | "create_tour"
        | "update_tour" | "delete_tour" => Session(PushToWall),
        "issue_kiosk_token" | "revoke_kiosk_tokens" => Session(IssueStreamToken),
        // A monitor page renews its own kiosk token (the handler takes nothing else; a user
        // who may issue links for the wall gets 400 and issues a new one instead).
        "renew_kiosk_token" => SessionOrStream(IssueStreamToken),
        // A monitor page plays with a kiosk token (path `wall/<wall>/<monitor>`), which the
        // handlers accept for that monitor only.
        "get_monitor" | "wall_events" | "monitor_stream_token" => SessionOrStream(View),
        // Users and audit.
        "list_users" | "get_user" | "create_user" | "update_user" | "set_user_password" => {
            Session(ManageUsers)
        }
        "list_audit" | "list_stream_views" => Session(ReadAudit),
        _ => return None,
    })
}

/// The web pages (not API): served to anybody, they hold no data and ask the API, which
/// checks the session, for everything.
pub const PUBLIC_PAGES: &[&str] = &[
    "/",
    "/login",
    "/play/{*path}",
    "/ui/whep.js",
    "/ui/app.js",
    "/ui/index.js",
    "/ui/play.js",
    "/wall/{wall}/{monitor}",
    "/ui/wall.js",
    "/console",
    "/console/",
    "/console/{*path}",
];

/// The operation id of `method` on the route `path` (axum's template, `{*x}` allowed).
fn operation_of(method: &Method, path: &str) -> Option<&'static str> {
    let path = path.replace("{*", "{");
    crate::openapi::document()["paths"]
        .get(&path)?
        .get(method.as_str().to_ascii_lowercase())?
        .get("operationId")?
        .as_str()
}

/// Whether the document has `path` (axum's template) with any method.
fn path_is_documented(path: &str) -> bool {
    crate::openapi::document()["paths"]
        .get(path.replace("{*", "{"))
        .is_some()
}

/// Middleware: applies the route's [`Rule`] and puts the [`Caller`] into the request's
/// extensions for the handler. Layered on every route (`route_layer`), so only matched
/// routes reach it.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    SourceAddr(source): SourceAddr,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(matched) = matched else {
        return next.run(request).await;
    };
    let template = matched.as_str();
    let operation = operation_of(request.method(), template);
    let rule = match operation {
        Some(op) => rule(op),
        None if PUBLIC_PAGES.contains(&template) => Some(Rule::Public),
        None => None,
    };
    let Some(rule) = rule else {
        if path_is_documented(template) {
            // A documented path, another method: what axum would answer without us.
            return ApiError::MethodNotAllowed(format!(
                "{} is not a method of {template}",
                request.method()
            ))
            .into_response();
        }
        tracing::error!(route = %template, method = %request.method(), "route has no access rule");
        return ApiError::Internal(format!("{template} has no access rule")).into_response();
    };
    let (action, allow_stream) = match rule {
        Rule::Public => return next.run(request).await,
        Rule::Session(action) => (action, false),
        Rule::SessionOrStream(action) => (action, true),
    };
    let Some(access) = state.access.as_ref() else {
        return ApiError::Unavailable("the access store is not open".into()).into_response();
    };
    let caller = match access
        .authenticate(request.headers(), source, allow_stream)
        .await
    {
        Ok(Some(caller)) => caller,
        Ok(None) => return ApiError::Unauthorized("log in first".into()).into_response(),
        Err(err) => return err.into_response(),
    };
    let refused = Refused {
        context: caller.audit(),
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
        operation: operation.unwrap_or_default(),
    };
    if let Ok(user) = caller.user()
        && !user.role.may(action)
    {
        refused.record(access, "role", action).await;
        return ApiError::Forbidden(format!(
            "the {} role may not {}",
            user.role.as_str(),
            action.as_str()
        ))
        .into_response();
    }
    request.extensions_mut().insert(caller);
    let response = next.run(request).await;
    if response.status() == StatusCode::FORBIDDEN {
        // The handler refused: the item is outside the caller's jurisdiction, or (for a
        // stream token) not its path or monitor.
        refused.record(access, "scope", action).await;
    }
    response
}

/// A request refused with 403, for the audit log (`access_denied`, outcome `denied`,
/// target: the method and path asked for).
struct Refused {
    context: AuditContext,
    method: Method,
    path: String,
    operation: &'static str,
}

impl Refused {
    /// Appends the entry; `reason`: `role` (the role may not do `action`) or `scope` (the
    /// handler refused the item). A failure to write is logged, never the caller's
    /// problem: the answer stays 403.
    async fn record(&self, access: &Access, reason: &str, action: Action) {
        let mut target = format!("{} {}", self.method, self.path);
        if target.chars().count() > MAX_TARGET {
            target = target.chars().take(MAX_TARGET).collect();
        }
        let entry = NewAuditEntry::new(&self.context, AuditAction::AccessDenied, now_ms())
            .outcome(Outcome::Denied)
            .target(target.as_str())
            .detail("operation", self.operation)
            .detail("action", action.as_str())
            .detail("reason", reason);
        if let Err(error) = access.store().append_audit(entry).await {
            tracing::warn!(%error, path = %self.path, "could not audit a refused request");
        }
    }
}

/// The access routes, nested under `/api/v1`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_user_password))
        .routes(routes!(issue_stream_token))
        .routes(routes!(list_audit))
        .routes(routes!(list_stream_views))
}

pub(crate) fn access(state: &AppState) -> Result<&Access, ApiError> {
    state
        .access
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("the access store is not open".into()))
}

/// A username and password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    /// The username (case-insensitive).
    username: String,
    /// The password.
    #[schema(value_type = String, format = Password)]
    password: Password,
}

/// A session: the token for `Authorization: Bearer` (the same token is set as an
/// HttpOnly cookie for the web pages).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LoginAnswer {
    /// The session token.
    token: String,
    /// When it expires, Unix ms.
    expires_at: i64,
    /// Who logged in.
    user: User,
}

/// Log in: a session token in the answer and in an HttpOnly cookie.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "access",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; `Set-Cookie` carries the same token", body = LoginAnswer),
        (status = 401, description = "Wrong username or password (or a disabled user)", body = ErrorBody),
        (status = 429, description = "Too many failures for this account or address; `Retry-After`", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    SourceAddr(source): SourceAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let access = access(&state)?;
    let body: LoginBody = json_body(&headers, &body)?;
    let logged_in = access.login(&body.username, body.password, source).await?;
    let max_age = (logged_in.expires_at - now_ms()) / 1000;
    let cookie = access.cookie(logged_in.token.expose(), max_age);
    let mut response = Json(LoginAnswer {
        token: logged_in.token.into_exposed(),
        expires_at: logged_in.expires_at,
        user: logged_in.user,
    })
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Log out: the session is revoked and the cookie cleared.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "access",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let access = access(&state)?;
    if let Who::User { session, .. } = &caller.who {
        access
            .store()
            .revoke_session(session, &caller.audit(), now_ms())
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, access.cookie("", 0));
    Ok(response)
}

/// The logged-in user.
#[utoipa::path(get, path = "/auth/me", operation_id = "me", tag = "access",
    responses(
        (status = 200, description = "The user as stored now", body = User),
        (status = 401, description = "No valid session", body = ErrorBody),
    ))]
async fn me(caller: Caller) -> Result<Json<User>, ApiError> {
    Ok(Json(caller.user()?.clone()))
}

fn user_id(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).map_err(|e| ApiError::NotFound(format!("no user {text:?}: {e}")))
}

/// 403 unless `caller` may manage a user of `jurisdiction`.
fn require_manages(caller: &Caller, jurisdiction: &Jurisdiction) -> Result<(), ApiError> {
    let own = caller.jurisdiction()?;
    if jurisdiction.within(own) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "that user is outside your jurisdiction".into(),
        ))
    }
}

/// Users, by username; an administrator sees those within its jurisdiction.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "access",
    params(UserFilter),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<UserFilter>,
) -> Result<Json<UserPage>, ApiError> {
    let own = caller.jurisdiction()?.clone();
    let mut page = access(&state)?.store().list_users(&filter).await?;
    if own != Jurisdiction::City {
        // Few administrators below the city: filter the page (its total counts what they
        // see of it).
        page.items.retain(|u| u.jurisdiction.within(&own));
        page.total = page.items.len() as u64;
    }
    Ok(Json(page))
}

/// Create a user (within the administrator's jurisdiction).
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "access",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 403, description = "Not an administrator of that jurisdiction", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "Invalid fields (a password of 12 to 1024 characters)", body = ErrorBody),
    ))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewUser = json_body(&headers, &body)?;
    require_manages(&caller, &new.jurisdiction)?;
    let user = access(&state)?.create_user(new, &caller.audit()).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "access",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 403, description = "Outside the administrator's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user = access(&state)?.store().get_user(&user_id(&id)?).await?;
    require_manages(&caller, &user.jurisdiction)?;
    Ok(Json(user))
}

/// Change a user's display name, role, jurisdiction or disabled flag (revokes its
/// sessions when its access changes).
#[utoipa::path(put, path = "/users/{id}", operation_id = "update_user", tag = "access",
    params(("id" = String, Path, description = "User id"),
        ("if-match" = Option<String>, Header, description = "The revision changed, `\"<n>\"`")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 403, description = "Outside the administrator's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`last_admin`: the last city administrator", body = ErrorBody),
        (status = 412, description = "`If-Match` names another revision", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<User>, ApiError> {
    let store = access(&state)?.store();
    let id = user_id(&id)?;
    let user = store.get_user(&id).await?;
    require_manages(&caller, &user.jurisdiction)?;
    let expected = if_match(&headers)?;
    let update: UserUpdate = json_body(&headers, &body)?;
    if let Some(j) = &update.jurisdiction {
        require_manages(&caller, j)?;
    }
    Ok(Json(
        store
            .update_user(&id, &update, expected, &caller.audit(), now_ms())
            .await?,
    ))
}

/// A new password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    /// 12 to 1024 characters.
    #[schema(value_type = String, format = Password)]
    password: Password,
}

/// Set a user's password (its other sessions are revoked).
#[utoipa::path(put, path = "/users/{id}/password", operation_id = "set_user_password", tag = "access",
    params(("id" = String, Path, description = "User id")),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Set"),
        (status = 403, description = "Outside the administrator's jurisdiction", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Too short or too long", body = ErrorBody),
    ))]
async fn set_user_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let access = access(&state)?;
    let id = user_id(&id)?;
    let user = access.store().get_user(&id).await?;
    require_manages(&caller, &user.jurisdiction)?;
    let body: PasswordBody = json_body(&headers, &body)?;
    if let Err(reason) = body.password.check() {
        return Err(ApiError::Invalid {
            message: "invalid password".into(),
            fields: vec![crate::FieldProblem {
                field: "password".into(),
                reason,
            }],
        });
    }
    let hash = access.hash(body.password).await?;
    let keep = match &caller.who {
        Who::User { session, .. } => Some(session.clone()),
        Who::Stream(_) => None,
    };
    access
        .store()
        .set_password(
            &id,
            &hash,
            Some(user.revision),
            keep.as_ref(),
            &caller.audit(),
            now_ms(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A stream token to ask for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StreamTokenBody {
    /// The hub path the token plays (`cam/<id>/main`).
    path: String,
    /// How long it lasts, seconds (default 600; at most `security.stream_token_max_ttl`).
    #[serde(default)]
    ttl_s: Option<u64>,
}

/// A stream token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct StreamTokenAnswer {
    /// The token: `Authorization: Bearer <token>` on the WHEP requests of its path.
    token: String,
    /// The path it plays.
    path: String,
    /// When it expires, Unix ms.
    expires_at: i64,
}

/// Issue a stream token: a wall screen plays one path over WHEP with it, without a user
/// session, until it expires.
#[utoipa::path(post, path = "/stream-tokens", operation_id = "issue_stream_token", tag = "access",
    request_body = StreamTokenBody,
    responses(
        (status = 201, description = "The token", body = StreamTokenAnswer),
        (status = 403, description = "The role may not, or the path is outside the jurisdiction", body = ErrorBody),
        (status = 404, description = "No such path", body = ErrorBody),
    ))]
async fn issue_stream_token(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: StreamTokenBody = json_body(&headers, &body)?;
    crate::paths::require_path(&state, &caller, Action::IssueStreamToken, &body.path).await?;
    let path = state.hub.path(&body.path).await?;
    let user = caller.user()?;
    let ttl = Duration::from_secs(body.ttl_s.unwrap_or(600));
    let access = access(&state)?;
    let (token, expires_at) = access.stream_token(&path.name, &user.id, ttl);
    access
        .store()
        .append_audit(
            NewAuditEntry::new(&caller.audit(), AuditAction::StreamTokenIssued, now_ms())
                .target(path.name.as_str())
                .detail("expires_at", expires_at),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(StreamTokenAnswer {
            token: token.into_exposed(),
            path: path.name,
            expires_at,
        }),
    )
        .into_response())
}

/// The audit log, newest first (city administrators).
#[utoipa::path(get, path = "/audit", operation_id = "list_audit", tag = "access",
    params(AuditFilter),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
    ))]
async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<AuditPage>, ApiError> {
    require_city(&caller)?;
    Ok(Json(access(&state)?.store().list_audit(&filter).await?))
}

/// Stream views with their start and end (city administrators).
#[utoipa::path(get, path = "/audit/stream-views", operation_id = "list_stream_views", tag = "access",
    params(StreamViewFilter),
    responses(
        (status = 200, description = "One page of views", body = StreamViewPage),
        (status = 403, description = "Not a city administrator", body = ErrorBody),
    ))]
async fn list_stream_views(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<StreamViewFilter>,
) -> Result<Json<StreamViewPage>, ApiError> {
    require_city(&caller)?;
    Ok(Json(access(&state)?.store().stream_views(&filter).await?))
}

/// The audit log spans every jurisdiction: only the city's administrators read it.
fn require_city(caller: &Caller) -> Result<(), ApiError> {
    if *caller.jurisdiction()? == Jurisdiction::City {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the audit log is read by the city's administrators".into(),
        ))
    }
}
