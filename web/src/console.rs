//! The operator console (`/console`): the single-page app of `web/console/` (Vue 3 +
//! TypeScript, built by Vite), embedded at compile time by `web/build.rs`. Assets under
//! `assets/` carry a content hash in their names and are cached for good; every other
//! path answers `index.html` (the app routes itself). A binary built before the console
//! (no `web/console/dist`) answers a page saying how to build it.
//!
//! The pages are public like the other pages ([`crate::auth::PUBLIC_PAGES`]); their data
//! comes from the API, which needs a session.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// Whether this binary holds the built console.
pub fn is_built() -> bool {
    file("index.html").is_some()
}

fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    assets::FILES
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, content_type, body)| (*content_type, *body))
}

/// What `/console` answers when the binary was built without the console.
const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Watchpost console</title></head><body>\n<h1>Watchpost console</h1>\n\
<p>The console is not built: run <code>cargo xtask demo</code> (or <code>cargo xtask test</code>), \
which builds <code>web/console</code> with npm before the server.</p>\n</body></html>\n";

/// `GET /console`, `GET /console/`: the app.
pub(crate) async fn index() -> Response {
    serve("index.html")
}

/// `GET /console/{*path}`: a built file, or the app for any other path.
pub(crate) async fn path(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    if let Some((content_type, body)) = file(path) {
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, cache),
            ],
            body,
        )
            .into_response();
    }
    if path.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    }
    match file("index.html") {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            NOT_BUILT,
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both builds answer sensibly: with the console, its files and the app for any other
    /// path (a missing asset is 404); without it, 503 and how to build it.
    #[test]
    fn serves_the_built_console_or_says_how_to_build_it() {
        let status = |path: &str| serve(path).status();
        if is_built() {
            assert_eq!(status("index.html"), StatusCode::OK);
            assert_eq!(status("some/app/route"), StatusCode::OK);
            assert_eq!(status("assets/missing.js"), StatusCode::NOT_FOUND);
            for (name, _, _) in assets::FILES {
                assert_eq!(status(name), StatusCode::OK, "{name}");
            }
        } else {
            assert_eq!(status("index.html"), StatusCode::SERVICE_UNAVAILABLE);
            assert!(NOT_BUILT.contains("cargo xtask demo"));
        }
    }

    /// The map's data files as shipped in `web/console/public/map/` (see its README.md).
    mod map_assets {
        use serde_json::Value;

        fn read(name: &str) -> (usize, Value) {
            let path =
                concat!(env!("CARGO_MANIFEST_DIR"), "/console/public/map/").to_owned() + name;
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            (text.len(), serde_json::from_str(&text).unwrap())
        }

        /// A ring's vertices as (longitude, latitude), WGS-84 degrees.
        type Ring = Vec<(f64, f64)>;

        /// Every polygon (outer ring, then holes) of a Polygon or MultiPolygon geometry.
        fn polygons(geometry: &Value) -> Vec<Vec<Ring>> {
            let ring = |r: &Value| -> Ring {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                    .collect()
            };
            let polygon = |p: &Value| p.as_array().unwrap().iter().map(ring).collect();
            match geometry["type"].as_str() {
                Some("Polygon") => vec![polygon(&geometry["coordinates"])],
                Some("MultiPolygon") => geometry["coordinates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(polygon)
                    .collect(),
                other => panic!("geometry {other:?}"),
            }
        }

        /// Even-odd point-in-polygon over all rings (holes subtract).
        fn contains(polygons: &[Vec<Ring>], (x, y): (f64, f64)) -> bool {
            let mut inside = false;
            for ring in polygons.iter().flatten() {
                for (i, &(x2, y2)) in ring.iter().enumerate() {
                    let (x1, y1) = ring[(i + ring.len() - 1) % ring.len()];
                    if (y1 > y) != (y2 > y) && x < (x2 - x1) * (y - y1) / (y2 - y1) + x1 {
                        inside = !inside;
                    }
                }
            }
            inside
        }

        /// Area in km²: shoelace on the sinusoidal projection about 116.4°E (equal-area),
        /// holes subtract.
        fn area_km2(polygons: &[Vec<Ring>]) -> f64 {
            const KM_PER_DEGREE: f64 = 111.195;
            let project = |(lon, lat): (f64, f64)| ((lon - 116.4) * lat.to_radians().cos(), lat);
            let mut total = 0.0;
            for polygon in polygons {
                for (index, ring) in polygon.iter().enumerate() {
                    let mut twice = 0.0;
                    for (i, &b) in ring.iter().enumerate() {
                        let (x1, y1) = project(ring[(i + ring.len() - 1) % ring.len()]);
                        let (x2, y2) = project(b);
                        twice += x1 * y2 - x2 * y1;
                    }
                    let area = (twice / 2.0).abs() * KM_PER_DEGREE * KM_PER_DEGREE;
                    total += if index == 0 { area } else { -area };
                }
            }
            total
        }

        /// The boundary asset holds Beijing's 16 current districts, named and coded like
        /// the seats file, in WGS-84 within Beijing, credited, within the console's size
        /// budget; each district's seat (GeoNames, an independent source) lies inside that
        /// district and no other, and the districts add up to Beijing's area (16 410 km²).
        #[test]
        fn the_boundaries_are_beijings_16_districts_and_agree_with_the_seats() {
            let (size, boundaries) = read("beijing-districts.geojson");
            let (_, seats) = read("beijing-district-seats.json");
            assert!(size <= 300_000, "{size} bytes");
            assert_eq!(boundaries["type"], "FeatureCollection");
            let attribution = boundaries["watchpost"]["attribution"].as_str().unwrap();
            assert!(
                attribution.contains("OpenStreetMap") && attribution.contains("ODbL"),
                "{attribution}"
            );
            assert!(
                boundaries["watchpost"]["datum"]
                    .as_str()
                    .unwrap()
                    .contains("WGS-84")
            );

            let seats = seats["seats"].as_array().unwrap();
            let features = boundaries["features"].as_array().unwrap();
            assert_eq!(seats.len(), 16);
            assert_eq!(features.len(), 16);
            let shapes: Vec<(&str, Vec<Vec<Ring>>)> = features
                .iter()
                .map(|f| (f["id"].as_str().unwrap(), polygons(&f["geometry"])))
                .collect();
            for (feature, seat) in features.iter().zip(seats) {
                assert_eq!(feature["id"], seat["id"]);
                assert_eq!(feature["properties"]["name_zh"], seat["name_zh"]);
                assert_eq!(feature["properties"]["name_en"], seat["name_en"]);
            }
            for (id, polygons) in &shapes {
                for ring in polygons.iter().flatten() {
                    assert!(ring.len() >= 4, "{id}: a ring of {} points", ring.len());
                    assert_eq!(ring.first(), ring.last(), "{id}: an open ring");
                    for &(lon, lat) in ring {
                        assert!(
                            (115.4..=117.55).contains(&lon) && (39.4..=41.1).contains(&lat),
                            "{id}: {lon},{lat} outside Beijing"
                        );
                    }
                }
            }
            for seat in seats {
                let at = (seat["lon"].as_f64().unwrap(), seat["lat"].as_f64().unwrap());
                let within: Vec<&str> = shapes
                    .iter()
                    .filter(|(_, p)| contains(p, at))
                    .map(|(id, _)| *id)
                    .collect();
                assert_eq!(within, [seat["id"].as_str().unwrap()], "{seat}");
            }
            let total: f64 = shapes.iter().map(|(_, p)| area_km2(p)).sum();
            assert!((total / 16_410.0 - 1.0).abs() < 0.01, "{total} km²");
        }
    }
}
