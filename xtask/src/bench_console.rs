//! CONSOLE: the operator console's time to first frame when a warm tile switches camera,
//! measured in the browser (see the module documentation of `bench.rs` for the set-up and
//! `tests/browser/console_ttff.mjs` for the page side).
//!
//! A fresh server (linger [`LINGER`]) gets [`CAMERAS`] inventory cameras through
//! `POST /api/v1/cameras`, all on the clip source's RTSP URL (each camera is its own hub
//! path, `cam/<id>/main`, with its own RTSP connection, which replays the clip from its
//! first picture). Headless Chromium, pinned to CPU 0 beside the source, logs in to
//! `/console` through its form as [`BENCH_ADMIN`], layout 4: tile 0 plays `bench-a` (the
//! warm tile), tiles 1 and 2 `bench-b` and `bench-c`. Then per trial the keyboard puts a
//! camera on tile 0 (its number, Enter) and the page measures Enter keydown → the first
//! frame of the new stream presented by the tile's `<video>`
//! (`requestVideoFrameCallback`):
//!
//! - warm: alternately `bench-b` and `bench-c`, whose paths run because tiles 1 and 2 play
//!   them: the hub hands the new reader its cached GOP;
//! - cold: alternately `bench-a` and `bench-d`, each idle on the server before its trial
//!   (waited for through `GET /api/v1/paths/<path>`; tile 0 left it a linger ago at
//!   most): the RTSP pull (connect, `DESCRIBE`, `SETUP`, `PLAY`) and the wait for a key
//!   frame count. The clip has one every 2 s, but the clip source starts every RTSP
//!   connection at the clip's first picture, an IDR: with this source the cold case waits
//!   for no key frame (a real camera joined mid-GOP adds up to one interval), like W3's.
//!
//! Both cases run in each mode of the console's latency switch ([`CASES`]): smooth (the
//! receiver's `jitterBufferTarget` 500 ms, the default) and low latency (0 ms).
//!
//! A measurement, no thresholds.

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{
    BENCH_ADMIN, Ctx, FPS, Server, ServerConfig, Source, http_request, log_file, terminate,
};
use crate::json::Json;
use crate::{Result, players, root};

/// The server's on-demand linger: a path nobody reads stops this long after its last
/// reader left, so a cold trial waits about this long for its camera's path to go idle.
const LINGER: &str = "1s";
/// Inventory cameras: one warm tile's, two the warm case switches between (played by
/// tiles 1 and 2), and one more the cold case alternates with the warm tile's.
const CAMERAS: [&str; 4] = ["bench-a", "bench-b", "bench-c", "bench-d"];
/// The browser's page, per trial time limit and everything else, in the script.
const SCRIPT: &str = "console_ttff.mjs";
/// The moments of a switch the script reports (ms after the Enter keydown), in order.
const PHASES: [&str; 7] = [
    "options_sent",
    "options_answered",
    "offer_posted",
    "answer_received",
    "stream_attached",
    "connected",
    "first_frame",
];

/// Trials per case.
pub(super) fn trials(quick: bool) -> usize {
    if quick { 8 } else { 20 }
}

/// Runs the benchmark on `source`: the `console_ttff` entry of `results.json`.
pub(super) fn console_ttff(ctx: &Ctx, source: &Source, trials: usize) -> Result<Json> {
    for (tool, what) in [("/usr/bin/chromium", "chromium"), ("node", "nodejs")] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(format!(
                "{tool} is missing (Debian's {what}: `cargo xtask install`)"
            ));
        }
    }
    players::ensure_browser_driver()?;
    let server = Server::start(
        ctx,
        &ServerConfig {
            name: "console-ttff",
            camera: None,
            idle_cameras: 0,
            linger: LINGER,
        },
    )?;
    let result = measure(ctx, &server, source, trials);
    server.stop();
    result
}

fn measure(ctx: &Ctx, server: &Server, source: &Source, trials: usize) -> Result<Json> {
    match http_request(server.http, "GET", "/console", None, None) {
        Some((200, page)) if page.contains("/console/assets/") => {}
        other => {
            return Err(format!(
                "the console is not built into {} (GET /console: {:?}); run without --no-build",
                ctx.bins.server.display(),
                other.map(|(status, _)| status)
            ));
        }
    }
    for (i, id) in CAMERAS.iter().enumerate() {
        // Positions ~1 km apart in one district; the console's tree numbers them by name.
        let camera = Json::obj([
            ("id", Json::str(*id)),
            (
                "name",
                Json::str(format!("Bench {}", (b'A' + i as u8) as char)),
            ),
            ("category", Json::str("other")),
            (
                "division",
                Json::obj([
                    ("district", Json::str("Bench")),
                    ("street", Json::str("Loop")),
                ]),
            ),
            (
                "position",
                Json::obj([
                    ("lon", Json::num(116.40 + 0.01 * i as f64)),
                    ("lat", Json::num(39.90)),
                ]),
            ),
            ("main_url", Json::str(source.url.as_str())),
            ("transport", Json::str("tcp")),
        ])
        .to_text();
        let (status, body) = http_request(
            server.http,
            "POST",
            "/api/v1/cameras",
            Some(&server.token),
            Some(&camera),
        )
        .ok_or_else(|| format!("POST /api/v1/cameras ({id}): no answer"))?;
        if status != 201 {
            return Err(format!(
                "POST /api/v1/cameras ({id}): HTTP {status}: {}",
                body.trim()
            ));
        }
    }
    let plan = Json::obj([
        ("username", Json::str(BENCH_ADMIN)),
        ("warm_tile", Json::str(CAMERAS[0])),
        (
            "others",
            Json::Arr(vec![Json::str(CAMERAS[1]), Json::str(CAMERAS[2])]),
        ),
        (
            "warm",
            Json::Arr(vec![Json::str(CAMERAS[1]), Json::str(CAMERAS[2])]),
        ),
        (
            "cold",
            Json::Arr(vec![Json::str(CAMERAS[0]), Json::str(CAMERAS[3])]),
        ),
        ("trials", Json::num(trials as f64)),
    ]);
    eprintln!("xtask: bench CONSOLE time to first frame in the console ({trials} trials per case)");
    let page = run_script(ctx, server, &plan, trials)?;
    let case = |key: &str| -> Json {
        let rows = match page.get(key) {
            Json::Arr(rows) => rows.clone(),
            _ => Vec::new(),
        };
        let samples: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.get("ttff_ms").as_f64())
            .collect();
        let callbacks: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.get("callback_ms").as_f64())
            .collect();
        let errors: Vec<Json> = rows
            .iter()
            .filter_map(|r| r.get("error").as_str().map(Json::str))
            .collect();
        // The median of each phase (ms after Enter; see the script).
        let phases = Json::obj(PHASES.map(|phase| {
            let v: Vec<f64> = rows
                .iter()
                .filter_map(|r| r.at(&["phases", phase]).as_f64())
                .collect();
            (phase, summary(&v).get("p50").clone())
        }));
        Json::obj([
            ("trials", Json::num(rows.len() as f64)),
            ("ok", Json::num(samples.len() as f64)),
            ("ttff_ms", summary(&samples)),
            ("callback_ms", summary(&callbacks)),
            ("phases_p50_ms", phases),
            ("errors", Json::Arr(errors)),
            ("rows", Json::Arr(rows)),
        ])
    };
    let cases = CASES.map(|(key, _)| (key, case(key)));
    let states = CAMERAS
        .iter()
        .map(|id| {
            let path = format!("cam/{id}/main");
            let state = path_state(server, &path).unwrap_or_default();
            (path, Json::str(state))
        })
        .collect::<Vec<_>>();
    Ok(Json::obj([
        (
            "parameters",
            Json::obj([
                ("trials", Json::num(trials as f64)),
                ("linger", Json::str(LINGER)),
                ("cameras", Json::num(CAMERAS.len() as f64)),
                ("layout", Json::num(4.0)),
                // The clip's encoder settings (`ensure_clip`: `key-int-max` = 2 × FPS).
                ("key_frame_interval_s", Json::num(2.0)),
                ("key_frame_interval_frames", Json::num(f64::from(2 * FPS))),
                ("source", source.info.clone()),
                ("browser", page.get("browser").clone()),
                ("viewport", page.get("viewport").clone()),
                ("camera_numbers", page.get("numbers").clone()),
                (
                    "browser_cpu",
                    Json::str("taskset -c 0 (with the clip source)"),
                ),
                (
                    "definition",
                    Json::str(
                        "Enter keydown (event.timeStamp) after typing the camera's number on \
                         the focused, playing tile 0 -> presentationTime of the first frame of \
                         the new stream on that tile's <video> (requestVideoFrameCallback), \
                         measured in the page; callback_ms: the same to the callback's time",
                    ),
                ),
                (
                    "latency_modes",
                    Json::str(
                        "each case runs in both modes of the console's latency switch: \
                         smooth (the receiver's jitterBufferTarget 500 ms) and low (0 ms)",
                    ),
                ),
                (
                    "warm",
                    Json::str(
                        "the chosen camera's path is running (tiles 1 and 2 play bench-b and \
                         bench-c; trials alternate between them): the hub's GOP cache",
                    ),
                ),
                (
                    "cold",
                    Json::str(
                        "the chosen camera's path is idle on the server before the trial \
                         (bench-a and bench-d alternate): RTSP pull + wait for a key frame; \
                         the clip source starts every connection at an IDR, so no wait for \
                         a key frame here (a real camera joined mid-GOP adds up to 2 s)",
                    ),
                ),
            ]),
        ),
        ("cases", Json::obj(cases)),
        ("path_states_after", Json::obj(states)),
    ]))
}

/// The measured cases: the path running or idle on the server, in each mode of the
/// console's latency switch; key (as the script reports it) and the table's label.
const CASES: [(&str, &str); 4] = [
    ("warm_smooth", "running (GOP cache), smooth"),
    ("cold_smooth", "idle (RTSP pull), smooth"),
    ("warm_low", "running (GOP cache), low latency"),
    ("cold_low", "idle (RTSP pull), low latency"),
];

/// `state` of `GET /api/v1/paths/<path>`.
fn path_state(server: &Server, path: &str) -> Option<String> {
    let (status, body) = http_request(
        server.http,
        "GET",
        &format!("/api/v1/paths/{path}"),
        Some(&server.token),
        None,
    )?;
    (status == 200)
        .then(|| {
            Json::parse(&body)
                .ok()?
                .get("state")
                .as_str()
                .map(str::to_owned)
        })
        .flatten()
}

/// Runs the page script on CPU 0; its `RESULT` object. The password goes through the
/// environment (`WATCHPOST_PASSWORD`), never the command line; the script's log goes to
/// `logs/console-ttff-browser.log`.
fn run_script(ctx: &Ctx, server: &Server, plan: &Json, trials: usize) -> Result<Json> {
    let dir = root().join("tests/browser");
    let log = log_file(ctx, "console-ttff-browser")?;
    let log_path = ctx.dir.join("logs/console-ttff-browser.log");
    let mut child = Command::new("taskset")
        .args(["-c", "0", "node"])
        .arg(dir.join(SCRIPT))
        .arg(format!("http://{}/console", server.http))
        .arg("60000")
        .arg(plan.to_text())
        .current_dir(&dir)
        .env("WATCHPOST_PASSWORD", &server.password)
        .env_remove("WATCHPOST_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start node {SCRIPT}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // Set-up, then per trial at most 30 s to the frame and 30 s to the console's own
    // report, plus (cold) the wait for the path to go idle.
    let deadline = Duration::from_secs(180 + 2 * trials as u64 * 90);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("node {SCRIPT}: {e}"))?
        {
            break status;
        }
        if start.elapsed() > deadline {
            terminate(&mut child, Duration::from_secs(10));
            return Err(format!(
                "node {SCRIPT} took longer than {deadline:?}; see {}",
                log_path.display()
            ));
        }
        thread::sleep(Duration::from_millis(200));
    };
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        let tail = fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(5).collect();
        return Err(format!(
            "node {SCRIPT} failed ({status}); see {}: {}",
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("node {SCRIPT} printed no RESULT line: {text:?}"))?;
    Json::parse(line).map_err(|e| format!("node {SCRIPT}: RESULT {line:?}: {e}"))
}

/// p50, p95 (nearest rank), min, max and every sample (in trial order), milliseconds.
fn summary(samples: &[f64]) -> Json {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |p: f64| -> Option<f64> {
        if sorted.is_empty() {
            return None;
        }
        let r = (p / 100.0 * sorted.len() as f64).ceil() as usize;
        Some(sorted[r.clamp(1, sorted.len()) - 1])
    };
    Json::obj([
        ("count", Json::num(samples.len() as f64)),
        ("p50", Json::num(rank(50.0))),
        ("p95", Json::num(rank(95.0))),
        ("min", Json::num(sorted.first().copied())),
        ("max", Json::num(sorted.last().copied())),
        (
            "samples",
            Json::Arr(samples.iter().map(|&s| Json::num(s)).collect()),
        ),
    ])
}

/// The `results.md` section: one row per case (nothing when the benchmark did not run).
pub(super) fn markdown(entry: &Json) -> String {
    if entry == &Json::Null {
        return String::new();
    }
    let f = |v: &Json| v.as_f64().map_or("—".into(), |x| format!("{x:.1}"));
    let mut md = format!(
        "## CONSOLE time to first frame of a warm tile ({} trials each; Enter → first new \
         frame presented, in Chromium)\n\n\
         | path on the server, latency mode | ok | p50 ms | p95 ms | min ms | max ms |\n\
         |---|---:|---:|---:|---:|---:|\n",
        entry
            .at(&["parameters", "trials"])
            .as_f64()
            .map_or("?".into(), |n| format!("{n:.0}"))
    );
    for (key, label) in CASES {
        let c = entry.at(&["cases", key]);
        let t = c.get("ttff_ms");
        md.push_str(&format!(
            "| {label} | {}/{} | {} | {} | {} | {} |\n",
            c.get("ok")
                .as_f64()
                .map_or("?".into(), |n| format!("{n:.0}")),
            c.get("trials")
                .as_f64()
                .map_or("?".into(), |n| format!("{n:.0}")),
            f(t.get("p50")),
            f(t.get("p95")),
            f(t.get("min")),
            f(t.get("max")),
        ));
    }
    for (key, _) in CASES {
        let p = entry.at(&["cases", key, "phases_p50_ms"]);
        md.push_str(&format!(
            "\n{key}, p50 ms after Enter: WHEP OPTIONS answered {}, offer POSTed \
             {}, answer {}, new stream attached {}, connected (ICE + DTLS; upper bound) {}, \
             first frame {}.",
            f(p.get("options_answered")),
            f(p.get("offer_posted")),
            f(p.get("answer_received")),
            f(p.get("stream_attached")),
            f(p.get("connected")),
            f(p.get("first_frame")),
        ));
    }
    md.push_str(&format!(
        "\n\nKey frame every {} s, linger {}; a measurement, no target.\n\n",
        f(entry.at(&["parameters", "key_frame_interval_s"])),
        entry.at(&["parameters", "linger"]).as_str().unwrap_or("?"),
    ));
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_takes_nearest_rank_percentiles_and_keeps_the_trial_order() {
        let s = summary(&[40.0, 10.0, 30.0, 20.0]);
        assert_eq!(s.get("p50").as_f64(), Some(20.0));
        assert_eq!(s.get("p95").as_f64(), Some(40.0));
        assert_eq!(s.get("min").as_f64(), Some(10.0));
        assert_eq!(s.get("max").as_f64(), Some(40.0));
        assert_eq!(
            s.get("samples"),
            &Json::Arr(vec![
                Json::num(40.0),
                Json::num(10.0),
                Json::num(30.0),
                Json::num(20.0)
            ])
        );
        assert_eq!(summary(&[]).get("p50"), &Json::Null);
    }
}
