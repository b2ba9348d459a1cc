//! Statutory report clocks (order 493 arts. 9 – 11).
//!
//! # The chain
//!
//! After an accident the unit's head reports to the county-level regulator within **1 h**
//! (art. 9); each authority then reports one level up within **2 h** of receiving the
//! report (art. 11), up to the level the grade requires (art. 10): the prefecture (设区的市)
//! for a general accident, the province for a larger one, the national level (the State
//! Council's departments) for a major or especially serious one. Each link is a
//! [`ReportStep`], named by the level it goes **to** ([`AuthorityLevel`]).
//!
//! # Deadlines
//!
//! - To the county: `started_at + 1 h`, where `started_at` is the incident's occurrence
//!   time. (Art. 9 counts from when the unit's head is told; the system does not know that
//!   moment, so it takes the earliest one, which is the strictest reading.)
//! - To each level above: `max(base, required_since) + 2 h`, where `base` is the moment
//!   the level below received its report — when it was recorded as made, else that level's
//!   own deadline (the latest it may lawfully arrive) — and `required_since` is when this
//!   step became required: `started_at` for the steps the first grade requires, the
//!   regrade time for steps added later. So a recorded report moves the next deadline
//!   (earlier or later, as it actually happened), and a rise in grade gives the newly
//!   required authority its full 2 h from the regrade rather than a deadline already past.
//! - A step is **overdue** when it is not made and `now > due_at`; at `due_at` exactly it
//!   is still on time ("within 1 h" includes the hour). A report made after its deadline
//!   is **made late**.
//!
//! The chain only grows: a regrade upward appends steps; a regrade downward removes none
//! (the authorities already told of the higher grade are owed the correction as a
//! supplementary report, art. 13, and an obligation that arose does not vanish). Reports
//! may be recorded out of order (art. 10 allows skipping a level when necessary); the
//! levels below are still owed theirs.
//!
//! Not modelled here: the supplementary reports of art. 13 (within 30 days, 7 for road
//! and fire accidents, when casualties change) and the national level's immediate report
//! to the State Council.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::UnixMs;
use super::error::{DomainError, FieldError};
use super::grade::AccidentGrade;

/// Time the unit has to report to the county-level regulator: 1 hour, in ms.
pub const UNIT_TO_COUNTY_MS: i64 = 3_600_000;
/// Time each authority has to report one level up: 2 hours, in ms.
pub const PER_LEVEL_MS: i64 = 7_200_000;

/// An authority a statutory report goes to, ordered upward (`County < Prefecture <
/// Province < National`). Serialized in snake_case.
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
pub enum AuthorityLevel {
    /// The county-level regulator (县级) where the accident happened; the unit reports here.
    County,
    /// The prefecture-level (设区的市级) regulator: the top for a general accident.
    Prefecture,
    /// The province-level (省级) regulator: the top for a larger accident.
    Province,
    /// The national (国务院) departments: the top for major and especially serious ones.
    National,
}

impl AuthorityLevel {
    /// Every level, lowest first.
    pub const ALL: [AuthorityLevel; 4] = [
        AuthorityLevel::County,
        AuthorityLevel::Prefecture,
        AuthorityLevel::Province,
        AuthorityLevel::National,
    ];

    /// The highest level an accident of `grade` must be reported to (art. 10).
    pub const fn target_for(grade: AccidentGrade) -> AuthorityLevel {
        match grade {
            AccidentGrade::General => AuthorityLevel::Prefecture,
            AccidentGrade::Larger => AuthorityLevel::Province,
            AccidentGrade::Major | AccidentGrade::EspeciallySerious => AuthorityLevel::National,
        }
    }

    /// How long the reporter has to report to this level, ms: [`UNIT_TO_COUNTY_MS`] for the
    /// county, [`PER_LEVEL_MS`] above.
    pub const fn time_limit_ms(self) -> i64 {
        match self {
            AuthorityLevel::County => UNIT_TO_COUNTY_MS,
            _ => PER_LEVEL_MS,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for AuthorityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthorityLevel::County => "county-level regulator",
            AuthorityLevel::Prefecture => "prefecture-level regulator",
            AuthorityLevel::Province => "province-level regulator",
            AuthorityLevel::National => "national level",
        })
    }
}

/// One required report, as stored: where it goes, since when it is required, and when it
/// was made. Its deadline depends on the step below, see [`ReportChain::clocks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportStep {
    /// The level the report goes to.
    pub to: AuthorityLevel,
    /// When the step became required, Unix ms: the chain's start, or the regrade that
    /// extended the chain.
    pub required_since: UnixMs,
    /// When the report was made, Unix ms; `None` while it is owed.
    pub made_at: Option<UnixMs>,
}

/// Where a report stands at some moment. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Owed, deadline not passed (`now <= due_at`).
    Pending,
    /// Owed, deadline passed (`now > due_at`).
    Overdue,
    /// Made by its deadline (`made_at <= due_at`).
    Made,
    /// Made after its deadline.
    MadeLate,
}

/// A report's clock at a given `now`: what the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportClock {
    /// The level the report goes to.
    pub to: AuthorityLevel,
    /// When the step became required, Unix ms.
    pub required_since: UnixMs,
    /// The deadline, Unix ms.
    pub due_at: UnixMs,
    /// When it was made, Unix ms.
    pub made_at: Option<UnixMs>,
    /// `due_at - now` in ms while the report is owed (negative once overdue); `None` once
    /// made.
    pub remaining_ms: Option<i64>,
    /// Owed and past its deadline.
    pub overdue: bool,
    /// The status.
    pub status: ReportStatus,
}

/// The statutory reports an incident owes, from the county up to the level its grade
/// requires (see the module documentation). Only grows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "ReportChainRecord")]
pub struct ReportChain {
    started_at: UnixMs,
    steps: Vec<ReportStep>,
}

/// A [`ReportChain`] as stored, checked when turned into one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportChainRecord {
    /// When the clock started (the occurrence time), Unix ms.
    pub started_at: UnixMs,
    /// The steps, county first, one per level up to the chain's top.
    pub steps: Vec<ReportStep>,
}

impl TryFrom<ReportChainRecord> for ReportChain {
    type Error = DomainError;

    /// Checks that the steps are contiguous from the county up, that no step is required
    /// before the start or before the step below it, and that no report precedes the start.
    fn try_from(record: ReportChainRecord) -> Result<ReportChain, DomainError> {
        let mut errors = Vec::new();
        if record.steps.is_empty() {
            errors.push(FieldError::new(
                "steps",
                "must hold at least the report to the county-level regulator",
            ));
        }
        if record.steps.len() > AuthorityLevel::ALL.len() {
            errors.push(FieldError::new("steps", "holds more than four levels"));
        }
        let mut previous = record.started_at;
        for (i, (step, level)) in record.steps.iter().zip(AuthorityLevel::ALL).enumerate() {
            if step.to != level {
                errors.push(FieldError::new(
                    format!("steps[{i}].to"),
                    format!("is the {}, expected the {level}", step.to),
                ));
            }
            if step.required_since < previous {
                errors.push(FieldError::new(
                    format!("steps[{i}].required_since"),
                    "is before the chain's start or the step below",
                ));
            }
            previous = previous.max(step.required_since);
            if step.made_at.is_some_and(|made| made < record.started_at) {
                errors.push(FieldError::new(
                    format!("steps[{i}].made_at"),
                    "is before the chain's start",
                ));
            }
        }
        DomainError::check(errors)?;
        Ok(ReportChain {
            started_at: record.started_at,
            steps: record.steps,
        })
    }
}

impl ReportChain {
    /// The chain for an accident of `grade` whose clock starts at `started_at` (Unix ms):
    /// every step from the county to [`AuthorityLevel::target_for`]`(grade)`, none made.
    pub fn new(started_at: UnixMs, grade: AccidentGrade) -> ReportChain {
        let target = AuthorityLevel::target_for(grade);
        ReportChain {
            started_at,
            steps: AuthorityLevel::ALL
                .into_iter()
                .filter(|&to| to <= target)
                .map(|to| ReportStep {
                    to,
                    required_since: started_at,
                    made_at: None,
                })
                .collect(),
        }
    }

    /// When the clock started, Unix ms.
    pub fn started_at(&self) -> UnixMs {
        self.started_at
    }

    /// The steps, county first.
    pub fn steps(&self) -> &[ReportStep] {
        &self.steps
    }

    /// The highest level the chain requires.
    pub fn target(&self) -> AuthorityLevel {
        self.steps
            .last()
            .map_or(AuthorityLevel::County, |step| step.to)
    }

    /// The step to `to`, if required.
    pub fn step(&self, to: AuthorityLevel) -> Option<&ReportStep> {
        self.steps.get(to.index())
    }

    /// Each step's deadline, Unix ms, in step order.
    pub fn deadlines(&self) -> Vec<UnixMs> {
        let mut deadlines = Vec::with_capacity(self.steps.len());
        let mut base = self.started_at;
        for step in &self.steps {
            let due = base
                .max(step.required_since)
                .saturating_add(step.to.time_limit_ms());
            deadlines.push(due);
            base = step.made_at.unwrap_or(due);
        }
        deadlines
    }

    /// The deadline of the report to `to`, Unix ms; `None` if the chain does not require it.
    pub fn due_at(&self, to: AuthorityLevel) -> Option<UnixMs> {
        self.deadlines().get(to.index()).copied()
    }

    /// Every step's clock at `now` (Unix ms), county first.
    pub fn clocks(&self, now: UnixMs) -> Vec<ReportClock> {
        self.steps
            .iter()
            .zip(self.deadlines())
            .map(|(step, due_at)| {
                let status = match step.made_at {
                    Some(made) if made <= due_at => ReportStatus::Made,
                    Some(_) => ReportStatus::MadeLate,
                    None if now <= due_at => ReportStatus::Pending,
                    None => ReportStatus::Overdue,
                };
                ReportClock {
                    to: step.to,
                    required_since: step.required_since,
                    due_at,
                    made_at: step.made_at,
                    remaining_ms: step.made_at.is_none().then(|| due_at.saturating_sub(now)),
                    overdue: status == ReportStatus::Overdue,
                    status,
                }
            })
            .collect()
    }

    /// The owed report with the earliest deadline, with its clock at `now`.
    pub fn next_due(&self, now: UnixMs) -> Option<ReportClock> {
        self.clocks(now)
            .into_iter()
            .filter(|clock| clock.made_at.is_none())
            .min_by_key(|clock| clock.due_at)
    }

    /// Whether any owed report is past its deadline at `now`.
    pub fn any_overdue(&self, now: UnixMs) -> bool {
        self.clocks(now).iter().any(|clock| clock.overdue)
    }

    /// The levels whose report is still owed, lowest first.
    pub fn pending(&self) -> Vec<AuthorityLevel> {
        self.steps
            .iter()
            .filter(|step| step.made_at.is_none())
            .map(|step| step.to)
            .collect()
    }

    /// Extends the chain to what `grade` requires, the new steps required since `at`
    /// (Unix ms; never before the start). Returns the new top level if the chain grew,
    /// `None` if it already reached that far (it never shrinks).
    pub fn require(&mut self, grade: AccidentGrade, at: UnixMs) -> Option<AuthorityLevel> {
        let target = AuthorityLevel::target_for(grade);
        if target <= self.target() {
            return None;
        }
        let since = at.max(self.started_at).max(
            self.steps
                .last()
                .map_or(self.started_at, |step| step.required_since),
        );
        let missing = AuthorityLevel::ALL
            .into_iter()
            .skip(self.steps.len())
            .filter(|&to| to <= target);
        for to in missing {
            self.steps.push(ReportStep {
                to,
                required_since: since,
                made_at: None,
            });
        }
        Some(target)
    }

    /// Records the report to `to` as made at `made_at` (Unix ms) and returns its clock at
    /// that moment. `grade` is the incident's current grade, for the error message.
    ///
    /// Refused: a level the chain does not require ([`DomainError::ReportNotRequired`]),
    /// a report recorded before ([`DomainError::AlreadyReported`]), a `made_at` before the
    /// chain's start ([`DomainError::Invalid`] on `made_at`).
    pub fn record(
        &mut self,
        to: AuthorityLevel,
        made_at: UnixMs,
        grade: AccidentGrade,
    ) -> Result<ReportClock, DomainError> {
        let target = self.target();
        let step = self
            .steps
            .get_mut(to.index())
            .ok_or(DomainError::ReportNotRequired { to, grade, target })?;
        if let Some(made_at) = step.made_at {
            return Err(DomainError::AlreadyReported { to, made_at });
        }
        if made_at < self.started_at {
            return Err(DomainError::Invalid {
                errors: vec![FieldError::new(
                    "made_at",
                    format!(
                        "{made_at} is before the incident occurred ({}); a report cannot precede the accident",
                        self.started_at
                    ),
                )],
            });
        }
        step.made_at = Some(made_at);
        self.clocks(made_at)
            .get(to.index())
            .copied()
            .ok_or(DomainError::ReportNotRequired { to, grade, target })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const H: i64 = 3_600_000;
    const T0: i64 = 1_700_000_000_000;

    use AuthorityLevel::{County, National, Prefecture, Province};

    #[test]
    fn chain_length_follows_the_grade() {
        let levels = |g| {
            ReportChain::new(T0, g)
                .steps()
                .iter()
                .map(|s| s.to)
                .collect::<Vec<_>>()
        };
        assert_eq!(levels(AccidentGrade::General), [County, Prefecture]);
        assert_eq!(
            levels(AccidentGrade::Larger),
            [County, Prefecture, Province]
        );
        assert_eq!(
            levels(AccidentGrade::Major),
            [County, Prefecture, Province, National]
        );
        assert_eq!(
            levels(AccidentGrade::EspeciallySerious),
            [County, Prefecture, Province, National]
        );
    }

    #[test]
    fn deadlines_without_reports_are_1h_then_2h_per_level() {
        let chain = ReportChain::new(T0, AccidentGrade::Major);
        assert_eq!(
            chain.deadlines(),
            [T0 + H, T0 + 3 * H, T0 + 5 * H, T0 + 7 * H]
        );
    }

    #[test]
    fn remaining_and_overdue_at_the_boundary() {
        let chain = ReportChain::new(T0, AccidentGrade::General);
        let at_due = chain.clocks(T0 + H);
        assert_eq!(at_due[0].remaining_ms, Some(0));
        assert!(!at_due[0].overdue);
        assert_eq!(at_due[0].status, ReportStatus::Pending);
        let after = chain.clocks(T0 + H + 1);
        assert_eq!(after[0].remaining_ms, Some(-1));
        assert!(after[0].overdue);
        assert_eq!(after[0].status, ReportStatus::Overdue);
        assert!(chain.any_overdue(T0 + H + 1));
        assert_eq!(
            chain.next_due(T0).map(|c| (c.to, c.remaining_ms)),
            Some((County, Some(H)))
        );
    }

    #[test]
    fn a_recorded_report_moves_the_next_deadline() {
        let mut chain = ReportChain::new(T0, AccidentGrade::Larger);
        // Early county report: the prefecture's 2 h run from it.
        let clock = chain
            .record(County, T0 + 10 * 60_000, AccidentGrade::Larger)
            .expect("county");
        assert_eq!(clock.status, ReportStatus::Made);
        assert_eq!(chain.due_at(Prefecture), Some(T0 + 10 * 60_000 + 2 * H));
        // Late prefecture report: the province's 2 h run from when it actually arrived.
        let late = T0 + 4 * H;
        let clock = chain
            .record(Prefecture, late, AccidentGrade::Larger)
            .expect("prefecture");
        assert_eq!(clock.status, ReportStatus::MadeLate);
        assert_eq!(clock.remaining_ms, None);
        assert_eq!(chain.due_at(Province), Some(late + 2 * H));
        assert_eq!(chain.pending(), [Province]);
    }

    #[test]
    fn refusals() {
        let mut chain = ReportChain::new(T0, AccidentGrade::General);
        let err = chain
            .record(Province, T0, AccidentGrade::General)
            .expect_err("not required");
        assert_eq!(err.code(), "report_not_required");
        assert!(err.to_string().contains("general accident"), "{err}");
        chain
            .record(County, T0 + 1, AccidentGrade::General)
            .expect("first");
        let err = chain
            .record(County, T0 + 2, AccidentGrade::General)
            .expect_err("twice");
        assert_eq!(
            err,
            DomainError::AlreadyReported {
                to: County,
                made_at: T0 + 1
            }
        );
        let err = chain
            .record(Prefecture, T0 - 1, AccidentGrade::General)
            .expect_err("before");
        assert_eq!(err.field_errors()[0].field, "made_at");
    }

    #[test]
    fn a_regrade_extends_the_chain_from_the_regrade_time() {
        let mut chain = ReportChain::new(T0, AccidentGrade::General);
        chain
            .record(County, T0 + H / 2, AccidentGrade::General)
            .expect("county");
        chain
            .record(Prefecture, T0 + H, AccidentGrade::General)
            .expect("prefecture");
        // Two days later the figures rise to a major accident.
        let regrade = T0 + 48 * H;
        assert_eq!(chain.require(AccidentGrade::Major, regrade), Some(National));
        assert_eq!(chain.due_at(Province), Some(regrade + 2 * H));
        assert_eq!(chain.due_at(National), Some(regrade + 4 * H));
        assert!(!chain.any_overdue(regrade));
        // Down again: nothing is removed.
        assert_eq!(chain.require(AccidentGrade::General, regrade + 1), None);
        assert_eq!(chain.target(), National);
    }

    #[test]
    fn stored_chains_are_checked() {
        let chain = ReportChain::new(T0, AccidentGrade::Larger);
        let json = serde_json::to_string(&chain).expect("serialize");
        let back: ReportChain = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, chain);
        let record = ReportChainRecord {
            started_at: T0,
            steps: vec![ReportStep {
                to: Prefecture,
                required_since: T0 - 1,
                made_at: Some(T0 - 5),
            }],
        };
        let err = ReportChain::try_from(record).expect_err("bad record");
        let fields: Vec<_> = err.field_errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            ["steps[0].to", "steps[0].required_since", "steps[0].made_at"]
        );
    }

    fn grade() -> impl Strategy<Value = AccidentGrade> {
        prop::sample::select(AccidentGrade::ALL.to_vec())
    }

    #[derive(Debug, Clone)]
    enum Op {
        Regrade(AccidentGrade, i64),
        Record(usize, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (grade(), 0i64..100 * H).prop_map(|(g, t)| Op::Regrade(g, t)),
            (0usize..4, -H..100 * H).prop_map(|(i, t)| Op::Record(i, t)),
        ]
    }

    proptest! {
        #[test]
        fn chain_invariants(first in grade(), ops in prop::collection::vec(op(), 0..20), now in 0i64..200 * H) {
            let mut chain = ReportChain::new(T0, first);
            let mut peak = first;
            for op in ops {
                let before = chain.clone();
                match op {
                    Op::Regrade(g, t) => {
                        chain.require(g, T0 + t);
                        peak = peak.max(g);
                    }
                    Op::Record(i, t) => {
                        if chain.record(AuthorityLevel::ALL[i], T0 + t, peak).is_err() {
                            prop_assert_eq!(&chain, &before);
                        }
                    }
                }
                // Covers exactly what the highest grade so far requires, never less.
                prop_assert_eq!(chain.target(), AuthorityLevel::target_for(peak));
                prop_assert!(chain.steps().len() >= before.steps().len());
                // Made reports stay made.
                for (a, b) in before.steps().iter().zip(chain.steps()) {
                    if a.made_at.is_some() {
                        prop_assert_eq!(a.made_at, b.made_at);
                    }
                }
                // Each deadline is at least its time limit after the step became required.
                for (step, due) in chain.steps().iter().zip(chain.deadlines()) {
                    prop_assert!(due >= step.required_since + step.to.time_limit_ms());
                }
                // The round trip through the stored form keeps the chain.
                let record = ReportChainRecord { started_at: chain.started_at(), steps: chain.steps().to_vec() };
                prop_assert_eq!(ReportChain::try_from(record).ok(), Some(chain.clone()));
            }
            for clock in chain.clocks(T0 + now) {
                prop_assert_eq!(clock.overdue, clock.made_at.is_none() && T0 + now > clock.due_at);
                prop_assert_eq!(clock.remaining_ms.is_some(), clock.made_at.is_none());
            }
        }
    }
}
