//! The stream hub: the registry of paths, each with one source and many readers.
//!
//! One task owns the registry (the [`Hub`] actor) and answers typed requests sent through
//! a [`HubHandle`]; it never waits on a camera or a reader. Each path has
//! - a **path task** (one per source, traced with the path name) that starts the source
//!   when the first reader arrives, reconnects with exponential backoff and jitter, and
//!   stops the source a *linger* after the last reader left (unless `always_on`);
//! - a **stream** that the source writes into: it keeps the tracks, the last GOP (so a
//!   new reader starts at once from a key frame) and one bounded queue per reader. The
//!   writer never waits: a reader whose queue is full loses its backlog, skips to the next
//!   key frame and is told how many frames it missed. Every frame passes the stream once,
//!   whatever the number of readers; there it is counted, and H.264 pictures are checked
//!   for B-frames ([`PathStats::b_frames`], one warning per path);
//! - at most one **transcoder** (`transcode`, `gstreamer` feature): AAC → Opus for the
//!   readers that asked for it ([`ReaderOptions::opus_audio`]), once per path; rebuilt,
//!   while those readers stay attached, when the AAC parameters change or its pipeline
//!   fails (after a wait of 1 s, doubling up to 30 s while it keeps failing).

mod backoff;
mod path;
mod reader;
mod stats;
mod stream;
mod transcode;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

pub use backoff::Backoff;
pub use reader::{Reader, ReaderEvent};
pub use stats::{ErrorStats, PathStats, TrackStats};
pub use stream::PathState;

use crate::ingest::Source;
use stream::StreamShared;

/// A path's name: `/`-separated segments of lowercase letters, digits, `-`, `_` and `.`
/// (`gas-station/main`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PathName(String);

impl PathName {
    /// Validates and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<PathName, HubError> {
        let name = name.into();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                })
                && s != "."
                && s != ".."
        };
        if name.len() <= 200 && name.split('/').all(segment_ok) {
            Ok(PathName(name))
        } else {
            Err(HubError::InvalidPath { path: name })
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PathName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the hub runs its paths; built from `[media]` in the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// How long [`HubHandle::add_reader_ready`] waits for a starting source.
    pub start_timeout: Duration,
    /// How long a source keeps running after its last reader left.
    pub linger: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Frames a reader may fall behind before it skips to the next key frame.
    pub reader_queue_frames: usize,
    /// Upper bound of the cached GOP per path, in bytes.
    pub gop_cache_max_bytes: u64,
}

impl HubConfig {
    /// From the `[media]` section.
    pub fn from_config(media: &watchpost_config::MediaConfig) -> HubConfig {
        HubConfig {
            start_timeout: media.on_demand.start_timeout,
            linger: media.on_demand.linger,
            backoff: Backoff::new(
                media.retry.initial_backoff,
                media.retry.max_backoff,
                media.retry.jitter,
            ),
            reader_queue_frames: media.reader.queue_frames,
            gop_cache_max_bytes: media.gop_cache.max_bytes,
        }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig::from_config(&watchpost_config::MediaConfig::default())
    }
}

/// What a reader wants besides the source's frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderOptions {
    /// WebRTC-compatible audio: an AAC track is replaced by Opus (48 kHz, 20 ms packets)
    /// from the path's one transcoder, started while such readers are attached and shared
    /// by all of them. No effect on other codecs, or without the `gstreamer` feature
    /// (the AAC track then stays as it is).
    pub opus_audio: bool,
}

/// A path to create: its name, its source and whether it runs without readers.
#[derive(Debug, Clone)]
pub struct PathSpec {
    /// Unique name.
    pub name: PathName,
    /// Where its media comes from.
    pub source: Arc<dyn Source>,
    /// Keep the source running with no reader.
    pub always_on: bool,
}

/// What can go wrong when asking the hub for something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// No path of that name.
    #[error("no path named {path:?}")]
    NotFound {
        /// The requested name.
        path: String,
    },
    /// A path of that name exists already.
    #[error("a path named {path:?} exists already")]
    Exists {
        /// The name.
        path: String,
    },
    /// Not a valid path name.
    #[error(
        "{path:?} is not a valid path name: use /-separated segments of a-z, 0-9, '-', '_', '.'"
    )]
    InvalidPath {
        /// The rejected name.
        path: String,
    },
    /// The source did not become ready within the start timeout.
    #[error("path {path}: the source is not ready after {timeout:?} (state {state}{})", last_error.as_ref().map(|e| format!(", last error: {e}")).unwrap_or_default())]
    StartTimeout {
        /// The path.
        path: String,
        /// How long the reader waited.
        timeout: Duration,
        /// The state at the time (`starting`, `retrying`).
        state: &'static str,
        /// The last connection error, redacted.
        last_error: Option<String>,
    },
    /// The hub is shutting down or gone.
    #[error("the stream hub has shut down")]
    Closed,
}

enum Request {
    AddReader {
        path: String,
        options: ReaderOptions,
        reply: oneshot::Sender<Result<Reader, HubError>>,
    },
    AddPath {
        spec: PathSpec,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    RemovePath {
        path: String,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    Stats {
        path: Option<String>,
        reply: oneshot::Sender<Result<Vec<PathStats>, HubError>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A cheap, cloneable handle to the hub.
#[derive(Debug, Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<Request>,
    config: Arc<HubConfig>,
}

/// The hub actor. Create it with [`Hub::spawn`].
#[derive(Debug)]
pub struct Hub;

struct PathEntry {
    stream: Arc<StreamShared>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Hub {
    /// Starts the hub with `paths` and returns its handle. Must be called inside a tokio
    /// runtime. Fails if two paths share a name.
    pub fn spawn(config: HubConfig, paths: Vec<PathSpec>) -> Result<HubHandle, HubError> {
        let config = Arc::new(config);
        let mut registry = BTreeMap::new();
        for spec in paths {
            if registry.contains_key(spec.name.as_str()) {
                return Err(HubError::Exists {
                    path: spec.name.to_string(),
                });
            }
            let name = spec.name.to_string();
            registry.insert(name, start_path(spec, &config));
        }
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(
            run_registry(rx, registry, config.clone()).instrument(tracing::info_span!("hub")),
        );
        Ok(HubHandle { tx, config })
    }
}

fn start_path(spec: PathSpec, config: &Arc<HubConfig>) -> PathEntry {
    let stream = Arc::new_cyclic(|this| {
        StreamShared::new(
            spec.name.clone(),
            this.clone(),
            spec.source.clone(),
            spec.always_on,
            config.reader_queue_frames,
            config.gop_cache_max_bytes,
        )
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let span = tracing::info_span!("path", path = %spec.name);
    let task = tokio::spawn(
        path::run(
            stream.clone(),
            spec.source,
            config.clone(),
            spec.always_on,
            shutdown_rx,
        )
        .instrument(span),
    );
    PathEntry {
        stream,
        shutdown,
        task,
    }
}

async fn stop_path(name: &str, entry: PathEntry) {
    let _ = entry.shutdown.send(true);
    if let Err(err) = entry.task.await
        && err.is_panic()
    {
        tracing::error!(path = name, "path task panicked: {err}");
    }
    entry.stream.close();
}

async fn run_registry(
    mut rx: mpsc::Receiver<Request>,
    mut registry: BTreeMap<String, PathEntry>,
    config: Arc<HubConfig>,
) {
    tracing::debug!(paths = registry.len(), "hub started");
    while let Some(request) = rx.recv().await {
        match request {
            Request::AddReader {
                path,
                options,
                reply,
            } => {
                let result = match registry.get(&path) {
                    Some(entry) => Ok(Reader::attach(entry.stream.clone(), options)),
                    None => Err(HubError::NotFound { path }),
                };
                let _ = reply.send(result);
            }
            Request::AddPath { spec, reply } => {
                let result = match registry.entry(spec.name.to_string()) {
                    std::collections::btree_map::Entry::Occupied(e) => Err(HubError::Exists {
                        path: e.key().clone(),
                    }),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(start_path(spec, &config));
                        Ok(())
                    }
                };
                let _ = reply.send(result);
            }
            Request::RemovePath { path, reply } => match registry.remove(&path) {
                Some(entry) => {
                    // Stopping waits for the path task; do it off the registry task.
                    tokio::spawn(async move {
                        stop_path(&path, entry).await;
                        let _ = reply.send(Ok(()));
                    });
                }
                None => {
                    let _ = reply.send(Err(HubError::NotFound { path }));
                }
            },
            Request::Stats { path, reply } => {
                let result = match path {
                    None => Ok(registry.values().map(|e| e.stream.stats()).collect()),
                    Some(p) => match registry.get(&p) {
                        Some(e) => Ok(vec![e.stream.stats()]),
                        None => Err(HubError::NotFound { path: p }),
                    },
                };
                let _ = reply.send(result);
            }
            Request::Shutdown { reply } => {
                let stopping: Vec<_> = std::mem::take(&mut registry)
                    .into_iter()
                    .map(|(name, entry)| async move { stop_path(&name, entry).await })
                    .collect();
                futures_util::future::join_all(stopping).await;
                tracing::debug!("hub stopped");
                let _ = reply.send(());
                return;
            }
        }
    }
    // Every handle is gone: stop the paths anyway.
    for (name, entry) in registry {
        stop_path(&name, entry).await;
    }
}

impl HubHandle {
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, HubError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| HubError::Closed)?;
        rx.await.map_err(|_| HubError::Closed)
    }

    /// The configuration the hub runs with.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Attaches a reader to `path` at once, starting its source if it is idle. The reader
    /// stays attached through outages and reconnects; its first frame is a key frame.
    pub async fn add_reader(&self, path: &str) -> Result<Reader, HubError> {
        self.add_reader_with(path, ReaderOptions::default()).await
    }

    /// [`HubHandle::add_reader`] with [`ReaderOptions`] (e.g. Opus instead of AAC).
    pub async fn add_reader_with(
        &self,
        path: &str,
        options: ReaderOptions,
    ) -> Result<Reader, HubError> {
        self.request(|reply| Request::AddReader {
            path: path.to_owned(),
            options,
            reply,
        })
        .await?
    }

    /// [`HubHandle::add_reader_ready`] with [`ReaderOptions`].
    pub async fn add_reader_ready_with(
        &self,
        path: &str,
        options: ReaderOptions,
    ) -> Result<Reader, HubError> {
        let mut reader = self.add_reader_with(path, options).await?;
        reader.wait_ready(self.config.start_timeout).await?;
        Ok(reader)
    }

    /// Attaches a reader and waits until the path is ready (tracks known), at most the
    /// configured start timeout. On timeout the reader is detached again and the error
    /// says what state the path is in and its last error.
    pub async fn add_reader_ready(&self, path: &str) -> Result<Reader, HubError> {
        let mut reader = self.add_reader(path).await?;
        reader.wait_ready(self.config.start_timeout).await?;
        Ok(reader)
    }

    /// Adds a path (the device inventory adds cameras at run time).
    pub async fn add_path(&self, spec: PathSpec) -> Result<(), HubError> {
        self.request(|reply| Request::AddPath { spec, reply })
            .await?
    }

    /// Removes a path: stops its source and closes its readers.
    pub async fn remove_path(&self, path: &str) -> Result<(), HubError> {
        self.request(|reply| Request::RemovePath {
            path: path.to_owned(),
            reply,
        })
        .await?
    }

    /// Statistics of every path, ordered by name.
    pub async fn paths(&self) -> Result<Vec<PathStats>, HubError> {
        self.request(|reply| Request::Stats { path: None, reply })
            .await?
    }

    /// Statistics of one path.
    pub async fn path(&self, path: &str) -> Result<PathStats, HubError> {
        let mut stats = self
            .request(|reply| Request::Stats {
                path: Some(path.to_owned()),
                reply,
            })
            .await??;
        stats.pop().ok_or(HubError::NotFound {
            path: path.to_owned(),
        })
    }

    /// Stops every path (sources torn down, readers closed) and the hub itself. Returns
    /// when all path tasks have ended.
    pub async fn shutdown(&self) {
        let _ = self.request(|reply| Request::Shutdown { reply }).await;
    }
}
