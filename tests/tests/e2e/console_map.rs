//! The operator console's offline map (`web/console/src/MapView.vue`) in headless
//! Chromium: an inventory camera positioned in Chaoyang and an open incident west of it
//! are drawn where the projection puts them, Beijing's 16 districts (the shipped boundary
//! asset) are drawn and named with their credits, the camera inside Chaoyang's shape, the
//! wheel zooms about the pointer, nothing is requested from outside the server, and
//! clicking the camera's marker plays it on the focused tile (frames decoded).
//! Screenshot: `<target>/test-artifacts/console-map.png`.

use crate::whep::{ADMIN_PASSWORD, artifacts_dir, http, run_browser_script, start};

/// The camera: Chaoyang (WGS-84 degrees).
const CAMERA: (f64, f64) = (116.4600, 39.9200);
/// The incident: 0.06° west and 0.01° north of the camera (~5.1 km west, ~1.1 km north).
const INCIDENT: (f64, f64) = (116.4000, 39.9300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_map_shows_cameras_and_incidents_where_they_are_and_plays_a_clicked_camera() {
    let server = start("console-map").await;
    let addr = server.http;
    let post = move |path: &'static str, body: serde_json::Value| {
        tokio::task::spawn_blocking(move || {
            let (status, _, answer) =
                http(addr, "POST", path, "application/json", &body.to_string());
            assert_eq!(status, 201, "POST {path}: {answer}");
            serde_json::from_str::<serde_json::Value>(&answer).unwrap()
        })
    };
    let camera = serde_json::json!({"id": "cam-chaoyang", "name": "Chaoyang gate",
        "category": "gas_station", "division": {"district": "Chaoyang"},
        "position": {"lon": CAMERA.0, "lat": CAMERA.1}, "main_url": server.camera_url});
    post("/api/v1/cameras", camera).await.unwrap();
    let incident = serde_json::json!({"title": "Chaoyang fire", "incident_type": "fire",
        "location": {"address": "Jianguo Rd", "district": "Chaoyang",
        "position": {"lon": INCIDENT.0, "lat": INCIDENT.1}}});
    let answer = post("/api/v1/incidents", incident).await.unwrap();
    let incident_id = answer["id"].as_str().expect("an incident id").to_owned();
    let grade = answer["grading"]["grade"]
        .as_str()
        .expect("the incident's grade")
        .to_owned();

    let artifacts = artifacts_dir();
    let screenshot = artifacts.join("console-map.png");
    let result = run_browser_script(
        "console_map.mjs",
        &format!("http://{addr}/console"),
        &[
            "e2e-admin",
            ADMIN_PASSWORD,
            "cam-chaoyang",
            &incident_id,
            screenshot.to_str().unwrap(),
        ],
    )
    .await;
    eprintln!("console map: {result}");
    assert_eq!(result["csp_errors"], serde_json::json!([]), "{result}");
    assert_eq!(
        result["outside_requests"],
        serde_json::json!([]),
        "{result}"
    );

    // The boundary asset (web/console/public/map/): Beijing's 16 districts, named in the
    // console's language (Chinese by default) at their seats, credited (OpenStreetMap for
    // the boundaries, GeoNames for the seats); the camera's marker lies inside Chaoyang's
    // drawn shape and no other.
    let districts = result["districts"].as_array().expect("district names");
    let mut names: Vec<&str> = districts.iter().map(|d| d.as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "Changping",
            "Chaoyang",
            "Daxing",
            "Dongcheng",
            "Fangshan",
            "Fengtai",
            "Haidian",
            "Huairou",
            "Mentougou",
            "Miyun",
            "Pinggu",
            "Shijingshan",
            "Shunyi",
            "Tongzhou",
            "Xicheng",
            "Yanqing"
        ],
        "{result}"
    );
    assert_eq!(
        result["camera_in"],
        serde_json::json!(["Chaoyang"]),
        "{result}"
    );
    let labels = result["labels"].as_array().expect("the district labels");
    assert_eq!(labels.len(), 16, "{result}");
    assert!(labels.contains(&serde_json::json!("朝阳区")), "{result}");
    // With boundaries the seats are not drawn as dots: the names sit at them instead.
    assert_eq!(result["seats"], serde_json::json!([]), "{result}");
    let attribution = result["attribution"]
        .as_str()
        .expect("the attribution line");
    assert_eq!(result["attribution_visible"], true, "{result}");
    for credit in ["OpenStreetMap", "ODbL", "geoBoundaries", "GeoNames"] {
        assert!(attribution.contains(credit), "{attribution}");
    }

    // Both markers inside the map, where the projection puts them: the incident west
    // (left) and north (up) of the camera, at the equirectangular ratio of
    // Δlon·cos(39.9°) to Δlat (4.60), within 5 %.
    let (map, cam, inc) = (&result["map"], &result["camera"], &result["incident"]);
    for marker in [cam, inc] {
        let (x, y) = (num(&marker["cx"]), num(&marker["cy"]));
        assert!(
            x > num(&map["left"])
                && x < num(&map["left"]) + num(&map["width"])
                && y > num(&map["top"])
                && y < num(&map["top"]) + num(&map["height"]),
            "marker outside the map: {result}"
        );
    }
    let dx = num(&cam["cx"]) - num(&inc["cx"]);
    let dy = num(&cam["cy"]) - num(&inc["cy"]);
    assert!(dx > 0.0 && dy > 0.0, "{result}");
    let expected = (CAMERA.0 - INCIDENT.0) * 39.9f64.to_radians().cos() / (INCIDENT.1 - CAMERA.1);
    assert!(
        ((dx / dy) / expected - 1.0).abs() < 0.05,
        "dx/dy {} vs {expected}: {result}",
        dx / dy
    );
    assert_eq!(cam["category"], "gas_station", "{result}");
    assert!(
        cam["title"].as_str().unwrap().contains("Chaoyang gate"),
        "{result}"
    );
    assert_eq!(inc["grade"], grade.as_str(), "{result}");
    assert!(
        inc["title"].as_str().unwrap().contains("Chaoyang fire"),
        "{result}"
    );
    let legend = result["legend"].as_str().expect("the legend");
    for category in ["加油站", "油库", "尾矿库", "烟花爆竹仓库", "烟花爆竹零售点"]
    {
        assert!(legend.contains(category), "{legend}");
    }
    // The wheel zoomed in (400 px of wheel: ×e^0.6 ≈ 1.82) about the map's centre.
    let zoom = num(&result["zoom"]["after"]) / num(&result["zoom"]["before"]);
    assert!(
        (zoom / 0.6f64.exp() - 1.0).abs() < 0.05,
        "zoom ×{zoom}: {result}"
    );

    // The clicked camera plays on the focused tile.
    let tile = &result["tile"];
    assert_eq!(tile["index"], 0, "{result}");
    assert_eq!(tile["camera"], "cam-chaoyang", "{result}");
    assert_eq!(tile["state"], "playing", "{result}");
    assert!(tile["frames"].as_u64().unwrap() > 10, "{result}");
    assert!(screenshot.is_file(), "{}", screenshot.display());
    server.stop().await;
}

fn num(value: &serde_json::Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}
