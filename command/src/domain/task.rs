//! Dispatch tasks: one unit sent to one incident, and its lifecycle.
//!
//! # Lifecycle
//!
//! ```text
//! notified ─▶ acknowledged ─▶ en_route ─▶ on_scene ─▶ released
//!     │             │             │                      ▲
//!     └─────────────┴─────────────┴──── stand down ──────┘
//! ```
//!
//! - A task is created `notified` ([`Task::notify`]).
//! - It moves **one step forward** at a time; no step may be skipped, because each one is
//!   a fact the command centre tracks (in particular the acknowledgement): a unit that
//!   reports "en route" before acknowledging is first recorded as acknowledged, by a
//!   separate transition at the same time if need be.
//! - The one exception: **`released` is reachable from every open state** — a unit stood
//!   down before reaching the scene (not needed any more, replaced, cancelled).
//!   [`Task::stood_down`] tells such a release from one after work on scene.
//! - Nothing goes back, nothing leaves `released`, and moving to the current state is
//!   refused: all with [`DomainError::IllegalTaskTransition`] naming both states.
//!
//! Every transition is stamped (Unix ms); stamps never decrease (a time before the last
//! transition counts as that transition's time, as clocks of several nodes differ
//! slightly). [`Task::time_in`] gives the time spent in each state; the released state's
//! time is zero (the task's clock stops there), so the times in all states add up to
//! [`Task::elapsed`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::UnixMs;
use super::error::{DomainError, FieldError, check_opt_text};
use super::id::{IncidentId, TaskId, UnitId};

/// Longest instructions, in characters.
const MAX_INSTRUCTIONS: usize = 2000;

/// A task's lifecycle state, in lifecycle order (`Notified < … < Released`). Serialized in
/// snake_case (`en_route`, `on_scene`).
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
pub enum TaskState {
    /// The unit was told (initial state).
    Notified,
    /// The unit confirmed it received the task.
    Acknowledged,
    /// The unit is on its way.
    EnRoute,
    /// The unit is working on scene.
    OnScene,
    /// The unit is released (terminal): done, or stood down early.
    Released,
}

impl TaskState {
    /// Every state, in lifecycle order.
    pub const ALL: [TaskState; 5] = [
        TaskState::Notified,
        TaskState::Acknowledged,
        TaskState::EnRoute,
        TaskState::OnScene,
        TaskState::Released,
    ];

    /// The next state along the chain; `None` for released.
    pub const fn next(self) -> Option<TaskState> {
        match self {
            TaskState::Notified => Some(TaskState::Acknowledged),
            TaskState::Acknowledged => Some(TaskState::EnRoute),
            TaskState::EnRoute => Some(TaskState::OnScene),
            TaskState::OnScene => Some(TaskState::Released),
            TaskState::Released => None,
        }
    }

    /// Whether the lifecycle allows `self → to`: the next state, or released from any
    /// open state.
    pub fn can_go_to(self, to: TaskState) -> bool {
        self != TaskState::Released && (self.next() == Some(to) || to == TaskState::Released)
    }

    /// Whether a task in this state is open (blocks closing its incident): every state
    /// but released.
    pub const fn is_open(self) -> bool {
        !matches!(self, TaskState::Released)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Notified => "notified",
            TaskState::Acknowledged => "acknowledged",
            TaskState::EnRoute => "en route",
            TaskState::OnScene => "on scene",
            TaskState::Released => "released",
        })
    }
}

/// One entry into a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskTransition {
    /// The state entered.
    pub state: TaskState,
    /// When, Unix ms.
    pub at: UnixMs,
}

/// A dispatch task (see the module documentation). Built by [`Task::notify`], changed only
/// through [`Task::transition`], loaded from storage through [`TaskRecord`].
///
/// Invariants: the transitions start with `notified`, each follows the previous one by a
/// legal step, and their times never decrease. Serializes to the [`TaskRecord`] fields
/// plus `state` (derived, ignored on input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "TaskRecord")]
pub struct Task {
    id: TaskId,
    incident_id: IncidentId,
    unit_id: UnitId,
    instructions: Option<String>,
    state: TaskState,
    transitions: Vec<TaskTransition>,
}

/// A task as stored, checked when turned into a [`Task`] (`TryFrom`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRecord {
    /// Id.
    pub id: TaskId,
    /// The incident the unit is sent to.
    pub incident_id: IncidentId,
    /// The unit.
    pub unit_id: UnitId,
    /// What the unit is asked to do.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Ignored: the state is the last transition's.
    #[serde(default)]
    pub state: Option<TaskState>,
    /// Every transition, oldest first, starting with `notified`.
    pub transitions: Vec<TaskTransition>,
}

impl TryFrom<TaskRecord> for Task {
    type Error = DomainError;

    /// Replays the transitions through the lifecycle; the error names the first bad one.
    fn try_from(r: TaskRecord) -> Result<Task, DomainError> {
        let mut errors = Vec::new();
        check_opt_text(
            &mut errors,
            "instructions",
            r.instructions.as_deref(),
            MAX_INSTRUCTIONS,
        );
        DomainError::check(errors)?;
        let Some(first) = r.transitions.first() else {
            return Err(DomainError::Invalid {
                errors: vec![FieldError::new(
                    "transitions",
                    "must start with the notified state",
                )],
            });
        };
        if first.state != TaskState::Notified {
            return Err(DomainError::Invalid {
                errors: vec![FieldError::new(
                    "transitions[0].state",
                    format!("is {}, a task starts notified", first.state),
                )],
            });
        }
        let mut task = Task {
            id: r.id,
            incident_id: r.incident_id,
            unit_id: r.unit_id,
            instructions: r.instructions,
            state: TaskState::Notified,
            transitions: vec![*first],
        };
        for (i, t) in r.transitions.iter().enumerate().skip(1) {
            let last = task.last_at();
            if t.at < last {
                return Err(DomainError::Invalid {
                    errors: vec![FieldError::new(
                        format!("transitions[{i}].at"),
                        format!("{} is before the previous transition ({last})", t.at),
                    )],
                });
            }
            task.transition(t.state, t.at)?;
        }
        Ok(task)
    }
}

impl From<Task> for TaskRecord {
    fn from(t: Task) -> TaskRecord {
        TaskRecord {
            id: t.id,
            incident_id: t.incident_id,
            unit_id: t.unit_id,
            instructions: t.instructions,
            state: Some(t.state),
            transitions: t.transitions,
        }
    }
}

fn duration_ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Task {
    /// A task sending `unit_id` to `incident_id`, notified at `at` (Unix ms), with optional
    /// instructions (1 to 2000 characters). Check that the incident takes dispatches
    /// first ([`super::Incident::check_dispatch`]).
    ///
    /// Refused with [`DomainError::Invalid`] on `instructions` when blank or too long.
    pub fn notify(
        id: TaskId,
        incident_id: IncidentId,
        unit_id: UnitId,
        instructions: Option<String>,
        at: UnixMs,
    ) -> Result<Task, DomainError> {
        let mut errors = Vec::new();
        check_opt_text(
            &mut errors,
            "instructions",
            instructions.as_deref(),
            MAX_INSTRUCTIONS,
        );
        DomainError::check(errors)?;
        Ok(Task {
            id,
            incident_id,
            unit_id,
            instructions,
            state: TaskState::Notified,
            transitions: vec![TaskTransition {
                state: TaskState::Notified,
                at,
            }],
        })
    }

    /// Moves the task to `to` at `at` (Unix ms; a time before the last transition counts
    /// as the last transition's time) and returns the recorded transition.
    ///
    /// Refused with [`DomainError::IllegalTaskTransition`] unless `to` is the next state
    /// or released from an open state; a refused transition changes nothing.
    pub fn transition(&mut self, to: TaskState, at: UnixMs) -> Result<TaskTransition, DomainError> {
        let from = self.state;
        if !from.can_go_to(to) {
            return Err(DomainError::IllegalTaskTransition { from, to });
        }
        let transition = TaskTransition {
            state: to,
            at: at.max(self.last_at()),
        };
        self.transitions.push(transition);
        self.state = to;
        Ok(transition)
    }

    /// Id.
    pub fn id(&self) -> &TaskId {
        &self.id
    }

    /// The incident.
    pub fn incident_id(&self) -> &IncidentId {
        &self.incident_id
    }

    /// The unit.
    pub fn unit_id(&self) -> &UnitId {
        &self.unit_id
    }

    /// Instructions to the unit.
    pub fn instructions(&self) -> Option<&str> {
        self.instructions.as_deref()
    }

    /// The current state.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Whether the task is open (not released).
    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Every transition, oldest first; the first is `notified`.
    pub fn transitions(&self) -> &[TaskTransition] {
        &self.transitions
    }

    /// When the task entered `state`, Unix ms; `None` if it never did.
    pub fn entered_at(&self, state: TaskState) -> Option<UnixMs> {
        self.transitions
            .iter()
            .find(|t| t.state == state)
            .map(|t| t.at)
    }

    /// When the unit was notified, Unix ms.
    pub fn notified_at(&self) -> UnixMs {
        self.transitions.first().map_or(0, |t| t.at)
    }

    /// Whether the unit was released without reaching the scene (stood down).
    pub fn stood_down(&self) -> bool {
        self.state == TaskState::Released && self.entered_at(TaskState::OnScene).is_none()
    }

    fn last_at(&self) -> UnixMs {
        self.transitions.last().map_or(0, |t| t.at)
    }

    /// When the task's clock stops: the release time, else `now` (never before the last
    /// transition).
    fn end(&self, now: UnixMs) -> UnixMs {
        self.entered_at(TaskState::Released)
            .unwrap_or_else(|| now.max(self.last_at()))
    }

    /// Time spent in `state` as of `now` (Unix ms): from entering it to entering the next
    /// one, or to `now` for the current state (zero if `now` is before it was entered);
    /// zero for a state never entered and for released.
    pub fn time_in(&self, state: TaskState, now: UnixMs) -> Duration {
        if state == TaskState::Released {
            return Duration::ZERO;
        }
        let end = self.end(now);
        let mut iter = self.transitions.iter().peekable();
        while let Some(t) = iter.next() {
            if t.state == state {
                let until = iter.peek().map_or(end, |next| next.at);
                return duration_ms(until.saturating_sub(t.at));
            }
        }
        Duration::ZERO
    }

    /// Time from notification to release, or to `now` while open (Unix ms): the sum of
    /// [`time_in`](Self::time_in) over every state.
    pub fn elapsed(&self, now: UnixMs) -> Duration {
        duration_ms(self.end(now).saturating_sub(self.notified_at()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    use TaskState::{Acknowledged, EnRoute, Notified, OnScene, Released};

    fn task(at: UnixMs) -> Task {
        Task::notify(
            TaskId::parse("t-1").expect("id"),
            IncidentId::parse("inc-1").expect("id"),
            UnitId::parse("fire-team-3").expect("id"),
            Some("Cool the neighbouring tanks.".to_owned()),
            at,
        )
        .expect("notify")
    }

    #[test]
    fn the_full_chain_with_times_per_state() {
        let mut t = task(T0);
        t.transition(Acknowledged, T0 + MIN).expect("ack");
        t.transition(EnRoute, T0 + 3 * MIN).expect("en route");
        t.transition(OnScene, T0 + 20 * MIN).expect("on scene");
        assert_eq!(t.time_in(OnScene, T0 + 30 * MIN), duration_ms(10 * MIN));
        t.transition(Released, T0 + 80 * MIN).expect("released");
        let now = T0 + 1000 * MIN;
        assert_eq!(t.time_in(Notified, now), duration_ms(MIN));
        assert_eq!(t.time_in(Acknowledged, now), duration_ms(2 * MIN));
        assert_eq!(t.time_in(EnRoute, now), duration_ms(17 * MIN));
        assert_eq!(t.time_in(OnScene, now), duration_ms(60 * MIN));
        assert_eq!(t.time_in(Released, now), Duration::ZERO);
        assert_eq!(t.elapsed(now), duration_ms(80 * MIN));
        assert!(!t.stood_down());
        assert!(!t.is_open());
        assert_eq!(t.entered_at(EnRoute), Some(T0 + 3 * MIN));
    }

    #[test]
    fn illegal_transitions_are_refused_with_both_states() {
        let mut t = task(T0);
        let err = t.transition(EnRoute, T0 + 1).expect_err("skip ack");
        assert_eq!(
            err,
            DomainError::IllegalTaskTransition {
                from: Notified,
                to: EnRoute
            }
        );
        assert_eq!(
            err.to_string(),
            "a task cannot go from notified to en route: it must be acknowledged first (or released to stand the unit down)"
        );
        let err = t.transition(Notified, T0 + 1).expect_err("same");
        assert!(err.to_string().contains("already is notified"), "{err}");
        t.transition(Acknowledged, T0 + 1).expect("ack");
        let err = t.transition(Notified, T0 + 2).expect_err("back");
        assert!(err.to_string().contains("never goes back"), "{err}");
        t.transition(Released, T0 + 3).expect("stand down");
        assert!(t.stood_down());
        let err = t.transition(OnScene, T0 + 4).expect_err("after release");
        assert!(
            err.to_string().contains("released task is finished"),
            "{err}"
        );
        assert_eq!(t.transitions().len(), 3);
    }

    #[test]
    fn times_never_go_backwards() {
        let mut t = task(T0);
        let recorded = t.transition(Acknowledged, T0 - 5).expect("ack");
        assert_eq!(recorded.at, T0);
        assert_eq!(t.time_in(Notified, T0 - 100), Duration::ZERO);
        assert_eq!(t.time_in(Acknowledged, T0 - 100), Duration::ZERO);
    }

    #[test]
    fn records_are_replayed() {
        let mut t = task(T0);
        t.transition(Acknowledged, T0 + 1).expect("ack");
        let json = serde_json::to_value(&t).expect("serialize");
        assert_eq!(json["state"], "acknowledged");
        let back: Task = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, t);
        let mut record = TaskRecord::from(t);
        record.transitions.push(TaskTransition {
            state: OnScene,
            at: T0 + 2,
        });
        assert_eq!(
            Task::try_from(record.clone()).expect_err("skip").code(),
            "illegal_task_transition"
        );
        record.transitions[2] = TaskTransition {
            state: EnRoute,
            at: T0,
        };
        let err = Task::try_from(record).expect_err("backwards");
        assert_eq!(err.field_errors()[0].field, "transitions[2].at");
        let blank = Task::notify(
            TaskId::parse("t-2").expect("id"),
            IncidentId::parse("inc-1").expect("id"),
            UnitId::parse("u").expect("id"),
            Some(" ".to_owned()),
            T0,
        )
        .expect_err("blank");
        assert_eq!(blank.field_errors()[0].field, "instructions");
    }

    proptest! {
        #[test]
        fn the_task_machine_only_moves_forward(
            steps in prop::collection::vec((prop::sample::select(TaskState::ALL.to_vec()), -5 * MIN..30 * MIN), 0..20),
            later in 0i64..60 * MIN,
        ) {
            let mut t = task(T0);
            let mut now = T0;
            for (to, step) in steps {
                now += step;
                let before = t.clone();
                match t.transition(to, now) {
                    Ok(recorded) => {
                        prop_assert!(before.state().can_go_to(to));
                        prop_assert!(to > before.state());
                        prop_assert_eq!(t.state(), to);
                        prop_assert_eq!(t.transitions().len(), before.transitions().len() + 1);
                        prop_assert!(recorded.at >= before.transitions().last().map_or(T0, |l| l.at));
                    }
                    Err(err) => {
                        prop_assert_eq!(err, DomainError::IllegalTaskTransition { from: before.state(), to });
                        prop_assert_eq!(&t, &before);
                    }
                }
                // Monotone states and times, each state entered at most once.
                for pair in t.transitions().windows(2) {
                    prop_assert!(pair[0].state < pair[1].state);
                    prop_assert!(pair[0].at <= pair[1].at);
                }
                let now_later = now + later;
                let sum: Duration = TaskState::ALL.iter().map(|&s| t.time_in(s, now_later)).sum();
                prop_assert_eq!(sum, t.elapsed(now_later));
                prop_assert_eq!(Task::try_from(TaskRecord::from(t.clone())).ok(), Some(t.clone()));
            }
        }
    }
}
