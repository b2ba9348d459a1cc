//! AAC → Opus once per path (`gstreamer` feature): real AAC from the camera simulator,
//! through the hub, to readers that asked for Opus; two such readers share one transcoder.
#![cfg(feature = "gstreamer")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use watchpost_config::{RtspTransport, SecretUrl};
use watchpost_fixtures::sim::{AudioCodec, Profile, Simulator, test_camera};
use watchpost_media::hub::ReaderOptions;
use watchpost_media::hub::{Hub, HubConfig, HubHandle, PathName, PathSpec, Reader, ReaderEvent};
use watchpost_media::ingest::{RtspSource, RtspSourceSpec};
use watchpost_media::{CodecParams, MediaKind, Track};

/// Upper bound for what normally takes a second or two.
const DEADLINE: Duration = Duration::from_secs(40);

/// The tracks (first event), then `count` frames of the audio track, with their pts.
async fn audio_frames(reader: &mut Reader, count: usize) -> (Arc<[Track]>, Vec<(i64, usize)>) {
    let tracks = match tokio::time::timeout(DEADLINE, reader.next()).await {
        Ok(Some(ReaderEvent::Tracks(tracks))) => tracks,
        other => panic!("expected tracks first, got {other:?}"),
    };
    let audio = tracks
        .iter()
        .position(|t| t.kind == MediaKind::Audio)
        .expect("an audio track");
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while frames.len() < count {
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(Some(ReaderEvent::Frame(f))) if f.track == audio => {
                frames.push((f.pts, f.data.len()));
            }
            Ok(Some(ReaderEvent::Frame(_))) => {}
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(_) => panic!("only {} audio frames within {DEADLINE:?}", frames.len()),
        }
    }
    (tracks, frames)
}

fn audio_params(tracks: &[Track]) -> CodecParams {
    tracks
        .iter()
        .find(|t| t.kind == MediaKind::Audio)
        .and_then(|t| t.params.as_deref())
        .cloned()
        .expect("audio params")
}

async fn transcoders_started(hub: &HubHandle, path: &str) -> u64 {
    hub.path(path).await.unwrap().transcoders_started
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aac_is_transcoded_once_for_all_opus_readers() {
    let started = Instant::now();
    let mut spec = test_camera("aac");
    spec.main.audio = AudioCodec::Aac;
    let sim = Simulator::start(vec![spec]).expect("simulator");
    let source = RtspSource::new(RtspSourceSpec {
        url: SecretUrl::new(sim.url("aac", Profile::Main).unwrap()),
        username: None,
        password: None,
        transport: RtspTransport::Tcp,
        policies: Vec::new(),
    })
    .expect("valid URL");
    let hub = Hub::spawn(
        HubConfig::default(),
        vec![PathSpec {
            name: PathName::new("aac/main").unwrap(),
            source: Arc::new(source),
            always_on: false,
        }],
    )
    .unwrap();
    let opus = ReaderOptions { opus_audio: true };

    let mut plain = hub.add_reader_ready("aac/main").await.unwrap();
    let mut first = hub.add_reader_ready_with("aac/main", opus).await.unwrap();
    let mut second = hub.add_reader_ready_with("aac/main", opus).await.unwrap();

    let (plain_tracks, plain_frames) = audio_frames(&mut plain, 5).await;
    assert!(
        matches!(audio_params(&plain_tracks), CodecParams::Aac { .. }),
        "a plain reader keeps AAC: {plain_tracks:?}"
    );
    assert!(plain_frames.iter().all(|(_, len)| *len > 0));

    for reader in [&mut first, &mut second] {
        let (tracks, frames) = audio_frames(reader, 25).await;
        let audio = tracks.iter().find(|t| t.kind == MediaKind::Audio).unwrap();
        assert_eq!(audio.clock_rate, 48000);
        assert!(
            matches!(
                audio_params(&tracks),
                CodecParams::Opus {
                    sample_rate: 48000,
                    ..
                }
            ),
            "{tracks:?}"
        );
        assert!(frames.iter().all(|(_, len)| *len > 0), "{frames:?}");
        let steps: Vec<i64> = frames.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert!(steps.iter().all(|d| *d == 960), "20 ms apart: {steps:?}");
        assert_eq!(reader.drops(), 0);
    }
    let stats = hub.path("aac/main").await.unwrap();
    assert_eq!(
        stats.transcoders_started, 1,
        "one transcoder for both: {stats:?}"
    );
    assert_eq!(stats.transcode_drops, 0, "{stats:?}");

    // The last Opus reader leaving stops the transcoder; the next one starts a new one.
    drop(first);
    drop(second);
    let mut third = hub.add_reader_ready_with("aac/main", opus).await.unwrap();
    let (_, frames) = audio_frames(&mut third, 5).await;
    assert!(frames.iter().all(|(_, len)| *len > 0));
    assert_eq!(transcoders_started(&hub, "aac/main").await, 2);

    drop((plain, third));
    hub.shutdown().await;
    eprintln!("transcode test took {:?}", started.elapsed());
}
