//! The inventory's types: what a client sends ([`CameraInput`]), what it gets back
//! ([`Camera`]), and the validation between the two.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use watchpost_config::{REDACTED, RtspTransport, Secret, SecretUrl};

use super::InventoryError;

/// What a camera id may contain; it becomes part of stream paths and URLs (the same rule
/// as camera names in the configuration file).
pub const CAMERA_ID_RULE: &str = watchpost_config::CAMERA_NAME_RULE;

/// Longest name, in characters.
const MAX_NAME: usize = 200;
/// Longest enterprise id, district, street, vendor, model, firmware or user name.
const MAX_SHORT: usize = 128;
/// Longest tag, in characters.
const MAX_TAG: usize = 64;
/// Most tags per camera.
const MAX_TAGS: usize = 32;
/// Longest URL, in bytes.
const MAX_URL: usize = 2048;
/// Longest password, in bytes.
const MAX_PASSWORD: usize = 256;
/// How much of a rejected value a reason quotes.
const QUOTE_MAX: usize = 40;
/// Highest camera number ([`Camera::number`]); numbers run from 1 to this.
pub const MAX_CAMERA_NUMBER: u32 = 99_999;

/// A camera's stable identifier: 1 to 64 characters, lowercase ASCII letters, digits, `-`
/// and `_`, starting with a letter or digit ([`CAMERA_ID_RULE`]).
///
/// Generated as `c` + 12 lowercase hex digits (48 random bits) when a camera is created
/// without one. It never changes: it is the key of other modules' references and the
/// associated data of the camera's sealed credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct CameraId(String);

impl CameraId {
    /// Checks `text` against [`CAMERA_ID_RULE`]; the error is the reason, quoting `text`.
    pub fn parse(text: &str) -> Result<CameraId, String> {
        let mut chars = text.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ok = first_ok
            && text.len() <= 64
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(CameraId(text.to_owned()))
        } else {
            Err(format!(
                "{} is not a valid camera id: {CAMERA_ID_RULE}",
                quote(text)
            ))
        }
    }

    /// A fresh random id, `c` + 12 lowercase hex digits.
    pub fn generate() -> Result<CameraId, InventoryError> {
        let mut bytes = [0u8; 6];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| InventoryError::Random {
            action: "generating a camera id",
        })?;
        let mut id = String::with_capacity(13);
        id.push('c');
        for b in bytes {
            id.push_str(&format!("{b:02x}"));
        }
        Ok(CameraId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stream hub path of the main stream, `cam/<id>/main`.
    pub fn main_path(&self) -> String {
        format!("cam/{}/main", self.0)
    }

    /// The stream hub path of the sub stream, `cam/<id>/sub`.
    pub fn sub_path(&self) -> String {
        format!("cam/{}/sub", self.0)
    }
}

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CameraId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for CameraId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CameraId::parse(s)
    }
}

impl<'de> Deserialize<'de> for CameraId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CameraId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What kind of high-risk site a camera watches. Serialized in snake_case
/// (`gas_station`, …, `other`).
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
pub enum SiteCategory {
    /// `gas_station`
    GasStation,
    /// `oil_depot`
    OilDepot,
    /// `tailings_pond`
    TailingsPond,
    /// `fireworks_warehouse`
    FireworksWarehouse,
    /// `fireworks_retail`: a fireworks retail outlet.
    FireworksRetail,
    /// `other`
    Other,
}

impl SiteCategory {
    /// Every category, in declaration order.
    pub const ALL: [SiteCategory; 6] = [
        SiteCategory::GasStation,
        SiteCategory::OilDepot,
        SiteCategory::TailingsPond,
        SiteCategory::FireworksWarehouse,
        SiteCategory::FireworksRetail,
        SiteCategory::Other,
    ];

    /// The serialized name, e.g. `"gas_station"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteCategory::GasStation => "gas_station",
            SiteCategory::OilDepot => "oil_depot",
            SiteCategory::TailingsPond => "tailings_pond",
            SiteCategory::FireworksWarehouse => "fireworks_warehouse",
            SiteCategory::FireworksRetail => "fireworks_retail",
            SiteCategory::Other => "other",
        }
    }

    /// `"gas_station, oil_depot, …, other"`, for error messages.
    pub fn allowed() -> String {
        SiteCategory::ALL
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for SiteCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SiteCategory {
    type Err = String;
    /// Parses the serialized name; the error names the allowed values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SiteCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown category {}: expected one of {}",
                    quote(s),
                    SiteCategory::allowed()
                )
            })
    }
}

/// A WGS-84 position in decimal degrees: `lon` in -180..=180 (east positive), `lat` in
/// -90..=90 (north positive). Both finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CameraPosition)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

/// The administrative division responsible for a camera's site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CameraDivision)]
#[serde(default, deny_unknown_fields)]
pub struct Division {
    /// District (required, 1 to 128 characters).
    pub district: String,
    /// Street (sub-district), if assigned.
    pub street: Option<String>,
}

/// The user name and password a camera's RTSP and ONVIF services accept.
///
/// `Debug` shows the user name and `[redacted]` for the password; there is no
/// `Serialize`: credentials leave the inventory only through
/// [`super::Inventory::credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// User name (1 to 128 characters).
    pub username: String,
    /// Password (may be empty, at most 256 bytes).
    #[schema(value_type = String, format = Password)]
    pub password: Secret,
}

/// What an input does to a camera's stored credentials (see the module documentation).
///
/// In JSON: field absent → [`Keep`](Self::Keep), `null` → [`Clear`](Self::Clear), an
/// object `{"username", "password"}` → [`Set`](Self::Set). On create, `Keep` and `Clear`
/// both mean "no credentials".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CredentialsChange {
    /// Leave the stored credentials as they are.
    #[default]
    Keep,
    /// Remove the stored credentials.
    Clear,
    /// Store these credentials.
    Set(Credentials),
}

impl CredentialsChange {
    fn deserialize_present<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Credentials>::deserialize(d)? {
            None => CredentialsChange::Clear,
            Some(c) => CredentialsChange::Set(c),
        })
    }
}

/// A camera as a client sends it: an API body (JSON), or one import row.
///
/// Decoding only checks the JSON shape (unknown fields are errors); everything else —
/// required fields, ranges, URL schemes, the category and transport names — is checked by
/// [`CameraInput::validate`], which reports every problem at once. That is why the
/// category and transport are text here and typed in [`ValidCamera`].
///
/// Required: `name`, `category`, `division.district`, and `onvif_url` or `main_url`.
/// Defaults: `transport` `"tcp"`, `enabled` `true`, no tags, credentials kept, `number`
/// assigned on create and kept on update.
/// `Debug` redacts the password and any password in the URLs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CameraInput {
    /// The id; generated on create when absent. On update, absent or equal to the id
    /// being updated.
    pub id: Option<String>,
    /// The camera number operators type on the wall (1 to 99999, unique across the
    /// inventory; see [`Camera::number`]). Absent (or `null`) on create: the inventory
    /// assigns one. Absent (or `null`) on update: the camera keeps its number.
    #[schema(minimum = 1, maximum = 99999)]
    pub number: Option<i64>,
    /// Name shown on the wall (1 to 200 characters).
    pub name: String,
    /// Site category, one of [`SiteCategory`]'s names.
    pub category: String,
    /// The business-data ledger's key of the enterprise operating the site.
    pub enterprise_id: Option<String>,
    /// District and street.
    pub division: Division,
    /// WGS-84 position.
    pub position: Option<Position>,
    /// Manufacturer.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// The ONVIF device service, `http://host[:port]/onvif/device_service`.
    #[schema(value_type = Option<String>)]
    pub onvif_url: Option<SecretUrl>,
    /// Main stream, `rtsp://`, without user name or password.
    #[schema(value_type = Option<String>)]
    pub main_url: Option<SecretUrl>,
    /// Sub stream, `rtsp://`; needs `main_url`.
    #[schema(value_type = Option<String>)]
    pub sub_url: Option<SecretUrl>,
    /// `"tcp"` (default) or `"udp"`.
    pub transport: Option<String>,
    /// What to do with the stored credentials (see [`CredentialsChange`]).
    #[serde(deserialize_with = "CredentialsChange::deserialize_present")]
    #[schema(value_type = Option<Credentials>, default)]
    pub credentials: CredentialsChange,
    /// Free labels (each 1 to 64 characters, no `;`; at most 32; duplicates dropped).
    pub tags: Vec<String>,
    /// Whether the hub may pull the camera (default `true`).
    pub enabled: Option<bool>,
}

/// A [`CameraInput`] that passed validation: trimmed, typed, empty optionals as `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCamera {
    /// The id given, if any.
    pub id: Option<CameraId>,
    /// The number given (1 to [`MAX_CAMERA_NUMBER`]), if any.
    pub number: Option<u32>,
    /// Name.
    pub name: String,
    /// Site category.
    pub category: SiteCategory,
    /// Enterprise id.
    pub enterprise_id: Option<String>,
    /// District and street.
    pub division: Division,
    /// Position.
    pub position: Option<Position>,
    /// Manufacturer.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Firmware.
    pub firmware: Option<String>,
    /// ONVIF device service URL (no credentials in it).
    pub onvif_url: Option<String>,
    /// Main stream URL (no credentials in it).
    pub main_url: Option<String>,
    /// Sub stream URL (no credentials in it).
    pub sub_url: Option<String>,
    /// RTP transport.
    pub transport: RtspTransport,
    /// What to do with the stored credentials.
    pub credentials: CredentialsChange,
    /// Tags, trimmed, in input order, without duplicates.
    pub tags: Vec<String>,
    /// Enabled.
    pub enabled: bool,
}

/// How RTP travels from a camera, as the API names it (the OpenAPI face of
/// [`RtspTransport`], which lives in the config crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RtspTransport)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    /// Interleaved in the RTSP TCP connection.
    Tcp,
    /// RTP/RTCP over UDP.
    Udp,
}

/// A camera as the inventory stores and the API returns it. Never holds credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Camera {
    /// Id.
    pub id: CameraId,
    /// The camera number operators type to put the camera on a wall tile: 1 to 99999,
    /// unique across the inventory, fixed (it changes only when a client sets another).
    /// Assigned on create when the input has none: one above the highest number in use,
    /// or, when 99999 is in use, the lowest free number. Cameras that existed before
    /// numbers were introduced were numbered 1, 2, 3, ... in creation order.
    #[schema(minimum = 1, maximum = 99999)]
    pub number: u32,
    /// Name.
    pub name: String,
    /// Site category.
    pub category: SiteCategory,
    /// Enterprise id (business-data ledger key).
    pub enterprise_id: Option<String>,
    /// District and street.
    pub division: Division,
    /// WGS-84 position.
    pub position: Option<Position>,
    /// Manufacturer.
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Firmware.
    pub firmware: Option<String>,
    /// ONVIF device service URL.
    pub onvif_url: Option<String>,
    /// Main stream URL (never with credentials).
    pub main_url: Option<String>,
    /// Sub stream URL (never with credentials).
    pub sub_url: Option<String>,
    /// RTP transport.
    #[schema(value_type = TransportName)]
    pub transport: RtspTransport,
    /// Whether credentials are stored (they are never shown).
    pub credentials_set: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether the hub may pull the camera.
    pub enabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Last update time, Unix milliseconds.
    pub updated_ms: i64,
    /// Write counter: 1 after create, +1 per update.
    pub revision: i64,
}

impl From<&Camera> for CameraInput {
    /// The input that writes `camera` back unchanged (credentials kept).
    fn from(camera: &Camera) -> CameraInput {
        CameraInput {
            id: Some(camera.id.to_string()),
            number: Some(i64::from(camera.number)),
            name: camera.name.clone(),
            category: camera.category.as_str().to_owned(),
            enterprise_id: camera.enterprise_id.clone(),
            division: camera.division.clone(),
            position: camera.position,
            vendor: camera.vendor.clone(),
            model: camera.model.clone(),
            firmware: camera.firmware.clone(),
            onvif_url: camera.onvif_url.clone().map(SecretUrl::new),
            main_url: camera.main_url.clone().map(SecretUrl::new),
            sub_url: camera.sub_url.clone().map(SecretUrl::new),
            transport: Some(transport_name(camera.transport).to_owned()),
            credentials: CredentialsChange::Keep,
            tags: camera.tags.clone(),
            enabled: Some(camera.enabled),
        }
    }
}

/// One invalid field: its path in the input (`name`, `position.lon`, `credentials.password`,
/// `tags[2]`) and why. The reason may quote the rejected value, except for URLs, user
/// names and passwords, which it never quotes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CameraFieldError)]
pub struct FieldError {
    /// Field path.
    pub field: String,
    /// What is wrong, in words an operator can act on.
    pub reason: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// `"tcp"` or `"udp"`.
pub(crate) fn transport_name(t: RtspTransport) -> &'static str {
    match t {
        RtspTransport::Tcp => "tcp",
        RtspTransport::Udp => "udp",
    }
}

pub(crate) fn parse_transport(text: &str) -> Option<RtspTransport> {
    match text {
        "tcp" => Some(RtspTransport::Tcp),
        "udp" => Some(RtspTransport::Udp),
        _ => None,
    }
}

/// `value` in double quotes, cut to [`QUOTE_MAX`] characters.
pub(crate) fn quote(value: &str) -> String {
    if value.chars().count() > QUOTE_MAX {
        let cut: String = value.chars().take(QUOTE_MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{value:?}")
    }
}

/// Replaces every occurrence of `password` in the reasons with `[redacted]`: a value in
/// the wrong field (a shifted CSV column) must not carry a password into a report.
/// Passwords shorter than 4 characters are left alone: they cannot be told apart from the
/// words of the message (and guessing them needs no report).
pub(crate) fn scrub(reasons: &mut [FieldError], password: Option<&str>) {
    let Some(password) = password.filter(|p| p.chars().count() >= 4) else {
        return;
    };
    for e in reasons {
        if e.reason.contains(password) {
            e.reason = e.reason.replace(password, REDACTED);
        }
    }
}

impl CameraInput {
    /// Checks every field and returns the typed camera, or every problem found.
    ///
    /// Reasons never contain the password (see [`FieldError`]).
    pub fn validate(&self) -> Result<ValidCamera, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, reason: String| errors.push(FieldError::new(field, reason));

        let id = match self.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => match CameraId::parse(text) {
                Ok(id) => Some(id),
                Err(reason) => {
                    bad("id", reason);
                    None
                }
            },
        };
        let number = match self.number {
            None => None,
            Some(n) => match u32::try_from(n) {
                Ok(n) if (1..=MAX_CAMERA_NUMBER).contains(&n) => Some(n),
                _ => {
                    bad(
                        "number",
                        format!("expected a camera number from 1 to {MAX_CAMERA_NUMBER}, got {n}"),
                    );
                    None
                }
            },
        };
        let name = required_text(&mut bad, "name", &self.name, MAX_NAME);
        let category = match self.category.trim() {
            "" => {
                bad(
                    "category",
                    format!("required: one of {}", SiteCategory::allowed()),
                );
                None
            }
            text => match text.parse::<SiteCategory>() {
                Ok(c) => Some(c),
                Err(reason) => {
                    bad("category", reason);
                    None
                }
            },
        };
        let enterprise_id = optional_text(
            &mut bad,
            "enterprise_id",
            self.enterprise_id.as_deref(),
            MAX_SHORT,
        );
        let district = required_text(
            &mut bad,
            "division.district",
            &self.division.district,
            MAX_SHORT,
        );
        let street = optional_text(
            &mut bad,
            "division.street",
            self.division.street.as_deref(),
            MAX_SHORT,
        );
        if let Some(p) = self.position {
            if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) {
                bad(
                    "position.lon",
                    format!(
                        "expected a longitude from -180 to 180 degrees, got {}",
                        p.lon
                    ),
                );
            }
            if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) {
                bad(
                    "position.lat",
                    format!("expected a latitude from -90 to 90 degrees, got {}", p.lat),
                );
            }
        }
        let vendor = optional_text(&mut bad, "vendor", self.vendor.as_deref(), MAX_SHORT);
        let model = optional_text(&mut bad, "model", self.model.as_deref(), MAX_SHORT);
        let firmware = optional_text(&mut bad, "firmware", self.firmware.as_deref(), MAX_SHORT);

        let onvif_url = optional_url(
            &mut bad,
            "onvif_url",
            self.onvif_url.as_ref(),
            UrlKind::Onvif,
        );
        let main_url = optional_url(&mut bad, "main_url", self.main_url.as_ref(), UrlKind::Rtsp);
        let sub_url = optional_url(&mut bad, "sub_url", self.sub_url.as_ref(), UrlKind::Rtsp);
        let given = |u: Option<&SecretUrl>| u.is_some_and(|u| !u.expose().trim().is_empty());
        if !given(self.onvif_url.as_ref()) && !given(self.main_url.as_ref()) {
            bad(
                "main_url",
                "required: give main_url (rtsp://…) or onvif_url (http://…), or both".into(),
            );
        }
        if given(self.sub_url.as_ref()) && !given(self.main_url.as_ref()) {
            bad("sub_url", "a sub stream needs a main_url".into());
        }

        let transport = match self.transport.as_deref().map(str::trim) {
            None | Some("") => Some(RtspTransport::Tcp),
            Some(text) => {
                let parsed = parse_transport(text);
                if parsed.is_none() {
                    bad(
                        "transport",
                        format!("unknown transport {}: expected tcp or udp", quote(text)),
                    );
                }
                parsed
            }
        };

        let credentials = match &self.credentials {
            CredentialsChange::Set(c) => {
                let username = c.username.trim();
                if username.is_empty() {
                    bad(
                        "credentials.username",
                        "required with a password (an empty user name)".into(),
                    );
                } else if username.chars().count() > MAX_SHORT {
                    bad(
                        "credentials.username",
                        format!("at most {MAX_SHORT} characters"),
                    );
                } else if username.chars().any(char::is_control) {
                    bad(
                        "credentials.username",
                        "must not contain control characters".into(),
                    );
                }
                if c.password.expose().len() > MAX_PASSWORD {
                    bad(
                        "credentials.password",
                        format!("at most {MAX_PASSWORD} bytes"),
                    );
                }
                CredentialsChange::Set(Credentials {
                    username: username.to_owned(),
                    password: c.password.clone(),
                })
            }
            other => other.clone(),
        };

        let mut tags: Vec<String> = Vec::new();
        for (i, tag) in self.tags.iter().enumerate() {
            let field = format!("tags[{i}]");
            let tag = tag.trim();
            if tag.is_empty() {
                bad(&field, "must not be empty".into());
            } else if tag.chars().count() > MAX_TAG {
                bad(&field, format!("at most {MAX_TAG} characters"));
            } else if tag.contains(';') || tag.chars().any(char::is_control) {
                bad(
                    &field,
                    format!("{} must not contain ';' or control characters", quote(tag)),
                );
            } else if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        if tags.len() > MAX_TAGS {
            bad(
                "tags",
                format!("at most {MAX_TAGS} tags, got {}", tags.len()),
            );
        }

        let password = match &self.credentials {
            CredentialsChange::Set(c) => Some(c.password.expose()),
            _ => None,
        };
        scrub(&mut errors, password);

        match (name, category, district, transport) {
            (Some(name), Some(category), Some(district), Some(transport)) if errors.is_empty() => {
                Ok(ValidCamera {
                    id,
                    number,
                    name,
                    category,
                    enterprise_id,
                    division: Division { district, street },
                    position: self.position,
                    vendor,
                    model,
                    firmware,
                    onvif_url,
                    main_url,
                    sub_url,
                    transport,
                    credentials,
                    tags,
                    enabled: self.enabled.unwrap_or(true),
                })
            }
            _ => Err(errors),
        }
    }
}

/// Trimmed, non-empty, at most `max` characters, no control characters.
fn required_text(
    bad: &mut impl FnMut(&str, String),
    field: &str,
    value: &str,
    max: usize,
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        bad(field, "required".into());
        return None;
    }
    checked_text(bad, field, value, max)
}

/// Like [`required_text`], but empty means `None`.
fn optional_text(
    bad: &mut impl FnMut(&str, String),
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    checked_text(bad, field, value, max)
}

fn checked_text(
    bad: &mut impl FnMut(&str, String),
    field: &str,
    value: &str,
    max: usize,
) -> Option<String> {
    let count = value.chars().count();
    if count > max {
        bad(field, format!("at most {max} characters, got {count}"));
        None
    } else if value.chars().any(char::is_control) {
        bad(field, "must not contain control characters".into());
        None
    } else {
        Some(value.to_owned())
    }
}

#[derive(Clone, Copy)]
enum UrlKind {
    /// `http://` (`https://` is refused: the ONVIF client speaks plain HTTP only, so such a
    /// camera could never be reached).
    Onvif,
    /// `rtsp://` (`rtsps://` is refused: the RTSP client, retina, has no TLS, and a camera
    /// stored with such a URL could never play).
    Rtsp,
}

/// Checks a URL without ever quoting it (it may hold a password).
fn optional_url(
    bad: &mut impl FnMut(&str, String),
    field: &str,
    value: Option<&SecretUrl>,
    kind: UrlKind,
) -> Option<String> {
    let text = value.map(|u| u.expose().trim()).filter(|t| !t.is_empty())?;
    let (schemes, example): (&[&str], &str) = match kind {
        UrlKind::Onvif => (&["http"], "http://192.0.2.10/onvif/device_service"),
        UrlKind::Rtsp => (&["rtsp"], "rtsp://192.0.2.10:554/stream1"),
    };
    if text.len() > MAX_URL {
        bad(field, format!("at most {MAX_URL} bytes"));
        return None;
    }
    let parsed = match url::Url::parse(text) {
        Ok(p) => p,
        Err(e) => {
            bad(field, format!("expected a URL like {example:?} ({e})"));
            return None;
        }
    };
    if !schemes.contains(&parsed.scheme()) {
        bad(
            field,
            format!(
                "expected a {}:// URL like {example:?} (this build has no TLS for cameras)",
                schemes.join(":// or ")
            ),
        );
        return None;
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        bad(field, "the URL has no host".into());
        return None;
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        bad(
            field,
            "must not carry a user name or password (user:password@host): give them as the \
             camera's credentials (username and password) instead"
                .into(),
        );
        return None;
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bad(
            field,
            "must not contain spaces or control characters".into(),
        );
        return None;
    }
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> CameraInput {
        CameraInput {
            name: "Gas station 7".into(),
            category: "gas_station".into(),
            division: Division {
                district: "North".into(),
                street: None,
            },
            main_url: Some(SecretUrl::new("rtsp://192.0.2.7/main")),
            ..CameraInput::default()
        }
    }

    #[test]
    fn ids() {
        for ok in ["a", "gas-01", "7_x", &"x".repeat(64)] {
            assert!(CameraId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(CameraId::parse(bad).is_err(), "{bad}");
        }
        let id = CameraId::generate().unwrap();
        assert_eq!(id.as_str().len(), 13);
        assert!(id.as_str().starts_with('c'));
        assert!(CameraId::parse(id.as_str()).is_ok());
        assert_ne!(id, CameraId::generate().unwrap());
        assert_eq!(id.main_path(), format!("cam/{id}/main"));
    }

    #[test]
    fn defaults_and_normalisation() {
        let mut input = good();
        input.tags = vec![" a ".into(), "b".into(), "a".into()];
        input.vendor = Some("  ".into());
        let v = input.validate().unwrap();
        assert_eq!(v.transport, RtspTransport::Tcp);
        assert!(v.enabled);
        assert_eq!(v.tags, ["a", "b"]);
        assert_eq!(v.vendor, None);
        assert_eq!(v.credentials, CredentialsChange::Keep);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = CameraInput {
            id: Some("Bad Id".into()),
            number: Some(100_000),
            category: "gas-station".into(),
            position: Some(Position {
                lon: 200.0,
                lat: f64::NAN,
            }),
            main_url: Some(SecretUrl::new("rtsp://admin:hunter2@192.0.2.7/main")),
            sub_url: Some(SecretUrl::new("http://192.0.2.7/sub")),
            transport: Some("sctp".into()),
            credentials: CredentialsChange::Set(Credentials {
                username: " ".into(),
                password: Secret::new("hunter2"),
            }),
            tags: vec!["".into(), "a;b".into()],
            ..CameraInput::default()
        };
        let errors = input.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "id",
                "number",
                "name",
                "category",
                "division.district",
                "position.lon",
                "position.lat",
                "main_url",
                "sub_url",
                "transport",
                "credentials.username",
                "tags[0]",
                "tags[1]"
            ],
            "{errors:#?}"
        );
        assert!(
            errors[1].reason.contains("1 to 99999"),
            "{}",
            errors[1].reason
        );
        let category = &errors[3].reason;
        assert!(
            category.contains("\"gas-station\"") && category.contains(&SiteCategory::allowed()),
            "{category}"
        );
        assert!(errors[7].reason.contains("user name or password"));
        let all = format!("{errors:?}");
        assert!(!all.contains("hunter2"), "{all}");
        assert!(!format!("{input:?}").contains("hunter2"));
    }

    #[test]
    fn numbers_run_from_1_to_99999() {
        for (given, expected) in [
            (None, None),
            (Some(1), Some(1)),
            (Some(99_999), Some(99_999)),
        ] {
            let input = CameraInput {
                number: given,
                ..good()
            };
            assert_eq!(input.validate().unwrap().number, expected, "{given:?}");
        }
        for bad in [0, -1, 100_000, i64::from(u32::MAX) + 1] {
            let input = CameraInput {
                number: Some(bad),
                ..good()
            };
            let errors = input.validate().unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, "number");
            assert!(errors[0].reason.contains(&bad.to_string()), "{errors:?}");
        }
        let json: CameraInput = serde_json::from_str(r#"{"number": 7}"#).unwrap();
        assert_eq!(json.number, Some(7));
        let null: CameraInput = serde_json::from_str(r#"{"number": null}"#).unwrap();
        assert_eq!(null.number, None);
    }

    #[test]
    fn onvif_alone_is_enough_but_nothing_is_not() {
        let mut input = good();
        input.main_url = None;
        let errors = input.validate().unwrap_err();
        assert_eq!(errors[0].field, "main_url");
        input.onvif_url = Some(SecretUrl::new("http://192.0.2.7/onvif/device_service"));
        assert!(input.validate().is_ok());
        input.onvif_url = Some(SecretUrl::new("rtsp://192.0.2.7/onvif/device_service"));
        assert_eq!(input.validate().unwrap_err()[0].field, "onvif_url");
    }

    #[test]
    fn a_password_in_another_field_is_scrubbed() {
        let mut input = good();
        input.category = "s3cret-pw".into();
        input.credentials = CredentialsChange::Set(Credentials {
            username: "admin".into(),
            password: Secret::new("s3cret-pw"),
        });
        let errors = input.validate().unwrap_err();
        assert!(!format!("{errors:?}").contains("s3cret-pw"));
        assert!(errors[0].reason.contains(REDACTED));
    }

    #[test]
    fn json_credentials_tri_state() {
        let keep: CameraInput = serde_json::from_str(r#"{"name": "x"}"#).unwrap();
        assert_eq!(keep.credentials, CredentialsChange::Keep);
        let clear: CameraInput = serde_json::from_str(r#"{"credentials": null}"#).unwrap();
        assert_eq!(clear.credentials, CredentialsChange::Clear);
        let set: CameraInput =
            serde_json::from_str(r#"{"credentials": {"username": "u", "password": 1234}}"#)
                .unwrap();
        assert_eq!(
            set.credentials,
            CredentialsChange::Set(Credentials {
                username: "u".into(),
                password: Secret::new("1234")
            })
        );
        assert!(serde_json::from_str::<CameraInput>(r#"{"nam": "x"}"#).is_err());
    }

    #[test]
    fn camera_round_trips_to_input() {
        let v = good().validate().unwrap();
        let camera = Camera {
            id: CameraId::parse("gas-7").unwrap(),
            number: 42,
            name: v.name,
            category: v.category,
            enterprise_id: None,
            division: v.division,
            position: Some(Position { lon: 1.5, lat: 2.5 }),
            vendor: None,
            model: None,
            firmware: None,
            onvif_url: None,
            main_url: v.main_url,
            sub_url: None,
            transport: RtspTransport::Udp,
            credentials_set: true,
            tags: vec!["t".into()],
            enabled: false,
            created_ms: 1,
            updated_ms: 2,
            revision: 3,
        };
        let again = CameraInput::from(&camera).validate().unwrap();
        assert_eq!(again.id.as_ref(), Some(&camera.id));
        assert_eq!(again.number, Some(42));
        assert_eq!(again.transport, RtspTransport::Udp);
        assert!(!again.enabled);
        assert_eq!(again.credentials, CredentialsChange::Keep);
        let json = serde_json::to_value(&camera).unwrap();
        assert_eq!(json["category"], "gas_station");
        assert_eq!(json["transport"], "udp");
        assert_eq!(json["number"], 42);
        assert_eq!(json["position"]["lon"], 1.5);
    }
}
