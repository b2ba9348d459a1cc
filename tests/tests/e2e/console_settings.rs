//! The operator's console settings kept on the server (`/api/v1/auth/me/console`) and the
//! duty panel (`web/console/src/DutyPanel.vue`) in headless Chromium
//! (`tests/browser/console_settings.mjs`): a favourite, layout 9, a camera on the third
//! tile and the preferences (low latency, stats overlay, English) chosen in one browser come
//! back in a second browser context of the same user; a
//! stale console's save is refused (412) and it reloads; the duty panel lists the unit and
//! centre made here and the incidents opened before and while it runs. Screenshot:
//! `<target>/test-artifacts/console-settings.png`.

use serde_json::{Value, json};

use crate::whep::{ADMIN_PASSWORD, artifacts_dir, get_json, http, run_browser_script, start};

async fn post(addr: std::net::SocketAddr, path: &str, body: Value) -> Value {
    let target = path.to_owned();
    let (status, _, text) = tokio::task::spawn_blocking(move || {
        http(addr, "POST", &target, "application/json", &body.to_string())
    })
    .await
    .unwrap();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_settings_follow_the_operator_and_the_duty_panel_shows_the_jurisdiction() {
    const CAMERA: &str = "cam-settings";
    const CENTRE: &str = "e2e-duty-city";
    const UNIT: &str = "u-e2e-duty-rescue";
    const GONE: &str = "cam-removed-long-ago";
    let server = start("console-settings").await;
    let addr = server.http;
    post(
        addr,
        "/api/v1/cameras",
        json!({"id": CAMERA, "name": "Settings gate", "category": "gas_station",
            "division": {"district": "Chaoyang"}, "main_url": server.camera_url}),
    )
    .await;
    post(
        addr,
        "/api/v1/centres",
        json!({"id": CENTRE, "name": "E2E city duty centre", "level": "city",
            "phone": "010-5555-0110"}),
    )
    .await;
    post(
        addr,
        "/api/v1/units",
        json!({"id": UNIT, "name": "E2E rescue team", "kind": "rescue_team",
            "centre_id": CENTRE, "availability": "available", "phone": "138-0000-0119"}),
    )
    .await;
    let before = post(
        addr,
        "/api/v1/incidents",
        json!({"title": "Duty log backlog check", "incident_type": "fire",
            "location": {"address": "Gate 1", "district": "Chaoyang"}}),
    )
    .await;
    let before = before["id"].as_str().expect("an incident id").to_owned();

    // A favourite saved earlier whose camera is gone: kept, never shown.
    let saved = json!({"favourites": [GONE]}).to_string();
    let (status, headers, body) = tokio::task::spawn_blocking(move || {
        http(
            addr,
            "PUT",
            "/api/v1/auth/me/console",
            "application/json",
            &saved,
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let etag = headers.iter().find(|(name, _)| name == "etag");
    assert_eq!(etag.map(|(_, v)| v.as_str()), Some("\"1\""), "{headers:?}");

    let artifacts = artifacts_dir();
    let screenshot = artifacts.join("console-settings.png");
    let result = run_browser_script(
        "console_settings.mjs",
        &format!("http://{addr}/console"),
        &[
            "e2e-admin",
            ADMIN_PASSWORD,
            CAMERA,
            UNIT,
            CENTRE,
            screenshot.to_str().unwrap(),
        ],
    )
    .await;
    eprintln!("console settings: {result}");
    assert_eq!(result["csp_errors"], json!([]), "{result}");

    // The first browser started from the defaults and saved its choices.
    let first = &result["first"];
    assert_eq!(first["cache_before_login"], Value::Null, "{result}");
    assert_eq!(first["fresh"]["layout"], "4", "{result}");
    assert_eq!(first["fresh"]["favourites"], json!([]), "{result}");
    assert_eq!(first["fresh"]["settings"]["revision"], 1, "{result}");
    assert_eq!(first["layout"], "9", "{result}");
    assert_eq!(first["favourites"], json!([CAMERA]), "{result}");
    assert_eq!(first["settings"]["source"], "server", "{result}");
    assert_eq!(first["settings"]["error"], "", "{result}");

    // The second browser (no shared storage) restored them from the server.
    let second = &result["second"];
    assert_eq!(second["cache_before_login"], Value::Null, "{result}");
    assert_eq!(second["layout"], "9", "{result}");
    let tiles = second["tiles"].as_array().expect("tiles");
    assert_eq!(tiles.len(), 9, "{result}");
    assert_eq!(tiles[2], json!({"index": 2, "camera": CAMERA}), "{result}");
    assert!(
        tiles
            .iter()
            .filter(|t| t["index"] != 2)
            .all(|t| t["camera"].is_null()),
        "{result}"
    );
    // The preferences set in the first (low latency, stats overlay, English) followed too.
    assert_eq!(first["latency"], "low", "{result}");
    assert_eq!(first["lang"], "en", "{result}");
    assert_eq!(second["latency"], "low", "{result}");
    assert_eq!(second["stats"], "true", "{result}");
    assert_eq!(second["lang"], "en", "{result}");
    assert_eq!(second["starred"], "true", "{result}");
    assert_eq!(second["favourites"], json!([CAMERA]), "{result}");
    assert_eq!(
        second["settings"]["revision"], first["settings"]["revision"],
        "{result}"
    );

    // The duty panel: the unit (available) and the centre made here, the incident opened
    // before (backlog) and the one the script opened (live).
    let duty = &result["duty"];
    assert!(
        duty["units"].as_array().unwrap().contains(&json!(UNIT)),
        "{result}"
    );
    assert!(
        duty["centres"].as_array().unwrap().contains(&json!(CENTRE)),
        "{result}"
    );
    assert_eq!(duty["unit_group"], "available", "{result}");
    let text = duty["text"].as_str().unwrap();
    for shown in [
        "E2E rescue team",
        "138-0000-0119",
        "E2E city duty centre",
        "010-5555-0110",
        "Duty log live check",
    ] {
        assert!(text.contains(shown), "{shown} not shown: {text}");
    }
    assert!(
        duty["backlog"]
            .as_array()
            .unwrap()
            .contains(&json!({"incident": before, "kind": "opened"})),
        "{result}"
    );
    assert_eq!(duty["opened"]["status"], 201, "{result}");
    let live = duty["opened"]["id"].as_str().unwrap();
    assert_eq!(
        duty["live"][0],
        json!({"incident": live, "kind": "opened"}),
        "{result}"
    );
    assert!(duty["live_ms"].as_u64().unwrap() < 10_000, "{result}");

    // The stale first console was refused and took the second's settings: unstarred,
    // still layout 9 (its own change to 4 was dropped), as the server has them.
    let conflict = &result["conflict"];
    assert_eq!(conflict["layout"], "9", "{result}");
    assert_eq!(conflict["favourites"], json!([]), "{result}");
    assert_eq!(conflict["starred"], "false", "{result}");
    assert_eq!(conflict["server"]["favourites"], json!([GONE]), "{result}");
    assert_eq!(conflict["server"]["grid"]["layout"], 9, "{result}");
    assert_eq!(conflict["server"]["grid"]["slots"][2], CAMERA, "{result}");

    // The server holds the administrator's settings only; the audit log has no entry of
    // them (personal settings are not audited).
    let audit = get_json(addr, "/api/v1/audit?limit=1000").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.iter().all(|a| !a.contains("setting")),
        "{actions:?}"
    );
    server.stop().await;
}
