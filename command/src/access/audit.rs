//! The audit log's records: what happened ([`AuditAction`]), who did it from where
//! ([`AuditContext`]), to what (`target`), with which [`Outcome`], and details.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{Actor, User};
use super::{FieldError, UnixMs};
use crate::domain::quote;

/// Longest audit target, in characters.
pub const MAX_TARGET: usize = 256;
/// Largest audit detail, bytes of JSON.
pub const MAX_DETAIL_BYTES: usize = 16 * 1024;

/// What an audit entry records: a closed set (serialized in snake_case; a stored name
/// outside it is a corrupt row). The suggested `target` of each is in its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A successful login (target: the username; written by
    /// [`AccessStore::open_session`](super::AccessStore::open_session)).
    Login,
    /// A refused login: wrong password, unknown or disabled user, rate limited (target:
    /// the username as typed; `detail.reason`).
    LoginFailed,
    /// A logout (target: the session id; written by
    /// [`AccessStore::revoke_session`](super::AccessStore::revoke_session)).
    Logout,
    /// A user's password was set (target: the user id).
    PasswordChanged,
    /// A user was created (target: the user id).
    UserCreated,
    /// A user's display name, role, jurisdiction or disabled flag changed (target: the
    /// user id; `detail` holds the changed fields).
    UserChanged,
    /// A stream token was issued (target: the hub path).
    StreamTokenIssued,
    /// A viewer started playing a path (target: the hub path); its id is the view's id.
    StreamViewStarted,
    /// A viewer stopped (target: the hub path; `ref_id`: the start entry).
    StreamViewEnded,
    /// A PTZ command (target: the camera id; `detail.action`).
    Ptz,
    /// A camera was put on a video wall (target: the camera id or path).
    WallPushed,
    /// A wall, a scene or a tour was created, changed or deleted (target: `wall/<id>`,
    /// `scene/<id>` or `tour/<id>`; `detail.change`).
    WallChanged,
    /// An incident, its tasks, reports or evidence changed (target: the incident id).
    IncidentChanged,
    /// A camera was created, changed or deleted (target: the camera id).
    CameraChanged,
    /// A command centre, unit or enterprise was created, changed or deleted (target: its
    /// id).
    OrgChanged,
    /// A request was refused for lack of role or jurisdiction (target: what was asked
    /// for).
    AccessDenied,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 16] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::PasswordChanged,
        AuditAction::UserCreated,
        AuditAction::UserChanged,
        AuditAction::StreamTokenIssued,
        AuditAction::StreamViewStarted,
        AuditAction::StreamViewEnded,
        AuditAction::Ptz,
        AuditAction::WallPushed,
        AuditAction::WallChanged,
        AuditAction::IncidentChanged,
        AuditAction::CameraChanged,
        AuditAction::OrgChanged,
        AuditAction::AccessDenied,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::UserCreated => "user_created",
            AuditAction::UserChanged => "user_changed",
            AuditAction::StreamTokenIssued => "stream_token_issued",
            AuditAction::StreamViewStarted => "stream_view_started",
            AuditAction::StreamViewEnded => "stream_view_ended",
            AuditAction::Ptz => "ptz",
            AuditAction::WallPushed => "wall_pushed",
            AuditAction::WallChanged => "wall_changed",
            AuditAction::IncidentChanged => "incident_changed",
            AuditAction::CameraChanged => "camera_changed",
            AuditAction::OrgChanged => "org_changed",
            AuditAction::AccessDenied => "access_denied",
        }
    }

    /// Parses a snake_case name; the error is the reason.
    pub fn parse(text: &str) -> Result<AuditAction, String> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| format!("{} is not an audit action", quote(text)))
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How it ended. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused: wrong credentials, rate limited, no permission, a rule.
    Denied,
    /// Failed for another reason (a camera that did not answer, a database error).
    Error,
}

impl Outcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// Parses a snake_case name; the error is the reason.
    pub fn parse(text: &str) -> Result<Outcome, String> {
        [Outcome::Success, Outcome::Denied, Outcome::Error]
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| format!("{} is not an outcome", quote(text)))
    }
}

/// Who acts and from where, for the audit entries a write records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    /// The logged-in user; `None` for anonymous requests (failed logins, stream tokens
    /// without a session) and the server itself (bootstrap).
    pub actor: Option<Actor>,
    /// The client's address, when known.
    pub source: Option<IpAddr>,
}

impl AuditContext {
    /// `user` acting from `source`.
    pub fn user(user: &User, source: Option<IpAddr>) -> AuditContext {
        AuditContext {
            actor: Some(user.actor()),
            source,
        }
    }

    /// Nobody known, from `source`.
    pub fn anonymous(source: Option<IpAddr>) -> AuditContext {
        AuditContext {
            actor: None,
            source,
        }
    }
}

/// An audit entry to append ([`AccessStore::append_audit`](super::AccessStore::append_audit)).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// When it happened, Unix ms.
    pub at: UnixMs,
    /// Who (see [`AuditContext::actor`]).
    pub actor: Option<Actor>,
    /// From where.
    pub source: Option<IpAddr>,
    /// What.
    pub action: AuditAction,
    /// To what: a camera id, hub path, incident id, user id, username (at most
    /// [`MAX_TARGET`] characters).
    pub target: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Anything else worth keeping, a JSON object of at most [`MAX_DETAIL_BYTES`]; keys
    /// that look like secrets are replaced by `"***"` ([`redact_detail`]).
    pub detail: Map<String, Value>,
}

impl NewAuditEntry {
    /// A successful `action` by `context` at `at`, with no target and no detail.
    pub fn new(context: &AuditContext, action: AuditAction, at: UnixMs) -> NewAuditEntry {
        NewAuditEntry {
            at,
            actor: context.actor.clone(),
            source: context.source,
            action,
            target: None,
            outcome: Outcome::Success,
            detail: Map::new(),
        }
    }

    /// The same with `target`.
    pub fn target(mut self, target: impl Into<String>) -> NewAuditEntry {
        self.target = Some(target.into());
        self
    }

    /// The same with `outcome`.
    pub fn outcome(mut self, outcome: Outcome) -> NewAuditEntry {
        self.outcome = outcome;
        self
    }

    /// The same with `detail[key] = value`.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> NewAuditEntry {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// Every problem: `target` too long, `detail` too large (after redaction).
    pub(crate) fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(target) = &self.target {
            let len = target.chars().count();
            if len > MAX_TARGET {
                errors.push(FieldError::new(
                    "target",
                    format!("is {len} characters long, at most {MAX_TARGET} are allowed"),
                ));
            }
        }
        let size = Value::Object(self.detail.clone()).to_string().len();
        if size > MAX_DETAIL_BYTES {
            errors.push(FieldError::new(
                "detail",
                format!("is {size} bytes of JSON, at most {MAX_DETAIL_BYTES} are allowed"),
            ));
        }
        errors
    }
}

/// Replaces, at any depth, the value of every key that looks like it holds a secret —
/// its lower-cased name contains `password`, `passwd`, `secret`, `token`, `credential`,
/// `authorization`, `cookie` or `api_key` — with `"***"`. The store applies it to every
/// detail it writes; it is a safety net, not a licence to pass secrets.
pub fn redact_detail(detail: &mut Map<String, Value>) {
    const SECRET_WORDS: [&str; 8] = [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "authorization",
        "cookie",
        "api_key",
    ];
    for (key, value) in detail.iter_mut() {
        let key = key.to_ascii_lowercase();
        if SECRET_WORDS.iter().any(|w| key.contains(w)) {
            *value = Value::String("***".to_owned());
        } else {
            redact_value(value);
        }
    }
}

fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => redact_detail(map),
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

/// One audit log entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Id: increasing in commit order (a reader that remembers the last id it saw misses
    /// nothing).
    pub id: i64,
    /// When it happened, Unix ms.
    pub at: UnixMs,
    /// Who.
    pub actor: Option<Actor>,
    /// From where.
    #[schema(value_type = Option<String>)]
    pub source: Option<IpAddr>,
    /// What.
    pub action: AuditAction,
    /// To what.
    pub target: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The entry this one refers to: a `stream_view_ended` entry's start entry.
    pub ref_id: Option<i64>,
    /// Details (a JSON object).
    pub detail: Map<String, Value>,
}

/// Which entries [`AccessStore::list_audit`](super::AccessStore::list_audit) returns;
/// every set field must match. Deserializes from a query string; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct AuditFilter {
    /// The actor's user id or username, exact.
    pub actor: Option<String>,
    /// The action.
    pub action: Option<AuditAction>,
    /// The target, exact.
    pub target: Option<String>,
    /// The outcome.
    pub outcome: Option<Outcome>,
    /// At or after this time, Unix ms.
    pub from: Option<UnixMs>,
    /// Before this time, Unix ms.
    pub to: Option<UnixMs>,
    /// Page size, 0 to [`MAX_LIMIT`](super::MAX_LIMIT); default
    /// [`DEFAULT_LIMIT`](super::DEFAULT_LIMIT).
    pub limit: Option<u32>,
    /// Entries to skip (newest first); default 0.
    pub offset: Option<u64>,
}

/// One page of [`AccessStore::list_audit`](super::AccessStore::list_audit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The entries of this page, newest (highest id) first.
    pub items: Vec<AuditEntry>,
    /// How many entries match the filter in all.
    pub total: u64,
}

/// A stream view starting
/// ([`AccessStore::stream_view_started`](super::AccessStore::stream_view_started)).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamViewStart {
    /// When it started, Unix ms.
    pub at: UnixMs,
    /// The viewer: the session's user, or for a stream token its issuer (say so in
    /// `detail`, e.g. `"via": "stream_token"`).
    pub actor: Option<Actor>,
    /// The viewer's address.
    pub source: Option<IpAddr>,
    /// The hub path, e.g. `cam/<camera id>/main`.
    pub path: String,
    /// Details (e.g. the WHEP session id).
    pub detail: Map<String, Value>,
}

/// One stream view: its start entry joined with its end entry, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamView {
    /// The view's id: its start entry's id.
    pub view_id: i64,
    /// The viewer.
    pub actor: Option<Actor>,
    /// The viewer's address.
    #[schema(value_type = Option<String>)]
    pub source: Option<IpAddr>,
    /// The hub path.
    pub path: String,
    /// Started, Unix ms.
    pub started_at: UnixMs,
    /// Ended, Unix ms; `None` while playing (or when the server stopped before recording
    /// the end).
    pub ended_at: Option<UnixMs>,
}

/// Which views [`AccessStore::stream_views`](super::AccessStore::stream_views) returns;
/// every set field must match. Deserializes from a query string; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct StreamViewFilter {
    /// The viewer's user id or username, exact.
    pub actor: Option<String>,
    /// The hub path, exact.
    pub path: Option<String>,
    /// Started at or after this time, Unix ms.
    pub from: Option<UnixMs>,
    /// Started before this time, Unix ms.
    pub to: Option<UnixMs>,
    /// `true`: without an end entry; `false`: ended.
    pub open: Option<bool>,
    /// Page size, 0 to [`MAX_LIMIT`](super::MAX_LIMIT); default
    /// [`DEFAULT_LIMIT`](super::DEFAULT_LIMIT).
    pub limit: Option<u32>,
    /// Views to skip (newest first); default 0.
    pub offset: Option<u64>,
}

/// One page of [`AccessStore::stream_views`](super::AccessStore::stream_views).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamViewPage {
    /// The views of this page, newest start first.
    pub items: Vec<StreamView>,
    /// How many views match the filter in all.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Ok(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                Value::String(a.to_string())
            );
        }
        assert!(AuditAction::parse("other").is_err());
        for o in [Outcome::Success, Outcome::Denied, Outcome::Error] {
            assert_eq!(Outcome::parse(o.as_str()), Ok(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut detail = serde_json::json!({
            "action": "move",
            "Password": "hunter2",
            "nested": {"session_token": "eyJ...", "list": [{"apiKey": 1, "API_KEY": 2}]},
            "credentials_set": true,
        })
        .as_object()
        .unwrap()
        .clone();
        redact_detail(&mut detail);
        assert_eq!(
            Value::Object(detail),
            serde_json::json!({
                "action": "move",
                "Password": "***",
                "nested": {"session_token": "***", "list": [{"apiKey": 1, "API_KEY": "***"}]},
                "credentials_set": "***",
            })
        );
    }

    #[test]
    fn limits() {
        let ctx = AuditContext::anonymous(None);
        let ok = NewAuditEntry::new(&ctx, AuditAction::Ptz, 1).target("x".repeat(MAX_TARGET));
        assert!(ok.validate().is_empty());
        let bad = NewAuditEntry::new(&ctx, AuditAction::Ptz, 1)
            .target("x".repeat(MAX_TARGET + 1))
            .detail("blob", "y".repeat(MAX_DETAIL_BYTES));
        let fields: Vec<String> = bad.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["target", "detail"]);
    }
}
