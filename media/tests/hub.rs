//! The stream hub against a synthetic camera, on tokio's paused clock: on-demand start and
//! linger, retry through outages with readers attached, instant start from the cached GOP,
//! slow readers isolated, statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::time::{Instant, sleep};
use watchpost_media::frame::{CodecParams, Frame, MediaKind, Track};
use watchpost_media::hub::{
    Backoff, Hub, HubConfig, HubError, HubHandle, PathName, PathSpec, Reader, ReaderEvent,
};
use watchpost_media::ingest::{FrameSink, Source, SourceError, SourceErrorKind};

/// Video frame interval (25 fps) and GOP length of the synthetic camera.
const FRAME: Duration = Duration::from_millis(40);
const GOP: u64 = 25;

/// A synthetic camera: H.264 video at 25 fps with a key frame every [`GOP`] frames and
/// PCMA audio every 20 ms. Frame data carries a global sequence number so tests can check
/// order and gaps. It can be taken down (connects fail, a live connection ends).
#[derive(Debug)]
struct Camera {
    up: watch::Sender<bool>,
    /// Bumped to cut live connections.
    cut: watch::Sender<u64>,
    connects: AtomicUsize,
    active: Arc<AtomicUsize>,
    seq: AtomicUsize,
    name: &'static str,
}

impl Camera {
    fn new(name: &'static str, up: bool) -> Arc<Camera> {
        Arc::new(Camera {
            up: watch::channel(up).0,
            cut: watch::channel(0).0,
            connects: AtomicUsize::new(0),
            active: Arc::new(AtomicUsize::new(0)),
            seq: AtomicUsize::new(0),
            name,
        })
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }

    fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }

    fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn tracks() -> Vec<Track> {
    vec![
        Track {
            clock_rate: 90_000,
            kind: MediaKind::Video,
            params: Some(Arc::new(CodecParams::H264 {
                sps: Bytes::from_static(&[0x67, 0x42, 0xc0, 0x1e]),
                pps: Bytes::from_static(&[0x68, 0xce, 0x3c, 0x80]),
                width: 320,
                height: 240,
                rfc6381: "avc1.42c01e".into(),
            })),
        },
        Track {
            clock_rate: 8000,
            kind: MediaKind::Audio,
            params: Some(Arc::new(CodecParams::Pcma {
                sample_rate: 8000,
                channels: 1,
            })),
        },
    ]
}

fn seq_of(frame: &Frame) -> u64 {
    u64::from_be_bytes(frame.data[..8].try_into().unwrap())
}

impl Source for Camera {
    fn describe(&self) -> String {
        format!("synthetic camera {}", self.name)
    }

    fn run<'a>(&'a self, sink: &'a mut dyn FrameSink) -> BoxFuture<'a, SourceError> {
        Box::pin(async move {
            self.connects.fetch_add(1, Ordering::SeqCst);
            self.active.fetch_add(1, Ordering::SeqCst);
            let _guard = ActiveGuard(self.active.clone());
            // Connecting takes a moment.
            sleep(Duration::from_millis(50)).await;
            if !*self.up.borrow() {
                return SourceError::new(SourceErrorKind::Connect, "connection refused");
            }
            let mut cut = self.cut.subscribe();
            cut.mark_unchanged();
            sink.tracks(tracks());
            let mut n: u64 = 0;
            loop {
                tokio::select! {
                    () = sleep(FRAME / 2) => {}
                    _ = cut.changed() => {
                        return SourceError::new(SourceErrorKind::Ended, "camera went away");
                    }
                }
                if n.is_multiple_of(2) {
                    let picture = n / 2;
                    let seq = self.seq.fetch_add(1, Ordering::SeqCst) as u64;
                    let mut data = seq.to_be_bytes().to_vec();
                    data.extend_from_slice(&[0u8; 992]);
                    sink.frame(Frame {
                        track: 0,
                        pts: (picture * 3600) as i64,
                        key: picture.is_multiple_of(GOP),
                        data: data.into(),
                        new_params: None,
                        received: Instant::now(),
                        rtp: Default::default(),
                    });
                }
                let mut audio = (self.seq.fetch_add(1, Ordering::SeqCst) as u64)
                    .to_be_bytes()
                    .to_vec();
                audio.extend_from_slice(&[0xd5; 152]);
                sink.frame(Frame {
                    track: 1,
                    pts: (n * 160) as i64,
                    key: true,
                    data: audio.into(),
                    new_params: None,
                    received: Instant::now(),
                    rtp: Default::default(),
                });
                n += 1;
            }
        })
    }
}

fn config() -> HubConfig {
    HubConfig {
        start_timeout: Duration::from_secs(10),
        linger: Duration::from_secs(10),
        backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(8), 0.0),
        reader_queue_frames: 64,
        gop_cache_max_bytes: 16 << 20,
    }
}

fn hub_with(paths: Vec<(&str, Arc<Camera>, bool)>) -> HubHandle {
    let specs = paths
        .into_iter()
        .map(|(name, camera, always_on)| PathSpec {
            name: PathName::new(name).unwrap(),
            source: camera,
            always_on,
        })
        .collect();
    Hub::spawn(config(), specs).unwrap()
}

/// Next event within `within` of (virtual) time.
async fn next(reader: &mut Reader, within: Duration) -> ReaderEvent {
    tokio::time::timeout(within, reader.next())
        .await
        .expect("no event in time")
        .expect("reader closed")
}

/// Skips to the next frame event, returning it and the control events seen on the way.
async fn next_frame(reader: &mut Reader) -> (Frame, Vec<ReaderEvent>) {
    let mut seen = Vec::new();
    loop {
        match next(reader, Duration::from_secs(30)).await {
            ReaderEvent::Frame(f) => return (f, seen),
            other => seen.push(other),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn on_demand_start_and_linger_stop() {
    let camera = Camera::new("gas-station", true);
    let hub = hub_with(vec![("gas-station/main", camera.clone(), false)]);

    sleep(Duration::from_secs(60)).await;
    assert_eq!(camera.connects(), 0, "no connection without a reader");
    assert_eq!(hub.path("gas-station/main").await.unwrap().state, "idle");

    let mut reader = hub.add_reader("gas-station/main").await.unwrap();
    let first = next(&mut reader, Duration::from_secs(5)).await;
    assert!(
        matches!(first, ReaderEvent::Tracks(ref t) if t.len() == 2),
        "{first:?}"
    );
    let (frame, _) = next_frame(&mut reader).await;
    assert_eq!(frame.track, 0);
    assert!(frame.key, "a reader starts at a key frame");
    assert_eq!(camera.connects(), 1);
    let stats = hub.path("gas-station/main").await.unwrap();
    assert_eq!(stats.state, "ready");
    assert_eq!(stats.readers, 1);

    let left = Instant::now();
    drop(reader);
    // Still running during the linger...
    sleep(Duration::from_secs(9)).await;
    assert_eq!(
        camera.active(),
        1,
        "the source lingers after the last reader left"
    );
    assert_eq!(hub.path("gas-station/main").await.unwrap().readers, 0);
    // ...and closed within linger + 1 s.
    while camera.active() > 0 {
        sleep(Duration::from_millis(100)).await;
        assert!(
            left.elapsed() <= Duration::from_secs(11),
            "source not closed within linger + 1 s"
        );
    }
    assert_eq!(hub.path("gas-station/main").await.unwrap().state, "idle");

    // A reader that comes back during the linger keeps the same connection.
    let reader = hub.add_reader("gas-station/main").await.unwrap();
    sleep(Duration::from_secs(1)).await;
    drop(reader);
    sleep(Duration::from_secs(5)).await;
    let _reader = hub.add_reader("gas-station/main").await.unwrap();
    sleep(Duration::from_secs(20)).await;
    assert_eq!(camera.connects(), 2);
    assert_eq!(camera.active(), 1);
    hub.shutdown().await;
    assert_eq!(camera.active(), 0, "shutdown stops the source");
}

#[tokio::test(start_paused = true)]
async fn camera_down_at_first_attach_then_outage_mid_stream() {
    let camera = Camera::new("oil-depot", false);
    let hub = hub_with(vec![("oil-depot/main", camera.clone(), false)]);
    let mut reader = hub.add_reader("oil-depot/main").await.unwrap();

    sleep(Duration::from_secs(3)).await;
    let stats = hub.path("oil-depot/main").await.unwrap();
    assert_eq!(stats.state, "retrying");
    assert!(stats.attempt >= 2, "{stats:?}");
    let last = stats.last_error.unwrap();
    assert_eq!(
        (last.kind, last.message.as_str()),
        ("connect", "connection refused")
    );
    assert!(reader.try_next().is_none());

    // The camera comes up: the same reader receives frames without re-attaching.
    camera.set_up(true);
    let (frame, seen) = next_frame(&mut reader).await;
    assert!(frame.key && frame.track == 0);
    assert!(
        matches!(seen.as_slice(), [ReaderEvent::Tracks(_)]),
        "{seen:?}"
    );
    assert_eq!(hub.path("oil-depot/main").await.unwrap().state, "ready");

    // Outage in mid-stream: the reader is told, stays attached, and resumes at a key frame.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        next_frame(&mut reader).await;
    }
    camera.set_up(false);
    // Frames already on their way may still arrive before the loss is noticed.
    let mut event = next(&mut reader, Duration::from_secs(5)).await;
    while matches!(event, ReaderEvent::Frame(_)) {
        event = next(&mut reader, Duration::from_secs(5)).await;
    }
    assert!(
        matches!(event, ReaderEvent::Discontinuity { ref reason } if reason.contains("camera went away")),
        "{event:?}"
    );
    sleep(Duration::from_secs(5)).await;
    let stats = hub.path("oil-depot/main").await.unwrap();
    assert_eq!(stats.state, "retrying");
    assert_eq!(stats.readers, 1);
    camera.set_up(true);
    let (frame, seen) = next_frame(&mut reader).await;
    assert!(frame.key && frame.track == 0, "resumes at a key frame");
    assert!(
        matches!(seen.as_slice(), [ReaderEvent::Tracks(_)]),
        "{seen:?}"
    );
    let stats = hub.path("oil-depot/main").await.unwrap();
    assert_eq!(stats.state, "ready");
    assert!(stats.reconnects >= 3, "{stats:?}");
    assert!(
        stats.errors["connect"] >= 3 && stats.errors["ended"] == 1,
        "{stats:?}"
    );
    hub.shutdown().await;
    // Whatever was queued is still delivered, then the reader ends.
    let drained = tokio::time::timeout(Duration::from_secs(1), async {
        while reader.next().await.is_some() {}
    });
    assert!(drained.await.is_ok(), "readers end when the hub shuts down");
}

#[tokio::test(start_paused = true)]
async fn retries_follow_exponential_backoff() {
    let camera = Camera::new("tailings-pond", false);
    let hub = hub_with(vec![("tailings-pond/main", camera.clone(), true)]);
    let start = Instant::now();
    let mut attempts = Vec::new();
    while attempts.len() < 7 {
        let before = camera.connects();
        sleep(Duration::from_millis(10)).await;
        if camera.connects() > before {
            attempts.push(start.elapsed());
        }
    }
    // Each attempt: 50 ms connect time, then the backoff (0.5, 1, 2, 4, 8, 8 s; no jitter).
    let gaps: Vec<u64> = attempts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64 / 10 * 10)
        .collect();
    assert_eq!(gaps, [550, 1050, 2050, 4050, 8050, 8050], "{attempts:?}");
    hub.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn new_reader_starts_instantly_from_the_cached_gop() {
    let camera = Camera::new("fireworks-outlet", true);
    let hub = hub_with(vec![("fireworks-outlet/main", camera.clone(), false)]);
    let mut first = hub.add_reader_ready("fireworks-outlet/main").await.unwrap();
    // Read into the middle of a GOP.
    let mut last_key_pts = None;
    let mut video_frames = 0;
    while video_frames < GOP + 10 {
        let (frame, _) = next_frame(&mut first).await;
        if frame.track == 0 {
            video_frames += 1;
            if frame.key {
                last_key_pts = Some(frame.pts);
            }
        }
    }

    // The new reader gets the tracks and the cached key frame at once, with no time passing.
    let mut second = hub.add_reader("fireworks-outlet/main").await.unwrap();
    let events: Vec<ReaderEvent> = std::iter::from_fn(|| second.try_next()).collect();
    assert!(
        matches!(events.first(), Some(ReaderEvent::Tracks(_))),
        "{events:?}"
    );
    let ReaderEvent::Frame(frame) = &events[1] else {
        panic!("{events:?}")
    };
    assert!(frame.key && frame.track == 0);
    assert_eq!(
        Some(frame.pts),
        last_key_pts,
        "the cached key frame, not a new one"
    );
    // Then the rest of the GOP, in order.
    let seqs: Vec<u64> = events[1..]
        .iter()
        .map(|e| match e {
            ReaderEvent::Frame(f) => seq_of(f),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        seqs.len() > 10 && seqs.windows(2).all(|w| w[0] < w[1]),
        "{seqs:?}"
    );
    hub.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_does_not_delay_others_and_resumes_at_a_key_frame() {
    let camera = Camera::new("gas-station", true);
    let hub = hub_with(vec![("gas-station/sub", camera.clone(), false)]);
    let mut fast = hub.add_reader_ready("gas-station/sub").await.unwrap();
    let mut slow = hub.add_reader_ready("gas-station/sub").await.unwrap();

    // For 20 s the slow reader reads nothing; the fast one sees every frame, without gaps,
    // each within a frame interval of when it was produced.
    let (frame, _) = next_frame(&mut fast).await;
    let mut last_seq = seq_of(&frame);
    let mut received = 0;
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let (frame, seen) = next_frame(&mut fast).await;
        assert!(seen.is_empty(), "{seen:?}");
        assert!(
            frame.received.elapsed() <= FRAME,
            "the fast reader was delayed"
        );
        let seq = seq_of(&frame);
        assert_eq!(seq, last_seq + 1, "the fast reader lost frames");
        last_seq = seq;
        received += 1;
    }
    assert!(received > 700, "{received}");
    assert_eq!(fast.drops(), 0);

    let dropped = slow.drops();
    assert!(
        dropped > 600,
        "the slow reader's drops are counted: {dropped}"
    );
    let stats = hub.path("gas-station/sub").await.unwrap();
    assert_eq!(stats.drops, dropped);

    // The slow reader's queue never grew beyond its bound, and it resumes at a key frame
    // after being told how much it missed.
    let mut backlog = 0;
    let mut told = None;
    while let Some(event) = slow.try_next() {
        match event {
            ReaderEvent::Frame(_) => backlog += 1,
            ReaderEvent::Tracks(_) if backlog == 0 => {}
            ReaderEvent::Dropped { frames } => {
                told = Some(frames);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(backlog <= 64, "queue bound exceeded: {backlog}");
    assert!(told.is_some_and(|n| n > 0), "{told:?}");
    let (frame, _) = next_frame(&mut slow).await;
    assert!(frame.key && frame.track == 0, "resumes at a key frame");
    hub.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn start_timeout_reports_the_state_and_detaches() {
    let camera = Camera::new("oil-depot", false);
    let hub = hub_with(vec![("oil-depot/sub", camera.clone(), false)]);
    let started = Instant::now();
    let err = hub.add_reader_ready("oil-depot/sub").await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    let HubError::StartTimeout {
        state, last_error, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*state, "retrying");
    assert_eq!(last_error.as_deref(), Some("connect: connection refused"));
    assert!(err.to_string().contains("not ready after 10s"), "{err}");
    assert_eq!(hub.path("oil-depot/sub").await.unwrap().readers, 0);
    // With nobody waiting the path stops retrying after the linger.
    sleep(Duration::from_secs(30)).await;
    assert_eq!(hub.path("oil-depot/sub").await.unwrap().state, "idle");
    let connects = camera.connects();
    sleep(Duration::from_secs(60)).await;
    assert_eq!(camera.connects(), connects);
}

#[tokio::test(start_paused = true)]
async fn stats_describe_the_stream() {
    let camera = Camera::new("gas-station", true);
    let hub = hub_with(vec![("gas-station/main", camera.clone(), true)]);
    sleep(Duration::from_secs(6)).await;
    let stats = hub.path("gas-station/main").await.unwrap();
    assert_eq!(stats.state, "ready");
    assert!(stats.always_on);
    assert_eq!(stats.source, "synthetic camera gas-station");
    assert_eq!(stats.readers, 0);
    let codecs: Vec<_> = stats
        .tracks
        .iter()
        .map(|t| (t.codec, t.width, t.sample_rate))
        .collect();
    assert_eq!(
        codecs,
        [("h264", Some(320), None), ("pcma", None, Some(8000))]
    );
    // 25 video + 50 audio frames per second; 1000 B video + 160 B audio frames.
    assert!((stats.fps_in - 75.0).abs() < 2.0, "{}", stats.fps_in);
    assert!(
        (stats.video_fps_in - 25.0).abs() < 1.0,
        "{}",
        stats.video_fps_in
    );
    let expected_bps = (25 * 1000 + 50 * 160) * 8;
    assert!(
        (stats.bitrate_in_bps as i64 - expected_bps).abs() < expected_bps / 20,
        "{}",
        stats.bitrate_in_bps
    );
    assert!(stats.last_key_frame_age_ms.unwrap() < 1000);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["state"], "ready");
    assert_eq!(json["tracks"][0]["kind"], "video");

    let all = hub.paths().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        hub.path("nope").await.unwrap_err(),
        HubError::NotFound {
            path: "nope".into()
        }
    );
    assert!(matches!(
        hub.add_reader("nope").await,
        Err(HubError::NotFound { .. })
    ));
    hub.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_path_does_not_affect_another() {
    let good = Camera::new("good", true);
    let bad = Camera::new("bad", false);
    let hub = hub_with(vec![
        ("good/main", good.clone(), false),
        ("bad/main", bad.clone(), false),
    ]);
    let mut good_reader = hub.add_reader_ready("good/main").await.unwrap();
    let _bad_reader = hub.add_reader("bad/main").await.unwrap();
    let (frame, _) = next_frame(&mut good_reader).await;
    let mut last = seq_of(&frame);
    for _ in 0..500 {
        let (frame, seen) = next_frame(&mut good_reader).await;
        assert!(seen.is_empty());
        assert_eq!(seq_of(&frame), last + 1);
        last = seq_of(&frame);
    }
    assert!(bad.connects() > 3);
    assert_eq!(hub.path("bad/main").await.unwrap().state, "retrying");
    assert_eq!(hub.path("good/main").await.unwrap().errors.len(), 0);
    hub.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn paths_can_be_added_and_removed() {
    let hub = hub_with(vec![]);
    let camera = Camera::new("added", true);
    let spec = PathSpec {
        name: PathName::new("added/main").unwrap(),
        source: camera.clone(),
        always_on: false,
    };
    hub.add_path(spec.clone()).await.unwrap();
    assert!(matches!(
        hub.add_path(spec).await,
        Err(HubError::Exists { .. })
    ));
    let mut reader = hub.add_reader_ready("added/main").await.unwrap();
    hub.remove_path("added/main").await.unwrap();
    while reader.next().await.is_some() {}
    assert_eq!(camera.active(), 0);
    assert!(matches!(
        hub.add_reader("added/main").await,
        Err(HubError::NotFound { .. })
    ));
    assert!(PathName::new("Bad Name").is_err());
    assert!(PathName::new("a//b").is_err());
    assert!(PathName::new("../x").is_err());
    hub.shutdown().await;
    assert_eq!(hub.paths().await.unwrap_err(), HubError::Closed);
}

/// `add_reader_ready` is usable from spawned tasks (HTTP handlers).
#[tokio::test(start_paused = true)]
async fn handle_futures_are_send() {
    let camera = Camera::new("x", true);
    let hub = hub_with(vec![("x/main", camera, false)]);
    let task = tokio::spawn({
        let hub = hub.clone();
        async move {
            hub.add_reader_ready("x/main")
                .await
                .map(|r| r.path().to_owned())
        }
    });
    assert_eq!(task.await.unwrap().unwrap(), "x/main");
    hub.shutdown().await;
}
