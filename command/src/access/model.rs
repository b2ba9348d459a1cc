//! Users, roles, jurisdictions and sessions: the access module's records and rules.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::password::Password;
use super::{FieldError, UnixMs};
use crate::domain::{id_type, quote, valid_id};

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 128;
/// Longest district or street name of a jurisdiction, in characters (as for incident
/// locations).
pub const MAX_PLACE: usize = 128;

id_type!(
    /// A user's stable identifier: `U-` and 16 lower-case hex digits, random (so ids
    /// reveal neither the number of users nor the order they were created in).
    UserId,
    "user id"
);

id_type!(
    /// A session's identifier: `S-` and 32 lower-case hex digits (128 random bits). It
    /// travels inside signed session tokens (`sid`) and is the key of the session row.
    SessionId,
    "session id"
);

// ---------------------------------------------------------------------------------------
// Roles and actions

/// What a user may do, as one of four roles (serialized in snake_case). Roles are
/// ordered `Viewer < Operator < Commander < Admin`, and each may everything the role
/// below may ([`Role::may`]; a test checks this).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Watches live video and reads incidents and the organisation; changes nothing.
    Viewer,
    /// Duty operator: also moves cameras, works incidents and dispatch, pushes video to
    /// the wall and issues stream tokens.
    Operator,
    /// Commander: also manages the organisation (centres, units, ledger) and the camera
    /// inventory.
    Commander,
    /// Administrator: everything, including user accounts and the audit log.
    Admin,
}

/// Something a role may or may not do; checked with [`Role::may`]. Where it may be done
/// is the user's [`Jurisdiction`]'s business. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See cameras (live video, snapshots, paths), incidents, tasks, the organisation.
    View,
    /// Send PTZ commands to a camera (move, stop, presets).
    Ptz,
    /// Open incidents, apply incident commands, attach evidence, link intake reports.
    ChangeIncident,
    /// Dispatch units and move dispatch tasks along; change unit availability.
    Dispatch,
    /// Put a camera on a video wall.
    PushToWall,
    /// Issue a stream token for one path (for a wall screen without a session).
    IssueStreamToken,
    /// Create, change and delete cameras; run discovery and imports.
    ManageDevices,
    /// Create, change and delete command centres, units and enterprises.
    ManageOrg,
    /// Create users, change their role, jurisdiction, password or disabled flag.
    ManageUsers,
    /// Read the audit log (`GET /api/v1/audit`).
    ReadAudit,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 10] = [
        Action::View,
        Action::Ptz,
        Action::ChangeIncident,
        Action::Dispatch,
        Action::PushToWall,
        Action::IssueStreamToken,
        Action::ManageDevices,
        Action::ManageOrg,
        Action::ManageUsers,
        Action::ReadAudit,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Ptz => "ptz",
            Action::ChangeIncident => "change_incident",
            Action::Dispatch => "dispatch",
            Action::PushToWall => "push_to_wall",
            Action::IssueStreamToken => "issue_stream_token",
            Action::ManageDevices => "manage_devices",
            Action::ManageOrg => "manage_org",
            Action::ManageUsers => "manage_users",
            Action::ReadAudit => "read_audit",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Commander, Role::Admin];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Commander => "commander",
            Role::Admin => "admin",
        }
    }

    /// Parses a snake_case name; the error is the reason.
    pub fn parse(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "{} is not a role: viewer, operator, commander or admin",
                    quote(text)
                )
            })
    }

    /// Whether this role may do `action` — anywhere within the user's jurisdiction. The
    /// whole permission table:
    ///
    /// | action               | viewer | operator | commander | admin |
    /// |----------------------|:------:|:--------:|:---------:|:-----:|
    /// | `view`               |   ✓    |    ✓     |     ✓     |   ✓   |
    /// | `ptz`                |        |    ✓     |     ✓     |   ✓   |
    /// | `change_incident`    |        |    ✓     |     ✓     |   ✓   |
    /// | `dispatch`           |        |    ✓     |     ✓     |   ✓   |
    /// | `push_to_wall`       |        |    ✓     |     ✓     |   ✓   |
    /// | `issue_stream_token` |        |    ✓     |     ✓     |   ✓   |
    /// | `manage_devices`     |        |          |     ✓     |   ✓   |
    /// | `manage_org`         |        |          |     ✓     |   ✓   |
    /// | `manage_users`       |        |          |           |   ✓   |
    /// | `read_audit`         |        |          |           |   ✓   |
    pub fn may(self, action: Action) -> bool {
        use Role::{Admin, Commander, Operator, Viewer};
        let allowed: &[Role] = match action {
            Action::View => &[Viewer, Operator, Commander, Admin],
            Action::Ptz
            | Action::ChangeIncident
            | Action::Dispatch
            | Action::PushToWall
            | Action::IssueStreamToken => &[Operator, Commander, Admin],
            Action::ManageDevices | Action::ManageOrg => &[Commander, Admin],
            Action::ManageUsers | Action::ReadAudit => &[Admin],
        };
        allowed.contains(&self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s)
    }
}

// ---------------------------------------------------------------------------------------
// Jurisdictions and scopes

/// Where an item belongs: the district, street and enterprise (ledger id) it is recorded
/// under, each possibly unknown (`None`). Built from a camera's `district`, `street` and
/// `enterprise_id`, an incident's location and enterprise, an enterprise's division and
/// ledger id. Compared with [`Jurisdiction::covers`].
///
/// A caller that knows more than the item records (a camera without a district whose
/// enterprise's ledger entry has one) may fill it in; the rules only see what is here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Scope<'a> {
    /// District, as the rest of the data spells it (`"Dongcheng"`).
    pub district: Option<&'a str>,
    /// Street (街道, 乡镇) within the district.
    pub street: Option<&'a str>,
    /// The enterprise's ledger id (`"E-110101-0001"`).
    pub enterprise_id: Option<&'a str>,
}

impl<'a> Scope<'a> {
    /// A scope from the three optional fields.
    pub fn new(
        district: Option<&'a str>,
        street: Option<&'a str>,
        enterprise_id: Option<&'a str>,
    ) -> Scope<'a> {
        Scope {
            district,
            street,
            enterprise_id,
        }
    }
}

/// The part of the organisation a user acts for: the whole city, one district, one street
/// of one district, or one enterprise (its own sites only).
///
/// Serialized internally tagged by `level`: `{"level":"city"}`,
/// `{"level":"district","district":"Dongcheng"}`,
/// `{"level":"street","district":"Dongcheng","street":"Yongdingmenwai"}`,
/// `{"level":"enterprise","enterprise_id":"E-110101-0001"}`; unknown fields are errors.
/// District and street names are the free text the ledger, the camera inventory and
/// incident locations use, compared exactly (see [`Jurisdiction::covers`]); check new
/// values with [`Jurisdiction::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "level", rename_all = "snake_case", from = "JurisdictionRepr")]
pub enum Jurisdiction {
    /// The city bureau: every district, street and enterprise.
    City,
    /// One district and every street in it.
    District {
        /// The district's name.
        district: String,
    },
    /// One street (sub-district, town) of one district.
    Street {
        /// The district's name.
        district: String,
        /// The street's name.
        street: String,
    },
    /// One enterprise: the items recorded under its ledger id.
    Enterprise {
        /// The enterprise's ledger id.
        enterprise_id: String,
    },
}

/// [`Jurisdiction`] as decoded: `City {}` rather than a unit variant, because serde lets
/// unknown fields through after the tag of an internally tagged unit variant
/// (`{"level":"city","district":"A"}` must be an error, not the city).
#[derive(Deserialize)]
#[serde(tag = "level", rename_all = "snake_case", deny_unknown_fields)]
enum JurisdictionRepr {
    City {},
    District { district: String },
    Street { district: String, street: String },
    Enterprise { enterprise_id: String },
}

impl From<JurisdictionRepr> for Jurisdiction {
    fn from(repr: JurisdictionRepr) -> Jurisdiction {
        match repr {
            JurisdictionRepr::City {} => Jurisdiction::City,
            JurisdictionRepr::District { district } => Jurisdiction::District { district },
            JurisdictionRepr::Street { district, street } => {
                Jurisdiction::Street { district, street }
            }
            JurisdictionRepr::Enterprise { enterprise_id } => {
                Jurisdiction::Enterprise { enterprise_id }
            }
        }
    }
}

impl Jurisdiction {
    /// `city`, `district`, `street` or `enterprise`.
    pub fn level(&self) -> &'static str {
        match self {
            Jurisdiction::City => "city",
            Jurisdiction::District { .. } => "district",
            Jurisdiction::Street { .. } => "street",
            Jurisdiction::Enterprise { .. } => "enterprise",
        }
    }

    /// The district, for district and street jurisdictions.
    pub fn district(&self) -> Option<&str> {
        match self {
            Jurisdiction::District { district } | Jurisdiction::Street { district, .. } => {
                Some(district)
            }
            _ => None,
        }
    }

    /// The street, for street jurisdictions.
    pub fn street(&self) -> Option<&str> {
        match self {
            Jurisdiction::Street { street, .. } => Some(street),
            _ => None,
        }
    }

    /// The enterprise's ledger id, for enterprise jurisdictions.
    pub fn enterprise_id(&self) -> Option<&str> {
        match self {
            Jurisdiction::Enterprise { enterprise_id } => Some(enterprise_id),
            _ => None,
        }
    }

    /// Whether a user of this jurisdiction may see (and, as its role allows, act on) an
    /// item of `scope`:
    ///
    /// - **city** covers everything, including items whose district is unknown;
    /// - **district** `d` covers the items whose district is `d`;
    /// - **street** `(d, s)` covers the items whose district is `d` and street is `s`;
    /// - **enterprise** `e` covers the items whose enterprise id is `e`, wherever they
    ///   are.
    ///
    /// Names are compared **exactly**: case-sensitive, byte for byte, no trimming
    /// (`"Dongcheng"` is not `"dongcheng"` nor `"Dongcheng "`), as the data is written by
    /// the same ledger and inventory. An item with an unknown district (`None`) is covered
    /// only by the city and — when its enterprise id matches — by that enterprise; one with
    /// an unknown street is not covered by any street. A district jurisdiction covers an
    /// enterprise's items only through their district: being in the district is what
    /// counts, not the enterprise.
    pub fn covers(&self, scope: &Scope<'_>) -> bool {
        match self {
            Jurisdiction::City => true,
            Jurisdiction::District { district } => scope.district == Some(district.as_str()),
            Jurisdiction::Street { district, street } => {
                scope.district == Some(district.as_str()) && scope.street == Some(street.as_str())
            }
            Jurisdiction::Enterprise { enterprise_id } => {
                scope.enterprise_id == Some(enterprise_id.as_str())
            }
        }
    }

    /// The exact-match conditions of this jurisdiction as a scope: the fields an item
    /// must have, with these values, to be covered — none for the city; the district; the
    /// district and street; the enterprise id. `covers(item)` holds exactly when every
    /// field set here equals the item's (a property test checks this), so a list query
    /// can apply a jurisdiction as `column = value` conditions (which exclude `NULL`s, as
    /// `covers` does).
    pub fn constraints(&self) -> Scope<'_> {
        match self {
            Jurisdiction::City => Scope::default(),
            Jurisdiction::District { district } => Scope::new(Some(district), None, None),
            Jurisdiction::Street { district, street } => {
                Scope::new(Some(district), Some(street), None)
            }
            Jurisdiction::Enterprise { enterprise_id } => {
                Scope::new(None, None, Some(enterprise_id))
            }
        }
    }

    /// Whether this jurisdiction lies within `outer`: every item this one covers, `outer`
    /// covers too (a property test checks exactly this). An administrator of jurisdiction
    /// `outer` may create and manage users of jurisdiction `self` only when this holds.
    ///
    /// The city is within only the city; a district within itself and the city; a street
    /// within itself, its district and the city; an enterprise within itself and the
    /// city — not within a district, because an enterprise's items need not record a
    /// district (and its ledger entry is not consulted here).
    pub fn within(&self, outer: &Jurisdiction) -> bool {
        match (self, outer) {
            (_, Jurisdiction::City) => true,
            (Jurisdiction::District { district: a }, Jurisdiction::District { district: b })
            | (Jurisdiction::Street { district: a, .. }, Jurisdiction::District { district: b }) => {
                a == b
            }
            (
                Jurisdiction::Street {
                    district: a,
                    street: s,
                },
                Jurisdiction::Street {
                    district: b,
                    street: t,
                },
            ) => a == b && s == t,
            (
                Jurisdiction::Enterprise { enterprise_id: a },
                Jurisdiction::Enterprise { enterprise_id: b },
            ) => a == b,
            _ => false,
        }
    }

    /// The same jurisdiction with its names trimmed of surrounding white space (what the
    /// store writes).
    pub fn normalized(&self) -> Jurisdiction {
        match self {
            Jurisdiction::City => Jurisdiction::City,
            Jurisdiction::District { district } => Jurisdiction::District {
                district: district.trim().to_owned(),
            },
            Jurisdiction::Street { district, street } => Jurisdiction::Street {
                district: district.trim().to_owned(),
                street: street.trim().to_owned(),
            },
            Jurisdiction::Enterprise { enterprise_id } => Jurisdiction::Enterprise {
                enterprise_id: enterprise_id.trim().to_owned(),
            },
        }
    }

    /// Every problem, with fields prefixed `jurisdiction.`: a district or street must not
    /// be blank and has at most [`MAX_PLACE`] characters (surrounding white space does not
    /// count, see [`Jurisdiction::normalized`]); an enterprise id follows the ledger's id
    /// rule ([`crate::domain::ID_RULE`]).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut place = |field: &str, text: &str| {
            let text = text.trim();
            if text.is_empty() {
                errors.push(FieldError::new(
                    format!("jurisdiction.{field}"),
                    "is required and must not be blank",
                ));
            } else if text.chars().count() > MAX_PLACE {
                errors.push(FieldError::new(
                    format!("jurisdiction.{field}"),
                    format!(
                        "is {} characters long, at most {MAX_PLACE} are allowed",
                        text.chars().count()
                    ),
                ));
            }
        };
        match self {
            Jurisdiction::City => {}
            Jurisdiction::District { district } => place("district", district),
            Jurisdiction::Street { district, street } => {
                place("district", district);
                place("street", street);
            }
            Jurisdiction::Enterprise { enterprise_id } => {
                if !valid_id(enterprise_id.trim()) {
                    errors.push(FieldError::new(
                        "jurisdiction.enterprise_id",
                        format!(
                            "{} is not a ledger id: {}",
                            quote(enterprise_id),
                            crate::domain::ID_RULE
                        ),
                    ));
                }
            }
        }
        errors
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jurisdiction::City => f.write_str("the city"),
            Jurisdiction::District { district } => write!(f, "district {district}"),
            Jurisdiction::Street { district, street } => {
                write!(f, "street {street} in {district}")
            }
            Jurisdiction::Enterprise { enterprise_id } => write!(f, "enterprise {enterprise_id}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Usernames

/// A login name: 3 to 64 characters from `a-z`, `0-9`, `.`, `_` and `-`. Usernames are
/// case-insensitive: [`Username::parse`] trims the input and lower-cases ASCII letters
/// before checking, so `" Alice "` is `alice`. Serialized as a plain string, checked when
/// deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Shortest username, in characters.
    pub const MIN: usize = 3;
    /// Longest username, in characters.
    pub const MAX: usize = 64;

    /// Trims, lower-cases and checks `text`; the error is the reason (quoting at most 40
    /// characters of `text`).
    pub fn parse(text: &str) -> Result<Username, String> {
        let name = text.trim().to_ascii_lowercase();
        let len = name.chars().count();
        if !(Username::MIN..=Username::MAX).contains(&len) {
            return Err(format!(
                "{} is {len} characters long: a username has {} to {} characters",
                quote(text),
                Username::MIN,
                Username::MAX
            ));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
        {
            return Err(format!(
                "{} contains {bad:?}: a username has only letters a-z, digits, '.', '_' and '-'",
                quote(text)
            ));
        }
        Ok(Username(name))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Username {
    type Err = String;
    fn from_str(s: &str) -> Result<Username, String> {
        Username::parse(s)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Username::parse(&text).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Users

/// A user account as stored. Holds no password hash: the hash is read only for a login
/// ([`AccessStore::credentials`](super::AccessStore::credentials)) and never serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Login name, unique.
    pub username: Username,
    /// Name shown in the UI and the audit log's answers.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// Where.
    pub jurisdiction: Jurisdiction,
    /// A disabled user cannot log in, and its sessions are revoked.
    pub disabled: bool,
    /// Created, Unix ms.
    pub created_at: UnixMs,
    /// Last changed (any field or the password), Unix ms.
    pub updated_at: UnixMs,
    /// Password last set, Unix ms.
    pub password_changed_at: UnixMs,
    /// 1 after create, +1 per update or password change.
    pub revision: i64,
}

impl User {
    /// Whether the user may do `action` on an item of `scope`: not disabled, its role
    /// allows the action ([`Role::may`]) and its jurisdiction covers the scope
    /// ([`Jurisdiction::covers`]).
    pub fn may(&self, action: Action, scope: &Scope<'_>) -> bool {
        !self.disabled && self.role.may(action) && self.jurisdiction.covers(scope)
    }

    /// The user as the audit log names it.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id.clone(),
            username: self.username.clone(),
        }
    }
}

/// Who did something, as the audit log records it: id and username (kept even if the
/// user is disabled later).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    /// The user's id.
    pub id: UserId,
    /// The user's username.
    pub username: Username,
}

/// A user to create. Decoding checks only the JSON shape (unknown fields are errors);
/// [`NewUser::validate`] reports every problem at once. `Debug` shows the password as
/// `***`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name (see [`Username`]).
    pub username: String,
    /// Shown name, 1 to [`MAX_DISPLAY_NAME`] characters (trimmed).
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Jurisdiction (see [`Jurisdiction::validate`]).
    pub jurisdiction: Jurisdiction,
    /// Create the account disabled; default `false`.
    #[serde(default)]
    pub disabled: bool,
    /// The initial password (see [`Password::check`]); hashed by the caller.
    #[schema(value_type = String, format = Password)]
    pub password: Password,
}

impl NewUser {
    /// Every problem: `username`, `display_name`, `jurisdiction.*`, `password`.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(reason) = Username::parse(&self.username) {
            errors.push(FieldError::new("username", reason));
        }
        check_display_name(&mut errors, &self.display_name);
        errors.extend(self.jurisdiction.validate());
        if let Err(reason) = self.password.check() {
            errors.push(FieldError::new("password", reason));
        }
        errors
    }
}

/// A change to a user: each field set is changed, the others are kept. Decoding checks
/// only the JSON shape (unknown fields are errors); [`UserUpdate::validate`] reports every
/// problem. The password is changed separately
/// ([`AccessStore::set_password`](super::AccessStore::set_password)); the username never.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New jurisdiction.
    pub jurisdiction: Option<Jurisdiction>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
}

impl UserUpdate {
    /// Every problem: `display_name`, `jurisdiction.*`, or an update that changes nothing
    /// (field `""`).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self == &UserUpdate::default() {
            errors.push(FieldError::new(
                "",
                "names no field to change: display_name, role, jurisdiction or disabled",
            ));
        }
        if let Some(name) = &self.display_name {
            check_display_name(&mut errors, name);
        }
        if let Some(j) = &self.jurisdiction {
            errors.extend(j.validate());
        }
        errors
    }

    /// Whether this update changes the role, the jurisdiction or the disabled flag of
    /// `user` — what revokes the user's sessions.
    pub fn changes_access(&self, user: &User) -> bool {
        self.role.is_some_and(|r| r != user.role)
            || self
                .jurisdiction
                .as_ref()
                .is_some_and(|j| j.normalized() != user.jurisdiction)
            || self.disabled.is_some_and(|d| d != user.disabled)
    }
}

fn check_display_name(errors: &mut Vec<FieldError>, name: &str) {
    let name = name.trim();
    if name.is_empty() {
        errors.push(FieldError::new(
            "display_name",
            "is required and must not be blank",
        ));
    } else if name.chars().count() > MAX_DISPLAY_NAME {
        errors.push(FieldError::new(
            "display_name",
            format!(
                "is {} characters long, at most {MAX_DISPLAY_NAME} are allowed (starts {})",
                name.chars().count(),
                quote(name)
            ),
        ));
    }
}

/// Which users [`AccessStore::list_users`](super::AccessStore::list_users) returns; every
/// set field must match. Deserializes from a query string; unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct UserFilter {
    /// Role.
    pub role: Option<Role>,
    /// Disabled (`true`) or enabled (`false`) accounts.
    pub disabled: Option<bool>,
    /// Jurisdiction level: `city`, `district`, `street` or `enterprise`.
    pub level: Option<String>,
    /// Jurisdiction district, exact (district and street users of that district).
    pub district: Option<String>,
    /// Jurisdiction street, exact.
    pub street: Option<String>,
    /// Jurisdiction enterprise id, exact.
    pub enterprise_id: Option<String>,
    /// Substring of the username or display name (case-insensitive for ASCII letters).
    pub q: Option<String>,
    /// Page size, 0 to [`MAX_LIMIT`](super::MAX_LIMIT); default
    /// [`DEFAULT_LIMIT`](super::DEFAULT_LIMIT).
    pub limit: Option<u32>,
    /// Users to skip (ordered by username); default 0.
    pub offset: Option<u64>,
}

/// One page of [`AccessStore::list_users`](super::AccessStore::list_users).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserPage {
    /// The users of this page, ordered by username.
    pub items: Vec<User>,
    /// How many users match the filter in all.
    pub total: u64,
}

// ---------------------------------------------------------------------------------------
// Sessions

/// One login session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Id (the token's `sid`).
    pub id: SessionId,
    /// Whose.
    pub user_id: UserId,
    /// Opened, Unix ms.
    pub created_at: UnixMs,
    /// Expires, Unix ms: the session is unusable from this moment on.
    pub expires_at: UnixMs,
    /// Revoked (logout, or a change of the user's access), Unix ms.
    pub revoked_at: Option<UnixMs>,
    /// The client's address at login, when known.
    pub source: Option<IpAddr>,
}

impl Session {
    /// Whether the session may be used at `now` (Unix ms): not revoked and `now <
    /// expires_at`.
    pub fn is_active(&self, now: UnixMs) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn district(d: &str) -> Jurisdiction {
        Jurisdiction::District {
            district: d.to_owned(),
        }
    }

    fn street(d: &str, s: &str) -> Jurisdiction {
        Jurisdiction::Street {
            district: d.to_owned(),
            street: s.to_owned(),
        }
    }

    fn enterprise(e: &str) -> Jurisdiction {
        Jurisdiction::Enterprise {
            enterprise_id: e.to_owned(),
        }
    }

    #[test]
    fn jurisdiction_json_is_internally_tagged() {
        let cases = [
            (Jurisdiction::City, r#"{"level":"city"}"#),
            (
                district("Dongcheng"),
                r#"{"level":"district","district":"Dongcheng"}"#,
            ),
            (
                street("Dongcheng", "Yongdingmenwai"),
                r#"{"level":"street","district":"Dongcheng","street":"Yongdingmenwai"}"#,
            ),
            (
                enterprise("E-110101-0001"),
                r#"{"level":"enterprise","enterprise_id":"E-110101-0001"}"#,
            ),
        ];
        for (j, json) in cases {
            assert_eq!(serde_json::to_string(&j).unwrap(), json);
            assert_eq!(serde_json::from_str::<Jurisdiction>(json).unwrap(), j);
        }
        for bad in [
            r#"{"level":"county"}"#,
            r#"{"level":"district"}"#,
            r#"{"level":"district","district":"A","street":"B"}"#,
            r#"{"level":"city","district":"A"}"#,
            r#"{"district":"A"}"#,
        ] {
            assert!(serde_json::from_str::<Jurisdiction>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jurisdiction_validation() {
        assert!(Jurisdiction::City.validate().is_empty());
        assert!(
            street(" Dongcheng ", "Yongdingmenwai")
                .validate()
                .is_empty()
        );
        let errors = street(" ", &"x".repeat(129)).validate();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["jurisdiction.district", "jurisdiction.street"]);
        assert_eq!(
            enterprise("E 1").validate()[0].field,
            "jurisdiction.enterprise_id"
        );
        assert_eq!(
            street(" Dongcheng ", " Yongdingmenwai").normalized(),
            street("Dongcheng", "Yongdingmenwai")
        );
    }

    #[test]
    fn covers_examples() {
        let item = Scope::new(Some("Dongcheng"), Some("Yongdingmenwai"), Some("E-1"));
        assert!(Jurisdiction::City.covers(&item));
        assert!(district("Dongcheng").covers(&item));
        assert!(!district("dongcheng").covers(&item), "case-sensitive");
        assert!(!district("Dongcheng ").covers(&item), "not trimmed");
        assert!(!district("Xicheng").covers(&item));
        assert!(street("Dongcheng", "Yongdingmenwai").covers(&item));
        assert!(!street("Xicheng", "Yongdingmenwai").covers(&item));
        assert!(!street("Dongcheng", "Tiantan").covers(&item));
        assert!(enterprise("E-1").covers(&item));
        assert!(!enterprise("E-2").covers(&item));
        // Unknown district: the city and the matching enterprise only.
        let lost = Scope::new(None, Some("Yongdingmenwai"), Some("E-1"));
        assert!(Jurisdiction::City.covers(&lost));
        assert!(!district("Dongcheng").covers(&lost));
        assert!(!street("Dongcheng", "Yongdingmenwai").covers(&lost));
        assert!(enterprise("E-1").covers(&lost));
        // Unknown street: the district sees it, no street does.
        let no_street = Scope::new(Some("Dongcheng"), None, None);
        assert!(district("Dongcheng").covers(&no_street));
        assert!(!street("Dongcheng", "Yongdingmenwai").covers(&no_street));
        assert!(Jurisdiction::City.covers(&Scope::default()));
        assert!(!enterprise("E-1").covers(&Scope::default()));
    }

    #[test]
    fn within_examples() {
        let city = Jurisdiction::City;
        assert!(city.within(&city));
        assert!(district("A").within(&city));
        assert!(!city.within(&district("A")));
        assert!(street("A", "s").within(&district("A")));
        assert!(!street("A", "s").within(&district("B")));
        assert!(!district("A").within(&street("A", "s")));
        assert!(!enterprise("E-1").within(&district("A")));
        assert!(enterprise("E-1").within(&enterprise("E-1")));
        assert!(!enterprise("E-1").within(&enterprise("E-2")));
    }

    #[test]
    fn role_table() {
        let expect = |role: Role, actions: &[Action]| {
            for a in Action::ALL {
                assert_eq!(role.may(a), actions.contains(&a), "{role} {a}");
            }
        };
        use Action::*;
        expect(Role::Viewer, &[View]);
        let operator = [
            View,
            Ptz,
            ChangeIncident,
            Dispatch,
            PushToWall,
            IssueStreamToken,
        ];
        expect(Role::Operator, &operator);
        let mut commander = operator.to_vec();
        commander.extend([ManageOrg, ManageDevices]);
        expect(Role::Commander, &commander);
        expect(Role::Admin, &Action::ALL);
        // Each role may everything the role below may.
        for pair in Role::ALL.windows(2) {
            for a in Action::ALL {
                assert!(!pair[0].may(a) || pair[1].may(a), "{} {a}", pair[1]);
            }
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        for a in Action::ALL {
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        assert!(Role::parse("root").unwrap_err().contains("not a role"));
    }

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Alice.W ").unwrap().as_str(), "alice.w");
        for ok in ["abc", "a-b_c.9", &"x".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "", &"x".repeat(65), "a b", "名字名", "a@b", "a/b"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Username>(r#""a b""#).is_err());
    }

    #[test]
    fn user_inputs_name_every_field() {
        let json = r#"{"username":"x","display_name":" ","role":"viewer",
            "jurisdiction":{"level":"district","district":""},"password":"short"}"#;
        let new: NewUser = serde_json::from_str(json).unwrap();
        let fields: Vec<String> = new.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "username",
                "display_name",
                "jurisdiction.district",
                "password"
            ]
        );
        assert!(!format!("{new:?}").contains("short"), "password redacted");
        assert!(serde_json::from_str::<NewUser>(&json.replace("\"role\"", "\"rank\"")).is_err());
        assert_eq!(UserUpdate::default().validate()[0].field, "");
        let update = UserUpdate {
            role: Some(Role::Admin),
            ..UserUpdate::default()
        };
        assert!(update.validate().is_empty());
    }

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["A", "B", "a", "C "]).prop_map(str::to_owned)
    }

    fn jurisdiction() -> impl Strategy<Value = Jurisdiction> {
        prop_oneof![
            Just(Jurisdiction::City),
            name().prop_map(|district| Jurisdiction::District { district }),
            (name(), name())
                .prop_map(|(district, street)| Jurisdiction::Street { district, street }),
            name().prop_map(|enterprise_id| Jurisdiction::Enterprise { enterprise_id }),
        ]
    }

    fn scope() -> impl Strategy<Value = (Option<String>, Option<String>, Option<String>)> {
        (
            prop::option::of(name()),
            prop::option::of(name()),
            prop::option::of(name()),
        )
    }

    fn as_scope(s: &(Option<String>, Option<String>, Option<String>)) -> Scope<'_> {
        Scope::new(s.0.as_deref(), s.1.as_deref(), s.2.as_deref())
    }

    proptest! {
        /// city ⊇ district ⊇ street: whatever a street covers, its district covers, and
        /// whatever a district covers, the city covers.
        #[test]
        fn covers_is_monotone(d in name(), s in name(), item in scope()) {
            let item = as_scope(&item);
            let st = street(&d, &s);
            let di = district(&d);
            prop_assert!(!st.covers(&item) || di.covers(&item));
            prop_assert!(!di.covers(&item) || Jurisdiction::City.covers(&item));
            prop_assert!(st.within(&di) && di.within(&Jurisdiction::City));
        }

        /// `a.within(b)` exactly when every scope `a` covers, `b` covers (checked over
        /// every scope built from the same small alphabet, which includes every
        /// distinguishing case).
        #[test]
        fn within_is_inclusion_of_covers(a in jurisdiction(), b in jurisdiction()) {
            let names = [None, Some("A"), Some("B"), Some("a"), Some("C ")];
            let mut included = true;
            for d in names {
                for s in names {
                    for e in names {
                        let item = Scope::new(d, s, e);
                        if a.covers(&item) && !b.covers(&item) {
                            included = false;
                        }
                    }
                }
            }
            prop_assert_eq!(a.within(&b), included, "{:?} within {:?}", a, b);
        }

        /// `covers` is the same as matching every field of `constraints` exactly.
        #[test]
        fn covers_is_matching_the_constraints(j in jurisdiction(), item in scope()) {
            let item = as_scope(&item);
            let c = j.constraints();
            let matches = |want: Option<&str>, have: Option<&str>| want.is_none() || want == have;
            prop_assert_eq!(
                j.covers(&item),
                matches(c.district, item.district)
                    && matches(c.street, item.street)
                    && matches(c.enterprise_id, item.enterprise_id)
            );
        }

        /// A jurisdiction survives its JSON form.
        #[test]
        fn jurisdiction_round_trips(j in jurisdiction()) {
            let json = serde_json::to_string(&j).unwrap();
            prop_assert_eq!(serde_json::from_str::<Jurisdiction>(&json).unwrap(), j);
        }
    }
}
