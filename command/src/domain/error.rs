//! Why the domain refused something: invalid input ([`FieldError`]s naming each field) or
//! a rule of the incident and task lifecycles ([`DomainError`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::clock::AuthorityLevel;
use super::grade::AccidentGrade;
use super::incident::IncidentState;
use super::task::TaskState;

/// One invalid field: its path in the input (`figures.deaths`, `location.position.lon`,
/// `summary`) and why, in words an operator can act on. The reason may quote the rejected
/// value (numbers, at most the first 40 characters of text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Field path, dot-separated from the command's or record's top level.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    /// A field error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error with `prefix.` put before the field path.
    pub fn prefixed(self, prefix: &str) -> FieldError {
        FieldError {
            field: format!("{prefix}.{}", self.field),
            reason: self.reason,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Why a command, transition or record was refused. A refused operation changes nothing.
///
/// [`code`](Self::code) is a stable snake_case name for API answers; the `Display` text
/// names the field or state and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Some input fields are invalid (all of them are listed, not only the first).
    /// HTTP: 422.
    #[error("invalid input: {}", join(errors))]
    Invalid {
        /// Each invalid field and why.
        errors: Vec<FieldError>,
    },
    /// The incident is closed: a closed incident is immutable. HTTP: 409.
    #[error("the incident is closed and can no longer be changed; open a new incident instead")]
    Closed,
    /// Closing was refused because tasks are still open. HTTP: 409.
    #[error(
        "the incident cannot be closed while {count} dispatch task(s) are open: release them first"
    )]
    OpenTasks {
        /// How many tasks are not released.
        count: usize,
    },
    /// Closing an activated incident was refused because statutory reports are not
    /// recorded yet. HTTP: 409.
    #[error(
        "the incident cannot be closed before the statutory report(s) to the {} are recorded",
        pending.iter().map(ToString::to_string).collect::<Vec<_>>().join(", the ")
    )]
    ReportsPending {
        /// The levels whose report is not recorded, lowest first.
        pending: Vec<AuthorityLevel>,
    },
    /// The incident state machine has no such transition. HTTP: 409.
    #[error("an incident cannot go from {from} to {to}{}", incident_hint(*from, *to))]
    IllegalIncidentTransition {
        /// The current state.
        from: IncidentState,
        /// The requested state.
        to: IncidentState,
    },
    /// The task state machine has no such transition. HTTP: 409.
    #[error("a task cannot go from {from} to {to}: {}", task_hint(*from, *to))]
    IllegalTaskTransition {
        /// The current state.
        from: TaskState,
        /// The requested state.
        to: TaskState,
    },
    /// A report was recorded to a level the incident's grade does not require. HTTP: 409.
    #[error(
        "no statutory report to the {to} is required for a {grade} accident (the chain ends at the {target})"
    )]
    ReportNotRequired {
        /// The level named in the command.
        to: AuthorityLevel,
        /// The incident's grade.
        grade: AccidentGrade,
        /// The highest level the chain requires.
        target: AuthorityLevel,
    },
    /// The report to this level was recorded before. HTTP: 409.
    #[error("the report to the {to} was already recorded (at {made_at} ms since the epoch)")]
    AlreadyReported {
        /// The level.
        to: AuthorityLevel,
        /// When it was recorded as made, Unix ms.
        made_at: i64,
    },
}

impl DomainError {
    /// A stable snake_case name of the error kind, for API answers and tests.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "invalid",
            DomainError::Closed => "closed",
            DomainError::OpenTasks { .. } => "open_tasks",
            DomainError::ReportsPending { .. } => "reports_pending",
            DomainError::IllegalIncidentTransition { .. } => "illegal_incident_transition",
            DomainError::IllegalTaskTransition { .. } => "illegal_task_transition",
            DomainError::ReportNotRequired { .. } => "report_not_required",
            DomainError::AlreadyReported { .. } => "already_reported",
        }
    }

    /// The invalid fields, if this is [`DomainError::Invalid`]; empty otherwise.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            DomainError::Invalid { errors } => errors,
            _ => &[],
        }
    }

    /// `Ok(())` when `errors` is empty, [`DomainError::Invalid`] otherwise.
    pub(crate) fn check(errors: Vec<FieldError>) -> Result<(), DomainError> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid { errors })
        }
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn incident_hint(from: IncidentState, to: IncidentState) -> &'static str {
    match (from, to) {
        (IncidentState::New, IncidentState::Monitoring) => ": activate it first",
        (_, IncidentState::New) => ": an incident never returns to new",
        _ if from == to => ": it already is",
        _ => "",
    }
}

fn task_hint(from: TaskState, to: TaskState) -> String {
    if from == TaskState::Released {
        "a released task is finished; dispatch a new task instead".to_owned()
    } else if to == from {
        format!("it already is {from}")
    } else if to < from {
        "a task never goes back".to_owned()
    } else {
        match from.next() {
            Some(next) => format!("it must be {next} first (or released to stand the unit down)"),
            None => "a released task is finished".to_owned(),
        }
    }
}

/// Quotes at most 40 characters of `text` for a reason.
pub(crate) fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("\"{head}…\"")
    } else {
        format!("\"{head}\"")
    }
}

/// Checks a required text field: not blank, at most `max` characters.
pub(crate) fn check_text(errors: &mut Vec<FieldError>, field: &str, text: &str, max: usize) {
    if text.trim().is_empty() {
        errors.push(FieldError::new(field, "is required and must not be blank"));
    } else {
        check_len(errors, field, text, max);
    }
}

/// Checks an optional text field: when present, not blank and at most `max` characters.
pub(crate) fn check_opt_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    max: usize,
) {
    if let Some(text) = text {
        if text.trim().is_empty() {
            errors.push(FieldError::new(
                field,
                "must not be blank (leave it out or null when unknown)",
            ));
        } else {
            check_len(errors, field, text, max);
        }
    }
}

fn check_len(errors: &mut Vec<FieldError>, field: &str, text: &str, max: usize) {
    let len = text.chars().count();
    if len > max {
        errors.push(FieldError::new(
            field,
            format!(
                "is {len} characters long, at most {max} are allowed (starts {})",
                quote(text)
            ),
        ));
    }
}
