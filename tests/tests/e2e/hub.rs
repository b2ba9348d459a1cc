//! The stream hub pulling from simulated cameras over RTSP (retina): on demand, through
//! outages, instant start from the cached GOP, slow readers isolated, codecs.

use std::time::{Duration, Instant};

use watchpost_config::{CameraConfig, RtspTransport, SecretUrl};
use watchpost_fixtures::sim::{
    AudioCodec, CameraSpec, Profile, Simulator, StreamSpec, VideoCodec, test_camera,
};
use watchpost_media::frame::{CodecParams, Frame};
use watchpost_media::hub::{Backoff, Hub, HubConfig, HubHandle, Reader, ReaderEvent};

const LINGER: Duration = Duration::from_secs(2);

fn hub_config(queue_frames: usize) -> HubConfig {
    HubConfig {
        start_timeout: Duration::from_secs(20),
        linger: LINGER,
        backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(1), 0.1),
        reader_queue_frames: queue_frames,
        gop_cache_max_bytes: 16 << 20,
    }
}

fn camera_config(sim: &Simulator, name: &str) -> CameraConfig {
    CameraConfig {
        name: name.to_owned(),
        title: name.to_owned(),
        main_url: SecretUrl::new(sim.url(name, Profile::Main).unwrap()),
        sub_url: Some(SecretUrl::new(sim.url(name, Profile::Sub).unwrap())),
        username: None,
        password: None,
        transport: RtspTransport::Tcp,
        always_on: false,
        policies: Vec::new(),
    }
}

fn start_hub(sim: &Simulator, names: &[&str], queue_frames: usize) -> HubHandle {
    let cameras: Vec<CameraConfig> = names.iter().map(|n| camera_config(sim, n)).collect();
    let paths = watchpost_media::cameras::camera_paths(&cameras).unwrap();
    Hub::spawn(hub_config(queue_frames), paths).unwrap()
}

async fn next_event(reader: &mut Reader) -> ReaderEvent {
    tokio::time::timeout(Duration::from_secs(30), reader.next())
        .await
        .expect("no event within 30 s")
        .expect("reader closed")
}

async fn next_frame(reader: &mut Reader) -> (Frame, Vec<ReaderEvent>) {
    let mut seen = Vec::new();
    loop {
        match next_event(reader).await {
            ReaderEvent::Frame(f) => return (f, seen),
            other => seen.push(other),
        }
    }
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_connects_on_first_reader_and_closes_after_linger() {
    let sim = Simulator::start(vec![test_camera("gas-station")]).unwrap();
    let hub = start_hub(&sim, &["gas-station"], 256);

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sim.client_count("gas-station"),
        0,
        "no connection without a reader"
    );

    let mut reader = hub.add_reader("gas-station/main").await.unwrap();
    let (frame, seen) = next_frame(&mut reader).await;
    let [ReaderEvent::Tracks(tracks)] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert!(frame.key && frame.track == 0, "starts at a key frame");
    assert!(
        matches!(
            tracks[0].params.as_deref(),
            Some(CodecParams::H264 {
                width: 320,
                height: 240,
                ..
            })
        ),
        "{tracks:?}"
    );
    assert_eq!(sim.client_count("gas-station"), 1);
    for _ in 0..30 {
        next_frame(&mut reader).await;
    }

    let left = Instant::now();
    drop(reader);
    wait_until(
        "the camera connection is closed",
        LINGER + Duration::from_secs(5),
        async || sim.client_count("gas-station") == 0,
    )
    .await;
    let closed_after = left.elapsed();
    assert!(
        closed_after >= LINGER - Duration::from_millis(100),
        "closed before the linger: {closed_after:?}"
    );
    assert!(
        closed_after <= LINGER + Duration::from_secs(1),
        "closed {closed_after:?} after the last reader left"
    );
    assert_eq!(hub.path("gas-station/main").await.unwrap().state, "idle");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_stay_attached_through_outages() {
    let sim = Simulator::start(vec![test_camera("oil-depot")]).unwrap();
    sim.stop_camera("oil-depot").unwrap();
    let hub = start_hub(&sim, &["oil-depot"], 256);

    // Down at first attach: the path retries, the reader waits.
    let mut reader = hub.add_reader("oil-depot/main").await.unwrap();
    wait_until(
        "the path reports retrying",
        Duration::from_secs(10),
        async || {
            let stats = hub.path("oil-depot/main").await.unwrap();
            stats.state == "retrying" && stats.last_error.is_some_and(|e| e.kind == "connect")
        },
    )
    .await;

    // Up: frames reach the same reader.
    sim.start_camera("oil-depot").unwrap();
    let (frame, seen) = next_frame(&mut reader).await;
    assert!(frame.key && frame.track == 0);
    assert!(
        matches!(seen.as_slice(), [ReaderEvent::Tracks(_)]),
        "{seen:?}"
    );

    // Mid-stream outage: told, still attached, frames again after the camera returns.
    sim.stop_camera("oil-depot").unwrap();
    loop {
        match next_event(&mut reader).await {
            ReaderEvent::Frame(_) => continue,
            ReaderEvent::Discontinuity { reason } => {
                assert!(!reason.is_empty());
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    wait_until(
        "the path reports retrying",
        Duration::from_secs(10),
        async || hub.path("oil-depot/main").await.unwrap().state == "retrying",
    )
    .await;
    sim.start_camera("oil-depot").unwrap();
    let (frame, seen) = next_frame(&mut reader).await;
    assert!(frame.key && frame.track == 0, "resumes at a key frame");
    assert!(
        matches!(seen.as_slice(), [ReaderEvent::Tracks(_)]),
        "{seen:?}"
    );
    let stats = hub.path("oil-depot/main").await.unwrap();
    assert_eq!(stats.state, "ready");
    assert_eq!(stats.readers, 1);
    assert!(stats.reconnects >= 2, "{stats:?}");
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_reader_starts_from_the_cached_key_frame() {
    let mut camera = test_camera("tailings-pond");
    // A long GOP (4 s) makes waiting for the camera's next IDR obvious.
    camera.main.gop = 60;
    let sim = Simulator::start(vec![camera]).unwrap();
    let hub = start_hub(&sim, &["tailings-pond"], 512);
    let mut first = hub.add_reader_ready("tailings-pond/main").await.unwrap();
    let mut key_pts = None;
    let mut since_key = 0;
    // Read until we are 20 pictures into a GOP.
    while key_pts.is_none() || since_key < 20 {
        let (frame, _) = next_frame(&mut first).await;
        if frame.track == 0 {
            if frame.key {
                key_pts = Some(frame.pts);
                since_key = 0;
            } else {
                since_key += 1;
            }
        }
    }

    let attached = Instant::now();
    let mut second = hub.add_reader("tailings-pond/main").await.unwrap();
    let (frame, seen) = next_frame(&mut second).await;
    assert!(
        attached.elapsed() < Duration::from_millis(500),
        "first frame took {:?}",
        attached.elapsed()
    );
    assert!(
        matches!(seen.as_slice(), [ReaderEvent::Tracks(_)]),
        "{seen:?}"
    );
    assert!(frame.key && frame.track == 0);
    assert_eq!(
        Some(frame.pts),
        key_pts,
        "the cached key frame, not a new IDR from the camera"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_does_not_delay_another() {
    let sim = Simulator::start(vec![test_camera("fireworks-outlet")]).unwrap();
    let hub = start_hub(&sim, &["fireworks-outlet"], 32);
    let mut active = hub.add_reader_ready("fireworks-outlet/main").await.unwrap();
    let mut stalled = hub.add_reader_ready("fireworks-outlet/main").await.unwrap();

    // For 6 s the stalled reader reads nothing; the active one keeps up with the camera.
    let until = Instant::now() + Duration::from_secs(6);
    let mut frames = 0;
    while Instant::now() < until {
        let (frame, seen) = next_frame(&mut active).await;
        assert!(
            !seen.iter().any(|e| matches!(
                e,
                ReaderEvent::Dropped { .. } | ReaderEvent::Discontinuity { .. }
            )),
            "{seen:?}"
        );
        let lag = frame.received.elapsed();
        assert!(
            lag < Duration::from_millis(500),
            "the active reader lags {lag:?}"
        );
        frames += 1;
    }
    assert!(frames > 100, "{frames}");
    assert_eq!(active.drops(), 0);
    assert!(
        stalled.drops() > 0,
        "the stalled reader's drops are counted"
    );
    // The camera keeps sending while we look: the path's count lies between two readings
    // of the stalled reader's (the active reader drops nothing).
    let before = stalled.drops();
    let path_drops = hub.path("fireworks-outlet/main").await.unwrap().drops;
    let after = stalled.drops();
    assert!(
        (before..=after).contains(&path_drops),
        "path drops {path_drops}, stalled reader {before}..{after}"
    );

    // It resumes at a key frame, after being told how much it missed.
    let mut dropped = None;
    while dropped.is_none() {
        if let ReaderEvent::Dropped { frames } = next_event(&mut stalled).await {
            dropped = Some(frames);
        }
    }
    let (frame, _) = next_frame(&mut stalled).await;
    assert!(frame.key && frame.track == 0);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codecs_reach_readers_with_their_parameters() {
    let stream = |codec, audio, width, height| StreamSpec {
        codec,
        audio,
        width,
        height,
        fps: 15,
        gop: 15,
    };
    let cameras = vec![
        CameraSpec {
            main: stream(VideoCodec::H265, AudioCodec::Aac, 320, 240),
            sub: stream(VideoCodec::H264, AudioCodec::Pcma, 160, 120),
            ..test_camera("h265-aac")
        },
        CameraSpec {
            main: stream(VideoCodec::H264, AudioCodec::Pcmu, 320, 180),
            ..test_camera("h264-pcmu")
        },
    ];
    let sim = Simulator::start(cameras).unwrap();
    let hub = start_hub(&sim, &["h265-aac", "h264-pcmu"], 256);
    let expect = [
        ("h265-aac/main", "h265", (320, 240), "aac", 16000),
        ("h265-aac/sub", "h264", (160, 120), "pcma", 8000),
        ("h264-pcmu/main", "h264", (320, 180), "pcmu", 8000),
    ];
    for (path, video, dimensions, audio, rate) in expect {
        let mut reader = hub.add_reader_ready(path).await.unwrap();
        let (frame, seen) = next_frame(&mut reader).await;
        let Some(ReaderEvent::Tracks(tracks)) = seen.first() else {
            panic!("{seen:?}")
        };
        let v = tracks[0].params.as_deref().unwrap();
        assert_eq!(
            (v.name(), v.dimensions()),
            (video, Some(dimensions)),
            "{path}"
        );
        let a = tracks[1].params.as_deref().unwrap();
        assert_eq!(
            (a.name(), a.audio_format().map(|f| f.0)),
            (audio, Some(rate)),
            "{path}"
        );
        assert!(
            frame.key && frame.data.starts_with(&[0, 0, 0, 1])
                || frame.data.starts_with(&[0, 0, 1])
        );
        // Audio frames flow too.
        let mut audio_frames = 0;
        while audio_frames < 5 {
            let (frame, _) = next_frame(&mut reader).await;
            if frame.track == 1 {
                assert!(!frame.data.is_empty());
                if audio.starts_with("pcm") {
                    // 20 ms of 8 kHz G.711, as cameras packetize it.
                    assert_eq!(frame.data.len(), 160, "{path}");
                }
                audio_frames += 1;
            }
        }
        let stats = hub.path(path).await.unwrap();
        assert_eq!(stats.tracks.len(), 2);
        // The simulator's x264 sends no B-frames, and the SPS says so.
        let expected_b_frames = (video == "h264").then_some(false);
        assert_eq!(
            stats.tracks[0].may_have_b_frames, expected_b_frames,
            "{path}"
        );
        assert!(stats.bitrate_in_bps > 0 && stats.fps_in > 0.0, "{stats:?}");
        // The simulator sends 15 pictures per second; the audio packets are not counted.
        assert!((5.0..=30.0).contains(&stats.video_fps_in), "{stats:?}");
    }
    hub.shutdown().await;
}

/// Broken cameras (recorded traffic replayed with faults injected) give a counted error and
/// a retry on their own path — never a panic — while a healthy camera's reader is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_counted_and_retried_without_affecting_other_paths() {
    use watchpost_fixtures::replay::{Fault, Pacing, Recording, ReplayOptions, ReplayServer};

    let sim = Simulator::start(vec![test_camera("healthy")]).unwrap();
    let faults = [
        ("malformed-sdp", Fault::MalformedSdp, "describe"),
        ("garbage", Fault::GarbageResponse, "protocol"),
        (
            "truncated-rtp",
            Fault::TruncatedRtp { after: 10 },
            "protocol",
        ),
        (
            "absurd-length",
            Fault::AbsurdLength { after: 10 },
            "protocol",
        ),
    ];
    let replays: Vec<ReplayServer> = faults
        .iter()
        .map(|(_, fault, _)| {
            let options = ReplayOptions {
                fault: Some(*fault),
                pacing: Pacing::Speed(4.0),
                ..Default::default()
            };
            ReplayServer::start(Recording::builtin("h264-pcma-320x240").unwrap(), options).unwrap()
        })
        .collect();
    let mut cameras = vec![camera_config(&sim, "healthy")];
    for ((name, _, _), replay) in faults.iter().zip(&replays) {
        cameras.push(CameraConfig {
            name: (*name).to_owned(),
            main_url: SecretUrl::new(replay.url()),
            sub_url: None,
            ..camera_config(&sim, "healthy")
        });
    }
    let paths = watchpost_media::cameras::camera_paths(&cameras).unwrap();
    let hub = Hub::spawn(hub_config(256), paths).unwrap();

    let mut healthy = hub.add_reader_ready("healthy/main").await.unwrap();
    let (first, seen) = next_frame(&mut healthy).await;
    assert!(
        first.key && matches!(seen.as_slice(), [ReaderEvent::Tracks(_)]),
        "{seen:?}"
    );
    let mut broken = Vec::new();
    for (name, _, _) in &faults {
        broken.push(hub.add_reader(&format!("{name}/main")).await.unwrap());
    }

    // Each broken path fails, counts the error by kind and retries, repeatedly.
    for ((name, _, kind), replay) in faults.iter().zip(&replays) {
        let path = format!("{name}/main");
        wait_until(
            &format!("{path} retried after {kind} errors"),
            Duration::from_secs(60),
            async || {
                let stats = hub.path(&path).await.unwrap();
                stats.errors.get(*kind).copied().unwrap_or(0) >= 2
            },
        )
        .await;
        assert!(
            replay.connections() >= 2,
            "{path}: no retry reached the camera"
        );
        let stats = hub.path(&path).await.unwrap();
        assert_ne!(stats.state, "ready", "{path}: {stats:?}");
        assert_eq!(
            stats.last_error.as_ref().map(|e| e.kind),
            Some(*kind),
            "{path}: {stats:?}"
        );
    }

    // Meanwhile the healthy path never noticed anything.
    let mut last_pts = None;
    for _ in 0..30 {
        let (frame, seen) = next_frame(&mut healthy).await;
        assert!(seen.is_empty(), "{seen:?}");
        if frame.track == 0 {
            assert!(last_pts.is_none_or(|p| frame.pts > p));
            last_pts = Some(frame.pts);
        }
    }
    let stats = hub.path("healthy/main").await.unwrap();
    assert_eq!(stats.state, "ready");
    assert!(
        stats.errors.is_empty() && stats.reconnects == 0,
        "{stats:?}"
    );
    drop(broken);
    hub.shutdown().await;
}
