//! The incident aggregate: what happened, where, how bad, its lifecycle, and the commands
//! that change it.
//!
//! # Lifecycle
//!
//! ```text
//! new ──activate──▶ active ──monitor──▶ monitoring
//!  │                  ▲  │                 │
//!  │                  └──┼───activate──────┘
//!  └──────close──────────┴──close──────────┴──▶ closed
//! ```
//!
//! - `new`: recorded, not yet confirmed; `activate` starts the response.
//! - `active` ⇄ `monitoring`: the response is running / the situation is under control
//!   and watched; a flare-up goes back to `active`.
//! - `closed`: terminal and immutable — every command is refused with
//!   [`DomainError::Closed`]. Closing is refused while dispatch tasks are open
//!   ([`DomainError::OpenTasks`]) and, for an incident that was ever activated, while a
//!   statutory report is not recorded ([`DomainError::ReportsPending`]); an incident
//!   closed straight from `new` (false alarm, duplicate) owes no reports. A closing summary
//!   is required.
//!
//! # Commands and events
//!
//! [`Incident::apply`] takes an [`IncidentCommand`] and the time it acts at, and either
//! refuses it with a [`DomainError`] (the incident is unchanged) or applies it and returns
//! the [`IncidentEvent`]s the timeline records, all at that time. A command that would
//! change nothing (the same figures again) is accepted with no events. Times never go
//! backwards: a command stamped before the incident's last change (clocks of several
//! nodes differ slightly) acts at the last change's time.
//!
//! The grade is never set: it is recomputed from the figures on every change
//! ([`AccidentGrade::from_figures`]), and a rise extends the report chain. The exercise
//! flag is fixed when the incident is opened (statistics exclude exercises; an incident
//! cannot move in or out of them).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::UnixMs;
use super::clock::{AuthorityLevel, ReportChain, ReportChainRecord, ReportClock};
use super::error::{DomainError, FieldError, check_opt_text, check_text};
use super::grade::{AccidentGrade, Criterion, Figures, Grading, ResponseLevel, WarningLevel};
use super::id::IncidentId;

/// Longest title, in characters.
const MAX_TITLE: usize = 200;
/// Longest address, in characters.
const MAX_ADDRESS: usize = 500;
/// Longest district, street or enterprise id, in characters.
const MAX_SHORT: usize = 128;
/// Longest note or closing summary, in characters.
const MAX_TEXT: usize = 4000;
/// The earliest occurrence time accepted: 2000-01-01T00:00:00Z, Unix ms.
const EARLIEST: UnixMs = 946_684_800_000;

/// What kind of incident. Serialized in snake_case.
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
pub enum IncidentType {
    /// Fire (火灾).
    Fire,
    /// Explosion (爆炸), including fireworks and dust explosions.
    Explosion,
    /// Leakage of hazardous chemicals, oil or gas (泄漏).
    Leakage,
    /// Poisoning or asphyxiation (中毒和窒息).
    Poisoning,
    /// Collapse of a structure, excavation or mine working (坍塌/冒顶片帮).
    Collapse,
    /// Tailings dam failure or overtopping (尾矿库溃坝/漫顶).
    TailingsDam,
    /// Anything else.
    Other,
}

impl fmt::Display for IncidentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IncidentType::Fire => "fire",
            IncidentType::Explosion => "explosion",
            IncidentType::Leakage => "leakage",
            IncidentType::Poisoning => "poisoning",
            IncidentType::Collapse => "collapse",
            IncidentType::TailingsDam => "tailings dam",
            IncidentType::Other => "other",
        })
    }
}

/// An incident's lifecycle state (see the module documentation), in lifecycle order.
/// Serialized in snake_case.
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
pub enum IncidentState {
    /// Recorded, response not started.
    New,
    /// Response running.
    Active,
    /// Under control, watched.
    Monitoring,
    /// Ended; immutable.
    Closed,
}

impl IncidentState {
    /// Every state, in lifecycle order.
    pub const ALL: [IncidentState; 4] = [
        IncidentState::New,
        IncidentState::Active,
        IncidentState::Monitoring,
        IncidentState::Closed,
    ];

    /// Whether the lifecycle has a transition from `self` to `to`.
    pub fn can_go_to(self, to: IncidentState) -> bool {
        use IncidentState::{Active, Closed, Monitoring, New};
        matches!(
            (self, to),
            (New | Monitoring, Active) | (Active, Monitoring) | (New | Active | Monitoring, Closed)
        )
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IncidentState::New => "new",
            IncidentState::Active => "active",
            IncidentState::Monitoring => "monitoring",
            IncidentState::Closed => "closed",
        })
    }
}

/// A WGS-84 position in decimal degrees: `lon` in -180..=180 (east positive), `lat` in
/// -90..=90 (north positive), both finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

/// Where an incident is: an address and/or a position (at least one), and the
/// administrative division responsible (may be unknown at intake).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Location {
    /// Address or description of the place (1 to 500 characters).
    pub address: Option<String>,
    /// WGS-84 position.
    pub position: Option<Position>,
    /// District (county-level division, 1 to 128 characters).
    pub district: Option<String>,
    /// Street (sub-district, 1 to 128 characters).
    pub street: Option<String>,
}

impl Location {
    /// Every invalid field (`address`, `position.lon`, …), unprefixed.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.address.is_none() && self.position.is_none() {
            errors.push(FieldError::new(
                "address",
                "an address or a position is required",
            ));
        }
        check_opt_text(&mut errors, "address", self.address.as_deref(), MAX_ADDRESS);
        if let Some(p) = self.position {
            if !(p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon)) {
                errors.push(FieldError::new(
                    "position.lon",
                    format!("{} is not a longitude: -180 to 180 degrees", p.lon),
                ));
            }
            if !(p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat)) {
                errors.push(FieldError::new(
                    "position.lat",
                    format!("{} is not a latitude: -90 to 90 degrees", p.lat),
                ));
            }
        }
        check_opt_text(&mut errors, "district", self.district.as_deref(), MAX_SHORT);
        check_opt_text(&mut errors, "street", self.street.as_deref(), MAX_SHORT);
        errors
    }
}

/// What an operator (or an intake channel) gives to open an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// Short title (1 to 200 characters).
    pub title: String,
    /// Kind of incident.
    pub incident_type: IncidentType,
    /// An exercise: the same workflow, excluded from statistics. Fixed for the incident's
    /// life. Default `false`.
    #[serde(default)]
    pub exercise: bool,
    /// When it happened, Unix ms; starts the report clock. Default: the time it is opened.
    /// Not after that time, not before 2000.
    #[serde(default)]
    pub occurred_at: Option<UnixMs>,
    /// Where.
    pub location: Location,
    /// The enterprise's ledger id (1 to 128 characters), if an enterprise is involved.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Casualties and loss known so far (default: all unknown).
    #[serde(default)]
    pub figures: Figures,
    /// Warning level, if one is issued.
    #[serde(default)]
    pub warning_level: Option<WarningLevel>,
    /// Response level, if one is declared.
    #[serde(default)]
    pub response_level: Option<ResponseLevel>,
}

/// A request to change an incident. Serialized with a `command` tag in snake_case, e.g.
/// `{"command": "update_figures", "figures": {"deaths": 3}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum IncidentCommand {
    /// `new` or `monitoring` → `active`.
    Activate,
    /// `active` → `monitoring`.
    Monitor,
    /// → `closed`, with a closing summary (1 to 4000 characters).
    Close {
        /// What happened and how it ended.
        summary: String,
    },
    /// Replaces all four figures (`None` = unknown); the grade is recomputed.
    UpdateFigures {
        /// The new figures.
        figures: Figures,
    },
    /// Replaces the location.
    Relocate {
        /// The new location.
        location: Location,
    },
    /// Sets or clears the enterprise's ledger id.
    SetEnterprise {
        /// The id (1 to 128 characters), or `None`.
        enterprise_id: Option<String>,
    },
    /// Changes the incident's type.
    Reclassify {
        /// The new type.
        incident_type: IncidentType,
    },
    /// Changes the title (1 to 200 characters).
    Retitle {
        /// The new title.
        title: String,
    },
    /// Sets or clears the warning level.
    SetWarningLevel {
        /// The level, or `None`.
        level: Option<WarningLevel>,
    },
    /// Sets or clears the response level.
    SetResponseLevel {
        /// The level, or `None`.
        level: Option<ResponseLevel>,
    },
    /// Adds a free-text note to the timeline (1 to 4000 characters).
    AddNote {
        /// The note.
        text: String,
    },
    /// Records the statutory report to `to` as made.
    RecordReport {
        /// The level reported to.
        to: AuthorityLevel,
        /// When it was made, Unix ms (default: the command's time); not after the command's
        /// time, not before the incident occurred.
        #[serde(default)]
        made_at: Option<UnixMs>,
    },
}

/// Something that happened to an incident, for the timeline. Serialized with an `event`
/// tag in snake_case. Every event returned by one call happened at that call's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IncidentEvent {
    /// The incident was opened.
    Opened {
        /// Title.
        title: String,
        /// Type.
        incident_type: IncidentType,
        /// Exercise flag.
        exercise: bool,
        /// Occurrence time, Unix ms.
        occurred_at: UnixMs,
        /// The initial grade.
        grading: Grading,
        /// The highest level the initial grade must be reported to.
        report_target: AuthorityLevel,
    },
    /// The state changed (other than to closed).
    StateChanged {
        /// Before.
        from: IncidentState,
        /// After.
        to: IncidentState,
    },
    /// The incident was closed.
    Closed {
        /// The state it was closed from.
        from: IncidentState,
        /// The closing summary.
        summary: String,
    },
    /// The figures changed.
    FiguresChanged {
        /// Before.
        from: Figures,
        /// After.
        to: Figures,
    },
    /// The grade changed because the figures did.
    Regraded {
        /// Before.
        from: AccidentGrade,
        /// After.
        to: AccidentGrade,
        /// The figure that decided the new grade.
        criterion: Criterion,
    },
    /// A higher grade requires reports further up; the chain now ends at `to`.
    ReportChainExtended {
        /// The new top level.
        to: AuthorityLevel,
    },
    /// A statutory report was recorded as made.
    ReportRecorded {
        /// The level reported to.
        to: AuthorityLevel,
        /// When it was made, Unix ms.
        made_at: UnixMs,
        /// Its deadline, Unix ms.
        due_at: UnixMs,
        /// Made after the deadline.
        late: bool,
    },
    /// The location changed.
    LocationChanged {
        /// Before.
        from: Location,
        /// After.
        to: Location,
    },
    /// The enterprise changed.
    EnterpriseChanged {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The type changed.
    TypeChanged {
        /// Before.
        from: IncidentType,
        /// After.
        to: IncidentType,
    },
    /// The title changed.
    TitleChanged {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// The warning level changed.
    WarningLevelChanged {
        /// Before.
        from: Option<WarningLevel>,
        /// After.
        to: Option<WarningLevel>,
    },
    /// The response level changed.
    ResponseLevelChanged {
        /// Before.
        from: Option<ResponseLevel>,
        /// After.
        to: Option<ResponseLevel>,
    },
    /// A note was added.
    NoteAdded {
        /// The note.
        text: String,
    },
}

/// An incident (see the module documentation). Built by [`Incident::open`], changed only
/// through [`Incident::apply`], loaded from storage through [`IncidentRecord`].
///
/// Invariants: the figures are valid and the grading is `from_figures(figures)`; the
/// report chain covers at least what the grade requires; `closed_at` and the closing
/// summary are set exactly when the state is closed; `occurred_at <= opened_at <=
/// updated_at`.
///
/// Serializes to the [`IncidentRecord`] fields plus `grading` (derived, ignored on input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "IncidentRecord")]
pub struct Incident {
    id: IncidentId,
    title: String,
    incident_type: IncidentType,
    state: IncidentState,
    exercise: bool,
    occurred_at: UnixMs,
    opened_at: UnixMs,
    updated_at: UnixMs,
    closed_at: Option<UnixMs>,
    closing_summary: Option<String>,
    location: Location,
    enterprise_id: Option<String>,
    figures: Figures,
    grading: Grading,
    warning_level: Option<WarningLevel>,
    response_level: Option<ResponseLevel>,
    reports: ReportChain,
}

/// An incident as stored, checked when turned into an [`Incident`] (`TryFrom`). Field
/// meanings as in [`Incident`]'s getters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentRecord {
    /// Id.
    pub id: IncidentId,
    /// Title.
    pub title: String,
    /// Type.
    pub incident_type: IncidentType,
    /// State.
    pub state: IncidentState,
    /// Exercise flag.
    pub exercise: bool,
    /// Occurrence time, Unix ms.
    pub occurred_at: UnixMs,
    /// Opening time, Unix ms.
    pub opened_at: UnixMs,
    /// Time of the last change, Unix ms.
    pub updated_at: UnixMs,
    /// Closing time, Unix ms (exactly when closed).
    #[serde(default)]
    pub closed_at: Option<UnixMs>,
    /// Closing summary (exactly when closed).
    #[serde(default)]
    pub closing_summary: Option<String>,
    /// Location.
    pub location: Location,
    /// Enterprise ledger id.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Figures.
    pub figures: Figures,
    /// Ignored: the grade is always recomputed from the figures.
    #[serde(default)]
    pub grading: Option<Grading>,
    /// Warning level.
    #[serde(default)]
    pub warning_level: Option<WarningLevel>,
    /// Response level.
    #[serde(default)]
    pub response_level: Option<ResponseLevel>,
    /// Report chain; its start must be `occurred_at`.
    pub reports: ReportChainRecord,
}

impl TryFrom<IncidentRecord> for Incident {
    type Error = DomainError;

    /// Checks every field and invariant; the error lists each violation with its field.
    fn try_from(r: IncidentRecord) -> Result<Incident, DomainError> {
        let mut errors = Vec::new();
        check_text(&mut errors, "title", &r.title, MAX_TITLE);
        errors.extend(
            r.location
                .validate()
                .into_iter()
                .map(|e| e.prefixed("location")),
        );
        check_opt_text(
            &mut errors,
            "enterprise_id",
            r.enterprise_id.as_deref(),
            MAX_SHORT,
        );
        errors.extend(
            r.figures
                .validate()
                .into_iter()
                .map(|e| e.prefixed("figures")),
        );
        if !(r.occurred_at <= r.opened_at && r.opened_at <= r.updated_at) {
            errors.push(FieldError::new(
                "updated_at",
                "occurred_at <= opened_at <= updated_at does not hold",
            ));
        }
        let closed = r.state == IncidentState::Closed;
        if closed != r.closed_at.is_some() {
            errors.push(FieldError::new(
                "closed_at",
                "must be set exactly when the state is closed",
            ));
        }
        if r.closed_at
            .is_some_and(|t| t < r.opened_at || t > r.updated_at)
        {
            errors.push(FieldError::new(
                "closed_at",
                "must lie between opened_at and updated_at",
            ));
        }
        match (&r.closing_summary, closed) {
            (Some(summary), true) => check_text(&mut errors, "closing_summary", summary, MAX_TEXT),
            (None, false) => {}
            _ => errors.push(FieldError::new(
                "closing_summary",
                "must be set exactly when the state is closed",
            )),
        }
        if r.reports.started_at != r.occurred_at {
            errors.push(FieldError::new(
                "reports.started_at",
                "must be the occurrence time",
            ));
        }
        let grading = r.figures.grading();
        let reports = match ReportChain::try_from(r.reports) {
            Ok(chain) => Some(chain),
            Err(err) => {
                errors.extend(
                    err.field_errors()
                        .iter()
                        .cloned()
                        .map(|e| e.prefixed("reports")),
                );
                None
            }
        };
        if let Some(chain) = &reports
            && chain.target() < AuthorityLevel::target_for(grading.grade)
        {
            errors.push(FieldError::new(
                "reports.steps",
                format!(
                    "end at the {}, short of what a {} accident requires",
                    chain.target(),
                    grading.grade
                ),
            ));
        }
        DomainError::check(errors)?;
        let Some(reports) = reports else {
            return Err(DomainError::Invalid {
                errors: vec![FieldError::new("reports", "is invalid")],
            });
        };
        Ok(Incident {
            id: r.id,
            title: r.title,
            incident_type: r.incident_type,
            state: r.state,
            exercise: r.exercise,
            occurred_at: r.occurred_at,
            opened_at: r.opened_at,
            updated_at: r.updated_at,
            closed_at: r.closed_at,
            closing_summary: r.closing_summary,
            location: r.location,
            enterprise_id: r.enterprise_id,
            figures: r.figures,
            grading,
            warning_level: r.warning_level,
            response_level: r.response_level,
            reports,
        })
    }
}

impl From<Incident> for IncidentRecord {
    fn from(i: Incident) -> IncidentRecord {
        IncidentRecord {
            id: i.id,
            title: i.title,
            incident_type: i.incident_type,
            state: i.state,
            exercise: i.exercise,
            occurred_at: i.occurred_at,
            opened_at: i.opened_at,
            updated_at: i.updated_at,
            closed_at: i.closed_at,
            closing_summary: i.closing_summary,
            location: i.location,
            enterprise_id: i.enterprise_id,
            figures: i.figures,
            grading: Some(i.grading),
            warning_level: i.warning_level,
            response_level: i.response_level,
            reports: ReportChainRecord {
                started_at: i.reports.started_at(),
                steps: i.reports.steps().to_vec(),
            },
        }
    }
}

impl Incident {
    /// Opens an incident with `id` at `at` (Unix ms) in state `new`, its grade computed
    /// from the figures and its report clock started at the occurrence time. Returns the
    /// incident and its [`IncidentEvent::Opened`] event.
    ///
    /// Refused with [`DomainError::Invalid`] listing every invalid field of `new`
    /// (`title`, `location.address`, `figures.deaths`, `occurred_at`, …).
    pub fn open(
        id: IncidentId,
        new: NewIncident,
        at: UnixMs,
    ) -> Result<(Incident, Vec<IncidentEvent>), DomainError> {
        let mut errors = Vec::new();
        check_text(&mut errors, "title", &new.title, MAX_TITLE);
        errors.extend(
            new.location
                .validate()
                .into_iter()
                .map(|e| e.prefixed("location")),
        );
        check_opt_text(
            &mut errors,
            "enterprise_id",
            new.enterprise_id.as_deref(),
            MAX_SHORT,
        );
        errors.extend(
            new.figures
                .validate()
                .into_iter()
                .map(|e| e.prefixed("figures")),
        );
        let occurred_at = new.occurred_at.unwrap_or(at);
        if occurred_at > at {
            errors.push(FieldError::new(
                "occurred_at",
                format!("{occurred_at} is in the future (now {at}); give the time it happened"),
            ));
        } else if occurred_at < EARLIEST {
            errors.push(FieldError::new(
                "occurred_at",
                format!("{occurred_at} is before 2000; the unit is milliseconds since 1970"),
            ));
        }
        DomainError::check(errors)?;
        let grading = new.figures.grading();
        let reports = ReportChain::new(occurred_at, grading.grade);
        let event = IncidentEvent::Opened {
            title: new.title.clone(),
            incident_type: new.incident_type,
            exercise: new.exercise,
            occurred_at,
            grading,
            report_target: reports.target(),
        };
        let incident = Incident {
            id,
            title: new.title,
            incident_type: new.incident_type,
            state: IncidentState::New,
            exercise: new.exercise,
            occurred_at,
            opened_at: at,
            updated_at: at,
            closed_at: None,
            closing_summary: None,
            location: new.location,
            enterprise_id: new.enterprise_id,
            figures: new.figures,
            grading,
            warning_level: new.warning_level,
            response_level: new.response_level,
            reports,
        };
        Ok((incident, vec![event]))
    }

    /// Applies `command` at `at` (Unix ms; a time before the last change counts as the
    /// last change's time). `open_tasks` is the number of this incident's dispatch tasks
    /// not yet released; only closing looks at it.
    ///
    /// Returns the events to record (empty when the command changes nothing), or the
    /// reason for refusal, in this order of checks: [`DomainError::Closed`] for any
    /// command on a closed incident; [`DomainError::IllegalIncidentTransition`];
    /// [`DomainError::OpenTasks`] and [`DomainError::ReportsPending`] when closing;
    /// [`DomainError::Invalid`] naming the fields; [`DomainError::ReportNotRequired`] /
    /// [`DomainError::AlreadyReported`]. A refused command changes nothing.
    pub fn apply(
        &mut self,
        command: IncidentCommand,
        at: UnixMs,
        open_tasks: usize,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        if self.state == IncidentState::Closed {
            return Err(DomainError::Closed);
        }
        let at = at.max(self.updated_at);
        let events = match command {
            IncidentCommand::Activate => self.transition(IncidentState::Active)?,
            IncidentCommand::Monitor => self.transition(IncidentState::Monitoring)?,
            IncidentCommand::Close { summary } => self.close(summary, at, open_tasks)?,
            IncidentCommand::UpdateFigures { figures } => self.update_figures(figures, at)?,
            IncidentCommand::Relocate { location } => {
                DomainError::check(
                    location
                        .validate()
                        .into_iter()
                        .map(|e| e.prefixed("location"))
                        .collect(),
                )?;
                if location == self.location {
                    Vec::new()
                } else {
                    let from = std::mem::replace(&mut self.location, location.clone());
                    vec![IncidentEvent::LocationChanged { from, to: location }]
                }
            }
            IncidentCommand::SetEnterprise { enterprise_id } => {
                let mut errors = Vec::new();
                check_opt_text(
                    &mut errors,
                    "enterprise_id",
                    enterprise_id.as_deref(),
                    MAX_SHORT,
                );
                DomainError::check(errors)?;
                if enterprise_id == self.enterprise_id {
                    Vec::new()
                } else {
                    let from = std::mem::replace(&mut self.enterprise_id, enterprise_id.clone());
                    vec![IncidentEvent::EnterpriseChanged {
                        from,
                        to: enterprise_id,
                    }]
                }
            }
            IncidentCommand::Reclassify { incident_type } => {
                if incident_type == self.incident_type {
                    Vec::new()
                } else {
                    let from = std::mem::replace(&mut self.incident_type, incident_type);
                    vec![IncidentEvent::TypeChanged {
                        from,
                        to: incident_type,
                    }]
                }
            }
            IncidentCommand::Retitle { title } => {
                let mut errors = Vec::new();
                check_text(&mut errors, "title", &title, MAX_TITLE);
                DomainError::check(errors)?;
                if title == self.title {
                    Vec::new()
                } else {
                    let from = std::mem::replace(&mut self.title, title.clone());
                    vec![IncidentEvent::TitleChanged { from, to: title }]
                }
            }
            IncidentCommand::SetWarningLevel { level } => {
                if level == self.warning_level {
                    Vec::new()
                } else {
                    let from = std::mem::replace(&mut self.warning_level, level);
                    vec![IncidentEvent::WarningLevelChanged { from, to: level }]
                }
            }
            IncidentCommand::SetResponseLevel { level } => {
                if level == self.response_level {
                    Vec::new()
                } else {
                    let from = std::mem::replace(&mut self.response_level, level);
                    vec![IncidentEvent::ResponseLevelChanged { from, to: level }]
                }
            }
            IncidentCommand::AddNote { text } => {
                let mut errors = Vec::new();
                check_text(&mut errors, "text", &text, MAX_TEXT);
                DomainError::check(errors)?;
                vec![IncidentEvent::NoteAdded { text }]
            }
            IncidentCommand::RecordReport { to, made_at } => {
                let made_at = made_at.unwrap_or(at);
                if made_at > at {
                    return Err(DomainError::Invalid {
                        errors: vec![FieldError::new(
                            "made_at",
                            format!(
                                "{made_at} is in the future (now {at}); record a report once it is made"
                            ),
                        )],
                    });
                }
                let clock = self.reports.record(to, made_at, self.grading.grade)?;
                vec![IncidentEvent::ReportRecorded {
                    to,
                    made_at,
                    due_at: clock.due_at,
                    late: made_at > clock.due_at,
                }]
            }
        };
        if !events.is_empty() {
            self.updated_at = at;
        }
        Ok(events)
    }

    /// `Ok(())` while tasks may be dispatched to this incident; [`DomainError::Closed`]
    /// once it is closed.
    pub fn check_dispatch(&self) -> Result<(), DomainError> {
        if self.state == IncidentState::Closed {
            Err(DomainError::Closed)
        } else {
            Ok(())
        }
    }

    fn transition(&mut self, to: IncidentState) -> Result<Vec<IncidentEvent>, DomainError> {
        let from = self.state;
        if !from.can_go_to(to) {
            return Err(DomainError::IllegalIncidentTransition { from, to });
        }
        self.state = to;
        Ok(vec![IncidentEvent::StateChanged { from, to }])
    }

    fn close(
        &mut self,
        summary: String,
        at: UnixMs,
        open_tasks: usize,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        let from = self.state;
        if !from.can_go_to(IncidentState::Closed) {
            return Err(DomainError::IllegalIncidentTransition {
                from,
                to: IncidentState::Closed,
            });
        }
        if open_tasks > 0 {
            return Err(DomainError::OpenTasks { count: open_tasks });
        }
        let pending = self.reports.pending();
        if from != IncidentState::New && !pending.is_empty() {
            return Err(DomainError::ReportsPending { pending });
        }
        let mut errors = Vec::new();
        check_text(&mut errors, "summary", &summary, MAX_TEXT);
        DomainError::check(errors)?;
        self.state = IncidentState::Closed;
        self.closed_at = Some(at);
        self.closing_summary = Some(summary.clone());
        Ok(vec![IncidentEvent::Closed { from, summary }])
    }

    fn update_figures(
        &mut self,
        figures: Figures,
        at: UnixMs,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        DomainError::check(
            figures
                .validate()
                .into_iter()
                .map(|e| e.prefixed("figures"))
                .collect(),
        )?;
        if figures == self.figures {
            return Ok(Vec::new());
        }
        let from = std::mem::replace(&mut self.figures, figures);
        let mut events = vec![IncidentEvent::FiguresChanged { from, to: figures }];
        let grading = figures.grading();
        if grading.grade != self.grading.grade {
            events.push(IncidentEvent::Regraded {
                from: self.grading.grade,
                to: grading.grade,
                criterion: grading.criterion,
            });
        }
        self.grading = grading;
        if let Some(to) = self.reports.require(grading.grade, at) {
            events.push(IncidentEvent::ReportChainExtended { to });
        }
        Ok(events)
    }

    /// Id.
    pub fn id(&self) -> &IncidentId {
        &self.id
    }

    /// Title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Type.
    pub fn incident_type(&self) -> IncidentType {
        self.incident_type
    }

    /// Lifecycle state.
    pub fn state(&self) -> IncidentState {
        self.state
    }

    /// Whether the incident is closed (and so immutable).
    pub fn is_closed(&self) -> bool {
        self.state == IncidentState::Closed
    }

    /// Exercise flag (exercises are excluded from statistics).
    pub fn exercise(&self) -> bool {
        self.exercise
    }

    /// When it happened, Unix ms (the report clock's start).
    pub fn occurred_at(&self) -> UnixMs {
        self.occurred_at
    }

    /// When it was opened, Unix ms.
    pub fn opened_at(&self) -> UnixMs {
        self.opened_at
    }

    /// When it last changed, Unix ms.
    pub fn updated_at(&self) -> UnixMs {
        self.updated_at
    }

    /// When it was closed, Unix ms.
    pub fn closed_at(&self) -> Option<UnixMs> {
        self.closed_at
    }

    /// The closing summary, once closed.
    pub fn closing_summary(&self) -> Option<&str> {
        self.closing_summary.as_deref()
    }

    /// Location.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The enterprise's ledger id.
    pub fn enterprise_id(&self) -> Option<&str> {
        self.enterprise_id.as_deref()
    }

    /// Casualty and loss figures.
    pub fn figures(&self) -> &Figures {
        &self.figures
    }

    /// The grade computed from the figures, and its deciding criterion.
    pub fn grading(&self) -> Grading {
        self.grading
    }

    /// The accident grade.
    pub fn grade(&self) -> AccidentGrade {
        self.grading.grade
    }

    /// Warning level.
    pub fn warning_level(&self) -> Option<WarningLevel> {
        self.warning_level
    }

    /// Response level.
    pub fn response_level(&self) -> Option<ResponseLevel> {
        self.response_level
    }

    /// The statutory report chain.
    pub fn reports(&self) -> &ReportChain {
        &self.reports
    }

    /// Every report's clock at `now` (Unix ms), county first.
    pub fn report_clocks(&self, now: UnixMs) -> Vec<ReportClock> {
        self.reports.clocks(now)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::clock::ReportStatus;
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn new_incident() -> NewIncident {
        NewIncident {
            title: "Tank farm fire".to_owned(),
            incident_type: IncidentType::Fire,
            exercise: false,
            occurred_at: Some(T0 - 10 * MIN),
            location: Location {
                address: Some("No. 3 oil depot".to_owned()),
                position: Some(Position {
                    lon: 116.4,
                    lat: 39.9,
                }),
                district: Some("Chaoyang".to_owned()),
                street: None,
            },
            enterprise_id: Some("ent-42".to_owned()),
            figures: Figures::default(),
            warning_level: None,
            response_level: None,
        }
    }

    fn opened() -> Incident {
        let id = IncidentId::parse("inc-1").expect("id");
        Incident::open(id, new_incident(), T0).expect("open").0
    }

    fn figures(deaths: i64) -> Figures {
        Figures {
            deaths: Some(deaths),
            ..Figures::default()
        }
    }

    fn report_all(incident: &mut Incident, at: UnixMs) {
        for to in incident.reports().pending() {
            incident
                .apply(IncidentCommand::RecordReport { to, made_at: None }, at, 0)
                .expect("record");
        }
    }

    #[test]
    fn open_validates_every_field() {
        let mut new = new_incident();
        new.title = "  ".to_owned();
        new.location = Location::default();
        new.figures = Figures {
            deaths: Some(-1),
            ..Figures::default()
        };
        new.occurred_at = Some(T0 + 1);
        let id = IncidentId::parse("inc-1").expect("id");
        let err = Incident::open(id, new, T0).expect_err("invalid");
        let fields: Vec<_> = err
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(
            fields,
            ["title", "location.address", "figures.deaths", "occurred_at"]
        );
        assert!(
            err.to_string()
                .contains("figures.deaths: must not be negative"),
            "{err}"
        );
    }

    #[test]
    fn open_grades_and_starts_the_clock() {
        let mut new = new_incident();
        new.figures = figures(3);
        let id = IncidentId::parse("inc-1").expect("id");
        let (incident, events) = Incident::open(id, new, T0).expect("open");
        assert_eq!(incident.grade(), AccidentGrade::Larger);
        assert_eq!(incident.state(), IncidentState::New);
        assert_eq!(incident.reports().target(), AuthorityLevel::Province);
        assert_eq!(
            incident.reports().due_at(AuthorityLevel::County),
            Some(T0 - 10 * MIN + 60 * MIN)
        );
        assert!(matches!(
            events.as_slice(),
            [IncidentEvent::Opened {
                report_target: AuthorityLevel::Province,
                ..
            }]
        ));
    }

    #[test]
    fn lifecycle_and_refusals() {
        let mut i = opened();
        let err = i
            .apply(IncidentCommand::Monitor, T0, 0)
            .expect_err("new → monitoring");
        assert_eq!(
            err,
            DomainError::IllegalIncidentTransition {
                from: IncidentState::New,
                to: IncidentState::Monitoring
            }
        );
        assert!(err.to_string().contains("activate it first"), "{err}");
        i.apply(IncidentCommand::Activate, T0 + 1, 0)
            .expect("activate");
        i.apply(IncidentCommand::Monitor, T0 + 2, 0)
            .expect("monitor");
        i.apply(IncidentCommand::Activate, T0 + 3, 0)
            .expect("flare-up");
        let close = || IncidentCommand::Close {
            summary: "Fire out, no casualties.".to_owned(),
        };
        let err = i.apply(close(), T0 + 4, 2).expect_err("open tasks");
        assert_eq!(err, DomainError::OpenTasks { count: 2 });
        assert!(
            err.to_string().contains("2 dispatch task(s) are open"),
            "{err}"
        );
        let err = i.apply(close(), T0 + 4, 0).expect_err("reports");
        assert_eq!(
            err,
            DomainError::ReportsPending {
                pending: vec![AuthorityLevel::County, AuthorityLevel::Prefecture]
            }
        );
        assert_eq!(
            err.to_string(),
            "the incident cannot be closed before the statutory report(s) to the county-level \
             regulator, the prefecture-level regulator are recorded"
        );
        let err = i
            .apply(
                IncidentCommand::Close {
                    summary: String::new(),
                },
                T0 + 4,
                0,
            )
            .expect_err("no summary");
        assert_eq!(err.code(), "reports_pending");
        report_all(&mut i, T0 + 5);
        let err = i
            .apply(
                IncidentCommand::Close {
                    summary: " ".to_owned(),
                },
                T0 + 6,
                0,
            )
            .expect_err("blank summary");
        assert_eq!(err.field_errors()[0].field, "summary");
        let events = i.apply(close(), T0 + 6, 0).expect("close");
        assert_eq!(
            events,
            [IncidentEvent::Closed {
                from: IncidentState::Active,
                summary: "Fire out, no casualties.".to_owned()
            }]
        );
        assert_eq!(i.closed_at(), Some(T0 + 6));
        let frozen = i.clone();
        for command in [
            IncidentCommand::Activate,
            IncidentCommand::AddNote {
                text: "late".to_owned(),
            },
            IncidentCommand::UpdateFigures {
                figures: figures(40),
            },
            close(),
        ] {
            assert_eq!(i.apply(command, T0 + 7, 0), Err(DomainError::Closed));
        }
        assert_eq!(i, frozen);
        assert_eq!(i.check_dispatch(), Err(DomainError::Closed));
    }

    #[test]
    fn a_false_alarm_closes_from_new_without_reports() {
        let mut i = opened();
        i.apply(
            IncidentCommand::Close {
                summary: "False alarm: steam from a vent.".to_owned(),
            },
            T0 + MIN,
            0,
        )
        .expect("close");
        assert!(i.is_closed());
    }

    #[test]
    fn figures_regrade_and_extend_the_chain() {
        let mut i = opened();
        i.apply(IncidentCommand::Activate, T0, 0).expect("activate");
        let at = T0 + 30 * MIN;
        let events = i
            .apply(
                IncidentCommand::UpdateFigures {
                    figures: Figures {
                        deaths: Some(8),
                        missing: Some(2),
                        ..Figures::default()
                    },
                },
                at,
                0,
            )
            .expect("update");
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            events[1],
            IncidentEvent::Regraded {
                from: AccidentGrade::General,
                to: AccidentGrade::Major,
                criterion: Criterion::Deaths
            }
        );
        assert_eq!(
            events[2],
            IncidentEvent::ReportChainExtended {
                to: AuthorityLevel::National
            }
        );
        assert_eq!(i.grade(), AccidentGrade::Major);
        // The same figures again: accepted, nothing to record.
        let same = *i.figures();
        assert_eq!(
            i.apply(IncidentCommand::UpdateFigures { figures: same }, at + 1, 0),
            Ok(vec![])
        );
        assert_eq!(i.updated_at(), at);
        // The missing are found alive: down to larger, chain kept.
        let events = i
            .apply(
                IncidentCommand::UpdateFigures {
                    figures: Figures {
                        deaths: Some(8),
                        missing: Some(0),
                        ..Figures::default()
                    },
                },
                at + 2,
                0,
            )
            .expect("update");
        assert!(matches!(
            events[1],
            IncidentEvent::Regraded {
                to: AccidentGrade::Larger,
                ..
            }
        ));
        assert_eq!(i.reports().target(), AuthorityLevel::National);
        // Invalid figures name the field and change nothing.
        let before = i.clone();
        let err = i
            .apply(
                IncidentCommand::UpdateFigures {
                    figures: figures(-3),
                },
                at + 3,
                0,
            )
            .expect_err("negative");
        assert_eq!(err.field_errors()[0].field, "figures.deaths");
        assert_eq!(i, before);
    }

    #[test]
    fn reports_are_recorded_with_their_deadline() {
        let mut i = opened();
        let occurred = T0 - 10 * MIN;
        let events = i
            .apply(
                IncidentCommand::RecordReport {
                    to: AuthorityLevel::County,
                    made_at: Some(occurred + 90 * MIN),
                },
                T0 + 2 * 60 * MIN,
                0,
            )
            .expect("record");
        assert_eq!(
            events,
            [IncidentEvent::ReportRecorded {
                to: AuthorityLevel::County,
                made_at: occurred + 90 * MIN,
                due_at: occurred + 60 * MIN,
                late: true
            }]
        );
        assert_eq!(
            i.report_clocks(T0 + 2 * 60 * MIN)[0].status,
            ReportStatus::MadeLate
        );
        let err = i
            .apply(
                IncidentCommand::RecordReport {
                    to: AuthorityLevel::Prefecture,
                    made_at: Some(T0 + 10 * 60 * MIN),
                },
                T0 + 3 * 60 * MIN,
                0,
            )
            .expect_err("future");
        assert_eq!(err.field_errors()[0].field, "made_at");
        let err = i
            .apply(
                IncidentCommand::RecordReport {
                    to: AuthorityLevel::National,
                    made_at: None,
                },
                T0 + 3 * 60 * MIN,
                0,
            )
            .expect_err("not required");
        assert_eq!(err.code(), "report_not_required");
    }

    #[test]
    fn commands_and_events_on_the_wire() {
        let command: IncidentCommand = serde_json::from_str(
            r#"{"command": "update_figures", "figures": {"deaths": 3, "direct_loss_yuan": 20000000}}"#,
        )
        .expect("parse");
        assert_eq!(
            command,
            IncidentCommand::UpdateFigures {
                figures: Figures {
                    deaths: Some(3),
                    direct_loss_yuan: Some(20_000_000),
                    ..Figures::default()
                }
            }
        );
        let command: IncidentCommand =
            serde_json::from_str(r#"{"command": "set_response_level", "level": "ii"}"#)
                .expect("parse");
        assert_eq!(
            command,
            IncidentCommand::SetResponseLevel {
                level: Some(ResponseLevel::Level2)
            }
        );
        let json = serde_json::to_value(IncidentEvent::StateChanged {
            from: IncidentState::New,
            to: IncidentState::Active,
        })
        .expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"event": "state_changed", "from": "new", "to": "active"})
        );
    }

    #[test]
    fn records_round_trip_and_are_checked() {
        let mut i = opened();
        i.apply(IncidentCommand::Activate, T0 + 1, 0)
            .expect("activate");
        i.apply(
            IncidentCommand::UpdateFigures {
                figures: figures(12),
            },
            T0 + 2,
            0,
        )
        .expect("figures");
        let json = serde_json::to_string(&i).expect("serialize");
        let back: Incident = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, i);
        let mut record = IncidentRecord::from(i);
        record.state = IncidentState::Closed;
        record.reports.steps.truncate(2);
        record.figures.deaths = Some(-1);
        let err = Incident::try_from(record).expect_err("inconsistent");
        let fields: Vec<_> = err
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["figures.deaths", "closed_at", "closing_summary"]);
    }

    // ---- property tests -------------------------------------------------------------

    fn command() -> impl Strategy<Value = IncidentCommand> {
        let level = prop::sample::select(AuthorityLevel::ALL.to_vec());
        prop_oneof![
            3 => Just(IncidentCommand::Activate),
            2 => Just(IncidentCommand::Monitor),
            2 => prop::sample::select(vec!["", " ", "Done."]).prop_map(|s| IncidentCommand::Close { summary: s.to_owned() }),
            4 => (prop::option::of(-2i64..40), prop::option::of(0i64..5), prop::option::of(-1i64..120), prop::option::of(-1i64..150_000_000))
                .prop_map(|(d, m, s, l)| IncidentCommand::UpdateFigures { figures: Figures { deaths: d, missing: m, serious_injuries: s, direct_loss_yuan: l } }),
            1 => prop::option::of(prop::sample::select(vec![WarningLevel::Blue, WarningLevel::Red])).prop_map(|level| IncidentCommand::SetWarningLevel { level }),
            1 => prop::option::of(prop::sample::select(vec![ResponseLevel::Level1, ResponseLevel::Level4])).prop_map(|level| IncidentCommand::SetResponseLevel { level }),
            1 => prop::sample::select(vec!["", "smoke seen"]).prop_map(|t| IncidentCommand::AddNote { text: t.to_owned() }),
            1 => prop::sample::select(vec!["", "Depot fire"]).prop_map(|t| IncidentCommand::Retitle { title: t.to_owned() }),
            1 => prop::sample::select(vec![IncidentType::Fire, IncidentType::Explosion]).prop_map(|incident_type| IncidentCommand::Reclassify { incident_type }),
            1 => prop::option::of(prop::sample::select(vec!["", "ent-1"])).prop_map(|e| IncidentCommand::SetEnterprise { enterprise_id: e.map(str::to_owned) }),
            1 => (-90.0f64..200.0).prop_map(|lon| IncidentCommand::Relocate { location: Location { position: Some(Position { lon, lat: 30.0 }), ..Location::default() } }),
            3 => (level, prop::option::of(-60 * MIN..600 * MIN)).prop_map(|(to, offset)| IncidentCommand::RecordReport { to, made_at: offset.map(|o| T0 + o) }),
        ]
    }

    fn state_after(event: &IncidentEvent) -> Option<(IncidentState, IncidentState)> {
        match event {
            IncidentEvent::StateChanged { from, to } => Some((*from, *to)),
            IncidentEvent::Closed { from, .. } => Some((*from, IncidentState::Closed)),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_command_sequence_leaves_a_legal_incident(
            steps in prop::collection::vec((command(), -5 * MIN..30 * MIN, 0usize..3), 0..40)
        ) {
            let mut incident = opened();
            let mut now = T0;
            for (command, step, open_tasks) in steps {
                // Mostly forward, sometimes a little backwards (clock skew).
                now += step;
                let before = incident.clone();
                let result = incident.apply(command.clone(), now, open_tasks);
                match &result {
                    Err(err) => {
                        // Refused: nothing changed; a closed incident refuses everything.
                        prop_assert_eq!(&incident, &before);
                        if before.is_closed() {
                            prop_assert_eq!(err, &DomainError::Closed);
                        }
                        if let DomainError::OpenTasks { count } = err {
                            prop_assert_eq!(*count, open_tasks);
                        }
                    }
                    Ok(events) => {
                        prop_assert!(!before.is_closed());
                        if events.is_empty() {
                            prop_assert_eq!(&incident, &before);
                        } else {
                            prop_assert!(incident.updated_at() >= before.updated_at());
                        }
                        if incident.is_closed() {
                            // Closed only without open tasks, and once activated only with
                            // every statutory report recorded.
                            prop_assert_eq!(open_tasks, 0);
                            if before.state() != IncidentState::New {
                                prop_assert!(incident.reports().pending().is_empty());
                            }
                            prop_assert!(incident.closed_at().is_some());
                            prop_assert!(incident.closing_summary().is_some_and(|s| !s.trim().is_empty()));
                        }
                        // The state changed exactly as the events say.
                        let changes: Vec<_> = events.iter().filter_map(state_after).collect();
                        match changes.as_slice() {
                            [] => prop_assert_eq!(incident.state(), before.state()),
                            [(from, to)] => {
                                prop_assert_eq!(*from, before.state());
                                prop_assert_eq!(*to, incident.state());
                                prop_assert!(from.can_go_to(*to));
                            }
                            _ => prop_assert!(false, "several state changes in one command"),
                        }
                        let regraded = events.iter().any(|e| matches!(e, IncidentEvent::Regraded { .. }));
                        prop_assert_eq!(regraded, incident.grade() != before.grade());
                    }
                }
                // Invariants, whatever happened.
                prop_assert!(incident.figures().validate().is_empty());
                prop_assert_eq!(incident.grading(), AccidentGrade::from_figures(incident.figures()));
                prop_assert!(incident.reports().target() >= AuthorityLevel::target_for(incident.grade()));
                prop_assert!(incident.reports().target() >= before.reports().target());
                prop_assert_eq!(incident.is_closed(), incident.closed_at().is_some());
                if before.is_closed() {
                    prop_assert_eq!(&incident, &before);
                }
                let record = IncidentRecord::from(incident.clone());
                prop_assert_eq!(Incident::try_from(record).ok(), Some(incident.clone()));
            }
        }
    }
}
