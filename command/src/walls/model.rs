//! The video wall's records: walls and their monitors, scenes and tours, what clients send
//! to create them (`*Input`) and the checks between the two.

use std::fmt;

use serde::{Deserialize, Serialize};
use watchpost_config::CAMERA_NAME_RULE;

use super::layout::{Layout, LayoutSpec};
use super::state::{MonitorState, Profile, TileContent, TileStream};
use crate::access::{Jurisdiction, Scope};
use crate::domain::{FieldError, UnixMs, id_type, quote};

/// Longest name (wall, monitor, scene, tour), in characters.
pub const MAX_NAME: usize = 200;
/// Longest district, street or enterprise id of a scope, in characters.
pub const MAX_PLACE: usize = 128;
/// Longest actor name recorded with a change, in characters.
pub const MAX_ACTOR: usize = 128;
/// Most monitors on one wall.
pub const MAX_MONITORS: usize = 64;
/// Most steps in one tour.
pub const MAX_TOUR_STEPS: usize = 100;
/// Shortest time a tour's step stays on a monitor, ms.
pub const MIN_DWELL_MS: i64 = 3_000;
/// Longest time a tour's step stays on a monitor, ms (one hour).
pub const MAX_DWELL_MS: i64 = 3_600_000;

id_type!(
    /// A video wall's identifier, chosen when the wall is created (`main-hall`); part of
    /// the monitor page's address `/wall/{wall}/{monitor}`.
    WallId,
    "wall id"
);
id_type!(
    /// A monitor's identifier within its wall, chosen with the wall (`1`, `left`).
    MonitorId,
    "monitor id"
);
id_type!(
    /// A scene's identifier, handed out by the store (`scene-N`).
    SceneId,
    "scene id"
);
id_type!(
    /// A tour's identifier, handed out by the store (`tour-N`).
    TourId,
    "tour id"
);

/// A camera's inventory id, as the monitors play it (hub paths `cam/<id>/main|sub`):
/// [`CAMERA_NAME_RULE`]. The command module never reads the inventory, so the id is
/// checked for form only. Serialized as a plain string, checked when deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CameraId(String);

impl CameraId {
    /// Checks `text` against [`CAMERA_NAME_RULE`]; the error is the reason, quoting it.
    pub fn parse(text: &str) -> Result<CameraId, String> {
        let mut chars = text.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && text.len() <= 64
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(CameraId(text.to_owned()))
        } else {
            Err(format!(
                "{} is not a camera id: {CAMERA_NAME_RULE}",
                quote(text)
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CameraId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CameraId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for CameraId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(format!(
                "A camera's inventory id: {CAMERA_NAME_RULE}."
            )))
            .pattern(Some(r"^[a-z0-9][a-z0-9_-]{0,63}$"))
            .min_length(Some(1))
            .max_length(Some(64))
            .into()
    }
}

impl utoipa::ToSchema for CameraId {}

/// Where a wall, scene or tour belongs: the district, street and enterprise (ledger id)
/// it is recorded under, each optional; all unset means the city. Compared with
/// [`Jurisdiction::covers`] through [`WallScope::scope`]: a district operator sees the
/// walls of its district, an enterprise the walls recorded under its ledger id, the city
/// everything (and alone the city's own walls).
///
/// As input: text is trimmed, blank means unset, a street needs its district.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WallScope {
    /// District, as the ledger and the inventory spell it (`Chaoyang`).
    pub district: Option<String>,
    /// Street within the district.
    pub street: Option<String>,
    /// Enterprise ledger id.
    pub enterprise_id: Option<String>,
}

impl WallScope {
    /// The city (nothing set).
    pub fn city() -> WallScope {
        WallScope::default()
    }

    /// As an access [`Scope`].
    pub fn scope(&self) -> Scope<'_> {
        Scope::new(
            self.district.as_deref(),
            self.street.as_deref(),
            self.enterprise_id.as_deref(),
        )
    }

    /// Whether a user of `jurisdiction` sees what has this scope.
    pub fn covered_by(&self, jurisdiction: &Jurisdiction) -> bool {
        jurisdiction.covers(&self.scope())
    }

    /// The scope normalised (trimmed, blank unset); problems named under `field`.
    pub(crate) fn check(&self, check: &mut Check, field: &str) -> WallScope {
        let district = check.optional(&format!("{field}.district"), self.district.as_deref());
        let street = check.optional(&format!("{field}.street"), self.street.as_deref());
        let enterprise_id = check.optional(
            &format!("{field}.enterprise_id"),
            self.enterprise_id.as_deref(),
        );
        if street.is_some() && district.is_none() {
            check.bad(
                format!("{field}.street"),
                "a street needs its district (set district too)",
            );
        }
        WallScope {
            district,
            street,
            enterprise_id,
        }
    }
}

/// Collects the problems of one input.
#[derive(Debug, Default)]
pub(crate) struct Check {
    pub(crate) errors: Vec<FieldError>,
}

impl Check {
    pub(crate) fn bad(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    /// Trimmed, non-empty, at most `max` characters, no control characters.
    pub(crate) fn required(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            self.bad(field, "is required and must not be blank");
            return None;
        }
        self.text(field, value, max)
    }

    /// Like [`Check::required`] for a place name, but blank means absent.
    fn optional(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.text(field, value, MAX_PLACE)
    }

    fn text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let count = value.chars().count();
        if count > max {
            self.bad(
                field,
                format!(
                    "is {count} characters long, at most {max} are allowed (starts {})",
                    quote(value)
                ),
            );
            None
        } else if value.chars().any(char::is_control) {
            self.bad(field, "must not contain control characters");
            None
        } else {
            Some(value.to_owned())
        }
    }

    /// An id parsed by `parse`, required.
    pub(crate) fn id<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = value.trim();
        if value.is_empty() {
            self.bad(field, "is required");
            return None;
        }
        parse(value).map_err(|reason| self.bad(field, reason)).ok()
    }

    pub(crate) fn finish<T>(self, valid: Option<T>) -> Result<T, Vec<FieldError>> {
        match valid {
            Some(valid) if self.errors.is_empty() => Ok(valid),
            _ => Err(self.errors),
        }
    }
}

/// Checks an actor name (who made a change): 1 to [`MAX_ACTOR`] characters, not blank.
pub(crate) fn check_actor(actor: &str) -> Result<(), Vec<FieldError>> {
    let mut check = Check::default();
    let valid = check.required("actor", actor, MAX_ACTOR);
    check.finish(valid).map(drop)
}

// ---------------------------------------------------------------------------------------
// Walls and monitors

/// One monitor of a [`WallInput`]; its position on the wall is its place in the list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorInput {
    /// The id ([`MonitorId`]), unique within the wall; it never changes.
    pub id: String,
    /// Name (1 to 200 characters); default: `Monitor <id>`.
    pub name: Option<String>,
}

/// A wall as a client sends it (create or replace).
///
/// Required: `id` (on create; on update absent or the same), `name`, `monitors` (1 to
/// 64, ids unique). On update, monitors whose id is kept keep what they show and their
/// revision (their name and position follow the input); new ones start empty
/// ([`MonitorState::initial`]); the others are removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WallInput {
    /// The id ([`WallId`]).
    pub id: Option<String>,
    /// Name (1 to 200 characters).
    pub name: String,
    /// Where the wall belongs (unset: the city).
    pub scope: WallScope,
    /// The monitors, in position order (left to right, top to bottom).
    pub monitors: Vec<MonitorInput>,
}

/// A checked monitor of a [`ValidWall`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidMonitor {
    pub(crate) id: MonitorId,
    pub(crate) name: String,
}

/// A [`WallInput`] that passed its checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidWall {
    pub(crate) id: WallId,
    pub(crate) name: String,
    pub(crate) scope: WallScope,
    pub(crate) monitors: Vec<ValidMonitor>,
}

impl WallInput {
    /// Every problem at once. `path_id` is the wall being updated (`None` on create,
    /// where `id` is required).
    pub(crate) fn validate(&self, path_id: Option<&str>) -> Result<ValidWall, Vec<FieldError>> {
        let mut check = Check::default();
        let given = self.id.as_deref().map(str::trim).filter(|g| !g.is_empty());
        let id = match (given, path_id) {
            (Some(given), Some(path)) if given != path => {
                check.bad(
                    "id",
                    format!(
                        "{} differs from the wall being updated, {}: an id never changes",
                        quote(given),
                        quote(path)
                    ),
                );
                None
            }
            (_, Some(path)) => check.id("id", path, WallId::parse),
            (given, None) => check.id("id", given.unwrap_or(""), WallId::parse),
        };
        let name = check.required("name", &self.name, MAX_NAME);
        let scope = self.scope.check(&mut check, "scope");
        if self.monitors.is_empty() {
            check.bad("monitors", "a wall needs at least one monitor");
        } else if self.monitors.len() > MAX_MONITORS {
            check.bad(
                "monitors",
                format!(
                    "at most {MAX_MONITORS} monitors, got {}",
                    self.monitors.len()
                ),
            );
        }
        let mut monitors: Vec<ValidMonitor> = Vec::with_capacity(self.monitors.len());
        for (i, m) in self.monitors.iter().enumerate() {
            let at = |field: &str| format!("monitors[{i}].{field}");
            let id = check.id(&at("id"), &m.id, MonitorId::parse);
            if let Some(id) = &id
                && let Some(first) = self.monitors[..i]
                    .iter()
                    .position(|o| o.id.trim() == id.as_str())
            {
                check.bad(
                    at("id"),
                    format!("{} is also the id of monitors[{first}]", quote(id.as_str())),
                );
            }
            let name = match m.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(name) => check.required(&at("name"), name, MAX_NAME),
                None => id.as_ref().map(|id| format!("Monitor {id}")),
            };
            if let (Some(id), Some(name)) = (id, name) {
                monitors.push(ValidMonitor { id, name });
            }
        }
        let valid = match (id, name) {
            (Some(id), Some(name)) => Some(ValidWall {
                id,
                name,
                scope,
                monitors,
            }),
            _ => None,
        };
        check.finish(valid)
    }
}

impl From<&Wall> for WallInput {
    /// The input that writes `wall` back unchanged.
    fn from(wall: &Wall) -> WallInput {
        WallInput {
            id: Some(wall.id.to_string()),
            name: wall.name.clone(),
            scope: wall.scope.clone(),
            monitors: wall
                .monitors
                .iter()
                .map(|m| MonitorInput {
                    id: m.id.to_string(),
                    name: Some(m.name.clone()),
                })
                .collect(),
        }
    }
}

/// A video wall as stored, with its monitors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Wall {
    /// Id.
    pub id: WallId,
    /// Name.
    pub name: String,
    /// Where it belongs.
    pub scope: WallScope,
    /// Its monitors, in position order.
    pub monitors: Vec<Monitor>,
    /// Creation time, Unix ms.
    pub created_at: UnixMs,
    /// Last change of the wall itself (name, scope, monitor list), Unix ms.
    pub updated_at: UnixMs,
    /// Write counter of the wall itself: 1 after create, +1 per update. What a monitor
    /// shows has its own revision ([`Monitor::revision`]).
    pub revision: i64,
}

/// One monitor of a wall and what it shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Monitor {
    /// The wall.
    pub wall_id: WallId,
    /// Id within the wall.
    pub id: MonitorId,
    /// Name.
    pub name: String,
    /// Position on the wall, from 0.
    pub position: u32,
    /// What it shows, and what it showed before the last incident push.
    pub state: MonitorState,
    /// Counts changes of `state`: 1 when the monitor was added, +1 per command that
    /// changed it. The optimistic-concurrency token of [`super::WallStore::apply`].
    pub revision: i64,
    /// When `state` last changed (or the monitor was added), Unix ms.
    pub updated_at: UnixMs,
    /// Who changed it then.
    pub updated_by: String,
}

impl Monitor {
    /// `wall/monitor`, as errors and logs name a monitor.
    pub fn label(&self) -> String {
        format!("{}/{}", self.wall_id, self.id)
    }

    /// The hub paths the monitor plays, tile by tile (see [`MonitorState::streams`]).
    pub fn streams(&self, has_sub: impl Fn(&CameraId) -> bool) -> Vec<TileStream> {
        self.state.streams(has_sub)
    }
}

// ---------------------------------------------------------------------------------------
// Scenes

/// A tile's content as a client sends it (the camera id is checked by `validate`):
/// `{"kind": "empty"}` or `{"kind": "camera", "camera_id": "gas-01", "profile": "auto"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TileInput {
    /// Nothing.
    #[default]
    Empty,
    /// A camera.
    Camera {
        /// The camera's inventory id.
        camera_id: String,
        /// Which stream; default `auto`.
        #[serde(default)]
        profile: Profile,
    },
}

impl From<&TileContent> for TileInput {
    fn from(content: &TileContent) -> TileInput {
        match content {
            TileContent::Empty => TileInput::Empty,
            TileContent::Camera { camera_id, profile } => TileInput::Camera {
                camera_id: camera_id.to_string(),
                profile: *profile,
            },
        }
    }
}

/// Checks tile contents for `layout`: at most one per tile (missing ones are empty), camera
/// ids of the right form; problems named `field[i]…`.
pub(crate) fn check_tiles(
    check: &mut Check,
    field: &str,
    tiles: &[TileInput],
    layout: Option<&Layout>,
) -> Vec<TileContent> {
    if let Some(layout) = layout
        && tiles.len() > layout.len()
    {
        check.bad(
            field,
            format!(
                "{} contents for a layout of {} tiles",
                tiles.len(),
                layout.len()
            ),
        );
    }
    let mut out: Vec<TileContent> = tiles
        .iter()
        .enumerate()
        .map(|(i, tile)| match tile {
            TileInput::Empty => TileContent::Empty,
            TileInput::Camera { camera_id, profile } => match CameraId::parse(camera_id.trim()) {
                Ok(camera_id) => TileContent::Camera {
                    camera_id,
                    profile: *profile,
                },
                Err(reason) => {
                    check.bad(format!("{field}[{i}].camera_id"), reason);
                    TileContent::Empty
                }
            },
        })
        .collect();
    if let Some(layout) = layout {
        out.resize(layout.len(), TileContent::Empty);
    }
    out
}

/// A scene (a named preset of a layout and its contents) as a client sends it.
///
/// Required: `name`, `layout`; `tiles` at most one per tile of the layout, missing ones
/// empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// Who may use it (unset: the city).
    #[serde(default)]
    pub scope: WallScope,
    /// The layout.
    pub layout: LayoutSpec,
    /// The contents, tile by tile.
    #[serde(default)]
    pub tiles: Vec<TileInput>,
}

/// A [`SceneInput`] that passed its checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidScene {
    pub(crate) name: String,
    pub(crate) scope: WallScope,
    pub(crate) layout: Layout,
    pub(crate) tiles: Vec<TileContent>,
}

impl SceneInput {
    /// Every problem at once.
    pub(crate) fn validate(&self) -> Result<ValidScene, Vec<FieldError>> {
        let mut check = Check::default();
        let name = check.required("name", &self.name, MAX_NAME);
        let scope = self.scope.check(&mut check, "scope");
        let layout = Layout::check(&self.layout, "layout")
            .map_err(|errors| check.errors.extend(errors))
            .ok();
        let tiles = check_tiles(&mut check, "tiles", &self.tiles, layout.as_ref());
        let valid = match (name, layout) {
            (Some(name), Some(layout)) => Some(ValidScene {
                name,
                scope,
                layout,
                tiles,
            }),
            _ => None,
        };
        check.finish(valid)
    }
}

/// A scene as stored. `tiles` has one content per tile of `layout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scene {
    /// Id.
    pub id: SceneId,
    /// Name.
    pub name: String,
    /// Who may use it.
    pub scope: WallScope,
    /// The layout.
    pub layout: Layout,
    /// The contents, one per tile.
    pub tiles: Vec<TileContent>,
    /// Creation time, Unix ms.
    pub created_at: UnixMs,
    /// Last write, Unix ms.
    pub updated_at: UnixMs,
    /// Write counter: 1 after create, +1 per update.
    pub revision: i64,
}

impl From<&Scene> for SceneInput {
    /// The input that writes `scene` back unchanged.
    fn from(scene: &Scene) -> SceneInput {
        SceneInput {
            name: scene.name.clone(),
            scope: scene.scope.clone(),
            layout: scene.layout.to_spec(),
            tiles: scene.tiles.iter().map(TileInput::from).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tours

/// One step of a [`TourInput`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TourSceneInput {
    /// The scene shown (it must exist).
    pub scene_id: String,
    /// How long it stays, ms: 3 000 to 3 600 000.
    pub dwell_ms: i64,
}

/// A tour (scenes shown one after the other) as a client sends it.
///
/// Required: `name`, `steps` (1 to 100; a scene may appear more than once). `loop`
/// (default `true`): start again after the last step; otherwise the last scene stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TourInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// Who may use it (unset: the city).
    pub scope: WallScope,
    /// The steps, in order.
    pub steps: Vec<TourSceneInput>,
    /// Whether the tour starts again after its last step.
    #[serde(rename = "loop")]
    pub looping: bool,
}

impl Default for TourInput {
    fn default() -> TourInput {
        TourInput {
            name: String::new(),
            scope: WallScope::default(),
            steps: Vec::new(),
            looping: true,
        }
    }
}

/// A [`TourInput`] that passed its checks (whether its scenes exist is the store's to
/// check).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidTour {
    pub(crate) name: String,
    pub(crate) scope: WallScope,
    pub(crate) steps: Vec<TourScene>,
    pub(crate) looping: bool,
}

impl TourInput {
    /// Every problem at once.
    pub(crate) fn validate(&self) -> Result<ValidTour, Vec<FieldError>> {
        let mut check = Check::default();
        let name = check.required("name", &self.name, MAX_NAME);
        let scope = self.scope.check(&mut check, "scope");
        if self.steps.is_empty() {
            check.bad("steps", "a tour needs at least one step");
        } else if self.steps.len() > MAX_TOUR_STEPS {
            check.bad(
                "steps",
                format!("at most {MAX_TOUR_STEPS} steps, got {}", self.steps.len()),
            );
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for (i, step) in self.steps.iter().enumerate() {
            let scene_id = check.id(
                &format!("steps[{i}].scene_id"),
                &step.scene_id,
                SceneId::parse,
            );
            let dwell_ok = check_dwell(&mut check, &format!("steps[{i}].dwell_ms"), step.dwell_ms);
            if let (Some(scene_id), true) = (scene_id, dwell_ok) {
                steps.push(TourScene {
                    scene_id,
                    dwell_ms: step.dwell_ms,
                });
            }
        }
        let valid = name.map(|name| ValidTour {
            name,
            scope,
            steps,
            looping: self.looping,
        });
        check.finish(valid)
    }
}

/// Whether `dwell_ms` is within [`MIN_DWELL_MS`] ..= [`MAX_DWELL_MS`]; else a problem for
/// `field`.
pub(crate) fn check_dwell(check: &mut Check, field: &str, dwell_ms: i64) -> bool {
    if (MIN_DWELL_MS..=MAX_DWELL_MS).contains(&dwell_ms) {
        true
    } else {
        check.bad(
            field,
            format!("{dwell_ms} ms is out of range: {MIN_DWELL_MS} (3 s) to {MAX_DWELL_MS} (1 h)"),
        );
        false
    }
}

/// One step of a tour: a scene and how long it stays.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TourScene {
    /// The scene.
    pub scene_id: SceneId,
    /// How long it stays, ms (at least 3 000).
    pub dwell_ms: i64,
}

/// A tour as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tour {
    /// Id.
    pub id: TourId,
    /// Name.
    pub name: String,
    /// Who may use it.
    pub scope: WallScope,
    /// The steps, in order (at least one).
    pub steps: Vec<TourScene>,
    /// Whether it starts again after the last step.
    #[serde(rename = "loop")]
    pub looping: bool,
    /// Creation time, Unix ms.
    pub created_at: UnixMs,
    /// Last write, Unix ms.
    pub updated_at: UnixMs,
    /// Write counter: 1 after create, +1 per update.
    pub revision: i64,
}

impl From<&Tour> for TourInput {
    /// The input that writes `tour` back unchanged.
    fn from(tour: &Tour) -> TourInput {
        TourInput {
            name: tour.name.clone(),
            scope: tour.scope.clone(),
            steps: tour
                .steps
                .iter()
                .map(|s| TourSceneInput {
                    scene_id: s.scene_id.to_string(),
                    dwell_ms: s.dwell_ms,
                })
                .collect(),
            looping: tour.looping,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn wall() -> WallInput {
        WallInput {
            id: Some("main-hall".into()),
            name: "Main hall".into(),
            scope: WallScope {
                district: Some(" Chaoyang ".into()),
                street: Some("".into()),
                enterprise_id: None,
            },
            monitors: vec![
                MonitorInput {
                    id: "1".into(),
                    name: Some("Left".into()),
                },
                MonitorInput {
                    id: "2".into(),
                    name: None,
                },
            ],
        }
    }

    #[test]
    fn a_good_wall_is_normalised() {
        let v = wall().validate(None).unwrap();
        assert_eq!(v.scope.district.as_deref(), Some("Chaoyang"));
        assert_eq!(v.scope.street, None, "blank means unset");
        assert_eq!(v.monitors[1].name, "Monitor 2");
        let mut update = wall();
        update.id = None;
        assert_eq!(
            update.validate(Some("main-hall")).unwrap().id.as_str(),
            "main-hall"
        );
        update.id = Some("other".into());
        assert_eq!(
            fields(&update.validate(Some("main-hall")).unwrap_err()),
            ["id"]
        );
    }

    #[test]
    fn every_wall_problem_is_named() {
        let input = WallInput {
            id: Some("main hall".into()),
            name: " ".into(),
            scope: WallScope {
                street: Some("Jiuxianqiao".into()),
                ..WallScope::default()
            },
            monitors: vec![
                MonitorInput {
                    id: "1".into(),
                    name: Some("x".repeat(201)),
                },
                MonitorInput {
                    id: "1".into(),
                    name: None,
                },
                MonitorInput {
                    id: "".into(),
                    name: None,
                },
            ],
        };
        let errors = input.validate(None).unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "id",
                "name",
                "scope.street",
                "monitors[0].name",
                "monitors[1].id",
                "monitors[2].id"
            ]
        );
        assert!(errors[4].reason.contains("monitors[0]"), "{errors:?}");
        let none = WallInput {
            monitors: vec![],
            ..wall()
        };
        assert_eq!(fields(&none.validate(None).unwrap_err()), ["monitors"]);
    }

    #[test]
    fn scenes_and_tours_are_checked() {
        let scene: SceneInput = serde_json::from_str(
            r#"{"name": "Depot", "layout": 4, "tiles": [
                {"kind": "camera", "camera_id": "gas-01"},
                {"kind": "empty"},
                {"kind": "camera", "camera_id": "oil-02", "profile": "main"}]}"#,
        )
        .unwrap();
        let v = scene.validate().unwrap();
        assert_eq!(v.tiles.len(), 4, "missing contents are empty");
        assert_eq!(v.tiles[3], TileContent::Empty);
        assert_eq!(
            v.tiles[2],
            TileContent::Camera {
                camera_id: CameraId::parse("oil-02").unwrap(),
                profile: Profile::Main
            }
        );
        let bad = SceneInput {
            name: String::new(),
            scope: WallScope::default(),
            layout: LayoutSpec::Named(1),
            tiles: vec![
                TileInput::Camera {
                    camera_id: "Gas 01".into(),
                    profile: Profile::Auto,
                },
                TileInput::Empty,
            ],
        };
        assert_eq!(
            fields(&bad.validate().unwrap_err()),
            ["name", "tiles", "tiles[0].camera_id"]
        );
        let bad_layout = SceneInput {
            layout: LayoutSpec::Named(7),
            ..bad
        };
        assert_eq!(
            fields(&bad_layout.validate().unwrap_err()),
            ["name", "layout", "tiles[0].camera_id"]
        );

        let tour: TourInput = serde_json::from_str(
            r#"{"name": "Night round", "steps": [{"scene_id": "scene-1", "dwell_ms": 3000}]}"#,
        )
        .unwrap();
        let v = tour.validate().unwrap();
        assert!(v.looping, "tours loop by default");
        let bad = TourInput {
            steps: vec![
                TourSceneInput {
                    scene_id: "scene 1".into(),
                    dwell_ms: 2_999,
                },
                TourSceneInput {
                    scene_id: "scene-2".into(),
                    dwell_ms: MAX_DWELL_MS + 1,
                },
            ],
            ..TourInput::default()
        };
        assert_eq!(
            fields(&bad.validate().unwrap_err()),
            [
                "name",
                "steps[0].scene_id",
                "steps[0].dwell_ms",
                "steps[1].dwell_ms"
            ]
        );
        assert_eq!(
            fields(&TourInput::default().validate().unwrap_err()),
            ["name", "steps"]
        );
    }

    #[test]
    fn scopes_follow_jurisdictions() {
        let chaoyang = WallScope {
            district: Some("Chaoyang".into()),
            ..WallScope::default()
        };
        assert!(chaoyang.covered_by(&Jurisdiction::City));
        assert!(chaoyang.covered_by(&Jurisdiction::District {
            district: "Chaoyang".into()
        }));
        assert!(!chaoyang.covered_by(&Jurisdiction::District {
            district: "Haidian".into()
        }));
        assert!(WallScope::city().covered_by(&Jurisdiction::City));
        assert!(!WallScope::city().covered_by(&Jurisdiction::Enterprise {
            enterprise_id: "E-1".into()
        }));
        assert!(CameraId::parse("gas-01").is_ok());
        assert!(
            CameraId::parse("Gas-01")
                .unwrap_err()
                .contains("not a camera id")
        );
        assert!(serde_json::from_str::<CameraId>(r#""a/b""#).is_err());
    }
}
