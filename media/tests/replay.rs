//! The RTSP source against recorded camera traffic replayed by
//! `watchpost_fixtures::replay::ReplayServer`: codec parameters and frames from real
//! recordings, a mid-stream parameter change, and every injected fault — each must end the
//! session with an error of a sensible kind (or a warning where the source survives), never
//! a panic and never a hang, without disturbing another source running at the same time.
//!
//! Recordings and their provenance: `fixtures/recordings/README.md`. Everything binds
//! ephemeral ports on 127.0.0.1; every wait is bounded.

use std::time::{Duration, Instant};

use watchpost_config::RtspTransport;
use watchpost_fixtures::replay::{Fault, Pacing, Recording, ReplayOptions, ReplayServer};
use watchpost_media::codec::{annexb, h264, h265};
use watchpost_media::ingest::rtsp::NO_DATA_TIMEOUT;
use watchpost_media::ingest::{RtspSource, Source, SourceError, SourceErrorKind};
use watchpost_media::{CodecParams, Frame, MediaKind};

mod support;
use support::{Recorder, Seen, rtsp_source};

/// Upper bound for a session against a replay (recordings last 3–6 s, replayed faster).
const SESSION_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn camera(recording: &str, options: ReplayOptions) -> ReplayServer {
    let recording = Recording::builtin(recording).expect("committed recording");
    ReplayServer::start(recording, options).expect("replay camera starts")
}

fn options(fault: Option<Fault>) -> ReplayOptions {
    ReplayOptions {
        pacing: Pacing::Speed(4.0),
        fault,
        ..ReplayOptions::default()
    }
}

fn source(server: &ReplayServer) -> RtspSource {
    rtsp_source(server.url(), RtspTransport::Tcp)
}

/// Runs one session to its end (bounded); returns what the sink saw, the error and the
/// time it took.
async fn session(server: &ReplayServer) -> (Seen, SourceError, Duration) {
    session_within(server, SESSION_DEADLINE).await
}

async fn session_within(
    server: &ReplayServer,
    deadline: Duration,
) -> (Seen, SourceError, Duration) {
    let source = source(server);
    let collector = Recorder::default();
    let mut sink = collector.clone();
    let start = Instant::now();
    let err = tokio::time::timeout(deadline, source.run(&mut sink))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "session with {} did not end within {deadline:?}",
                server.url()
            )
        });
    let seen = collector.seen().clone();
    (seen, err, start.elapsed())
}

/// The SPS NAL units in a video frame's Annex B data.
fn sps_units(frame: &Frame, nal_type: impl Fn(&[u8]) -> bool) -> Vec<Vec<u8>> {
    annexb::nal_units(&frame.data)
        .filter(|nal| nal_type(nal))
        .map(<[u8]>::to_vec)
        .collect()
}

fn is_h264_sps(nal: &[u8]) -> bool {
    h264::nal_type(nal) == Some(h264::NalType::SPS)
}

fn is_h265_sps(nal: &[u8]) -> bool {
    h265::nal_type(nal) == Some(h265::NalType::SPS)
}

// ---------------------------------------------------------------------------------------
// Clean replays
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn h264_with_pcma_tracks_params_and_frames() {
    let server = camera("h264-pcma-320x240", options(None));
    let (seen, err, _) = session(&server).await;
    // The recording ends and the camera closes the connection.
    assert_eq!(err.kind, SourceErrorKind::Ended, "{err}");
    assert_eq!(seen.tracks.len(), 1, "tracks announced once");
    let tracks = &seen.tracks[0];
    assert_eq!(tracks.len(), 2, "{tracks:?}");
    let video = tracks.iter().find(|t| t.kind == MediaKind::Video).unwrap();
    assert_eq!(video.clock_rate, 90_000);
    match video.params.as_deref() {
        Some(CodecParams::H264 {
            width,
            height,
            sps,
            rfc6381,
            ..
        }) => {
            assert_eq!((*width, *height), (320, 240));
            // Our own parser agrees with retina's.
            let parsed = h264::Sps::parse(sps).unwrap();
            assert_eq!((parsed.width, parsed.height), (320, 240));
            assert!(!parsed.may_have_b_frames());
            assert!(rfc6381.eq_ignore_ascii_case(&parsed.rfc6381()), "{rfc6381}");
        }
        other => panic!("video params {other:?}"),
    }
    let audio = tracks.iter().find(|t| t.kind == MediaKind::Audio).unwrap();
    assert_eq!(audio.clock_rate, 8000);
    assert_eq!(
        audio.params.as_deref(),
        Some(&CodecParams::Pcma {
            sample_rate: 8000,
            channels: 1
        })
    );

    let video_frames = seen.video();
    assert!(
        video_frames.len() >= 25,
        "{} video frames",
        video_frames.len()
    );
    assert!(video_frames[0].key, "first video frame is a key frame");
    assert!(
        video_frames.iter().filter(|f| f.key).count() >= 3,
        "a key frame every second"
    );
    for key in video_frames.iter().filter(|f| f.key) {
        let sps = sps_units(key, is_h264_sps);
        assert_eq!(sps.len(), 1, "parameter sets before every key frame");
        assert!(h264::contains_idr(&key.data));
    }
    let pts: Vec<i64> = video_frames.iter().map(|f| f.pts).collect();
    assert!(pts.windows(2).all(|w| w[1] > w[0]), "{pts:?}");
    assert!(
        seen.audio().len() >= 10,
        "{} audio frames",
        seen.audio().len()
    );
    assert!(seen.audio().iter().all(|f| f.key));
    assert!(seen.warnings.is_empty(), "{:?}", seen.warnings);
}

#[tokio::test]
async fn h265_params_and_key_frames() {
    let server = camera("h265-320x240", options(None));
    let (seen, _err, _) = session(&server).await;
    let tracks = &seen.tracks[0];
    assert_eq!(tracks.len(), 1);
    match tracks[0].params.as_deref() {
        Some(CodecParams::H265 {
            width, height, sps, ..
        }) => {
            assert_eq!((*width, *height), (320, 240));
            let parsed = h265::Sps::parse(sps).unwrap();
            assert_eq!((parsed.width, parsed.height), (320, 240));
            assert!(!parsed.may_have_b_frames());
        }
        other => panic!("video params {other:?}"),
    }
    let video = seen.video();
    assert!(video.len() >= 20, "{} frames", video.len());
    assert!(video[0].key);
    for key in video.iter().filter(|f| f.key) {
        assert!(h265::contains_irap(&key.data));
        assert_eq!(sps_units(key, is_h265_sps).len(), 1);
    }
}

#[tokio::test]
async fn parameter_change_mid_stream_is_announced_on_the_frame() {
    let server = camera("h264-param-change", options(None));
    let (seen, err, _) = session(&server).await;
    let tracks = &seen.tracks[0];
    assert_eq!(
        tracks[0]
            .params
            .as_deref()
            .and_then(CodecParams::dimensions),
        Some((320, 240)),
        "the SDP announces the first size"
    );
    let video = seen.video();
    let changed: Vec<&&Frame> = video.iter().filter(|f| f.new_params.is_some()).collect();
    let sizes: Vec<Option<(u32, u32)>> = changed
        .iter()
        .map(|f| f.new_params.as_deref().and_then(CodecParams::dimensions))
        .collect();
    assert_eq!(sizes, vec![Some((160, 120))], "{err}");
    let frame = changed[0];
    assert!(frame.key, "the change comes with a key frame");
    let sps = sps_units(frame, is_h264_sps);
    let parsed = h264::Sps::parse(&sps[0]).unwrap();
    assert_eq!((parsed.width, parsed.height), (160, 120));
    // Frames before and after the change all arrived.
    let before = video.iter().take_while(|f| f.new_params.is_none()).count();
    assert!(
        before >= 20 && video.len() - before >= 20,
        "{before} / {}",
        video.len()
    );
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_sdp_is_a_describe_error() {
    let server = camera("h264-pcma-320x240", options(Some(Fault::MalformedSdp)));
    let (seen, err, took) = session(&server).await;
    assert_eq!(err.kind, SourceErrorKind::Describe, "{err}");
    assert!(seen.tracks.is_empty() && seen.frames.is_empty());
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test]
async fn garbage_instead_of_a_response_is_a_protocol_error() {
    let server = camera("h264-pcma-320x240", options(Some(Fault::GarbageResponse)));
    let (seen, err, took) = session(&server).await;
    assert_eq!(err.kind, SourceErrorKind::Protocol, "{err}");
    assert!(seen.frames.is_empty());
    // Detected from the bytes, not by waiting for a timeout.
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[tokio::test]
async fn absurd_interleaved_length_ends_the_session() {
    let server = camera(
        "h264-pcma-320x240",
        options(Some(Fault::AbsurdLength { after: 20 })),
    );
    let (seen, err, took) = session(&server).await;
    // retina waits for the announced 65535 bytes, gets 1000 and EOF: a framing error.
    assert_eq!(err.kind, SourceErrorKind::Protocol, "{err}");
    assert!(!seen.frames.is_empty(), "frames before the fault arrived");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test]
async fn truncated_rtp_packet_is_a_protocol_error() {
    let server = camera(
        "h264-pcma-320x240",
        options(Some(Fault::TruncatedRtp { after: 20 })),
    );
    let (seen, err, took) = session(&server).await;
    // retina does not skip a corrupt RTP header on a TCP session ("corrupt RTP header …
    // too short"): the session ends, and the hub's retry starts a new one.
    assert_eq!(err.kind, SourceErrorKind::Protocol, "{err}");
    assert!(err.message.contains("RTP"), "{err}");
    assert!(!seen.frames.is_empty(), "frames before the fault arrived");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test]
async fn close_mid_stream_ends_the_session() {
    let server = camera(
        "h264-pcma-320x240",
        options(Some(Fault::CloseMidStream { after: 30 })),
    );
    let (seen, err, took) = session(&server).await;
    assert_eq!(err.kind, SourceErrorKind::Ended, "{err}");
    assert!(!seen.frames.is_empty());
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test]
async fn stalled_camera_times_out() {
    let server = camera(
        "h264-pcma-320x240",
        ReplayOptions {
            hold_limit: Duration::from_secs(120),
            ..options(Some(Fault::Stall { after: 15 }))
        },
    );
    let (seen, err, took) = session_within(&server, NO_DATA_TIMEOUT * 4).await;
    assert_eq!(err.kind, SourceErrorKind::Timeout, "{err}");
    assert!(!seen.frames.is_empty());
    assert!(took >= NO_DATA_TIMEOUT, "{took:?}");
}

#[tokio::test]
async fn a_retry_after_a_fault_gets_a_clean_session() {
    let server = camera(
        "h264-pcma-320x240",
        ReplayOptions {
            faulty_connections: 1,
            ..options(Some(Fault::GarbageResponse))
        },
    );
    let source = source(&server);
    let mut sink = Recorder::default();
    let first = tokio::time::timeout(SESSION_DEADLINE, source.run(&mut sink))
        .await
        .expect("first session ends");
    assert_eq!(first.kind, SourceErrorKind::Protocol, "{first}");
    // The same source again, as the hub's retry loop does.
    let collector = Recorder::default();
    let mut sink = collector.clone();
    let _second = tokio::time::timeout(SESSION_DEADLINE, source.run(&mut sink))
        .await
        .expect("second session ends");
    assert!(collector.seen().video().len() >= 25);
    assert!(server.connections() >= 2);
}

#[tokio::test]
async fn a_faulty_camera_does_not_disturb_another_source() {
    let bad = camera(
        "h264-pcma-320x240",
        options(Some(Fault::AbsurdLength { after: 3 })),
    );
    let good = camera("h265-320x240", options(None));
    let ((_, bad_err, _), (good_seen, _, _)) = tokio::join!(session(&bad), session(&good));
    assert_ne!(bad_err.kind, SourceErrorKind::Ended, "{bad_err}");
    assert!(good_seen.video().len() >= 20);
    assert!(good_seen.warnings.is_empty(), "{:?}", good_seen.warnings);
}
