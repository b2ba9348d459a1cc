//! What a monitor shows ([`MonitorState`]), the commands that change it
//! ([`MonitorCommand`]) and the pure function between the two ([`apply`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::layout::{Layout, LayoutSpec};
use super::model::{CameraId, Check, Scene, SceneId, TileInput, Tour, TourId, check_tiles};
use super::{Entity, WallError};
use crate::domain::{FieldError, IncidentId, UnixMs};

/// Most cameras an incident push shows (the largest named layout).
pub const MAX_INCIDENT_CAMERAS: usize = 16;

/// Which of a camera's streams a tile asks for. Serialized in snake_case; default `auto`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The main (high-resolution) stream.
    Main,
    /// The sub (low-resolution) stream.
    Sub,
    /// `main` for a large tile (the only tile, or one covering at least half the grid),
    /// `sub` for the others ([`Layout::is_large`]).
    #[default]
    Auto,
}

/// The stream a tile plays: [`Profile`] resolved for its tile. Serialized in snake_case,
/// as in the hub path (`cam/<id>/main`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamProfile {
    /// The main stream.
    Main,
    /// The sub stream.
    Sub,
}

impl StreamProfile {
    /// `main` or `sub`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamProfile::Main => "main",
            StreamProfile::Sub => "sub",
        }
    }
}

impl fmt::Display for StreamProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Profile {
    /// The stream this profile plays in tile `index` of `layout`, for a camera that has a
    /// sub stream (`has_sub`) or not. A camera without one plays its main stream whatever
    /// the profile says: the sub stream is a bandwidth saving, never a reason for a black
    /// tile (an inventory camera without `sub_url` has no `cam/<id>/sub` path).
    pub fn resolve(self, layout: &Layout, index: usize, has_sub: bool) -> StreamProfile {
        match self {
            _ if !has_sub => StreamProfile::Main,
            Profile::Main => StreamProfile::Main,
            Profile::Sub => StreamProfile::Sub,
            Profile::Auto if layout.is_large(index) => StreamProfile::Main,
            Profile::Auto => StreamProfile::Sub,
        }
    }
}

/// What one tile shows. Serialized with a `kind` tag: `{"kind": "empty"}`,
/// `{"kind": "camera", "camera_id": "gas-01", "profile": "auto"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TileContent {
    /// Nothing (a black tile).
    #[default]
    Empty,
    /// A camera.
    Camera {
        /// The camera's inventory id.
        camera_id: CameraId,
        /// Which stream.
        #[serde(default)]
        profile: Profile,
    },
}

impl TileContent {
    /// A camera with the `auto` profile.
    pub fn camera(camera_id: CameraId) -> TileContent {
        TileContent::Camera {
            camera_id,
            profile: Profile::Auto,
        }
    }

    /// The camera, if any.
    pub fn camera_id(&self) -> Option<&CameraId> {
        match self {
            TileContent::Empty => None,
            TileContent::Camera { camera_id, .. } => Some(camera_id),
        }
    }
}

/// One tile's stream, as a monitor plays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TileStream {
    /// The tile's index in the layout.
    pub tile: u32,
    /// The camera.
    pub camera_id: CameraId,
    /// The stream, resolved for the tile.
    pub profile: StreamProfile,
    /// The hub path: `cam/<camera_id>/<profile>`.
    pub path: String,
}

/// What put the current contents on a monitor. Serialized with a `kind` tag in
/// snake_case: `{"kind": "manual"}`, `{"kind": "scene", "scene_id": "scene-3"}`,
/// `{"kind": "incident", "incident_id": "inc-7"}`,
/// `{"kind": "tour", "tour_id": "tour-1", "step": 2, "started_at": …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// An operator's own changes (a camera pushed, a tile cleared, a layout chosen), or
    /// nothing yet.
    #[default]
    Manual,
    /// A scene, applied unchanged.
    Scene {
        /// The scene.
        scene_id: SceneId,
    },
    /// An incident push: the incident's cameras as a generated scene.
    Incident {
        /// The incident.
        incident_id: IncidentId,
    },
    /// A running tour, at one of its steps.
    Tour {
        /// The tour.
        tour_id: TourId,
        /// The step shown, from 0.
        step: u32,
        /// When the tour started (its clock's origin, see
        /// [`TourClock`](super::TourClock)), Unix ms.
        started_at: UnixMs,
    },
}

/// What a monitor shows: a layout, one content per tile, and what put it there.
///
/// Always exactly one content per tile of the layout (checked when built and when
/// deserialized, so a stored view that breaks it is refused, never shown).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "ViewRepr")]
pub struct View {
    /// The layout.
    layout: Layout,
    /// One content per tile of the layout, in tile order.
    tiles: Vec<TileContent>,
    /// What put it there.
    source: Source,
}

#[derive(Deserialize)]
struct ViewRepr {
    layout: Layout,
    tiles: Vec<TileContent>,
    source: Source,
}

impl TryFrom<ViewRepr> for View {
    type Error = String;
    fn try_from(repr: ViewRepr) -> Result<View, String> {
        View::new(repr.layout, repr.tiles, repr.source)
    }
}

impl View {
    /// A view, when `tiles` has one content per tile of `layout`; else the reason.
    pub fn new(layout: Layout, tiles: Vec<TileContent>, source: Source) -> Result<View, String> {
        if tiles.len() == layout.len() {
            Ok(View {
                layout,
                tiles,
                source,
            })
        } else {
            Err(format!(
                "{} tile contents for a layout of {} tiles",
                tiles.len(),
                layout.len()
            ))
        }
    }

    /// `layout` with every tile empty.
    pub fn empty(layout: Layout, source: Source) -> View {
        let tiles = vec![TileContent::Empty; layout.len()];
        View {
            layout,
            tiles,
            source,
        }
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// One content per tile.
    pub fn tiles(&self) -> &[TileContent] {
        &self.tiles
    }

    /// What put it there.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The streams to play, tile by tile (empty tiles left out), with the profiles resolved
    /// ([`Profile::resolve`]); `has_sub` says whether a camera has a sub stream (the
    /// device inventory knows; this crate does not).
    pub fn streams(&self, has_sub: impl Fn(&CameraId) -> bool) -> Vec<TileStream> {
        self.tiles
            .iter()
            .enumerate()
            .filter_map(|(i, content)| match content {
                TileContent::Empty => None,
                TileContent::Camera { camera_id, profile } => {
                    let profile = profile.resolve(&self.layout, i, has_sub(camera_id));
                    Some(TileStream {
                        tile: u32::try_from(i).unwrap_or(u32::MAX),
                        camera_id: camera_id.clone(),
                        profile,
                        path: format!("cam/{camera_id}/{profile}"),
                    })
                }
            })
            .collect()
    }

    fn with_source(mut self, source: Source) -> View {
        self.source = source;
        self
    }
}

/// A monitor's state: what it shows ([`View`], flattened: `layout`, `tiles`, `source`)
/// and `previous`, what it showed before the last incident push, for `restore`.
///
/// The history is one level deep, by its type: an incident push saves the view it
/// replaces (not that view's own history), so after two pushes in a row `restore` returns
/// to the first incident's view. Every other command keeps `previous` as it is (an
/// operator may rearrange the incident's cameras and still restore); `restore` consumes
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonitorState {
    /// What it shows.
    #[serde(flatten)]
    pub view: View,
    /// What it showed before the last incident push, until `restore`.
    pub previous: Option<View>,
}

impl MonitorState {
    /// A new monitor's state: the 1-tile layout, empty, manual, no history.
    pub fn initial() -> MonitorState {
        MonitorState {
            view: View::empty(Layout::single(), Source::Manual),
            previous: None,
        }
    }

    /// The layout shown.
    pub fn layout(&self) -> &Layout {
        self.view.layout()
    }

    /// One content per tile.
    pub fn tiles(&self) -> &[TileContent] {
        self.view.tiles()
    }

    /// What put the contents there.
    pub fn source(&self) -> &Source {
        self.view.source()
    }

    /// The running tour: its id, the step shown and when it started.
    pub fn tour(&self) -> Option<(&TourId, u32, UnixMs)> {
        match self.source() {
            Source::Tour {
                tour_id,
                step,
                started_at,
            } => Some((tour_id, *step, *started_at)),
            _ => None,
        }
    }

    /// The streams to play, tile by tile (see [`View::streams`]).
    pub fn streams(&self, has_sub: impl Fn(&CameraId) -> bool) -> Vec<TileStream> {
        self.view.streams(has_sub)
    }
}

/// A request to change what a monitor shows. Serialized with a `command` tag in
/// snake_case, e.g. `{"command": "show_camera", "tile": 0, "camera_id": "gas-01"}`.
///
/// Every command but `restore` keeps the monitor's `previous` view (see
/// [`MonitorState`]); every command but `advance_tour` and `stop_tour` ends a running
/// tour (the operator took the monitor over).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum MonitorCommand {
    /// Puts a camera on tile `tile` (0-based, within the current layout).
    ShowCamera {
        /// The tile.
        tile: u32,
        /// The camera's inventory id.
        camera_id: String,
        /// Which stream; default `auto`.
        #[serde(default)]
        profile: Profile,
    },
    /// Empties tile `tile`.
    ClearTile {
        /// The tile.
        tile: u32,
    },
    /// Changes the layout. Tile `i` of the new layout keeps the content of tile `i` of
    /// the old one when there was one (contents follow the tile order, as cameras flow
    /// into a larger or smaller grid); contents of tiles beyond the new layout's count are
    /// dropped, new tiles start empty.
    SetLayout {
        /// A named layout (`4`) or a grid.
        layout: LayoutSpec,
    },
    /// Shows a whole grid in one step: a layout and its tiles' contents (at most one per
    /// tile, missing ones empty) — what an operator's console grid is pushed as, without
    /// saving a scene.
    ShowGrid {
        /// A named layout (`4`) or a grid.
        layout: LayoutSpec,
        /// The contents, tile by tile.
        #[serde(default)]
        tiles: Vec<TileInput>,
    },
    /// Shows a scene: its layout and contents (a copy: later changes to the scene do not
    /// reach the monitor until it is applied again).
    ApplyScene {
        /// The scene.
        scene_id: SceneId,
    },
    /// Shows an incident's cameras as a generated scene: the smallest named layout that
    /// fits them (1, 4, 6, 8, 9 or 16 tiles), in the order given (the enterprise's own
    /// cameras first, then the nearby ones, as the caller lists them), `auto` profiles;
    /// repeated ids count once, and cameras beyond the sixteenth are left out. Saves
    /// what the monitor showed as `previous`, for `restore`.
    ShowIncident {
        /// The incident.
        incident_id: IncidentId,
        /// The cameras' inventory ids (at least one).
        cameras: Vec<String>,
    },
    /// Returns to what the monitor showed before the last incident push, and forgets it.
    /// Refused (`nothing_to_restore`) when there is nothing saved.
    Restore,
    /// Starts a tour at its first step (again from the start when it runs already).
    StartTour {
        /// The tour.
        tour_id: TourId,
    },
    /// Moves a running tour to step `step` (the tour driver does this when the tour's
    /// clock says so, see [`TourClock`](super::TourClock); an operator may skip). Changes
    /// nothing when the step is shown already; refused (`tour_not_running`) when the
    /// monitor is not running this tour.
    AdvanceTour {
        /// The tour.
        tour_id: TourId,
        /// The step, from 0.
        step: u32,
    },
    /// Stops the running tour; the current scene stays, as the operator's own. Changes
    /// nothing when no tour runs.
    StopTour,
}

impl MonitorCommand {
    /// The command's name as serialized (`show_camera`), for events, logs and audits.
    pub fn name(&self) -> &'static str {
        match self {
            MonitorCommand::ShowCamera { .. } => "show_camera",
            MonitorCommand::ClearTile { .. } => "clear_tile",
            MonitorCommand::SetLayout { .. } => "set_layout",
            MonitorCommand::ShowGrid { .. } => "show_grid",
            MonitorCommand::ApplyScene { .. } => "apply_scene",
            MonitorCommand::ShowIncident { .. } => "show_incident",
            MonitorCommand::Restore => "restore",
            MonitorCommand::StartTour { .. } => "start_tour",
            MonitorCommand::AdvanceTour { .. } => "advance_tour",
            MonitorCommand::StopTour => "stop_tour",
        }
    }
}

/// The scenes and tours a command refers to, looked up by the caller ([`apply`] does no
/// IO): the store loads exactly those of the command in its transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refs {
    /// Scenes by id.
    pub scenes: BTreeMap<SceneId, Scene>,
    /// Tours by id.
    pub tours: BTreeMap<TourId, Tour>,
}

impl Refs {
    /// Adds a scene.
    pub fn with_scene(mut self, scene: Scene) -> Refs {
        self.scenes.insert(scene.id.clone(), scene);
        self
    }

    /// Adds a tour.
    pub fn with_tour(mut self, tour: Tour) -> Refs {
        self.tours.insert(tour.id.clone(), tour);
        self
    }

    fn scene(&self, id: &SceneId) -> Result<&Scene, WallError> {
        self.scenes
            .get(id)
            .ok_or_else(|| WallError::not_found(Entity::Scene, id.as_str()))
    }

    fn tour(&self, id: &TourId) -> Result<&Tour, WallError> {
        self.tours
            .get(id)
            .ok_or_else(|| WallError::not_found(Entity::Tour, id.as_str()))
    }
}

/// The view of `scene` with `source`.
fn scene_view(scene: &Scene, source: Source) -> Result<View, WallError> {
    View::new(scene.layout.clone(), scene.tiles.clone(), source).map_err(|reason| {
        WallError::Corrupt {
            what: Entity::Scene,
            id: scene.id.to_string(),
            column: "tiles",
            reason,
        }
    })
}

/// The scene of step `step` of `tour`, or the `step` field error.
fn tour_step<'r>(refs: &'r Refs, tour: &Tour, step: u32) -> Result<&'r Scene, WallError> {
    let Some(entry) = usize::try_from(step).ok().and_then(|s| tour.steps.get(s)) else {
        return Err(WallError::invalid(
            Entity::Monitor,
            None,
            vec![FieldError::new(
                "step",
                format!(
                    "tour {} has {} step(s): 0 to {}",
                    tour.id,
                    tour.steps.len(),
                    tour.steps.len().saturating_sub(1)
                ),
            )],
        ));
    };
    refs.scene(&entry.scene_id)
}

/// The tile index `tile` of `layout`, or a problem for field `tile`.
fn tile_index(check: &mut Check, layout: &Layout, tile: u32) -> Option<usize> {
    match usize::try_from(tile) {
        Ok(i) if i < layout.len() => Some(i),
        _ => {
            check.bad(
                "tile",
                format!(
                    "{tile} is not a tile of the current layout: 0 to {}",
                    layout.len() - 1
                ),
            );
            None
        }
    }
}

/// Applies `command` to `state` at `now` (Unix ms), with the scenes and tours it refers
/// to in `refs`; returns the new state (equal to `state` when nothing changes). Pure: no
/// IO, no clock.
///
/// Errors: [`WallError::Invalid`] naming `tile`, `camera_id`, `layout…`, `cameras…` or
/// `step`; [`WallError::NotFound`] for a scene or tour missing from `refs`;
/// [`WallError::NothingToRestore`]; [`WallError::TourNotRunning`].
pub fn apply(
    state: &MonitorState,
    command: &MonitorCommand,
    refs: &Refs,
    now: UnixMs,
) -> Result<MonitorState, WallError> {
    let invalid = |errors| WallError::invalid(Entity::Monitor, None, errors);
    let keep_history = |view: View| MonitorState {
        view,
        previous: state.previous.clone(),
    };
    let current = &state.view;
    match command {
        MonitorCommand::ShowCamera {
            tile,
            camera_id,
            profile,
        } => {
            let mut check = Check::default();
            let index = tile_index(&mut check, current.layout(), *tile);
            let camera = check.id("camera_id", camera_id, CameraId::parse);
            let (index, camera_id) = check.finish(index.zip(camera)).map_err(invalid)?;
            let mut tiles = current.tiles().to_vec();
            tiles[index] = TileContent::Camera {
                camera_id,
                profile: *profile,
            };
            Ok(keep_history(View {
                layout: current.layout().clone(),
                tiles,
                source: Source::Manual,
            }))
        }
        MonitorCommand::ClearTile { tile } => {
            let mut check = Check::default();
            let index = tile_index(&mut check, current.layout(), *tile);
            let index = check.finish(index).map_err(invalid)?;
            let mut tiles = current.tiles().to_vec();
            tiles[index] = TileContent::Empty;
            Ok(keep_history(View {
                layout: current.layout().clone(),
                tiles,
                source: Source::Manual,
            }))
        }
        MonitorCommand::SetLayout { layout } => {
            let layout = Layout::check(layout, "layout").map_err(invalid)?;
            let tiles = (0..layout.len())
                .map(|i| current.tiles().get(i).cloned().unwrap_or_default())
                .collect();
            Ok(keep_history(View {
                layout,
                tiles,
                source: Source::Manual,
            }))
        }
        MonitorCommand::ShowGrid { layout, tiles } => {
            let mut check = Check::default();
            let layout = Layout::check(layout, "layout")
                .map_err(|errors| check.errors.extend(errors))
                .ok();
            let tiles = check_tiles(&mut check, "tiles", tiles, layout.as_ref());
            let layout = check.finish(layout).map_err(invalid)?;
            Ok(keep_history(View {
                layout,
                tiles,
                source: Source::Manual,
            }))
        }
        MonitorCommand::ApplyScene { scene_id } => {
            let scene = refs.scene(scene_id)?;
            let source = Source::Scene {
                scene_id: scene_id.clone(),
            };
            Ok(keep_history(scene_view(scene, source)?))
        }
        MonitorCommand::ShowIncident {
            incident_id,
            cameras,
        } => {
            let mut check = Check::default();
            let mut ids: Vec<CameraId> = Vec::new();
            for (i, camera) in cameras.iter().enumerate() {
                if let Some(id) = check.id(&format!("cameras[{i}]"), camera, CameraId::parse)
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
            if cameras.is_empty() {
                check.bad(
                    "cameras",
                    "an incident push needs at least one camera (the incident's enterprise \
                     has none and none is nearby?)",
                );
            }
            let ids = check.finish(Some(ids)).map_err(invalid)?;
            let ids: Vec<CameraId> = ids.into_iter().take(MAX_INCIDENT_CAMERAS).collect();
            let layout = Layout::for_count(ids.len());
            let mut tiles: Vec<TileContent> = ids.into_iter().map(TileContent::camera).collect();
            tiles.resize(layout.len(), TileContent::Empty);
            Ok(MonitorState {
                view: View {
                    layout,
                    tiles,
                    source: Source::Incident {
                        incident_id: incident_id.clone(),
                    },
                },
                previous: Some(current.clone()),
            })
        }
        MonitorCommand::Restore => match &state.previous {
            Some(previous) => Ok(MonitorState {
                view: previous.clone(),
                previous: None,
            }),
            None => Err(WallError::NothingToRestore { monitor: None }),
        },
        MonitorCommand::StartTour { tour_id } => {
            let tour = refs.tour(tour_id)?;
            let scene = tour_step(refs, tour, 0)?;
            let source = Source::Tour {
                tour_id: tour_id.clone(),
                step: 0,
                started_at: now,
            };
            Ok(keep_history(scene_view(scene, source)?))
        }
        MonitorCommand::AdvanceTour { tour_id, step } => {
            let started_at = match state.tour() {
                Some((running, _, started_at)) if running == tour_id => started_at,
                _ => {
                    return Err(WallError::TourNotRunning {
                        monitor: None,
                        tour: tour_id.to_string(),
                    });
                }
            };
            let tour = refs.tour(tour_id)?;
            let scene = tour_step(refs, tour, *step)?;
            if state.tour().is_some_and(|(_, shown, _)| shown == *step) {
                return Ok(state.clone());
            }
            let source = Source::Tour {
                tour_id: tour_id.clone(),
                step: *step,
                started_at,
            };
            Ok(keep_history(scene_view(scene, source)?))
        }
        MonitorCommand::StopTour => {
            if state.tour().is_some() {
                Ok(keep_history(current.clone().with_source(Source::Manual)))
            } else {
                Ok(state.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::model::{TourScene, WallScope};
    use super::*;

    const NOW: UnixMs = 1_764_374_400_000;

    fn cam(id: &str) -> CameraId {
        CameraId::parse(id).unwrap()
    }

    fn scene(id: &str, layout: u32, cameras: &[&str]) -> Scene {
        let layout = Layout::named(layout).unwrap();
        let mut tiles: Vec<TileContent> = cameras
            .iter()
            .map(|c| TileContent::camera(cam(c)))
            .collect();
        tiles.resize(layout.len(), TileContent::Empty);
        Scene {
            id: SceneId::parse(id).unwrap(),
            name: id.to_owned(),
            scope: WallScope::city(),
            layout,
            tiles,
            created_at: NOW,
            updated_at: NOW,
            revision: 1,
        }
    }

    fn tour(id: &str, scenes: &[&str], looping: bool) -> Tour {
        Tour {
            id: TourId::parse(id).unwrap(),
            name: id.to_owned(),
            scope: WallScope::city(),
            steps: scenes
                .iter()
                .map(|s| TourScene {
                    scene_id: SceneId::parse(s).unwrap(),
                    dwell_ms: 5_000,
                })
                .collect(),
            looping,
            created_at: NOW,
            updated_at: NOW,
            revision: 1,
        }
    }

    fn refs() -> Refs {
        Refs::default()
            .with_scene(scene("scene-1", 4, &["a", "b", "c"]))
            .with_scene(scene("scene-2", 1, &["d"]))
            .with_scene(scene("scene-3", 16, &["e"; 16]))
            .with_tour(tour("tour-1", &["scene-1", "scene-2", "scene-3"], true))
            .with_tour(tour("tour-2", &["scene-2"], false))
    }

    fn run(state: &MonitorState, command: MonitorCommand) -> Result<MonitorState, WallError> {
        apply(state, &command, &refs(), NOW)
    }

    fn show(tile: u32, camera: &str) -> MonitorCommand {
        MonitorCommand::ShowCamera {
            tile,
            camera_id: camera.to_owned(),
            profile: Profile::Auto,
        }
    }

    fn incident(cameras: &[&str]) -> MonitorCommand {
        MonitorCommand::ShowIncident {
            incident_id: IncidentId::parse("inc-7").unwrap(),
            cameras: cameras.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn cameras_tiles_and_layouts() {
        let s = MonitorState::initial();
        let s = run(&s, show(0, "gas-01")).unwrap();
        assert_eq!(s.tiles(), [TileContent::camera(cam("gas-01"))]);
        assert_eq!(
            s.streams(|_| true)[0].path,
            "cam/gas-01/main",
            "one tile: main"
        );
        let err = run(&s, show(1, "Gas 01")).unwrap_err();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["tile", "camera_id"]);
        assert_eq!(err.code(), "invalid");

        // 1 → 4: the camera stays on tile 0 and plays the sub stream now.
        let s = run(
            &s,
            MonitorCommand::SetLayout {
                layout: LayoutSpec::Named(4),
            },
        )
        .unwrap();
        assert_eq!(s.tiles().len(), 4);
        assert_eq!(s.tiles()[0].camera_id(), Some(&cam("gas-01")));
        assert_eq!(s.streams(|_| true)[0].path, "cam/gas-01/sub");
        let s = run(&s, show(3, "oil-02")).unwrap();
        let s = run(
            &s,
            MonitorCommand::ShowCamera {
                tile: 2,
                camera_id: "pond-03".into(),
                profile: Profile::Main,
            },
        )
        .unwrap();
        let paths: Vec<String> = s.streams(|_| true).into_iter().map(|t| t.path).collect();
        assert_eq!(
            paths,
            ["cam/gas-01/sub", "cam/pond-03/main", "cam/oil-02/sub"]
        );
        // A camera without a sub stream plays its main stream on a small tile.
        let no_sub = cam("oil-02");
        let paths: Vec<String> = s
            .streams(|c| *c != no_sub)
            .into_iter()
            .map(|t| t.path)
            .collect();
        assert_eq!(
            paths,
            ["cam/gas-01/sub", "cam/pond-03/main", "cam/oil-02/main"]
        );
        // 4 → 1: tiles 1..3 are dropped.
        let one = run(
            &s,
            MonitorCommand::SetLayout {
                layout: LayoutSpec::Named(1),
            },
        )
        .unwrap();
        assert_eq!(one.tiles(), [TileContent::camera(cam("gas-01"))]);
        let cleared = run(&s, MonitorCommand::ClearTile { tile: 0 }).unwrap();
        assert_eq!(cleared.tiles()[0], TileContent::Empty);
        assert_eq!(cleared.source(), &Source::Manual);
        // The same camera again changes nothing.
        assert_eq!(run(&s, show(3, "oil-02")).unwrap(), s);
    }

    #[test]
    fn a_grid_is_shown_in_one_step_and_checked_whole() {
        let s = run(&MonitorState::initial(), show(0, "gas-01")).unwrap();
        let tiles = vec![
            TileInput::Empty,
            TileInput::Camera {
                camera_id: "oil-02".into(),
                profile: Profile::Auto,
            },
        ];
        let grid = run(
            &s,
            MonitorCommand::ShowGrid {
                layout: LayoutSpec::Named(4),
                tiles: tiles.clone(),
            },
        )
        .unwrap();
        // Missing tiles are empty; the grid is the operator's own (manual) view.
        assert_eq!(
            grid.tiles(),
            [
                TileContent::Empty,
                TileContent::camera(cam("oil-02")),
                TileContent::Empty,
                TileContent::Empty
            ]
        );
        assert_eq!(grid.source(), &Source::Manual);
        assert_eq!(grid.layout().len(), 4);
        // Every problem at once, nothing applied: more contents than tiles, a bad id.
        let bad = MonitorCommand::ShowGrid {
            layout: LayoutSpec::Named(1),
            tiles: vec![
                TileInput::Camera {
                    camera_id: "Gas 01".into(),
                    profile: Profile::Auto,
                },
                TileInput::Empty,
            ],
        };
        let err = run(&s, bad).unwrap_err();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["tiles", "tiles[0].camera_id"], "{err}");
    }

    #[test]
    fn incident_push_and_restore() {
        let base = run(
            &MonitorState::initial(),
            MonitorCommand::ApplyScene {
                scene_id: SceneId::parse("scene-1").unwrap(),
            },
        )
        .unwrap();
        let pushed = run(&base, incident(&["a", "b", "a", "c", "d", "e"])).unwrap();
        assert_eq!(
            pushed.layout().len(),
            6,
            "5 distinct cameras → the 6 layout"
        );
        assert_eq!(pushed.tiles()[4].camera_id(), Some(&cam("e")));
        assert_eq!(pushed.tiles()[5], TileContent::Empty);
        assert_eq!(pushed.previous.as_ref(), Some(&base.view));
        // Rearranging keeps the history.
        let moved = run(&pushed, show(5, "f")).unwrap();
        assert_eq!(moved.previous, pushed.previous);
        assert_eq!(run(&moved, MonitorCommand::Restore).unwrap(), base);
        let err = run(&base, MonitorCommand::Restore).unwrap_err();
        assert_eq!(err.code(), "nothing_to_restore");
        assert_eq!(err.http_status(), 409);

        let many: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let big = run(&base, incident(&many)).unwrap();
        assert_eq!(big.layout().len(), 16);
        assert_eq!(big.tiles()[15].camera_id(), Some(&cam("c15")));
        assert_eq!(run(&base, incident(&["x"])).unwrap().layout().len(), 1);
        let err = run(&base, incident(&[])).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "cameras");
        let err = run(&base, incident(&["ok", "Not OK"])).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "cameras[1]");
        // Two pushes: restore returns to the first incident's view.
        let twice = run(&pushed, incident(&["z"])).unwrap();
        assert_eq!(
            run(&twice, MonitorCommand::Restore).unwrap().view,
            pushed.view
        );
    }

    #[test]
    fn tours_start_advance_and_stop() {
        let tour_1 = TourId::parse("tour-1").unwrap();
        let s = run(
            &MonitorState::initial(),
            MonitorCommand::StartTour {
                tour_id: tour_1.clone(),
            },
        )
        .unwrap();
        assert_eq!(s.tour(), Some((&tour_1, 0, NOW)));
        assert_eq!(s.layout().len(), 4);
        let advance = |step| MonitorCommand::AdvanceTour {
            tour_id: tour_1.clone(),
            step,
        };
        let s2 = apply(&s, &advance(2), &refs(), NOW + 99).unwrap();
        assert_eq!(s2.tour(), Some((&tour_1, 2, NOW)), "the origin stays");
        assert_eq!(s2.layout().len(), 16);
        assert_eq!(run(&s2, advance(2)).unwrap(), s2, "shown already");
        assert_eq!(
            run(&s2, advance(3)).unwrap_err().field_errors()[0].field,
            "step"
        );
        let stopped = run(&s2, MonitorCommand::StopTour).unwrap();
        assert_eq!(stopped.source(), &Source::Manual);
        assert_eq!(stopped.tiles(), s2.tiles());
        assert_eq!(run(&stopped, MonitorCommand::StopTour).unwrap(), stopped);
        let err = run(&stopped, advance(1)).unwrap_err();
        assert_eq!(err.code(), "tour_not_running");
        // A push ends the tour.
        assert_eq!(run(&s2, show(0, "x")).unwrap().tour(), None);
        let missing = MonitorCommand::StartTour {
            tour_id: TourId::parse("tour-9").unwrap(),
        };
        assert_eq!(run(&s, missing).unwrap_err().code(), "not_found");
        let missing = MonitorCommand::ApplyScene {
            scene_id: SceneId::parse("scene-9").unwrap(),
        };
        assert_eq!(run(&s, missing).unwrap_err().http_status(), 404);
    }

    #[test]
    fn serde_forms() {
        let command: MonitorCommand =
            serde_json::from_str(r#"{"command": "show_camera", "tile": 2, "camera_id": "gas-01"}"#)
                .unwrap();
        assert_eq!(command, show(2, "gas-01"));
        assert_eq!(command.name(), "show_camera");
        let command: MonitorCommand =
            serde_json::from_str(r#"{"command": "set_layout", "layout": 9}"#).unwrap();
        assert_eq!(command.name(), "set_layout");
        assert!(
            serde_json::from_str::<MonitorCommand>(
                r#"{"command": "clear_tile", "tile": 1, "x": 1}"#
            )
            .is_err()
        );
        let state = run(&MonitorState::initial(), incident(&["a", "b"])).unwrap();
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["source"]["kind"], "incident");
        assert_eq!(
            json["tiles"][0],
            serde_json::json!({"kind": "camera", "camera_id": "a", "profile": "auto"})
        );
        assert_eq!(json["previous"]["source"]["kind"], "manual");
        let back: MonitorState = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, state);
        // A stored state that breaks the one-content-per-tile rule does not load.
        let mut broken = json;
        broken["tiles"].as_array_mut().unwrap().pop();
        let err = serde_json::from_value::<MonitorState>(broken).unwrap_err();
        assert!(err.to_string().contains("tile contents"), "{err}");
    }

    fn command() -> impl Strategy<Value = MonitorCommand> {
        let camera = prop_oneof![
            4 => "[a-f]".prop_map(String::from),
            1 => Just("Bad Id".to_owned()),
        ];
        let profile = prop_oneof![Just(Profile::Auto), Just(Profile::Main), Just(Profile::Sub)];
        let named = prop_oneof![
            8 => prop::sample::select(vec![1u32, 4, 6, 8, 9, 16]).prop_map(LayoutSpec::Named),
            1 => (0u32..20).prop_map(LayoutSpec::Named),
        ];
        let scene_id = prop::sample::select(vec!["scene-1", "scene-2", "scene-3", "scene-9"])
            .prop_map(|s| SceneId::parse(s).unwrap());
        let tour_id = prop::sample::select(vec!["tour-1", "tour-2", "tour-9"])
            .prop_map(|s| TourId::parse(s).unwrap());
        prop_oneof![
            4 => (0u32..18, camera.clone(), profile)
                .prop_map(|(tile, camera_id, profile)| MonitorCommand::ShowCamera { tile, camera_id, profile }),
            2 => (0u32..18).prop_map(|tile| MonitorCommand::ClearTile { tile }),
            2 => named.prop_map(|layout| MonitorCommand::SetLayout { layout }),
            2 => scene_id.prop_map(|scene_id| MonitorCommand::ApplyScene { scene_id }),
            2 => prop::collection::vec(camera, 0..20).prop_map(|cameras| MonitorCommand::ShowIncident {
                incident_id: IncidentId::parse("inc-1").unwrap(),
                cameras,
            }),
            2 => Just(MonitorCommand::Restore),
            1 => tour_id.clone().prop_map(|tour_id| MonitorCommand::StartTour { tour_id }),
            2 => (tour_id, 0u32..4).prop_map(|(tour_id, step)| MonitorCommand::AdvanceTour { tour_id, step }),
            1 => Just(MonitorCommand::StopTour),
        ]
    }

    /// A state reached by applying `commands` from the initial state (refused ones
    /// skipped).
    fn reach(commands: &[MonitorCommand]) -> MonitorState {
        let mut state = MonitorState::initial();
        for (i, command) in commands.iter().enumerate() {
            if let Ok(next) = apply(&state, command, &refs(), NOW + i as i64) {
                state = next;
            }
        }
        state
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any sequence of commands leaves one content per tile, now and in the history,
        /// and a state that survives its JSON form.
        #[test]
        fn any_sequence_keeps_one_content_per_tile(
            commands in prop::collection::vec(command(), 0..40)
        ) {
            let mut state = MonitorState::initial();
            for (i, command) in commands.iter().enumerate() {
                match apply(&state, command, &refs(), NOW + i as i64) {
                    Ok(next) => state = next,
                    Err(err) => prop_assert!(
                        matches!(err.code(), "invalid" | "not_found" | "nothing_to_restore" | "tour_not_running"),
                        "{}", err
                    ),
                }
                prop_assert_eq!(state.tiles().len(), state.layout().len());
                if let Some(previous) = &state.previous {
                    prop_assert_eq!(previous.tiles().len(), previous.layout().len());
                }
                prop_assert!(state.streams(|_| true).len() <= state.layout().len());
            }
            let json = serde_json::to_string(&state).unwrap();
            prop_assert_eq!(serde_json::from_str::<MonitorState>(&json).unwrap(), state);
        }

        /// Restore after an incident push returns exactly the state before it (whose own
        /// history, one level deep, is not kept: see `MonitorState`).
        #[test]
        fn restore_undoes_an_incident_push(
            commands in prop::collection::vec(command(), 0..30),
            cameras in prop::collection::vec("[a-z][a-z0-9-]{0,8}", 1..20),
        ) {
            let before = reach(&commands);
            let push = MonitorCommand::ShowIncident {
                incident_id: IncidentId::parse("inc-9").unwrap(),
                cameras,
            };
            let pushed = apply(&before, &push, &refs(), NOW).unwrap();
            prop_assert_eq!(pushed.previous.as_ref(), Some(&before.view));
            let restored = apply(&pushed, &MonitorCommand::Restore, &refs(), NOW).unwrap();
            prop_assert_eq!(&restored.view, &before.view);
            prop_assert_eq!(restored.previous, None);
            if before.previous.is_none() {
                prop_assert_eq!(
                    apply(&pushed, &MonitorCommand::Restore, &refs(), NOW).unwrap(),
                    before
                );
            }
        }
    }
}
