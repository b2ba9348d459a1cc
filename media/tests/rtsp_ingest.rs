//! The RTSP source against the real camera simulator (GStreamer's RTSP server on
//! 127.0.0.1) and small fake cameras: codecs and their parameters (Opus included), frame
//! format, key-frame cadence, timestamps, UDP transport, digest authentication, outages,
//! and hanging up when dropped; and, through the stream hub, H.264 B-frames detected in
//! what a camera really sends.
//!
//! Streams are small (320×240 @ 15 fps) and every wait is generous (tens of seconds), so
//! the tests hold on a loaded two-core machine; they normally take a few seconds each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use watchpost_config::{CameraPolicy, RtspTransport, Secret, SecretUrl};
use watchpost_fixtures::sim::{
    AudioCodec, CameraSpec, Credentials, Profile, Simulator, StreamSpec, VideoCodec, test_camera,
};
use watchpost_media::codec::h264;
use watchpost_media::hub::{Hub, HubConfig, PathName, PathSpec, PathStats, ReaderEvent};
use watchpost_media::ingest::rtsp::RESPONSE_TIMEOUT;
use watchpost_media::ingest::{
    RtspSource, RtspSourceSpec, Source, SourceError, SourceErrorKind, SourceWarning,
};
use watchpost_media::{CodecParams, Frame, MediaKind, Track};

mod support;
use support::{Recorder, Seen, rtsp_source};

/// Upper bound for receiving what a test waits for (normally 1–3 s).
const MEDIA_DEADLINE: Duration = Duration::from_secs(40);
/// Upper bound for a failure that should come at once (refused connection, 401).
const QUICK_FAILURE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Runs `source` until `done` holds for what it received (then drops the run future, as
/// the hub does to stop a source) or until `deadline`. Returns what was received and the
/// error if the session ended by itself.
async fn run_until(
    source: &RtspSource,
    deadline: Duration,
    done: impl Fn(&Seen) -> bool,
) -> (Seen, Option<SourceError>) {
    let recorder = Recorder::default();
    let mut sink = recorder.clone();
    let ended = {
        let mut run = source.run(&mut sink);
        let watch = async {
            while !done(&recorder.seen()) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            err = &mut run => Some(err),
            _ = tokio::time::timeout(deadline, watch) => None,
        }
    };
    let seen = recorder.seen().clone();
    (seen, ended)
}

/// Runs `source` until its session ends by itself, with an upper bound.
async fn run_to_end(source: &RtspSource, deadline: Duration) -> (SourceError, Duration) {
    let start = Instant::now();
    let mut sink = Recorder::default();
    let err = tokio::time::timeout(deadline, source.run(&mut sink))
        .await
        .unwrap_or_else(|_| panic!("{} did not end within {deadline:?}", source.describe()));
    (err, start.elapsed())
}

fn rtsp(url: impl Into<String>, transport: RtspTransport) -> RtspSource {
    rtsp_source(url, transport)
}

fn camera(name: &str, codec: VideoCodec, audio: AudioCodec) -> CameraSpec {
    let mut camera = test_camera(name);
    camera.main = StreamSpec {
        codec,
        audio,
        width: 320,
        height: 240,
        fps: 15,
        gop: 15,
    };
    camera
}

/// `rtsp://user:password@127.0.0.1:port/path` from a credential-free simulator URL.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    url.replacen("rtsp://", &format!("rtsp://{user}:{password}@"), 1)
}

/// NAL unit types in an Annex B access unit (H.264 or H.265 header layout).
fn nal_types(data: &[u8], codec: VideoCodec) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let header = data[i + 3];
            types.push(match codec {
                VideoCodec::H264 => header & 0x1f,
                VideoCodec::H265 => (header >> 1) & 0x3f,
            });
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

/// The parameter-set NAL unit types a key frame must carry.
fn parameter_set_types(codec: VideoCodec) -> &'static [u8] {
    match codec {
        VideoCodec::H264 => &[7, 8],       // SPS, PPS
        VideoCodec::H265 => &[32, 33, 34], // VPS, SPS, PPS
    }
}

/// Checks the video track of `seen` against `spec`: parameters, Annex B, a key frame with
/// parameter sets first, key frames every `gop` frames, increasing timestamps.
fn check_video(seen: &Seen, spec: &StreamSpec) {
    let tracks = &seen.tracks[0];
    let video_track = tracks
        .iter()
        .position(|t| t.kind == MediaKind::Video)
        .expect("a video track");
    assert_eq!(tracks[video_track].clock_rate, 90_000);
    let frames = seen.frames_of(MediaKind::Video);
    assert!(
        frames.len() > 2 * spec.gop as usize,
        "{} frames",
        frames.len()
    );

    // Parameters: announced with the track, or on the first frame.
    let params = tracks[video_track]
        .params
        .clone()
        .or_else(|| frames[0].new_params.clone())
        .expect("video parameters at PLAY or on the first frame");
    assert_eq!(params.dimensions(), Some((spec.width, spec.height)));
    match (&*params, spec.codec) {
        (
            CodecParams::H264 {
                sps, pps, rfc6381, ..
            },
            VideoCodec::H264,
        ) => {
            assert!(!sps.is_empty() && !pps.is_empty());
            assert!(rfc6381.starts_with("avc1."), "{rfc6381}");
        }
        (
            CodecParams::H265 {
                vps,
                sps,
                pps,
                rfc6381,
                ..
            },
            VideoCodec::H265,
        ) => {
            assert!(!vps.is_empty() && !sps.is_empty() && !pps.is_empty());
            assert!(rfc6381.starts_with("hvc1."), "{rfc6381}");
        }
        (params, codec) => panic!("{codec} stream announced {params:?}"),
    }

    // Annex B everywhere; parameter sets in front of every key frame.
    for frame in &frames {
        assert!(
            frame.data.starts_with(&[0, 0, 0, 1]) || frame.data.starts_with(&[0, 0, 1]),
            "not Annex B: {:02x?}",
            &frame.data[..frame.data.len().min(8)]
        );
        let types = nal_types(&frame.data, spec.codec);
        let has_sets = parameter_set_types(spec.codec)
            .iter()
            .all(|t| types.contains(t));
        assert_eq!(frame.key, has_sets, "key={} NAL types {types:?}", frame.key);
    }
    assert!(frames[0].key, "the first video frame must be a key frame");

    // A key frame every GOP (the simulator forces one at PLAY, so the first gap may be
    // shorter; x264/x265 never exceed key-int-max).
    let keys: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.key.then_some(i))
        .collect();
    assert!(keys.len() >= 2, "key frames at {keys:?}");
    let gaps: Vec<usize> = keys.windows(2).map(|w| w[1] - w[0]).collect();
    let gop = spec.gop as usize;
    assert!(
        gaps.iter().all(|&g| (1..=gop).contains(&g)) && gaps[1..].iter().all(|&g| g == gop),
        "key frame gaps {gaps:?}, GOP {gop}"
    );

    // Timestamps increase, by about a frame interval (a loaded machine may make the live
    // source skip a few).
    let frame_ticks = 90_000 / i64::from(spec.fps);
    for pair in frames.windows(2) {
        let step = pair[1].pts - pair[0].pts;
        assert!(
            step > 0 && step < 30 * frame_ticks,
            "pts {} then {}",
            pair[0].pts,
            pair[1].pts
        );
    }
    assert!(frames.iter().all(|f| f.track == video_track));
}

/// Checks the audio track of `seen` (G.711 at 8 kHz, AAC at 16 kHz or Opus at 48 kHz in
/// 20 ms packets; mono).
fn check_audio(seen: &Seen, audio: AudioCodec) {
    let tracks = &seen.tracks[0];
    let audio_tracks: Vec<&Track> = tracks
        .iter()
        .filter(|t| t.kind == MediaKind::Audio)
        .collect();
    if audio == AudioCodec::None {
        assert!(audio_tracks.is_empty(), "{tracks:?}");
        assert!(seen.frames_of(MediaKind::Audio).is_empty());
        return;
    }
    let track = audio_tracks[0];
    let params = track.params.as_deref().expect("audio parameters at PLAY");
    match (params, audio) {
        (
            CodecParams::Pcma {
                sample_rate,
                channels,
            },
            AudioCodec::Pcma,
        )
        | (
            CodecParams::Pcmu {
                sample_rate,
                channels,
            },
            AudioCodec::Pcmu,
        ) => {
            assert_eq!((*sample_rate, *channels), (8000, 1));
            assert_eq!(track.clock_rate, 8000);
        }
        (
            CodecParams::Aac {
                config,
                sample_rate,
                channels,
            },
            AudioCodec::Aac,
        ) => {
            assert!(!config.is_empty());
            assert_eq!((*sample_rate, *channels), (16_000, 1));
            assert_eq!(track.clock_rate, 16_000);
        }
        (
            CodecParams::Opus {
                sample_rate,
                channels,
            },
            AudioCodec::Opus,
        ) => {
            // Mono: the simulator's SDP says `sprop-stereo=0` (its rtpmap says /2).
            assert_eq!((*sample_rate, *channels), (48_000, 1));
            assert_eq!(track.clock_rate, 48_000);
        }
        (params, audio) => panic!("{audio} stream announced {params:?}"),
    }
    let frames = seen.frames_of(MediaKind::Audio);
    assert!(frames.len() >= 5, "{} audio frames", frames.len());
    for frame in &frames {
        assert!(frame.key && !frame.data.is_empty());
        assert!(frame.new_params.is_none());
        if audio == AudioCodec::Aac {
            // Raw access units, not ADTS (which starts with the 12-bit sync word 0xFFF).
            assert!(
                !(frame.data[0] == 0xff && frame.data[1] & 0xf0 == 0xf0),
                "ADTS header on an AAC frame"
            );
        }
        if audio == AudioCodec::Opus {
            // One whole Opus packet per frame: 20 ms, mono (stereo flag of the TOC byte
            // clear).
            assert_eq!(opus_packet_samples(&frame.data), Some(960), "{frame:?}");
            assert_eq!(frame.data[0] & 0x04, 0, "stereo Opus packet");
        }
    }
    for pair in frames.windows(2) {
        assert!(
            pair[1].pts > pair[0].pts,
            "{} then {}",
            pair[0].pts,
            pair[1].pts
        );
        if audio == AudioCodec::Opus {
            // 20 ms packets: 960 ticks apart, or a multiple where one was lost (UDP).
            assert_eq!((pair[1].pts - pair[0].pts) % 960, 0, "{pair:?}");
        }
    }
}

/// Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 section 3.1).
fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame duration in 48 kHz samples: SILK (configs 0–11) 10/20/40/60 ms, hybrid
    // (12–15) 10/20 ms, CELT (16–31) 2.5/5/10/20 ms.
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    Some(frame * frames)
}

/// Pulls the main stream of a camera with `codec` + `audio` over `transport` and checks
/// everything that arrives.
async fn pull_and_check(codec: VideoCodec, audio: AudioCodec, transport: RtspTransport) {
    let name = format!("{}-{}", codec.as_str(), audio.as_str());
    let spec = camera(&name, codec, audio);
    let stream = spec.main.clone();
    let sim = Simulator::start(vec![spec]).expect("simulator");
    let source = rtsp(sim.url(&name, Profile::Main).unwrap(), transport);

    let started = Instant::now();
    let (seen, ended) = run_until(&source, MEDIA_DEADLINE, |seen| {
        seen.key_frames() >= 4
            && (audio == AudioCodec::None || seen.frames_of(MediaKind::Audio).len() >= 10)
    })
    .await;
    eprintln!(
        "{name} over {transport:?}: {} frames in {:?}",
        seen.frames.len(),
        started.elapsed()
    );
    assert!(ended.is_none(), "session ended: {ended:?}");
    assert_eq!(seen.tracks.len(), 1, "tracks announced once");
    let want_tracks = if audio == AudioCodec::None { 1 } else { 2 };
    assert_eq!(seen.tracks[0].len(), want_tracks, "{:?}", seen.tracks[0]);
    assert_eq!(seen.tracks[0][0].kind, MediaKind::Video);
    check_video(&seen, &stream);
    check_audio(&seen, audio);
    if transport == RtspTransport::Tcp {
        assert!(seen.warnings.is_empty(), "{:?}", seen.warnings);
    }
}

/// Polls `f` until it returns true or `deadline` passes.
async fn eventually(deadline: Duration, f: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

// ---------------------------------------------------------------------------------------
// Codecs and frame format
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_with_pcma() {
    pull_and_check(VideoCodec::H264, AudioCodec::Pcma, RtspTransport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_with_aac() {
    pull_and_check(VideoCodec::H265, AudioCodec::Aac, RtspTransport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_with_pcmu() {
    pull_and_check(VideoCodec::H264, AudioCodec::Pcmu, RtspTransport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_with_opus() {
    pull_and_check(VideoCodec::H264, AudioCodec::Opus, RtspTransport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_with_opus_over_udp() {
    pull_and_check(VideoCodec::H264, AudioCodec::Opus, RtspTransport::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_only() {
    pull_and_check(VideoCodec::H264, AudioCodec::None, RtspTransport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_transport_on_loopback() {
    pull_and_check(VideoCodec::H264, AudioCodec::Pcma, RtspTransport::Udp).await;
}

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_with_right_and_wrong_passwords() {
    const PASSWORD: &str = "Right-Pw-7731";
    let mut spec = camera("locked", VideoCodec::H264, AudioCodec::None);
    spec.auth = Some(Credentials::new("admin", PASSWORD));
    let sim = Simulator::start(vec![spec]).expect("simulator");
    let url = sim.url("locked", Profile::Main).unwrap();
    let playing = |seen: &Seen| seen.key_frames() >= 1;

    // Right credentials in the URL.
    let source = rtsp(
        with_credentials(&url, "admin", PASSWORD),
        RtspTransport::Tcp,
    );
    assert!(!source.describe().contains(PASSWORD));
    let (seen, ended) = run_until(&source, MEDIA_DEADLINE, playing).await;
    assert!(
        ended.is_none() && playing(&seen),
        "URL credentials: {ended:?}"
    );

    // Right credentials in the spec fields.
    let source = RtspSource::new(RtspSourceSpec {
        url: SecretUrl::new(url.clone()),
        username: Some("admin".into()),
        password: Some(Secret::new(PASSWORD)),
        transport: RtspTransport::Tcp,
        policies: Vec::new(),
    })
    .unwrap();
    let (seen, ended) = run_until(&source, MEDIA_DEADLINE, playing).await;
    assert!(
        ended.is_none() && playing(&seen),
        "field credentials: {ended:?}"
    );

    // Wrong passwords, either way, and none at all: Auth, quickly, and never printed.
    let wrong_in_url = rtsp(
        with_credentials(&url, "admin", "Wrong-Url-Pw-4410"),
        RtspTransport::Tcp,
    );
    let wrong_in_spec = RtspSource::new(RtspSourceSpec {
        url: SecretUrl::new(url.clone()),
        username: Some("admin".into()),
        password: Some(Secret::new("Wrong-Field-Pw-5521")),
        transport: RtspTransport::Udp,
        policies: vec![CameraPolicy::UseFirstSessionId],
    })
    .unwrap();
    let anonymous = rtsp(url.clone(), RtspTransport::Tcp);
    for source in [&wrong_in_url, &wrong_in_spec, &anonymous] {
        let (err, took) = run_to_end(source, QUICK_FAILURE).await;
        assert_eq!(err.kind, SourceErrorKind::Auth, "{err}");
        assert!(err.message.contains("401"), "{err}");
        let shown = format!("{err} | {err:?} | {} | {source:?}", source.describe());
        for secret in ["Wrong-Url-Pw-4410", "Wrong-Field-Pw-5521", PASSWORD] {
            assert!(!shown.contains(secret), "{secret} shown in: {shown}");
        }
        eprintln!("auth failure after {took:?}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// Misbehaving servers (a scripted fake on 127.0.0.1)
// ---------------------------------------------------------------------------------------

/// How a fake RTSP server answers.
#[derive(Clone, Copy)]
enum Fake {
    /// Accepts the connection and never says anything.
    Silent,
    /// Answers every request with bytes that are not RTSP.
    Garbage,
    /// Answers `DESCRIBE` with this SDP.
    Sdp(&'static str),
}

/// Serves one connection on an ephemeral 127.0.0.1 port as `fake`; returns the URL.
async fn fake_server(fake: Fake) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            let Ok(n) = conn.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            request.extend_from_slice(&buf[..n]);
            let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&request[..end]).into_owned();
            request.drain(..end + 4);
            let cseq = head
                .lines()
                .find_map(|l| l.strip_prefix("CSeq: "))
                .unwrap_or("0")
                .to_owned();
            let answer = match fake {
                Fake::Silent => continue,
                Fake::Garbage => b"\x16\x03\x01 definitely not RTSP\r\n\r\n".to_vec(),
                Fake::Sdp(sdp) => format!(
                    "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n\
                     Content-Base: rtsp://127.0.0.1:{port}/x/\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                )
                .into_bytes(),
            };
            if conn.write_all(&answer).await.is_err() {
                return;
            }
        }
    });
    format!("rtsp://127.0.0.1:{port}/x")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_unsupported_codecs_is_a_describe_error() {
    const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                       m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\n\
                       m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n\
                       a=control:trackID=1\r\n";
    let source = rtsp(fake_server(Fake::Sdp(SDP)).await, RtspTransport::Tcp);
    let (err, _) = run_to_end(&source, QUICK_FAILURE).await;
    eprintln!("{err}");
    assert_eq!(err.kind, SourceErrorKind::Describe, "{err}");
    assert!(
        err.message.contains("video/jpeg")
            && err.message.contains("application/vnd.onvif.metadata"),
        "{err}"
    );
}

/// A camera with MJPEG video (unsupported) and stereo Opus audio: an audio-only source.
/// Opus frames are the RTP payloads as they are, on the 48 kHz RTP clock; lost packets
/// are reported, and an empty payload (no Opus packet) is skipped.
///
/// Before the Opus stream, the SDP has a media description retina cannot parse (a dynamic
/// payload type without `rtpmap`) and leaves out of its streams: the `sprop-stereo` of
/// the Opus stream must still come from the Opus description, not from that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_beside_mjpeg_is_an_audio_only_source() {
    const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                       m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\na=control:trackID=0\r\n\
                       m=audio 0 RTP/AVP 111\r\na=fmtp:111 sprop-stereo=0\r\na=control:trackID=9\r\n\
                       m=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n\
                       a=fmtp:111 minptime=10;useinbandfec=1;sprop-stereo=1\r\n\
                       a=control:trackID=1\r\n";
    // 20 ms CELT stereo packets (TOC 0xfc) with sequence numbers 500.., 960 ticks apart;
    // 503 is lost, 504 is empty.
    let payload = |seq: u16| vec![0xfc, 0x55, seq.to_be_bytes()[1], 0x01];
    let sent: Vec<u16> = vec![500, 501, 502, 504, 505, 506];
    let bursts = sent
        .iter()
        .map(|&seq| {
            vec![RtpPacket {
                payload_type: 111,
                marker: seq == 500,
                sequence: seq,
                timestamp: 90_000 + 960 * u32::from(seq - 500),
                payload: if seq == 504 { Vec::new() } else { payload(seq) },
            }]
        })
        .collect();
    let source = rtsp(fake_camera(SDP, bursts).await, RtspTransport::Tcp);
    let (seen, ended) = run_until(&source, MEDIA_DEADLINE, |seen| seen.frames.len() >= 5).await;
    assert!(ended.is_none(), "{ended:?}");
    assert_eq!(
        seen.tracks,
        [vec![Track {
            clock_rate: 48_000,
            params: Some(Arc::new(CodecParams::Opus {
                sample_rate: 48_000,
                channels: 2,
            })),
            kind: MediaKind::Audio,
        }]]
    );
    let delivered = [500, 501, 502, 505, 506];
    assert_eq!(seen.frames.len(), delivered.len(), "{:?}", seen.frames);
    for (frame, seq) in seen.frames.iter().zip(delivered) {
        assert_eq!(frame.track, 0);
        assert!(frame.key && frame.new_params.is_none(), "{frame:?}");
        assert_eq!(frame.data, payload(seq), "frame of packet {seq}");
        assert_eq!(
            frame.pts - seen.frames[0].pts,
            960 * i64::from(seq - 500),
            "pts of packet {seq}"
        );
    }
    assert_eq!(
        seen.warnings,
        [SourceWarning::PacketLoss {
            track: 0,
            packets: 1
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_protocol_error() {
    let source = rtsp(fake_server(Fake::Garbage).await, RtspTransport::Tcp);
    let (err, _) = run_to_end(&source, QUICK_FAILURE).await;
    eprintln!("{err}");
    assert_eq!(err.kind, SourceErrorKind::Protocol, "{err}");
    assert!(err.message.contains("DESCRIBE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out() {
    let source = rtsp(fake_server(Fake::Silent).await, RtspTransport::Tcp);
    let (err, took) = run_to_end(&source, RESPONSE_TIMEOUT + QUICK_FAILURE).await;
    eprintln!("{err}");
    assert_eq!(err.kind, SourceErrorKind::Timeout, "{err}");
    assert!(took >= RESPONSE_TIMEOUT, "{took:?}");
    assert!(err.message.contains("DESCRIBE"), "{err}");
}

/// A fake H.264 camera on an ephemeral 127.0.0.1 port whose SDP has no parameter sets
/// (see [`fake_camera`]): sends `access_units` (Annex B, one every 1/15 s of RTP time),
/// one NAL unit per packet. Returns the URL.
async fn fake_h264_camera(access_units: Vec<Vec<u8>>) -> String {
    const SDP: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                       m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                       a=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n";
    let mut sequence: u16 = 1000;
    let bursts = access_units
        .iter()
        .enumerate()
        .map(|(i, au)| {
            let nals = split_annex_b(au);
            nals.iter()
                .enumerate()
                .map(|(n, nal)| {
                    let packet = RtpPacket {
                        payload_type: 96,
                        marker: n + 1 == nals.len(),
                        sequence,
                        timestamp: 6000 * i as u32,
                        payload: nal.to_vec(),
                    };
                    sequence = sequence.wrapping_add(1);
                    packet
                })
                .collect()
        })
        .collect();
    fake_camera(SDP, bursts).await
}

/// One RTP packet sent by [`fake_camera`].
struct RtpPacket {
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    payload: Vec<u8>,
}

/// A fake camera on an ephemeral 127.0.0.1 port: answers `DESCRIBE` with `sdp`, `SETUP`
/// (of whichever stream: interleaved channels 0-1, SSRC 0xABCD) and `PLAY`, then sends
/// `bursts` of RTP packets over the connection, 20 ms apart, and keeps the connection
/// open. Returns the URL.
async fn fake_camera(sdp: &'static str, bursts: Vec<Vec<RtpPacket>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
            while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).into_owned();
                request.drain(..end + 4);
                let cseq = head
                    .lines()
                    .find_map(|l| l.strip_prefix("CSeq: "))
                    .unwrap_or("0");
                let method = head.split(' ').next().unwrap_or("");
                let extra = match method {
                    "DESCRIBE" => format!(
                        "Content-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1:{port}/x/\r\n\
                         Content-Length: {}\r\n\r\n{sdp}",
                        sdp.len()
                    ),
                    "SETUP" => "Session: 4711;timeout=60\r\n\
                                Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0000ABCD\r\n\r\n"
                        .to_owned(),
                    _ => "Session: 4711\r\n\r\n".to_owned(),
                };
                let answer = format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}");
                if conn.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                if method != "PLAY" {
                    continue;
                }
                for burst in &bursts {
                    for rtp in burst {
                        let marker = if rtp.marker { 0x80 } else { 0 };
                        let mut packet = vec![0x80, marker | rtp.payload_type];
                        packet.extend_from_slice(&rtp.sequence.to_be_bytes());
                        packet.extend_from_slice(&rtp.timestamp.to_be_bytes());
                        packet.extend_from_slice(&0xABCDu32.to_be_bytes());
                        packet.extend_from_slice(&rtp.payload);
                        let mut frame = vec![b'$', 0];
                        frame
                            .extend_from_slice(&u16::try_from(packet.len()).unwrap().to_be_bytes());
                        frame.extend_from_slice(&packet);
                        if conn.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    });
    format!("rtsp://127.0.0.1:{port}/x")
}

/// The NAL units of an Annex B access unit, without start codes.
fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
            // A 4-byte start code leaves a zero byte before the next 3-byte one.
            while end > start && data[end - 1] == 0 {
                end -= 1;
            }
            &data[start..end]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_band_parameters_and_a_mid_stream_resolution_change() {
    // Real H.264 access units from the simulator: three of the 320×240 main stream, then
    // three of the 160×120 sub stream (a camera that switched resolution).
    let sim = Simulator::start(vec![test_camera("switch")]).expect("simulator");
    let mut access_units = Vec::new();
    let mut keys = Vec::new();
    for profile in [Profile::Main, Profile::Sub] {
        let source = rtsp(sim.url("switch", profile).unwrap(), RtspTransport::Tcp);
        let (seen, ended) = run_until(&source, MEDIA_DEADLINE, |seen| {
            seen.frames_of(MediaKind::Video).len() >= 3
        })
        .await;
        assert!(ended.is_none(), "{ended:?}");
        let video = seen.frames_of(MediaKind::Video);
        access_units.extend(video[..3].iter().map(|f| f.data.to_vec()));
        keys.extend(video[..3].iter().map(|f| f.key));
    }
    drop(sim);

    let source = rtsp(
        fake_h264_camera(access_units.clone()).await,
        RtspTransport::Tcp,
    );
    let (seen, ended) = run_until(&source, MEDIA_DEADLINE, |seen| seen.frames.len() >= 6).await;
    assert!(ended.is_none(), "{ended:?}");
    assert_eq!(seen.tracks.len(), 1);
    assert_eq!(seen.tracks[0].len(), 1);
    assert_eq!(
        seen.tracks[0][0].params, None,
        "no parameters before the first frame"
    );
    let frames = &seen.frames;
    let dims = |f: &Frame| f.new_params.as_ref().and_then(|p| p.dimensions());
    assert!(keys[0] && keys[3], "{keys:?}");
    assert_eq!(
        frames.iter().map(|f| f.key).collect::<Vec<_>>(),
        keys,
        "key frames as sent"
    );
    assert_eq!(
        frames.iter().map(dims).collect::<Vec<_>>(),
        [Some((320, 240)), None, None, Some((160, 120)), None, None],
        "new parameters on the first frame and where they change"
    );
    for (frame, sent) in frames.iter().zip(&access_units) {
        assert_eq!(frame.data, sent, "frames pass through unchanged");
    }
    assert!(frames.windows(2).all(|w| w[1].pts - w[0].pts == 6000));
}

// ---------------------------------------------------------------------------------------
// Outages and cancellation
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_down_before_connect_is_a_quick_connect_error() {
    let sim = Simulator::start(vec![test_camera("down")]).expect("simulator");
    let url = sim.url("down", Profile::Main).unwrap();
    sim.stop_camera("down").unwrap();
    let source = rtsp(url, RtspTransport::Tcp);
    let (err, took) = run_to_end(&source, QUICK_FAILURE).await;
    eprintln!("refused after {took:?}: {err}");
    assert_eq!(err.kind, SourceErrorKind::Connect, "{err}");
    assert!(err.message.contains("127.0.0.1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_stopped_mid_stream_ends_the_session() {
    for transport in [RtspTransport::Tcp, RtspTransport::Udp] {
        let sim = Simulator::start(vec![test_camera("flaky")]).expect("simulator");
        let source = Arc::new(rtsp(sim.url("flaky", Profile::Main).unwrap(), transport));
        let recorder = Recorder::default();
        let run = {
            let source = source.clone();
            let mut sink = recorder.clone();
            tokio::spawn(async move { source.run(&mut sink).await })
        };
        assert!(
            eventually(MEDIA_DEADLINE, || recorder.seen().key_frames() >= 1).await,
            "no frames over {transport:?}"
        );
        let stopped = Instant::now();
        sim.stop_camera("flaky").unwrap();
        // Within the no-data timeout at worst, plus slack for a loaded machine.
        let err = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("the session must end after the camera stopped")
            .unwrap();
        let took = stopped.elapsed();
        eprintln!("{transport:?}: ended {took:?} after the outage: {err}");
        assert!(
            matches!(
                err.kind,
                SourceErrorKind::Connect | SourceErrorKind::Ended | SourceErrorKind::Timeout
            ),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_session_hangs_up_and_a_new_one_starts() {
    let sim = Simulator::start(vec![test_camera("drop")]).expect("simulator");
    let url = sim.url("drop", Profile::Main).unwrap();
    let cases = [
        (RtspTransport::Tcp, Vec::new()),
        (RtspTransport::Udp, Vec::new()),
        (RtspTransport::Tcp, vec![CameraPolicy::NeverTeardown]),
        (RtspTransport::Udp, vec![CameraPolicy::AlwaysTeardown]),
    ];
    for (transport, policies) in cases {
        let source = RtspSource::new(RtspSourceSpec {
            url: SecretUrl::new(url.clone()),
            username: None,
            password: None,
            transport,
            policies,
        })
        .unwrap();
        // Twice on the same source: the second session must start although the first
        // one was dropped moments ago (its teardown may still be in flight).
        for round in 0..2 {
            let what = format!("{} round {round}", source.describe());
            let (seen, ended) =
                run_until(&source, MEDIA_DEADLINE, |seen| seen.key_frames() >= 1).await;
            assert!(
                ended.is_none() && seen.key_frames() >= 1,
                "{what}: {ended:?}"
            );
            // `run_until` has dropped the session: the camera must see the client go.
            let dropped = Instant::now();
            assert!(
                eventually(Duration::from_secs(15), || sim.client_count("drop") == 0).await,
                "{what}: still {} client(s) connected",
                sim.client_count("drop")
            );
            eprintln!("{what}: hung up within {:?}", dropped.elapsed());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_counts_its_clients() {
    let sim = Simulator::start(vec![test_camera("count")]).expect("simulator");
    assert_eq!(sim.client_count("count"), 0);
    assert_eq!(sim.client_count("no-such-camera"), 0);
    let source = Arc::new(rtsp(
        sim.url("count", Profile::Main).unwrap(),
        RtspTransport::Tcp,
    ));
    let recorder = Recorder::default();
    let run = {
        let source = source.clone();
        let mut sink = recorder.clone();
        tokio::spawn(async move { source.run(&mut sink).await })
    };
    assert!(eventually(MEDIA_DEADLINE, || recorder.seen().key_frames() >= 1).await);
    assert_eq!(sim.client_count("count"), 1);
    // A stopped camera disconnects its clients.
    sim.stop_camera("count").unwrap();
    assert!(eventually(Duration::from_secs(15), || sim.client_count("count") == 0).await);
    let _ = tokio::time::timeout(Duration::from_secs(30), run).await;
}

// ---------------------------------------------------------------------------------------
// B-frames, seen by the hub in what the camera sends
// ---------------------------------------------------------------------------------------

/// Reads `path` through the hub until `pictures` video frames arrived; returns how many of
/// them were B pictures and the path's stats at that point.
async fn b_pictures_through_the_hub(
    hub: &watchpost_media::hub::HubHandle,
    path: &str,
    pictures: usize,
) -> (usize, usize, PathStats) {
    let mut reader = hub.add_reader_ready(path).await.expect("path ready");
    let (mut seen, mut b) = (0, 0);
    let deadline = tokio::time::Instant::now() + MEDIA_DEADLINE;
    while seen < pictures {
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(Some(ReaderEvent::Frame(frame))) if frame.track == 0 => {
                seen += 1;
                b += usize::from(h264::is_b_picture(&frame.data));
            }
            Ok(Some(ReaderEvent::Frame(_) | ReaderEvent::Tracks(_))) => {}
            Ok(other) => panic!("{path}: unexpected {other:?}"),
            Err(_) => panic!("{path}: only {seen} pictures within {MEDIA_DEADLINE:?}"),
        }
    }
    let stats = hub.path(path).await.unwrap();
    (seen, b, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_counts_the_b_frames_a_camera_really_sends() {
    let started = Instant::now();
    let mut with_b = test_camera("with-b");
    with_b.b_frames = 2;
    let sim = Simulator::start(vec![test_camera("without-b"), with_b]).expect("simulator");
    let paths: Vec<PathSpec> = ["without-b", "with-b"]
        .into_iter()
        .map(|camera| PathSpec {
            name: PathName::new(format!("{camera}/main")).unwrap(),
            source: Arc::new(rtsp(
                sim.url(camera, Profile::Main).unwrap(),
                RtspTransport::Tcp,
            )),
            always_on: false,
        })
        .collect();
    let hub = Hub::spawn(HubConfig::default(), paths).unwrap();

    // Two GOPs (15 pictures each at 15 fps) of each camera, read at the same time.
    let (plain, b_frames) = tokio::join!(
        b_pictures_through_the_hub(&hub, "without-b/main", 30),
        b_pictures_through_the_hub(&hub, "with-b/main", 30),
    );
    eprintln!(
        "B pictures: without-b {} of {} (path {}), with-b {} of {} (path {}), in {:?}",
        plain.1,
        plain.0,
        plain.2.b_frames,
        b_frames.1,
        b_frames.0,
        b_frames.2.b_frames,
        started.elapsed()
    );

    let (_, seen_b, stats) = plain;
    assert_eq!(seen_b, 0);
    assert_eq!(stats.b_frames, 0, "{stats:?}");
    assert_eq!(stats.tracks[0].may_have_b_frames, Some(false), "{stats:?}");

    let (pictures, seen_b, stats) = b_frames;
    // Fixed placement, two B-frames after every P (I P B B P B B … in decoding order):
    // about two thirds of the pictures, never fewer than half.
    assert!(2 * seen_b >= pictures, "{seen_b} B pictures of {pictures}");
    // Every picture a reader got passed the path's counter once (the reader's first
    // pictures come from the cached GOP, counted when they arrived).
    assert!(stats.b_frames >= seen_b as u64, "{stats:?}");
    assert_eq!(stats.tracks[0].may_have_b_frames, Some(true), "{stats:?}");
    assert_eq!(stats.tracks[0].codec, "h264");
    hub.shutdown().await;
}
