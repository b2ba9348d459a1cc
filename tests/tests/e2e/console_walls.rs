//! The operator console's video-wall part end to end (headless Chromium): the console's
//! wall panel, incident panel and command palette drive a kiosk monitor page open in a
//! second browser context, and the monitor page follows every push by the server's event
//! stream. Asserted from the browser script's RESULT (tests/browser/console_wall.mjs) and
//! the audit log.

use serde_json::json;
use watchpost_command::access::{AuditContext, Jurisdiction, NewUser, Password, Role};

use crate::whep::{ADMIN_PASSWORD, artifacts_dir, get_json, http, run_browser_script, start};

/// Camera A ("gate") and camera B ("yard"): both the simulated camera's main and sub
/// streams, as two inventory cameras ~15 km apart; an open incident at camera B; a wall
/// `hall` with one monitor `m1` and a kiosk token for it. Through the console UI only
/// (logged in as `e2e-admin` through its form): camera A plays on a tile; the grid is saved
/// as a scene and applied to the monitor, which follows (paths and decoded frames, timed)
/// and shows the same after a reload; a second scene (layout 4, A and B) pushed as the
/// whole grid applies that saved scene (no new scene); a tour of both scenes, dwell 3 s,
/// started from the panel, takes the monitor through its steps; stopped, then the
/// incident's cameras sent to the monitor from the incident panel, and restored; the
/// palette finds the scene by name and shows it on the grid; the focused tile's camera
/// goes to monitor tile 0. A Chaoyang viewer then sees the monitor and the scenes (saved
/// under the wall's scope) but no write action. The panel's monitor page link plays in a
/// browser without a session, renews its token and plays again after a reload; revoking
/// the monitor's links in the panel stops both monitor pages. Every push is audited
/// `wall_pushed`.
/// Screenshots:
/// `<target>/test-artifacts/console-wall.png`, `monitor.png` and `monitor-incident.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_pushes_scenes_tours_and_incidents_to_a_monitor_that_follows() {
    let server = start("console-walls").await;
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
    let post = move |path: &'static str, body: serde_json::Value| {
        tokio::task::spawn_blocking(move || {
            let (status, _, answer) =
                http(addr, "POST", path, "application/json", &body.to_string());
            assert_eq!(status, 201, "POST {path}: {answer}");
            serde_json::from_str::<serde_json::Value>(&answer).unwrap()
        })
    };
    let sub = server
        .camera_sub_url
        .clone()
        .expect("the test camera has a sub stream");
    // Camera B at the incident, camera A ~15 km away (outside the incident's 1000 m).
    for (id, name, lon, lat) in [
        ("gate", "Gate", 116.2870, 39.8580),
        ("yard", "Yard", 116.4600, 39.9200),
    ] {
        let camera = serde_json::json!({"id": id, "name": name, "category": "gas_station",
            "division": {"district": "Chaoyang"}, "position": {"lon": lon, "lat": lat},
            "main_url": server.camera_url, "sub_url": sub});
        post("/api/v1/cameras", camera).await.unwrap();
    }
    let incident = post(
        "/api/v1/incidents",
        serde_json::json!({"title": "Yard fire", "incident_type": "fire",
            "location": {"address": "Yard 1", "district": "Chaoyang",
            "position": {"lon": 116.4600, "lat": 39.9200}}}),
    )
    .await
    .unwrap();
    let incident = incident["id"].as_str().expect("an incident id").to_owned();
    post(
        "/api/v1/walls",
        serde_json::json!({"id": "hall", "name": "Duty hall",
            "scope": {"district": "Chaoyang"}, "monitors": [{"id": "m1", "name": "Left"}]}),
    )
    .await
    .unwrap();
    let kiosk = post(
        "/api/v1/walls/hall/monitors/m1/kiosk-token",
        serde_json::json!({"ttl_s": 600}),
    )
    .await
    .unwrap()["token"]
        .as_str()
        .expect("a kiosk token")
        .to_owned();
    // A Chaoyang viewer: sees the wall, may push nothing.
    const VIEWER_PASSWORD: &str = "e2e-chaoyang-viewer-1";
    server
        .access
        .create_user(
            NewUser {
                username: "e2e-viewer".into(),
                display_name: "Chaoyang viewer".into(),
                role: Role::Viewer,
                jurisdiction: Jurisdiction::District {
                    district: "Chaoyang".into(),
                },
                disabled: false,
                password: Password::new(VIEWER_PASSWORD),
            },
            &AuditContext::anonymous(None),
        )
        .await
        .expect("the viewer is added");
    let artifacts = artifacts_dir();
    let monitor_url = format!("http://{addr}/wall/hall/m1#token={kiosk}");
    let result = run_browser_script(
        "console_wall.mjs",
        &format!("http://{addr}/console"),
        &[
            "e2e-admin",
            ADMIN_PASSWORD,
            &monitor_url,
            "gate",
            "yard",
            &incident,
            artifacts.to_str().unwrap(),
            "e2e-viewer",
            VIEWER_PASSWORD,
        ],
    )
    .await;
    eprintln!("console walls: {result}");
    assert_eq!(result["csp_errors"], json!([]), "{result}");
    assert_eq!(result["panel_initial"]["wall"], "hall", "{result}");
    assert_eq!(result["panel_initial"]["monitor"], "m1", "{result}");
    assert_eq!(
        result["monitor_initial"]["tiles"],
        json!([null]),
        "{result}"
    );

    // 1. The console plays camera A.
    let tile = &result["console_tile"];
    assert_eq!(tile["path"], "cam/gate/main", "{result}");
    assert_eq!(tile["state"], "playing", "{result}");
    assert!(tile["frames"].as_u64().unwrap() > 10, "{result}");

    // 2. Scene A on the monitor: followed, decoded, the same after a reload.
    let scene_a = result["scene_a"].as_str().expect("scene A's id");
    let scene_b = result["scene_b"].as_str().expect("scene B's id");
    let a = json!(["cam/gate/main"]);
    let b = json!(["cam/gate/sub", "cam/yard/sub", null, null]);
    let decoded = |step: &serde_json::Value, cameras: &[&str]| {
        let shown = step["shown"].as_array().expect("the monitor's tiles");
        let mut playing: Vec<&str> = shown
            .iter()
            .filter(|s| s["camera"] != "")
            .map(|s| {
                assert!(s["frames"].as_u64().unwrap() > 10, "{result}");
                s["camera"].as_str().unwrap()
            })
            .collect();
        playing.sort_unstable();
        assert_eq!(playing, cameras, "{result}");
    };
    assert_eq!(result["apply"]["tiles"], a, "{result}");
    decoded(&result["apply"], &["gate"]);
    assert_eq!(result["apply"]["panel"]["source"], "scene", "{result}");
    assert_eq!(result["reloaded"]["tiles"], a, "{result}");
    decoded(&result["reloaded"], &["gate"]);
    // Server push, not polling: measured and bounded generously.
    let follow = |step: &str| result[step]["follow_ms"].as_u64().expect(step);
    for step in ["apply", "push_grid", "incident", "restored", "focused"] {
        assert!(follow(step) < 20_000, "{step}: {result}");
    }

    // 3. The whole grid pushed: the saved scene B applied, no third scene.
    assert_eq!(result["push_grid"]["tiles"], b, "{result}");
    decoded(&result["push_grid"], &["gate", "yard"]);
    assert_eq!(result["scene_count"], 2, "{result}");

    // 4. The tour: A, B, A again, each decoded, about 3 s apart; the panel followed.
    let sequence = result["tour"]["sequence"].as_array().expect("the tour");
    let tiles: Vec<&serde_json::Value> = sequence.iter().map(|s| &s["tiles"]).collect();
    assert_eq!(tiles, [&a, &b, &a], "{result}");
    assert!(sequence.iter().all(|s| s["decoded"] == true), "{result}");
    for pair in sequence.windows(2) {
        let gap = pair[1]["ms"].as_u64().unwrap() - pair[0]["ms"].as_u64().unwrap();
        assert!(
            (1_500..=6_000).contains(&gap),
            "a step of {gap} ms: {result}"
        );
    }
    let steps = result["tour"]["panel_steps"].as_array().unwrap();
    assert!(steps.starts_with(&[json!(0), json!(1)]), "{result}");
    assert_eq!(result["tour"]["running_badge"], true, "{result}");

    // 5. Stopped; the incident's camera (B, at the incident) on the monitor; restored.
    let stopped = &result["stopped"]["tiles"];
    assert!(*stopped == a || *stopped == b, "{result}");
    assert_eq!(
        result["incident"]["tiles"],
        json!(["cam/yard/main"]),
        "{result}"
    );
    decoded(&result["incident"], &["yard"]);
    assert_eq!(result["incident"]["panel"]["restorable"], true, "{result}");
    assert_eq!(result["restored"]["tiles"], *stopped, "{result}");
    assert_eq!(result["restored"]["panel"]["restorable"], false, "{result}");
    assert_eq!(result["restored"]["restore_button"], false, "{result}");

    // 6. The palette: scene B by name (shown on the grid, or applied to the monitor).
    let palette = &result["palette"];
    assert_eq!(
        palette["items"],
        json!([format!("s:{scene_b}"), format!("w:{scene_b}")]),
        "{result}"
    );
    assert_eq!(palette["layout"], "4", "{result}");
    assert_eq!(palette["tiles"][0]["camera"], "gate", "{result}");
    assert_eq!(palette["tiles"][1]["camera"], "yard", "{result}");
    assert_eq!(palette["open_after"], false, "{result}");

    // 7. The focused tile's camera on monitor tile 0.
    let first = result["focused"]["tiles"][0].as_str().unwrap();
    assert!(first.starts_with("cam/yard/"), "{result}");

    // 8. The viewer sees the monitor and the scenes, and no write action at all.
    let viewer = &result["viewer"];
    assert_eq!(viewer["panel"]["monitor"], "m1", "{result}");
    assert_eq!(viewer["panel"]["paths"][0], first, "{result}");
    assert_eq!(viewer["scenes"], 2, "{result}");
    assert_eq!(viewer["write_controls"], 0, "{result}");
    assert_eq!(viewer["enabled_monitor_tiles"], 0, "{result}");
    assert_eq!(
        viewer["palette_items"],
        json!([format!("s:{scene_b}")]),
        "{result}"
    );

    // 9. A grid no scene equals, pushed whole: shown in one step, decoded, no scene saved.
    let unsaved = &result["push_unsaved"];
    assert_eq!(
        unsaved["tiles"],
        json!(["cam/gate/sub", "cam/yard/sub", null, "cam/gate/sub"]),
        "{result}"
    );
    decoded(unsaved, &["gate", "gate", "yard"]);
    assert_eq!(unsaved["scene_count"], 2, "{result}");
    assert!(unsaved["follow_ms"].as_u64().unwrap() < 20_000, "{result}");

    // 10. The panel's monitor page link (a kiosk token in the fragment) plays the monitor
    // in a browser without a session.
    let link = &result["kiosk_link"];
    assert_eq!(link["page"], "/wall/hall/m1", "{result}");
    assert_eq!(link["token_in_fragment"], true, "{result}");
    assert_eq!(link["query"], "", "{result}");
    assert_eq!(link["tiles"], unsaved["tiles"], "{result}");
    decoded(link, &["gate", "gate", "yard"]);
    // It renewed its token (keeping the link's lifetime, the server's longest: 24 h) and
    // plays again after a reload with the renewed token from its fragment.
    let renewed = &link["renewed"];
    assert!(renewed["renewals"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(renewed["token_in_fragment"], true, "{result}");
    let expires_in = renewed["expires_in_s"].as_i64().unwrap();
    assert!((86_000..=86_400).contains(&expires_in), "{result}");
    assert_eq!(renewed["tiles_after_reload"], unsaved["tiles"], "{result}");

    // 11. Revoking the monitor's links stops both pages that use one (the panel's link and
    // the test's own kiosk token), with no tile left and the reason shown.
    let revoked = &result["revoked"];
    let pages = revoked["pages"].as_array().expect("the revoked pages");
    assert_eq!(pages.len(), 2, "{result}");
    for page in pages {
        assert_eq!(page["refused"], true, "{result}");
        assert_eq!(page["tiles"], 0, "{result}");
        assert!(
            page["status"].as_str().unwrap().contains("revoked"),
            "{result}"
        );
    }
    eprintln!(
        "console walls: revoked pages stopped after {} ms",
        revoked["ms"]
    );

    // The server's view agrees, and every push is audited.
    let view = get_json(addr, "/api/v1/walls/hall/monitors/m1").await;
    assert_eq!(view["state"]["source"]["kind"], "manual", "{view}");
    let cameras: Vec<&str> = view["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["camera_id"].as_str().unwrap())
        .collect();
    assert_eq!(cameras, ["gate", "yard", "gate"], "{view}");
    let audit = get_json(
        addr,
        "/api/v1/audit?action=wall_pushed&actor=e2e-admin&limit=100",
    )
    .await;
    let mut commands: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["target"], "hall/m1", "{audit}");
            e["detail"]["command"].as_str().unwrap()
        })
        .collect();
    commands.reverse();
    assert_eq!(
        commands,
        [
            "apply_scene",
            "apply_scene",
            "start_tour",
            "stop_tour",
            "show_incident",
            "restore",
            "show_camera",
            "show_grid"
        ],
        "{audit}"
    );
    let scenes = get_json(addr, "/api/v1/scenes").await;
    let ids: Vec<&str> = scenes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&scene_a) && ids.contains(&scene_b), "{scenes}");
    for scene in scenes["items"].as_array().unwrap() {
        assert_eq!(scene["scope"]["district"], "Chaoyang", "{scenes}");
    }
    for name in ["console-wall.png", "monitor.png"] {
        assert!(artifacts.join(name).is_file(), "{name}");
    }
    server.stop().await;
}
