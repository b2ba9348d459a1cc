//! Tour timing: which step a running tour shows at a given time, when it switches, and
//! when a monitor should start the next scene's streams ([`TourClock`]). Pure: the time
//! is passed in.

use serde::Serialize;

use super::model::{Check, SceneId, Tour, TourId, check_dwell};
use super::{Entity, WallError};
use crate::domain::UnixMs;

/// How long before a switch a monitor starts the next scene's streams, ms, so that their
/// first key frames are there when the switch comes.
pub const PREFETCH_MS: i64 = 1_500;

/// The schedule of one run of a tour: step `i` starts `sum(dwell[..i])` ms after the
/// start; a looping tour starts again after its last step, a non-looping one stays on
/// its last scene, and is over once that step's dwell time has passed.
///
/// Everything follows from the tour and its start time, so every node (and a reloaded
/// monitor page) computes the same step for the same time; it holds no state beyond
/// them. A tour of one step never switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TourClock {
    tour_id: TourId,
    steps: Vec<(SceneId, i64)>,
    looping: bool,
    started_at: UnixMs,
    /// The sum of the dwell times, ms (> 0).
    cycle_ms: i64,
}

/// Where a tour is at a given time ([`TourClock::poll`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TourStep {
    /// The step shown, from 0.
    pub step_index: usize,
    /// Its scene.
    pub scene_id: SceneId,
    /// When this step began, Unix ms.
    pub shown_at: UnixMs,
    /// When the next step begins, Unix ms; `None` when no switch follows (the last step
    /// of a non-looping tour, or a tour of one step).
    pub switch_at: Option<UnixMs>,
    /// When a monitor should start the next scene's streams: [`PREFETCH_MS`] before
    /// `switch_at` (always after `shown_at`, as a step lasts at least 3 s).
    pub prefetch_at: Option<UnixMs>,
    /// The step after this one, when a switch follows.
    pub next_index: Option<usize>,
    /// Its scene.
    pub next_scene_id: Option<SceneId>,
    /// When a non-looping tour is over (its last step's dwell time has passed; the last
    /// scene stays, and the driver stops the tour), Unix ms; `None` for a looping tour.
    pub ends_at: Option<UnixMs>,
    /// Whether the tour is over at the polled time.
    pub ended: bool,
}

impl TourClock {
    /// The clock of `tour` started at `started_at` (Unix ms).
    ///
    /// Errors: [`WallError::Invalid`] when the tour has no step or a dwell time outside
    /// 3 s to 1 h (a stored tour always passed these checks).
    pub fn new(tour: &Tour, started_at: UnixMs) -> Result<TourClock, WallError> {
        let mut check = Check::default();
        if tour.steps.is_empty() {
            check.bad("steps", "a tour needs at least one step");
        }
        for (i, step) in tour.steps.iter().enumerate() {
            check_dwell(&mut check, &format!("steps[{i}].dwell_ms"), step.dwell_ms);
        }
        check
            .finish(Some(()))
            .map_err(|errors| WallError::invalid(Entity::Tour, Some(tour.id.as_str()), errors))?;
        Ok(TourClock {
            tour_id: tour.id.clone(),
            steps: tour
                .steps
                .iter()
                .map(|s| (s.scene_id.clone(), s.dwell_ms))
                .collect(),
            looping: tour.looping,
            started_at,
            cycle_ms: tour.steps.iter().map(|s| s.dwell_ms).sum(),
        })
    }

    /// The tour.
    pub fn tour_id(&self) -> &TourId {
        &self.tour_id
    }

    /// When the tour started, Unix ms.
    pub fn started_at(&self) -> UnixMs {
        self.started_at
    }

    /// Where the tour is at `now` (Unix ms). Before the start it is at step 0.
    pub fn poll(&self, now: UnixMs) -> TourStep {
        let n = self.steps.len();
        let elapsed = now.saturating_sub(self.started_at).max(0);
        let ends_at = (!self.looping).then(|| self.started_at.saturating_add(self.cycle_ms));
        // The start of the current run through the steps, and the time into it.
        let (run_start, into) = if self.looping {
            let runs = elapsed / self.cycle_ms;
            (
                self.started_at
                    .saturating_add(runs.saturating_mul(self.cycle_ms)),
                elapsed % self.cycle_ms,
            )
        } else {
            // Past the end: the last step, still.
            (self.started_at, elapsed.min(self.cycle_ms - 1))
        };
        let mut offset = 0;
        let mut index = n - 1;
        for (i, (_, dwell)) in self.steps.iter().enumerate() {
            if into < offset + dwell {
                index = i;
                break;
            }
            offset += dwell;
        }
        let shown_at = run_start.saturating_add(offset);
        let next_index = if n == 1 {
            None
        } else if index + 1 < n {
            Some(index + 1)
        } else if self.looping {
            Some(0)
        } else {
            None
        };
        let switch_at = next_index.map(|_| shown_at.saturating_add(self.steps[index].1));
        TourStep {
            step_index: index,
            scene_id: self.steps[index].0.clone(),
            shown_at,
            switch_at,
            prefetch_at: switch_at.map(|at| at - PREFETCH_MS),
            next_index,
            next_scene_id: next_index.map(|i| self.steps[i].0.clone()),
            ends_at,
            ended: ends_at.is_some_and(|end| now >= end),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::model::{TourScene, WallScope};
    use super::*;

    const T0: UnixMs = 1_764_374_400_000;

    fn tour(dwells: &[i64], looping: bool) -> Tour {
        Tour {
            id: TourId::parse("tour-1").unwrap(),
            name: "Round".into(),
            scope: WallScope::city(),
            steps: dwells
                .iter()
                .enumerate()
                .map(|(i, &dwell_ms)| TourScene {
                    scene_id: SceneId::parse(&format!("scene-{i}")).unwrap(),
                    dwell_ms,
                })
                .collect(),
            looping,
            created_at: T0,
            updated_at: T0,
            revision: 1,
        }
    }

    #[test]
    fn a_looping_tour_switches_and_prefetches() {
        let clock = TourClock::new(&tour(&[3_000, 5_000], true), T0).unwrap();
        let at = |t| clock.poll(T0 + t);
        let first = at(0);
        assert_eq!(
            (
                first.step_index,
                first.shown_at,
                first.switch_at,
                first.prefetch_at
            ),
            (0, T0, Some(T0 + 3_000), Some(T0 + 1_500))
        );
        assert_eq!(first.next_scene_id.unwrap().as_str(), "scene-1");
        assert_eq!(at(2_999).step_index, 0);
        let second = at(3_000);
        assert_eq!(
            (second.step_index, second.shown_at, second.switch_at),
            (1, T0 + 3_000, Some(T0 + 8_000))
        );
        assert_eq!(second.next_index, Some(0), "loops");
        assert_eq!(second.prefetch_at, Some(T0 + 6_500));
        let again = at(8_000 * 3 + 100);
        assert_eq!((again.step_index, again.shown_at), (0, T0 + 24_000));
        assert!(!again.ended && again.ends_at.is_none());
        // Before the start: step 0.
        assert_eq!(at(-5_000).step_index, 0);
    }

    #[test]
    fn a_non_looping_tour_ends_on_its_last_scene() {
        let clock = TourClock::new(&tour(&[3_000, 4_000], false), T0).unwrap();
        let last = clock.poll(T0 + 3_500);
        assert_eq!(last.step_index, 1);
        assert_eq!(
            (last.switch_at, last.prefetch_at, last.next_index),
            (None, None, None)
        );
        assert_eq!(last.ends_at, Some(T0 + 7_000));
        assert!(!last.ended);
        let over = clock.poll(T0 + 60_000);
        assert_eq!((over.step_index, over.shown_at), (1, T0 + 3_000));
        assert!(over.ended);
        // One step, looping: never switches.
        let one = TourClock::new(&tour(&[3_000], true), T0).unwrap();
        let p = one.poll(T0 + 10_000);
        assert_eq!((p.step_index, p.switch_at, p.ended), (0, None, false));
    }

    #[test]
    fn bad_tours_have_no_clock() {
        let err = TourClock::new(&tour(&[], true), T0).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "steps");
        let err = TourClock::new(&tour(&[3_000, 2_999], true), T0).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "steps[1].dwell_ms");
    }

    proptest! {
        /// The polled step contains the polled time, prefetching comes 1.5 s before the
        /// switch and after the step began, and the switch leads to the next step.
        #[test]
        fn polls_are_consistent(
            dwells in prop::collection::vec(3_000i64..20_000, 1..8),
            looping: bool,
            t in 0i64..1_000_000,
        ) {
            let clock = TourClock::new(&tour(&dwells, looping), T0).unwrap();
            let now = T0 + t;
            let p = clock.poll(now);
            prop_assert!(p.shown_at <= now);
            prop_assert_eq!(p.scene_id.as_str(), format!("scene-{}", p.step_index));
            if let Some(switch_at) = p.switch_at {
                prop_assert!(now < switch_at);
                prop_assert_eq!(switch_at - p.shown_at, dwells[p.step_index]);
                let prefetch = p.prefetch_at.unwrap();
                prop_assert_eq!(prefetch, switch_at - PREFETCH_MS);
                prop_assert!(p.shown_at < prefetch);
                let next = clock.poll(switch_at);
                prop_assert_eq!(Some(next.step_index), p.next_index);
                prop_assert_eq!(next.shown_at, switch_at);
            } else {
                prop_assert!(dwells.len() == 1 || (!looping && p.step_index == dwells.len() - 1));
            }
            prop_assert_eq!(p.ended, !looping && t >= dwells.iter().sum::<i64>());
            // Time only moves a tour forward within a run.
            let later = clock.poll(now + 1);
            prop_assert!(later.shown_at >= p.shown_at);
        }
    }
}
