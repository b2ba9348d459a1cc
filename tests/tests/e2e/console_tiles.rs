//! The operator console's video tiles (`web/console/src/VideoTile.vue`) in headless
//! Chromium (`tests/browser/console_tiles.mjs`): stats overlay, latency switch, digital
//! zoom, snapshot, pause when out of sight (maximised-over and hidden tab) with the
//! server's WHEP sessions checked, and the PTZ panel driving the simulator's ONVIF PTZ head
//! (the move, stop and preset verified by the camera's status, the simulator's own
//! position and the audit log), and absent for a viewer. Screenshot:
//! `<target>/test-artifacts/console-tiles.png`.

use serde_json::{Value, json};
use watchpost_fixtures::sim::{Simulator, test_camera};

use crate::whep::{ADMIN_PASSWORD, artifacts_dir, get_json, http, run_browser_script, start};

/// A viewer (may watch, may not PTZ) the script logs in last.
const VIEWER: &str = "e2e-viewer";
const VIEWER_PASSWORD: &str = "e2e-viewer-password-1";

/// The name of the preset the test stores on the PTZ camera before the browser runs.
const PRESET: &str = "North fence";
/// Where that preset points (pan, tilt, zoom in ONVIF's generic spaces).
const PRESET_AT: (f64, f64, f64) = (-0.5, 0.25, 0.1);

async fn post(addr: std::net::SocketAddr, path: &str, body: Value) -> (u16, Value) {
    let path = path.to_owned();
    let (status, _, text) = tokio::task::spawn_blocking(move || {
        http(addr, "POST", &path, "application/json", &body.to_string())
    })
    .await
    .unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 0.02)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_tiles_show_stats_switch_latency_zoom_snapshot_pause_and_steer_ptz() {
    let server = start("console-tiles").await;
    let addr = server.http;
    let (status, _, page) =
        tokio::task::spawn_blocking(move || http(addr, "GET", "/console", "", ""))
            .await
            .unwrap();
    assert!(
        status == 200 && page.contains("/console/assets/"),
        "the console is not built into this binary (GET /console answered {status}): \
         run cargo xtask test (it builds web/console)\n{page}"
    );
    // GATE: RTSP main and sub, no ONVIF (no PTZ). DOME: the second simulator's ONVIF
    // device (its streams and its PTZ head through ONVIF).
    let sub = server
        .camera_sub_url
        .clone()
        .expect("the test camera has a sub stream");
    let gate = json!({"id": "gate", "name": "Gate", "category": "gas_station",
        "division": {"district": "Chaoyang", "street": "Jianwai"},
        "main_url": server.camera_url, "sub_url": sub});
    let (status, body) = post(addr, "/api/v1/cameras", gate).await;
    assert_eq!(status, 201, "{body}");
    let ptz_sim = Simulator::start(vec![test_camera("dome")]).expect("the PTZ simulator starts");
    let dome = json!({"id": "dome", "name": "Dome", "category": "oil_depot",
        "division": {"district": "Chaoyang", "street": "Jianwai"},
        "onvif_url": ptz_sim.onvif_url("dome").unwrap()});
    let (status, body) = post(addr, "/api/v1/cameras", dome).await;
    assert_eq!(status, 201, "{body}");

    // A preset to list and go to; then the head back home, away from it.
    let ptz = "/api/v1/cameras/dome/ptz";
    let (pan, tilt, zoom) = PRESET_AT;
    let (status, body) = post(
        addr,
        ptz,
        json!({"action": "absolute_move", "pan": pan, "tilt": tilt, "zoom": zoom}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(addr, ptz, json!({"action": "set_preset", "name": PRESET})).await;
    assert_eq!(status, 200, "{body}");
    let token = body["preset"].as_str().unwrap().to_owned();
    let (status, body) = post(
        addr,
        ptz,
        json!({"action": "absolute_move", "pan": 0.0, "tilt": 0.0, "zoom": 0.0}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    {
        use watchpost_command::access::{AuditContext, Jurisdiction, NewUser, Password, Role};
        server
            .access
            .create_user(
                NewUser {
                    username: VIEWER.into(),
                    display_name: "End-to-end viewer".into(),
                    role: Role::Viewer,
                    jurisdiction: Jurisdiction::City,
                    disabled: false,
                    password: Password::new(VIEWER_PASSWORD),
                },
                &AuditContext::anonymous(None),
            )
            .await
            .expect("the viewer is added");
    }
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();

    let artifacts = artifacts_dir();
    let screenshot = artifacts.join("console-tiles.png");
    let r = run_browser_script(
        "console_tiles.mjs",
        &format!("http://{addr}/console"),
        &[
            "e2e-admin",
            ADMIN_PASSWORD,
            "gate",
            "dome",
            PRESET,
            screenshot.to_str().unwrap(),
            VIEWER,
            VIEWER_PASSWORD,
        ],
    )
    .await;
    eprintln!("console tiles: {r}");
    assert_eq!(r["csp_errors"], json!([]), "{r}");
    let paths: Vec<&str> = r["play"]["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "cam/gate/sub",
            "cam/gate/sub",
            "cam/gate/sub",
            "cam/dome/sub"
        ],
        "{r}"
    );

    // Stats overlay: off until toggled, then measured rates on every tile.
    assert_eq!(r["stats_overlay_before"], false, "{r}");
    let stats = &r["stats"];
    assert!(stats["bitrate"].as_f64().unwrap() > 0.0, "{r}");
    assert!(stats["fps"].as_f64().unwrap() > 0.0, "{r}");
    assert!(stats["rtt"].as_f64().unwrap() >= 0.0, "{r}");
    assert!(stats["jitter_buffer"].as_f64().unwrap() >= 0.0, "{r}");
    assert_eq!(stats["overlays"], 4, "{r}");

    // Latency: smooth by default (500 ms), low (0) at once on every playing tile, kept.
    let modes = |v: &Value| -> Vec<(String, f64)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["mode"].as_str().unwrap().to_owned(),
                    t["target"].as_f64().unwrap_or(-1.0),
                )
            })
            .collect()
    };
    let latency = &r["latency"];
    assert_eq!(
        modes(&latency["initial"]),
        vec![("smooth".to_owned(), 500.0); 4],
        "{r}"
    );
    assert_eq!(
        modes(&latency["toggled"]),
        vec![("low".to_owned(), 0.0); 4],
        "{r}"
    );
    assert_eq!(latency["toggled_button"], "low", "{r}");
    assert!(
        latency["kept"]
            .as_str()
            .unwrap()
            .contains("\"latency\":\"low\""),
        "{r}"
    );
    assert_eq!(
        modes(&latency["back"]),
        vec![("smooth".to_owned(), 500.0); 4],
        "{r}"
    );

    // Digital zoom: the wheel zooms (the transform says so), a drag pans, 0 and 1:1 reset.
    let z = &r["zoom"];
    let scale = z["after_wheel"]["scale"].as_f64().unwrap();
    assert!(scale > 1.5 && scale <= 8.0, "{r}");
    assert!(
        (z["transform_scale"].as_f64().unwrap() - scale).abs() < 0.01,
        "{r}"
    );
    assert!(z["label"].as_str().unwrap().ends_with('×'), "{r}");
    assert_ne!(z["after_drag"]["x"], z["after_wheel"]["x"], "{r}");
    assert!(z["screenshot"]["scale"].as_f64().unwrap() > scale, "{r}");
    for reset in [&z["after_key0"], &z["after_button"]] {
        assert_eq!(reset["zoom"], json!({"scale": 1, "x": 0, "y": 0}), "{r}");
        assert_eq!(reset["transform"], "none", "{r}");
    }
    assert_eq!(z["typed_after_key0"], false, "{r}");
    assert!(z["before_button"].as_f64().unwrap() > 1.0, "{r}");

    // Snapshot: a PNG of the decoded frame's size (tile 0 plays the 160×120 sub stream).
    let snap = &r["snapshot"];
    assert_eq!(snap["png"], snap["video"], "{r}");
    assert_eq!(snap["png"], json!({"width": 160, "height": 120}), "{r}");
    let name = snap["name"].as_str().unwrap();
    assert!(
        name.starts_with("gate_Gate_") && name.ends_with(".png"),
        "{r}"
    );

    // Maximise and restore within the grace: nothing reconnected.
    let quick = &r["max_quick"];
    for t in quick["hidden_states"].as_array().unwrap() {
        assert_eq!(t["covered"], true, "{r}");
        assert_eq!(t["state"], "playing", "{r}");
    }
    assert_eq!(quick["same_pc"], json!([false, true, true, true]), "{r}");
    assert_eq!(quick["others_on_server"], json!([true, true, true]), "{r}");
    assert_eq!(quick["frames_advanced"], json!([true, true, true]), "{r}");
    // Maximised past the grace: only the maximised tile's session is left; restored, all play.
    let long = &r["max_long"];
    assert_eq!(long["server_sessions"], json!(["cam/gate/main"]), "{r}");
    assert!(long["paused_after_ms"].as_u64().unwrap() < 15_000, "{r}");
    assert_eq!(long["states"], json!(vec!["playing"; 4]), "{r}");
    // The new connections got the console's latency mode (low, set before).
    assert_eq!(long["jitter_targets"], json!([0, 0, 0, 0]), "{r}");

    // Hidden tab: still playing within the grace, then paused with no server session,
    // playing again (frames advancing) once visible.
    let hidden = &r["hidden"];
    assert_eq!(hidden["during_grace"], json!(vec!["playing"; 4]), "{r}");
    let paused_ms = hidden["paused_after_ms"].as_u64().unwrap();
    assert!((2_000..15_000).contains(&paused_ms), "{r}");
    assert_eq!(hidden["server_sessions"], 0, "{r}");
    assert_eq!(hidden["paused_text"], "paused", "{r}");
    assert_eq!(hidden["paused_note"], true, "{r}");
    assert_eq!(hidden["states_later"], json!(vec!["playing"; 4]), "{r}");
    for (now, later) in hidden["frames"]
        .as_array()
        .unwrap()
        .iter()
        .zip(hidden["frames_later"].as_array().unwrap())
    {
        assert!(later.as_u64().unwrap() > now.as_u64().unwrap(), "{r}");
    }

    // PTZ: no panel on the RTSP-only camera; on the dome the preset is listed, holding →
    // moves right, releasing (pointer up, or leaving the button) stops, "go to" arrives.
    let p = &r["ptz"];
    assert_eq!(p["gate_panel"], false, "{r}");
    assert!(
        p["presets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["token"] == token.as_str() && x["name"] == PRESET),
        "{r}"
    );
    let pan_of = |v: &Value| v["position"]["pan"].as_f64().unwrap();
    let tilt_of = |v: &Value| v["position"]["tilt"].as_f64().unwrap();
    assert!(pan_of(&p["held"]) > 0.1, "{r}");
    assert_eq!(p["released"]["moving"], false, "{r}");
    assert!(pan_of(&p["released"]) >= pan_of(&p["held"]), "{r}");
    assert!(
        (pan_of(&p["released_later"]) - pan_of(&p["released"])).abs() < 1e-6,
        "the camera kept moving after the release: {r}"
    );
    assert!(tilt_of(&p["left_button"]) > 0.05, "{r}");
    assert_eq!(p["left_button"]["moving"], false, "{r}");
    assert!(
        (tilt_of(&p["left_button_later"]) - tilt_of(&p["left_button"])).abs() < 1e-6,
        "the camera kept moving after the pointer left the button: {r}"
    );
    let at = &p["after_goto"]["position"];
    assert!(
        close(&at["pan"], pan) && close(&at["tilt"], tilt) && close(&at["zoom"], zoom),
        "{r}"
    );
    assert_eq!(p["error"], false, "{r}");
    // The simulator's head agrees.
    let head = ptz_sim.ptz_position("dome").unwrap();
    assert!(
        (f64::from(head.pan) - pan).abs() < 0.02 && (f64::from(head.tilt) - tilt).abs() < 0.02,
        "{head}"
    );
    // The audit log: the console's moves (right, then up) each followed by a stop, then
    // the preset, all as e2e-admin; its reads are not there.
    let audit = get_json(
        addr,
        &format!("/api/v1/audit?action=ptz&target=dome&from={since}&limit=200"),
    )
    .await;
    let mut entries: Vec<&Value> = audit["items"].as_array().unwrap().iter().collect();
    entries.reverse(); // oldest first
    let commands: Vec<&str> = entries
        .iter()
        .map(|e| e["detail"]["command"]["action"].as_str().unwrap_or("?"))
        .collect();
    // Reads (the panel's presets and status requests) are not recorded, only changes.
    assert!(
        !commands.iter().any(|a| ["status", "presets"].contains(a)),
        "{audit}"
    );
    let mut expected_order = commands.clone();
    expected_order.dedup();
    assert_eq!(
        expected_order,
        ["move", "stop", "move", "stop", "goto_preset"],
        "{audit}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"]["username"] == "e2e-admin" && e["detail"]["ok"] == true),
        "{audit}"
    );
    let first_move = entries
        .iter()
        .find(|e| e["detail"]["command"]["action"] == "move")
        .unwrap();
    assert!(
        first_move["detail"]["command"]["pan"].as_f64().unwrap() > 0.0
            && first_move["detail"]["command"]["timeout_ms"]
                .as_u64()
                .is_some(),
        "{audit}"
    );
    // A viewer's role may not PTZ: the same camera plays without a panel.
    assert_eq!(r["viewer"]["dome_state"], "playing", "{r}");
    assert_eq!(r["viewer"]["ptz_panels"], 0, "{r}");
    // The camera answers say which cameras steer: the dome (its ONVIF services learned by
    // now), not the RTSP-only gate.
    assert_eq!(get_json(addr, "/api/v1/cameras/dome").await["ptz"], true);
    assert_eq!(get_json(addr, "/api/v1/cameras/gate").await["ptz"], false);
    server.stop().await;
}
