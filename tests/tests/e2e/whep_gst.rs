//! WHEP playback in GStreamer's `webrtcbin` (`watchpost-whep-gst`): a WebRTC stack
//! independent of str0m and of the other players (libnice ICE, OpenSSL DTLS, libsrtp,
//! FFmpeg's decoders), and the one that decodes H.265. The simulated camera → hub →
//! WebRTC (str0m) → webrtcbin: H.264 with PCMA audio, and H.265 passed through as the
//! camera sends it. Every assertion is about frames the player decoded (and, for H.265,
//! the session's track as the stats API reports it). Loopback only; every port ephemeral.
//! The player gets the test administrator's session token as `WATCHPOST_TOKEN`.

use std::time::{Duration, Instant};

use watchpost_fixtures::sim::{VideoCodec, test_camera};
use watchpost_tests::binary;

use super::whep::{get_json, start_camera, token, wait_no_sessions};

/// `watchpost-whep-gst` playing `url` with the running server's administrator token
/// (`WATCHPOST_TOKEN`: the environment, not the command line); killed if the test gives
/// up on it.
fn spawn_player(url: &str, video: &str, audio: &str, seconds: u32) -> tokio::process::Child {
    tokio::process::Command::new(binary("watchpost-whep-gst"))
        .env("WATCHPOST_TOKEN", token())
        .args(["--url", url, "--video", video, "--audio", audio])
        .args([
            "--seconds",
            &seconds.to_string(),
            "--timeout",
            "60",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("watchpost-whep-gst starts")
}

/// Waits for the player and returns its JSON line; panics with its output if it failed.
async fn player_result(player: tokio::process::Child, started: Instant) -> serde_json::Value {
    // The player's own limit is 60 s without a frame; this one catches a hang anyway.
    let out = tokio::time::timeout(Duration::from_secs(90), player.wait_with_output())
        .await
        .expect("the webrtcbin player exits within 90 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "webrtcbin did not play ({}):\n{stdout}\n{stderr}",
        out.status
    );
    eprintln!("webrtcbin: {} in {:?}", stdout.trim(), started.elapsed());
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gst_webrtcbin_plays_h264() {
    let camera = test_camera("cam");
    let spec = camera.main.clone();
    let server = start_camera("whep-gst-h264", camera, |_| {}).await;
    let url = format!("http://{}/whep/cam/main", server.http);
    let started = Instant::now();
    let result = player_result(spawn_player(&url, "h264", "pcma", 3), started).await;
    assert!(result["video_frames"].as_u64().unwrap() > 25, "{result}");
    assert_eq!(result["video_codec"], "H264", "{result}");
    assert_eq!(result["width"], spec.width, "{result}");
    assert_eq!(result["height"], spec.height, "{result}");
    assert!(result["audio_buffers"].as_u64().unwrap() > 0, "{result}");
    assert_eq!(result["audio_codec"], "PCMA", "{result}");
    assert_eq!(result["delete_status"], 204, "{result}");
    wait_no_sessions(server.http).await;
    server.stop().await;
}

/// H.265 passthrough: the camera's H.265 reaches a viewer that offers H.265 only, and
/// FFmpeg's HEVC decoder turns it into pictures of the camera's size. The session's video
/// track says H265 in the stats API; the camera's PCMA, which the offer lacks, is not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gst_webrtcbin_plays_h265_passthrough() {
    let mut camera = test_camera("cam");
    camera.main.codec = VideoCodec::H265;
    let spec = camera.main.clone();
    let server = start_camera("whep-gst-h265", camera, |_| {}).await;
    let addr = server.http;
    let url = format!("http://{addr}/whep/cam/main");
    let started = Instant::now();
    let mut player = spawn_player(&url, "h265", "none", 4);

    // While it plays: the session is connected and its one track goes out as H265.
    let session = loop {
        let path = get_json(addr, "/api/v1/paths/cam/main").await;
        let playing = path["sessions"].as_array().and_then(|sessions| {
            sessions
                .iter()
                .find(|s| {
                    s["state"] == "connected"
                        && s["stats"]["video_frames"].as_u64().is_some_and(|n| n > 0)
                        && s["stats"]["tracks"]
                            .as_array()
                            .is_some_and(|t| !t.is_empty())
                })
                .cloned()
        });
        if let Some(session) = playing {
            break session;
        }
        if player.try_wait().unwrap().is_some() {
            // Ended before its session was seen playing: its output says why.
            let result = player_result(player, started).await;
            panic!("the player ended before its session was seen playing: {result}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no connected session with tracks: {path:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let tracks = session["stats"]["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 1, "video only: {session:#}");
    assert_eq!(tracks[0]["kind"], "video", "{session:#}");
    assert_eq!(tracks[0]["codec"], "H265", "{session:#}");

    let result = player_result(player, started).await;
    assert!(result["video_frames"].as_u64().unwrap() > 25, "{result}");
    assert_eq!(result["video_codec"], "H265", "{result}");
    assert_eq!(result["width"], spec.width, "{result}");
    assert_eq!(result["height"], spec.height, "{result}");
    assert_eq!(result["audio_buffers"], 0, "{result}");
    let answer = result["answer_codecs"].to_string();
    assert!(
        answer.contains("H265/90000") && !answer.contains("H264"),
        "{result}"
    );
    assert_eq!(result["delete_status"], 204, "{result}");
    wait_no_sessions(addr).await;
    server.stop().await;
}

/// A camera that really sends H.264 B-frames (x264, two B-frames between references): the
/// path counts them once (`b_frames` in its stats, where the warning comes from) and the
/// WHEP session counts those it sent to this viewer, both seen while webrtcbin plays.
/// FFmpeg's decoder reorders by the bitstream, so this player still decodes every picture
/// (browsers do not: WebRTC has no reordering, which is what the counters warn about).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_frames_are_detected_on_the_path_and_reported_per_session() {
    let mut camera = test_camera("cam");
    camera.b_frames = 2;
    let server = start_camera("whep-gst-bframes", camera, |_| {}).await;
    let addr = server.http;
    let url = format!("http://{addr}/whep/cam/main");
    let started = Instant::now();
    let mut player = spawn_player(&url, "h264", "pcma", 4);
    let (path, session) = loop {
        let path = get_json(addr, "/api/v1/paths/cam/main").await;
        let session = path["sessions"].as_array().and_then(|s| {
            s.iter()
                .find(|s| s["stats"]["b_frames"].as_u64().is_some_and(|n| n > 0))
                .cloned()
        });
        if let Some(session) = session {
            break (path, session);
        }
        if player.try_wait().unwrap().is_some() {
            let result = player_result(player, started).await;
            panic!("the player ended before its session reported B-frames: {result}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no session with B-frames: {path:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let stats = &session["stats"];
    let (b, sent) = (
        stats["b_frames"].as_u64().unwrap(),
        stats["video_frames"].as_u64().unwrap(),
    );
    assert!(
        b < sent,
        "{b} of {sent} pictures have B slices: {session:#}"
    );
    assert!(path["b_frames"].as_u64().unwrap() > 0, "{path:#}");
    assert_eq!(path["tracks"][0]["may_have_b_frames"], true, "{path:#}");

    let result = player_result(player, started).await;
    assert!(result["video_frames"].as_u64().unwrap() > 25, "{result}");
    wait_no_sessions(addr).await;
    server.stop().await;
}

/// A real client that offers H.264 only (webrtcbin, `--video h264`) asks for an H.265-only
/// camera: `406`, and the message says what the camera sends and what the offer accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h265_camera_for_an_h264_only_player_is_not_acceptable() {
    let mut camera = test_camera("cam");
    camera.main.codec = VideoCodec::H265;
    let server = start_camera("whep-gst-406", camera, |_| {}).await;
    let url = format!("http://{}/whep/cam/main", server.http);
    let out = spawn_player(&url, "h264", "none", 2)
        .wait_with_output()
        .await
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{output}");
    assert!(output.contains("406"), "{output}");
    assert!(output.contains("the camera sends video H.265"), "{output}");
    assert!(
        output.contains("H264"),
        "the offer's codecs are named: {output}"
    );
    wait_no_sessions(server.http).await;
    server.stop().await;
}
