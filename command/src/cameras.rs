//! Cameras for an incident: the enterprise's own cameras and the cameras near the incident.
//!
//! The command module never imports the device layer; it asks a [`CameraLookup`], which
//! the composition root (`web/`) implements over the camera inventory. Cameras are known
//! here only by id, name, enterprise, position and whether they are enabled.
//!
//! Distances are great-circle distances on the WGS-84 mean radius ([`distance_m`]), in
//! metres; positions are WGS-84 degrees.

use std::future::Future;

use serde::Serialize;

use crate::domain::{Incident, Position};

/// Mean Earth radius used for distances, metres (IUGG mean radius R1).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Default search radius around an incident, metres.
pub const DEFAULT_RADIUS_M: f64 = 1_000.0;
/// Largest search radius, metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// A camera as the command module sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CameraRef {
    /// The camera's inventory id (hub paths `cam/<id>/main|sub`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The enterprise whose site it watches, when known.
    pub enterprise_id: Option<String>,
    /// Where it is.
    pub position: Option<Position>,
    /// Whether it may be pulled.
    pub enabled: bool,
    /// Distance from the incident, metres, when both positions are known.
    pub distance_m: Option<f64>,
}

/// Why a lookup failed (the message names what was asked; no internals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("camera lookup: {0}")]
pub struct LookupError(pub String);

/// Where the command module finds cameras; implemented over the device inventory by the
/// composition root, and by tests.
pub trait CameraLookup: Send + Sync {
    /// The cameras of enterprise `enterprise_id` (its ledger id), any order.
    fn by_enterprise(
        &self,
        enterprise_id: &str,
    ) -> impl Future<Output = Result<Vec<CameraRef>, LookupError>> + Send;

    /// The cameras within `radius_m` metres of `center`, any order (an implementation may
    /// return a few more, e.g. a bounding box: [`cameras_for_incident`] filters exactly).
    fn near(
        &self,
        center: Position,
        radius_m: f64,
    ) -> impl Future<Output = Result<Vec<CameraRef>, LookupError>> + Send;
}

/// The cameras an operator wants for an incident.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentCameras {
    /// The incident's enterprise's cameras (by name); empty without an enterprise.
    pub enterprise: Vec<CameraRef>,
    /// Other cameras within the radius, nearest first; empty without a position.
    pub nearby: Vec<CameraRef>,
    /// The radius used, metres.
    pub radius_m: f64,
}

/// Great-circle distance between two WGS-84 positions, metres (haversine).
pub fn distance_m(a: Position, b: Position) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The enterprise's cameras and the other cameras within `radius_m` (clamped to
/// 1 m..=[`MAX_RADIUS_M`]) of the incident's position, each with its distance when known.
pub async fn cameras_for_incident<L: CameraLookup>(
    lookup: &L,
    incident: &Incident,
    radius_m: f64,
) -> Result<IncidentCameras, LookupError> {
    let radius_m = if radius_m.is_finite() {
        radius_m.clamp(1.0, MAX_RADIUS_M)
    } else {
        DEFAULT_RADIUS_M
    };
    let center = incident.location().position;
    let with_distance = |mut c: CameraRef| {
        c.distance_m = center.zip(c.position).map(|(a, b)| distance_m(a, b));
        c
    };
    let mut enterprise: Vec<CameraRef> = match incident.enterprise_id() {
        Some(id) => lookup
            .by_enterprise(id)
            .await?
            .into_iter()
            .map(with_distance)
            .collect(),
        None => Vec::new(),
    };
    enterprise.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let mut nearby: Vec<CameraRef> = match center {
        Some(center) => lookup
            .near(center, radius_m)
            .await?
            .into_iter()
            .map(with_distance)
            .filter(|c| c.distance_m.is_some_and(|d| d <= radius_m))
            .filter(|c| !enterprise.iter().any(|e| e.id == c.id))
            .collect(),
        None => Vec::new(),
    };
    nearby.sort_by(|a, b| {
        a.distance_m
            .partial_cmp(&b.distance_m)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(IncidentCameras {
        enterprise,
        nearby,
        radius_m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_known_values() {
        // Tian'anmen to the Fengtai oil depot of the demo: about 17.7 km.
        let tiananmen = Position {
            lon: 116.3975,
            lat: 39.9087,
        };
        let depot = Position {
            lon: 116.2135,
            lat: 39.8492,
        };
        let d = distance_m(tiananmen, depot);
        assert!((17_000.0..18_500.0).contains(&d), "{d}");
        assert_eq!(distance_m(depot, depot), 0.0);
        // One degree of latitude is about 111.2 km everywhere.
        let north = Position {
            lat: depot.lat + 1.0,
            ..depot
        };
        assert!((distance_m(depot, north) - 111_195.0).abs() < 50.0);
    }
}
