//! The WHEP load client (`watchpost_fixtures::load`, the benchmarks' reader) against the
//! real server and the simulated H.264 + PCMA camera, in this process: twenty readers at
//! once all connect, all receive live frames without RTP sequence gaps (loopback loses
//! nothing), each has a time to first frame, and the delivery-latency samples exist and
//! are sane (positive, below a second: a plausibility bound, not a performance target —
//! targets live in `cargo xtask bench`'s output only). The time-to-first-frame trials
//! (warm and cold) and the connect/disconnect soak run to completion and leave no session.
//! The client sends the test administrator's session token (`crate::whep::token()`) on
//! every request: WHEP `POST`/`DELETE` and the cold trials' paths API.

use std::sync::Arc;
use std::time::Duration;

use watchpost_fixtures::auth::BearerToken;
use watchpost_fixtures::load::http::HttpClient;
use watchpost_fixtures::load::run::path_state;
use watchpost_fixtures::load::{FanoutParams, SoakParams, TtffParams, Whep, fanout, soak, ttff};
use watchpost_fixtures::sim::test_camera;

use crate::whep::{start_camera, token, wait_no_sessions};

/// WHEP on `cam/main` of the server at `http`, with its administrator's token.
fn whep(http: std::net::SocketAddr) -> Arc<Whep> {
    let client = HttpClient::new(&format!("http://{http}"), Duration::from_secs(30))
        .unwrap()
        .with_bearer(BearerToken::new(token()).expect("the session token is a header value"));
    Arc::new(Whep::new(Arc::new(client), "cam/main"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_client_twenty_readers_play_without_gaps_and_measure_latency() {
    let server = start_camera("load-fanout", test_camera("cam"), |_| {}).await;
    let params = FanoutParams {
        readers: 20,
        duration: Duration::from_secs(4),
        ramp: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(30),
    };
    let result = fanout(whep(server.http), &params, &|_| {}).await;
    eprintln!("{result:#?}");

    assert_eq!(
        (result.playing, result.failed),
        (20, 0),
        "{:?}",
        result.failures
    );
    assert!(
        result.close_failures.is_empty(),
        "{:?}",
        result.close_failures
    );
    assert_eq!(result.readers_starved, 0, "every reader gets live frames");
    let t = &result.totals;
    assert!(t.video_frames >= 20 * 4 * 10, "15 fps for 4+ s each: {t:?}");
    assert!(t.audio_frames > 0, "PCMA arrives too: {t:?}");
    assert_eq!(
        (t.packets_lost, t.gaps, t.frames_lost, t.seq_resets),
        (0, 0, 0, 0),
        "no gaps on loopback: {t:?}"
    );
    assert!(t.rtp_packets > 0 && t.rtp_bytes > 0, "{t:?}");

    let ttff = result.ttff_ms.expect("time to first frame");
    assert_eq!(ttff.count, 20, "one per reader");
    assert!(ttff.min > 0.0, "{ttff:?}");

    // Exact samples: one per reader per video sender report (every second).
    let latency = result.latency_ms.expect("exact latency samples");
    assert!(latency.count >= 20, "{latency:?}");
    assert!(latency.min > 0.0 && latency.max < 1000.0, "{latency:?}");
    assert_eq!(result.latency_negative, 0);
    let frames = result.latency_frames_ms.expect("per-frame latency samples");
    assert!(
        frames.count >= latency.count && frames.max < 1000.0,
        "{frames:?}"
    );
    // The clock check: sender reports arrive after the time they carry.
    let transit = result.sr_transit_us.expect("sender reports arrived");
    assert!(transit.min >= 0.0, "{transit:?}");

    wait_no_sessions(server.http).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_client_ttff_trials_and_soak_cycles_complete() {
    let server = start_camera("load-ttff", test_camera("cam"), |config| {
        // Cold trials wait for the path to close between them.
        config.media.on_demand.linger = Duration::from_millis(300);
    })
    .await;
    let whep = whep(server.http);

    let warm = ttff(
        whep.clone(),
        &TtffParams {
            trials: 3,
            cold: false,
            idle_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(30),
        },
    )
    .await;
    assert_eq!(warm.ok, 3, "{warm:#?}");
    assert_eq!(warm.ttff_ms.map(|s| s.count), Some(3), "{warm:#?}");

    let cold = ttff(
        whep.clone(),
        &TtffParams {
            trials: 2,
            cold: true,
            idle_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(30),
        },
    )
    .await;
    assert_eq!(cold.ok, 2, "{cold:#?}");
    assert_eq!(cold.idle_wait_ms.map(|s| s.count), Some(2), "{cold:#?}");

    let soaked = soak(
        whep.clone(),
        &SoakParams {
            cycles: 20,
            concurrency: 4,
            connect_timeout: Duration::from_secs(30),
        },
        &|_| {},
    )
    .await;
    assert_eq!((soaked.cycles, soaked.ok), (20, 20), "{soaked:#?}");
    assert!(soaked.close_failures.is_empty(), "{soaked:#?}");

    // Without the token the server refuses the WHEP offer: the token above is what let
    // every trial and cycle in.
    let anonymous =
        HttpClient::new(&format!("http://{}", server.http), Duration::from_secs(30)).unwrap();
    let refused = anonymous
        .request(
            "POST",
            "/whep/cam/main",
            &[("Content-Type", "application/sdp")],
            b"v=0\r\n",
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 401, "{}", refused.text());

    wait_no_sessions(server.http).await;
    let state = path_state(&whep, "cam/main").await.unwrap();
    assert!(["ready", "idle"].contains(&state.as_str()), "{state}");
    server.stop().await;
}
