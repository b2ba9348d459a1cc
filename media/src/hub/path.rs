//! The path task: one per source. Starts the source on demand, reconnects with backoff,
//! stops it a linger after the last reader left.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::sleep;

use super::HubConfig;
use super::stream::{PathState, StreamShared, StreamWriter};
use crate::ingest::{FrameSink, Source};

/// Runs until `shutdown` turns true.
pub(crate) async fn run(
    stream: Arc<StreamShared>,
    source: Arc<dyn Source>,
    config: Arc<HubConfig>,
    always_on: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut demand = stream.demand.subscribe();
    tracing::debug!(source = %source.describe(), always_on, "path created");
    loop {
        // Idle: wait for a reader (or run at once when always on).
        stream.set_state(PathState::Idle);
        if !always_on {
            tokio::select! {
                _ = async { demand.wait_for(|n| *n > 0).await.map(drop) } => {}
                _ = async { shutdown.wait_for(|s| *s).await.map(drop) } => return,
            }
        }
        tracing::info!(source = %source.describe(), "starting source");
        let stop = run_active(
            &stream,
            source.as_ref(),
            &config,
            always_on,
            &mut demand,
            &mut shutdown,
        )
        .await;
        stream.stopped();
        match stop {
            Stop::Shutdown => {
                stream.set_state(PathState::Idle);
                tracing::info!("source stopped: shutdown");
                return;
            }
            Stop::NoReaders => {
                tracing::info!(linger = ?config.linger, "source stopped: no reader");
            }
        }
    }
}

enum Stop {
    NoReaders,
    Shutdown,
}

/// Connects and reconnects until the readers are gone for a linger, or shutdown.
async fn run_active(
    stream: &Arc<StreamShared>,
    source: &dyn Source,
    config: &HubConfig,
    always_on: bool,
    demand: &mut watch::Receiver<usize>,
    shutdown: &mut watch::Receiver<bool>,
) -> Stop {
    // The linger future below borrows `demand` for the whole active period.
    let mut failures: u32 = 0;
    let mut first = true;
    // One linger clock for the whole active period: reconnect attempts do not restart it.
    let linger = idle_for_linger(demand, config, always_on);
    tokio::pin!(linger);
    loop {
        if first {
            stream.set_state(PathState::Starting);
        } else {
            stream.count_reconnect();
        }
        first = false;
        let mut writer = StreamWriter::new(stream.clone());
        let outcome = {
            let sink: &mut dyn FrameSink = &mut writer;
            tokio::select! {
                error = source.run(sink) => Ok(error),
                () = &mut linger => Err(Stop::NoReaders),
                _ = async { shutdown.wait_for(|s| *s).await.map(drop) } => Err(Stop::Shutdown),
            }
        };
        let error = match outcome {
            Ok(error) => error,
            Err(stop) => return stop,
        };
        let was_ready = writer.ready;
        stream.connection_ended(&error, was_ready);
        if was_ready {
            failures = 0;
            tracing::warn!(error = %error, "connection lost; reconnecting");
        } else {
            tracing::warn!(error = %error, attempt = failures + 1, "connection failed");
        }
        let delay = config.backoff.delay(failures);
        failures = failures.saturating_add(1);
        stream.set_state(PathState::Retrying {
            last_error: error,
            attempt: failures,
        });
        tracing::debug!(?delay, "next attempt after backoff");
        tokio::select! {
            () = sleep(delay) => {}
            () = &mut linger => return Stop::NoReaders,
            _ = async { shutdown.wait_for(|s| *s).await.map(drop) } => return Stop::Shutdown,
        }
    }
}

/// Resolves once there has been no reader for a whole linger. Never resolves for an
/// always-on path.
async fn idle_for_linger(demand: &mut watch::Receiver<usize>, config: &HubConfig, always_on: bool) {
    if always_on {
        return std::future::pending().await;
    }
    loop {
        let closed = demand.wait_for(|n| *n == 0).await.is_err();
        if closed {
            return std::future::pending().await;
        }
        tokio::select! {
            () = sleep(config.linger) => return,
            closed = async { demand.wait_for(|n| *n > 0).await.is_err() } => {
                if closed {
                    return std::future::pending().await;
                }
            }
        }
    }
}
