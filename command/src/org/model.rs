//! The organisation's types: what clients send (`*Input`), what they get back, and the
//! validation between the two (see the module documentation for the vocabulary).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::credit_code::CreditCode;
use crate::domain::{FieldError, ID_RULE, Position, UnitId, UnixMs, id_type, valid_id};

/// Longest name, in characters.
pub(crate) const MAX_NAME: usize = 200;
/// Longest district, street, substance, quantity unit or plate, in characters.
pub(crate) const MAX_SHORT: usize = 128;
/// Longest address, in characters.
pub(crate) const MAX_ADDRESS: usize = 500;
/// Most hazard sources per enterprise.
pub(crate) const MAX_HAZARD_SOURCES: usize = 200;
/// Most contacts per enterprise.
pub(crate) const MAX_CONTACTS: usize = 50;
/// Most skills per unit.
pub(crate) const MAX_SKILLS: usize = 32;
/// Longest skill, in characters.
pub(crate) const MAX_SKILL: usize = 64;
/// Largest rescue team.
pub(crate) const MAX_MEMBERS: i64 = 100_000;
/// Longest phone number, in characters.
const MAX_PHONE: usize = 32;
/// Longest vehicle plate, in characters.
const MAX_PLATE: usize = 16;
pub(crate) use crate::domain::quote;

id_type!(
    /// A command centre's identifier, chosen when it is created (`bj-chaoyang`).
    CentreId,
    "centre id"
);
id_type!(
    /// An enterprise's key in the business-data ledger (`E-110105-0001`: in the sample,
    /// `E-`, the district's GB/T 2260 code and a sequence number; other ledgers may use
    /// other forms within [`ID_RULE`]).
    LedgerId,
    "ledger id"
);

/// A closed set of snake_case names (the enumerations of this module).
pub(crate) trait Vocabulary: Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// What the set is called in messages ("unit kind").
    const WHAT: &'static str;
    /// The serialized name.
    fn name(self) -> &'static str;
    /// `"a, b, c"`, for messages.
    fn allowed() -> String {
        Self::ALL
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
    /// Parses a serialized name; the error quotes `text` and names the allowed values.
    fn parse_name(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == text)
            .ok_or_else(|| {
                format!(
                    "unknown {} {}: expected one of {}",
                    Self::WHAT,
                    quote(text),
                    Self::allowed()
                )
            })
    }
}

macro_rules! vocabulary {
    (
        $(#[$doc:meta])* $name:ident, $what:literal {
            $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The serialized (snake_case) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The allowed names, comma-separated, for messages.
            pub fn allowed() -> String {
                <$name as Vocabulary>::allowed()
            }
        }

        impl Vocabulary for $name {
            const ALL: &'static [$name] = $name::ALL;
            const WHAT: &'static str = $what;
            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            /// Parses the serialized name; the error names the allowed values.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as Vocabulary>::parse_name(s)
            }
        }
    };
}

vocabulary!(
    /// A command centre's level in the hierarchy.
    CentreLevel, "centre level" {
        /// `city`: the city bureau's command centre; no parent.
        City = "city",
        /// `district`: a district bureau's centre; its parent is the city centre.
        District = "district",
        /// `street`: a street (sub-district, town) office; its parent is its district's
        /// centre.
        Street = "street",
    }
);

impl CentreLevel {
    /// The level a centre of this level has as parent (`None` for the city).
    pub fn parent(self) -> Option<CentreLevel> {
        match self {
            CentreLevel::City => None,
            CentreLevel::District => Some(CentreLevel::City),
            CentreLevel::Street => Some(CentreLevel::District),
        }
    }
}

vocabulary!(
    /// What a unit is.
    UnitKind, "unit kind" {
        /// `rescue_team`: a team of responders (has `members`).
        RescueTeam = "rescue_team",
        /// `expert`: one specialist consulted or sent to the scene.
        Expert = "expert",
        /// `vehicle`: a vehicle (has a `plate`).
        Vehicle = "vehicle",
        /// `equipment_depot`: a store of rescue equipment and materials.
        EquipmentDepot = "equipment_depot",
    }
);

vocabulary!(
    /// Whether a unit can be dispatched.
    Availability, "availability" {
        /// `available`: ready to be dispatched now.
        Available = "available",
        /// `dispatched`: on a task.
        Dispatched = "dispatched",
        /// `off_duty`: not on shift; can be called in.
        OffDuty = "off_duty",
        /// `unavailable`: out of service (maintenance, illness, …).
        Unavailable = "unavailable",
    }
);

vocabulary!(
    /// What kind of high-risk site an enterprise operates. The names are those of the
    /// camera inventory's site category (`watchpost_devices::inventory::SiteCategory`),
    /// which this crate does not import: keep the two lists equal.
    EnterpriseCategory, "category" {
        /// `gas_station` (加油站).
        GasStation = "gas_station",
        /// `oil_depot` (油库).
        OilDepot = "oil_depot",
        /// `tailings_pond` (尾矿库).
        TailingsPond = "tailings_pond",
        /// `fireworks_warehouse` (烟花爆竹批发仓库).
        FireworksWarehouse = "fireworks_warehouse",
        /// `fireworks_retail`: a fireworks retail outlet (烟花爆竹零售点).
        FireworksRetail = "fireworks_retail",
        /// `other`.
        Other = "other",
    }
);

vocabulary!(
    /// What a hazard source physically is.
    HazardKind, "hazard source kind" {
        /// `storage_tank`: a tank or tank farm (above or under ground).
        StorageTank = "storage_tank",
        /// `warehouse`: a store of packaged hazardous goods.
        Warehouse = "warehouse",
        /// `process_unit`: a production or processing installation.
        ProcessUnit = "process_unit",
        /// `tailings_dam`: a tailings dam and its impoundment.
        TailingsDam = "tailings_dam",
        /// `pipeline`: a pipeline section.
        Pipeline = "pipeline",
        /// `loading_area`: a loading or dispensing area (pump islands, loading racks).
        LoadingArea = "loading_area",
        /// `other`.
        Other = "other",
    }
);

vocabulary!(
    /// What a contact person is to the enterprise.
    ContactRole, "contact role" {
        /// `principal`: the principal person in charge (主要负责人).
        Principal = "principal",
        /// `safety_manager`: the safety manager (安全管理人员).
        SafetyManager = "safety_manager",
        /// `duty_officer`: the 24-hour duty line (值班人员).
        DutyOfficer = "duty_officer",
        /// `other`.
        Other = "other",
    }
);

/// The administrative division responsible for an enterprise (the same shape as the
/// camera inventory's division).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Division {
    /// District (required, 1 to 128 characters), e.g. `Chaoyang`.
    pub district: String,
    /// Street (sub-district or town), if known, e.g. `Jiuxianqiao`.
    pub street: Option<String>,
}

/// Collects the problems of one input.
#[derive(Debug, Default)]
pub(crate) struct Check {
    pub(crate) errors: Vec<FieldError>,
}

impl Check {
    pub(crate) fn bad(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    /// Trimmed, non-empty, at most `max` characters, no control characters.
    fn required(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            self.bad(field, "required");
            return None;
        }
        self.text(field, value, max)
    }

    /// Like [`Check::required`], but blank means absent.
    fn optional(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.text(field, value, max)
    }

    fn text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let count = value.chars().count();
        if count > max {
            self.bad(
                field,
                format!(
                    "at most {max} characters, got {count} (starts {})",
                    quote(value)
                ),
            );
            None
        } else if value.chars().any(char::is_control) {
            self.bad(field, "must not contain control characters");
            None
        } else {
            Some(value.to_owned())
        }
    }

    /// A required name of a [`Vocabulary`].
    fn vocabulary<T: Vocabulary>(&mut self, field: &str, value: &str) -> Option<T> {
        let value = value.trim();
        if value.is_empty() {
            self.bad(field, format!("required: one of {}", T::allowed()));
            return None;
        }
        T::parse_name(value)
            .map_err(|reason| self.bad(field, reason))
            .ok()
    }

    /// An id checked by `parse`; required when `required`, blank means absent otherwise.
    fn id<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        required: bool,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => {
                if required {
                    self.bad(field, "required");
                }
                None
            }
            Some(text) => parse(text).map_err(|reason| self.bad(field, reason)).ok(),
        }
    }

    /// A WGS-84 position: finite, longitude -180..=180, latitude -90..=90.
    fn position(&mut self, field: &str, position: Option<Position>) -> Option<Position> {
        let p = position?;
        let mut ok = true;
        if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) {
            self.bad(
                format!("{field}.lon"),
                format!("{} is not a longitude: -180 to 180 degrees", p.lon),
            );
            ok = false;
        }
        if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) {
            self.bad(
                format!("{field}.lat"),
                format!("{} is not a latitude: -90 to 90 degrees", p.lat),
            );
            ok = false;
        }
        ok.then_some(p)
    }

    /// A phone number: 3 to 32 characters of digits, spaces, `-`, `(`, `)`, an optional
    /// leading `+`, at least 3 digits.
    fn phone(&mut self, field: &str, value: Option<&str>, required: bool) -> Option<String> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            if required {
                self.bad(field, "required");
            }
            return None;
        };
        let body = value.strip_prefix('+').unwrap_or(value);
        let digits = body.chars().filter(char::is_ascii_digit).count();
        let allowed = body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'));
        if !allowed || digits < 3 || value.chars().count() > MAX_PHONE {
            self.bad(
                field,
                format!(
                    "{} is not a phone number: up to {MAX_PHONE} digits, spaces, '-', '(' and \
                     ')', an optional leading '+', at least 3 digits (e.g. \"010-555-0100\")",
                    quote(value)
                ),
            );
            return None;
        }
        Some(value.to_owned())
    }

    pub(crate) fn finish<T>(self, valid: Option<T>) -> Result<T, Vec<FieldError>> {
        match valid {
            Some(valid) if self.errors.is_empty() => Ok(valid),
            _ => Err(self.errors),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Command centres

/// A command centre as a client sends it (API body or one import row).
///
/// Required: `id` (on create), `name`, `level`; `district` for district and street
/// centres, `street` for street centres; `parent_id` for all but the city centre (see
/// [`CentreLevel`]). A city centre has no district, street or parent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CentreInput {
    /// The id ([`CentreId`]). Required on create; on update absent or the same.
    pub id: Option<String>,
    /// Name (1 to 200 characters).
    pub name: String,
    /// `city`, `district` or `street`.
    pub level: String,
    /// The district it is responsible for (district and street centres).
    pub district: Option<String>,
    /// The street it is responsible for (street centres).
    pub street: Option<String>,
    /// The centre one level up.
    pub parent_id: Option<String>,
    /// The duty phone.
    pub phone: Option<String>,
    /// WGS-84 position.
    pub position: Option<Position>,
}

/// A [`CentreInput`] that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidCentre {
    pub(crate) id: CentreId,
    pub(crate) name: String,
    pub(crate) level: CentreLevel,
    pub(crate) district: Option<String>,
    pub(crate) street: Option<String>,
    pub(crate) parent_id: Option<CentreId>,
    pub(crate) phone: Option<String>,
    pub(crate) position: Option<Position>,
}

impl ValidCentre {
    /// The place a centre holds in the hierarchy: at most one centre per scope (one city
    /// centre, one per district, one per district and street).
    pub(crate) fn scope(&self) -> String {
        let parts: Vec<&str> = match self.level {
            CentreLevel::City => vec!["city"],
            CentreLevel::District => vec!["district", self.district.as_deref().unwrap_or("")],
            CentreLevel::Street => vec![
                "street",
                self.district.as_deref().unwrap_or(""),
                self.street.as_deref().unwrap_or(""),
            ],
        };
        serde_json::to_string(&parts).unwrap_or_default()
    }
}

impl CentreInput {
    /// Every field problem at once. `path_id` is the id being updated (`None` on
    /// create, where `id` is required). The parent's existence and level are the store's
    /// to check.
    pub(crate) fn validate(&self, path_id: Option<&str>) -> Result<ValidCentre, Vec<FieldError>> {
        let mut check = Check::default();
        let id = check_record_id(
            &mut check,
            "id",
            self.id.as_deref(),
            path_id,
            CentreId::parse,
        );
        let name = check.required("name", &self.name, MAX_NAME);
        let level: Option<CentreLevel> = check.vocabulary("level", &self.level);
        let district = check.optional("district", self.district.as_deref(), MAX_SHORT);
        let street = check.optional("street", self.street.as_deref(), MAX_SHORT);
        let parent_id = check.id(
            "parent_id",
            self.parent_id.as_deref(),
            false,
            CentreId::parse,
        );
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
        match level {
            Some(CentreLevel::City) => {
                for (field, value) in [
                    ("district", &self.district),
                    ("street", &self.street),
                    ("parent_id", &self.parent_id),
                ] {
                    if !blank(value) {
                        check.bad(field, format!("a city centre has no {field}"));
                    }
                }
            }
            Some(level) => {
                if blank(&self.district) {
                    check.bad("district", format!("required for a {level} centre"));
                }
                match level {
                    CentreLevel::Street if blank(&self.street) => {
                        check.bad("street", "required for a street centre");
                    }
                    CentreLevel::District if !blank(&self.street) => check.bad(
                        "street",
                        "a district centre has no street (create a street centre under it)",
                    ),
                    _ => {}
                }
                if blank(&self.parent_id) {
                    let parent = level.parent().unwrap_or(CentreLevel::City);
                    check.bad(
                        "parent_id",
                        format!("required for a {level} centre: the id of its {parent} centre"),
                    );
                }
            }
            None => {}
        }
        let phone = check.phone("phone", self.phone.as_deref(), false);
        let position = check.position("position", self.position);
        let valid = match (id, name, level) {
            (Some(id), Some(name), Some(level)) => Some(ValidCentre {
                id,
                name,
                level,
                district,
                street,
                parent_id,
                phone,
                position,
            }),
            _ => None,
        };
        check.finish(valid)
    }
}

/// A command centre as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommandCentre {
    /// Id.
    pub id: CentreId,
    /// Name.
    pub name: String,
    /// Level.
    pub level: CentreLevel,
    /// District (district and street centres).
    pub district: Option<String>,
    /// Street (street centres).
    pub street: Option<String>,
    /// The centre one level up (`None` for the city centre).
    pub parent_id: Option<CentreId>,
    /// Duty phone.
    pub phone: Option<String>,
    /// WGS-84 position.
    pub position: Option<Position>,
    /// Creation time, Unix ms.
    pub created_ms: UnixMs,
    /// Last write, Unix ms.
    pub updated_ms: UnixMs,
    /// Write counter: 1 after create, +1 per update.
    pub revision: i64,
}

impl From<&CommandCentre> for CentreInput {
    /// The input that writes `centre` back unchanged.
    fn from(c: &CommandCentre) -> CentreInput {
        CentreInput {
            id: Some(c.id.to_string()),
            name: c.name.clone(),
            level: c.level.as_str().to_owned(),
            district: c.district.clone(),
            street: c.street.clone(),
            parent_id: c.parent_id.as_ref().map(ToString::to_string),
            phone: c.phone.clone(),
            position: c.position,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Units

/// A unit as a client sends it.
///
/// Required: `id` (on create), `name`, `kind`, `centre_id`. `availability` defaults to
/// `available` on create and is kept on update when absent (it is changed by dispatch,
/// see [`super::Organisation::set_availability`]). `members` only for rescue teams (1 to
/// 100 000), `plate` only for vehicles; `skills` at most 32 of 1 to 64 characters,
/// duplicates dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UnitInput {
    /// The id ([`UnitId`], the id dispatch tasks name). Required on create; on update
    /// absent or the same.
    pub id: Option<String>,
    /// Name (1 to 200 characters).
    pub name: String,
    /// One of [`UnitKind`]'s names.
    pub kind: String,
    /// The centre the unit belongs to.
    pub centre_id: String,
    /// One of [`Availability`]'s names; see above for the default.
    pub availability: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Head count (rescue teams).
    pub members: Option<i64>,
    /// Capabilities, specialities or equipment.
    pub skills: Vec<String>,
    /// Registration plate (vehicles).
    pub plate: Option<String>,
    /// WGS-84 position (the base; live positions are not kept here).
    pub position: Option<Position>,
}

/// A [`UnitInput`] that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidUnit {
    pub(crate) id: UnitId,
    pub(crate) name: String,
    pub(crate) kind: UnitKind,
    pub(crate) centre_id: CentreId,
    pub(crate) availability: Option<Availability>,
    pub(crate) phone: Option<String>,
    pub(crate) members: Option<i64>,
    pub(crate) skills: Vec<String>,
    pub(crate) plate: Option<String>,
    pub(crate) position: Option<Position>,
}

impl UnitInput {
    /// Every field problem at once; `path_id` as for [`CentreInput`]. The centre's
    /// existence is the store's to check.
    pub(crate) fn validate(&self, path_id: Option<&str>) -> Result<ValidUnit, Vec<FieldError>> {
        let mut check = Check::default();
        let id = check_record_id(&mut check, "id", self.id.as_deref(), path_id, UnitId::parse);
        let name = check.required("name", &self.name, MAX_NAME);
        let kind: Option<UnitKind> = check.vocabulary("kind", &self.kind);
        let centre_id = check.id("centre_id", Some(&self.centre_id), true, CentreId::parse);
        let availability = match self.availability.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Availability::from_str(text)
                .map_err(|reason| check.bad("availability", reason))
                .ok(),
        };
        let phone = check.phone("phone", self.phone.as_deref(), false);
        let members = match (self.members, kind) {
            (None, _) => None,
            (Some(_), Some(kind)) if kind != UnitKind::RescueTeam => {
                check.bad(
                    "members",
                    format!("only rescue teams have members (this unit is a {kind})"),
                );
                None
            }
            (Some(n), _) if !(1..=MAX_MEMBERS).contains(&n) => {
                check.bad(
                    "members",
                    format!("{n} is not a head count: 1 to {MAX_MEMBERS}"),
                );
                None
            }
            (Some(n), _) => Some(n),
        };
        let plate = check.optional("plate", self.plate.as_deref(), MAX_PLATE);
        if let (Some(_), Some(kind)) = (&plate, kind)
            && kind != UnitKind::Vehicle
        {
            check.bad(
                "plate",
                format!("only vehicles have a plate (this unit is a {kind})"),
            );
        }
        let skills = check_list(&mut check, "skills", &self.skills, MAX_SKILLS, MAX_SKILL);
        let position = check.position("position", self.position);
        let valid = match (id, name, kind, centre_id) {
            (Some(id), Some(name), Some(kind), Some(centre_id)) => Some(ValidUnit {
                id,
                name,
                kind,
                centre_id,
                availability,
                phone,
                members,
                skills,
                plate,
                position,
            }),
            _ => None,
        };
        check.finish(valid)
    }
}

/// A unit as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unit {
    /// Id.
    pub id: UnitId,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: UnitKind,
    /// The centre it belongs to.
    pub centre_id: CentreId,
    /// Whether it can be dispatched.
    pub availability: Availability,
    /// When the availability last changed (or the unit was created), Unix ms.
    pub availability_ms: UnixMs,
    /// Phone.
    pub phone: Option<String>,
    /// Head count (rescue teams).
    pub members: Option<i64>,
    /// Capabilities, specialities or equipment.
    pub skills: Vec<String>,
    /// Registration plate (vehicles).
    pub plate: Option<String>,
    /// WGS-84 position of its base.
    pub position: Option<Position>,
    /// Creation time, Unix ms.
    pub created_ms: UnixMs,
    /// Last write, Unix ms.
    pub updated_ms: UnixMs,
    /// Write counter: 1 after create, +1 per update or availability change.
    pub revision: i64,
}

impl From<&Unit> for UnitInput {
    /// The input that writes `unit` back unchanged.
    fn from(u: &Unit) -> UnitInput {
        UnitInput {
            id: Some(u.id.to_string()),
            name: u.name.clone(),
            kind: u.kind.as_str().to_owned(),
            centre_id: u.centre_id.to_string(),
            availability: Some(u.availability.as_str().to_owned()),
            phone: u.phone.clone(),
            members: u.members,
            skills: u.skills.clone(),
            plate: u.plate.clone(),
            position: u.position,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Enterprises

/// A hazard source as a client sends it (inside [`EnterpriseInput`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HazardSourceInput {
    /// Id within the enterprise ([`ID_RULE`]), e.g. `T1`; incidents name the hazard
    /// source by ledger id and this id. Required, unique within the enterprise.
    pub id: String,
    /// Name (1 to 200 characters), e.g. "Underground tank farm".
    pub name: String,
    /// One of [`HazardKind`]'s names.
    pub kind: String,
    /// The hazardous substance, e.g. "gasoline", "Class 1.3G fireworks".
    pub substance: Option<String>,
    /// Quantity held (design capacity or inventory), ≥ 0, in `unit`.
    pub quantity: Option<f64>,
    /// The unit of `quantity` (`t`, `m³`, `kg`, …); required with it and only with it.
    pub unit: Option<String>,
    /// A major hazard source (重大危险源, GB 18218-2018 or the tailings-pond rules).
    pub major_hazard: bool,
}

/// A contact as a client sends it (inside [`EnterpriseInput`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ContactInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// One of [`ContactRole`]'s names.
    pub role: String,
    /// Phone (required).
    pub phone: String,
}

/// An enterprise as a client sends it (API body or one ledger import row).
///
/// Required: `ledger_id` (on create), `name`, `credit_code` (checked, see
/// [`CreditCode`]), `category`, `address`, `division.district`. Hazard sources (at most
/// 200) and contacts (at most 50) are written with the enterprise and replace the stored
/// ones on update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EnterpriseInput {
    /// The ledger id ([`LedgerId`]). Required on create; on update absent or the same.
    pub ledger_id: Option<String>,
    /// Registered name (1 to 200 characters).
    pub name: String,
    /// Unified social credit code, 18 characters.
    pub credit_code: String,
    /// One of [`EnterpriseCategory`]'s names.
    pub category: String,
    /// Address (1 to 500 characters).
    pub address: String,
    /// District and street.
    pub division: Division,
    /// WGS-84 position.
    pub position: Option<Position>,
    /// Hazard sources.
    pub hazard_sources: Vec<HazardSourceInput>,
    /// Contacts.
    pub contacts: Vec<ContactInput>,
}

/// One hazard source of an enterprise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HazardSource {
    /// Id within the enterprise.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: HazardKind,
    /// The hazardous substance.
    pub substance: Option<String>,
    /// Quantity, in `unit`.
    pub quantity: Option<f64>,
    /// Unit of `quantity`.
    pub unit: Option<String>,
    /// A major hazard source (重大危险源).
    pub major_hazard: bool,
}

/// One contact person of an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Role.
    pub role: ContactRole,
    /// Phone.
    pub phone: String,
}

/// An [`EnterpriseInput`] that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidEnterprise {
    pub(crate) ledger_id: LedgerId,
    pub(crate) name: String,
    pub(crate) credit_code: CreditCode,
    pub(crate) category: EnterpriseCategory,
    pub(crate) address: String,
    pub(crate) division: Division,
    pub(crate) position: Option<Position>,
    pub(crate) hazard_sources: Vec<HazardSource>,
    pub(crate) contacts: Vec<Contact>,
}

impl EnterpriseInput {
    /// Every field problem at once; `path_id` as for [`CentreInput`].
    pub(crate) fn validate(
        &self,
        path_id: Option<&str>,
    ) -> Result<ValidEnterprise, Vec<FieldError>> {
        let mut check = Check::default();
        let ledger_id = check_record_id(
            &mut check,
            "ledger_id",
            self.ledger_id.as_deref(),
            path_id,
            LedgerId::parse,
        );
        let name = check.required("name", &self.name, MAX_NAME);
        let credit_code = if self.credit_code.trim().is_empty() {
            check.bad(
                "credit_code",
                "required: the 18-character unified social credit code",
            );
            None
        } else {
            CreditCode::parse(&self.credit_code)
                .map_err(|reason| check.bad("credit_code", reason))
                .ok()
        };
        let category: Option<EnterpriseCategory> = check.vocabulary("category", &self.category);
        let address = check.required("address", &self.address, MAX_ADDRESS);
        let district = check.required("division.district", &self.division.district, MAX_SHORT);
        let street = check.optional(
            "division.street",
            self.division.street.as_deref(),
            MAX_SHORT,
        );
        let position = check.position("position", self.position);

        if self.hazard_sources.len() > MAX_HAZARD_SOURCES {
            check.bad(
                "hazard_sources",
                format!(
                    "at most {MAX_HAZARD_SOURCES} hazard sources, got {}",
                    self.hazard_sources.len()
                ),
            );
        }
        let mut hazard_sources = Vec::with_capacity(self.hazard_sources.len());
        // (id, index in the input) of the hazard sources seen so far.
        let mut seen_ids: Vec<(String, usize)> = Vec::new();
        for (i, h) in self.hazard_sources.iter().enumerate() {
            let at = |field: &str| format!("hazard_sources[{i}].{field}");
            let id = check.id(&at("id"), Some(&h.id), true, |t| {
                if valid_id(t) {
                    Ok(t.to_owned())
                } else {
                    Err(format!(
                        "{} is not a valid hazard source id: {ID_RULE}",
                        quote(t)
                    ))
                }
            });
            if let Some(id) = &id {
                if let Some((_, first)) = seen_ids.iter().find(|(known, _)| known == id) {
                    check.bad(
                        at("id"),
                        format!("{} is also the id of hazard_sources[{first}]", quote(id)),
                    );
                } else {
                    seen_ids.push((id.clone(), i));
                }
            }
            let name = check.required(&at("name"), &h.name, MAX_NAME);
            let kind: Option<HazardKind> = check.vocabulary(&at("kind"), &h.kind);
            let substance = check.optional(&at("substance"), h.substance.as_deref(), MAX_SHORT);
            let unit = check.optional(&at("unit"), h.unit.as_deref(), MAX_SHORT);
            let quantity = match h.quantity {
                Some(q) if !(q.is_finite() && q >= 0.0) => {
                    check.bad(at("quantity"), format!("{q} is not a quantity: 0 or more"));
                    None
                }
                q => q,
            };
            match (
                h.quantity.is_some(),
                h.unit.as_deref().is_some_and(|u| !u.trim().is_empty()),
            ) {
                (true, false) => check.bad(
                    at("unit"),
                    "required with quantity: the unit it is counted in (t, m³, kg …)",
                ),
                (false, true) => check.bad(at("quantity"), "required with unit"),
                _ => {}
            }
            if let (Some(id), Some(name), Some(kind)) = (id, name, kind) {
                hazard_sources.push(HazardSource {
                    id,
                    name,
                    kind,
                    substance,
                    quantity,
                    unit,
                    major_hazard: h.major_hazard,
                });
            }
        }

        if self.contacts.len() > MAX_CONTACTS {
            check.bad(
                "contacts",
                format!(
                    "at most {MAX_CONTACTS} contacts, got {}",
                    self.contacts.len()
                ),
            );
        }
        let mut contacts = Vec::with_capacity(self.contacts.len());
        for (i, c) in self.contacts.iter().enumerate() {
            let at = |field: &str| format!("contacts[{i}].{field}");
            let name = check.required(&at("name"), &c.name, MAX_NAME);
            let role: Option<ContactRole> = check.vocabulary(&at("role"), &c.role);
            let phone = check.phone(&at("phone"), Some(&c.phone), true);
            if let (Some(name), Some(role), Some(phone)) = (name, role, phone) {
                contacts.push(Contact { name, role, phone });
            }
        }

        let valid = match (ledger_id, name, credit_code, category, address, district) {
            (
                Some(ledger_id),
                Some(name),
                Some(credit_code),
                Some(category),
                Some(address),
                Some(district),
            ) => Some(ValidEnterprise {
                ledger_id,
                name,
                credit_code,
                category,
                address,
                division: Division { district, street },
                position,
                hazard_sources,
                contacts,
            }),
            _ => None,
        };
        check.finish(valid)
    }
}

/// An enterprise as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Enterprise {
    /// Ledger id.
    pub ledger_id: LedgerId,
    /// Registered name.
    pub name: String,
    /// Unified social credit code.
    pub credit_code: CreditCode,
    /// Category.
    pub category: EnterpriseCategory,
    /// Address.
    pub address: String,
    /// District and street.
    pub division: Division,
    /// WGS-84 position.
    pub position: Option<Position>,
    /// Hazard sources, in input order.
    pub hazard_sources: Vec<HazardSource>,
    /// Contacts, in input order.
    pub contacts: Vec<Contact>,
    /// Creation time, Unix ms.
    pub created_ms: UnixMs,
    /// Last write, Unix ms.
    pub updated_ms: UnixMs,
    /// Write counter: 1 after create, +1 per update.
    pub revision: i64,
}

impl Enterprise {
    /// Whether any of its hazard sources is a major hazard source.
    pub fn has_major_hazard(&self) -> bool {
        self.hazard_sources.iter().any(|h| h.major_hazard)
    }
}

impl From<&Enterprise> for EnterpriseInput {
    /// The input that writes `enterprise` back unchanged.
    fn from(e: &Enterprise) -> EnterpriseInput {
        EnterpriseInput {
            ledger_id: Some(e.ledger_id.to_string()),
            name: e.name.clone(),
            credit_code: e.credit_code.to_string(),
            category: e.category.as_str().to_owned(),
            address: e.address.clone(),
            division: e.division.clone(),
            position: e.position,
            hazard_sources: e
                .hazard_sources
                .iter()
                .map(|h| HazardSourceInput {
                    id: h.id.clone(),
                    name: h.name.clone(),
                    kind: h.kind.as_str().to_owned(),
                    substance: h.substance.clone(),
                    quantity: h.quantity,
                    unit: h.unit.clone(),
                    major_hazard: h.major_hazard,
                })
                .collect(),
            contacts: e
                .contacts
                .iter()
                .map(|c| ContactInput {
                    name: c.name.clone(),
                    role: c.role.as_str().to_owned(),
                    phone: c.phone.clone(),
                })
                .collect(),
        }
    }
}

/// The record id of an input: required on create (`path_id` `None`); on update absent or
/// equal to `path_id` (ids never change), and then `path_id` itself.
fn check_record_id<T>(
    check: &mut Check,
    field: &str,
    given: Option<&str>,
    path_id: Option<&str>,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    let given = given.map(str::trim).filter(|g| !g.is_empty());
    match (given, path_id) {
        (Some(given), Some(path)) if given != path => {
            check.bad(
                field,
                format!(
                    "{} differs from the id being updated, {}: an id never changes",
                    quote(given),
                    quote(path)
                ),
            );
            None
        }
        (_, Some(path)) => check.id(field, Some(path), true, parse),
        (given, None) => check.id(field, given, true, parse),
    }
}

/// A list of short labels: each trimmed, non-empty, at most `max_len` characters; at most
/// `max_items` after dropping duplicates.
fn check_list(
    check: &mut Check,
    field: &str,
    items: &[String],
    max_items: usize,
    max_len: usize,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if let Some(item) = check.required(&at, item, max_len)
            && !out.contains(&item)
        {
            out.push(item);
        }
    }
    if out.len() > max_items {
        check.bad(field, format!("at most {max_items}, got {}", out.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enterprise() -> EnterpriseInput {
        EnterpriseInput {
            ledger_id: Some("E-110105-0001".into()),
            name: "Jiuxianqiao Gas Station".into(),
            credit_code: "91110000802100433B".into(),
            category: "gas_station".into(),
            address: "1 Jiuxianqiao Road".into(),
            division: Division {
                district: "Chaoyang".into(),
                street: Some(" ".into()),
            },
            position: Some(Position {
                lon: 116.4912,
                lat: 39.9703,
            }),
            hazard_sources: vec![HazardSourceInput {
                id: "T1".into(),
                name: "Tank farm".into(),
                kind: "storage_tank".into(),
                quantity: Some(120.0),
                unit: Some("m³".into()),
                ..HazardSourceInput::default()
            }],
            contacts: vec![ContactInput {
                name: "Wang Li".into(),
                role: "principal".into(),
                phone: "010-555-0101".into(),
            }],
        }
    }

    #[test]
    fn a_good_enterprise_is_normalised() {
        let v = enterprise().validate(None).unwrap();
        assert_eq!(v.division.street, None, "blank means absent");
        assert_eq!(v.category, EnterpriseCategory::GasStation);
        assert_eq!(v.hazard_sources[0].kind, HazardKind::StorageTank);
        assert_eq!(v.contacts[0].role, ContactRole::Principal);
        // Update: the id may be left out, or be the same.
        let mut input = enterprise();
        input.ledger_id = None;
        assert_eq!(
            input
                .validate(Some("E-110105-0001"))
                .unwrap()
                .ledger_id
                .as_str(),
            "E-110105-0001"
        );
        input.ledger_id = Some("E-2".into());
        let errors = input.validate(Some("E-110105-0001")).unwrap_err();
        assert_eq!(errors[0].field, "ledger_id");
    }

    #[test]
    fn every_enterprise_problem_is_reported_with_its_path() {
        let input = EnterpriseInput {
            ledger_id: Some("E 1".into()),
            credit_code: "91110000802100433C".into(),
            category: "petrol".into(),
            position: Some(Position {
                lon: 200.0,
                lat: f64::NAN,
            }),
            hazard_sources: vec![
                HazardSourceInput {
                    id: "T1".into(),
                    name: "A".into(),
                    kind: "storage_tank".into(),
                    quantity: Some(-1.0),
                    unit: Some("t".into()),
                    ..HazardSourceInput::default()
                },
                HazardSourceInput {
                    id: "T1".into(),
                    name: "B".into(),
                    kind: "volcano".into(),
                    quantity: Some(3.0),
                    ..HazardSourceInput::default()
                },
            ],
            contacts: vec![ContactInput {
                name: "".into(),
                role: "boss".into(),
                phone: "call me".into(),
            }],
            ..EnterpriseInput::default()
        };
        let errors = input.validate(None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "ledger_id",
                "name",
                "credit_code",
                "category",
                "address",
                "division.district",
                "position.lon",
                "position.lat",
                "hazard_sources[0].quantity",
                "hazard_sources[1].id",
                "hazard_sources[1].kind",
                "hazard_sources[1].unit",
                "contacts[0].name",
                "contacts[0].role",
                "contacts[0].phone",
            ],
            "{errors:#?}"
        );
        assert!(errors[2].reason.contains("check character"), "{errors:?}");
        assert!(
            errors[3].reason.contains("\"petrol\"")
                && errors[3].reason.contains(&EnterpriseCategory::allowed()),
            "{errors:?}"
        );
        assert!(errors[9].reason.contains("hazard_sources[0]"), "{errors:?}");
    }

    #[test]
    fn centre_hierarchy_fields() {
        let city = CentreInput {
            id: Some("bj".into()),
            name: "City".into(),
            level: "city".into(),
            district: Some("Chaoyang".into()),
            parent_id: Some("x".into()),
            ..CentreInput::default()
        };
        let fields: Vec<String> = city
            .validate(None)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["district", "parent_id"]);

        let street = CentreInput {
            id: Some("bj-cy-jxq".into()),
            name: "Street".into(),
            level: "street".into(),
            ..CentreInput::default()
        };
        let errors = street.validate(None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["district", "street", "parent_id"]);
        assert!(errors[2].reason.contains("district centre"), "{errors:?}");

        let district = CentreInput {
            id: Some("bj-cy".into()),
            name: "Chaoyang".into(),
            level: "district".into(),
            district: Some("Chaoyang".into()),
            parent_id: Some("bj".into()),
            ..CentreInput::default()
        };
        let v = district.validate(None).unwrap();
        assert_eq!(v.scope(), r#"["district","Chaoyang"]"#);
        assert_eq!(CentreLevel::Street.parent(), Some(CentreLevel::District));
    }

    #[test]
    fn unit_kind_specific_fields() {
        let team = UnitInput {
            id: Some("u-1".into()),
            name: "Hazmat team".into(),
            kind: "rescue_team".into(),
            centre_id: "bj".into(),
            members: Some(24),
            skills: vec![" hazmat ".into(), "hazmat".into(), "foam".into()],
            ..UnitInput::default()
        };
        let v = team.validate(None).unwrap();
        assert_eq!(v.skills, ["hazmat", "foam"]);
        assert_eq!(v.availability, None);

        let expert = UnitInput {
            kind: "expert".into(),
            plate: Some("京A·55501".into()),
            availability: Some("asleep".into()),
            phone: Some("+86 (10) 555-0100 ext".into()),
            ..team.clone()
        };
        let errors = expert.validate(None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["availability", "phone", "members", "plate"]);
        assert!(errors[2].reason.contains("only rescue teams"), "{errors:?}");

        let mut zero = team;
        zero.members = Some(0);
        assert_eq!(zero.validate(None).unwrap_err()[0].field, "members");
    }

    #[test]
    fn vocabularies_round_trip() {
        for c in EnterpriseCategory::ALL {
            assert_eq!(c.as_str().parse::<EnterpriseCategory>(), Ok(*c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert_eq!(
            EnterpriseCategory::allowed(),
            "gas_station, oil_depot, tailings_pond, fireworks_warehouse, fireworks_retail, other"
        );
        for a in Availability::ALL {
            assert_eq!(a.as_str().parse::<Availability>(), Ok(*a));
        }
        assert!(LedgerId::parse("E-110105-0001").is_ok());
        assert!(LedgerId::parse("E 1").unwrap_err().contains("ledger id"));
        assert!(serde_json::from_str::<CentreId>(r#""a/b""#).is_err());
    }
}
