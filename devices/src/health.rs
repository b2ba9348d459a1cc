//! Camera health: is each enabled camera reachable, since when, and why not.
//!
//! Vocabulary: a *check* is one reachability probe of one camera — for an ONVIF camera the
//! unauthenticated `GetSystemDateAndTime` (it also tells that the web service answers),
//! otherwise a TCP connect to the RTSP URL's host and port (no RTSP request, so it costs
//! the camera nothing and works without credentials). The [`HealthBoard`] keeps per camera
//! its [`Reachability`], the time it last changed (`since_ms`), the last check and the last
//! error; [`run_monitor`] checks every camera once per interval, a bounded number at a
//! time, and records the results. The devices service's check counts a camera whose stream
//! is playing as reachable without probing it.
//!
//! Times are Unix milliseconds passed in; the monitor takes them from an injected
//! [`Clock`](crate::onvif_camera::Clock) and sleeps on tokio's clock (paused in tests).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::onvif_camera::Clock;

/// Whether a camera answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// Not checked yet.
    Unknown,
    /// The last check succeeded (or a stream is playing).
    Online,
    /// The last check failed.
    Offline,
}

/// One camera's health as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CameraHealth {
    /// Online, offline or unknown.
    pub state: Reachability,
    /// When `state` took its current value, Unix ms.
    pub since_ms: i64,
    /// When the camera was last checked, Unix ms.
    pub last_check_ms: Option<i64>,
    /// The last failure's description (no credentials), kept after recovery.
    pub last_error: Option<String>,
    /// When the last failure happened, Unix ms.
    pub last_error_ms: Option<i64>,
}

impl CameraHealth {
    fn new(now_ms: i64) -> Self {
        CameraHealth {
            state: Reachability::Unknown,
            since_ms: now_ms,
            last_check_ms: None,
            last_error: None,
            last_error_ms: None,
        }
    }

    fn set_state(&mut self, state: Reachability, now_ms: i64) {
        if self.state != state {
            self.state = state;
            self.since_ms = now_ms;
        }
    }
}

/// Every camera's health, shared by the monitor and the API. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard {
    cameras: Arc<RwLock<HashMap<String, CameraHealth>>>,
}

impl HealthBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    fn update<R>(&self, id: &str, now_ms: i64, f: impl FnOnce(&mut CameraHealth) -> R) -> R {
        let mut map = self.cameras.write().unwrap_or_else(PoisonError::into_inner);
        let entry = map
            .entry(id.to_owned())
            .or_insert_with(|| CameraHealth::new(now_ms));
        f(entry)
    }

    /// Records a check of `id` made at `now_ms`: `Err` carries the failure's description.
    /// Returns the state before, so callers can log transitions.
    pub fn record(&self, id: &str, result: Result<(), String>, now_ms: i64) -> Reachability {
        self.update(id, now_ms, |h| {
            let before = h.state;
            h.last_check_ms = Some(now_ms);
            match result {
                Ok(()) => h.set_state(Reachability::Online, now_ms),
                Err(error) => {
                    h.set_state(Reachability::Offline, now_ms);
                    h.last_error = Some(error);
                    h.last_error_ms = Some(now_ms);
                }
            }
            before
        })
    }

    /// Starts tracking `id` (state unknown) if it is not tracked yet.
    pub fn track(&self, id: &str, now_ms: i64) {
        self.update(id, now_ms, |_| ());
    }

    /// Stops tracking `id` (a deleted or disabled camera).
    pub fn forget(&self, id: &str) {
        self.cameras
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// The health of `id`, if tracked.
    pub fn get(&self, id: &str) -> Option<CameraHealth> {
        self.cameras
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// The ids tracked now.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .cameras
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }
}

/// `now` as Unix milliseconds (0 before 1970).
pub fn unix_ms(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How often and how many at a time the monitor checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Time between the starts of two rounds.
    pub interval: Duration,
    /// Longest one check may take; a slower camera counts as offline.
    pub timeout: Duration,
    /// Checks running at once.
    pub concurrency: usize,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            concurrency: 16,
        }
    }
}

/// What the monitor checks: the cameras to probe now and how to probe one. Implemented by
/// the devices service over the inventory; tests inject cameras.
pub trait HealthTargets: Send + Sync + 'static {
    /// The ids of the cameras to check this round (the enabled ones).
    fn targets(&self) -> impl Future<Output = Vec<String>> + Send;
    /// Checks one camera; `Err` says why it is unreachable (no credentials in it).
    fn check(&self, id: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// Checks every target once per `settings.interval` and records the results on `board`,
/// forgetting cameras that are no longer targets. Runs until the future is dropped. Log
/// lines are written on state changes only.
pub async fn run_monitor<H: HealthTargets>(
    targets: Arc<H>,
    board: HealthBoard,
    clock: Arc<dyn Clock>,
    settings: MonitorSettings,
) {
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        check_round(&targets, &board, clock.as_ref(), settings).await;
    }
}

/// One round of [`run_monitor`]: checks every target (at most `concurrency` at once).
pub async fn check_round<H: HealthTargets>(
    targets: &Arc<H>,
    board: &HealthBoard,
    clock: &dyn Clock,
    settings: MonitorSettings,
) {
    let ids = targets.targets().await;
    for gone in board.ids().into_iter().filter(|id| !ids.contains(id)) {
        board.forget(&gone);
    }
    let semaphore = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let targets = targets.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let result = probe(targets.as_ref(), &id, settings.timeout).await;
            (id, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((id, result)) = joined else { continue };
        record(board, clock, &id, result);
    }
}

/// Checks camera `id` now, outside the rounds, and records the result: what a camera just
/// added to the inventory gets, so that its state is known within `timeout` instead of at
/// the next round (up to an interval later).
pub async fn check_now<H: HealthTargets>(
    targets: &H,
    board: &HealthBoard,
    clock: &dyn Clock,
    timeout: Duration,
    id: &str,
) {
    let result = probe(targets, id, timeout).await;
    record(board, clock, id, result);
}

/// One check of `id`, a slower answer than `timeout` counting as a failure.
async fn probe<H: HealthTargets>(targets: &H, id: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, targets.check(id)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Records a check's result on the board, logging a change of state.
fn record(board: &HealthBoard, clock: &dyn Clock, id: &str, result: Result<(), String>) {
    let now = unix_ms(clock.now());
    let error = result.as_ref().err().cloned();
    let before = board.record(id, result, now);
    match (before, error) {
        (Reachability::Offline | Reachability::Unknown, None) => {
            tracing::info!(camera = %id, "camera online");
        }
        (Reachability::Online | Reachability::Unknown, Some(error)) => {
            tracing::warn!(camera = %id, %error, "camera offline");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn transitions_keep_since_and_the_last_error() {
        let board = HealthBoard::new();
        board.track("c1", 1_000);
        assert_eq!(board.get("c1").unwrap().state, Reachability::Unknown);
        board.record("c1", Err("connect refused".into()), 2_000);
        board.record("c1", Err("connect refused again".into()), 3_000);
        let h = board.get("c1").unwrap();
        assert_eq!(h.state, Reachability::Offline);
        assert_eq!(h.since_ms, 2_000, "since the first failure");
        assert_eq!(h.last_check_ms, Some(3_000));
        assert_eq!(h.last_error.as_deref(), Some("connect refused again"));
        board.record("c1", Ok(()), 4_000);
        let h = board.get("c1").unwrap();
        assert_eq!((h.state, h.since_ms), (Reachability::Online, 4_000));
        assert_eq!(h.last_error_ms, Some(3_000), "the last error stays visible");
        board.record("c1", Ok(()), 5_000);
        assert_eq!(board.get("c1").unwrap().since_ms, 4_000, "no change");
        board.forget("c1");
        assert!(board.get("c1").is_none());
    }

    #[derive(Debug)]
    struct FixedClock;
    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(10)
        }
    }

    struct Cameras {
        ids: Mutex<Vec<String>>,
    }

    impl HealthTargets for Cameras {
        async fn targets(&self) -> Vec<String> {
            self.ids.lock().unwrap().clone()
        }
        async fn check(&self, id: &str) -> Result<(), String> {
            match id {
                "up" => Ok(()),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(())
                }
                _ => Err(format!("{id}: connection refused")),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_round_checks_everyone_times_out_the_slow_and_drops_the_removed() {
        let board = HealthBoard::new();
        board.track("deleted", 0);
        let targets = Arc::new(Cameras {
            ids: Mutex::new(vec!["up".into(), "down".into(), "slow".into()]),
        });
        let settings = MonitorSettings {
            concurrency: 2,
            ..MonitorSettings::default()
        };
        check_round(&targets, &board, &FixedClock, settings).await;
        assert_eq!(board.get("up").unwrap().state, Reachability::Online);
        let down = board.get("down").unwrap();
        assert_eq!(down.state, Reachability::Offline);
        assert_eq!(down.last_error.as_deref(), Some("down: connection refused"));
        assert_eq!(down.since_ms, 10_000);
        let slow = board.get("slow").unwrap();
        assert_eq!(slow.state, Reachability::Offline);
        assert!(slow.last_error.unwrap().contains("no answer within"));
        assert!(board.get("deleted").is_none());
    }
}
