//! The command module's domain core: incidents, their accident grade and statutory report
//! clocks, and dispatch tasks — pure types and rules, no IO, no clock reads.
//!
//! Storage and HTTP are built on top: they load a value, call a method with the time it
//! should act at, persist the result and record the events it returned on the timeline.
//!
//! # Vocabulary
//!
//! - **Incident** ([`Incident`]): one emergency from intake to closure. It has a *type*
//!   ([`IncidentType`]: fire, explosion, …), a *location* and administrative *division*,
//!   the *enterprise* involved (its ledger id), casualty and loss *figures*, and an
//!   *exercise* flag (the same workflow, excluded from statistics). Its lifecycle
//!   ([`IncidentState`]) is `new → active ⇄ monitoring → closed`; a closed incident never
//!   changes again.
//! - **Figures** ([`Figures`]): deaths, missing persons, serious injuries (including acute
//!   industrial poisoning) and direct economic loss in whole yuan. Each may be *unknown*
//!   (`None`, "not yet reported"), which is not the same as a reported `0`.
//! - **Accident grade** ([`AccidentGrade`]): general, larger, major, especially serious,
//!   computed from the figures by State Council order 493 art. 3 — the highest grade
//!   reached by any one criterion ([`Criterion`]) applies, and it is recomputed whenever
//!   the figures change. It is never set by hand.
//! - **Warning level** ([`WarningLevel`], blue/yellow/orange/red) and **response level**
//!   ([`ResponseLevel`], IV … I) are separate decisions of the command centre, kept apart
//!   from the grade and from each other.
//! - **Report chain** ([`ReportChain`]): the statutory reports the grade requires — the
//!   unit to the county-level regulator within 1 h, then each authority one level up within
//!   2 h, up to the prefecture (general), province (larger) or national level (major,
//!   especially serious) ([`AuthorityLevel`]) — with deadlines, time remaining and overdue
//!   flags ([`ReportClock`]).
//! - **Task** ([`Task`]): one unit (rescue team, expert, vehicle) dispatched to an
//!   incident, with its own lifecycle ([`TaskState`]) `notified → acknowledged → en route →
//!   on scene → released`, a timestamp per transition and the time spent in each state.
//! - **Command** ([`IncidentCommand`]): an operator's request to change an incident;
//!   accepted commands return **events** ([`IncidentEvent`]), which are what the timeline
//!   records; refused commands return a [`DomainError`] and change nothing.
//!
//! # Units and conventions
//!
//! - Times are [`UnixMs`]: milliseconds since the Unix epoch, UTC (as in the devices
//!   crate). Every method that needs "now" takes it as an argument.
//! - Money is whole yuan (元) in an `i64` ([`Figures::direct_loss_yuan`]); the regulation's
//!   thresholds (¥10 M, ¥50 M, ¥100 M) are whole yuan, and fen would add nothing.
//! - Counts of people are `i64` in the input so that impossible values (negative deaths)
//!   can be refused with the field named ([`FieldError`]) instead of failing to parse.
//! - Enumerations serialize in snake_case (`especially_serious`, `en_route`, `tailings_dam`).

mod clock;
mod error;
mod grade;
mod id;
mod incident;
mod task;

pub use clock::{
    AuthorityLevel, PER_LEVEL_MS, ReportChain, ReportChainRecord, ReportClock, ReportStatus,
    ReportStep, UNIT_TO_COUNTY_MS,
};
pub use error::{DomainError, FieldError};
pub(crate) use error::{check_opt_text, check_text, quote};
pub use grade::{
    AccidentGrade, Criterion, Figures, Grading, MAX_LOSS_YUAN, MAX_PERSONS, ResponseLevel,
    Thresholds, WarningLevel,
};
pub use id::{ID_RULE, IncidentId, ReportId, TaskId, UnitId};
pub(crate) use id::{id_schema, id_type, valid_id};
pub use incident::{
    Incident, IncidentCommand, IncidentEvent, IncidentRecord, IncidentState, IncidentType,
    Location, NewIncident, Position,
};
pub use task::{Task, TaskRecord, TaskState, TaskTransition};

/// A point in time: milliseconds since the Unix epoch (1970-01-01T00:00:00Z).
pub type UnixMs = i64;
