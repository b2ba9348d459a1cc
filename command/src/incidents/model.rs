//! The store's own types: intake reports, evidence, timeline entries, filters and pages,
//! and the checks of their input.

use std::fmt;

use serde::{Deserialize, Serialize};
use watchpost_config::CAMERA_NAME_RULE;

use crate::storage::sql;

use crate::domain::{
    AccidentGrade, DomainError, FieldError, Figures, IncidentId, IncidentState, IncidentType,
    Location, NewIncident, ReportId, UnixMs, check_opt_text, check_text, quote,
};

/// Longest operator name, in characters.
pub const MAX_OPERATOR: usize = 128;
/// Longest report summary, evidence note or reference, in characters.
const MAX_TEXT: usize = 4000;
/// Longest reporter name, in characters.
const MAX_REPORTER: usize = 200;
/// Longest enterprise id or external reference, in characters.
const MAX_SHORT: usize = 128;
/// Longest phone number, in characters.
const MAX_PHONE: usize = 32;
/// The earliest time accepted: 2000-01-01T00:00:00Z, Unix ms.
const EARLIEST: UnixMs = 946_684_800_000;

/// Page size of the list functions when the filter sets none.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of the list functions.
pub const MAX_LIMIT: u32 = 1000;

/// A stored value and its revision: 1 when created, +1 per accepted change. The revision
/// is the optimistic-concurrency token (`ETag`) of the store's `expected_revision`
/// arguments. Serializes as the value's fields plus `revision`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stored<T> {
    /// The value.
    #[serde(flatten)]
    pub value: T,
    /// Its revision.
    pub revision: i64,
}

/// How a report reached the command centre. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportChannel {
    /// A phone call taken by the duty officer (the intake form).
    Phone,
    /// An enterprise reporting its own accident through the API.
    EnterpriseSelfReport,
    /// A sensor or video-analytics alarm.
    Alarm,
    /// A notice from a superior authority.
    Superior,
    /// A notice from a peer platform (another bureau, fire service, police).
    PeerPlatform,
}

impl ReportChannel {
    /// The snake_case name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportChannel::Phone => "phone",
            ReportChannel::EnterpriseSelfReport => "enterprise_self_report",
            ReportChannel::Alarm => "alarm",
            ReportChannel::Superior => "superior",
            ReportChannel::PeerPlatform => "peer_platform",
        }
    }
}

impl fmt::Display for ReportChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an intake channel tells: the content of one report. Never changes once recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// The channel.
    pub channel: ReportChannel,
    /// Who reported: a person's name, a unit, a sensor or a platform (1 to 200
    /// characters).
    #[serde(default)]
    pub reporter: Option<String>,
    /// A call-back number (3 to 32 characters: digits, spaces, `+`, `-`, `(`, `)`).
    #[serde(default)]
    pub phone: Option<String>,
    /// When the report came in, Unix ms; default: when it is recorded, not after that
    /// time. Always set in a stored report.
    #[serde(default)]
    pub received_at: Option<UnixMs>,
    /// What was reported (1 to 4000 characters).
    pub summary: String,
    /// The kind of incident, as reported.
    #[serde(default)]
    pub incident_type: Option<IncidentType>,
    /// When it happened, as reported, Unix ms; not after `received_at`.
    #[serde(default)]
    pub occurred_at: Option<UnixMs>,
    /// Where, as reported (checked like an incident's location when present).
    #[serde(default)]
    pub location: Option<Location>,
    /// The enterprise's ledger id (1 to 128 characters).
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Casualties and loss, as reported (default: all unknown).
    #[serde(default)]
    pub figures: Figures,
    /// The source's own reference: an alarm id, a document number (1 to 128 characters).
    #[serde(default)]
    pub external_ref: Option<String>,
}

impl NewReport {
    /// Every invalid field (`summary`, `location.address`, `figures.deaths`, …), with
    /// `at` (Unix ms) the time the report is recorded.
    pub fn validate(&self, at: UnixMs) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_opt_text(
            &mut errors,
            "reporter",
            self.reporter.as_deref(),
            MAX_REPORTER,
        );
        if let Some(phone) = &self.phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
            if !allowed || digits < 3 || phone.chars().count() > MAX_PHONE {
                errors.push(FieldError::new(
                    "phone",
                    format!(
                        "{} is not a phone number: 3 to {MAX_PHONE} characters, digits, spaces, '+', '-', '(' and ')'",
                        quote(phone)
                    ),
                ));
            }
        }
        let received_at = self.received_at.unwrap_or(at);
        check_past(&mut errors, "received_at", received_at, at);
        check_text(&mut errors, "summary", &self.summary, MAX_TEXT);
        if let Some(occurred_at) = self.occurred_at {
            if occurred_at > received_at {
                errors.push(FieldError::new(
                    "occurred_at",
                    format!(
                        "{occurred_at} is after the report was received ({received_at}); give the time it happened"
                    ),
                ));
            } else {
                check_past(&mut errors, "occurred_at", occurred_at, at);
            }
        }
        if let Some(location) = &self.location {
            errors.extend(
                location
                    .validate()
                    .into_iter()
                    .map(|e| e.prefixed("location")),
            );
        }
        check_opt_text(
            &mut errors,
            "enterprise_id",
            self.enterprise_id.as_deref(),
            MAX_SHORT,
        );
        errors.extend(
            self.figures
                .validate()
                .into_iter()
                .map(|e| e.prefixed("figures")),
        );
        check_opt_text(
            &mut errors,
            "external_ref",
            self.external_ref.as_deref(),
            MAX_SHORT,
        );
        errors
    }
}

/// A recorded intake report: its content, who recorded it, and the incident it is linked
/// to (zero or one; set once). Serializes as the [`NewReport`] fields plus the others.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntakeReport {
    /// Id (`rep-N`).
    pub id: ReportId,
    /// What was reported; `received_at` is always set.
    #[serde(flatten)]
    pub content: NewReport,
    /// When it was recorded, Unix ms.
    pub recorded_at: UnixMs,
    /// The operator who recorded it.
    pub recorded_by: String,
    /// The incident it is linked to.
    pub incident_id: Option<IncidentId>,
    /// When it was linked, Unix ms.
    pub linked_at: Option<UnixMs>,
    /// The operator who linked it.
    pub linked_by: Option<String>,
}

impl IntakeReport {
    /// When the report came in, Unix ms.
    pub fn received_at(&self) -> UnixMs {
        self.content.received_at.unwrap_or(self.recorded_at)
    }

    /// An incident prefilled from the report, titled `title`, for the operator to check
    /// before [`IncidentStore::create_incident_from_report`](super::IncidentStore::create_incident_from_report):
    /// type (default [`IncidentType::Other`]), occurrence time (default: received), location
    /// (default: none, which opening refuses until an address or position is given),
    /// enterprise and figures. Not an exercise; no warning or response level.
    pub fn draft_incident(&self, title: impl Into<String>) -> NewIncident {
        NewIncident {
            title: title.into(),
            incident_type: self.content.incident_type.unwrap_or(IncidentType::Other),
            exercise: false,
            occurred_at: Some(self.content.occurred_at.unwrap_or(self.received_at())),
            location: self.content.location.clone().unwrap_or_default(),
            enterprise_id: self.content.enterprise_id.clone(),
            figures: self.content.figures,
            warning_level: None,
            response_level: None,
        }
    }
}

/// An evidence item attached to an incident's timeline. Cameras are named by their
/// inventory id (the command module never reads the inventory: the id is checked for
/// form only, [`CAMERA_NAME_RULE`]). Serialized with a `kind` tag in snake_case, e.g.
/// `{"kind": "camera", "camera_id": "gas-01"}`. Notes are not evidence: they are the
/// incident command `add_note`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Evidence {
    /// A camera attached to the incident (the site's own, or one nearby).
    Camera {
        /// The camera's inventory id.
        camera_id: String,
        /// Why it is attached (1 to 4000 characters).
        #[serde(default)]
        note: Option<String>,
    },
    /// A snapshot (still image), by reference.
    Snapshot {
        /// The camera it was taken from, if any.
        #[serde(default)]
        camera_id: Option<String>,
        /// Where the image is: a URL or a stored object's id (1 to 4000 characters).
        reference: String,
        /// When it was taken, Unix ms.
        taken_at: UnixMs,
        /// What it shows (1 to 4000 characters).
        #[serde(default)]
        note: Option<String>,
    },
    /// A bookmark on a camera's video: the span `from..=to`.
    VideoBookmark {
        /// The camera.
        camera_id: String,
        /// Start, Unix ms.
        from: UnixMs,
        /// End, Unix ms; not before `from`.
        to: UnixMs,
        /// What it shows (1 to 4000 characters).
        #[serde(default)]
        note: Option<String>,
    },
}

impl Evidence {
    /// Every invalid field, with `at` (Unix ms) the time it is attached.
    pub fn validate(&self, at: UnixMs) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let note = match self {
            Evidence::Camera { camera_id, note } => {
                check_camera(&mut errors, "camera_id", camera_id);
                note
            }
            Evidence::Snapshot {
                camera_id,
                reference,
                taken_at,
                note,
            } => {
                if let Some(camera_id) = camera_id {
                    check_camera(&mut errors, "camera_id", camera_id);
                }
                check_text(&mut errors, "reference", reference, MAX_TEXT);
                check_past(&mut errors, "taken_at", *taken_at, at);
                note
            }
            Evidence::VideoBookmark {
                camera_id,
                from,
                to,
                note,
            } => {
                check_camera(&mut errors, "camera_id", camera_id);
                check_past(&mut errors, "from", *from, at);
                if to < from {
                    errors.push(FieldError::new(
                        "to",
                        format!("{to} is before from ({from}): a bookmark ends after it starts"),
                    ));
                }
                note
            }
        };
        check_opt_text(&mut errors, "note", note.as_deref(), MAX_TEXT);
        errors
    }

    /// The timeline entry kind this evidence is recorded as.
    pub fn kind(&self) -> TimelineKind {
        match self {
            Evidence::Camera { .. } => TimelineKind::CameraAttached,
            Evidence::Snapshot { .. } => TimelineKind::SnapshotAttached,
            Evidence::VideoBookmark { .. } => TimelineKind::VideoBookmarked,
        }
    }
}

/// What a timeline entry records. Serialized in snake_case; the first fourteen are the
/// incident's events ([`crate::domain::IncidentEvent`], same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The incident was opened.
    Opened,
    /// Its state changed (other than to closed).
    StateChanged,
    /// It was closed.
    Closed,
    /// Its figures changed.
    FiguresChanged,
    /// Its grade changed.
    Regraded,
    /// Its report chain grew.
    ReportChainExtended,
    /// A statutory report was recorded.
    ReportRecorded,
    /// Its location changed.
    LocationChanged,
    /// Its enterprise changed.
    EnterpriseChanged,
    /// Its type changed.
    TypeChanged,
    /// Its title changed.
    TitleChanged,
    /// Its warning level changed.
    WarningLevelChanged,
    /// Its response level changed.
    ResponseLevelChanged,
    /// A note was added.
    NoteAdded,
    /// An intake report was linked to it.
    ReportLinked,
    /// A unit was dispatched (a task created).
    TaskDispatched,
    /// A task changed state.
    TaskTransitioned,
    /// A camera was attached.
    CameraAttached,
    /// A snapshot was attached.
    SnapshotAttached,
    /// A video bookmark was attached.
    VideoBookmarked,
}

impl TimelineKind {
    /// The snake_case name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Opened => "opened",
            TimelineKind::StateChanged => "state_changed",
            TimelineKind::Closed => "closed",
            TimelineKind::FiguresChanged => "figures_changed",
            TimelineKind::Regraded => "regraded",
            TimelineKind::ReportChainExtended => "report_chain_extended",
            TimelineKind::ReportRecorded => "report_recorded",
            TimelineKind::LocationChanged => "location_changed",
            TimelineKind::EnterpriseChanged => "enterprise_changed",
            TimelineKind::TypeChanged => "type_changed",
            TimelineKind::TitleChanged => "title_changed",
            TimelineKind::WarningLevelChanged => "warning_level_changed",
            TimelineKind::ResponseLevelChanged => "response_level_changed",
            TimelineKind::NoteAdded => "note_added",
            TimelineKind::ReportLinked => "report_linked",
            TimelineKind::TaskDispatched => "task_dispatched",
            TimelineKind::TaskTransitioned => "task_transitioned",
            TimelineKind::CameraAttached => "camera_attached",
            TimelineKind::SnapshotAttached => "snapshot_attached",
            TimelineKind::VideoBookmarked => "video_bookmarked",
        }
    }
}

impl fmt::Display for TimelineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One timeline entry. Entries are only ever appended: no function changes or removes
/// one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// Position in the database's timeline: unique, increasing in commit order across
    /// all incidents (a reader that saw entry `n` finds every later one with `after=n`).
    pub id: i64,
    /// The incident.
    pub incident_id: IncidentId,
    /// When the change took effect, Unix ms.
    pub at: UnixMs,
    /// Who made it.
    pub operator: String,
    /// What it records.
    pub kind: TimelineKind,
    /// The details, a JSON object: an incident event's fields (as
    /// [`crate::domain::IncidentEvent`] serializes them, without its `event` tag); for
    /// `report_linked` `{report_id, channel, received_at, duplicate}`; for tasks
    /// `{task_id, unit_id, from, to, instructions}` (`from` is `null` when dispatched);
    /// for evidence the [`Evidence`] (without its `kind` tag).
    pub content: serde_json::Value,
}

/// Which incidents [`IncidentStore::list`](super::IncidentStore::list) returns. Every set
/// field must match (AND); unset fields match everything. Deserializes from a query
/// string (`?state=active&district=North&limit=50`); unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentFilter {
    /// Lifecycle state.
    pub state: Option<IncidentState>,
    /// `true`: not closed; `false`: closed.
    pub open: Option<bool>,
    /// Accident grade, exact.
    pub grade: Option<AccidentGrade>,
    /// Accident grade at least this.
    pub min_grade: Option<AccidentGrade>,
    /// Incident type.
    pub incident_type: Option<IncidentType>,
    /// District, exact.
    pub district: Option<String>,
    /// Street, exact.
    pub street: Option<String>,
    /// Exercises (`true`) or real incidents (`false`).
    pub exercise: Option<bool>,
    /// Enterprise ledger id, exact.
    pub enterprise_id: Option<String>,
    /// Opened at or after this time, Unix ms.
    pub opened_from: Option<UnixMs>,
    /// Opened before this time, Unix ms.
    pub opened_to: Option<UnixMs>,
    /// Owing a statutory report due before this time, Unix ms (pass "now" for the
    /// incidents with an overdue report).
    pub report_due_before: Option<UnixMs>,
    /// Page size, 0 to [`MAX_LIMIT`]; default [`DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// Incidents to skip; default 0.
    pub offset: Option<u64>,
}

impl IncidentFilter {
    /// Every invalid field (`limit`, `opened_to`).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_limit(&mut errors, self.limit);
        if let (Some(from), Some(to)) = (self.opened_from, self.opened_to)
            && to < from
        {
            errors.push(FieldError::new(
                "opened_to",
                format!("{to} is before opened_from ({from})"),
            ));
        }
        errors
    }
}

/// One page of [`IncidentStore::list`](super::IncidentStore::list).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentPage {
    /// The incidents of this page, most recently opened first (ties by id, descending).
    pub items: Vec<Stored<crate::domain::Incident>>,
    /// How many incidents match the filter in all.
    pub total: u64,
}

/// Which reports [`IncidentStore::reports`](super::IncidentStore::reports) returns; as
/// [`IncidentFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub struct ReportFilter {
    /// Linked to this incident.
    pub incident_id: Option<IncidentId>,
    /// Linked (`true`) or waiting in the unlinked queue (`false`).
    pub linked: Option<bool>,
    /// Channel.
    pub channel: Option<ReportChannel>,
    /// Received at or after this time, Unix ms.
    pub received_from: Option<UnixMs>,
    /// Received before this time, Unix ms.
    pub received_to: Option<UnixMs>,
    /// Page size, 0 to [`MAX_LIMIT`]; default [`DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// Reports to skip; default 0.
    pub offset: Option<u64>,
}

impl ReportFilter {
    /// Every invalid field (`limit`, `received_to`).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_limit(&mut errors, self.limit);
        if let (Some(from), Some(to)) = (self.received_from, self.received_to)
            && to < from
        {
            errors.push(FieldError::new(
                "received_to",
                format!("{to} is before received_from ({from})"),
            ));
        }
        errors
    }
}

/// One page of [`IncidentStore::reports`](super::IncidentStore::reports).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportPage {
    /// The reports of this page, oldest received first (ties by id).
    pub items: Vec<IntakeReport>,
    /// How many reports match the filter in all.
    pub total: u64,
}

/// Checks an operator name: 1 to [`MAX_OPERATOR`] characters, not blank.
pub(crate) fn check_operator(operator: &str) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    check_text(&mut errors, "operator", operator, MAX_OPERATOR);
    invalid(errors)
}

/// `Ok(())` when `errors` is empty, [`DomainError::Invalid`] otherwise.
pub(crate) fn invalid(errors: Vec<FieldError>) -> Result<(), DomainError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid { errors })
    }
}

fn check_limit(errors: &mut Vec<FieldError>, limit: Option<u32>) {
    if let Some(Err(reason)) = limit.map(|limit| sql::check_limit(limit, MAX_LIMIT)) {
        errors.push(FieldError::new("limit", reason));
    }
}

fn check_camera(errors: &mut Vec<FieldError>, field: &str, id: &str) {
    let mut chars = id.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        errors.push(FieldError::new(
            field,
            format!("{} is not a camera id: {CAMERA_NAME_RULE}", quote(id)),
        ));
    }
}

fn check_past(errors: &mut Vec<FieldError>, field: &str, t: UnixMs, now: UnixMs) {
    if t > now {
        errors.push(FieldError::new(
            field,
            format!("{t} is in the future (now {now})"),
        ));
    } else if t < EARLIEST {
        errors.push(FieldError::new(
            field,
            format!("{t} is before 2000; the unit is milliseconds since 1970"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_374_400_000;

    fn report() -> NewReport {
        NewReport {
            channel: ReportChannel::Phone,
            reporter: Some("Zhang Wei".to_owned()),
            phone: Some("+86 (10) 1234-5678".to_owned()),
            received_at: None,
            summary: "Smoke over the oil depot".to_owned(),
            incident_type: Some(IncidentType::Fire),
            occurred_at: Some(NOW - 60_000),
            location: None,
            enterprise_id: None,
            figures: Figures::default(),
            external_ref: None,
        }
    }

    #[test]
    fn reports_are_checked_field_by_field() {
        assert_eq!(report().validate(NOW), []);
        let mut bad = report();
        bad.phone = Some("call me".to_owned());
        bad.summary = " ".to_owned();
        bad.received_at = Some(NOW + 1);
        bad.location = Some(Location::default());
        bad.figures.deaths = Some(-2);
        let fields: Vec<String> = bad.validate(NOW).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "phone",
                "received_at",
                "summary",
                "location.address",
                "figures.deaths"
            ]
        );
        let mut late = report();
        late.received_at = Some(NOW - 120_000);
        assert_eq!(late.validate(NOW)[0].field, "occurred_at");
    }

    #[test]
    fn evidence_is_checked_and_tagged() {
        let camera: Evidence =
            serde_json::from_str(r#"{"kind": "camera", "camera_id": "gas-01"}"#).expect("parse");
        assert_eq!(camera.validate(NOW), []);
        assert_eq!(camera.kind(), TimelineKind::CameraAttached);
        let bad = Evidence::VideoBookmark {
            camera_id: "Gas 01".to_owned(),
            from: NOW,
            to: NOW - 1,
            note: Some(String::new()),
        };
        let fields: Vec<String> = bad.validate(NOW).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["camera_id", "to", "note"]);
        assert!(serde_json::from_str::<Evidence>(r#"{"kind": "note", "text": "x"}"#).is_err());
    }

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in [
            TimelineKind::Opened,
            TimelineKind::ReportChainExtended,
            TimelineKind::TaskTransitioned,
            TimelineKind::VideoBookmarked,
        ] {
            let json = serde_json::to_value(kind).expect("serialize");
            assert_eq!(json, kind.as_str());
        }
        assert_eq!(
            serde_json::to_value(ReportChannel::EnterpriseSelfReport).expect("serialize"),
            ReportChannel::EnterpriseSelfReport.as_str()
        );
    }

    #[test]
    fn filters_check_limit_and_range() {
        let filter = IncidentFilter {
            limit: Some(MAX_LIMIT + 1),
            opened_from: Some(NOW),
            opened_to: Some(NOW - 1),
            ..IncidentFilter::default()
        };
        let fields: Vec<String> = filter.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["limit", "opened_to"]);
        assert_eq!(check_operator("duty-1"), Ok(()));
        assert_eq!(
            check_operator("").expect_err("blank").field_errors()[0].field,
            "operator"
        );
    }
}
